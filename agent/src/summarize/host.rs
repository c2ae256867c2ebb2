//! One sandboxed summarizer instance: its own wasmtime `Store` with the configured memory
//! cap, a deadline (and optional fuel) on every call, no filesystem, network or environment,
//! and stderr captured for error reports. Built on the detectors' engine, linker,
//! compiled-component cache and [`Sandbox`].

use super::bindings::vigil::plugin::summaries::{Anomaly, Judgements, SummarizerSettings, Window};
use super::bindings::{Summarizer, SummarizerPre};
use super::config::SummarizerSpec;
use crate::config::PluginLimits;
use crate::detect::{EncodedBatch, PluginEngine, PluginError, PluginState, Sandbox, component_bytes, hex_digest};
use wasmtime::Store;

/// Most bytes of a summary's text, its marker included: a longer one is cut (see GUIDE 9.1).
pub const MAX_SUMMARY_TEXT_BYTES: usize = 64 * 1024;

/// Bytes of a summary's `data` (its JSON text, as the plugin returned it) that are kept. A
/// JSON object cannot be cut like a text, so a larger one is replaced by an object that says
/// what was dropped: see [`SummarizerHost::emit`].
pub const MAX_SUMMARY_DATA_BYTES: usize = 256 * 1024;

/// A summary as the plugin returned it (its text capped).
#[derive(Debug, Clone, PartialEq)]
pub struct PluginSummary {
    /// Text for people and for embedding.
    pub text: String,
    /// The structured facts, a JSON object.
    pub data: serde_json::Map<String, serde_json::Value>,
}

/// A detector's judgement of one folded event.
#[derive(Debug, Clone, PartialEq)]
pub struct FoldAnomaly {
    /// Position in the batch.
    pub index: u32,
    /// Stored event id.
    pub event_id: i64,
    /// Score in [0, 1].
    pub score: f32,
    /// Detector that flagged it.
    pub detector: String,
    /// Its reason.
    pub reason: String,
}

/// A running summarizer plugin instance.
pub struct SummarizerHost {
    name: String,
    version: String,
    source: String,
    engine: PluginEngine,
    pre: SummarizerPre<PluginState>,
    limits: PluginLimits,
    window_ms: i64,
    config_json: String,
    sandbox: Sandbox<Summarizer>,
    /// SHA-256 of the component's bytes, hex: a changed file on disk is a changed plugin.
    digest: String,
    /// Instances started after the first, because of traps.
    restarts: u64,
}

impl SummarizerHost {
    /// Load, instantiate and configure the summarizer described by `spec`.
    pub fn start(engine: &PluginEngine, spec: &SummarizerSpec) -> Result<Self, PluginError> {
        let source = spec.source.to_string();
        if spec.limits.fuel.is_some() && !engine.fuel_enabled() {
            return Err(PluginError::Load {
                source_name: source,
                message: "limits.fuel is set, but the agent started without fuel metering \
                          (hint: restart the agent to apply a fuel limit)"
                    .into(),
            });
        }
        let bytes = component_bytes(&spec.source)?;
        let digest = hex_digest(&bytes);
        let pre = engine.instance_pre(&source, "summarizer", &bytes)?;
        let pre = SummarizerPre::new(pre.clone()).map_err(|e| {
            let detector = crate::detect::bindings::DetectorPre::new(pre).is_ok();
            crate::detect::world_error(&source, ("summarizer", "detector"), detector, &e)
        })?;
        let sandbox = Sandbox::new(engine, spec.limits, &source, |store| pre.instantiate(store))?;
        let mut host = SummarizerHost {
            name: source.clone(),
            version: String::new(),
            source,
            engine: engine.clone(),
            pre,
            limits: spec.limits,
            window_ms: spec.window.as_millis() as i64,
            config_json: spec.config_json.clone(),
            sandbox,
            digest,
            restarts: 0,
        };
        host.configure()?;
        if let Some(name) = &spec.name {
            host.name = name.clone();
        }
        Ok(host)
    }

    /// Ask the fresh instance who it is and hand it its config; a trap is not followed by a
    /// restart, which would configure again, without end (see `DetectorHost::configure`).
    fn configure(&mut self) -> Result<(), PluginError> {
        let info = self.sandbox.call(|s, st| s.call_info(st)).map_err(|m| self.call_error("info", m))?;
        if self.name == self.source {
            self.name = info.name;
        }
        self.version = info.version;
        let settings = SummarizerSettings { window_ms: self.window_ms };
        let config = self.config_json.clone();
        self.sandbox
            .call(|s, st| s.call_configure(st, &config, settings))
            .map_err(|m| self.call_error("configure", m))?
            .map_err(|message| PluginError::Config { plugin: self.name.clone(), message })
    }

    /// Name (from config, else from the plugin).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Version, as the plugin reports it.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// `builtin:<name>` or the component's path.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// SHA-256 of the component, hex.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The sandbox limits it runs under.
    pub fn limits(&self) -> PluginLimits {
        self.limits
    }

    /// Instances started after a failure.
    pub fn restarts(&self) -> u64 {
        self.restarts
    }

