//! The summarizers at work: one thread per summarizer takes committed batches from its
//! queue, folds them into the open [`SummaryWindow`], and when the window closes stores the
//! plugin's summary, broadcasts it on `/ws` and snapshots the plugin. Plugin calls and
//! SQLite writes are blocking, and a thread of its own keeps them off the async runtime and
//! away from the pipeline: ingestion never waits for a summarizer.

use super::config::SummarizerSpec;
use super::feed::{CommittedBatch, LaneCounters, LaneReceiver, SummaryFeed};
use super::host::{FoldAnomaly, SummarizerHost};
use super::window::SummaryWindow;
use crate::detect::{EncodedBatch, PluginEngine, PluginError};
use crate::event::Event;
use crate::pipeline::{Monitor, MonitorMessage};
use crate::store::{NewSummary, PluginSnapshot, Store, StoreError, StoredSummary};
use serde::Serialize;
use std::sync::atomic::Ordering;
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Longest wait for a batch while no window is open.
const IDLE_WAIT: Duration = Duration::from_secs(3600);

/// A summarizer's state, for `/api/v1/summaries`.
#[derive(Debug, Clone, Serialize)]
pub struct SummarizerStatus {
    /// Summarizer name.
    pub name: String,
    /// Plugin version.
    pub version: String,
    /// `builtin:<name>` or the component's path.
    pub source: String,
    /// Window length in milliseconds.
    pub window_ms: i64,
    /// `ready`, `failing` while its most recent call failed, or `stopped`.
    pub state: &'static str,
    /// Batches waiting in its queue.
    pub queued: u64,
    /// Events it received, folded and skipped (its queue was full).
    pub received_events: u64,
    pub folded_events: u64,
    pub skipped_events: u64,
    pub skipped_batches: u64,
    /// Summaries stored since start.
    pub summaries: u64,
    /// Failed calls, and instances restarted after a trap.
    pub failures: u64,
    pub restarts: u64,
    /// The most recent failure, if any.
    pub last_error: Option<String>,
}

/// What changes while a summarizer runs.
#[derive(Debug, Default)]
struct Progress {
    folded_events: u64,
    summaries: u64,
    failures: u64,
    restarts: u64,
    failing: bool,
    stopped: bool,
    last_error: Option<String>,
}

struct LaneStatus {
    name: String,
    version: String,
    source: String,
    window_ms: i64,
    counters: Arc<LaneCounters>,
    progress: Mutex<Progress>,
}

/// Every summarizer's status; cheap to clone.
#[derive(Clone, Default)]
pub struct SummaryBoard {
    lanes: Arc<Vec<Arc<LaneStatus>>>,
}

impl SummaryBoard {
    /// Each summarizer's status.
    pub fn status(&self) -> Vec<SummarizerStatus> {
        self.lanes
            .iter()
            .map(|l| {
                let p = l.progress.lock().unwrap_or_else(|e| e.into_inner());
                let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
                SummarizerStatus {
                    name: l.name.clone(),
                    version: l.version.clone(),
                    source: l.source.clone(),
                    window_ms: l.window_ms,
                    state: if p.stopped {
                        "stopped"
                    } else if p.failing {
                        "failing"
                    } else {
                        "ready"
                    },
                    queued: load(&l.counters.queued),
                    received_events: load(&l.counters.received_events),
                    folded_events: p.folded_events,
                    skipped_events: load(&l.counters.skipped_events),
                    skipped_batches: load(&l.counters.skipped_batches),
                    summaries: p.summaries,
                    failures: p.failures,
                    restarts: p.restarts,
                    last_error: p.last_error.clone(),
                }
            })
            .collect()
    }

    /// Whether some summarizer's most recent call failed.
    pub fn any_failing(&self) -> bool {
        self.lanes.iter().any(|l| l.progress.lock().unwrap_or_else(|e| e.into_inner()).failing)
    }
}

