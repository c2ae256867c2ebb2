//! One sandboxed plugin instance of any world: its own store (memory cap, no filesystem,
//! network or environment, stderr captured), the instance, and the guarded call that puts a
//! deadline (and optional fuel) on every call and words a trap for the operator. Detector
//! and summarizer hosts share it; each decides what a restart resumes.

use super::engine::{EPOCH_TICK, PluginEngine, PluginState};
use super::error::PluginError;
use crate::config::PluginLimits;
use wasmtime::Store;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

/// Most bytes of a plugin's stderr kept for error messages.
const STDERR_CAPACITY: usize = 16 * 1024;

/// A plugin instance `I` (generated bindings) in its own sandboxed store.
pub(crate) struct Sandbox<I> {
    pub(crate) store: Store<PluginState>,
    pub(crate) instance: I,
    stderr: MemoryOutputPipe,
    limits: PluginLimits,
}

impl<I> Sandbox<I> {
    /// A fresh store under `limits` and the instance `instantiate` makes in it; `source`
    /// names the component in errors.
    pub(crate) fn new(
        engine: &PluginEngine,
        limits: PluginLimits,
        source: &str,
        instantiate: impl FnOnce(&mut Store<PluginState>) -> wasmtime::Result<I>,
    ) -> Result<Self, PluginError> {
        let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
        let mut store = engine.sandboxed_store(stderr.clone(), limits.max_memory_bytes);
        // With fuel metering on, a plugin without a fuel limit (and instantiation itself) runs
        // on an unlimited tank; `call` sets the per-call budget of those that have one. Fails
        // only when metering is off.
        let _ = store.set_fuel(u64::MAX);
        let instance = instantiate(&mut store)
            .map_err(|e| PluginError::Load { source_name: source.into(), message: format!("instantiate: {e:#}") })?;
        Ok(Sandbox { store, instance, stderr, limits })
    }

    /// Bytes of linear memory the instance holds.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.store.data().limits.bytes
    }

    /// Run one call under the deadline (and fuel). On a trap, the message says which limit
    /// stopped it (or the trap) and what the plugin wrote to stderr; the instance is then
    /// unusable and the caller must replace it.
    pub(crate) fn call<R>(
        &mut self,
        f: impl FnOnce(&I, &mut Store<PluginState>) -> wasmtime::Result<R>,
    ) -> Result<R, String> {
        let ticks = self.limits.call_timeout.as_millis().div_ceil(EPOCH_TICK.as_millis()).max(1) as u64;
        self.store.set_epoch_deadline(ticks);
        if let Some(fuel) = self.limits.fuel {
            // Per call, like the deadline; fails only when metering is off, which the hosts
            // refuse at start.
            let _ = self.store.set_fuel(fuel);
        }
        f(&self.instance, &mut self.store).map_err(|trap| {
            let mut message = format!("{trap:#}");
            if let Some(kind) = trap.downcast_ref::<wasmtime::Trap>() {
                message = match kind {
                    wasmtime::Trap::Interrupt => format!("deadline of {:?} exceeded", self.limits.call_timeout),
                    wasmtime::Trap::OutOfFuel => {
                        format!("ran out of fuel ({} units per call)", self.limits.fuel.unwrap_or_default())
                    }
                    other => format!("trapped: {other}"),
                };
            }
            let stderr = String::from_utf8_lossy(&self.stderr.contents()).trim().to_owned();
            if !stderr.is_empty() {
                message.push_str(&format!("; plugin stderr: {stderr}"));
            }
            message
        })
    }
}
