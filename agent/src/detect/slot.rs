//! One detector of a [`super::DetectorSet`]: its plugin instance, the fallback that scores
//! the batches the plugin fails, the failure count and backoff, and the status reported for it.

use super::batch::EncodedBatch;
use super::engine::PluginEngine;
use super::error::PluginError;
use super::fallback::FallbackDetector;
use super::host::{DetectorHost, Verdict, current_digest};
use super::stats::{Latency, LatencyStatus, LimitsStatus};
use crate::config::{DetectorSpec, PluginLimits, PluginSource};
use crate::store::PluginSnapshot;
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// First backoff after a batch that failed twice; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// What went wrong lately, and until when the plugin is left alone.
#[derive(Default)]
pub(super) struct Trouble {
    /// Batches in a row that failed even after the retry.
    consecutive: u32,
    backoff_until: Option<Instant>,
    last_error: Option<String>,
    last_failure_ms: Option<i64>,
}

pub(super) struct Slot {
    pub(super) spec: DetectorSpec,
    pub(super) digest: String,
    pub(super) name: Arc<str>,
    pub(super) plugin: String,
    pub(super) version: String,
    pub(super) source: String,
    pub(super) threshold: f64,
    pub(super) limits: PluginLimits,
    pub(super) host: Mutex<DetectorHost>,
    /// Scores the batches the plugin fails on; `None` with `fallback = "none"`.
    pub(super) fallback: Option<FallbackDetector>,
    pub(super) trouble: Mutex<Trouble>,
    pub(super) latency: Mutex<Latency>,
    pub(super) calls: AtomicU64,
    pub(super) failures: AtomicU64,
    pub(super) restarts: AtomicU64,
    pub(super) events_scored: AtomicU64,
    /// The snapshots taken for persistence: the last one, the last try, its error.
    pub(super) snapshots: Mutex<Snapshots>,
    /// The instance's linear memory after its latest call, bytes.
    pub(super) memory_bytes: AtomicU64,
}

/// A detector's snapshots for persistence.
#[derive(Default)]
pub(super) struct Snapshots {
    /// Size and time (ms) of the last one taken.
    taken: Option<(usize, i64)>,
    /// When the last one was tried, taken or not: a failed one waits the interval as well, or
    /// a snapshot that traps was retried on every tick (each trap replacing the instance and
    /// rolling its learning back, every second).
    tried_ms: Option<i64>,
    /// Why the last try failed; `None` once one is taken.
    error: Option<String>,
    /// Why the saved snapshot the detector was started with was refused (a plugin whose
    /// state format changed, say): it learns again. Only logged before.
    pub(super) refused: Option<String>,
}

/// The last persisted snapshot.
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotStatus {
    pub bytes: usize,
    pub taken_at: String,
}

/// A detector's state as `/health` and `/api/v1/plugins` report it.
#[derive(Debug, Clone, Serialize)]
pub struct DetectorStatus {
    /// Detector name (from config, else the plugin's own).
    pub name: String,
    /// The plugin's own name.
    pub plugin: String,
    /// Plugin version.
    pub version: String,
    /// The WIT world it implements.
    pub world: &'static str,
    /// `builtin:<name>` or the component's path.
    pub source: String,
    /// SHA-256 of the component.
    pub digest: String,
    /// Anomaly threshold.
    pub threshold: f64,
    /// `ready`, or `failed` while it is in backoff after a batch failed twice (its batches go
    /// to the fallback meanwhile).
    pub state: &'static str,
    pub limits: LimitsStatus,
    /// Score calls made (a retry is a call).
    pub calls: u64,
    /// Calls that failed.
    pub failures: u64,
    /// Instances replaced after a failure.
    pub restarts: u64,
    /// Events it scored.
    pub events_scored: u64,
    /// Batches (and their events) scored by the fallback instead.
    pub fallback_batches: u64,
    pub fallback_events: u64,
    /// `builtin:isolation-forest` or `none`.
    pub fallback: String,
    /// Why the fallback could not start or score the last batch it was given (the batch then
    /// went unscored); `None` until then, and again once it scores.
    pub fallback_error: Option<String>,
    pub latency_ms: LatencyStatus,
    /// The most recent failure, if any, and when.
    pub last_error: Option<String>,
    pub last_failure_at: Option<String>,
    /// While in backoff: milliseconds until it is called again (a duration, as the OpenAPI
    /// document says, not an instant).
    pub backoff_until_ms: Option<u64>,
    pub snapshot: Option<SnapshotStatus>,
    /// Why the last snapshot failed (the store keeps the one before); `None` once one is taken.
    pub snapshot_error: Option<String>,
    /// Why the saved snapshot it was started with was refused, so it learns again from
    /// nothing (not a fault: a plugin upgrade may change its state's format).
    pub restore_error: Option<String>,
    /// Linear memory the instance holds, bytes: what its state and its largest batch needed
    /// (wasm memory grows and is never given back while the instance lives), against
    /// `limits.max_memory_mib`.
    pub memory_bytes: u64,
}