    /// Bytes of linear memory the instance holds.
    pub fn memory_bytes(&self) -> usize {
        self.sandbox.memory_bytes()
    }

    /// Fold a batch with its scores (-1: not scored) and its anomalies.
    pub fn fold(&mut self, batch: &EncodedBatch, scores: &[f32], anomalies: &[FoldAnomaly]) -> Result<(), PluginError> {
        let anomalies: Vec<Anomaly<'_>> = anomalies
            .iter()
            .map(|a| Anomaly {
                index: a.index,
                event_id: a.event_id,
                score: a.score,
                detector: &a.detector,
                reason: &a.reason,
            })
            .collect();
        let judgements = Judgements { scores, anomalies: &anomalies };
        self.guarded("fold", |s, st| s.call_fold(st, batch.as_wit(), judgements))?
            .map_err(|m| self.call_error("fold", m))
    }

    /// Close the window `[start_ms, end_ms)` and get its summary.
    pub fn emit(&mut self, start_ms: i64, end_ms: i64) -> Result<PluginSummary, PluginError> {
        let window = Window { start_ms, end_ms };
        let out = self.guarded("emit", |s, st| s.call_emit(st, window))?.map_err(|m| self.call_error("emit", m))?;
        if out.data.len() > MAX_SUMMARY_DATA_BYTES {
            // Stored, indexed and served with every summary: a plugin's runaway data (a map
            // of every key it ever saw) would make each `/api/v1/summaries` page megabytes.
            tracing::warn!(summarizer = %self.name, bytes = out.data.len(), "summary data dropped: over its limit");
            let note = format!(
                "the plugin's data was {} bytes of JSON; summary data holds at most {MAX_SUMMARY_DATA_BYTES}, \
                 so it was dropped and only the text kept",
                out.data.len()
            );
            let data = serde_json::Map::from_iter([("cut".to_owned(), serde_json::Value::String(note))]);
            return Ok(PluginSummary { text: self.capped(out.text), data });
        }
        let data = match serde_json::from_str::<serde_json::Value>(&out.data) {
            Ok(serde_json::Value::Object(map)) => map,
            Ok(_) => return Err(self.bad_output("emit", "summary data is JSON but not an object".into())),
            Err(e) => return Err(self.bad_output("emit", format!("summary data is not JSON: {e}"))),
        };
        Ok(PluginSummary { text: self.capped(out.text), data })
    }

    /// `text` cut to [`MAX_SUMMARY_TEXT_BYTES`] at a character boundary, ending with a marker
    /// that says so: every summary is stored, indexed, embedded and served whole.
    fn capped(&self, text: String) -> String {
        if text.len() <= MAX_SUMMARY_TEXT_BYTES {
            return text;
        }
        let marker = format!(
            " [cut: the plugin's text was {} bytes; a summary text holds at most {MAX_SUMMARY_TEXT_BYTES}]",
            text.len()
        );
        tracing::warn!(summarizer = %self.name, bytes = text.len(), "summary text cut to its limit");
        let mut end = MAX_SUMMARY_TEXT_BYTES - marker.len();
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let mut text = text;
        text.truncate(end);
        text.push_str(&marker);
        text
    }

    /// The state kept across windows.
    pub fn snapshot(&mut self) -> Result<Vec<u8>, PluginError> {
        self.guarded("snapshot", |s, st| s.call_snapshot(st))
    }

    /// Restore a state from [`SummarizerHost::snapshot`].
    pub fn restore(&mut self, state: &[u8]) -> Result<(), PluginError> {
        self.guarded("restore", |s, st| s.call_restore(st, state))?.map_err(|m| self.call_error("restore", m))
    }

    /// Run one call in the sandbox. A trap leaves the instance unusable, so it is replaced by
    /// a fresh, configured one before the error is returned; the caller restores the last
    /// snapshot into it.
    fn guarded<R>(
        &mut self,
        call: &'static str,
        f: impl FnOnce(&Summarizer, &mut Store<PluginState>) -> wasmtime::Result<R>,
    ) -> Result<R, PluginError> {
        self.sandbox.call(f).map_err(|message| {
            let error = self.call_error(call, message);
            self.reinstantiate();
            error
        })
    }

    fn reinstantiate(&mut self) {
        let name = self.name.clone();
        let pre = &self.pre;
        match Sandbox::new(&self.engine, self.limits, &self.source, |store| pre.instantiate(store)) {
            Ok(sandbox) => {
                self.sandbox = sandbox;
                self.restarts += 1;
                if let Err(e) = self.configure() {
                    tracing::error!(plugin = %name, error = %e, "restarted summarizer refused its config");
                }
                // `configure` may have put the plugin's own name back; keep the configured one.
                self.name = name;
            }
            Err(e) => tracing::error!(plugin = %self.name, error = %e, "cannot restart summarizer"),
        }
    }

    fn call_error(&self, call: &'static str, message: String) -> PluginError {
        PluginError::Call { plugin: self.name.clone(), call, message }
    }

    fn bad_output(&self, call: &'static str, message: String) -> PluginError {
        PluginError::BadOutput { plugin: self.name.clone(), call, message }
    }
}
