//! The OpenAPI description of `GET /api/v1/plugins` and of the plugin states `/health` shows:
//! the schema stubs of [`crate::detect::DetectorStatus`] and
//! [`crate::summarize::SummarizerStatus`], kept beside the rest of the document.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// `GET /api/v1/plugins` answer: every loaded plugin, by world, in config order.
#[derive(Serialize, ToSchema)]
pub struct PluginList {
    detectors: Vec<DetectorPlugin>,
    summarizers: Vec<SummarizerPlugin>,
}

/// Sandbox limits of a plugin.
#[derive(Serialize, ToSchema)]
pub struct PluginLimits {
    /// Linear memory cap, MiB.
    max_memory_mib: u64,
    /// Deadline of one call, ms.
    call_timeout_ms: u64,
    /// Fuel per call, when metered.
    fuel: Option<u64>,
}

/// Call latency of a plugin, ms; null before the first call.
#[derive(Serialize, ToSchema)]
pub struct PluginLatency {
    mean: Option<f64>,
    /// Upper estimates from a histogram.
    p50: Option<f64>,
    p99: Option<f64>,
    max: Option<f64>,
}

/// A detector plugin.
#[derive(Serialize, ToSchema)]
pub struct DetectorPlugin {
    /// Detector name (from config, else the plugin's own).
    name: String,
    /// The plugin's own name.
    plugin: String,
    /// Plugin version.
    version: String,
    /// `detector`.
    #[schema(pattern = "^detector$")]
    world: String,
    /// `builtin:<name>` or the component's path.
    source: String,
    /// SHA-256 of the component, hex.
    digest: String,
    /// Anomaly threshold, 0 to 1.
    threshold: f64,
    /// `ready`, or `failed` while in backoff after a batch failed twice.
    #[schema(pattern = "^(ready|failed)$")]
    state: String,
    limits: PluginLimits,
    /// Score calls made (a retry is a call), calls that failed, instances replaced.
    calls: u64,
    failures: u64,
    restarts: u64,
    /// Events it scored.
    events_scored: u64,
    /// Batches (and their events) scored by the fallback instead.
    fallback_batches: u64,
    fallback_events: u64,
    /// `builtin:isolation-forest` or `none`.
    fallback: String,
    /// Why the fallback could not start or score the last batch it was given (that batch went
    /// unscored, and `/health` is `degraded`); null until then, and again once it scores.
    fallback_error: Option<String>,
    latency_ms: PluginLatency,
    /// The most recent failure and when (RFC 3339).
    last_error: Option<String>,
    last_failure_at: Option<String>,
    /// While in backoff: ms until it is called again.
    backoff_until_ms: Option<u64>,
    /// The last persisted snapshot: `bytes`, `taken_at`.
    snapshot: Option<Value>,
    /// Why the last snapshot failed (the store keeps the one before; tried again after
    /// `snapshot_interval_secs`, and `/health` is `degraded` meanwhile); null once one is taken.
    snapshot_error: Option<String>,
    /// Why the saved snapshot it was started with was refused (a plugin whose state format
    /// changed, say), so it learns again from nothing; not a fault, `/health` stays `ok`.
    restore_error: Option<String>,
    /// Linear memory the instance holds, bytes (grows with its state and its largest batch;
    /// never given back while the instance lives).
    memory_bytes: u64,
}

/// A summarizer plugin.
#[derive(Serialize, ToSchema)]
pub struct SummarizerPlugin {
    /// Summarizer name (from config, else the plugin's own).
    name: String,
    /// Plugin version.
    version: String,
    /// `summarizer`.
    #[schema(pattern = "^summarizer$")]
    world: String,
    /// `builtin:<name>` or the component's path.
    source: String,
    /// SHA-256 of the component, hex.
    digest: String,
    /// Window length, ms.
    window_ms: i64,
    /// `ready`, `failing` while its most recent call failed, or `stopped`.
    #[schema(pattern = "^(ready|failing|stopped)$")]
    state: String,
    limits: PluginLimits,
    /// Batches waiting in its queue.
    queued: u64,
    /// Events offered to it, folded, and skipped because its queue was full.
    received_events: u64,
    folded_events: u64,
    skipped_events: u64,
    skipped_batches: u64,
    /// Summaries stored since start.
    summaries: u64,
    /// Plugin calls (fold, emit), calls that failed, instances replaced after a trap.
    calls: u64,
    failures: u64,
    restarts: u64,
    latency_ms: PluginLatency,
    /// The most recent failure and when (RFC 3339).
    last_error: Option<String>,
    last_failure_at: Option<String>,
    /// Linear memory the instance holds, bytes.
    memory_bytes: u64,
}
