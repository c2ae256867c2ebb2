//! Every configured detector, scoring a batch together: an event's anomaly score is the
//! highest any detector gives it, and it is an anomaly when some detector's score reaches
//! that detector's threshold.
//!
//! The set also runs each plugin's life: a call that fails (trap, deadline, out of memory,
//! out of fuel, an error, or output that breaks the contract) restarts the instance from its
//! last snapshot and retries the batch once; if the retry fails too, the batch is scored by
//! the detector's fallback (the embedded isolation forest unless `fallback = "none"`) and the
//! plugin is left alone for a backoff that doubles with each failed batch (1 s up to 60 s).
//! No event goes unstored because of a plugin: when nothing could score it, it is stored
//! unscored. A new config swaps the set's detectors in one step ([`DetectorSet::reconfigure`]);
//! batches being scored finish with the detectors they started with.

use super::batch::EncodedBatch;
use super::engine::PluginEngine;
use super::error::PluginError;
use super::host::{DetectorHost, PreparedDetector, Verdict, current_digest};
use super::stats::{Latency, LatencyStatus, LimitsStatus};
use crate::config::{DetectorSpec, Fallback, PluginLimits, PluginSource};
use crate::event::Event;
use crate::store::PluginSnapshot;
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

/// The combined judgement of one event.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// Highest score over all detectors.
    pub score: f32,
    /// Whether some detector's score reached its threshold.
    pub anomalous: bool,
    /// Name of the detector that gave the highest score.
    pub detector: Arc<str>,
    /// That detector's reason.
    pub reason: String,
}

/// Most events in one plugin call. A call's batch is copied into the plugin's linear memory,
/// which wasm never gives back: a file source's submission of 1 MiB of lines (~6,700 events)
/// in one call left the forest at twice the memory. At 1,000 events the boundary costs under
/// 0.2 µs an event (`wasm_boundary` bench).
pub const MAX_CALL_EVENTS: usize = 1_024;

/// First backoff after a batch that failed twice; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// What went wrong lately, and until when the plugin is left alone.
#[derive(Default)]
struct Trouble {
    /// Batches in a row that failed even after the retry.
    consecutive: u32,
    backoff_until: Option<Instant>,
    last_error: Option<String>,
    last_failure_ms: Option<i64>,
}

struct Slot {
    spec: DetectorSpec,
    digest: String,
    name: Arc<str>,
    fallback_name: Arc<str>,
    plugin: String,
    version: String,
    source: String,
    threshold: f64,
    limits: PluginLimits,
    host: Mutex<DetectorHost>,
    /// The fallback's component, compiled and linked when the slot starts, so a failing batch
    /// never waits for a compile; `None` without a fallback, or when that failed (it is tried
    /// again at first need).
    fallback_code: Option<PreparedDetector>,
    /// The fallback instance, started from `fallback_code` on first need. Not before: an
    /// instance's linear memory (~2.5 MiB for the isolation forest once configured) would be
    /// resident all the time for a fallback that most agents never use.
    fallback: OnceLock<Result<Mutex<DetectorHost>, PluginError>>,
    trouble: Mutex<Trouble>,
    latency: Mutex<Latency>,
    calls: AtomicU64,
    failures: AtomicU64,
    restarts: AtomicU64,
    events_scored: AtomicU64,
    fallback_batches: AtomicU64,
    fallback_events: AtomicU64,
    /// Size and time of the last snapshot taken for persistence.
    snapshot: Mutex<Option<(usize, i64)>>,
    /// The instance's linear memory after its latest call, bytes.
    memory_bytes: AtomicU64,
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
    pub latency_ms: LatencyStatus,
    /// The most recent failure, if any, and when.
    pub last_error: Option<String>,
    pub last_failure_at: Option<String>,
    /// While in backoff: milliseconds until it is called again (a duration, as the OpenAPI
    /// document says, not an instant).
    pub backoff_until_ms: Option<u64>,
    pub snapshot: Option<SnapshotStatus>,
    /// Linear memory the instance holds, bytes: what its state and its largest batch needed
    /// (wasm memory grows and is never given back while the instance lives), against
    /// `limits.max_memory_mib`.
    pub memory_bytes: u64,
}

