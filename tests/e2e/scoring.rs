//! Scores come from the configured .wasm component, through the real binary and socket.

use crate::agent::{Agent, plugin_path};
use crate::http::request;
use serde_json::{Value, json};

fn log(i: usize, url: &str, status: u16, bytes: u64) -> Value {
    json!({
        "ip": format!("10.0.{}.{}", i / 250, i % 250 + 1),
        "timestamp": format!("2025-04-01T12:{:02}:{:02}Z", (i / 60) % 60, i % 60),
        "method": "GET",
        "url": url,
        "status_code": status,
        "bytes_sent": bytes,
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64)"
    })
}

#[test]
fn wasm_component_configured_by_path_decides_the_score() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = plugin_path("vigil-fixture-constant-score");
    let config = format!(
        "[[detectors]]\nplugin = {:?}\nthreshold = 0.4\n[detectors.config]\nscore = 0.4242\n",
        fixture.display().to_string()
    );
    let agent = Agent::start(dir.path(), &config);

    let (status, body) =
        request(agent.addr, "POST", "/anomaly_detection", Some(&json!({ "logs": [log(1, "/", 200, 10)] })));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["anomalies_detected"], 1);
    assert_eq!(body["anomaly_details"][0]["anomaly_score"], 0.4242);
    assert_eq!(body["anomaly_details"][0]["detector"], "constant-score");
}

#[test]
fn a_plugin_that_prints_on_every_call_is_scored_and_stored_from_small_requests() {
    // Small batches are scored in place on the server's async threads, where wasmtime-wasi's
    // own stderr once panicked on the first `eprintln!`: the request got no answer and its
    // logs were not stored.
    let dir = tempfile::tempdir().unwrap();
    let fixture = plugin_path("vigil-fixture-misbehave");
    let config = format!(
        "[[detectors]]\nplugin = {:?}\nthreshold = 0.4\n[detectors.config]\nmode = \"behave\"\nprint_kib = 2\n",
        fixture.display().to_string()
    );
    let agent = Agent::start(dir.path(), &config);
    for round in 0..3 {
        let logs: Vec<Value> = (0..3).map(|i| log(round * 3 + i, "/", 200, 10)).collect();
        let (status, body) = request(agent.addr, "POST", "/anomaly_detection", Some(&json!({ "logs": logs })));
        assert_eq!((status, body["total_logs"].as_u64()), (200, Some(3)), "{body}");
    }
    let (_, stats) = request(agent.addr, "GET", "/api/v1/stats", None);
    assert_eq!(stats["events_total"], 9);
    let (_, plugins) = request(agent.addr, "GET", "/api/v1/plugins", None);
    assert_eq!(plugins["detectors"][0]["failures"], 0, "{plugins}");
}

#[test]
fn builtin_isolation_forest_scores_an_obvious_outlier_above_the_bulk() {
    let dir = tempfile::tempdir().unwrap();
    // Threshold 0 lists every log with its score.
    let agent = Agent::start(dir.path(), "[[detectors]]\nplugin = \"builtin:isolation-forest\"\nthreshold = 0.0\n");

    let normal: Vec<Value> =
        (0..1000).map(|i| log(i, &format!("/products/{}", i % 40), 200, 2000 + (i as u64 % 300))).collect();
    let (status, body) = request(agent.addr, "POST", "/anomaly_detection", Some(&json!({ "logs": normal })));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["total_logs"], 1000);

    let mut batch: Vec<Value> = (0..20).map(|i| log(i, &format!("/products/{}", i % 40), 200, 2100)).collect();
    batch.push(log(
        7,
        "/cgi-bin/../../../../etc/passwd?cmd=%27%3B%20cat%20%2Fetc%2Fshadow%3B%27&x=1&y=2&z=3",
        500,
        987_654_321,
    ));
    let (status, body) = request(agent.addr, "POST", "/anomaly_detection", Some(&json!({ "logs": batch })));
    assert_eq!(status, 200, "{body}");
    let details = body["anomaly_details"].as_array().unwrap();
    assert_eq!(details.len(), 21, "threshold 0 lists every log");
    let score = |d: &Value| d["anomaly_score"].as_f64().unwrap();
    let outlier = details.iter().find(|d| d["index"] == 20).unwrap();
    let bulk_max = details.iter().filter(|d| d["index"] != 20).map(score).fold(0.0, f64::max);
    assert!(score(outlier) > bulk_max, "outlier {} vs bulk max {bulk_max}", score(outlier));
    assert!(details.iter().all(|d| (0.0..=1.0).contains(&score(d))));
    assert!(!outlier["reason"].as_str().unwrap().is_empty(), "an anomaly carries a reason");
}

#[test]
fn a_restart_loads_the_compiled_plugin_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let config = "[[detectors]]\nplugin = \"builtin:isolation-forest\"\n";
    let first = Agent::start(dir.path(), config);
    let cache = dir.path().join("data/plugin-cache");
    let artifacts = || -> Vec<(std::path::PathBuf, std::time::SystemTime)> {
        std::fs::read_dir(&cache)
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
            .map(|e| (e.path(), e.metadata().unwrap().modified().unwrap()))
            .collect()
    };
    let written = artifacts();
    // The detector and the default summarizer (builtin:window-summary).
    assert_eq!(written.len(), 2, "one precompiled component per plugin after the first start");
    assert!(first.terminate().success());

    let second = Agent::start(dir.path(), config);
    assert_eq!(artifacts(), written, "the second start reused the artifact instead of compiling again");
    let (status, _) = request(second.addr, "GET", "/health", None);
    assert_eq!(status, 200);
}

#[test]
fn sigterm_stops_the_agent_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(dir.path(), "");
    let (status, body) = request(agent.addr, "GET", "/", None);
    assert_eq!(status, 200);
    assert_eq!(body["message"], "Vigil log management server is running");
    assert!(agent.terminate().success());
}
