//! OpenTelemetry for the agent: its `tracing` spans as traces, its metrics, and its anomalies as
//! log records, exported over OTLP/HTTP (protobuf) when `[telemetry] otlp_endpoint` is set;
//! and the process's log on stderr (filtered by `VIGIL_LOG`), since both are layers of the one
//! `tracing` subscriber installed here.
//!
//! Export never blocks the agent: spans, metrics and records go through the SDK's batch
//! processors (bounded queues drained by their own threads; a full queue drops), and requests
//! run on the runtime through [`RuntimeHttpClient`]. [`Telemetry::shutdown`] flushes what is
//! queued. Without an endpoint nothing is set up and the instruments elsewhere are `None`.

use super::anomalies::AnomalyExport;
use super::config::{OtlpSettings, TelemetrySettings};
use super::otlp_http::RuntimeHttpClient;
use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram, Meter, MeterProvider as _, ObservableCounter};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{LogExporter, MetricExporter, Protocol, SpanExporter, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::sync::OnceLock;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tracing_subscriber::filter::{EnvFilter, LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{Layer as _, fmt};

/// The instrumentation scope of everything the agent exports.
const SCOPE: &str = "vigil";

/// Longest shutdown waits for each signal's last export (a receiver that is down must not
/// hold the agent's exit for the export's full timeout and retries).
const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

/// What the running export offers the rest of the agent; set once per process.
struct Installed {
    meter: Meter,
    anomalies: Option<AnomalyExport>,
    /// Kept so its callback stays registered.
    _dropped: ObservableCounter<u64>,
}

static INSTALLED: OnceLock<Installed> = OnceLock::new();

/// The queue that committed anomalies are offered to, when they are exported.
pub fn anomaly_export() -> Option<AnomalyExport> {
    INSTALLED.get().and_then(|i| i.anomalies.clone())
}

/// Why telemetry could not start.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// An OTLP exporter could not be built.
    #[error("telemetry.otlp_endpoint {endpoint}: cannot set up the OTLP {signal} exporter: {message}")]
    Exporter { signal: &'static str, endpoint: String, message: String },
    /// The process already has telemetry (it is set up once).
    #[error("telemetry is already set up in this process")]
    AlreadyStarted,
    /// The runtime or a thread was not available.
    #[error("telemetry: {0}")]
    Setup(String),
}

/// The running telemetry; [`Telemetry::shutdown`] flushes and stops the export.
pub struct Telemetry {
    export: Option<Export>,
}

struct Export {
    tracer: Option<SdkTracerProvider>,
    meter: SdkMeterProvider,
    logger: Option<SdkLoggerProvider>,
    anomalies: Option<AnomalyExport>,
}

/// The stderr log: `VIGIL_LOG` (an `EnvFilter`, e.g. `info,vigil::source=debug`), `info` unset.
/// In colour only on a terminal (and without `NO_COLOR`): a log file or the systemd journal
/// would keep the escape codes as text.
fn stderr_layer<S>() -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    use std::io::IsTerminal;
    let filter = log_filter(std::env::var("VIGIL_LOG").ok().as_deref()).unwrap_or_else(|problem| {
        // Before the log exists, so straight to stderr: a mistyped filter used to be ignored.
        eprintln!("vigil: {problem}");
        EnvFilter::new("info")
    });
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    fmt::layer().with_writer(std::io::stderr).with_ansi(colour).with_filter(filter)
}

/// The log filter `VIGIL_LOG` asks for (`info` when unset or empty), or why it cannot be read.
fn log_filter(value: Option<&str>) -> Result<EnvFilter, String> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(EnvFilter::new("info")),
        Some(value) => EnvFilter::builder().parse(value).map_err(|e| {
            format!(
                "VIGIL_LOG={value:?} is not a log filter ({e}); logging at info instead \
                 (hint: a level, or targets with levels, like VIGIL_LOG=info,vigil::source=debug)"
            )
        }),
    }
}

impl Telemetry {
    /// Log to stderr only, without any export (the CLI's other commands).
    pub fn logging_only() {
        let _ = tracing_subscriber::registry().with(stderr_layer()).try_init();
    }

