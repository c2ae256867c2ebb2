//! The config as users write it: serde structs that mirror `configs/vigil.toml`. Every field
//! is documented here; unknown fields are rejected. Values are checked in `resolve`.

use crate::pipeline::PipelineConfig;
use crate::source::SourceConfig;
use crate::store::StoreConfig;
use serde::Deserialize;
use std::path::PathBuf;
use toml::Spanned;

/// The whole config file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Directory for the embedded store, plugin snapshots and the compiled-plugin cache.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// The HTTP and WebSocket API.
    #[serde(default)]
    pub api: ApiConfig,
    /// Anomaly detectors; every event is scored by each of them.
    #[serde(default = "default_detectors")]
    pub detectors: Vec<DetectorConfig>,
    /// Log sources (files to tail). WebSocket and HTTP ingest are always on.
    #[serde(default)]
    pub sources: Vec<SourceConfig>,
    /// Where events, anomalies and checkpoints are kept.
    #[serde(default)]
    pub store: StoreConfig,
    /// The ChromaDB server used when `[store] kind = "chroma"`.
    #[serde(default)]
    pub chroma: crate::vector::ChromaConfig,
    /// Batching and queues between sources and the store.
    #[serde(default)]
    pub pipeline: PipelineConfig,
    /// `/chat`: the optional LLM that rephrases its answers.
    #[serde(default)]
    pub chat: crate::chat::ChatConfig,
    /// The embedder that turns anomalies, summaries and `/chat` questions into vectors.
    #[serde(default)]
    pub embedding: crate::embed::EmbeddingConfig,
    /// Summarizers; each folds committed events into windows and stores a summary per window.
    /// Absent: `builtin:window-summary` every minute; `summarizers = []`: none.
    #[serde(default = "crate::summarize::config::default_summarizers")]
    pub summarizers: Vec<crate::summarize::SummarizerConfig>,
    /// OpenTelemetry: traces, metrics and anomalies over OTLP/HTTP when `otlp_endpoint` is set.
    #[serde(default)]
    pub telemetry: crate::telemetry::TelemetryConfig,
}

/// `[api]`: where the API listens and what it accepts.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// Listen address, `host:port`. Loopback by default; set `0.0.0.0:8420` to expose it.
    #[serde(default = "default_address")]
    pub address: Spanned<String>,
    /// Largest request body accepted, in bytes; larger bodies get 413.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: Spanned<u64>,
    /// Most logs accepted in one `/anomaly_detection` request or WebSocket frame; more get 413.
    #[serde(default = "default_max_batch_logs")]
    pub max_batch_logs: Spanned<u64>,
    /// When set, ingest, `/chat`, `/api/v1/*` and both WebSockets need
    /// `Authorization: Bearer <token>` (or `?token=`, percent-encoded, meant for WebSockets); `/` and `/health` stay open.
    #[serde(default)]
    pub token: Option<Spanned<String>>,
    /// Web origins (`https://dash.example.com`, or `*` for any) whose pages may call the API
    /// from the browser (CORS). Empty: only the agent's own `/ui/`.
    #[serde(default)]
    pub cors_origins: Vec<Spanned<String>>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            address: default_address(),
            max_body_bytes: default_max_body_bytes(),
            max_batch_logs: default_max_batch_logs(),
            token: None,
            cors_origins: Vec::new(),
        }
    }
}

/// One `[[detectors]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectorConfig {
    /// `builtin:<name>` for a plugin embedded in the binary, or a path to a `.wasm` component
    /// (relative paths are relative to the config file).
    pub plugin: Spanned<String>,
    /// Name shown in the API and logs; defaults to the plugin's own name.
    #[serde(default)]
    pub name: Option<String>,
    /// Events scoring at or above this (0 to 1) are anomalies.
    #[serde(default = "default_threshold")]
    pub threshold: Spanned<f64>,
    /// Sandbox limits for this plugin.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Scores the batches this plugin fails on (twice in a row) and, after that, those of
    /// its backoff: `builtin:isolation-forest` (the default) or `none` (stored unscored).
    #[serde(default)]
    pub fallback: Option<Spanned<String>>,
    /// Seconds between snapshots of the learned state kept in the store (also taken on
    /// shutdown and before a reload); 0 snapshots only on shutdown.
    #[serde(default = "default_snapshot_interval_secs")]
    pub snapshot_interval_secs: Spanned<u64>,
    /// The plugin's own settings, passed to it as JSON; see the plugin's README.
    #[serde(default)]
    pub config: toml::Table,
}

/// `[detectors.limits]`: what one plugin instance may use.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Most linear memory the plugin may grow to, in MiB; growing past it fails the call.
    #[serde(default = "default_max_memory_mib")]
    pub max_memory_mib: Spanned<u64>,
    /// Longest one call may run, in milliseconds, before it is interrupted.
    #[serde(default = "default_call_timeout_ms")]
    pub call_timeout_ms: Spanned<u64>,
    /// Optional instruction budget of one call (wasmtime fuel); a call that uses it up fails
    /// like a deadline. Unset: no fuel metering.
    #[serde(default)]
    pub fuel: Option<Spanned<u64>>,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_memory_mib: default_max_memory_mib(),
            call_timeout_ms: default_call_timeout_ms(),
            fuel: None,
        }
    }
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("./vigil-data")
}
fn default_address() -> Spanned<String> {
    Spanned::new(0..0, "127.0.0.1:8420".to_owned())
}
fn default_max_body_bytes() -> Spanned<u64> {
    Spanned::new(0..0, 16 * 1024 * 1024)
}
fn default_max_batch_logs() -> Spanned<u64> {
    Spanned::new(0..0, 10_000)
}
fn default_threshold() -> Spanned<f64> {
    Spanned::new(0..0, 0.6)
}
fn default_max_memory_mib() -> Spanned<u64> {
    Spanned::new(0..0, 256)
}
fn default_call_timeout_ms() -> Spanned<u64> {
    Spanned::new(0..0, 5_000)
}
fn default_snapshot_interval_secs() -> Spanned<u64> {
    Spanned::new(0..0, 60)
}
fn default_detectors() -> Vec<DetectorConfig> {
    vec![DetectorConfig {
        plugin: Spanned::new(0..0, "builtin:isolation-forest".to_owned()),
        name: None,
        threshold: default_threshold(),
        limits: LimitsConfig::default(),
        fallback: None,
        snapshot_interval_secs: default_snapshot_interval_secs(),
        config: toml::Table::new(),
    }]
}
