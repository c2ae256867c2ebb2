//! The process-wide wasmtime engine: compiler settings, the epoch clock that enforces call
//! deadlines, the linker with a WASI context that grants nothing, and the compiled-component
//! cache.

use super::bindings::DetectorPre;
use super::cache::ComponentCache;
use super::error::PluginError;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::{Component, InstancePre, Linker, ResourceTable};
use wasmtime::{Config, Engine, ResourceLimiter, StoreLimits};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// How often the epoch advances; call deadlines are counted in these ticks.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Per-store state of a plugin instance: its (empty) WASI context and its limits.
pub struct PluginState {
    pub(super) wasi: WasiCtx,
    pub(super) table: ResourceTable,
    pub(super) limits: MemoryMeter,
    pub(super) waits: super::wasi_wait::WaitClock,
}

/// wasmtime's [`StoreLimits`] (the memory cap), counting the linear memory it lets the
/// instance have, which `/api/v1/plugins` and `/metrics` report. wasm memory only grows, so
/// the sum of the growths approved (less any that then failed) is the instance's size.
pub(crate) struct MemoryMeter {
    limits: StoreLimits,
    /// Bytes of linear memory, over all of the instance's memories.
    pub(crate) bytes: usize,
    /// The growth last approved, taken back if the growth then fails.
    approved: usize,
    /// Growths refused for the cap: a trap after one is the cap's doing.
    pub(crate) refused: u64,
}

impl ResourceLimiter for MemoryMeter {
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        let allowed = self.limits.memory_growing(current, desired, maximum);
        if !matches!(allowed, Ok(true)) {
            self.refused += 1;
        }
        let allowed = allowed?;
        if allowed {
            self.approved = desired.saturating_sub(current);
            self.bytes += self.approved;
        }
        Ok(allowed)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.bytes -= std::mem::take(&mut self.approved);
        self.limits.memory_grow_failed(error)
    }

    fn table_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
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
    fuel: bool,
}

impl PluginEngine {
    /// An engine whose compiled components are cached under `cache_dir` (none: no cache).
    pub fn new(cache_dir: Option<&Path>) -> Result<Self, PluginError> {
        Self::with_fuel(cache_dir, false)
    }

    /// Like [`PluginEngine::new`]; with `fuel`, calls are metered so `limits.fuel` can stop a
    /// plugin after a number of instructions (it costs every plugin a few percent, so it is
    /// only switched on when some detector sets a fuel limit).
    pub fn with_fuel(cache_dir: Option<&Path>, fuel: bool) -> Result<Self, PluginError> {
        let load_err = |message: String| PluginError::Load { source_name: "<engine>".into(), message };
        let mut config = Config::new();
        config.epoch_interruption(true);
        config.consume_fuel(fuel);
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
        super::wasi_io::shadow_streams(&mut linker).map_err(|e| load_err(e.to_string()))?;
        super::wasi_wait::shadow_waits(&mut linker).map_err(|e| load_err(e.to_string()))?;
        let cache = match cache_dir {
            Some(dir) => Some(ComponentCache::open(dir).map_err(|e| load_err(e.to_string()))?),
            None => None,
        };
        Ok(PluginEngine { engine, linker: Arc::new(linker), cache, fuel })
    }

    /// Compile a component into the cache unless it is there already, without loading it:
    /// the work of the child process of [`super::compile_in_child_processes`].
    pub fn compile_into_cache(&self, bytes: &[u8]) -> Result<(), PluginError> {
        let load_err = |message: String| PluginError::Load { source_name: "<compile>".into(), message };
        let cache = self.cache.as_ref().ok_or_else(|| load_err("this engine has no cache".into()))?;
        cache.compile_only(&self.engine, bytes).map_err(|e| load_err(format!("{e:#}")))
    }

    /// Whether calls are metered with fuel.
    pub fn fuel_enabled(&self) -> bool {
        self.fuel
    }

    /// Compile (or load from the cache) a component and link it as a detector.
    pub(super) fn prepare(&self, source_name: &str, bytes: &[u8]) -> Result<DetectorPre<PluginState>, PluginError> {
        let pre = self.instance_pre(source_name, "detector", bytes)?;
        DetectorPre::new(pre.clone()).map_err(|e| {
            let summarizer = crate::summarize::bindings::SummarizerPre::new(pre).is_ok();
            world_error(source_name, ("detector", "summarizer"), summarizer, &e)
        })
    }
}

