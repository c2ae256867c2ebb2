//! Every configured detector, scoring a batch together: an event's anomaly score is the
//! highest any detector gives it, and it is an anomaly when some detector's score reaches
//! that detector's threshold.

use super::batch::EncodedBatch;
use super::engine::PluginEngine;
use super::error::PluginError;
use super::host::DetectorHost;
use crate::config::DetectorSpec;
use crate::event::Event;
use serde::Serialize;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The combined judgement of one event.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// Highest score over all detectors.
    pub score: f32,
    /// Whether some detector's score reached its threshold.
    pub anomalous: bool,
    /// Name of the detector that gave the highest score.
    pub detector: usize,
    /// That detector's reason.
    pub reason: String,
}

struct Slot {
    host: Mutex<DetectorHost>,
    name: String,
    version: String,
    source: String,
    threshold: f64,
    calls: AtomicU64,
    failures: AtomicU64,
    /// Whether the most recent call failed.
    failing: AtomicBool,
    last_error: Mutex<Option<String>>,
}

/// A detector's state as `/health` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct DetectorStatus {
    /// Detector name.
    pub name: String,
    /// Plugin version.
    pub version: String,
    /// `builtin:<name>` or the component's path.
    pub source: String,
    /// Anomaly threshold.
    pub threshold: f64,
    /// `ready`, or `failing` while its most recent call failed.
    pub state: &'static str,
    /// Score calls made.
    pub calls: u64,
    /// Calls that failed.
    pub failures: u64,
    /// The most recent failure, if any.
    pub last_error: Option<String>,
}

/// All detectors of the running config.
pub struct DetectorSet {
    slots: Vec<Slot>,
}

impl DetectorSet {
    /// Start every detector of the config; the first that fails to start fails the set.
    pub fn start(engine: &PluginEngine, specs: &[DetectorSpec]) -> Result<Self, PluginError> {
        let slots = specs
            .iter()
            .map(|spec| {
                let host = DetectorHost::start(engine, spec)?;
                Ok(Slot {
                    name: host.name().to_owned(),
                    version: host.version().to_owned(),
                    source: host.source().to_owned(),
                    threshold: host.threshold(),
                    host: Mutex::new(host),
                    calls: AtomicU64::new(0),
                    failures: AtomicU64::new(0),
                    failing: AtomicBool::new(false),
                    last_error: Mutex::new(None),
                })
            })
            .collect::<Result<_, PluginError>>()?;
        Ok(DetectorSet { slots })
    }

    /// Name of detector `index`.
    pub fn name(&self, index: usize) -> &str {
        &self.slots[index].name
    }

    /// Score a batch with every detector. Blocking: call it off the async runtime for big batches.
    pub fn score<E: AsRef<Event>>(&self, events: &[E]) -> Result<Vec<Scored>, PluginError> {
        let batch = EncodedBatch::encode(events)?;
        let mut combined: Vec<Scored> = events
            .iter()
            .map(|_| Scored { score: 0.0, anomalous: false, detector: 0, reason: String::new() })
            .collect();
        for (index, slot) in self.slots.iter().enumerate() {
            slot.calls.fetch_add(1, Ordering::Relaxed);
            let result = slot.host.lock().unwrap_or_else(|p| p.into_inner()).score_encoded(&batch);
            slot.failing.store(result.is_err(), Ordering::Relaxed);
            let verdicts = result.inspect_err(|e| {
                slot.failures.fetch_add(1, Ordering::Relaxed);
                *slot.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
            })?;
            for (out, verdict) in combined.iter_mut().zip(verdicts) {
                out.anomalous |= f64::from(verdict.score) >= slot.threshold;
                if index == 0 || verdict.score > out.score {
                    out.score = verdict.score;
                    out.detector = index;
                    out.reason = verdict.reason;
                }
            }
        }
        Ok(combined)
    }

    /// Each detector's status.
    pub fn status(&self) -> Vec<DetectorStatus> {
        self.slots
            .iter()
            .map(|s| DetectorStatus {
                name: s.name.clone(),
                version: s.version.clone(),
                source: s.source.clone(),
                threshold: s.threshold,
                state: if s.failing.load(Ordering::Relaxed) { "failing" } else { "ready" },
                calls: s.calls.load(Ordering::Relaxed),
                failures: s.failures.load(Ordering::Relaxed),
                last_error: s.last_error.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            })
            .collect()
    }
}
