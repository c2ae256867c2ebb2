//! The OpenAPI description of the WebSocket messages: what `/ws` and `/ws/application` send,
//! each one JSON object with a `type`, kept beside the rest of the document.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// `/ws/application`: acknowledgment of one frame, sent after its logs are committed.
#[derive(Serialize, ToSchema)]
pub struct WsAck {
    /// `ack`.
    #[schema(pattern = "^ack$")]
    r#type: String,
    /// Logs committed.
    count: usize,
    /// Ids given to them, `first_id..=last_id`.
    first_id: Option<i64>,
    last_id: Option<i64>,
    /// Anomalies among them (each follows as an `anomaly` message).
    anomalies: usize,
    /// On `/ws`: the source the batch came from (`api`, `ws`, `file:<name>`); absent on
    /// `/ws/application`, whose acks are for its own frames.
    #[schema(required = false)]
    source: Option<String>,
}

/// An anomalous event was committed (`/ws` for every source, `/ws/application` for its own).
#[derive(Serialize, ToSchema)]
pub struct WsAnomaly {
    /// `anomaly`.
    #[schema(pattern = "^anomaly$")]
    r#type: String,
    /// Stored event id.
    id: i64,
    /// The anomaly's id, increasing in commit order (see `lagged`).
    anomaly_id: i64,
    timestamp: String,
    ip: String,
    method: String,
    url: String,
    status_code: u16,
    anomaly_score: f32,
    detector: String,
    reason: String,
    source: String,
}

/// `/ws`: periodic counters (every 5 s).
#[derive(Serialize, ToSchema)]
pub struct WsStats {
    /// `stats`.
    #[schema(pattern = "^stats$")]
    r#type: String,
    events_total: u64,
    anomalies_total: u64,
    queue: u64,
    sources: Value,
}

/// `/ws`: the client was too slow and missed messages.
#[derive(Serialize, ToSchema)]
pub struct WsLagged {
    /// `lagged`.
    #[schema(pattern = "^lagged$")]
    r#type: String,
    /// Messages missed.
    missed: u64,
    /// The `anomaly_id` of the last anomaly sent to this client before the gap:
    /// `GET /api/v1/anomalies?after_id=` gives every anomaly committed after it. Null when
    /// none was sent yet (fetch by time, `?from=`).
    after_id: Option<i64>,
}

/// `/ws`: a summarizer stored the summary of a window (the fields of `GET /api/v1/summaries`).
#[derive(Serialize, ToSchema)]
pub struct WsSummary {
    /// `summary`.
    #[schema(pattern = "^summary$")]
    r#type: String,
    id: i64,
    summarizer: String,
    window_start: String,
    window_end: String,
    /// Time of the window's first and last event, when it had events.
    first_event: Option<String>,
    last_event: Option<String>,
    events: u64,
    anomalies: u64,
    skipped_events: u64,
    partial: bool,
    text: String,
    /// The summarizer's own figures.
    data: Value,
}

/// `/ws`: a changed config file was refused; the agent keeps running the last good one.
#[derive(Serialize, ToSchema)]
pub struct WsConfigError {
    /// `config_error`.
    #[schema(pattern = "^config_error$")]
    r#type: String,
    /// The config file.
    file: String,
    message: String,
    /// Each problem: `file`, `line`, `column` (null when unknown), `field`, `message`, `hint`.
    errors: Vec<Value>,
}

/// `/ws`: a changed config file was applied.
#[derive(Serialize, ToSchema)]
pub struct WsConfigApplied {
    /// `config_applied`.
    #[schema(pattern = "^config_applied$")]
    r#type: String,
    file: String,
    /// What changed, one line each.
    changes: Vec<String>,
}

/// `/ws/application`: a frame was refused; the connection stays open.
#[derive(Serialize, ToSchema)]
pub struct WsError {
    /// `error`.
    #[schema(pattern = "^error$")]
    r#type: String,
    error: String,
    message: String,
    details: Vec<String>,
}
