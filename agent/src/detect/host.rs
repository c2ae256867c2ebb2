//! One sandboxed detector instance: its own wasmtime `Store` with a memory cap, a deadline on
//! every call, no filesystem, network or environment, and stderr captured for error reports.

use super::batch::EncodedBatch;
use super::bindings::{self, Detector, DetectorPre};
use super::engine::{PluginEngine, PluginState};
use super::error::PluginError;
use super::sandbox::Sandbox;
use crate::config::{DetectorSpec, PluginLimits, PluginSource};
use crate::event::Event;
use wasmtime::Store;

/// A detector's judgement of one event, as the host keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// Anomaly score in [0, 1].
    pub score: f32,
    /// Why, when the plugin says.
    pub reason: String,
}

/// A running detector plugin instance.
pub struct DetectorHost {
    name: String,
    plugin_name: String,
    version: String,
    /// The component this instance runs (and restarts from): its source, digest and code.
    code: PreparedDetector,
    engine: PluginEngine,
    limits: PluginLimits,
    threshold: f64,
    config_json: String,
    sandbox: Sandbox<Detector>,
    /// The most recent learned state (taken by `snapshot` or given to `restore`): a restarted
    /// instance resumes from it.
    last_snapshot: Option<Vec<u8>>,
    /// Instances started after the first, because of traps or bad output.
    restarts: u64,
}

/// A detector's component compiled (or loaded from the cache) and linked, not yet
/// instantiated. Clones share the compiled code: a second instance of the same component
/// (a fallback, a restart) maps it once.
#[derive(Clone)]
pub(crate) struct PreparedDetector {
    source: String,
    /// SHA-256 of the component's bytes, hex: a changed file on disk is a changed plugin.
    digest: String,
    pre: DetectorPre<PluginState>,
}

impl PreparedDetector {
    /// Compile (or load from the cache) and link the component of `source`.
    pub(crate) fn prepare(engine: &PluginEngine, source: &PluginSource) -> Result<Self, PluginError> {
        let name = source.to_string();
        let bytes = component_bytes(source)?;
        let digest = hex_digest(&bytes);
        let pre = engine.prepare(&name, &bytes)?;
        Ok(PreparedDetector { source: name, digest, pre })
    }

    /// Where the compiled code is mapped: equal for components that share it.
    #[cfg(test)]
    pub(super) fn code(&self) -> std::ops::Range<*const u8> {
        self.pre.instance_pre().component().image_range()
    }
}

impl DetectorHost {
    /// Load, instantiate and configure the detector described by `spec`.
    pub fn start(engine: &PluginEngine, spec: &DetectorSpec) -> Result<Self, PluginError> {
        Self::start_prepared(engine, spec, PreparedDetector::prepare(engine, &spec.source)?)
    }

    /// Instantiate and configure `prepared` (the component of `spec.source`) as `spec` says.
    pub(crate) fn start_prepared(
        engine: &PluginEngine,
        spec: &DetectorSpec,
        prepared: PreparedDetector,
    ) -> Result<Self, PluginError> {
        check_fuel(engine, spec)?;
        let sandbox = Sandbox::new(engine, spec.limits, &prepared.source, |store| prepared.pre.instantiate(store))?;
        let mut host = DetectorHost {
            name: prepared.source.clone(),
            plugin_name: String::new(),
            version: String::new(),
            code: prepared,
            engine: engine.clone(),
            limits: spec.limits,
            threshold: spec.threshold,
            config_json: spec.config_json.clone(),
            sandbox,
            last_snapshot: None,
            restarts: 0,
        };
        host.configure()?;
        if let Some(name) = &spec.name {
            host.name = name.clone();
        }
        if let Some(message) = blank_name(spec.name.as_deref(), &host.plugin_name) {
            return Err(PluginError::Name { source_name: host.code.source.clone(), message });
        }
        Ok(host)
    }

    /// This instance's component, compiled and linked, for another instance of it.
    pub(crate) fn prepared(&self) -> PreparedDetector {
        self.code.clone()
    }

    /// Ask the fresh instance who it is and hand it its config. A trap here is not followed
    /// by a restart (not [`DetectorHost::guarded`]): a restart configures again, and a plugin
    /// that traps in its `new` (a panic, a loop past the deadline, the memory cap, too little
    /// fuel) would restart itself without end, overflowing the stack. The error refuses the
    /// config at start or on reload; after a restart the next call restarts again, once.
    fn configure(&mut self) -> Result<(), PluginError> {
        let info = self.unguarded("info", |d, s| d.call_info(s))?;
        if self.name == self.code.source {
            self.name = info.name.clone();
        }
        self.plugin_name = info.name;
        self.version = info.version;
        let settings = bindings::Settings { threshold: self.threshold as f32 };
        let config = self.config_json.clone();
        self.unguarded("configure", |d, s| d.call_configure(s, &config, settings))?
            .map_err(|message| PluginError::Config { plugin: self.name.clone(), message })
    }