    /// Log to stderr and, when `settings` name an endpoint, export over OTLP. Call once, from
    /// inside the tokio runtime the agent runs on (export requests run on it).
    pub fn start(settings: &TelemetrySettings) -> Result<Telemetry, TelemetryError> {
        let Some(otlp) = &settings.otlp else {
            Telemetry::logging_only();
            return Ok(Telemetry { export: None });
        };
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| TelemetryError::Setup("OTLP export needs a tokio runtime".to_owned()))?;
        let client =
            RuntimeHttpClient::new(runtime, otlp.timeout).map_err(|e| exporter_error("HTTP", otlp, e.to_string()))?;
        let resource = Resource::builder().with_service_name(otlp.service_name.clone()).build();

        let tracer = if otlp.export_traces {
            let exporter = SpanExporter::builder()
                .with_http()
                .with_http_client(client.clone())
                .with_headers(headers(otlp))
                .with_protocol(Protocol::HttpBinary)
                .with_endpoint(otlp.signal_url("traces"))
                .with_timeout(otlp.timeout)
                .build()
                .map_err(|e| exporter_error("traces", otlp, e.to_string()))?;
            Some(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource.clone()).build())
        } else {
            None
        };
        let metrics = MetricExporter::builder()
            .with_http()
            .with_http_client(client.clone())
            .with_headers(headers(otlp))
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(otlp.signal_url("metrics"))
            .with_timeout(otlp.timeout)
            .build()
            .map_err(|e| exporter_error("metrics", otlp, e.to_string()))?;
        let reader = PeriodicReader::builder(metrics).with_interval(otlp.metrics_interval).build();
        let meter = SdkMeterProvider::builder().with_reader(reader).with_resource(resource.clone()).build();
        let logger = if otlp.export_anomalies {
            let exporter = LogExporter::builder()
                .with_http()
                .with_http_client(client)
                .with_headers(headers(otlp))
                .with_protocol(Protocol::HttpBinary)
                .with_endpoint(otlp.signal_url("logs"))
                .with_timeout(otlp.timeout)
                .build()
                .map_err(|e| exporter_error("logs", otlp, e.to_string()))?;
            Some(SdkLoggerProvider::builder().with_batch_exporter(exporter).with_resource(resource).build())
        } else {
            None
        };
        let anomalies = match &logger {
            Some(provider) => Some(
                AnomalyExport::start(opentelemetry::logs::LoggerProvider::logger(provider, SCOPE))
                    .map_err(|e| TelemetryError::Setup(format!("cannot start the anomaly export thread: {e}")))?,
            ),
            None => None,
        };

        let scope_meter = meter.meter(SCOPE);
        let dropped_count = anomalies.as_ref().map(AnomalyExport::dropped_counter);
        let dropped = scope_meter
            .u64_observable_counter("vigil.otlp.anomalies_dropped")
            .with_description("Anomalies not exported because the export queue was full")
            .with_unit("{anomaly}")
            .with_callback(move |observer| {
                let n = dropped_count.as_ref().map_or(0, |c| c.load(Ordering::Relaxed));
                observer.observe(n, &[]);
            })
            .build();
        let installed = Installed { meter: scope_meter, anomalies: anomalies.clone(), _dropped: dropped };
        INSTALLED.set(installed).map_err(|_| TelemetryError::AlreadyStarted)?;
        opentelemetry::global::set_meter_provider(meter.clone());

        // Only the agent's own spans: the HTTP stack's (which carries the export itself) and
        // the SDK's would feed back into the export.
        let traces = tracer.as_ref().map(|provider| {
            tracing_opentelemetry::layer()
                .with_tracer(provider.tracer(SCOPE))
                .with_filter(Targets::new().with_target("vigil", LevelFilter::INFO))
        });
        let _ = tracing_subscriber::registry().with(stderr_layer()).with(traces).try_init();
        let signals = [("traces", otlp.export_traces), ("metrics", true), ("anomalies", otlp.export_anomalies)];
        let signals: Vec<&str> = signals.iter().filter(|(_, on)| *on).map(|(name, _)| *name).collect();
        tracing::info!(endpoint = %otlp.endpoint, "exporting {} over OTLP/HTTP", signals.join(", "));
        Ok(Telemetry { export: Some(Export { tracer, meter, logger, anomalies }) })
    }

    /// Whether anything is exported.
    pub fn is_exporting(&self) -> bool {
        self.export.is_some()
    }

    /// Export what is queued and stop. Blocks (up to the export timeout per signal): call it
    /// from a blocking context while the runtime still runs.
    pub fn shutdown(self) {
        let Some(export) = self.export else { return };
        if let Some(anomalies) = &export.anomalies {
            if !anomalies.flush(SHUTDOWN_WAIT) {
                tracing::warn!("OTLP: anomalies still queued at shutdown were not exported");
            }
            let dropped = anomalies.dropped();
            if dropped > 0 {
                tracing::warn!(dropped, "OTLP: anomalies were dropped because the export queue was full");
            }
        }
        let results = [
            ("logs", export.logger.map(|p| p.shutdown_with_timeout(SHUTDOWN_WAIT))),
            ("traces", export.tracer.map(|p| p.shutdown_with_timeout(SHUTDOWN_WAIT))),
            ("metrics", Some(export.meter.shutdown_with_timeout(SHUTDOWN_WAIT))),
        ];
        for (signal, result) in results {
            if let Some(Err(e)) = result {
                tracing::warn!(signal, error = %e, "OTLP: the last export at shutdown failed");
            }
        }
    }
}

