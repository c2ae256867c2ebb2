//! What a source hands to the pipeline, and what it gets back after the commit.

use crate::detect::Scored;
use crate::event::Event;
use crate::store::Checkpoint;
use serde::Serialize;
use std::ops::RangeInclusive;
use tokio::sync::oneshot;

/// Events from one source, with the positions that cover them.
pub struct Submission {
    /// The events, in source order.
    pub events: Vec<Event>,
    /// Their scores when already scored (the API scores in-line); otherwise the pipeline scores.
    pub scored: Option<Vec<Scored>>,
    /// Source positions committed together with the events.
    pub checkpoints: Vec<Checkpoint>,
    /// Where to say that the events are committed, if the source waits for it.
    pub reply: Option<oneshot::Sender<Result<Accepted, PipelineError>>>,
}

impl Submission {
    /// Events to be scored and stored, without waiting for the commit.
    pub fn events(events: Vec<Event>) -> Self {
        Submission { events, scored: None, checkpoints: Vec::new(), reply: None }
    }

    /// Ask for the commit's outcome; returns the receiver to await.
    pub fn with_reply(mut self) -> (Self, oneshot::Receiver<Result<Accepted, PipelineError>>) {
        let (tx, rx) = oneshot::channel();
        self.reply = Some(tx);
        (self, rx)
    }
}

/// A committed submission.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    /// Ids the events got, `first..=last` (none for an empty submission).
    pub ids: Option<RangeInclusive<i64>>,
    /// The anomalies among them.
    pub anomalies: Vec<AnomalyNotice>,
}

/// One committed anomaly, as `/ws` and `/ws/application` announce it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnomalyNotice {
    /// Stored event id.
    pub id: i64,
    /// The anomaly's own id (`GET /api/v1/anomalies`' `anomaly_id`), increasing in commit
    /// order: a client that missed some fetches them with `?after_id=`.
    pub anomaly_id: i64,
    /// Event time, RFC 3339.
    pub timestamp: String,
    pub ip: String,
    pub method: String,
    pub url: String,
    pub status_code: u16,
    /// Highest detector score.
    pub anomaly_score: f32,
    /// The detector that gave it.
    pub detector: String,
    /// Its reason.
    pub reason: String,
    /// The event's source.
    pub source: String,
}

/// Why a submission was not committed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PipelineError {
    /// The agent is shutting down and takes no more events.
    #[error("the agent is shutting down; resend to the restarted agent")]
    Closed,
}
