//! `[[summarizers]]`: which summarizer plugins run, over which window, with which limits;
//! the raw serde form and its validation into a [`SummarizerSpec`].

use crate::config::{ConfigError, LimitsConfig, PluginLimits, PluginSource};
use crate::detect::builtin;
use serde::Deserialize;
use std::path::Path;
use std::time::Duration;
use toml::Spanned;

/// Shortest window: a summary per second is already more than anyone reads.
const MIN_WINDOW: Duration = Duration::from_secs(1);
/// Longest window: a day.
const MAX_WINDOW: Duration = Duration::from_secs(86_400);
/// Most batches one summarizer may have waiting.
const MAX_QUEUE: u64 = 65_536;
const MAX_MEMORY_MIB: u64 = 16 * 1024;
const MAX_CALL_TIMEOUT_MS: u64 = 10 * 60 * 1000;

/// One `[[summarizers]]` entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SummarizerConfig {
    /// `builtin:<name>` for a plugin embedded in the binary (`builtin:window-summary`), or a
    /// path to a `.wasm` component (relative paths are relative to the config file).
    pub plugin: Spanned<String>,
    /// Name shown in the API, logs and every summary, and the key of its saved state;
    /// defaults to the plugin's own name. Each summarizer's must differ.
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    /// Length of a window, like "30s", "1m", "15m" or "1h" (1 second to 24 hours). Windows
    /// are aligned to the clock (a "1m" window runs from :00 to :00) and cover the events
    /// committed during them; a summary is written when a window that had events closes.
    #[serde(default = "default_window")]
    pub window: Spanned<String>,
    /// Committed batches that may wait for the summarizer (1 to 65536). When it falls this
    /// far behind, further batches skip it (ingestion never waits); skipped events are
    /// counted in `/api/v1/summaries` and in the summary of their window.
    #[serde(default = "default_queue")]
    pub queue: Spanned<u64>,
    /// Sandbox limits for this plugin, as for detectors.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// The plugin's own settings, passed to it as JSON; see the plugin's README.
    #[serde(default)]
    pub config: toml::Table,
}

/// A validated `[[summarizers]]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct SummarizerSpec {
    /// Name from config, if any (the plugin's own name is used otherwise).
    pub name: Option<String>,
    /// Where the component comes from.
    pub source: PluginSource,
    /// Window length (whole milliseconds, at least a second).
    pub window: Duration,
    /// Batches that may wait before new ones are skipped.
    pub queue: usize,
    /// Sandbox limits.
    pub limits: PluginLimits,
    /// The plugin's config table as JSON text.
    pub config_json: String,
}

fn default_window() -> Spanned<String> {
    Spanned::new(0..0, "1m".to_owned())
}
fn default_queue() -> Spanned<u64> {
    Spanned::new(0..0, 256)
}

/// What runs when the config has no `summarizers` key: the window summary, every minute.
/// (`summarizers = []` turns summaries off.)
pub fn default_summarizers() -> Vec<SummarizerConfig> {
    vec![SummarizerConfig {
        plugin: Spanned::new(0..0, "builtin:window-summary".to_owned()),
        name: None,
        window: default_window(),
        queue: default_queue(),
        limits: LimitsConfig::default(),
        config: toml::Table::new(),
    }]
}

/// Parse a window length: jiff's friendly durations ("30s", "1m", "1h 30m") or ISO 8601.
pub fn parse_window(text: &str) -> Result<Duration, String> {
    let parsed: jiff::SignedDuration = text.trim().parse().map_err(|_| format!("{text:?} is not a duration"))?;
    let window = Duration::try_from(parsed).map_err(|_| format!("{text:?} is negative"))?;
    if !(MIN_WINDOW..=MAX_WINDOW).contains(&window) {
        return Err(format!("{text:?} is outside 1s to 24h"));
    }
    if window.subsec_nanos() % 1_000_000 != 0 {
        return Err(format!("{text:?} is not a whole number of milliseconds"));
    }
    Ok(window)
}

/// Validate every entry; problems come back located, with the field that has them.
pub(crate) fn resolve_all(
    raw: Vec<SummarizerConfig>,
    file: &str,
    text: &str,
    base: &Path,
) -> (Vec<SummarizerSpec>, Vec<ConfigError>) {
    let mut errors = Vec::new();
    let mut specs = Vec::new();
    for (i, entry) in raw.into_iter().enumerate() {
        let before = errors.len();
        let mut fail = |span: std::ops::Range<usize>, field: &str, message: String, hint: &str| {
            let span = (span.start != span.end).then_some(span);
            errors.push(ConfigError::at(file, text, span, format!("summarizers[{i}].{field}"), message).hint(hint));
        };
        let plugin = entry.plugin.get_ref();
        let source = if let Some(name) = plugin.strip_prefix("builtin:") {
            match builtin::lookup(name) {
                Some((name, _)) => PluginSource::Builtin(name),
                None => {
                    let known = builtin::names().join(", ");
                    fail(
                        entry.plugin.span(),
                        "plugin",
                        format!("no builtin plugin named {name:?}"),
                        &format!("the builtin plugins are: {known}; the default summarizer is window-summary"),
                    );
                    PluginSource::Builtin("")
                }
            }
        } else {
            let path = base.join(plugin);
            if !path.is_file() {
                fail(
                    entry.plugin.span(),
                    "plugin",
                    format!("no such plugin file {}", path.display()),
                    "give the path of a .wasm component (relative to the config file) or builtin:window-summary",
                );
            }
            PluginSource::File(path)
        };
        if let Some(name) = entry.name.as_ref().filter(|n| n.get_ref().trim().is_empty()) {
            fail(
                name.span(),
                "name",
                "is empty".into(),
                "give the summarizer a name, or leave `name` out to use the plugin's own",
            );
        }
        let window = parse_window(entry.window.get_ref()).unwrap_or_else(|message| {
            fail(entry.window.span(), "window", message, "write it like \"30s\", \"1m\", \"15m\" or \"1h\"");
            MIN_WINDOW
        });
        let mut range = |value: &Spanned<u64>, field: &str, max: u64, unit: &str| {
            let v = *value.get_ref();
            if v < 1 || v > max {
                fail(
                    value.span(),
                    field,
                    format!("must be between 1 and {max} {unit}, got {v}"),
                    "pick a value in range",
                );
            }
            v
        };
        let queue = range(&entry.queue, "queue", MAX_QUEUE, "batches");
        let memory_mib = range(&entry.limits.max_memory_mib, "limits.max_memory_mib", MAX_MEMORY_MIB, "MiB");
        let timeout_ms = range(&entry.limits.call_timeout_ms, "limits.call_timeout_ms", MAX_CALL_TIMEOUT_MS, "ms");
        let fuel = entry.limits.fuel.as_ref().map(|f| range(f, "limits.fuel", u64::MAX / 2, "units"));
        if errors.len() == before {
            specs.push(SummarizerSpec {
                name: entry.name.map(Spanned::into_inner),
                source,
                window,
                queue: queue as usize,
                limits: PluginLimits {
                    max_memory_bytes: (memory_mib * 1024 * 1024) as usize,
                    call_timeout: Duration::from_millis(timeout_ms),
                    fuel,
                },
                config_json: serde_json::to_string(&entry.config).expect("a TOML table is always valid JSON"),
            });
        }
    }
    (specs, errors)
}
