//! The accepted range of each whole-number setting, in one place: the range checks of
//! `resolve` (and of `[store]`) and the message for a value serde refuses before any check
//! runs (`-1`, or a number past its type) say the same range and hint.

use std::fmt::Display;

/// The range of one whole-number setting.
#[derive(Debug)]
pub struct Range {
    /// Dotted path without indexes: `pipeline.batch_wait_ms`, `detectors.limits.fuel`.
    pub field: &'static str,
    /// Smallest accepted value.
    pub min: u64,
    /// Largest accepted value.
    pub max: u64,
    /// Unit shown after the range (`ms`, `MiB`), or empty.
    pub unit: &'static str,
    /// What to do about a value out of range.
    pub hint: &'static str,
}

impl Range {
    /// Whether `value` is accepted.
    pub fn contains(&self, value: u64) -> bool {
        (self.min..=self.max).contains(&value)
    }

    /// "must be between MIN and MAX UNIT, got GOT".
    pub fn message(&self, got: impl Display) -> String {
        let unit = if self.unit.is_empty() { String::new() } else { format!(" {}", self.unit) };
        format!("must be between {} and {}{unit}, got {got}", self.min, self.max)
    }
}

/// Longest `[pipeline] batch_wait_ms`: a batch that is not full waits this long for more
/// events, so a lone `POST /anomaly_detection` is answered this much later.
pub const MAX_BATCH_WAIT_MS: u64 = 1_000;
/// Largest `[pipeline] queue_events`: a semaphore counts at most this many permits.
pub const MAX_QUEUE_EVENTS: u64 = 1 << 28;
/// Plugin memory cap, MiB (detectors and summarizers).
pub const MAX_MEMORY_MIB: u64 = 16 * 1024;
/// Plugin call deadline, ms (detectors and summarizers).
pub const MAX_CALL_TIMEOUT_MS: u64 = 10 * 60 * 1000;

const fn range(field: &'static str, min: u64, max: u64, unit: &'static str, hint: &'static str) -> Range {
    Range { field, min, max, unit, hint }
}

/// Every bounded whole-number setting outside `[store]` (whose ranges are
/// [`crate::store::STORE_RANGES`]) and the sections other modules check.
pub const RANGES: &[Range] = &[
    range("api.max_body_bytes", 1024, 1 << 30, "bytes", "the default is 16777216 (16 MiB)"),
    range("api.max_batch_logs", 1, 1_000_000, "logs", "the default is 10000"),
    range("pipeline.batch_events", 1, 1_000_000, "", "the default is 4096"),
    range(
        "pipeline.batch_wait_ms",
        0,
        MAX_BATCH_WAIT_MS,
        "ms",
        "the default is 0 (take what is queued at once); a batch that is not full waits this long, \
         so every lone POST /anomaly_detection is answered this much later",
    ),
    range("pipeline.queue", 1, 65_536, "", "the default is 64"),
    range("pipeline.queue_events", 1, MAX_QUEUE_EVENTS, "", "the default is 32768 (about 25 MiB of access-log events)"),
    range("detectors.limits.max_memory_mib", 1, MAX_MEMORY_MIB, "MiB", "the default is 256"),
    range("detectors.limits.call_timeout_ms", 1, MAX_CALL_TIMEOUT_MS, "ms", "the default is 5000"),
    range("detectors.limits.fuel", 1_000, u64::MAX / 2, "units", "leave it out for no fuel metering"),
    range(
        "detectors.snapshot_interval_secs",
        0,
        86_400,
        "s",
        "the default is 60; 0 snapshots only on shutdown, and a day is the longest interval",
    ),
    range("summarizers.limits.max_memory_mib", 1, MAX_MEMORY_MIB, "MiB", "the default is 256"),
    range("summarizers.limits.call_timeout_ms", 1, MAX_CALL_TIMEOUT_MS, "ms", "the default is 5000"),
    range("summarizers.limits.fuel", 1_000, u64::MAX / 2, "units", "leave it out for no fuel metering"),
    range("sources.max_line_bytes", 64, 16 << 20, "bytes", "the default is 65536; longer lines are truncated"),
    range(
        "sources.partial_line_timeout_ms",
        0,
        60_000,
        "ms",
        "the default is 1000; an unterminated last line is stored after this wait",
    ),
    range(
        "sources.poll_interval_ms",
        1,
        60_000,
        "ms",
        "the default is 250; files are checked this often when no change notification comes",
    ),
    range("chroma.retention_days", 0, 36_500, "days", "0 keeps the records; 36500 is 100 years"),
];

/// The range of the setting at `path` (`detectors[1].limits.fuel`), when it has one.
pub fn find(path: &str) -> Option<&'static Range> {
    let bare: String = path
        .split('.')
        .map(|segment| segment.split_once('[').map_or(segment, |(key, _)| key))
        .collect::<Vec<_>>()
        .join(".");
    if let Some(field) = bare.strip_prefix("store.") {
        return crate::store::STORE_RANGES.iter().find(|r| r.field == field);
    }
    RANGES.iter().find(|r| r.field == bare)
}
