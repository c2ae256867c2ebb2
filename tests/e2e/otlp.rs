//! OpenTelemetry export: the real binary with `[telemetry] otlp_endpoint` pointing at an
//! OTLP/HTTP receiver started by the test, which decodes the protobuf bodies the agent sends.

use crate::agent::{Agent, plugin_path};
use crate::http::request;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Everything the receiver decoded, per signal.
#[derive(Default)]
struct Received {
    logs: Vec<ExportLogsServiceRequest>,
    traces: Vec<ExportTraceServiceRequest>,
    metrics: Vec<ExportMetricsServiceRequest>,
}

type Shared = Arc<Mutex<Received>>;

/// Decode one request body or answer 400 (a body the exporter should never send).
fn decode<T: Message + Default>(body: &Bytes) -> Result<T, (axum::http::StatusCode, String)> {
    T::decode(body.as_ref()).map_err(|e| (axum::http::StatusCode::BAD_REQUEST, e.to_string()))
}

/// An OTLP/HTTP receiver (protobuf) on 127.0.0.1, on its own runtime.
struct Receiver {
    addr: SocketAddr,
    received: Shared,
    _runtime: tokio::runtime::Runtime,
}

impl Receiver {
    fn start() -> Receiver {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let received = Shared::default();
        let app = Router::new()
            .route(
                "/v1/logs",
                post(|State(r): State<Shared>, body: Bytes| async move {
                    decode::<ExportLogsServiceRequest>(&body).map(|req| r.lock().unwrap().logs.push(req))
                }),
            )
            .route(
                "/v1/traces",
                post(|State(r): State<Shared>, body: Bytes| async move {
                    decode::<ExportTraceServiceRequest>(&body).map(|req| r.lock().unwrap().traces.push(req))
                }),
            )
            .route(
                "/v1/metrics",
                post(|State(r): State<Shared>, body: Bytes| async move {
                    decode::<ExportMetricsServiceRequest>(&body).map(|req| r.lock().unwrap().metrics.push(req))
                }),
            )
            .with_state(received.clone());
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { addr, received, _runtime: runtime }
    }

    /// Wait up to `within` for `found` to hold on what was received.
    fn wait_for<T>(&self, within: Duration, found: impl Fn(&Received) -> Option<T>) -> Option<T> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(value) = found(&self.received.lock().unwrap()) {
                return Some(value);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a any_value::Value> {
    attributes.iter().find(|kv| kv.key == key)?.value.as_ref()?.value.as_ref()
}

fn text(value: Option<&any_value::Value>) -> Option<&str> {
    match value {
        Some(any_value::Value::StringValue(s)) => Some(s),
        _ => None,
    }
}

fn service_name(resource: Option<&Resource>) -> Option<&str> {
    text(attribute(&resource?.attributes, "service.name"))
}

/// The anomaly records among the received logs, with their resource's service name.
fn anomaly_records(r: &Received) -> Vec<(Option<String>, LogRecord)> {
    let mut records = Vec::new();
    for request in &r.logs {
        for logs in &request.resource_logs {
            let service = service_name(logs.resource.as_ref()).map(str::to_owned);
            for scope in &logs.scope_logs {
                for record in &scope.log_records {
                    if record.event_name == "vigil.anomaly" {
                        records.push((service.clone(), record.clone()));
                    }
                }
            }
        }
    }
    records
}

#[test]
fn anomalies_spans_and_metrics_reach_an_otlp_receiver() {
    let receiver = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    // The constant-score fixture makes every event an anomaly with a known score.
    let config = format!(
        "[telemetry]\notlp_endpoint = \"http://{}\"\nservice_name = \"vigil-e2e\"\nmetrics_interval_secs = 1\n\
         [[detectors]]\nplugin = {:?}\nthreshold = 0.5\n[detectors.config]\nscore = 0.9375\n",
        receiver.addr,
        plugin_path("vigil-fixture-constant-score").display().to_string()
    );
    let agent = Agent::start(dir.path(), &config);

    let log = json!({
        "ip": "203.0.113.77",
        "timestamp": "2025-04-01T12:34:56Z",
        "method": "POST",
        "url": "/cgi-bin/../../etc/passwd",
        "status_code": 500,
        "bytes_sent": 987654,
        "user_agent": "sqlmap/1.7"
    });
    let (status, body) = request(agent.addr, "POST", "/anomaly_detection", Some(&json!({ "logs": [log] })));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["anomalies_detected"], 1, "{body}");

    // Exported while the agent runs (the log batch goes out within about a second).
    let records = receiver.wait_for(Duration::from_secs(20), |r| Some(anomaly_records(r)).filter(|a| !a.is_empty()));
    let records = records.expect("no anomaly log record reached the receiver within 20 s");
    assert_eq!(records.len(), 1, "one record per anomaly");
    let (service, record) = &records[0];
    assert_eq!(service.as_deref(), Some("vigil-e2e"));
    let at = |key: &str| attribute(&record.attributes, key).unwrap_or_else(|| panic!("no {key} in {record:?}"));
    assert_eq!(text(Some(at("ip"))), Some("203.0.113.77"));
    assert_eq!(text(Some(at("method"))), Some("POST"));
    assert_eq!(text(Some(at("url"))), Some("/cgi-bin/../../etc/passwd"));
    assert_eq!(text(Some(at("detector"))), Some("constant-score"));
    assert_eq!(text(Some(at("source"))), Some("api"));
    assert!(text(Some(at("reason"))).is_some());
    assert_eq!(at("status_code"), &any_value::Value::IntValue(500));
    assert_eq!(at("anomaly_score"), &any_value::Value::DoubleValue(0.9375));
    assert!(matches!(at("event_id"), any_value::Value::IntValue(id) if *id >= 1));
    // The event's own time, not the export's.
    assert_eq!(record.time_unix_nano, 1_743_510_896_000_000_000);
    assert_eq!(record.severity_text, "WARN");
    let body = match record.body.as_ref().and_then(|b: &AnyValue| b.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        other => panic!("the body is text, got {other:?}"),
    };
    assert!(body.contains("/cgi-bin/../../etc/passwd"), "{body}");

    // SIGTERM: shutdown flushes the spans and the last metrics.
    assert!(agent.terminate().success());
    let received = receiver.received.lock().unwrap();
    let spans: Vec<_> = received
        .traces
        .iter()
        .flat_map(|t| &t.resource_spans)
        .filter(|rs| service_name(rs.resource.as_ref()) == Some("vigil-e2e"))
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans)
        .collect();
    let commit = spans
        .iter()
        .find(|s| s.name == "commit")
        .unwrap_or_else(|| panic!("no commit span among {:?}", spans.iter().map(|s| &s.name).collect::<Vec<_>>()));
    assert_eq!(attribute(&commit.attributes, "events"), Some(&any_value::Value::IntValue(1)));
    assert!(commit.end_time_unix_nano >= commit.start_time_unix_nano && commit.trace_id.len() == 16);

