//! Validation: turns a [`RawConfig`] into the checked [`Config`] the running code uses, and
//! collects every problem with its location rather than stopping at the first.

use super::error::{ConfigError, ConfigErrors};
use super::raw::{DetectorConfig, RawConfig};
use crate::detect::builtin;
use crate::parse::BuildError;
use crate::pipeline::PipelineConfig;
use crate::source::SourceSpec;
use crate::source::config::{SourceConfig, SourceKind};
use crate::source::file::FileSourceConfig;
use crate::store::StoreConfig;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

/// A validated config.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Where the agent keeps its data.
    pub data_dir: PathBuf,
    /// API settings.
    pub api: ApiSettings,
    /// Detectors, in config order.
    pub detectors: Vec<DetectorSpec>,
    /// File sources.
    pub sources: Vec<SourceSpec>,
    /// Store settings.
    pub store: StoreConfig,
    /// ChromaDB settings (used when `store.kind` is `chroma`).
    pub chroma: crate::vector::ChromaConfig,
    /// Pipeline settings.
    pub pipeline: PipelineConfig,
    /// `/chat` settings.
    pub chat: crate::chat::ChatSettings,
    /// The embedder of every vector.
    pub embedding: crate::embed::EmbeddingSettings,
    /// Summarizers, in config order.
    pub summarizers: Vec<crate::summarize::SummarizerSpec>,
    /// OTLP export settings (read at start; a change needs a restart).
    pub telemetry: crate::telemetry::TelemetrySettings,
}

/// Validated `[api]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiSettings {
    /// Listen address.
    pub address: SocketAddr,
    /// Largest request body, bytes.
    pub max_body_bytes: usize,
    /// Most logs in one request.
    pub max_batch_logs: usize,
    /// Bearer token required on everything but `/` and `/health`, when set.
    pub token: Option<String>,
    /// Origins allowed to call the API from a browser page (`*`: any); empty, none.
    pub cors_origins: Vec<String>,
}

/// Where a plugin's component comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum PluginSource {
    /// Embedded in the binary, by name.
    Builtin(&'static str),
    /// A `.wasm` component file.
    File(PathBuf),
}

impl std::fmt::Display for PluginSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PluginSource::Builtin(name) => write!(f, "builtin:{name}"),
            PluginSource::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// Validated sandbox limits of one plugin.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PluginLimits {
    /// Linear memory cap, bytes.
    pub max_memory_bytes: usize,
    /// Deadline of one call.
    pub call_timeout: Duration,
    /// Fuel budget of one call, when metered.
    pub fuel: Option<u64>,
}

/// A validated `[[detectors]]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorSpec {
    /// Name from config, if any (the plugin's own name is used otherwise).
    pub name: Option<String>,
    /// Where the component comes from.
    pub source: PluginSource,
    /// Anomaly threshold in [0, 1].
    pub threshold: f64,
    /// Sandbox limits.
    pub limits: PluginLimits,
    /// The plugin's config table as JSON text.
    pub config_json: String,
    /// What scores the batches the plugin fails on.
    pub fallback: Fallback,
    /// How often its state is snapshotted to the store; `None`: only on shutdown.
    pub snapshot_interval: Option<Duration>,
}

/// What scores a detector's batches while it fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// An embedded plugin, by name.
    Builtin(&'static str),
    /// Nothing: the events are stored unscored.
    None,
}

/// Collects problems while walking the raw config.
struct Checker<'a> {
    file: &'a str,
    text: &'a str,
    errors: Vec<ConfigError>,
}

impl Checker<'_> {
    fn error<T>(&mut self, value: &Spanned<T>, field: impl Into<String>, message: String, hint: &str) {
        let span = value.span();
        // Defaults carry an empty span: they have no place in the file.
        let span = (span.start != span.end).then_some(span);
        self.errors.push(ConfigError::at(self.file, self.text, span, field, message).hint(hint));
    }

    /// Check a spanned whole number against the range of `field` (see [`super::range`]).
    fn range(&mut self, value: &Spanned<u64>, field: &str) -> u64 {
        let v = *value.get_ref();
        let range = super::range::find(field).unwrap_or_else(|| panic!("{field} has a range in config::range"));
        if !range.contains(v) {
            self.error(value, field, range.message(v), range.hint);
        }
        v
    }

    /// Check a whole number without a span of its own against the range of `field`; the
    /// error is placed at the field by [`super::locate::locate_fields`].
    fn bound(&mut self, field: String, value: u64) -> u64 {
        let range = super::range::find(&field).unwrap_or_else(|| panic!("{field} has a range in config::range"));
        if !range.contains(value) {
            self.errors.push(ConfigError::at(self.file, self.text, None, field, range.message(value)).hint(range.hint));
        }
        value
    }
}

