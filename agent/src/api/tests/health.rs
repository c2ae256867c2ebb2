//! `/health` and `/api/v1/plugins`: what is healthy, and each way the agent turns degraded.

use super::*;

#[tokio::test]
async fn health_is_healthy_with_a_utc_timestamp_and_detector_states() {
    let (status, body) = send(app(), "GET", "/health", None, Body::empty()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "healthy");
    let timestamp = body["timestamp"].as_str().unwrap();
    assert!(timestamp.ends_with('Z'), "{timestamp}");
    let parsed: jiff::Timestamp = timestamp.parse().unwrap();
    assert!((jiff::Timestamp::now() - parsed).get_seconds().abs() < 60);
    assert!(body["uptime_seconds"].is_u64());
    assert_eq!(body["detectors"][0]["name"], "constant-score");
    assert_eq!(body["detectors"][0]["failures"], 0);
}

/// The window summary under a fuel limit that a big batch exhausts, as the app's summarizer.
fn app_with_a_fuel_limited_summarizer() -> (axum::Router, crate::summarize::Summarizers, crate::summarize::SummaryFeed)
{
    use crate::config::{PluginLimits, PluginSource};
    let settings = settings(1 << 20, 100);
    let mut state = crate::testing::app_context(constant_detectors(0.3, 0.5), settings);
    let engine = crate::detect::PluginEngine::with_fuel(None, true).unwrap();
    let spec = crate::summarize::SummarizerSpec {
        name: Some("tight".into()),
        source: PluginSource::Builtin("window-summary"),
        window: std::time::Duration::from_secs(3600),
        queue: 4,
        limits: PluginLimits {
            max_memory_bytes: 64 << 20,
            call_timeout: std::time::Duration::from_secs(5),
            // A call of MAX_CALL_EVENTS takes more (see the summarizer's fuel test).
            fuel: Some(1_000_000),
        },
        config_json: "{}".into(),
    };
    let (summarizers, feed) =
        crate::summarize::Summarizers::start(&engine, &[spec], state.store.clone(), Default::default()).unwrap();
    state.summaries = summarizers.board();
    (router(state.into()), summarizers, feed)
}