impl DetectorStatus {
    /// Whether something is broken: the plugin in backoff, a fallback that cannot score, or
    /// learned state that cannot be saved.
    pub fn is_broken(&self) -> bool {
        self.state != "ready" || self.fallback_error.is_some() || self.snapshot_error.is_some()
    }
}

impl Slot {
    /// Start the detector of `spec`; its name must differ from those in `taken`.
    pub(super) fn start(engine: &PluginEngine, spec: &DetectorSpec, taken: &[Arc<Slot>]) -> Result<Slot, PluginError> {
        let host = DetectorHost::start(engine, spec)?;
        // Names identify detectors in snapshots and reloads: a name given in the config is
        // the operator's, and one given twice is refused (renamed, it silently became `x#2`);
        // a second unnamed detector of the same plugin is `name#2`, and so on.
        if spec.name.is_some() && taken.iter().any(|s| *s.name == *host.name()) {
            return Err(PluginError::Name {
                source_name: host.source().to_owned(),
                message: format!(
                    "detector name = {:?} is also another detector's: a name identifies a detector's \
                     status and snapshots; give each detector its own name",
                    host.name()
                ),
            });
        }
        let mut name: Arc<str> = Arc::from(host.name());
        let mut n = 1;
        while taken.iter().any(|s| s.name == name) {
            n += 1;
            name = Arc::from(format!("{}#{n}", host.name()));
        }
        let fallback = FallbackDetector::new(engine, spec, &name, &host);
        let memory_bytes = AtomicU64::new(host.memory_bytes() as u64);
        Ok(Slot {
            memory_bytes,
            spec: spec.clone(),
            digest: host.digest().to_owned(),
            name,
            plugin: host.plugin_name().to_owned(),
            version: host.version().to_owned(),
            source: host.source().to_owned(),
            threshold: host.threshold(),
            limits: host.limits(),
            host: Mutex::new(host),
            fallback,
            trouble: Mutex::default(),
            latency: Mutex::default(),
            calls: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            restarts: AtomicU64::new(0),
            events_scored: AtomicU64::new(0),
            snapshots: Mutex::default(),
        })
    }

    /// Take the snapshot to persist, at `now` (ms); with `due_only`, only when the detector's
    /// `snapshot_interval` has passed since the last try. A failure is counted like a failed
    /// call and kept in the status; a trap replaced the instance, which resumed from the last
    /// good snapshot.
    pub(super) fn take_snapshot(&self, now: i64, due_only: bool) -> Option<PluginSnapshot> {
        let mut snapshots = self.snapshots.lock().unwrap_or_else(|p| p.into_inner());
        let interval = self.spec.snapshot_interval;
        let due = interval.is_some_and(|every| {
            snapshots.tried_ms.is_none_or(|at| now.saturating_sub(at) >= every.as_millis() as i64)
        });
        if due_only && !due {
            return None;
        }
        snapshots.tried_ms = Some(now);
        let mut host = self.host();
        match host.snapshot() {
            Ok(state) => {
                snapshots.taken = Some((state.len(), now));
                snapshots.error = None;
                Some(PluginSnapshot {
                    detector: self.name.to_string(),
                    plugin: self.plugin.clone(),
                    version: self.version.clone(),
                    taken_ms: now,
                    state,
                })
            }
            Err(e) => {
                tracing::warn!(detector = %self.name, error = %e, ?interval, "snapshot failed; the store keeps the previous one, tried again after the interval");
                snapshots.error = Some(e.to_string());
                self.record_failure(&e, host.restarts());
                None
            }
        }
    }

