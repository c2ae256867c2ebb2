//! What the summarizers report: each lane's counters and progress, read by
//! `/api/v1/summaries`, `/api/v1/plugins` and `/health` through the [`SummaryBoard`]. A reload
//! swaps the board's list in one step, like the feed's.

use super::feed::LaneCounters;
use crate::config::PluginLimits;
use crate::detect::{Latency, LatencyStatus, LimitsStatus};
use arc_swap::ArcSwap;
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// A summarizer's state, for `/api/v1/summaries`, `/api/v1/plugins` and `/health`.
#[derive(Debug, Clone, Serialize)]
pub struct SummarizerStatus {
    /// Summarizer name.
    pub name: String,
    /// Plugin version.
    pub version: String,
    /// The WIT world it implements.
    pub world: &'static str,
    /// `builtin:<name>` or the component's path.
    pub source: String,
    /// SHA-256 of the component.
    pub digest: String,
    /// Window length in milliseconds.
    pub window_ms: i64,
    /// `ready`, `failing` while its most recent call failed, or `stopped`.
    pub state: &'static str,
    pub limits: LimitsStatus,
    /// Batches waiting in its queue.
    pub queued: u64,
    /// Events it received, folded, and skipped (its queue was full) or lost to a failed
    /// call: since it started, what its summaries' `skipped_events` add up to.
    pub received_events: u64,
    pub folded_events: u64,
    pub skipped_events: u64,
    pub skipped_batches: u64,
    /// Summaries stored since start.
    pub summaries: u64,
    /// Plugin calls made (fold and emit).
    pub calls: u64,
    /// Failed calls, and instances restarted after a trap.
    pub failures: u64,
    pub restarts: u64,
    pub latency_ms: LatencyStatus,
    /// The most recent failure, if any, and when.
    pub last_error: Option<String>,
    pub last_failure_at: Option<String>,
    /// Linear memory the instance holds, bytes (as a detector's).
    pub memory_bytes: u64,
}

/// What changes while a summarizer runs.
#[derive(Debug, Default)]
pub(super) struct Progress {
    pub folded_events: u64,
    /// Events lost to failed calls (a refused fold, a trap, a failed emit).
    pub lost_events: u64,
    pub summaries: u64,
    pub failures: u64,
    pub restarts: u64,
    pub failing: bool,
    pub stopped: bool,
    pub last_error: Option<String>,
    pub last_failure_ms: Option<i64>,
}

/// One summarizer's live status, shared by its lane (which writes) and the board (which reads).
pub(super) struct LaneStatus {
    pub name: String,
    pub version: String,
    pub source: String,
    pub digest: String,
    pub window_ms: i64,
    pub limits: PluginLimits,
    pub counters: Arc<LaneCounters>,
    pub calls: AtomicU64,
    pub latency: Mutex<Latency>,
    pub progress: Mutex<Progress>,
    /// The instance's linear memory after its latest call, bytes.
    pub memory_bytes: AtomicU64,
}

impl LaneStatus {
    /// The status of a lane that runs `host` over windows of `window_ms`.
    pub fn new(host: &super::SummarizerHost, window_ms: i64, counters: Arc<LaneCounters>) -> Self {
        LaneStatus {
            name: host.name().to_owned(),
            version: host.version().to_owned(),
            source: host.source().to_owned(),
            digest: host.digest().to_owned(),
            window_ms,
            limits: host.limits(),
            counters,
            calls: AtomicU64::new(0),
            latency: Mutex::default(),
            progress: Mutex::default(),
            memory_bytes: AtomicU64::new(host.memory_bytes() as u64),
        }
    }

    pub fn progress(&self) -> MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn status(&self) -> SummarizerStatus {
        let p = self.progress();
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let at = |ms: i64| jiff::Timestamp::from_millisecond(ms).map(|t| t.to_string()).ok();
        SummarizerStatus {
            name: self.name.clone(),
            version: self.version.clone(),
            world: "summarizer",
            source: self.source.clone(),
            digest: self.digest.clone(),
            window_ms: self.window_ms,
            state: if p.stopped {
                "stopped"
            } else if p.failing {
                "failing"
            } else {
                "ready"
            },
            limits: self.limits.into(),
            queued: load(&self.counters.queued),
            received_events: load(&self.counters.received_events),
            folded_events: p.folded_events,
            skipped_events: load(&self.counters.skipped_events) + p.lost_events,
            skipped_batches: load(&self.counters.skipped_batches),
            summaries: p.summaries,
            calls: load(&self.calls),
            failures: p.failures,
            restarts: p.restarts,
            latency_ms: self.latency.lock().unwrap_or_else(|e| e.into_inner()).status(),
            last_error: p.last_error.clone(),
            last_failure_at: p.last_failure_ms.and_then(at),
            memory_bytes: load(&self.memory_bytes),
        }
    }
}

/// Every summarizer's status; cheap to clone.
#[derive(Clone, Default)]
pub struct SummaryBoard {
    lanes: Arc<ArcSwap<Vec<Arc<LaneStatus>>>>,
}

impl SummaryBoard {
    /// Each summarizer's status, in config order.
    pub fn status(&self) -> Vec<SummarizerStatus> {
        self.lanes.load().iter().map(|l| l.status()).collect()
    }

    /// Whether some summarizer's most recent call failed.
    pub fn any_failing(&self) -> bool {
        self.lanes.load().iter().any(|l| l.progress().failing)
    }

    /// Show exactly `lanes` from now on.
    pub(super) fn show(&self, lanes: Vec<Arc<LaneStatus>>) {
        self.lanes.store(Arc::new(lanes));
    }
}