impl PluginEngine {
    /// Compile (or load from the cache) a component and link it, for any world: detectors
    /// and summarizers share this engine, linker and cache.
    /// Compile (or load from the cache) a component and link it; `world` (`detector` or
    /// `summarizer`) is the world it is loaded as, for errors.
    pub(crate) fn instance_pre(
        &self,
        source_name: &str,
        world: &'static str,
        bytes: &[u8],
    ) -> Result<InstancePre<PluginState>, PluginError> {
        let load_err = |message: String| PluginError::Load { source_name: source_name.into(), message };
        let component = match &self.cache {
            Some(cache) => cache.load_or_compile(&self.engine, bytes, self.fuel),
            None => Component::new(&self.engine, bytes),
        }
        .map_err(|e| load_err(not_a_component(bytes).unwrap_or_else(|| format!("{e:#}"))))?;
        check_interface_version(&self.engine, source_name, world, &component)?;
        self.linker.instantiate_pre(&component).map_err(|e| load_err(format!("{e:#}")))
    }

    /// A store for one sandboxed instance: nothing granted (no files, env, args, sockets,
    /// stdin or stdout), stderr captured into `stderr`, linear memory capped, no deadline
    /// until a call sets one.
    pub(crate) fn sandboxed_store(
        &self,
        stderr: super::sandbox::StderrTail,
        max_memory_bytes: usize,
        call_timeout: std::time::Duration,
    ) -> wasmtime::Store<PluginState> {
        let state = PluginState {
            wasi: wasmtime_wasi::WasiCtxBuilder::new().stderr(stderr).build(),
            table: ResourceTable::new(),
            limits: MemoryMeter {
                limits: wasmtime::StoreLimitsBuilder::new()
                    .memory_size(max_memory_bytes)
                    .trap_on_grow_failure(true)
                    .build(),
                bytes: 0,
                approved: 0,
                refused: 0,
            },
            waits: super::wasi_wait::WaitClock::new(call_timeout),
        };
        let mut store = wasmtime::Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(u64::MAX / 2);
        store
    }
}

/// The WIT package version the host was generated from (`plugin-sdk/wit/vigil.wit`).
const WIT_VERSION: &str = "0.1.0";

/// A component that does not export the world it is loaded as, `worlds.0`: told so, with
/// where it goes when it exports the other one, `worlds.1` (`exports_other`).
pub(crate) fn world_error(
    source_name: &str,
    worlds: (&'static str, &'static str),
    exports_other: bool,
    e: &wasmtime::Error,
) -> PluginError {
    let source_name = source_name.to_owned();
    match worlds {
        (wanted, is) if exports_other => PluginError::WrongWorld { source_name, is, wanted },
        (world, _) => PluginError::Interface { source_name, world, expected: WIT_VERSION, message: format!("{e:#}") },
    }
}

/// What a file that is not a WebAssembly component is, said plainly: wasmtime's own words are
/// a dump of the magic bytes it expected, or "a wasm module with a component parser".
fn not_a_component(bytes: &[u8]) -> Option<String> {
    const HINT: &str = "build the plugin with `cargo build --release --target wasm32-wasip2` and give the \
                        .wasm from target/wasm32-wasip2/release";
    match bytes {
        [0, b'a', b's', b'm', 1, 0, 0, 0, ..] => Some(format!(
            "it is a core wasm module, not a component (built for wasm32-wasip1 or wasm32-unknown-unknown?); {HINT}"
        )),
        [0, b'a', b's', b'm', ..] => None,
        _ => Some(format!("it is not WebAssembly (no \\0asm header); {HINT}")),
    }
}

/// Refuse a component built against another version of the `vigil:plugin` package.
///
/// The linker alone does not: the worlds export plain functions (not versioned interfaces),
/// and an import of a types-only interface such as `vigil:plugin/types@0.0.9` is satisfied
/// without the host defining it, so an old plugin would load and then misread every batch.
fn check_interface_version(
    engine: &Engine,
    source_name: &str,
    world: &'static str,
    component: &Component,
) -> Result<(), PluginError> {
    let ty = component.component_type();
    for (name, _) in ty.imports(engine) {
        let Some(version) = name.strip_prefix("vigil:plugin/").and_then(|rest| rest.split_once('@')).map(|(_, v)| v)
        else {
            continue;
        };
        if version != WIT_VERSION {
            return Err(PluginError::Interface {
                source_name: source_name.into(),
                world,
                expected: WIT_VERSION,
                message: format!("it was built for vigil:plugin@{version} (it imports {name})"),
            });
        }
    }
    Ok(())
}

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
