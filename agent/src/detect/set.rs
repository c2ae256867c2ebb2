//! Every configured detector, scoring a batch together: an event's anomaly score is the
//! highest any detector gives it, and it is an anomaly when some detector's score reaches
//! that detector's threshold.
//!
//! The set also runs each plugin's life: a call that fails (trap, deadline, out of memory,
//! out of fuel, an error, or output that breaks the contract) restarts the instance from its
//! last snapshot and retries the batch once; if the retry fails too, the batch is scored by
//! the detector's fallback (the embedded isolation forest unless `fallback = "none"`, under
//! limits of its own: see [`super::fallback`]) and the plugin is left alone for a backoff that
//! doubles with each failed batch (1 s up to 60 s). When nothing could score a batch,
//! [`DetectorSet::score`] fails: the pipeline then stores the events of sources and
//! `/ws/application` unscored, while `POST /anomaly_detection`, whose answer must give each
//! anomaly its score, refuses the request whole (503) and stores nothing of it, so resending it
//! duplicates nothing. Either way nothing accepted is lost. A new config swaps the set's
//! detectors in one step ([`DetectorSet::reconfigure`]); batches being scored finish with the
//! detectors they started with.

use super::batch::EncodedBatch;
use super::engine::PluginEngine;
use super::error::PluginError;
use super::slot::{DetectorStatus, Slot};
use crate::config::DetectorSpec;
use crate::event::Event;
use crate::store::PluginSnapshot;
use std::sync::{Arc, RwLock};

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

/// What `vigil validate` reports of `specs`: each detector that starts (`name version`), and
/// every one that does not, each named by its place in the config (`detectors[1] (web):
/// plugin probe: config refused: ...`), not only the first.
pub fn validate(engine: &PluginEngine, specs: &[DetectorSpec]) -> (Vec<String>, Vec<String>) {
    let (started, refused) = refusals(engine, specs);
    let problems = refused
        .into_iter()
        .map(|(at, e)| {
            let name = specs[at].name.as_ref().map(|name| format!(" ({name})")).unwrap_or_default();
            format!("detectors[{at}]{name}: {e}")
        })
        .collect();
    (started, problems)
}

/// [`validate`] with each refusal as its index in `specs` and the error, for `vigil validate`
/// to place in the config file.
pub fn refusals(engine: &PluginEngine, specs: &[DetectorSpec]) -> (Vec<String>, Vec<(usize, PluginError)>) {
    let mut started: Vec<Arc<Slot>> = Vec::with_capacity(specs.len());
    let mut problems = Vec::new();
    for (at, spec) in specs.iter().enumerate() {
        match Slot::start(engine, spec, &started) {
            Ok(slot) => started.push(Arc::new(slot)),
            Err(e) => problems.push((at, e)),
        }
    }
    (started.iter().map(|slot| format!("{} {}", slot.name, slot.version)).collect(), problems)
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
                let restored = slot.host().restore(&snapshot.state);
                match restored {
                    Ok(()) => {
                        tracing::info!(detector = %slot.name, bytes = snapshot.state.len(), "resumed from its snapshot")
                    }
                    Err(e) => {
                        tracing::warn!(detector = %slot.name, error = %e, "saved snapshot refused; learning again");
                        slot.snapshots.lock().unwrap_or_else(|p| p.into_inner()).refused = Some(e.to_string());
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
            let (name, threshold, verdicts) = match slot.score(&batch, &self.engine) {
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
                let flags = f64::from(verdict.score) >= threshold;
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
                slot.fallback.as_ref().map_or((false, false), |f| f.started_and_sharing(&slot.host().prepared()))
            })
            .collect()
    }

    /// The detectors' names joined by `+` (`a+b`): the `plugin` label of a call of the set.
    pub fn label(&self) -> String {
        let mut label = String::new();
        for slot in self.current().iter() {
            if !label.is_empty() {
                label.push('+');
            }
            label.push_str(&slot.name);
        }
        label
    }

    /// Each detector's status.
    pub fn status(&self) -> Vec<DetectorStatus> {
        self.current().iter().map(|s| s.status()).collect()
    }

    /// Take every detector's snapshot, for persistence (with `due_only`, only those whose
    /// `snapshot_interval_secs` has passed since their last try: a failed one waits as long).
    /// A detector that fails to give one is skipped (logged, and in its status); the others
    /// are still returned.
    pub fn snapshots(&self, due_only: bool) -> Vec<PluginSnapshot> {
        let now = jiff::Timestamp::now().as_millisecond();
        self.current().iter().filter_map(|slot| slot.take_snapshot(now, due_only)).collect()
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
    /// detector fails to start, nothing changes and the error is returned with the index of
    /// its spec. Returns what changed, worded for the operator.
    pub fn reconfigure(&self, specs: &[DetectorSpec]) -> Result<Vec<String>, (usize, PluginError)> {
        let old = self.current();
        let mut changes = Vec::new();
        let mut slots: Vec<Arc<Slot>> = Vec::with_capacity(specs.len());
        let mut kept = vec![false; old.len()];
        for (at, spec) in specs.iter().enumerate() {
            let unchanged = old.iter().enumerate().find(|(i, o)| {
                !kept[*i] && o.spec == *spec && o.same_code(spec) && !slots.iter().any(|s| s.name == o.name)
            });
            if let Some((i, slot)) = unchanged {
                kept[i] = true;
                slots.push(slot.clone());
                continue;
            }
            let slot = Slot::start(&self.engine, spec, &slots).map_err(|e| (at, e))?;
            let predecessor = old.iter().enumerate().find(|(i, o)| !kept[*i] && o.name == slot.name);
            match predecessor {
                Some((i, previous)) if previous.plugin == slot.plugin => {
                    kept[i] = true;
                    let mut previous = previous.host();
                    let change = match previous.snapshot() {
                        Ok(state) => match slot.host().restore(&state) {
                            Ok(()) => format!("detector {} restarted with its learned state", slot.name),
                            Err(e) => format!("detector {} restarted fresh (its state was not kept: {e})", slot.name),
                        },
                        // The state it has now cannot be taken: the last good one (saved, or
                        // restored at start) is better than none.
                        Err(e) => match previous.last_snapshot().map(|state| slot.host().restore(state)) {
                            Some(Ok(())) => format!(
                                "detector {} restarted from its last good snapshot (its current state could not be taken: {e})",
                                slot.name
                            ),
                            Some(Err(refused)) => format!(
                                "detector {} restarted fresh (its state could not be taken: {e}; its last good snapshot was refused: {refused})",
                                slot.name
                            ),
                            None => {
                                format!("detector {} restarted fresh (its state could not be taken: {e})", slot.name)
                            }
                        },
                    };
                    changes.push(change);
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
