//! The one event model every source produces and every plugin sees.

/// One log event.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Event {
    /// Milliseconds since the Unix epoch, UTC.
    pub timestamp_ms: i64,
    /// Client address as text.
    pub ip: String,
    /// HTTP method.
    pub method: String,
    /// Request target (path and query).
    pub url: String,
    /// HTTP status, 100-599 (0 for non-access logs).
    pub status_code: u16,
    /// Response size in bytes.
    pub bytes_sent: u64,
    /// User-Agent.
    pub user_agent: String,
    /// The original line, for file sources; empty for structured input.
    pub raw: String,
    /// Where the event came from: `api`, `ws`, or `file:<path>`.
    pub source: String,
    /// Referer header, when the source has it.
    pub referer: Option<String>,
    /// Time taken to serve the request, in milliseconds, when the source has it.
    pub latency_ms: Option<f64>,
    /// Further fields the source carried (JSON lines' unmapped keys, regex groups).
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// The id of the line's mined template, for lines that are not access logs (set by the
    /// pipeline, see `templates`); `None` for access logs and events without text.
    pub template_id: Option<i64>,
}

impl AsRef<Event> for Event {
    fn as_ref(&self) -> &Event {
        self
    }
}
