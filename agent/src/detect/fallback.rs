//! A detector's fallback: the embedded plugin that scores the batches the detector's own plugin
//! failed on. It runs under limits of its own, never the failed plugin's (a plugin capped at
//! 2 MiB once left its fallback unable to start), and a fallback that cannot start or score is
//! reported in the detector's status rather than only logged.

use super::batch::EncodedBatch;
use super::engine::PluginEngine;
use super::host::{DetectorHost, PreparedDetector, Verdict};
use crate::config::{DetectorSpec, Fallback, PluginLimits, PluginSource};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// The fallback's sandbox: the defaults of `[detectors.limits]` (256 MiB, 5 s, no fuel), under
/// which the embedded isolation forest runs whatever the failed plugin was given.
pub(super) const FALLBACK_LIMITS: PluginLimits =
    PluginLimits { max_memory_bytes: 256 << 20, call_timeout: Duration::from_secs(5), fuel: None };

/// The threshold the fallback's scores are judged by: the default of `[[detectors]]`, the one
/// the builtin forest is tuned for. Not the failed plugin's, which belongs to that plugin's
/// scale (an untrained forest scores ordinary events 0.5 to 0.57: under a plugin's 0.5, one
/// event in eleven was flagged).
pub(super) const FALLBACK_THRESHOLD: f64 = 0.6;

/// The embedded plugin standing in for a detector, started on first need.
pub(super) struct FallbackDetector {
    builtin: &'static str,
    /// `<detector> (fallback)`, the name its verdicts carry.
    name: Arc<str>,
    threshold: f64,
    /// Its component, compiled and linked when the detector starts, so a failing batch never
    /// waits for a compile; `None` when that failed (it is loaded at first need then).
    code: Option<PreparedDetector>,
    /// The instance, started on first need. Not before: an instance's linear memory (~2.5 MiB
    /// for the isolation forest once configured) would be resident all the time for a
    /// fallback that most agents never use. A start that fails is tried again at next need.
    instance: OnceLock<Mutex<DetectorHost>>,
    /// Why it could not start or score the last batch it was given; `None` once it scores.
    error: Mutex<Option<String>>,
    batches: AtomicU64,
    events: AtomicU64,
}

impl FallbackDetector {
    /// The fallback of the detector `name` running `plugin`, as `spec` configures it; `None`
    /// for `fallback = "none"`.
    pub(super) fn new(engine: &PluginEngine, spec: &DetectorSpec, name: &str, plugin: &DetectorHost) -> Option<Self> {
        let Fallback::Builtin(builtin) = spec.fallback else { return None };
        let own_code = matches!(spec.source, PluginSource::Builtin(b) if b == builtin);
        let code = if own_code {
            // The plugin is the fallback's own code (the default detector): share its compiled
            // form rather than map a second copy.
            Some(plugin.prepared())
        } else {
            PreparedDetector::prepare(engine, &PluginSource::Builtin(builtin))
                .inspect_err(|e| {
                    tracing::warn!(detector = %name, error = %e, "the fallback detector cannot be loaded; trying again when it is needed")
                })
                .ok()
        };
        Some(FallbackDetector {
            builtin,
            name: Arc::from(format!("{name} (fallback)")),
            // The same builtin as the plugin: the operator's threshold is on its scale.
            threshold: if own_code { spec.threshold } else { FALLBACK_THRESHOLD },
            code,
            instance: OnceLock::new(),
            error: Mutex::new(None),
            batches: AtomicU64::new(0),
            events: AtomicU64::new(0),
        })
    }

    /// `builtin:<name>`.
    pub(super) fn source(&self) -> String {
        format!("builtin:{}", self.builtin)
    }

    /// The name its verdicts carry.
    pub(super) fn name(&self) -> &Arc<str> {
        &self.name
    }

    /// The threshold its scores are judged by.
    pub(super) fn threshold(&self) -> f64 {
        self.threshold
    }

    /// Score a batch the plugin failed on; the error says why the fallback could not.
    pub(super) fn score(&self, engine: &PluginEngine, batch: &EncodedBatch) -> Result<Vec<Verdict>, String> {
        let result = self.instance(engine).and_then(|host| {
            host.lock().unwrap_or_else(|p| p.into_inner()).score_encoded(batch).map_err(|e| format!("it failed: {e}"))
        });
        let mut error = self.error.lock().unwrap_or_else(|p| p.into_inner());
        match result {
            Ok(verdicts) => {
                *error = None;
                self.batches.fetch_add(1, Ordering::Relaxed);
                self.events.fetch_add(batch.len() as u64, Ordering::Relaxed);
                Ok(verdicts)
            }
            Err(e) => {
                let message = format!("fallback {} {e}", self.source());
                *error = Some(message.clone());
                Err(message)
            }
        }
    }

    /// The instance, started now when it is not yet.
    fn instance(&self, engine: &PluginEngine) -> Result<&Mutex<DetectorHost>, String> {
        if let Some(host) = self.instance.get() {
            return Ok(host);
        }
        let spec = DetectorSpec {
            name: Some(self.name.to_string()),
            source: PluginSource::Builtin(self.builtin),
            threshold: self.threshold,
            limits: FALLBACK_LIMITS,
            config_json: "{}".into(),
            fallback: Fallback::None,
            snapshot_interval: None,
        };
        let host = match &self.code {
            Some(code) => DetectorHost::start_prepared(engine, &spec, code.clone()),
            None => DetectorHost::start(engine, &spec),
        };
        // Two batches may start it at once; one instance is kept.
        host.map(|host| self.instance.get_or_init(|| Mutex::new(host))).map_err(|e| format!("cannot start: {e}"))
    }

    /// Why it could not start or score the last batch it was given.
    pub(super) fn error(&self) -> Option<String> {
        self.error.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Batches and events it scored.
    pub(super) fn scored(&self) -> (u64, u64) {
        (self.batches.load(Ordering::Relaxed), self.events.load(Ordering::Relaxed))
    }

    /// Whether its instance has started, and whether its code is `code`.
    #[cfg(test)]
    pub(super) fn started_and_sharing(&self, code: &PreparedDetector) -> (bool, bool) {
        (self.instance.get().is_some(), self.code.as_ref().is_some_and(|c| c.code() == code.code()))
    }
}