/// The running summarizers; [`Summarizers::join`] waits for them after the feed is dropped.
pub struct Summarizers {
    board: SummaryBoard,
    threads: Vec<JoinHandle<()>>,
}

impl Summarizers {
    /// Start every summarizer of the config, each resumed from its saved snapshot. Returns
    /// them and the feed the pipeline offers committed batches to.
    pub fn start(
        engine: &PluginEngine,
        specs: &[SummarizerSpec],
        store: Arc<Store>,
        monitor: Monitor,
    ) -> Result<(Summarizers, SummaryFeed), PluginError> {
        let mut hosts = specs.iter().map(|spec| SummarizerHost::start(engine, spec)).collect::<Result<Vec<_>, _>>()?;
        let saved = store.snapshots().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot read summarizer snapshots; starting without them");
            Vec::new()
        });
        for host in &mut hosts {
            let key = snapshot_key(host.name());
            if let Some(s) = saved.iter().find(|s| s.detector == key && s.plugin == host.source())
                && let Err(e) = host.restore(&s.state)
            {
                tracing::warn!(summarizer = %host.name(), error = %e, "summarizer refused its snapshot; starting afresh");
            }
        }
        let capacities: Vec<usize> = specs.iter().map(|s| s.queue).collect();
        let (feed, receivers) = SummaryFeed::new(&capacities);
        let mut lanes = Vec::new();
        let mut threads = Vec::new();
        for ((host, spec), receiver) in hosts.into_iter().zip(specs).zip(receivers) {
            let status = Arc::new(LaneStatus {
                name: host.name().to_owned(),
                version: host.version().to_owned(),
                source: host.source().to_owned(),
                window_ms: spec.window.as_millis() as i64,
                counters: receiver.counters.clone(),
                progress: Mutex::new(Progress::default()),
            });
            lanes.push(status.clone());
            let mut lane = SummarizerLane::new(host, spec.window, store.clone(), monitor.clone(), status);
            let thread = std::thread::Builder::new()
                .name(format!("vigil-summarize-{}", lane.status.name))
                .spawn(move || lane.run(receiver))
                .map_err(|e| PluginError::Load { source_name: spec.source.to_string(), message: e.to_string() })?;
            threads.push(thread);
        }
        Ok((Summarizers { board: SummaryBoard { lanes: Arc::new(lanes) }, threads }, feed))
    }

    /// The status board.
    pub fn board(&self) -> SummaryBoard {
        self.board.clone()
    }

    /// Wait until every summarizer has closed its window and stopped; they stop once every
    /// clone of the feed is dropped (the pipeline has drained). Blocking.
    pub fn join(self) {
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

/// The key of a summarizer's row in the plugin snapshot table (shared with detectors).
fn snapshot_key(name: &str) -> String {
    format!("summarizer:{name}")
}

/// Milliseconds since the Unix epoch.
pub(super) fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// One summarizer, its open window and what it reports.
pub(super) struct SummarizerLane {
    host: SummarizerHost,
    length_ms: i64,
    store: Arc<Store>,
    monitor: Monitor,
    status: Arc<LaneStatus>,
    open: Option<SummaryWindow>,
    /// The state taken at the last window's close: a plugin restarted after a trap resumes it.
    last_snapshot: Option<Vec<u8>>,
}

impl SummarizerLane {
    /// A lane outside [`Summarizers`], driven by hand (tests): batches go to [`Self::receive`].
    #[cfg(test)]
    pub(super) fn standalone(host: SummarizerHost, window: Duration, store: Arc<Store>, monitor: Monitor) -> Self {
        let status = Arc::new(LaneStatus {
            name: host.name().to_owned(),
            version: host.version().to_owned(),
            source: host.source().to_owned(),
            window_ms: window.as_millis() as i64,
            counters: Arc::default(),
            progress: Mutex::new(Progress::default()),
        });
        SummarizerLane::new(host, window, store, monitor, status)
    }

    /// Failures so far, restarts, and the last failure (tests).
    #[cfg(test)]
    pub(super) fn failures(&self) -> (u64, u64, Option<String>) {
        let p = self.progress();
        (p.failures, p.restarts, p.last_error.clone())
    }

    fn new(
        host: SummarizerHost,
        window: Duration,
        store: Arc<Store>,
        monitor: Monitor,
        status: Arc<LaneStatus>,
    ) -> Self {
        SummarizerLane {
            host,
            length_ms: window.as_millis() as i64,
            store,
            monitor,
            status,
            open: None,
            last_snapshot: None,
        }
    }

    /// Work until the feed is dropped, then close the open window (as a partial one).
    fn run(&mut self, receiver: LaneReceiver) {
        loop {
            let wait = match &self.open {
                Some(w) => Duration::from_millis((w.end_ms() - now_ms()).max(0) as u64),
                None => IDLE_WAIT,
            };
            match receiver.rx.recv_timeout(wait) {
                Ok(batch) => {
                    receiver.counters.queued.fetch_sub(1, Ordering::Relaxed);
                    self.receive(&batch);
                }
                Err(RecvTimeoutError::Timeout) => {
                    self.tick(now_ms());
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        self.close(now_ms());
        self.progress().stopped = true;
    }

    fn progress(&self) -> std::sync::MutexGuard<'_, Progress> {
        self.status.progress.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn skipped(&self) -> u64 {
        self.status.counters.skipped_events.load(Ordering::Relaxed)
    }

    /// Fold a batch into the window of its commit time, closing the open window first if
    /// the batch belongs to a later one. A batch committed just before a window closed but
    /// received after goes into the open window.
    pub(super) fn receive(&mut self, batch: &CommittedBatch) -> Option<StoredSummary> {
        let mut stored = None;
        if self.open.as_ref().is_some_and(|w| w.is_over(batch.committed_ms)) {
            stored = self.emit(false, None);
        }
        let skipped = self.skipped();
        let window =
            self.open.get_or_insert_with(|| SummaryWindow::containing(batch.committed_ms, self.length_ms, skipped));
        let events: Vec<&Event> = batch.events.iter().map(|e| &e.event).collect();
        let scores: Vec<f32> = batch.events.iter().map(|e| e.anomaly_score.unwrap_or(-1.0)).collect();
        let anomalies: Vec<FoldAnomaly> = batch
            .anomalies
            .iter()
            .map(|a| FoldAnomaly {
                index: a.event_index as u32,
                event_id: batch.first_id + a.event_index as i64,
                score: a.score,
                detector: a.detector.clone(),
                reason: a.reason.clone(),
            })
            .collect();
        let result = EncodedBatch::encode(&events).and_then(|encoded| self.host.fold(&encoded, &scores, &anomalies));
        match result {
            Ok(()) => {
                window.count(events.iter().map(|e| e.timestamp_ms), anomalies.len());
                let mut p = self.progress();
                p.folded_events += events.len() as u64;
                p.failing = false;
            }
            Err(e) => {
                // What the plugin had folded in this window is gone with the failed instance.
                window.lost_events += window.events + events.len() as u64;
                window.events = 0;
                window.anomalies = 0;
                self.failed(e);
                self.resume();
            }
        }
        stored
    }

    /// Close the open window if it is over at `now_ms`.
    pub(super) fn tick(&mut self, now_ms: i64) -> Option<StoredSummary> {
        if self.open.as_ref().is_some_and(|w| w.is_over(now_ms)) { self.emit(false, None) } else { None }
    }

    /// Close the open window at `now_ms` whether or not it is over (on shutdown).
    pub(super) fn close(&mut self, now_ms: i64) -> Option<StoredSummary> {
        let partial = self.open.as_ref().is_some_and(|w| !w.is_over(now_ms));
        let stored = self.emit(partial, Some(now_ms));
        // The snapshot taken at the close is the one the next start resumes.
        if let Some(state) = &self.last_snapshot {
            let snapshot = PluginSnapshot {
                detector: snapshot_key(self.host.name()),
                plugin: self.host.source().to_owned(),
                version: self.host.version().to_owned(),
                taken_ms: now_ms,
                state: state.clone(),
            };
            if let Err(e) = self.store.save_snapshots(&[snapshot]) {
                tracing::warn!(summarizer = %self.host.name(), error = %e, "cannot save the summarizer's snapshot");
            }
        }
        stored
    }

    /// Ask the plugin for the open window's summary, store it and announce it. A window
    /// without events stores nothing. `end_at` cuts a partial window short.
    fn emit(&mut self, partial: bool, end_at: Option<i64>) -> Option<StoredSummary> {
        let window = self.open.take()?;
        let skipped_events = self.skipped().saturating_sub(window.skipped_at_open) + window.lost_events;
        if window.events == 0 {
            return None;
        }
        let end_ms = match end_at {
            Some(at) if partial => at.clamp(window.start_ms + 1, window.end_ms()),
            _ => window.end_ms(),
        };
        let summary = match self.host.emit(window.start_ms, end_ms) {
            Ok(summary) => summary,
            Err(e) => {
                self.failed(e);
                self.resume();
                return None;
            }
        };
        match self.host.snapshot() {
            Ok(state) => self.last_snapshot = Some(state),
            Err(e) => self.failed(e),
        }
        let new = NewSummary {
            summarizer: self.host.name().to_owned(),
            window_start_ms: window.start_ms,
            window_end_ms: end_ms,
            first_event_ms: window.first_event_ms,
            last_event_ms: window.last_event_ms,
            events: window.events,
            anomalies: window.anomalies,
            skipped_events,
            partial,
            text: summary.text,
            data: summary.data,
        };
        let stored = match self.store.insert_summary(&new) {
            Ok(stored) => stored,
            Err(e) => {
                self.store_failed(&e);
                return None;
            }
        };
        self.progress().summaries += 1;
        self.monitor.publish(&MonitorMessage::Summary(summary_json(&stored)));
        if let Some(days) = (self.store.config().retention_days > 0).then_some(self.store.config().retention_days) {
            let cutoff = now_ms().saturating_sub(i64::from(days) * 86_400_000);
            if let Err(e) = self.store.delete_summaries_before(cutoff) {
                tracing::warn!(error = %e, "cannot delete old summaries; retrying at the next window");
            }
        }
        Some(stored)
    }

    /// Give a restarted instance the state of the last closed window.
    fn resume(&mut self) {
        self.progress().restarts = self.host.restarts();
        if let Some(state) = self.last_snapshot.clone()
            && let Err(e) = self.host.restore(&state)
        {
            tracing::warn!(summarizer = %self.host.name(), error = %e, "restarted summarizer refused its snapshot");
        }
    }

    fn failed(&self, error: PluginError) {
        tracing::error!(summarizer = %self.host.name(), error = %error, "summarizer call failed");
        let mut p = self.progress();
        p.failures += 1;
        p.failing = true;
        p.last_error = Some(error.to_string());
    }

    fn store_failed(&self, error: &StoreError) {
        tracing::error!(summarizer = %self.host.name(), error = %error, "cannot store a summary");
        let mut p = self.progress();
        p.failures += 1;
        p.last_error = Some(format!("storing a summary: {error}"));
    }
}

/// A stored summary as the API and `/ws` show it.
pub fn summary_json(stored: &StoredSummary) -> serde_json::Value {
    let s = &stored.summary;
    let time = |ms: i64| jiff::Timestamp::from_millisecond(ms).map(|t| t.to_string()).unwrap_or_default();
    serde_json::json!({
        "id": stored.id,
        "summarizer": s.summarizer,
        "window_start": time(s.window_start_ms),
        "window_end": time(s.window_end_ms),
        "first_event": s.first_event_ms.map(time),
        "last_event": s.last_event_ms.map(time),
        "events": s.events,
        "anomalies": s.anomalies,
        "skipped_events": s.skipped_events,
        "partial": s.partial,
        "text": s.text,
        "data": s.data,
    })
}