    /// Plugin name (from config, else from the plugin).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The plugin's own name, as it reports it.
    pub fn plugin_name(&self) -> &str {
        &self.plugin_name
    }

    /// Plugin version, as the plugin reports it.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Where the component came from (`builtin:...` or a path).
    pub fn source(&self) -> &str {
        &self.code.source
    }

    /// The anomaly threshold from config.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// SHA-256 of the component, hex.
    pub fn digest(&self) -> &str {
        &self.code.digest
    }

    /// How many times the instance was replaced after a failure.
    pub fn restarts(&self) -> u64 {
        self.restarts
    }

    /// Bytes of linear memory the instance holds.
    pub fn memory_bytes(&self) -> usize {
        self.sandbox.memory_bytes()
    }

    /// The sandbox limits it runs under.
    pub fn limits(&self) -> PluginLimits {
        self.limits
    }

    /// Score events: one verdict per event, checked against the contract.
    pub fn score<E: AsRef<Event>>(&mut self, events: &[E]) -> Result<Vec<Verdict>, PluginError> {
        self.score_encoded(&EncodedBatch::encode(events)?)
    }

    /// Score an encoded batch (encoded once for every detector of a set).
    pub fn score_encoded(&mut self, batch: &EncodedBatch) -> Result<Vec<Verdict>, PluginError> {
        let out = self
            .guarded("score", |d, s| d.call_score(s, batch.as_wit()))?
            .map_err(|message| self.call_error("score", message))?;
        if out.scores.len() != batch.len() {
            return Err(self.bad_output("score", format!("{} verdicts for {} events", out.scores.len(), batch.len())));
        }
        if let Some(i) = out.scores.iter().position(|s| !(0.0..=1.0).contains(s)) {
            return Err(self.bad_output("score", format!("score {} for event {i} is outside [0, 1]", out.scores[i])));
        }
        let mut verdicts: Vec<Verdict> =
            out.scores.into_iter().map(|score| Verdict { score, reason: String::new() }).collect();
        for reason in out.reasons {
            let Some(verdict) = verdicts.get_mut(reason.index as usize) else {
                return Err(self.bad_output("score", format!("a reason for event {} of {}", reason.index, batch.len())));
            };
            verdict.reason = capped_reason(reason.text);
        }
        Ok(verdicts)
    }

    /// Train on events presumed normal.
    pub fn train<E: AsRef<Event>>(&mut self, events: &[E]) -> Result<(), PluginError> {
        let batch = EncodedBatch::encode(events)?;
        self.guarded("train", |d, s| d.call_train(s, batch.as_wit()))?.map_err(|m| self.call_error("train", m))
    }

    /// The plugin's learned state; also kept as the state a restarted instance resumes from.
    pub fn snapshot(&mut self) -> Result<Vec<u8>, PluginError> {
        let state = self.guarded("snapshot", |d, s| d.call_snapshot(s))?;
        self.last_snapshot = Some(state.clone());
        Ok(state)
    }

    /// The last good learned state: the latest snapshot taken or restored.
    pub fn last_snapshot(&self) -> Option<&[u8]> {
        self.last_snapshot.as_deref()
    }

    /// Restore a state from [`DetectorHost::snapshot`].
    pub fn restore(&mut self, state: &[u8]) -> Result<(), PluginError> {
        self.guarded("restore", |d, s| d.call_restore(s, state))?.map_err(|m| self.call_error("restore", m))?;
        self.last_snapshot = Some(state.to_vec());
        Ok(())
    }

    /// Replace the instance with a fresh one resumed from the last snapshot: after bad output
    /// the instance is not trusted any more, even though it did not trap.
    pub fn restart(&mut self) {
        self.reinstantiate();
    }

    /// Run one call in the sandbox. A trap leaves the instance unusable, so it is replaced by
    /// a fresh, configured one (resumed from the last snapshot) before the error is returned.
    fn guarded<R>(
        &mut self,
        call: &'static str,
        f: impl FnOnce(&Detector, &mut Store<PluginState>) -> wasmtime::Result<R>,
    ) -> Result<R, PluginError> {
        self.sandbox.call(f).map_err(|message| {
            let error = self.call_error(call, message);
            self.reinstantiate();
            error
        })
    }

    /// Run one call in the sandbox, leaving a trapped instance as it is.
    fn unguarded<R>(
        &mut self,
        call: &'static str,
        f: impl FnOnce(&Detector, &mut Store<PluginState>) -> wasmtime::Result<R>,
    ) -> Result<R, PluginError> {
        self.sandbox.call(f).map_err(|message| self.call_error(call, message))
    }

