//! The OpenAPI description of the query endpoints (`/api/v1/stats`, `/api/v1/logs`,
//! `/api/v1/anomalies`, `/api/v1/summaries`): the schema stubs of their answers and their
//! query parameters, kept beside the rest of the document.

use serde::Serialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

/// A stored event.
#[derive(Serialize, ToSchema)]
pub struct StoredLog {
    /// Event id, increasing in commit order.
    id: i64,
    /// Event time in UTC, to the millisecond (as it is stored).
    timestamp: String,
    ip: String,
    method: String,
    url: String,
    status_code: u16,
    bytes_sent: u64,
    user_agent: String,
    referer: Option<String>,
    latency_ms: Option<f64>,
    /// `api`, `ws` or `file:<source name>`.
    source: String,
    /// The original line (file sources).
    raw: String,
    /// Further fields the source carried.
    fields: Option<Value>,
    /// Highest detector score; null when the event could not be scored.
    anomaly_score: Option<f32>,
    /// Whether some detector's score reached its threshold.
    anomalous: bool,
    /// The mined template of a line that is not an access log (see `/chat`), and its id;
    /// null for access logs and lines not yet mined.
    template_id: Option<i64>,
    template: Option<String>,
}

/// A stored anomaly: its event and the detector's judgement.
#[derive(Serialize, ToSchema)]
pub struct StoredAnomaly {
    #[serde(flatten)]
    event: StoredLog,
    /// Anomaly id.
    anomaly_id: i64,
    /// The detector that flagged it.
    detector: String,
    /// Its reason.
    reason: String,
}

/// `GET /api/v1/logs` answer, newest first.
#[derive(Serialize, ToSchema)]
pub struct LogPage {
    logs: Vec<StoredLog>,
    /// Pass as `before_id` for the next (older) page; null when the page is empty, or with
    /// `after_id`.
    next_before_id: Option<i64>,
    /// With `after_id`: pass it as `after_id` for the next (newer) page; on an empty page
    /// the `after_id` given, to poll with.
    #[schema(required = false)]
    next_after_id: Option<i64>,
}

/// `GET /api/v1/anomalies` answer, newest first.
#[derive(Serialize, ToSchema)]
pub struct AnomalyPage {
    anomalies: Vec<StoredAnomaly>,
    /// Pass as `before_id` for the next (older) page; null when the page is empty, or with
    /// `after_id`.
    next_before_id: Option<i64>,
    /// With `after_id`: pass it as `after_id` for the next (newer) page; on an empty page
    /// the `after_id` given, to poll with.
    #[schema(required = false)]
    next_after_id: Option<i64>,
}

/// `GET /api/v1/stats` answer.
#[derive(Serialize, ToSchema)]
pub struct Stats {
    /// Events committed since start.
    events_total: u64,
    /// Anomalies committed since start.
    anomalies_total: u64,
    /// Requests and frames refused as bad input since start, each once: `/anomaly_detection`
    /// and `/chat` bodies refused with a 4xx (wrong content type or encoding, over a limit, not
    /// JSON, bad logs), `/ws/application` frames answered with `error`, and WebSocket frames
    /// that closed the connection (1009 too big, 1007 not UTF-8, 1002 protocol), and query
    /// parameters of `/api/v1/logs`, `/api/v1/anomalies` and `/api/v1/summaries` refused with 400.
    rejected_total: u64,
    /// Pipeline counters since start.
    since_start: Value,
    /// What the store holds: `events`, `anomalies`, `bytes_on_disk` (the files), `bytes_used` (the
    /// pages in use, which `max_size_mib` limits), `per_source`.
    store: Value,
    /// Each source's counters, by name: every file source (`type` `file`: files, lines,
    /// parse errors, ...) and HTTP and WebSocket ingest as `api` and `ws`; `events` is the
    /// events committed from it since start.
    sources: Value,
    /// Submissions waiting in each queue.
    queues: Value,
    /// With `[store] kind = "chroma"`: the Chroma server's state and the outbox waiting for it
    /// (`outbox`: `rows`, `events`, `records`, and `evicted_unsent`, the events `max_size_mib`
    /// deleted before Chroma had them); null with the embedded store.
    chroma: Option<Value>,
}

/// Filters of the log queries.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // read by the derive only
pub struct LogFilters {
    /// Start of the time window (inclusive), RFC 3339: events at or after it. Event times are
    /// kept to the millisecond: a `from` with finer digits is rounded down to its millisecond.
    #[param(format = DateTime)]
    from: Option<String>,
    /// End of the time window (exclusive), RFC 3339: events before it; later than `from`.
    /// Event times are kept to the millisecond: a `to` with finer digits is rounded up to the
    /// next millisecond, so every event listed as earlier than it is in the window.
    #[param(format = DateTime)]
    to: Option<String>,
    /// Client IP, exact.
    ip: Option<String>,
    /// A status (`404`) or a class (`5xx`).
    #[param(pattern = "^([1-5][0-9][0-9]|[1-5]xx|[1-5]XX)$")]
    status: Option<String>,
    /// Text contained in the URL, user agent or raw line, ignoring case (of every letter,
    /// `école` finds `ÉCOLE`; letter by letter, so `ß` does not find `SS`).
    q: Option<String>,
    /// Most rows to return, 1 to 10000.
    #[param(minimum = 1, maximum = 10000)]
    limit: Option<u32>,
    /// Paging cursor: the previous page's `next_before_id`. Rows are ordered newest event
    /// time first (ties by id), and the page goes on after that row in this order; ids
    /// increase in commit order, not in event time. A cursor that names no stored row (never
    /// one, or deleted by retention with everything older) gives an empty page.
    before_id: Option<i64>,
    /// The other direction: only rows committed after this id (event id for logs, anomaly id
    /// for anomalies), oldest first, with `next_after_id` to go on. What a `/ws` client that
    /// was told `lagged` fetches. Not with `before_id`.
    after_id: Option<i64>,
}

/// `GET /api/v1/summaries` answer, newest first.
#[derive(Serialize, ToSchema)]
pub struct SummaryPage {
    /// The summaries written by summarizer plugins, each with its window and the plugin's fields.
    summaries: Vec<Value>,
    /// Pass as `before_id` for the next (older) page; null when the page is empty.
    next_before_id: Option<i64>,
    /// Each summarizer's state.
    summarizers: Value,
}

/// Filters of the summary query.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // read by the derive only
pub struct SummaryFilters {
    /// Oldest window time, RFC 3339; kept to the millisecond (finer digits are rounded down).
    #[param(format = DateTime)]
    from: Option<String>,
    /// Newest window time, RFC 3339; later than `from`; kept to the millisecond (finer digits
    /// are rounded up).
    #[param(format = DateTime)]
    to: Option<String>,
    /// Most summaries to return, 1 to 1000.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// Only this summarizer's summaries.
    summarizer: Option<String>,
    /// Paging cursor: the previous page's `next_before_id`. Summaries are ordered newest
    /// window first (ties by id), and the page goes on after that summary in this order. A
    /// cursor that names no stored summary (never one, or deleted by retention with everything
    /// older) gives an empty page.
    before_id: Option<i64>,
}
