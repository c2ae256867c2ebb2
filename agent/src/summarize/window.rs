//! [`SummaryWindow`]: the window a summarizer has open, aligned to the wall clock.
//!
//! Windows are aligned to multiples of their length since the Unix epoch (a "1m" window runs
//! from :00 to :00) and hold the batches *committed* during them, not the events whose own
//! timestamp falls in them. Why commit time: it closes every window on schedule, with one
//! window of state, whatever the events say; a backfill of last week's logs or a client with
//! a wrong clock would otherwise reopen windows that were already summarized, or hold
//! thousands open. For live traffic the two agree within the pipeline's latency; each summary
//! also records the earliest and latest event time it covers.

/// The open window of one summarizer and what the host counts in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryWindow {
    /// Start, ms since the Unix epoch (a multiple of the length).
    pub start_ms: i64,
    /// Length, ms.
    pub length_ms: i64,
    /// Events folded.
    pub events: u64,
    /// Anomalies among them.
    pub anomalies: u64,
    /// Earliest and latest event time folded.
    pub first_event_ms: Option<i64>,
    pub last_event_ms: Option<i64>,
    /// Events of this window lost to a plugin failure.
    pub lost_events: u64,
}

impl SummaryWindow {
    /// The window of `length_ms` that contains `at_ms`.
    pub fn containing(at_ms: i64, length_ms: i64) -> Self {
        SummaryWindow {
            start_ms: at_ms - at_ms.rem_euclid(length_ms),
            length_ms,
            events: 0,
            anomalies: 0,
            first_event_ms: None,
            last_event_ms: None,
            lost_events: 0,
        }
    }

    /// End (exclusive).
    pub fn end_ms(&self) -> i64 {
        self.start_ms + self.length_ms
    }

    /// Whether the window is over at `now_ms`.
    pub fn is_over(&self, now_ms: i64) -> bool {
        now_ms >= self.end_ms()
    }

    /// Count a folded batch.
    pub fn count(&mut self, timestamps: impl Iterator<Item = i64>, anomalies: usize) {
        for t in timestamps {
            self.events += 1;
            self.first_event_ms = Some(self.first_event_ms.map_or(t, |f| f.min(t)));
            self.last_event_ms = Some(self.last_event_ms.map_or(t, |l| l.max(t)));
        }
        self.anomalies += anomalies as u64;
    }
}