pub(super) fn resolve(raw: RawConfig, file: &str, text: &str, base: &Path) -> Result<Config, ConfigErrors> {
    let mut check = Checker { file, text, errors: Vec::new() };

    let address = match raw.api.address.get_ref().parse::<SocketAddr>() {
        Ok(a) => a,
        Err(_) => {
            let got = raw.api.address.get_ref().clone();
            check.error(
                &raw.api.address,
                "api.address",
                format!("{got:?} is not a host:port socket address"),
                "write it like \"127.0.0.1:8420\" or \"[::1]:8420\"",
            );
            SocketAddr::from(([127, 0, 0, 1], 8420))
        }
    };
    let max_body_bytes = check.range(&raw.api.max_body_bytes, "api.max_body_bytes") as usize;
    let max_batch_logs = check.range(&raw.api.max_batch_logs, "api.max_batch_logs") as usize;
    let token = raw.api.token.as_ref().map(|t| {
        if t.get_ref().len() < 16 || t.get_ref().chars().any(|c| c.is_whitespace() || c.is_control()) {
            check.error(
                t,
                "api.token",
                "must be at least 16 characters, without spaces".to_owned(),
                "generate one with `openssl rand -hex 32`",
            );
        }
        t.get_ref().clone()
    });
    let cors_origins = raw
        .api
        .cors_origins
        .iter()
        .map(|o| {
            if !is_origin(o.get_ref()) {
                check.error(
                    o,
                    "api.cors_origins",
                    format!("{:?} is not a web origin", o.get_ref()),
                    "write scheme://host[:port] as the browser sends it, e.g. \"https://dash.example.com\" \
                     (no path, no trailing slash), or \"*\" for any",
                );
            }
            o.get_ref().clone()
        })
        .collect();
    for (range, value) in raw.store.problems() {
        let field = format!("store.{}", range.field);
        check.errors.push(ConfigError::at(file, text, None, field, range.message(value)).hint(range.hint));
    }
    for (field, message, hint) in raw.chroma.problems() {
        check.errors.push(ConfigError::at(file, text, None, format!("chroma.{field}"), message).hint(hint));
    }
    let chat = raw.chat.resolve().unwrap_or_else(|problems| {
        for p in problems {
            check.errors.push(ConfigError::at(file, text, None, p.field, p.message).hint(p.hint));
        }
        Default::default()
    });
    let embedding = raw.embedding.resolve().unwrap_or_else(|p| {
        check.errors.push(ConfigError::at(file, text, None, p.field, p.message).hint(p.hint));
        Default::default()
    });
    let telemetry = raw.telemetry.resolve().unwrap_or_else(|problems| {
        for p in problems {
            check.errors.push(ConfigError::at(file, text, None, p.field, p.message).hint(p.hint));
        }
        Default::default()
    });
    let pipeline = &raw.pipeline;
    check.bound("pipeline.batch_events".into(), pipeline.batch_events as u64);
    check.bound("pipeline.batch_wait_ms".into(), pipeline.batch_wait_ms);
    check.bound("pipeline.queue".into(), pipeline.queue as u64);
    check.bound("pipeline.queue_events".into(), pipeline.queue_events as u64);
    check.bound("chroma.retention_days".into(), u64::from(raw.chroma.retention_days));
    let sources =
        raw.sources.iter().enumerate().filter_map(|(i, s)| resolve_source(&mut check, i, s)).collect::<Vec<_>>();
    for (i, s) in sources.iter().enumerate() {
        // `/api/v1/stats` lists HTTP and WebSocket ingest beside the file sources, by these.
        if ["api", "ws"].contains(&s.name.as_str()) {
            check.errors.push(
                ConfigError::at(file, text, None, format!("sources[{i}].name"), format!("{:?} is reserved", s.name))
                    .hint("\"api\" and \"ws\" name HTTP and WebSocket ingest; give the file source another name"),
            );
        }
        if sources[..i].iter().any(|o: &SourceSpec| o.name == s.name) {
            check.errors.push(
                ConfigError::at(
                    file,
                    text,
                    None,
                    format!("sources[{i}].name"),
                    format!("{:?} is used by another source", s.name),
                )
                .hint("give each source its own name"),
            );
        }
    }

    if raw.detectors.is_empty() {
        check.errors.push(
            ConfigError::at(file, text, None, "detectors", "at least one detector is needed")
                .hint("add [[detectors]] with plugin = \"builtin:isolation-forest\""),
        );
    }
    let (summarizers, problems) = crate::summarize::config::resolve_all(raw.summarizers, file, text, base);
    check.errors.extend(problems);
    let detectors =
        raw.detectors.into_iter().enumerate().filter_map(|(i, d)| resolve_detector(&mut check, i, d, base)).collect();

    if check.errors.is_empty() {
        Ok(Config {
            data_dir: raw.data_dir,
            api: ApiSettings { address, max_body_bytes, max_batch_logs, token, cors_origins },
            detectors,
            sources,
            store: raw.store,
            chroma: raw.chroma,
            pipeline: raw.pipeline,
            chat,
            embedding,
            summarizers,
            telemetry,
        })
    } else {
        Err(ConfigErrors(check.errors))
    }
}