/// All detectors of the running config.
pub struct DetectorSet {
    engine: PluginEngine,
    slots: RwLock<Arc<Vec<Arc<Slot>>>>,
}

impl DetectorSet {
    /// Start every detector of the config; the first that fails to start fails the set.
    pub fn start(engine: &PluginEngine, specs: &[DetectorSpec]) -> Result<Self, PluginError> {
        Self::start_from(engine, specs, &[])
    }

    /// Start every detector and resume each from its saved snapshot, when it has one taken by
    /// the same plugin. A snapshot the plugin refuses is skipped with a warning: the detector
    /// learns again rather than not starting.
    pub fn start_from(
        engine: &PluginEngine,
        specs: &[DetectorSpec],
        saved: &[PluginSnapshot],
    ) -> Result<Self, PluginError> {
        let mut slots: Vec<Arc<Slot>> = Vec::with_capacity(specs.len());
        for spec in specs {
            let slot = Slot::start(engine, spec, &slots)?;
            if let Some(snapshot) = saved.iter().find(|s| *s.detector == *slot.name && s.plugin == slot.plugin) {
                let mut host = slot.host();
                match host.restore(&snapshot.state) {
                    Ok(()) => {
                        tracing::info!(detector = %slot.name, bytes = snapshot.state.len(), "resumed from its snapshot")
                    }
                    Err(e) => {
                        tracing::warn!(detector = %slot.name, error = %e, "saved snapshot refused; learning again")
                    }
                }
            }
            slots.push(Arc::new(slot));
        }
        Ok(DetectorSet { engine: engine.clone(), slots: RwLock::new(Arc::new(slots)) })
    }

