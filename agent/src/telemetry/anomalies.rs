//! Committed anomalies as OTLP log records, one per anomaly, with the event's attributes.
//!
//! The pipeline only offers: a copy of the anomaly goes into a bounded queue without waiting,
//! and when the queue is full it is dropped and counted ([`AnomalyExport::dropped`], also the
//! `vigil.otlp.anomalies_dropped` metric) — the store keeps every anomaly regardless. One
//! thread turns the queue into log records for the SDK's batch processor, which exports them
//! from its own thread. This module must never block or slow the pipeline.

use crate::event::Event;
use crate::pipeline::AnomalyNotice;
use opentelemetry::logs::{AnyValue, LogRecord, Logger, Severity};
use opentelemetry_sdk::logs::{SdkLogRecord, SdkLogger};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Anomalies waiting to become log records before new ones are dropped.
pub const QUEUE: usize = 4096;

/// The `event.name` of every anomaly record.
pub const EVENT_NAME: &str = "vigil.anomaly";

/// What the queue carries.
enum Message {
    Anomaly(Box<ExportedAnomaly>),
    /// Everything queued before it has been emitted: answer on the sender.
    Flush(mpsc::Sender<()>),
}

/// One anomaly with what the record needs from its event.
struct ExportedAnomaly {
    notice: AnomalyNotice,
    raw: String,
    timestamp_ms: i64,
}

/// The pipeline's handle on the anomaly export; cheap to clone.
#[derive(Clone, Debug)]
pub struct AnomalyExport {
    tx: SyncSender<Message>,
    dropped: Arc<AtomicU64>,
}

impl AnomalyExport {
    /// Start the thread that emits queued anomalies through `logger`; it ends when the last
    /// handle is dropped ([`AnomalyExport::flush`] is how shutdown waits for it).
    pub fn start(logger: SdkLogger) -> std::io::Result<AnomalyExport> {
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        std::thread::Builder::new().name("vigil-otlp-anomalies".into()).spawn(move || emit_all(&logger, rx))?;
        Ok(AnomalyExport { tx, dropped: Arc::new(AtomicU64::new(0)) })
    }

    /// A handle whose queue nobody drains (tests of a full queue); keep the receiver.
    #[cfg(test)]
    pub(crate) fn unstarted() -> (AnomalyExport, Receiver<impl Sized>) {
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        (AnomalyExport { tx, dropped: Arc::new(AtomicU64::new(0)) }, rx)
    }

    /// Queue `notice` (about `event`) for export without waiting; drop and count it when the
    /// queue is full.
    pub fn offer(&self, notice: &AnomalyNotice, event: &Event) {
        let anomaly =
            ExportedAnomaly { notice: notice.clone(), raw: event.raw.clone(), timestamp_ms: event.timestamp_ms };
        match self.tx.try_send(Message::Anomaly(Box::new(anomaly))) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Anomalies dropped because the queue was full (or the export had stopped).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// The shared drop counter (for the metric).
    pub(crate) fn dropped_counter(&self) -> Arc<AtomicU64> {
        self.dropped.clone()
    }

    /// Wait up to `timeout` until everything queued so far has been handed to the SDK.
    /// Returns whether it was.
    pub fn flush(&self, timeout: Duration) -> bool {
        let (done, emitted) = mpsc::channel();
        if self.tx.send(Message::Flush(done)).is_err() {
            return false;
        }
        emitted.recv_timeout(timeout).is_ok()
    }
}

fn emit_all(logger: &SdkLogger, rx: Receiver<Message>) {
    for message in rx {
        match message {
            Message::Anomaly(anomaly) => logger.emit(record(logger, &anomaly)),
            Message::Flush(done) => {
                let _ = done.send(());
            }
        }
    }
}

/// The log record of one anomaly: the event's time, WARN, the raw line as the body (a short
/// description for structured input, which has none) and the fields `/ws` announces.
fn record(logger: &SdkLogger, anomaly: &ExportedAnomaly) -> SdkLogRecord {
    let n = &anomaly.notice;
    let mut record = logger.create_log_record();
    record.set_event_name(EVENT_NAME);
    record.set_timestamp(event_time(anomaly.timestamp_ms));
    record.set_observed_timestamp(SystemTime::now());
    record.set_severity_number(Severity::Warn);
    record.set_severity_text("WARN");
    let body = if anomaly.raw.is_empty() {
        format!(
            "anomaly {:.3} by {}: {} {} {} from {}",
            n.anomaly_score, n.detector, n.method, n.url, n.status_code, n.ip
        )
    } else {
        anomaly.raw.clone()
    };
    record.set_body(AnyValue::from(body));
    record.add_attribute("event_id", n.id);
    record.add_attribute("ip", n.ip.clone());
    record.add_attribute("method", n.method.clone());
    record.add_attribute("url", n.url.clone());
    record.add_attribute("status_code", i64::from(n.status_code));
    record.add_attribute("anomaly_score", f64::from(n.anomaly_score));
    record.add_attribute("detector", n.detector.clone());
    record.add_attribute("reason", n.reason.clone());
    record.add_attribute("source", n.source.clone());
    record
}

/// An event's time; times before 1970 (never sent by a sane source) become the epoch.
fn event_time(timestamp_ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(timestamp_ms).unwrap_or(0))
}
