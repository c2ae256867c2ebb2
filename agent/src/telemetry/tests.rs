use super::*;
use crate::config::Config;
use crate::event::Event;
use crate::pipeline::AnomalyNotice;
use opentelemetry::logs::{AnyValue, LoggerProvider as _};
use opentelemetry_sdk::logs::{InMemoryLogExporter, SdkLoggerProvider};
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

fn parse(text: &str) -> Result<Config, crate::config::ConfigErrors> {
    Config::parse(text, "test.toml", Path::new("."))
}

#[test]
fn no_telemetry_section_exports_nothing() {
    assert_eq!(parse("").unwrap().telemetry, TelemetrySettings { otlp: None });
    assert_eq!(parse("[telemetry]\nservice_name = \"edge-1\"\n").unwrap().telemetry.otlp, None);
}

#[test]
fn telemetry_section_resolves_with_its_defaults() {
    let config = parse("[telemetry]\notlp_endpoint = \"http://127.0.0.1:4318/\"\n").unwrap();
    let otlp = config.telemetry.otlp.expect("an endpoint turns export on");
    assert_eq!(otlp.endpoint, "http://127.0.0.1:4318", "the trailing slash is dropped");
    assert_eq!(otlp.signal_url("logs"), "http://127.0.0.1:4318/v1/logs");
    assert_eq!(otlp.service_name, "vigil");
    assert_eq!(otlp.metrics_interval, Duration::from_secs(60));
    assert_eq!(otlp.timeout, Duration::from_secs(10));
    assert!(otlp.export_traces && otlp.export_anomalies);

    let config = parse(
        "[telemetry]\notlp_endpoint = \"https://otel.example.com\"\nservice_name = \"edge-1\"\n\
         metrics_interval_secs = 5\nexport_anomalies = false\nheaders = { \"x-api-key\" = \"k\" }\n",
    )
    .unwrap();
    let otlp = config.telemetry.otlp.unwrap();
    assert_eq!((otlp.service_name.as_str(), otlp.metrics_interval), ("edge-1", Duration::from_secs(5)));
    assert!(!otlp.export_anomalies);
    assert_eq!(otlp.headers.get("x-api-key").map(String::as_str), Some("k"));
}

#[test]
fn bad_telemetry_values_are_each_reported_with_their_field() {
    let err = parse("[telemetry]\notlp_endpoint = \"127.0.0.1:4318\"\nmetrics_interval_secs = 0\n").unwrap_err();
    let fields: Vec<_> = err.0.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["telemetry.metrics_interval_secs", "telemetry.otlp_endpoint"], "{err}");
    assert!(err.0[1].hint.as_deref().unwrap().contains("http://127.0.0.1:4318"));

    let err = parse("[telemetry]\notlp_endpoint = \"http://127.0.0.1:4318/v1/logs\"\n").unwrap_err();
    assert!(err.0[0].message.contains("base URL"), "{err}");
    let err = parse("[telemetry]\notlp_endpoint = \"grpc://127.0.0.1:4317\"\n").unwrap_err();
    assert!(err.0[0].message.contains("http or https"), "{err}");
}

#[test]
fn unknown_telemetry_field_is_rejected() {
    let err = parse("[telemetry]\notlp_endpiont = \"http://127.0.0.1:4318\"\n").unwrap_err();
    assert!(err.0[0].message.contains("unknown field `otlp_endpiont`"), "{err}");
    assert_eq!(err.0[0].line, Some(2));
}