    fn current(&self) -> Arc<Vec<Arc<Slot>>> {
        self.slots.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Number of detectors.
    pub fn len(&self) -> usize {
        self.current().len()
    }

    /// Whether the set has no detector (never true for a started set).
    pub fn is_empty(&self) -> bool {
        self.current().is_empty()
    }

    /// Score a batch with every detector, [`MAX_CALL_EVENTS`] events per plugin call at
    /// most. Blocking: call it off the async runtime for big batches. Fails only when no
    /// detector (nor its fallback) could score some part of the batch.
    pub fn score<E: AsRef<Event>>(&self, events: &[E]) -> Result<Vec<Scored>, PluginError> {
        if events.len() <= MAX_CALL_EVENTS {
            return self.score_part(events);
        }
        let mut scored = Vec::with_capacity(events.len());
        for part in events.chunks(MAX_CALL_EVENTS) {
            scored.extend(self.score_part(part)?);
        }
        Ok(scored)
    }

    fn score_part<E: AsRef<Event>>(&self, events: &[E]) -> Result<Vec<Scored>, PluginError> {
        let batch = EncodedBatch::encode(events)?;
        let slots = self.current();
        let mut combined: Vec<Scored> = events
            .iter()
            .map(|_| Scored { score: 0.0, anomalous: false, detector: Arc::from(""), reason: String::new() })
            .collect();
        let mut scored_by_any = false;
        let mut last_error = None;
        for slot in slots.iter() {
            let (name, verdicts) = match slot.score(&batch, &self.engine) {
                Ok(scored) => scored,
                Err(e) => {
                    last_error = Some(e);
                    continue;
                }
            };
            for (out, verdict) in combined.iter_mut().zip(verdicts) {
                // The event is told by a detector that flagged it, the highest scoring one;
                // failing any, by the highest score. (`out.anomalous` is whether the verdict
                // kept so far flagged it.) A higher score under its own detector's threshold
                // once took the place of the flagging detector's score and reason.
                let flags = f64::from(verdict.score) >= slot.threshold;
                if !scored_by_any || (flags, verdict.score) > (out.anomalous, out.score) {
                    out.score = verdict.score;
                    out.detector = name.clone();
                    out.reason = verdict.reason;
                }
                out.anomalous |= flags;
            }
            scored_by_any = true;
        }
        match (scored_by_any, last_error) {
            (false, Some(e)) => Err(e),
            _ => Ok(combined),
        }
    }

    /// For tests, per detector: whether its fallback instance has started, and whether the
    /// fallback's code is the detector's own compiled code.
    #[cfg(test)]
    pub(super) fn fallbacks(&self) -> Vec<(bool, bool)> {
        self.current()
            .iter()
            .map(|slot| {
                let shared =
                    slot.fallback_code.as_ref().is_some_and(|code| code.code() == slot.host().prepared().code());
                (slot.fallback.get().is_some(), shared)
            })
            .collect()
    }

    /// The detectors' names joined by `+` (`a+b`): the `plugin` label of a call of the set.
    pub fn label(&self) -> String {
        let slots = self.current();
        let names: Vec<&str> = slots.iter().map(|s| &*s.name).collect();
        names.join("+")
    }

    /// Each detector's status.
    pub fn status(&self) -> Vec<DetectorStatus> {
        self.current().iter().map(|s| s.status()).collect()
    }

    /// Take every detector's snapshot, for persistence (with `due_only`, only those whose
    /// `snapshot_interval_secs` has passed since their last one). A detector that fails to
    /// give one is skipped (and logged); the others are still returned.
    pub fn snapshots(&self, due_only: bool) -> Vec<PluginSnapshot> {
        let now = jiff::Timestamp::now().as_millisecond();
        let mut out = Vec::new();
        for slot in self.current().iter() {
            if due_only {
                let last = slot.snapshot.lock().unwrap_or_else(|p| p.into_inner()).map(|(_, at)| at);
                let due = slot
                    .spec
                    .snapshot_interval
                    .is_some_and(|every| last.is_none_or(|at| now.saturating_sub(at) >= every.as_millis() as i64));
                if !due {
                    continue;
                }
            }
            let state = slot.host().snapshot();
            match state {
                Ok(state) => {
                    *slot.snapshot.lock().unwrap_or_else(|p| p.into_inner()) = Some((state.len(), now));
                    out.push(PluginSnapshot {
                        detector: slot.name.to_string(),
                        plugin: slot.plugin.clone(),
                        version: slot.version.clone(),
                        taken_ms: now,
                        state,
                    });
                }
                Err(e) => {
                    tracing::warn!(detector = %slot.name, error = %e, "snapshot failed; keeping the previous one");
                    // A failure like any other in the detector's status (a trap restarted it).
                    slot.record_failure(&e, slot.host().restarts());
                }
            }
        }
        out
    }

    /// Whether `specs` would change anything: a detector added, removed or reconfigured, or
    /// the component file of one changed on disk.
    pub fn differs_from(&self, specs: &[DetectorSpec]) -> bool {
        let slots = self.current();
        slots.len() != specs.len()
            || slots.iter().zip(specs).any(|(slot, spec)| slot.spec != *spec || !slot.same_code(spec))
    }

    /// Apply a new list of detectors. Unchanged detectors (same settings, same component
    /// bytes) keep running untouched; a changed one is started anew and, when it is the same
    /// plugin, resumes the old one's learned state (snapshot → restore; a plugin that refuses
    /// the state, e.g. because its config changed incompatibly, starts fresh). If any new
    /// detector fails to start, nothing changes and the error is returned. Returns what
    /// changed, worded for the operator.
    pub fn reconfigure(&self, specs: &[DetectorSpec]) -> Result<Vec<String>, PluginError> {
        let old = self.current();
        let mut changes = Vec::new();
        let mut slots: Vec<Arc<Slot>> = Vec::with_capacity(specs.len());
        let mut kept = vec![false; old.len()];
        for spec in specs {
            let unchanged = old.iter().enumerate().find(|(i, o)| {
                !kept[*i] && o.spec == *spec && o.same_code(spec) && !slots.iter().any(|s| s.name == o.name)
            });
            if let Some((i, slot)) = unchanged {
                kept[i] = true;
                slots.push(slot.clone());
                continue;
            }
            let slot = Slot::start(&self.engine, spec, &slots)?;
            let predecessor = old.iter().enumerate().find(|(i, o)| !kept[*i] && o.name == slot.name);
            match predecessor {
                Some((i, previous)) if previous.plugin == slot.plugin => {
                    kept[i] = true;
                    let state = previous.host().snapshot();
                    let resumed = state.and_then(|state| slot.host().restore(&state));
                    changes.push(match resumed {
                        Ok(()) => format!("detector {} restarted with its learned state", slot.name),
                        Err(e) => format!("detector {} restarted fresh (its state was not kept: {e})", slot.name),
                    });
                }
                Some((i, _)) => {
                    kept[i] = true;
                    changes.push(format!("detector {} replaced by plugin {} {}", slot.name, slot.plugin, slot.version));
                }
                None => changes.push(format!("detector {} started ({} {})", slot.name, slot.plugin, slot.version)),
            }
            slots.push(Arc::new(slot));
        }
        for (slot, kept) in old.iter().zip(kept) {
            if !kept {
                changes.push(format!("detector {} stopped", slot.name));
            }
        }
        *self.slots.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(slots);
        Ok(changes)
    }
}

impl Slot {
    /// Start the detector of `spec`; its name must differ from those in `taken`.
    fn start(engine: &PluginEngine, spec: &DetectorSpec, taken: &[Arc<Slot>]) -> Result<Slot, PluginError> {
        let host = DetectorHost::start(engine, spec)?;
        // Names identify detectors in snapshots and reloads: a second detector of the same
        // name is `name#2`, and so on.
        let mut name: Arc<str> = Arc::from(host.name());
        let mut n = 1;
        while taken.iter().any(|s| s.name == name) {
            n += 1;
            name = Arc::from(format!("{}#{n}", host.name()));
        }
        let fallback_code = match spec.fallback {
            // The plugin is the fallback's own code (the default detector): share its
            // compiled form rather than map a second copy.
            Fallback::Builtin(builtin) if matches!(spec.source, PluginSource::Builtin(b) if b == builtin) => {
                Some(host.prepared())
            }
            Fallback::Builtin(builtin) => PreparedDetector::prepare(engine, &PluginSource::Builtin(builtin))
                .inspect_err(|e| {
                    tracing::warn!(detector = %name, error = %e, "the fallback detector cannot be loaded; trying again when it is needed")
                })
                .ok(),
            Fallback::None => None,
        };
        let memory_bytes = AtomicU64::new(host.memory_bytes() as u64);
        Ok(Slot {
            memory_bytes,
            spec: spec.clone(),
            digest: host.digest().to_owned(),
            fallback_name: Arc::from(format!("{name} (fallback)")),
            name,
            plugin: host.plugin_name().to_owned(),
            version: host.version().to_owned(),
            source: host.source().to_owned(),
            threshold: host.threshold(),
            limits: host.limits(),
            host: Mutex::new(host),
            fallback_code,
            fallback: OnceLock::new(),
            trouble: Mutex::default(),
            latency: Mutex::default(),
            calls: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            restarts: AtomicU64::new(0),
            events_scored: AtomicU64::new(0),
            fallback_batches: AtomicU64::new(0),
            fallback_events: AtomicU64::new(0),
            snapshot: Mutex::new(None),
        })
    }

