//! The summarizers at work: one thread per summarizer takes committed batches from its
//! queue, folds them into the open [`SummaryWindow`], and when the window closes stores the
//! plugin's summary, broadcasts it on `/ws` and snapshots the plugin. Plugin calls and
//! SQLite writes are blocking, and a thread of its own keeps them off the async runtime and
//! away from the pipeline: ingestion never waits for a summarizer.

use super::feed::{CommittedBatch, LaneReceiver, MAX_QUEUED_EVENTS};
use super::host::{FoldAnomaly, SummarizerHost};
use super::status::{LaneStatus, Progress};
use super::window::SummaryWindow;
use crate::detect::{EncodedBatch, MAX_CALL_EVENTS, PluginError};
use crate::event::Event;
use crate::pipeline::{Monitor, MonitorMessage};
use crate::store::{NewSummary, PluginSnapshot, Store, StoreError, StoredSummary};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

/// Longest wait for a batch while no window is open.
const IDLE_WAIT: Duration = Duration::from_secs(3600);

/// How long a lane lets batches gather after the first one arrives (see `run`). Summaries
/// cover windows of seconds to hours, so this delay is invisible in them.
const GATHER: Duration = Duration::from_millis(10);

/// The key of a summarizer's row in the plugin snapshot table (shared with detectors).
pub(super) fn snapshot_key(name: &str) -> String {
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
    /// Events lost or skipped in windows that stored no summary (every event of it lost, or
    /// its emit failed), or handed over by a predecessor: counted in the next summary's
    /// `skipped_events`.
    lost_unreported: u64,
    /// The queue's skipped-events counter as far as summaries (or `lost_unreported`) count
    /// it: each skip is counted once, in the first window closed after it.
    skips_counted: u64,
}

/// What a stopped lane leaves for a successor of the same name.
pub(super) struct Handover {
    /// The plugin's state at the end.
    pub state: Option<Vec<u8>>,
    /// Events skipped or lost that no stored summary counts yet.
    pub unreported: u64,
}

impl SummarizerLane {
    /// A lane outside [`Summarizers`], driven by hand (tests): batches go to [`Self::receive`].
    #[cfg(test)]
    pub(super) fn standalone(host: SummarizerHost, window: Duration, store: Arc<Store>, monitor: Monitor) -> Self {
        let status = Arc::new(LaneStatus::new(&host, window.as_millis() as i64, Arc::default()));
        SummarizerLane::new(host, window, store, monitor, status)
    }

    /// Failures so far, restarts, and the last failure (tests).
    #[cfg(test)]
    pub(super) fn failures(&self) -> (u64, u64, Option<String>) {
        let p = self.progress();
        (p.failures, p.restarts, p.last_error.clone())
    }

