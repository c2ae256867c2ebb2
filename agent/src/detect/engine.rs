//! The process-wide wasmtime engine: compiler settings, the epoch clock that enforces call
//! deadlines, the linker with a WASI context that grants nothing, and the compiled-component
//! cache.

use super::bindings::DetectorPre;
use super::cache::ComponentCache;
use super::error::PluginError;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, StoreLimits};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// How often the epoch advances; call deadlines are counted in these ticks.
pub(super) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Per-store state of a plugin instance: its (empty) WASI context and its limits.
pub struct PluginState {
    pub(super) wasi: WasiCtx,
    pub(super) table: ResourceTable,
    pub(super) limits: StoreLimits,
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// One engine and linker for every plugin; cheap to clone.
#[derive(Clone)]
pub struct PluginEngine {
    pub(super) engine: Engine,
    linker: Arc<Linker<PluginState>>,
    cache: Option<ComponentCache>,
}

impl PluginEngine {
    /// An engine whose compiled components are cached under `cache_dir` (none: no cache).
    pub fn new(cache_dir: Option<&Path>) -> Result<Self, PluginError> {
        let load_err = |message: String| PluginError::Load { source_name: "<engine>".into(), message };
        let mut config = Config::new();
        config.epoch_interruption(true);
        // Plugins are called synchronously; without this, every call pays for the
        // component-model concurrency machinery that WASI's async feature switches on.
        config.concurrency_support(false);
        // `VIGIL_PERFMAP=1` writes /tmp/perf-<pid>.map so `perf` can name plugin functions.
        if std::env::var_os("VIGIL_PERFMAP").is_some() {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config).map_err(|e| load_err(e.to_string()))?;
        start_epoch_clock(&engine);

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| load_err(e.to_string()))?;
        let cache = match cache_dir {
            Some(dir) => Some(ComponentCache::open(dir).map_err(|e| load_err(e.to_string()))?),
            None => None,
        };
        Ok(PluginEngine { engine, linker: Arc::new(linker), cache })
    }

    /// Compile (or load from the cache) a component and link it as a detector.
    pub(super) fn prepare(&self, source_name: &str, bytes: &[u8]) -> Result<DetectorPre<PluginState>, PluginError> {
        let load_err = |message: String| PluginError::Load { source_name: source_name.into(), message };
        let component = match &self.cache {
            Some(cache) => cache.load_or_compile(&self.engine, bytes),
            None => Component::new(&self.engine, bytes),
        }
        .map_err(|e| load_err(format!("{e:#}")))?;
        let pre = self.linker.instantiate_pre(&component).map_err(|e| load_err(format!("{e:#}")))?;
        DetectorPre::new(pre).map_err(|e| PluginError::Interface {
            source_name: source_name.into(),
            expected: WIT_VERSION,
            message: format!("{e:#}"),
        })
    }
}

/// The WIT package version the host was generated from (`plugin-sdk/wit/vigil.wit`).
const WIT_VERSION: &str = "0.1.0";

/// Advance the engine's epoch every tick until the engine is dropped.
fn start_epoch_clock(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("vigil-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .expect("spawning the epoch clock thread");
}