fn headers(otlp: &OtlpSettings) -> std::collections::HashMap<String, String> {
    otlp.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn exporter_error(signal: &'static str, otlp: &OtlpSettings, message: String) -> TelemetryError {
    TelemetryError::Exporter { signal, endpoint: otlp.endpoint.clone(), message }
}

/// The OTLP side of [`super::Instruments`]: the same measurements, as OpenTelemetry
/// instruments of the installed meter.
#[derive(Clone, Debug)]
pub(crate) struct OtlpInstruments {
    events_in: Counter<u64>,
    anomalies: Counter<u64>,
    store_commit: Histogram<f64>,
    plugin_call: Histogram<f64>,
}

/// Exponential bucket bounds, `start * factor^i` for `i` in `0..count`.
fn bounds(start: f64, count: i32) -> Vec<f64> {
    (0..count).map(|i| start * 2f64.powi(i)).collect()
}

impl OtlpInstruments {
    /// The instruments, when export is set up (`None` otherwise: recording costs nothing).
    pub(crate) fn installed() -> Option<OtlpInstruments> {
        let meter = &INSTALLED.get()?.meter;
        Some(OtlpInstruments {
            events_in: meter
                .u64_counter("vigil.events.in")
                .with_description("Events received from each source, counted when committed to the store")
                .with_unit("{event}")
                .build(),
            anomalies: meter
                .u64_counter("vigil.anomalies")
                .with_description("Anomalies committed to the store")
                .with_unit("{anomaly}")
                .build(),
            // The same bounds as the Prometheus histograms of `/metrics`.
            store_commit: meter
                .f64_histogram("vigil.store.commit.duration")
                .with_description("Time one store commit (one transaction) takes")
                .with_unit("s")
                .with_boundaries(bounds(0.000_25, 15))
                .build(),
            plugin_call: meter
                .f64_histogram("vigil.plugin.call.duration")
                .with_description(
                    "Time the detectors take to score one batch (several plugin calls for a batch over 1,024 events)",
                )
                .with_unit("s")
                .with_boundaries(bounds(0.000_025, 17))
                .build(),
        })
    }

    pub(crate) fn events_in(&self, source: &str, n: u64) {
        self.events_in.add(n, &[KeyValue::new("source", source.to_owned())]);
    }

    pub(crate) fn anomalies(&self, n: u64) {
        self.anomalies.add(n, &[]);
    }

    pub(crate) fn store_commit(&self, elapsed: Duration) {
        self.store_commit.record(elapsed.as_secs_f64(), &[]);
    }

    pub(crate) fn plugin_call(&self, plugin: &str, elapsed: Duration) {
        self.plugin_call.record(elapsed.as_secs_f64(), &[KeyValue::new("plugin", plugin.to_owned())]);
    }
}

#[cfg(test)]
mod log_filter_tests {
    use super::log_filter;

    #[test]
    fn a_vigil_log_that_is_not_a_filter_is_reported_with_a_hint_and_logs_at_info() {
        // `VIGIL_LOG='bogus==='` started at info without a word.
        let problem = log_filter(Some("bogus===")).expect_err("not a filter");
        assert!(problem.starts_with("VIGIL_LOG=\"bogus===\" is not a log filter ("), "{problem}");
        assert!(problem.contains("hint: ") && problem.contains("VIGIL_LOG=info,vigil::source=debug"), "{problem}");
        for good in [None, Some(""), Some("warn"), Some("info,vigil::source=debug")] {
            assert!(log_filter(good).is_ok(), "{good:?}");
        }
        assert_eq!(log_filter(Some("warn")).unwrap().to_string(), "warn");
        assert_eq!(log_filter(None).unwrap().to_string(), "info");
    }
}
