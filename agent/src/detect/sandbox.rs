//! One sandboxed plugin instance of any world: its own store (memory cap, no filesystem,
//! network or environment, stderr captured), the instance, and the guarded call that puts a
//! deadline (and optional fuel) on every call and words a trap for the operator. Detector
//! and summarizer hosts share it; each decides what a restart resumes.

use super::engine::{EPOCH_TICK, PluginEngine, PluginState};
use super::error::PluginError;
use super::wasi_wait::WaitedPastDeadline;
use crate::config::PluginLimits;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use wasmtime::Store;

/// Most bytes of a plugin's stderr kept for error messages: the last ones written in a call.
const STDERR_CAPACITY: usize = 16 * 1024;

/// A plugin instance `I` (generated bindings) in its own sandboxed store.
pub(crate) struct Sandbox<I> {
    pub(crate) store: Store<PluginState>,
    pub(crate) instance: I,
    stderr: StderrTail,
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
        let stderr = StderrTail::default();
        let mut store = engine.sandboxed_store(stderr.clone(), limits.max_memory_bytes, limits.call_timeout);
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
        self.stderr.clear();
        let refused_before = self.store.data().limits.refused;
        self.store.data_mut().waits.start_call();
        let result = f(&self.instance, &mut self.store);
        self.store.data_mut().waits.end_call();
        result.map_err(|trap| {
            let mut message = format!("{trap:#}");
            if trap.downcast_ref::<WaitedPastDeadline>().is_some() {
                message = format!("deadline of {:?} exceeded while the plugin waited (it slept or polled)", self.limits.call_timeout);
            } else if let Some(kind) = trap.downcast_ref::<wasmtime::Trap>() {
                message = match kind {
                    wasmtime::Trap::Interrupt => format!("deadline of {:?} exceeded", self.limits.call_timeout),
                    wasmtime::Trap::OutOfFuel => {
                        format!("ran out of fuel ({} units per call)", self.limits.fuel.unwrap_or_default())
                    }
                    other => format!("trapped: {other}"),
                };
            }
            if self.store.data().limits.refused > refused_before {
                message = format!(
                    "memory cap of {} MiB reached (raise the plugin's limits.max_memory_mib, or make it hold less): {message}",
                    self.limits.max_memory_bytes >> 20
                );
            }
            let stderr = self.stderr.text();
            if !stderr.is_empty() {
                message.push_str(&format!("; plugin stderr: {stderr}"));
            }
            message
        })
    }
}

/// A plugin's stderr as the host keeps it: what the current call wrote, its last
/// [`STDERR_CAPACITY`] bytes. Writes always succeed, so a plugin that logs a lot never fails
/// for it (wasmtime-wasi's `MemoryOutputPipe` refuses writes once full, which made a plugin
/// that logged ~1 KiB per call trap on its 17th call, the message showing only old lines).
#[derive(Clone, Default)]
pub(crate) struct StderrTail(Arc<Mutex<VecDeque<u8>>>);

impl StderrTail {
    fn clear(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// The text kept, trimmed.
    fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let (front, back) = bytes.as_slices();
        String::from_utf8_lossy(&[front, back].concat()).trim().to_owned()
    }

    fn append(&self, bytes: &[u8]) {
        let mut kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let bytes = &bytes[bytes.len().saturating_sub(STDERR_CAPACITY)..];
        let over = (kept.len() + bytes.len()).saturating_sub(STDERR_CAPACITY);
        kept.drain(..over);
        kept.extend(bytes);
    }
}

impl wasmtime_wasi::cli::IsTerminal for StderrTail {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl wasmtime_wasi::cli::StdoutStream for StderrTail {
    fn p2_stream(&self) -> Box<dyn wasmtime_wasi::p2::OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl wasmtime_wasi::p2::OutputStream for StderrTail {
    fn write(&mut self, bytes: bytes::Bytes) -> Result<(), wasmtime_wasi::p2::StreamError> {
        self.append(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), wasmtime_wasi::p2::StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, wasmtime_wasi::p2::StreamError> {
        Ok(STDERR_CAPACITY)
    }
}

#[async_trait::async_trait]
impl wasmtime_wasi::p2::Pollable for StderrTail {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for StderrTail {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.append(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}