    fn start_fallback(&self, engine: &PluginEngine, builtin: &'static str) -> Result<Mutex<DetectorHost>, PluginError> {
        let spec = DetectorSpec {
            name: Some(self.fallback_name.to_string()),
            source: PluginSource::Builtin(builtin),
            threshold: self.threshold,
            limits: PluginLimits { fuel: None, ..self.limits },
            config_json: "{}".into(),
            fallback: Fallback::None,
            snapshot_interval: None,
        };
        let host = match &self.fallback_code {
            Some(code) => DetectorHost::start_prepared(engine, &spec, code.clone()),
            None => DetectorHost::start(engine, &spec),
        };
        host.map(Mutex::new)
    }

    fn host(&self) -> std::sync::MutexGuard<'_, DetectorHost> {
        self.host.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Count a failed call in the status: the failure, `restarts` so far, the error and when.
    fn record_failure(&self, error: &PluginError, restarts: u64) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        self.restarts.store(restarts, Ordering::Relaxed);
        let mut trouble = self.trouble();
        trouble.last_error = Some(error.to_string());
        trouble.last_failure_ms = Some(jiff::Timestamp::now().as_millisecond());
    }

    fn trouble(&self) -> std::sync::MutexGuard<'_, Trouble> {
        self.trouble.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `spec`'s component is still the code this slot runs.
    fn same_code(&self, spec: &DetectorSpec) -> bool {
        match &spec.source {
            PluginSource::Builtin(_) => true,
            PluginSource::File(_) => current_digest(&spec.source).as_deref() == Some(self.digest.as_str()),
        }
    }