fn resolve_source(check: &mut Checker<'_>, i: usize, raw: &SourceConfig) -> Option<SourceSpec> {
    let before = check.errors.len();
    let mut fail = |field: &str, message: String, hint: &str| {
        check
            .errors
            .push(ConfigError::at(check.file, check.text, None, format!("sources[{i}].{field}"), message).hint(hint));
    };
    if raw.kind == SourceKind::Websocket {
        // Always on: the entry declares it. A file setting here is a mistake worth saying.
        let set = [
            ("name", raw.name.is_some()),
            ("include", !raw.include.is_empty()),
            ("exclude", !raw.exclude.is_empty()),
            ("pattern", raw.pattern.is_some()),
            ("timestamp_format", raw.timestamp_format.is_some()),
            ("json_fields", raw.json_fields.is_some()),
            ("time_zone", raw.time_zone.is_some()),
        ];
        for (field, _) in set.into_iter().filter(|(_, set)| *set) {
            fail(
                field,
                "a websocket source takes no settings: WebSocket ingest is always on at /ws/application".into(),
                "remove it; the frame limits are [api] max_body_bytes and max_batch_logs",
            );
        }
        return None;
    }
    if let Some(name) = raw.name.as_ref().filter(|name| name.trim().is_empty()) {
        // Events would be stored as source "file:", and stats would list a source "".
        fail(
            "name",
            format!(
                "source name = {name:?} is blank: it names the source's events (\"file:<name>\"), \
                 its stats and its read positions"
            ),
            &format!(
                "give the source a name with a visible character, or leave name out to use the default \
                 (\"file{i}\")"
            ),
        );
    }
    if raw.include.is_empty() {
        fail("include", "no files to follow".into(), "add a glob like \"/var/log/nginx/access.log*\"");
    }
    for (field, patterns) in [("include", &raw.include), ("exclude", &raw.exclude)] {
        for p in patterns {
            if let Err(e) = glob::Pattern::new(p) {
                fail(field, format!("{p:?} is not a valid glob: {e}"), "use *, ? and [...] wildcards");
            }
        }
    }
    for (field, value) in [
        ("max_line_bytes", raw.max_line_bytes as u64),
        ("partial_line_timeout_ms", raw.partial_line_timeout_ms),
        ("poll_interval_ms", raw.poll_interval_ms),
    ] {
        let range = super::range::find(&format!("sources.{field}")).expect("source ranges are listed");
        if !range.contains(value) {
            fail(field, range.message(value), range.hint);
        }
    }
    let parser = match raw.parse_config().build() {
        Ok(p) => Some(p),
        Err(e) => {
            // Named by the option at fault (the message starts with it), so that it points
            // at that option's line rather than at the source's header.
            let field = build_error_field(&e);
            let message = e.to_string();
            let message = message.strip_prefix(&format!("{field}: ")).map_or(message.clone(), str::to_owned);
            fail(&field, message, "see the parser options in the README");
            None
        }
    };
    let parser = parser.filter(|_| check.errors.len() == before)?;
    Some(SourceSpec {
        name: raw.name.clone().unwrap_or_else(|| format!("file{i}")),
        file: FileSourceConfig {
            include: raw.include.clone(),
            exclude: raw.exclude.clone(),
            start_at: raw.start_at,
            max_line_bytes: raw.max_line_bytes,
            partial_line_timeout: Duration::from_millis(raw.partial_line_timeout_ms),
            gzip: raw.gzip,
            ..FileSourceConfig::default()
        },
        parser,
        poll_interval: Duration::from_millis(raw.poll_interval_ms),
    })
}

