//! Summaries through the real binary: known logs are ingested, a one-second window closes,
//! and `/api/v1/summaries` serves the window-summary plugin's exact numbers.

use crate::agent::{Agent, plugin_path};
use crate::http::request;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Twelve known requests: 8 from 10.1.1.1, 3 from 10.1.1.2, 1 from 10.1.1.3.
fn known_logs() -> Vec<Value> {
    let log = |ip: &str, method: &str, url: &str, status: u16, bytes: u64| {
        json!({"ip": ip, "timestamp": "2025-04-01T12:34:56Z", "method": method, "url": url,
               "status_code": status, "bytes_sent": bytes, "user_agent": "e2e-agent/1.0"})
    };
    let mut logs = Vec::new();
    for i in 0..8 {
        logs.push(log("10.1.1.1", "GET", &format!("/products/{i}"), 200, 100 * (i + 1)));
    }
    logs.push(log("10.1.1.2", "POST", "/login", 401, 50));
    logs.push(log("10.1.1.2", "POST", "/login", 401, 50));
    logs.push(log("10.1.1.2", "POST", "/login", 500, 50));
    logs.push(log("10.1.1.3", "GET", "/wp-admin.php", 404, 10));
    logs
}

/// Poll until some summary is stored (summaries come on the window's schedule).
fn wait_for_summaries(agent: &Agent) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = request(agent.addr, "GET", "/api/v1/summaries", None);
        assert_eq!(status, 200, "{body}");
        if !body["summaries"].as_array().unwrap().is_empty() {
            return body;
        }
        assert!(Instant::now() < deadline, "no summary within 30 s of a 1 s window: {body}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn ingested_logs_are_summarized_per_window_and_served() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = plugin_path("vigil-fixture-constant-score");
    let config = format!(
        "[[detectors]]\nplugin = {:?}\nthreshold = 0.5\n[detectors.config]\nscore = 0.75\n\n\
         [[summarizers]]\nplugin = \"builtin:window-summary\"\nwindow = \"1s\"\n",
        fixture.display().to_string()
    );
    let agent = Agent::start(dir.path(), &config);
    let (status, answer) = request(agent.addr, "POST", "/anomaly_detection", Some(&json!({ "logs": known_logs() })));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["anomalies_detected"], 12);

    let body = wait_for_summaries(&agent);
    // One request is one commit, and a commit lands in exactly one window.
    let summaries = body["summaries"].as_array().unwrap();
    assert_eq!(summaries.len(), 1, "{body}");
    let s = &summaries[0];
    assert_eq!(s["summarizer"], "window-summary");
    assert_eq!(
        (s["events"].as_u64(), s["anomalies"].as_u64(), s["partial"].as_bool()),
        (Some(12), Some(12), Some(false))
    );
    assert_eq!(s["first_event"], "2025-04-01T12:34:56Z");
    let d = &s["data"];
    assert_eq!(d["status_classes"], json!({"1xx": 0, "2xx": 8, "3xx": 0, "4xx": 3, "5xx": 1, "other": 0}));
    assert_eq!(d["methods"], json!({"GET": 9, "POST": 3}));
    assert_eq!(d["error_rate"], json!(4.0 / 12.0));
    assert_eq!(d["top_ips"]["top"][0], json!({"value": "10.1.1.1", "count": 8}));
    assert_eq!(d["top_urls"]["top"][0], json!({"value": "/login", "count": 3}));
    assert_eq!(d["bytes"]["p50"], 200, "sizes 10, 50 x3, 100..=800: the 6th of 12");
    assert_eq!(d["bytes"]["max"], 800);
    assert_eq!(d["anomalies"]["top_reasons"]["top"][0], json!({"value": "constant-score fixture", "count": 12}));
    assert_eq!(d["new_url_patterns"]["count"], 3, "/products/{{n}}, /login, /wp-admin.php");
    let text = s["text"].as_str().unwrap();
    assert!(text.contains("12 events") && text.contains("10.1.1.1 (8)"), "{text}");

    let status = &body["summarizers"][0];
    assert_eq!((status["name"].as_str(), status["state"].as_str()), (Some("window-summary"), Some("ready")));
    assert_eq!((status["folded_events"].as_u64(), status["skipped_events"].as_u64()), (Some(12), Some(0)));

    // Filters: a range after the window finds nothing; a bad limit is a 400 naming it.
    let (status, later) = request(agent.addr, "GET", "/api/v1/summaries?from=2999-01-01T00:00:00Z", None);
    assert_eq!((status, later["summaries"].as_array().map(Vec::len)), (200, Some(0)));
    let (status, error) = request(agent.addr, "GET", "/api/v1/summaries?limit=0", None);
    assert_eq!((status, error["error"].as_str()), (400, Some("invalid_parameter")));
    assert!(error["message"].as_str().unwrap().starts_with("limit:"), "{error}");
    assert!(agent.terminate().success());
}