    /// Score with the plugin (retrying once after a failure) or else with the fallback.
    fn score(&self, batch: &EncodedBatch, engine: &PluginEngine) -> Result<(Arc<str>, Vec<Verdict>), PluginError> {
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
                    return Ok((self.name.clone(), verdicts));
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
    ) -> Result<(Arc<str>, Vec<Verdict>), PluginError> {
        let unavailable = |error: Option<PluginError>| {
            error.unwrap_or_else(|| PluginError::Call {
                plugin: self.name.to_string(),
                call: "score",
                message: self.trouble().last_error.clone().unwrap_or_else(|| "in backoff".into()),
            })
        };
        let Fallback::Builtin(builtin) = self.spec.fallback else {
            return Err(unavailable(error));
        };
        let fallback = self.fallback.get_or_init(|| self.start_fallback(engine, builtin));
        let fallback = match fallback {
            Ok(host) => host,
            Err(e) => {
                tracing::error!(detector = %self.name, error = %e, "the fallback detector cannot start");
                return Err(unavailable(error));
            }
        };
        let verdicts = fallback.lock().unwrap_or_else(|p| p.into_inner()).score_encoded(batch);
        match verdicts {
            Ok(verdicts) => {
                self.fallback_batches.fetch_add(1, Ordering::Relaxed);
                self.fallback_events.fetch_add(batch.len() as u64, Ordering::Relaxed);
                Ok((self.fallback_name.clone(), verdicts))
            }
            Err(e) => {
                tracing::error!(detector = %self.name, error = %e, "the fallback failed too; the batch stays unscored");
                Err(unavailable(error))
            }
        }
    }

    fn status(&self) -> DetectorStatus {
        let trouble = self.trouble();
        let now = Instant::now();
        let backoff_left = trouble.backoff_until.and_then(|until| until.checked_duration_since(now));
        let latency = self.latency.lock().unwrap_or_else(|p| p.into_inner());
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
            fallback_batches: self.fallback_batches.load(Ordering::Relaxed),
            fallback_events: self.fallback_events.load(Ordering::Relaxed),
            fallback: match self.spec.fallback {
                Fallback::Builtin(name) => format!("builtin:{name}"),
                Fallback::None => "none".into(),
            },
            latency_ms: latency.status(),
            last_error: trouble.last_error.clone(),
            last_failure_at: trouble.last_failure_ms.and_then(at),
            backoff_until_ms: backoff_left.map(|d| d.as_millis() as u64),
            snapshot: self
                .snapshot
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .and_then(|(bytes, ms)| Some(SnapshotStatus { bytes, taken_at: at(ms)? })),
            memory_bytes: self.memory_bytes.load(Ordering::Relaxed),
        }
    }
}