fn notice() -> (AnomalyNotice, Event) {
    let notice = AnomalyNotice {
        id: 42,
        anomaly_id: 7,
        timestamp: "2025-04-01T12:00:00Z".into(),
        ip: "203.0.113.9".into(),
        method: "GET".into(),
        url: "/etc/passwd".into(),
        status_code: 500,
        anomaly_score: 0.875,
        detector: "isolation-forest".into(),
        reason: "url never seen".into(),
        source: "api".into(),
    };
    let event = Event {
        timestamp_ms: 1_743_508_800_000,
        ip: notice.ip.clone(),
        method: notice.method.clone(),
        url: notice.url.clone(),
        status_code: 500,
        bytes_sent: 1,
        user_agent: String::new(),
        raw: String::new(),
        source: "api".into(),
        referer: None,
        latency_ms: None,
        fields: Default::default(),
        template_id: None,
    };
    (notice, event)
}

#[test]
fn an_anomaly_becomes_a_log_record_with_its_attributes_and_event_time() {
    let exporter = InMemoryLogExporter::default();
    let provider = SdkLoggerProvider::builder().with_simple_exporter(exporter.clone()).build();
    let export = AnomalyExport::start(provider.logger("vigil")).unwrap();
    let (notice, event) = notice();
    export.offer(&notice, &event);
    assert!(export.flush(Duration::from_secs(5)));

    let logs = exporter.get_emitted_logs().unwrap();
    assert_eq!(logs.len(), 1);
    let record = &logs[0].record;
    assert_eq!(record.event_name(), Some(anomalies::EVENT_NAME));
    assert_eq!(record.timestamp(), Some(UNIX_EPOCH + Duration::from_millis(1_743_508_800_000)));
    let attribute = |key: &str| {
        record.attributes_iter().find(|(k, _)| k.as_str() == key).map(|(_, v)| v.clone()).unwrap_or_else(|| {
            panic!("no attribute {key}");
        })
    };
    assert_eq!(attribute("ip"), AnyValue::from("203.0.113.9".to_owned()));
    assert_eq!(attribute("status_code"), AnyValue::Int(500));
    assert_eq!(attribute("event_id"), AnyValue::Int(42));
    assert_eq!(attribute("anomaly_score"), AnyValue::Double(0.875));
    assert_eq!(attribute("detector"), AnyValue::from("isolation-forest".to_owned()));
    let Some(AnyValue::String(body)) = record.body() else { panic!("a text body") };
    assert!(body.as_str().contains("/etc/passwd"), "structured input gets a short description: {body}");
    assert_eq!(export.dropped(), 0);
}

#[test]
fn a_full_export_queue_drops_and_counts_instead_of_waiting() {
    let (export, _held) = AnomalyExport::unstarted();
    let (notice, event) = notice();
    let started = std::time::Instant::now();
    for _ in 0..anomalies::QUEUE + 25 {
        export.offer(&notice, &event);
    }
    assert_eq!(export.dropped(), 25);
    assert!(started.elapsed() < Duration::from_secs(2), "offering never waits");
}

#[test]
fn scoring_calls_after_a_reload_are_timed_under_the_new_detectors_name() {
    use crate::config::PluginSource;
    use crate::testing::{engine, spec};
    let named = |name: &str| {
        let mut s = spec(PluginSource::Builtin("isolation-forest"), 0.6, "{}");
        s.name = Some(name.to_owned());
        s
    };
    let detectors = crate::detect::DetectorSet::start(engine(), &[named("before")]).unwrap();
    let instruments = metrics::Instruments::default();
    instruments.observe_scoring(&detectors, Duration::from_millis(1));
    detectors.reconfigure(&[named("after"), named("other")]).unwrap();
    instruments.observe_scoring(&detectors, Duration::from_millis(1));
    instruments.observe_scoring(&detectors, Duration::from_millis(1));
    let text = metrics::render(&metrics::Readings::default(), &instruments);
    let count = |label: &str| {
        let series = format!("vigil_plugin_call_seconds_count{{plugin=\"{label}\"}} ");
        text.lines().find_map(|l| l.strip_prefix(&series)).map(|v| v.trim().to_owned())
    };
    assert_eq!(count("before").as_deref(), Some("1"), "{text}");
    assert_eq!(count("after+other").as_deref(), Some("2"), "{text}");
}
