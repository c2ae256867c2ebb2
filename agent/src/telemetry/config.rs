//! `[telemetry]`: where the agent sends its own traces and metrics, and its anomalies as log
//! records, over OTLP/HTTP (protobuf). Unset `otlp_endpoint`: nothing is exported.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// `[telemetry]` as users write it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetryConfig {
    /// Base URL of an OTLP/HTTP receiver taking protobuf (an OpenTelemetry Collector, Jaeger,
    /// Grafana Alloy, ...), e.g. `http://127.0.0.1:4318`; `/v1/traces`, `/v1/metrics` and
    /// `/v1/logs` are appended. Unset: nothing is exported and nothing is paid for it.
    #[serde(default)]
    pub otlp_endpoint: Option<String>,
    /// `service.name` of everything exported (tells agents apart in the backend together with
    /// `host.name`, which `OTEL_RESOURCE_ATTRIBUTES` can set).
    #[serde(default = "default_service_name")]
    pub service_name: String,
    /// Seconds between two exports of the agent's metrics (1 to 3600).
    #[serde(default = "default_metrics_interval_secs")]
    pub metrics_interval_secs: u64,
    /// Export the agent's own spans (scoring and committing each batch) as traces.
    #[serde(default = "default_true")]
    pub export_traces: bool,
    /// Export every committed anomaly as an OTLP log record with its attributes.
    #[serde(default = "default_true")]
    pub export_anomalies: bool,
    /// Longest one export request may take, in ms, retries included (100 to 60000).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Headers sent with every export request, e.g. a hosted backend's API key:
    /// `headers = { "x-api-key" = "..." }`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            otlp_endpoint: None,
            service_name: default_service_name(),
            metrics_interval_secs: default_metrics_interval_secs(),
            export_traces: true,
            export_anomalies: true,
            timeout_ms: default_timeout_ms(),
            headers: BTreeMap::new(),
        }
    }
}

fn default_service_name() -> String {
    "vigil".to_owned()
}
fn default_metrics_interval_secs() -> u64 {
    60
}
fn default_true() -> bool {
    true
}
fn default_timeout_ms() -> u64 {
    10_000
}

/// Validated `[telemetry]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TelemetrySettings {
    /// Where to export to; `None`: no export.
    pub otlp: Option<OtlpSettings>,
}

/// Validated OTLP export settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpSettings {
    /// The base URL, without a trailing `/`.
    pub endpoint: String,
    /// `service.name`.
    pub service_name: String,
    /// Time between metric exports.
    pub metrics_interval: Duration,
    /// Whether spans are exported.
    pub export_traces: bool,
    /// Whether anomalies are exported as log records.
    pub export_anomalies: bool,
    /// Longest one export may take.
    pub timeout: Duration,
    /// Extra request headers.
    pub headers: BTreeMap<String, String>,
}

impl OtlpSettings {
    /// The URL of one signal, e.g. `signal_url("logs")` is `{endpoint}/v1/logs`.
    pub fn signal_url(&self, signal: &str) -> String {
        format!("{}/v1/{signal}", self.endpoint)
    }
}

/// One problem in `[telemetry]`: the field and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelemetryConfigError {
    /// The field, e.g. `telemetry.otlp_endpoint`.
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// What to write instead.
    pub hint: &'static str,
}

impl TelemetryConfig {
    /// Check the values and build the settings the running code uses.
    pub fn resolve(&self) -> Result<TelemetrySettings, Vec<TelemetryConfigError>> {
        let mut errors = Vec::new();
        let mut fail = |field: &str, message: String, hint: &'static str| {
            errors.push(TelemetryConfigError { field: format!("telemetry.{field}"), message, hint });
        };
        if !(1..=3600).contains(&self.metrics_interval_secs) {
            fail(
                "metrics_interval_secs",
                format!("must be between 1 and 3600 s, got {}", self.metrics_interval_secs),
                "60 is the OpenTelemetry default",
            );
        }
        if !(100..=60_000).contains(&self.timeout_ms) {
            fail(
                "timeout_ms",
                format!("must be between 100 and 60000 ms, got {}", self.timeout_ms),
                "the default is 10000",
            );
        }
        if self.service_name.trim().is_empty() {
            fail("service_name", "must not be empty".to_owned(), "the default is \"vigil\"");
        }
        for (name, value) in &self.headers {
            if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                fail("headers", format!("{name:?} is not a valid header name"), "letters, digits and '-' only");
            } else if reqwest::header::HeaderValue::from_str(value).is_err() {
                fail("headers", format!("the value of {name:?} is not a valid header value"), "visible ASCII only");
            }
        }
        let endpoint = match self.otlp_endpoint.as_deref().map(str::trim) {
            None => None,
            Some(url) => match check_endpoint(url) {
                Ok(endpoint) => Some(endpoint),
                Err(message) => {
                    fail("otlp_endpoint", message, "write the receiver's base URL, like \"http://127.0.0.1:4318\"");
                    None
                }
            },
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(TelemetrySettings {
            otlp: endpoint.map(|endpoint| OtlpSettings {
                endpoint,
                service_name: self.service_name.trim().to_owned(),
                metrics_interval: Duration::from_secs(self.metrics_interval_secs),
                export_traces: self.export_traces,
                export_anomalies: self.export_anomalies,
                timeout: Duration::from_millis(self.timeout_ms),
                headers: self.headers.clone(),
            }),
        })
    }
}

/// An http(s) base URL with a host and no query, returned without its trailing `/`.
fn check_endpoint(url: &str) -> Result<String, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("{url:?}: the scheme must be http or https (OTLP/HTTP), not {}", parsed.scheme()));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("{url:?} has no host"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(format!("{url:?}: a base URL has no query or fragment"));
    }
    let path = parsed.path().trim_end_matches('/');
    if ["/v1/traces", "/v1/logs", "/v1/metrics"].iter().any(|signal| path.ends_with(signal)) {
        return Err(format!("{url:?} names one signal; give the base URL, the /v1/... paths are appended"));
    }
    Ok(url.trim_end_matches('/').to_owned())
}
