//! The monitor channel behind `/ws`: anomalies from every source, ack summaries and periodic
//! stats, each pre-serialized once and shared by every client. A slow client never slows the
//! pipeline: the channel is bounded and a lagging client is told how many messages it missed.
//! When OTLP export is on, committed anomalies are also offered to it (never waiting either).

use super::submission::AnomalyNotice;
use crate::event::Event;
use crate::telemetry::AnomalyExport;
use serde::Serialize;
use std::sync::Arc;
use tokio::sync::broadcast;

/// Messages kept for slow clients before they start missing some (~400 bytes each, shared by
/// every client: a full buffer holds a few MiB).
const CAPACITY: usize = 16_384;

/// One `/ws` message.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MonitorMessage {
    /// An anomalous event was committed.
    Anomaly(AnomalyNotice),
    /// A batch was committed.
    Ack { source: String, count: usize, first_id: Option<i64>, last_id: Option<i64>, anomalies: usize },
    /// Periodic counters.
    Stats(serde_json::Value),
    /// A summarizer stored the summary of a window (the fields of `GET /api/v1/summaries`).
    Summary(serde_json::Value),
    /// A changed config file was refused; the running config stays.
    ConfigError { file: String, message: String, errors: Vec<crate::config::ConfigError> },
    /// A changed config file was applied.
    ConfigApplied { file: String, changes: Vec<String> },
}

/// One message as every client gets it: its text, and for an anomaly its `anomaly_id` (so a
/// client that lags is told from where to fetch what it missed).
pub type Published = (Arc<str>, Option<i64>);

/// Sends to every `/ws` client.
#[derive(Clone)]
pub struct Monitor {
    tx: broadcast::Sender<Published>,
    /// Where anomalies are exported over OTLP, when they are.
    export: Option<AnomalyExport>,
}

impl Default for Monitor {
    fn default() -> Self {
        Monitor { tx: broadcast::channel(CAPACITY).0, export: None }
    }
}

impl Monitor {
    /// Also offer every committed anomaly to `export` (no-op with `None`).
    pub fn with_anomaly_export(mut self, export: Option<AnomalyExport>) -> Self {
        self.export = export;
        self
    }

    /// Announce a committed anomaly of `event`: to `/ws` clients and to the OTLP export.
    pub fn anomaly(&self, notice: &AnomalyNotice, event: &Event) {
        if let Some(export) = &self.export {
            export.offer(notice, event);
        }
        if self.tx.receiver_count() > 0 {
            self.send(&MonitorMessage::Anomaly(notice.clone()), Some(notice.anomaly_id));
        }
    }

    /// Publish a message; without subscribers it goes nowhere, at no cost beyond serializing.
    pub fn publish(&self, message: &MonitorMessage) {
        self.send(message, None);
    }

    fn send(&self, message: &MonitorMessage, anomaly_id: Option<i64>) {
        if self.tx.receiver_count() == 0 {
            return;
        }
        let text: Arc<str> = serde_json::to_string(message).expect("monitor messages serialize").into();
        let _ = self.tx.send((text, anomaly_id));
    }

    /// A new client's receiver.
    pub fn subscribe(&self) -> broadcast::Receiver<Published> {
        self.tx.subscribe()
    }
}
