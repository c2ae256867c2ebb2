//! The plain types a plugin author works with, and their conversion from and to the
//! columnar batch that crosses the WIT boundary.

use crate::bindings::vigil::plugin::types::{Batch, Reason, Verdicts};

/// Strings per event in [`Batch::text`]: ip, method, url, user agent, raw line.
const STRINGS_PER_EVENT: usize = 5;

/// One log event, borrowed from the batch the agent sent: no copy per event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Event<'a> {
    /// Milliseconds since the Unix epoch, UTC.
    pub timestamp_ms: i64,
    /// Client address as text; empty when unknown.
    pub ip: &'a str,
    /// HTTP method; empty for non-access logs.
    pub method: &'a str,
    /// Request target (path and query); empty for non-access logs.
    pub url: &'a str,
    /// HTTP status (100-599); 0 when not an access log.
    pub status_code: u16,
    /// Response size in bytes.
    pub bytes_sent: u64,
    /// User-Agent; empty when unknown.
    pub user_agent: &'a str,
    /// The original line for file sources; empty for structured input.
    pub raw: &'a str,
}

/// An event that owns its strings: handy in tests and native tools.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OwnedEvent {
    pub timestamp_ms: i64,
    pub ip: String,
    pub method: String,
    pub url: String,
    pub status_code: u16,
    pub bytes_sent: u64,
    pub user_agent: String,
    pub raw: String,
}

impl OwnedEvent {
    /// Borrow it as an [`Event`].
    pub fn borrow(&self) -> Event<'_> {
        Event {
            timestamp_ms: self.timestamp_ms,
            ip: &self.ip,
            method: &self.method,
            url: &self.url,
            status_code: self.status_code,
            bytes_sent: self.bytes_sent,
            user_agent: &self.user_agent,
            raw: &self.raw,
        }
    }
}

/// Borrow every event of a slice.
pub fn borrow_all(events: &[OwnedEvent]) -> Vec<Event<'_>> {
    events.iter().map(OwnedEvent::borrow).collect()
}

/// A detector's judgement of one event.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Verdict {
    /// Anomaly score in [0, 1]; higher is more anomalous.
    pub score: f32,
    /// A short human reason; empty for unremarkable events (costs nothing to send).
    pub reason: String,
}

impl Verdict {
    /// A verdict with a score (clamped into [0, 1]; NaN becomes 0) and a reason.
    pub fn new(score: f32, reason: impl Into<String>) -> Self {
        let score = if score.is_nan() { 0.0 } else { score.clamp(0.0, 1.0) };
        Verdict { score, reason: reason.into() }
    }

    /// An unremarkable event: score 0, no reason.
    pub fn normal() -> Self {
        Verdict::default()
    }
}

/// Rebuild the events of a batch, checking that its columns agree.
pub(crate) fn decode(batch: &Batch) -> Result<Vec<Event<'_>>, String> {
    let n = batch.timestamp_ms.len();
    if batch.status_code.len() != n || batch.bytes_sent.len() != n || batch.text_ends.len() != n * STRINGS_PER_EVENT {
        return Err(format!(
            "malformed batch: {n} timestamps, {} statuses, {} sizes, {} string ends (expected {})",
            batch.status_code.len(),
            batch.bytes_sent.len(),
            batch.text_ends.len(),
            n * STRINGS_PER_EVENT
        ));
    }
    let mut start = 0usize;
    let mut next = |end: u32| -> Result<&str, String> {
        let end = end as usize;
        let s =
            batch.text.get(start..end).ok_or_else(|| format!("malformed batch: string ends at {end} after {start}"))?;
        start = end;
        Ok(s)
    };
    let mut events = Vec::with_capacity(n);
    for (i, ends) in batch.text_ends.chunks_exact(STRINGS_PER_EVENT).enumerate() {
        events.push(Event {
            timestamp_ms: batch.timestamp_ms[i],
            ip: next(ends[0])?,
            method: next(ends[1])?,
            url: next(ends[2])?,
            status_code: batch.status_code[i],
            bytes_sent: batch.bytes_sent[i],
            user_agent: next(ends[3])?,
            raw: next(ends[4])?,
        });
    }
    Ok(events)
}

/// Turn verdicts into their columnar form: scores in a list, only non-empty reasons sent.
pub(crate) fn encode(verdicts: Vec<Verdict>) -> Verdicts {
    let mut scores = Vec::with_capacity(verdicts.len());
    let mut reasons = Vec::new();
    for (i, v) in verdicts.into_iter().enumerate() {
        scores.push(v.score);
        if !v.reason.is_empty() {
            reasons.push(Reason { index: i as u32, text: v.reason });
        }
    }
    Verdicts { scores, reasons }
}