#[tokio::test]
async fn plugins_lists_summarizers_beside_detectors_and_a_failing_one_degrades_health() {
    let (app, summarizers, feed) = app_with_a_fuel_limited_summarizer();
    let (status, body) = get(app.clone(), "/api/v1/plugins", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (body["detectors"][0]["name"].as_str(), body["detectors"][0]["world"].as_str()),
        (Some("constant-score"), Some("detector"))
    );
    let s = &body["summarizers"][0];
    assert_eq!(
        (s["name"].as_str(), s["world"].as_str(), s["state"].as_str()),
        (Some("tight"), Some("summarizer"), Some("ready"))
    );
    assert_eq!(s["version"], env!("CARGO_PKG_VERSION"), "{s:#}");
    assert_eq!(s["digest"].as_str().map(str::len), Some(64), "{s:#}");
    assert_eq!(s["limits"], json!({"max_memory_mib": 64, "call_timeout_ms": 5000, "fuel": 1_000_000}));
    assert_eq!((s["calls"].as_u64(), s["failures"].as_u64(), s["restarts"].as_u64()), (Some(0), Some(0), Some(0)));
    assert_eq!((s["latency_ms"]["mean"].clone(), s["last_error"].clone()), (Value::Null, Value::Null));
    // Both instances hold memory from the start: their code's data and their first tables.
    for plugin in [s, &body["detectors"][0]] {
        assert!(plugin["memory_bytes"].as_u64().is_some_and(|b| b >= 64 << 10), "{plugin:#}");
    }
    assert_eq!(get(app.clone(), "/health", None).await.1["status"], "healthy");
    // The OpenAPI document describes every field of both kinds, and no other.
    let (_, doc) = get(app.clone(), "/openapi.json", None).await;
    for (kind, schema) in [("detectors", "DetectorPlugin"), ("summarizers", "SummarizerPlugin")] {
        let schema = &doc["components"]["schemas"][schema];
        let mut described: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
        let mut answered: Vec<&String> = body[kind][0].as_object().unwrap().keys().collect();
        described.sort();
        answered.sort();
        assert_eq!(described, answered, "{kind}");
    }

    // 5,000 events in one batch: folding its first 1,024 takes more than the fuel of a call.
    let events = (0..5_000)
        .map(|i| crate::store::ScoredEvent {
            event: crate::event::Event {
                url: format!("/p/{i}/x{i}"),
                method: "GET".into(),
                status_code: 200,
                ..Default::default()
            },
            anomaly_score: None,
        })
        .collect();
    feed.offer(crate::store::CommitBatch { events, ..Default::default() }, 1, jiff::Timestamp::now().as_millisecond());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let health = loop {
        let (_, health) = get(app.clone(), "/health", None).await;
        if health["status"] == "degraded" {
            break health;
        }
        assert!(std::time::Instant::now() < deadline, "not degraded within 30 s: {health:#}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(health["summarizers"][0]["state"], "failing", "{health:#}");
    let (_, body) = get(app, "/api/v1/plugins", None).await;
    let s = &body["summarizers"][0];
    assert_eq!((s["calls"].as_u64(), s["failures"].as_u64(), s["restarts"].as_u64()), (Some(1), Some(1), Some(1)));
    assert!(s["last_error"].as_str().unwrap().contains("ran out of fuel"), "{s:#}");
    assert!(s["last_failure_at"].is_string() && s["latency_ms"]["max"].as_f64().unwrap() > 0.0, "{s:#}");
    tokio::task::spawn_blocking(move || summarizers.stop()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_degraded_while_store_commits_fail_and_the_waiting_batch_is_kept() {
    let settings = settings(1 << 20, 1000);
    let state = app_state(constant_detectors(0.85, 0.5), settings);
    let store = state.store.clone();
    let app = router(state);
    let (_, health) = get(app.clone(), "/health", None).await;
    assert_eq!((health["status"].clone(), health["store"].clone()), (json!("healthy"), json!({ "state": "ok" })));

    // The database may not grow by a page: SQLite's own "database or disk is full".
    {
        let writer = store.writer();
        let pages: i64 = writer.conn.query_row("PRAGMA page_count", [], |r| r.get(0)).unwrap();
        writer.conn.execute_batch(&format!("PRAGMA max_page_count = {pages}")).unwrap();
    }
    let logs: Vec<Value> = (0..500).map(|i| with("url", json!(format!("/full/{i}")))["logs"][0].clone()).collect();
    let request = tokio::spawn(detect(app.clone(), json!({ "logs": logs }).to_string()));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let health = loop {
        let (status, health) = get(app.clone(), "/health", None).await;
        assert_eq!(status, StatusCode::OK);
        if health["status"] == "degraded" {
            break health;
        }
        assert!(std::time::Instant::now() < deadline, "not degraded within 30 s: {health:#}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let failing = &health["store"];
    assert_eq!(failing["state"], "failing", "{health:#}");
    let error = failing["error"].as_str().unwrap();
    assert!(error.contains("the disk is full") && error.contains("hint:"), "{error}");
    assert!(failing["failing_since"].as_str().unwrap().parse::<jiff::Timestamp>().is_ok(), "{failing}");
    assert!(!request.is_finished(), "the batch waits for its commit");

    // Room again: the waiting batch is committed and answered, and health is back.
    store.writer().conn.execute_batch("PRAGMA max_page_count = 1073741823").unwrap();
    let (status, body) = tokio::time::timeout(std::time::Duration::from_secs(30), request).await.unwrap().unwrap();
    assert_eq!((status, body["total_logs"].as_u64()), (StatusCode::OK, Some(500)), "{body}");
    let (_, health) = get(app.clone(), "/health", None).await;
    assert_eq!((health["status"].clone(), health["store"].clone()), (json!("healthy"), json!({ "state": "ok" })));
    let (_, stats) = get(app, "/api/v1/stats", None).await;
    assert_eq!(stats["store"]["events"], 500, "{stats:#}");
}

#[tokio::test]
async fn a_batch_no_detector_can_score_is_refused_whole_and_a_broken_fallback_degrades_health() {
    use crate::config::{Fallback, PluginSource};
    use crate::testing::{engine, plugin_path, spec};
    // One verdict too few, and a fallback that cannot start: nothing scores the batch.
    let mut short = spec(PluginSource::File(plugin_path("vigil-fixture-misbehave")), 0.5, r#"{"mode":"short"}"#);
    short.fallback = Fallback::Builtin("no-such-builtin");
    let detectors = crate::detect::DetectorSet::start(engine(), &[short]).unwrap();
    let settings = settings(1 << 20, 100);
    let app = router(app_state(detectors, settings));
    let answer = detect(app.clone(), json!({ "logs": [log(), log(), log()] }).to_string()).await;
    let message = answer.1["message"].as_str().unwrap_or("").to_owned();
    assert!(message.contains("2 verdicts for 3 events") && message.contains("cannot start"), "{message}");
    // A 503 stored nothing: resending it duplicates nothing.
    assert_error(answer, StatusCode::SERVICE_UNAVAILABLE, "detector_unavailable", "nothing of this request was stored");
    let (_, stats) = get(app.clone(), "/api/v1/stats", None).await;
    assert_eq!(stats["store"]["events"], 0, "{stats:#}");
    // Once the plugin's backoff is over it is `ready` again, but the fallback that could not
    // start is still broken.
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let (_, health) = get(app, "/health", None).await;
    let detector = &health["detectors"][0];
    assert_eq!(
        (health["status"].as_str(), detector["state"].as_str()),
        (Some("degraded"), Some("ready")),
        "{health:#}"
    );
    assert!(detector["fallback_error"].as_str().unwrap_or("").contains("no such builtin"), "{detector:#}");
}