    pub(super) fn host(&self) -> std::sync::MutexGuard<'_, DetectorHost> {
        self.host.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Count a failed call in the status: the failure, `restarts` so far, the error and when.
    pub(super) fn record_failure(&self, error: &PluginError, restarts: u64) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        self.restarts.store(restarts, Ordering::Relaxed);
        let mut trouble = self.trouble();
        trouble.last_error = Some(error.to_string());
        trouble.last_failure_ms = Some(jiff::Timestamp::now().as_millisecond());
    }

    pub(super) fn trouble(&self) -> std::sync::MutexGuard<'_, Trouble> {
        self.trouble.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `spec`'s component is still the code this slot runs.
    pub(super) fn same_code(&self, spec: &DetectorSpec) -> bool {
        match &spec.source {
            PluginSource::Builtin(_) => true,
            PluginSource::File(_) => current_digest(&spec.source).as_deref() == Some(self.digest.as_str()),
        }
    }

    /// Score with the plugin (retrying once after a failure) or else with the fallback: who
    /// scored, the threshold their scores are judged by, and the verdicts.
    pub(super) fn score(
        &self,
        batch: &EncodedBatch,
        engine: &PluginEngine,
    ) -> Result<(Arc<str>, f64, Vec<Verdict>), PluginError> {
        let in_backoff = self.trouble().backoff_until.is_some_and(|until| Instant::now() < until);
        if in_backoff {
            return self.score_by_fallback(batch, engine, None);
        }
        let mut host = self.host();
        let mut error = None;
        for _attempt in 0..2 {
            self.calls.fetch_add(1, Ordering::Relaxed);
            let started = Instant::now();
            let result = host.score_encoded(batch);
            self.latency.lock().unwrap_or_else(|p| p.into_inner()).record(started.elapsed());
            self.memory_bytes.store(host.memory_bytes() as u64, Ordering::Relaxed);
            match result {
                Ok(verdicts) => {
                    self.events_scored.fetch_add(batch.len() as u64, Ordering::Relaxed);
                    let mut trouble = self.trouble();
                    trouble.consecutive = 0;
                    trouble.backoff_until = None;
                    return Ok((self.name.clone(), self.threshold, verdicts));
                }
                Err(e) => {
                    // A trap already replaced the instance; bad output did not, but an
                    // instance that broke the contract is not trusted either. An error the
                    // plugin returned leaves it as it is: it is asked once more.
                    let trapped = host.restarts() > self.restarts.load(Ordering::Relaxed);
                    if matches!(e, PluginError::BadOutput { .. }) {
                        host.restart();
                    }
                    if trapped || matches!(e, PluginError::BadOutput { .. }) {
                        tracing::warn!(detector = %self.name, error = %e, "plugin call failed; restarted it from its last snapshot");
                    } else {
                        tracing::warn!(detector = %self.name, error = %e, "plugin call returned an error");
                    }
                    self.record_failure(&e, host.restarts());
                    error = Some(e);
                }
            }
        }
        drop(host);
        {
            let mut trouble = self.trouble();
            trouble.consecutive += 1;
            let backoff = FIRST_BACKOFF.saturating_mul(1 << (trouble.consecutive - 1).min(6)).min(MAX_BACKOFF);
            trouble.backoff_until = Some(Instant::now() + backoff);
            tracing::error!(detector = %self.name, ?backoff, "plugin failed twice on one batch; the fallback scores its batches meanwhile");
        }
        self.score_by_fallback(batch, engine, error)
    }

    fn score_by_fallback(
        &self,
        batch: &EncodedBatch,
        engine: &PluginEngine,
        error: Option<PluginError>,
    ) -> Result<(Arc<str>, f64, Vec<Verdict>), PluginError> {
        let plugin_error = || {
            error.clone().unwrap_or_else(|| PluginError::Call {
                plugin: self.name.to_string(),
                call: "score",
                message: self.trouble().last_error.clone().unwrap_or_else(|| "in backoff".into()),
            })
        };
        let Some(fallback) = &self.fallback else {
            return Err(plugin_error());
        };
        match fallback.score(engine, batch) {
            Ok(verdicts) => Ok((fallback.name().clone(), fallback.threshold(), verdicts)),
            Err(why) => {
                tracing::error!(detector = %self.name, error = %why, "the fallback cannot score either; the batch stays unscored");
                // Both failures, so that whoever gets the error sees why nothing scored.
                Err(match plugin_error() {
                    PluginError::Call { plugin, call, message } => {
                        PluginError::Call { plugin, call, message: format!("{message}; {why}") }
                    }
                    PluginError::BadOutput { plugin, call, message } => {
                        PluginError::BadOutput { plugin, call, message: format!("{message}; {why}") }
                    }
                    other => other,
                })
            }
        }
    }

    pub(super) fn status(&self) -> DetectorStatus {
        let (fallback_batches, fallback_events) = self.fallback.as_ref().map_or((0, 0), FallbackDetector::scored);
        let trouble = self.trouble();
        let now = Instant::now();
        let backoff_left = trouble.backoff_until.and_then(|until| until.checked_duration_since(now));
        let latency = self.latency.lock().unwrap_or_else(|p| p.into_inner());
        let snapshots = self.snapshots.lock().unwrap_or_else(|p| p.into_inner());
        let at = |ms: i64| jiff::Timestamp::from_millisecond(ms).map(|t| t.to_string()).ok();
        DetectorStatus {
            name: self.name.to_string(),
            plugin: self.plugin.clone(),
            version: self.version.clone(),
            world: "detector",
            source: self.source.clone(),
            digest: self.digest.clone(),
            threshold: self.threshold,
            state: if backoff_left.is_some() { "failed" } else { "ready" },
            limits: self.limits.into(),
            calls: self.calls.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            restarts: self.restarts.load(Ordering::Relaxed),
            events_scored: self.events_scored.load(Ordering::Relaxed),
            fallback_batches,
            fallback_events,
            fallback: self.fallback.as_ref().map_or_else(|| "none".into(), FallbackDetector::source),
            fallback_error: self.fallback.as_ref().and_then(FallbackDetector::error),
            latency_ms: latency.status(),
            last_error: trouble.last_error.clone(),
            last_failure_at: trouble.last_failure_ms.and_then(at),
            backoff_until_ms: backoff_left.map(|d| d.as_millis() as u64),
            snapshot: snapshots.taken.and_then(|(bytes, ms)| Some(SnapshotStatus { bytes, taken_at: at(ms)? })),
            snapshot_error: snapshots.error.clone(),
            restore_error: snapshots.refused.clone(),
            memory_bytes: self.memory_bytes.load(Ordering::Relaxed),
        }
    }
}