/// The source option a parser config error is about.
fn build_error_field(error: &BuildError) -> String {
    match error {
        // format = "regex" is what needs the missing pattern.
        BuildError::MissingPattern => "format".to_owned(),
        BuildError::InvalidPattern { .. } | BuildError::NoNamedGroups { .. } => "pattern".to_owned(),
        BuildError::UnusedOption { option, .. } => (*option).to_owned(),
        BuildError::InvalidTimestampFormat { .. } => "timestamp_format".to_owned(),
        BuildError::InvalidTimeZone { .. } => "time_zone".to_owned(),
        BuildError::EmptyJsonKey { field } => format!("json_fields.{field}"),
    }
}

fn resolve_detector(check: &mut Checker<'_>, i: usize, raw: DetectorConfig, base: &Path) -> Option<DetectorSpec> {
    let at = |field: &str| format!("detectors[{i}].{field}");
    let before = check.errors.len();

    let plugin = raw.plugin.get_ref();
    let source = if let Some(name) = plugin.strip_prefix("builtin:") {
        match builtin::lookup(name) {
            Some((name, _)) => PluginSource::Builtin(name),
            None => {
                let known = builtin::names().join(", ");
                check.error(
                    &raw.plugin,
                    at("plugin"),
                    format!("no builtin plugin named {name:?}"),
                    &format!("the builtin plugins are: {known}"),
                );
                PluginSource::Builtin("")
            }
        }
    } else {
        let path = base.join(plugin);
        if !path.is_file() {
            check.error(
                &raw.plugin,
                at("plugin"),
                format!("no such plugin file {}", path.display()),
                "give the path of a .wasm component (relative to the config file) or builtin:isolation-forest",
            );
        }
        PluginSource::File(path)
    };

    let threshold = *raw.threshold.get_ref();
    if !(0.0..=1.0).contains(&threshold) {
        check.error(
            &raw.threshold,
            at("threshold"),
            format!("must be between 0 and 1, got {threshold}"),
            "scores are in [0, 1]; 0.6 is a good start",
        );
    }
    let memory_mib = check.range(&raw.limits.max_memory_mib, &at("limits.max_memory_mib"));
    let timeout_ms = check.range(&raw.limits.call_timeout_ms, &at("limits.call_timeout_ms"));
    let fallback = match raw.fallback.as_ref().map(|f| (f, f.get_ref().as_str())) {
        None => Fallback::Builtin("isolation-forest"),
        Some((_, "none")) => Fallback::None,
        Some((spanned, value)) => match value.strip_prefix("builtin:").and_then(builtin::lookup) {
            Some((name, _)) => Fallback::Builtin(name),
            None => {
                check.error(
                    spanned,
                    at("fallback"),
                    format!("{value:?} is not a fallback"),
                    "use \"builtin:isolation-forest\" or \"none\"",
                );
                Fallback::None
            }
        },
    };
    let snapshot_secs = check.range(&raw.snapshot_interval_secs, &at("snapshot_interval_secs"));
    let snapshot_interval = (snapshot_secs > 0).then(|| Duration::from_secs(snapshot_secs));
    let fuel = raw.limits.fuel.as_ref().map(|f| check.range(f, &at("limits.fuel")));
    let config_json = super::plugin_table::to_json(&raw.config).unwrap_or_else(|(key, why)| {
        check.errors.push(
            ConfigError::at(check.file, check.text, None, at(&format!("config.{key}")), why)
                .hint("give a finite number, or leave the key out for the plugin's default"),
        );
        String::new()
    });

    (check.errors.len() == before).then(|| DetectorSpec {
        name: raw.name,
        source,
        threshold,
        limits: PluginLimits {
            max_memory_bytes: (memory_mib * 1024 * 1024) as usize,
            call_timeout: Duration::from_millis(timeout_ms),
            fuel,
        },
        config_json,
        fallback,
        snapshot_interval,
    })
}

/// Whether `origin` is `*` or an origin as a browser's `Origin` header writes it:
/// `http(s)://host[:port]`, nothing after.
fn is_origin(origin: &str) -> bool {
    if origin == "*" {
        return true;
    }
    let Some(rest) = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://")) else {
        return false;
    };
    !rest.is_empty()
        && !rest.contains(['/', '?', '#', '@', ' '])
        && axum::http::HeaderValue::from_str(origin).is_ok()
        && rest.parse::<axum::http::uri::Authority>().is_ok()
}