    let metrics: Vec<&str> = received
        .metrics
        .iter()
        .flat_map(|m| &m.resource_metrics)
        .flat_map(|rm| &rm.scope_metrics)
        .flat_map(|sm| &sm.metrics)
        .map(|m| m.name.as_str())
        .collect();
    for name in ["vigil.events.in", "vigil.anomalies", "vigil.store.commit.duration"] {
        assert!(metrics.contains(&name), "no {name} among {metrics:?}");
    }
}

#[test]
fn a_receiver_that_is_down_neither_slows_ingestion_nor_holds_the_shutdown() {
    // A port nothing listens on: every export is refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[telemetry]\notlp_endpoint = \"http://127.0.0.1:{port}\"\nmetrics_interval_secs = 1\n\
         [[detectors]]\nplugin = {:?}\nthreshold = 0.5\n[detectors.config]\nscore = 0.9\n",
        plugin_path("vigil-fixture-constant-score").display().to_string()
    );
    let agent = Agent::start(dir.path(), &config);
    let logs: Vec<_> = (0..200)
        .map(|i| {
            json!({ "ip": format!("198.51.100.{}", i % 250), "timestamp": "2025-04-01T12:00:00Z", "method": "GET",
            "url": "/", "status_code": 200, "bytes_sent": 1, "user_agent": "t" })
        })
        .collect();
    let started = Instant::now();
    for _ in 0..5 {
        let (status, body) = request(agent.addr, "POST", "/anomaly_detection", Some(&json!({ "logs": logs })));
        assert_eq!((status, body["anomalies_detected"].as_u64()), (200, Some(200)), "{body}");
    }
    assert!(started.elapsed() < Duration::from_secs(10), "ingestion waited on the export: {:?}", started.elapsed());
    let stopping = Instant::now();
    assert!(agent.terminate().success());
    assert!(stopping.elapsed() < Duration::from_secs(18), "shutdown took {:?}", stopping.elapsed());
}

#[test]
fn a_telemetry_change_in_the_watched_file_is_reported_as_needing_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(dir.path(), "");
    let text = format!(
        "data_dir = {:?}\n[api]\naddress = \"127.0.0.1:0\"\n[telemetry]\notlp_endpoint = \"http://127.0.0.1:4318\"\n",
        dir.path().join("data").display().to_string()
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut written = Instant::now() - Duration::from_secs(60);
    loop {
        // Like an editor: a temporary file renamed over the config; again every second, as
        // the watcher may not be watching yet right after start-up.
        if written.elapsed() > Duration::from_secs(1) {
            let tmp = dir.path().join(".vigil.toml.tmp");
            std::fs::write(&tmp, &text).unwrap();
            std::fs::rename(&tmp, dir.path().join("vigil.toml")).unwrap();
            written = Instant::now();
        }
        let (status, body) = request(agent.addr, "GET", "/health", None);
        assert_eq!(status, 200, "{body}");
        if body["config"]["needs_restart"] == json!(["telemetry"]) {
            break;
        }
        assert!(Instant::now() < deadline, "telemetry is not listed under needs_restart within 20 s: {body:#}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