    pub(super) fn new(
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
            lost_unreported: 0,
            skips_counted: 0,
        }
    }

    /// Work until the feed drops this lane (shutdown, or a reload that removed or replaced
    /// it), then close the open window (as a partial one). Returns the plugin's state at the
    /// end, for a successor of the same plugin to resume, and what no summary counted yet.
    pub(super) fn run(mut self, receiver: LaneReceiver) -> Handover {
        let mut busy = false;
        loop {
            let wait = match &self.open {
                Some(w) => Duration::from_millis((w.end_ms() - now_ms()).max(0) as u64),
                None => IDLE_WAIT,
            };
            match receiver.rx.recv_timeout(wait) {
                Ok(first) => {
                    // A short nap before taking what is queued: small batches (one API request
                    // each) then cost one wake-up and one plugin call together instead of one
                    // each. Skipped while the queue is filling, so a busy lane never waits.
                    if !busy {
                        std::thread::sleep(GATHER);
                    }
                    let mut batches = vec![first];
                    while let Ok(batch) = receiver.rx.try_recv() {
                        batches.push(batch);
                    }
                    let events: usize = batches.iter().map(|b| b.events.len()).sum();
                    busy = batches.len() > receiver.capacity / 4 || events as u64 > MAX_QUEUED_EVENTS / 4;
                    let refs: Vec<&CommittedBatch> = batches.iter().map(|b| b.as_ref()).collect();
                    self.receive_all(&refs);
                    receiver.counters.queued.fetch_sub(batches.len() as u64, Ordering::Relaxed);
                    receiver.counters.queued_events.fetch_sub(events as u64, Ordering::Relaxed);
                }
                Err(RecvTimeoutError::Timeout) => {
                    self.tick(now_ms());
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        self.close(now_ms());
        self.progress().stopped = true;
        let unreported = self.lost_unreported + self.skipped() - self.skips_counted;
        Handover { state: self.last_snapshot, unreported }
    }

    /// Count `events` that a predecessor skipped or lost, in the next summary stored.
    pub(super) fn carry_unreported(&mut self, events: u64) {
        self.lost_unreported += events;
    }

    /// Plugin calls so far (tests).
    #[cfg(test)]
    pub(super) fn plugin_calls(&self) -> u64 {
        self.status.calls.load(Ordering::Relaxed)
    }

    fn progress(&self) -> std::sync::MutexGuard<'_, Progress> {
        self.status.progress()
    }

    /// Count a plugin call and its latency.
    fn timed<R>(status: &LaneStatus, host: &mut SummarizerHost, call: impl FnOnce(&mut SummarizerHost) -> R) -> R {
        let started = Instant::now();
        let result = call(host);
        status.calls.fetch_add(1, Ordering::Relaxed);
        status.memory_bytes.store(host.memory_bytes() as u64, Ordering::Relaxed);
        status.latency.lock().unwrap_or_else(|e| e.into_inner()).record(started.elapsed());
        result
    }

    fn skipped(&self) -> u64 {
        self.status.counters.skipped_events.load(Ordering::Relaxed)
    }

    /// Fold a batch into the window of its commit time, closing the open window first if
    /// the batch belongs to a later one. A batch committed just before a window closed but
    /// received after goes into the open window.
    #[cfg(test)]
    pub(super) fn receive(&mut self, batch: &CommittedBatch) -> Option<StoredSummary> {
        self.receive_all(&[batch]).pop()
    }

    /// [`Self::receive`] for batches in commit order: consecutive ones of the same window go
    /// to the plugin in one call. Returns the summaries stored on the way.
    pub(super) fn receive_all(&mut self, batches: &[&CommittedBatch]) -> Vec<StoredSummary> {
        let length_ms = self.length_ms;
        let window_of = |b: &CommittedBatch| b.committed_ms.div_euclid(length_ms);
        batches.chunk_by(|a, b| window_of(a) == window_of(b)).filter_map(|group| self.receive_group(group)).collect()
    }

    /// Fold batches committed in one window in a single plugin call.
    fn receive_group(&mut self, group: &[&CommittedBatch]) -> Option<StoredSummary> {
        let committed_ms = group.first()?.committed_ms;
        let mut stored = None;
        if self.open.as_ref().is_some_and(|w| w.is_over(committed_ms)) {
            stored = self.emit(false, None);
        }
        // Out of `self` while the group is folded, and back after.
        let mut window = self.open.take().unwrap_or_else(|| SummaryWindow::containing(committed_ms, self.length_ms));
        let all = || group.iter().flat_map(|b| &b.events);
        let events: Vec<&Event> = all().map(|e| &e.event).collect();
        let scores: Vec<f32> = all().map(|e| e.anomaly_score.unwrap_or(-1.0)).collect();
        let mut anomalies: Vec<FoldAnomaly> = Vec::new();
        let mut offset = 0;
        for batch in group {
            anomalies.extend(batch.anomalies.iter().map(|a| FoldAnomaly {
                index: (offset + a.event_index) as u32,
                event_id: batch.first_id + a.event_index as i64,
                score: a.score,
                detector: a.detector.clone(),
                reason: a.reason.clone(),
            }));
            offset += batch.events.len();
        }
        // At most MAX_CALL_EVENTS a call, as for detectors: the batch is copied into the
        // plugin's memory, which never shrinks. A part the plugin refuses (an error it
        // returns) is lost alone: the instance keeps what it folded before. A trap replaces
        // the instance, and the window's state is lost with it, whatever part it came at.
        let restarts_before = self.host.restarts();
        let mut remaining = anomalies.as_mut_slice(); // in event order
        for start in (0..events.len()).step_by(MAX_CALL_EVENTS) {
            let end = (start + MAX_CALL_EVENTS).min(events.len());
            let split = remaining.partition_point(|a| (a.index as usize) < end);
            let (part, after) = std::mem::take(&mut remaining).split_at_mut(split);
            remaining = after;
            let part_anomalies = part.len();
            // Each anomaly is counted within its part, which is what the plugin is given.
            part.iter_mut().for_each(|a| a.index -= start as u32);
            let result = EncodedBatch::encode(&events[start..end]).and_then(|encoded| {
                Self::timed(&self.status, &mut self.host, |h| h.fold(&encoded, &scores[start..end], part))
            });
            match result {
                Ok(()) => {
                    window.count(events[start..end].iter().map(|e| e.timestamp_ms), part_anomalies);
                    let mut p = self.progress();
                    p.folded_events += (end - start) as u64;
                    p.failing = false;
                }
                Err(e) if self.host.restarts() == restarts_before => {
                    window.lost_events += (end - start) as u64;
                    self.progress().lost_events += (end - start) as u64;
                    self.failed(e);
                }
                Err(e) => {
                    // What the plugin had folded in this window is gone with the instance.
                    let lost = window.events + (events.len() - start) as u64;
                    window.lost_events += lost;
                    self.progress().lost_events += lost;
                    window.events = 0;
                    window.anomalies = 0;
                    self.failed(e);
                    self.resume();
                    break;
                }
            }
        }
        self.open = Some(window);
        stored
    }

    /// Close the open window if it is over at `now_ms`.
    pub(super) fn tick(&mut self, now_ms: i64) -> Option<StoredSummary> {
        if self.open.as_ref().is_some_and(|w| w.is_over(now_ms)) { self.emit(false, None) } else { None }
    }

    /// Close the open window at `now_ms` whether or not it is over (on shutdown).
    pub(super) fn close(&mut self, now_ms: i64) -> Option<StoredSummary> {
        let partial = self.open.as_ref().is_some_and(|w| !w.is_over(now_ms));
        self.emit(partial, Some(now_ms))
    }

    /// Ask the plugin for the open window's summary, store it and announce it. A window
    /// without events stores nothing. `end_at` cuts a partial window short.
    fn emit(&mut self, partial: bool, end_at: Option<i64>) -> Option<StoredSummary> {
        let window = self.open.take()?;
        let skipped_now = self.skipped();
        let skipped_events = skipped_now - std::mem::replace(&mut self.skips_counted, skipped_now) + window.lost_events;
        if window.events == 0 {
            self.lost_unreported += skipped_events;
            return None;
        }
        let end_ms = match end_at {
            Some(at) if partial => at.clamp(window.start_ms + 1, window.end_ms()),
            _ => window.end_ms(),
        };
        let summary = match Self::timed(&self.status, &mut self.host, |h| h.emit(window.start_ms, end_ms)) {
            Ok(summary) => summary,
            Err(e) => {
                self.lost_unreported += window.events + skipped_events;
                self.progress().lost_events += window.events;
                self.failed(e);
                self.resume();
                return None;
            }
        };
        self.progress().failing = false;
        let skipped_events = skipped_events + std::mem::take(&mut self.lost_unreported);
        let restarts_before = self.host.restarts();
        let snapshot = match self.host.snapshot() {
            Ok(state) => Some(state),
            Err(e) => {
                // The summary stands; the state is the last snapshot's, handed to the instance
                // that replaced the trapped one (and tried again at the next window's close).
                self.failed(e);
                if self.host.restarts() != restarts_before {
                    self.resume();
                }
                None
            }
        };
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
        // Saved once the summary it follows is stored.
        if let Some(state) = snapshot {
            self.save_snapshot(&state);
            self.last_snapshot = Some(state);
        }
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

    /// Resume `state` (a saved snapshot, or a predecessor's state on a reload); a restart
    /// after a trap resumes it too, until the next window closes.
    pub(super) fn resume_from(&mut self, state: Vec<u8>) -> Result<(), PluginError> {
        self.host.restore(&state)?;
        self.last_snapshot = Some(state);
        Ok(())
    }

    /// Store `state`, taken at a window's close, as the one the next start resumes: a crash
    /// loses at most the open window.
    fn save_snapshot(&self, state: &[u8]) {
        let snapshot = PluginSnapshot {
            detector: snapshot_key(self.host.name()),
            plugin: self.host.source().to_owned(),
            version: self.host.version().to_owned(),
            taken_ms: now_ms(),
            state: state.to_vec(),
        };
        if let Err(e) = self.store.save_snapshots(&[snapshot]) {
            tracing::warn!(summarizer = %self.host.name(), error = %e, "cannot save the summarizer's snapshot");
        }
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
        p.last_failure_ms = Some(now_ms());
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
