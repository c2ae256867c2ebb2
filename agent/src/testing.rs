//! Shared helpers for the crate's unit tests: the fixture plugins the build script compiles,
//! and ready-made detector sets.

use crate::config::{DetectorSpec, PluginLimits, PluginSource};
use crate::detect::{DetectorSet, PluginEngine};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

/// Path of a fixture or default plugin compiled by the build script, by package name.
pub fn plugin_path(package: &str) -> PathBuf {
    PathBuf::from(env!("VIGIL_TEST_PLUGIN_DIR")).join(format!("{}.wasm", package.replace('-', "_")))
}

/// One engine for all tests, with a per-process cache so each fixture compiles once.
pub fn engine() -> &'static PluginEngine {
    static ENGINE: OnceLock<PluginEngine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let cache = std::env::temp_dir().join(format!("vigil-test-cache-{}", std::process::id()));
        PluginEngine::new(Some(&cache)).expect("test engine")
    })
}

/// A detector spec with default limits.
pub fn spec(source: PluginSource, threshold: f64, config_json: &str) -> DetectorSpec {
    DetectorSpec {
        name: None,
        source,
        threshold,
        limits: PluginLimits { max_memory_bytes: 64 << 20, call_timeout: Duration::from_secs(5), fuel: None },
        config_json: config_json.to_owned(),
        fallback: crate::config::Fallback::None,
        snapshot_interval: None,
    }
}

/// Detectors made of the constant-score fixture giving `score`.
pub fn constant_detectors(score: f32, threshold: f64) -> DetectorSet {
    let source = PluginSource::File(plugin_path("vigil-fixture-constant-score"));
    DetectorSet::start(engine(), &[spec(source, threshold, &format!(r#"{{"score":{score}}}"#))])
        .expect("fixture starts")
}

/// A fresh store in a directory that outlives the test (the OS cleans its temp dir).
pub fn store() -> std::sync::Arc<crate::store::Store> {
    let dir = tempfile::tempdir().expect("temp dir").keep();
    std::sync::Arc::new(crate::store::Store::open(&dir, &crate::store::StoreConfig::default()).expect("store opens"))
}

/// A complete API state over `detectors` and `settings`, with its own store and pipeline.
/// Call inside a tokio runtime.
pub fn app_state(detectors: DetectorSet, settings: crate::config::ApiSettings) -> crate::api::AppState {
    app_context(detectors, settings).into()
}

/// The parts of [`app_state`], for a test that replaces some of them first.
pub fn app_context(detectors: DetectorSet, settings: crate::config::ApiSettings) -> crate::api::AppContext {
    let detectors = std::sync::Arc::new(detectors);
    let store = store();
    let (pipeline, _tasks) =
        crate::pipeline::Pipeline::start(&Default::default(), detectors.clone(), store.clone(), Default::default());
    crate::api::AppContext {
        detectors,
        settings: std::sync::Arc::new(arc_swap::ArcSwap::from_pointee(settings)),
        config: Default::default(),
        pipeline,
        store: store.clone(),
        sources: Default::default(),
        rejected: Default::default(),
        shutdown: std::sync::Arc::new(tokio::sync::watch::channel(false).0),
        started: std::time::Instant::now(),
        chat: std::sync::Arc::new(crate::chat::Chat::new(&Default::default())),
        vectors: crate::vector::VectorIndex::new(store.clone(), None),
        summaries: Default::default(),
    }
}

const SCAN_LOG_FILES: [&str; 3] = ["acunetix.txt", "netsparker.txt", "w3af.txt"];

/// The lines of ../shared/data/apache_scan_logs (real access logs of three web scanners),
/// unwrapped, per file; `None` (after saying why) when the data is absent.
pub fn scan_logs() -> Option<Vec<(&'static str, Vec<String>)>> {
    let unwrap = |line: String| match line.strip_prefix('"').and_then(|l| l.strip_suffix('"')) {
        Some(inner) => inner.to_owned(),
        None => line,
    };
    let files = scan_logs_as_written()?;
    Some(files.into_iter().map(|(name, lines)| (name, lines.into_iter().map(unwrap).collect())).collect())
}

/// The same lines as the files have them (without their line endings).
pub fn scan_logs_as_written() -> Option<Vec<(&'static str, Vec<String>)>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/apache_scan_logs");
    if !dir.is_dir() {
        eprintln!("skipped: {} is absent (the shared data sets are not on this machine)", dir.display());
        return None;
    }
    let files = SCAN_LOG_FILES.map(|name| {
        let text = std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        // Each line is wrapped in an extra pair of quotes, except 62 lines of w3af.txt that
        // were recorded without them; netsparker and w3af use CRLF endings.
        let lines = text
            .split('\n')
            .map(|line| line.strip_suffix('\r').unwrap_or(line))
            .filter(|line| !line.is_empty())
            .map(str::to_owned)
            .collect();
        (name, lines)
    });
    Some(files.into())
}