    fn reinstantiate(&mut self) {
        // Built through the same path as the first instance; an error here leaves the old,
        // poisoned instance, whose next call fails again and retries this.
        let name = self.name.clone();
        let code = &self.code;
        match Sandbox::new(&self.engine, self.limits, &code.source, |store| code.pre.instantiate(store)) {
            Ok(sandbox) => {
                self.sandbox = sandbox;
                self.restarts += 1;
                if let Err(e) = self.configure() {
                    tracing::error!(plugin = %name, error = %e, "restarted plugin refused its config");
                    return;
                }
                // `configure` may have put the plugin's own name back; keep the configured one.
                self.name = name;
                if let Some(state) = self.last_snapshot.take() {
                    // A failing restore leaves a fresh, untrained instance (it learns again).
                    // `guarded` would recurse here on a trap.
                    match self.unguarded("restore", |d, s| d.call_restore(s, &state)) {
                        Ok(Ok(())) => tracing::info!(plugin = %self.name, "plugin restarted from its last snapshot"),
                        Ok(Err(e)) => {
                            tracing::warn!(plugin = %self.name, error = %e, "restarted plugin refused its snapshot")
                        }
                        Err(e) => tracing::warn!(plugin = %self.name, error = %e, "restore trapped"),
                    }
                    self.last_snapshot = Some(state);
                }
            }
            Err(e) => tracing::error!(plugin = %self.name, error = %e, "cannot restart plugin"),
        }
    }

    fn call_error(&self, call: &'static str, message: String) -> PluginError {
        PluginError::Call { plugin: self.name.clone(), call, message }
    }

    fn bad_output(&self, call: &'static str, message: String) -> PluginError {
        PluginError::BadOutput { plugin: self.name.clone(), call, message }
    }
}

/// Longest reason kept, bytes: a reason is stored with its event and served with every
/// anomaly, and a plugin once gave 20 MiB reasons (a page of 50 anomalies was 21 MB).
pub(crate) const MAX_REASON_BYTES: usize = 1024;

/// `reason`, cut at a character boundary to [`MAX_REASON_BYTES`] with a marker that says so.
fn capped_reason(mut reason: String) -> String {
    if reason.len() <= MAX_REASON_BYTES {
        return reason;
    }
    let marker = format!(" [cut: the reason was {} bytes; a reason holds at most {MAX_REASON_BYTES}]", reason.len());
    reason.truncate(reason.floor_char_boundary(MAX_REASON_BYTES - marker.len()));
    reason.push_str(&marker);
    reason
}

/// What is wrong with a detector's name when it is blank: the configured one, or else the one
/// the plugin reports. A name identifies a detector in the API, its snapshots and reloads.
pub(super) fn blank_name(configured: Option<&str>, reported: &str) -> Option<String> {
    match configured {
        Some(name) if name.trim().is_empty() => Some(format!(
            "detector name = {name:?} is blank: give the detector a name with a visible character, \
             or leave name out to use the plugin's own ({reported:?})"
        )),
        Some(_) => None,
        None if reported.trim().is_empty() => Some(format!(
            "the plugin reports a blank name ({reported:?}): give the detector a name = \"...\" in \
             [[detectors]], or rebuild the plugin with a NAME"
        )),
        None => None,
    }
}

/// A fuel limit needs an engine that meters fuel, which is chosen when the agent starts.
fn check_fuel(engine: &PluginEngine, spec: &DetectorSpec) -> Result<(), PluginError> {
    if spec.limits.fuel.is_some() && !engine.fuel_enabled() {
        return Err(PluginError::Load {
            source_name: spec.source.to_string(),
            message: "limits.fuel is set, but the agent started without fuel metering \
                      (hint: restart the agent to apply a fuel limit)"
                .into(),
        });
    }
    Ok(())
}

/// The component's bytes.
pub(crate) fn component_bytes(source: &PluginSource) -> Result<std::borrow::Cow<'static, [u8]>, PluginError> {
    let source_name = source.to_string();
    match source {
        PluginSource::Builtin(name) => super::builtin::lookup(name)
            .map(|(_, bytes)| std::borrow::Cow::Borrowed(bytes))
            .ok_or_else(|| PluginError::Load { source_name, message: "no such builtin".into() }),
        PluginSource::File(path) => std::fs::read(path)
            .map(std::borrow::Cow::Owned)
            .map_err(|e| PluginError::Load { source_name, message: e.to_string() }),
    }
}

/// SHA-256 of a component, hex: the identity of its code.
pub(crate) fn hex_digest(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The digest of the component `source` names now, to see whether it changed on disk.
pub(crate) fn current_digest(source: &PluginSource) -> Option<String> {
    component_bytes(source).ok().map(|bytes| hex_digest(&bytes))
}
