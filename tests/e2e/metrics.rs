//! `GET /metrics` on the real agent: after ingesting over HTTP and from a tailed file, the
//! Prometheus text carries the right counts per source, the rejections, the parse errors and
//! the latency histograms.

use crate::agent::Agent;
use crate::http::request;
use serde_json::json;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// GET a path and return the status, the content type and the body as text.
pub fn get_text(addr: SocketAddr, path: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let content_type = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-type:").map(|v| v.trim().to_owned()))
        .unwrap_or_default();
    (status, content_type, body.to_owned())
}

/// The value of the sample named exactly `series` (name and labels as printed), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

fn log(i: usize) -> serde_json::Value {
    json!({ "ip": format!("10.0.0.{i}"), "timestamp": "2025-04-01T12:34:56Z", "method": "GET",
            "url": "/api/v1/data", "status_code": 200, "bytes_sent": 500, "user_agent": "Mozilla/5.0" })
}

#[test]
fn metrics_count_events_per_source_rejections_parse_errors_and_latencies() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("logs")).unwrap();
    let good = format!(
        "10.1.0.1 - - [{}:00:00:00 +0000] \"GET /a HTTP/1.1\" 200 512 \"-\" \"curl\"\n",
        crate::agent::clf_today()
    );
    std::fs::write(dir.path().join("logs/access.log"), format!("{good}{good}{good}this is not an access log\n"))
        .unwrap();
    let agent = Agent::start(
        dir.path(),
        &format!(
            "[[sources]]\ntype = \"file\"\nname = \"web\"\ninclude = [\"{}/logs/access.log\"]\nformat = \"combined\"\n\
             start_at = \"beginning\"\npoll_interval_ms = 50\n",
            dir.path().display()
        ),
    );

    let (status, _) = request(
        agent.addr,
        "POST",
        "/anomaly_detection",
        Some(&json!({ "logs": (0..5).map(log).collect::<Vec<_>>() })),
    );
    assert_eq!(status, 200);
    let (status, _) = request(agent.addr, "POST", "/anomaly_detection", Some(&json!({ "logs": [] })));
    assert_eq!(status, 422, "an empty batch is refused");

    let deadline = Instant::now() + Duration::from_secs(60);
    let text = loop {
        let (status, content_type, text) = get_text(agent.addr, "/metrics");
        assert_eq!(status, 200, "{text}");
        assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
        if sample(&text, "vigil_events_in_total{source=\"file:web\"}") == Some(4.0) {
            break text;
        }
        assert!(Instant::now() < deadline, "the file's 4 lines were not counted within 60 s:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    };

    assert_eq!(sample(&text, "vigil_events_in_total{source=\"api\"}"), Some(5.0), "{text}");
    assert_eq!(sample(&text, "vigil_events_committed_total"), Some(9.0), "{text}");
    assert_eq!(sample(&text, "vigil_rejected_total"), Some(1.0), "{text}");
    assert_eq!(sample(&text, "vigil_parse_errors_total{source=\"file:web\"}"), Some(1.0), "{text}");
    assert_eq!(sample(&text, "vigil_source_lines_total{source=\"file:web\"}"), Some(4.0), "{text}");
    assert_eq!(sample(&text, "vigil_queue_depth{queue=\"pipeline\"}"), Some(0.0), "{text}");
    assert_eq!(sample(&text, "vigil_chroma_outbox_depth"), Some(0.0), "{text}");
    assert!(sample(&text, "vigil_anomalies_total").is_some(), "{text}");
    // One commit per batch; the API's and the file's events may share a batch.
    let commits = sample(&text, "vigil_store_commit_seconds_count").unwrap();
    assert!(commits >= 1.0, "{text}");
    assert_eq!(sample(&text, "vigil_store_commit_seconds_bucket{le=\"+Inf\"}"), Some(commits), "{text}");
    // Scored twice at least: the API's batch in-line and the file's batch in the pipeline.
    let label = "plugin=\"isolation-forest\"";
    assert!(sample(&text, &format!("vigil_plugin_call_seconds_count{{{label}}}")).unwrap() >= 2.0, "{text}");
    assert!(sample(&text, &format!("vigil_plugin_calls_total{{{label}}}")).unwrap() >= 2.0, "{text}");
    assert!(text.contains("# TYPE vigil_plugin_call_seconds histogram"), "{text}");
    // The forest's linear memory: its tables (the per-IP table alone is 2 MiB), under its cap.
    let memory = sample(&text, &format!("vigil_plugin_memory_bytes{{{label}}}")).unwrap();
    assert!((2.0 * 1048576.0..256.0 * 1048576.0).contains(&memory), "{text}");
    // The default summarizer is a plugin too, with its own queue; it folds the commits soon
    // after they are made.
    let folded = |text: &str| sample(text, "vigil_plugin_calls_total{plugin=\"window-summary\"}");
    let text = loop {
        let (_, _, text) = get_text(agent.addr, "/metrics");
        if folded(&text).is_some_and(|n| n >= 1.0) {
            break text;
        }
        assert!(Instant::now() < deadline, "the summarizer made no call within 60 s:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(sample(&text, "vigil_plugin_failures_total{plugin=\"window-summary\"}"), Some(0.0), "{text}");
    assert!(sample(&text, "vigil_queue_depth{queue=\"summarizer:window-summary\"}").is_some(), "{text}");
}
