//! Host tests of the summarizers: the real `builtin:window-summary` plugin fed known batches,
//! with the exact numbers of the summary it stores.

use super::config::{SummarizerSpec, parse_window};
use super::feed::{CommittedBatch, MAX_QUEUED_EVENTS, SummaryFeed};
use super::host::SummarizerHost;
use super::runner::SummarizerLane;
use super::set::Summarizers;
use crate::config::{Config, PluginLimits, PluginSource};
use crate::event::Event;
use crate::pipeline::Monitor;
use crate::store::{CommitBatch, NewAnomaly, ScoredEvent, SummaryQuery};
use crate::testing;
use serde_json::json;
use std::path::Path;
use std::time::Duration;

/// A minute boundary an hour ago: recent enough that summary retention keeps its windows.
fn t0() -> i64 {
    let now = super::runner::now_ms();
    now - now.rem_euclid(60_000) - 3_600_000
}

fn spec(window: Duration) -> SummarizerSpec {
    SummarizerSpec {
        name: None,
        source: PluginSource::Builtin("window-summary"),
        window,
        queue: 16,
        limits: PluginLimits { max_memory_bytes: 64 << 20, call_timeout: Duration::from_secs(5), fuel: None },
        config_json: "{}".into(),
    }
}

fn event(ip: &str, method: &str, url: &str, status: u16, bytes: u64) -> Event {
    Event {
        timestamp_ms: t0() - 5_000,
        ip: ip.into(),
        method: method.into(),
        url: url.into(),
        status_code: status,
        bytes_sent: bytes,
        user_agent: "curl/8.5".into(),
        source: "api".into(),
        ..Event::default()
    }
}

fn batch(committed_ms: i64, first_id: i64, events: Vec<Event>, anomalous: &[(usize, f32, &str)]) -> CommittedBatch {
    let anomalies = anomalous
        .iter()
        .map(|&(i, score, reason)| NewAnomaly {
            event_index: i,
            detector: "isolation-forest".into(),
            score,
            reason: reason.into(),
        })
        .collect();
    let events = events
        .into_iter()
        .enumerate()
        .map(|(i, event)| {
            let score = anomalous.iter().find(|a| a.0 == i).map_or(0.2, |a| a.1);
            ScoredEvent { event, anomaly_score: Some(score) }
        })
        .collect();
    CommittedBatch { committed_ms, first_id, events, anomalies }
}

fn lane(store: std::sync::Arc<crate::store::Store>, monitor: Monitor) -> SummarizerLane {
    let host = SummarizerHost::start(testing::engine(), &spec(Duration::from_secs(60))).expect("window-summary starts");
    SummarizerLane::standalone(host, Duration::from_secs(60), store, monitor)
}

/// Ten known requests over two batches, two of them anomalous.
fn known_batches() -> Vec<CommittedBatch> {
    let first = vec![
        event("10.0.0.1", "GET", "/index.html", 200, 100),
        event("10.0.0.1", "GET", "/index.html", 200, 200),
        event("10.0.0.1", "GET", "/api/items/17", 200, 300),
        event("10.0.0.2", "POST", "/login", 302, 400),
        event("10.0.0.2", "POST", "/login", 401, 500),
    ];
    let second = vec![
        event("10.0.0.1", "GET", "/api/items/18?x=1", 200, 600),
        event("10.0.0.3", "GET", "/missing", 404, 700),
        event("10.0.0.3", "GET", "/admin/../etc/passwd", 404, 800),
        event("10.0.0.3", "GET", "/admin/../etc/passwd", 500, 900),
        event("10.0.0.2", "DELETE", "/api/items/17", 204, 1000),
    ];
    vec![
        batch(t0() + 1_000, 1, first, &[]),
        batch(t0() + 30_000, 6, second, &[(2, 0.91, "rare url; 4xx"), (3, 0.85, "rare url; 4xx")]),
    ]
}

#[test]
fn known_events_give_exact_summary_numbers() {
    let store = testing::store();
    let monitor = Monitor::default();
    let mut ws = monitor.subscribe();
    let mut lane = lane(store.clone(), monitor);
    for b in known_batches() {
        assert!(lane.receive(&b).is_none(), "the window is still open");
    }
    assert!(lane.tick(t0() + 59_999).is_none(), "the window closes at its end, not before");
    let stored = lane.tick(t0() + 60_000).expect("the closed window is summarized");

    let s = &stored.summary;
    assert_eq!((s.window_start_ms, s.window_end_ms), (t0(), t0() + 60_000));
    assert_eq!((s.events, s.anomalies, s.skipped_events, s.partial), (10, 2, 0, false));
    assert_eq!((s.first_event_ms, s.last_event_ms), (Some(t0() - 5_000), Some(t0() - 5_000)));
    let d = serde_json::Value::Object(s.data.clone());
    assert_eq!(d["status_classes"], json!({"1xx": 0, "2xx": 5, "3xx": 1, "4xx": 3, "5xx": 1, "other": 0}));
    assert_eq!(d["methods"], json!({"DELETE": 1, "GET": 7, "POST": 2}));
    assert_eq!(d["error_rate"], json!(0.4));
    assert_eq!(d["server_error_rate"], json!(0.1));
    assert_eq!(d["top_ips"]["top"][0], json!({"value": "10.0.0.1", "count": 4}));
    assert_eq!(d["top_ips"]["top"][1], json!({"value": "10.0.0.2", "count": 3}));
    // Four paths have 2 requests each: ties go by name.
    assert_eq!(d["top_urls"]["top"][0], json!({"value": "/admin/../etc/passwd", "count": 2}));
    assert_eq!(d["top_urls"]["top"][1], json!({"value": "/api/items/17", "count": 2}));
    assert_eq!(d["top_user_agents"]["top"][0], json!({"value": "curl/8.5", "count": 10}));
    assert_eq!(
        d["bytes"],
        json!({"total": 5500, "min": 100, "max": 1000, "p50": 500, "p90": 900, "p95": 1000, "p99": 1000, "exact": true})
    );
    assert_eq!(d["anomalies"]["count"], 2);
    assert_eq!(d["anomalies"]["top_reasons"]["top"][0], json!({"value": "rare url; 4xx", "count": 2}));
    assert_eq!(d["anomalies"]["highest"][0]["event_id"], 8);
    assert_eq!(d["anomalies"]["highest"][1]["event_id"], 9);
    // index.html, /api/items/{n}, /login, /missing, /admin/../etc/passwd.
    assert_eq!(d["new_url_patterns"]["count"], 5);
    assert!(s.text.contains("10 events, 10 HTTP requests"), "{}", s.text);

    let listed = store.summaries(&SummaryQuery::default()).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0], stored);
    // Indexed for search in the same transaction: the nearest summary to its own words.
    let embedder = crate::embed::default_embedder();
    let query = embedder.embed("POST /login 401 error rate anomalies rare url");
    let filter = crate::vector::Filter::none();
    let hits =
        store.nearest_vectors(crate::vector::Collection::Summaries, embedder.as_ref(), &query, 1, &filter).unwrap();
    assert_eq!(hits[0].id, format!("summary-{}", stored.id));
    let message: serde_json::Value = serde_json::from_str(&ws.try_recv().expect("a /ws message").0).unwrap();
    assert_eq!(message["type"], "summary");
    assert_eq!(message["id"], stored.id);
    assert_eq!(message["events"], 10);
}

#[test]
fn a_batch_of_a_later_window_closes_the_open_one_first() {
    let store = testing::store();
    let mut lane = lane(store.clone(), Monitor::default());
    let [first, _] = known_batches().try_into().unwrap();
    assert!(lane.receive(&first).is_none());
    let later = batch(t0() + 125_000, 6, vec![event("10.0.0.9", "GET", "/late", 200, 1)], &[]);
    let closed = lane.receive(&later).expect("the first window is summarized when a later batch arrives");
    assert_eq!((closed.summary.window_start_ms, closed.summary.events), (t0(), 5));
    let next = lane.tick(t0() + 180_000).expect("the later window closes in turn");
    assert_eq!((next.summary.window_start_ms, next.summary.events), (t0() + 120_000, 1));
    let data = serde_json::Value::Object(next.summary.data.clone());
    assert_eq!(data["new_url_patterns"]["patterns"], json!(["/late"]), "only /late is new in the second window");
    assert_eq!(data["new_url_patterns"]["baseline"], false);
}

#[test]
fn a_big_group_folds_in_calls_of_at_most_max_call_events_with_every_anomaly_in_its_place() {
    use crate::detect::MAX_CALL_EVENTS;
    let n = 2 * MAX_CALL_EVENTS + 452;
    let events: Vec<Event> =
        (0..n).map(|i| event("10.0.0.1", "GET", &format!("/p/{}", i % 10), 200, i as u64)).collect();
    // Anomalies at both ends of each call's part, and one alone in the last part.
    let at = [0, MAX_CALL_EVENTS - 1, MAX_CALL_EVENTS, 2 * MAX_CALL_EVENTS + 451];
    let anomalous: Vec<(usize, f32, &str)> = at.iter().map(|&i| (i, 0.7 + i as f32 / 1e5, "odd")).collect();
    let mut lane = lane(testing::store(), Monitor::default());
    lane.receive(&batch(t0() + 1_000, 1, events, &anomalous));
    assert_eq!(lane.plugin_calls(), 3, "three calls of 1024, 1024 and 452 events");
    let stored = lane.tick(t0() + 60_000).expect("summarized");
    assert_eq!((stored.summary.events, stored.summary.anomalies), (n as u64, 4));
    let d = serde_json::Value::Object(stored.summary.data.clone());
    let mut ids: Vec<i64> =
        d["anomalies"]["highest"].as_array().unwrap().iter().map(|a| a["event_id"].as_i64().unwrap()).collect();
    ids.sort();
    assert_eq!(ids, at.map(|i| 1 + i as i64), "each anomaly keeps its own event's id: {d:#}");
}

#[test]
fn batches_taken_together_fold_in_one_call_per_window_with_the_same_summary() {
    let later = || batch(t0() + 125_000, 11, vec![event("10.0.0.9", "GET", "/late", 200, 1)], &[]);
    let mut one_by_one = lane(testing::store(), Monitor::default());
    let [first, second] = known_batches().try_into().unwrap();
    let closed: Vec<_> = [first, second, later()].iter().filter_map(|b| one_by_one.receive(b)).collect();
    let mut together = lane(testing::store(), Monitor::default());
    let mut batches = known_batches();
    batches.push(later());
    let refs: Vec<&CommittedBatch> = batches.iter().collect();
    let closed_together = together.receive_all(&refs);

    assert_eq!(closed.len(), 1);
    assert_eq!(closed_together.len(), 1, "the later batch closes the first window");
    let (a, b) = (&closed[0].summary, &closed_together[0].summary);
    assert_eq!((b.window_start_ms, b.events, b.anomalies), (t0(), 10, 2));
    assert_eq!(a.data, b.data, "the same summary whether batches come one by one or together");
    let d = serde_json::Value::Object(b.data.clone());
    assert_eq!(d["anomalies"]["highest"][0]["event_id"], 8, "anomalies keep their events' ids");
    assert_eq!(d["anomalies"]["highest"][1]["event_id"], 9);
    assert_eq!(
        one_by_one.plugin_calls() - together.plugin_calls(),
        1,
        "the two batches of the first window went to the plugin in one call"
    );
}

#[test]
fn windows_without_events_store_nothing() {
    let store = testing::store();
    let mut lane = lane(store.clone(), Monitor::default());
    assert!(lane.tick(t0() + 600_000).is_none());
    assert!(lane.close(t0() + 600_000).is_none());
    assert!(store.summaries(&SummaryQuery::default()).unwrap().is_empty());
}

#[test]
fn shutdown_stores_the_open_window_as_partial_and_the_next_start_remembers_its_patterns() {
    let store = testing::store();
    let mut lane = lane(store.clone(), Monitor::default());
    let [first, _] = known_batches().try_into().unwrap();
    lane.receive(&first);
    let partial = lane.close(t0() + 20_000).expect("the open window is kept at shutdown");
    assert!(partial.summary.partial);
    assert_eq!((partial.summary.window_end_ms, partial.summary.events), (t0() + 20_000, 5));

    // A new start resumes the saved snapshot: the same URL patterns are not new any more.
    let (summarizers, feed) =
        Summarizers::start(testing::engine(), &[spec(Duration::from_secs(60))], store.clone(), Monitor::default())
            .unwrap();
    let again = known_batches().remove(0);
    let events = again.events.into_iter().map(|e| e.event).collect::<Vec<_>>();
    feed.offer(
        CommitBatch {
            events: events.into_iter().map(|event| ScoredEvent { event, anomaly_score: None }).collect(),
            ..Default::default()
        },
        20,
        crate::summarize::runner::now_ms(),
    );
    drop(feed);
    summarizers.stop();
    let latest = &store.summaries(&SummaryQuery { limit: Some(1), ..Default::default() }).unwrap()[0];
    let data = serde_json::Value::Object(latest.summary.data.clone());
    assert_eq!(data["new_url_patterns"]["count"], 0, "{data}");
    assert_eq!(data["new_url_patterns"]["baseline"], false);
    assert_eq!(data["anomalies"]["unscored_events"], 5);
}

#[test]
fn a_full_queue_skips_batches_and_counts_their_events() {
    let (feed, receivers) = SummaryFeed::new(&[1]);
    let three = |n| CommitBatch {
        events: (0..n)
            .map(|_| ScoredEvent { event: event("1.1.1.1", "GET", "/", 200, 1), anomaly_score: None })
            .collect(),
        ..Default::default()
    };
    feed.offer(three(3), 1, t0());
    feed.offer(three(4), 4, t0());
    feed.offer(three(5), 8, t0());
    let counters = &receivers[0].counters;
    let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(load(&counters.received_events), 3);
    assert_eq!(load(&counters.skipped_events), 9);
    assert_eq!(load(&counters.skipped_batches), 2);
    assert_eq!(load(&counters.queued), 1);
    assert_eq!(receivers[0].rx.try_recv().unwrap().first_id, 1);
}

#[test]
fn a_queue_holds_at_most_max_queued_events_however_many_batches_it_allows() {
    let (feed, receivers) = SummaryFeed::new(&[1000]);
    let batch = |n: u64| CommitBatch {
        events: (0..n)
            .map(|_| ScoredEvent { event: event("1.1.1.1", "GET", "/", 200, 1), anomaly_score: None })
            .collect(),
        ..Default::default()
    };
    let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    let counters = &receivers[0].counters;
    // An empty queue takes a batch larger than the bound.
    feed.offer(batch(MAX_QUEUED_EVENTS + 10), 1, t0());
    assert_eq!(load(&counters.queued_events), MAX_QUEUED_EVENTS + 10);
    feed.offer(batch(1), 2, t0());
    assert_eq!((load(&counters.skipped_events), load(&counters.queued)), (1, 1));
    receivers[0].rx.try_recv().unwrap();
    counters.queued_events.store(0, std::sync::atomic::Ordering::Relaxed); // what the runner does after folding it
    let half = MAX_QUEUED_EVENTS / 2;
    feed.offer(batch(half), 3, t0());
    feed.offer(batch(half), 4, t0());
    feed.offer(batch(1), 5, t0());
    assert_eq!(load(&counters.queued_events), MAX_QUEUED_EVENTS);
    assert_eq!((load(&counters.skipped_events), load(&counters.skipped_batches)), (2, 2));
}

#[test]
fn a_detector_component_is_refused_as_a_summarizer() {
    let mut spec = spec(Duration::from_secs(60));
    spec.source = PluginSource::Builtin("isolation-forest");
    let err = SummarizerHost::start(testing::engine(), &spec).err().expect("refused").to_string();
    assert_eq!(
        err,
        "plugin builtin:isolation-forest: is a detector (it exports the detector world), not a summarizer \
         (hint: configure it under [[detectors]])"
    );
}

#[test]
fn a_summarizer_component_is_refused_as_a_detector_with_where_it_goes() {
    let spec = crate::testing::spec(PluginSource::Builtin("window-summary"), 0.5, "{}");
    let err = crate::detect::DetectorHost::start(testing::engine(), &spec).err().expect("refused").to_string();
    assert!(err.contains("is a summarizer") && err.contains("[[summarizers]]"), "{err}");
}

#[test]
fn window_lengths_parse_and_out_of_range_ones_are_refused() {
    assert_eq!(parse_window("1m"), Ok(Duration::from_secs(60)));
    assert_eq!(parse_window("90s"), Ok(Duration::from_secs(90)));
    assert_eq!(parse_window("1h 30m"), Ok(Duration::from_secs(5400)));
    assert_eq!(parse_window("500ms"), Err("\"500ms\" is outside 1s to 24h".into()));
    assert_eq!(parse_window("25h"), Err("\"25h\" is outside 1s to 24h".into()));
    assert_eq!(parse_window("soon"), Err("\"soon\" is not a duration".into()));
}

fn parse(text: &str) -> Result<Config, String> {
    Config::parse(text, "test.toml", Path::new(".")).map_err(|e| e.to_string())
}

#[test]
fn summarizers_default_to_the_window_summary_every_minute_and_can_be_turned_off() {
    let config = parse("").unwrap();
    assert_eq!(config.summarizers.len(), 1);
    assert_eq!(config.summarizers[0].source, PluginSource::Builtin("window-summary"));
    assert_eq!(config.summarizers[0].window, Duration::from_secs(60));
    assert!(parse("summarizers = []").unwrap().summarizers.is_empty());
    let config = parse("[[summarizers]]\nplugin = \"builtin:window-summary\"\nwindow = \"5m\"\nqueue = 8\n").unwrap();
    assert_eq!((config.summarizers[0].window, config.summarizers[0].queue), (Duration::from_secs(300), 8));
}

#[test]
fn bad_summarizer_entries_are_refused_with_their_field() {
    let err = parse("[[summarizers]]\nplugin = \"builtin:nope\"\n").unwrap_err();
    assert!(err.contains("summarizers[0].plugin") && err.contains("window-summary"), "{err}");
    let err = parse("[[summarizers]]\nplugin = \"builtin:window-summary\"\nwindow = \"0s\"\n").unwrap_err();
    assert!(err.contains("summarizers[0].window") && err.contains("outside 1s to 24h"), "{err}");
    let err = parse("[[summarizers]]\nplugin = \"builtin:window-summary\"\nqueue = 0\n").unwrap_err();
    assert!(err.contains("summarizers[0].queue"), "{err}");
    let err = parse("[[summarizers]]\nplugin = \"builtin:window-summary\"\nwindw = \"1m\"\n").unwrap_err();
    assert!(err.contains("windw"), "{err}");
}

#[test]
fn an_empty_summarizer_name_is_refused_with_its_field() {
    // It became the key of the summarizer's summaries and saved state.
    let err = parse("[[summarizers]]\nplugin = \"builtin:window-summary\"\nname = \" \"\n").unwrap_err();
    assert!(err.contains("summarizers[0].name") && err.contains("is empty"), "{err}");
}

#[test]
fn a_summarizer_out_of_fuel_is_restarted_and_its_lost_events_are_counted() {
    let engine = crate::detect::PluginEngine::with_fuel(None, true).unwrap();
    let mut spec = spec(Duration::from_secs(60));
    // Enough for configuring and a few events, not for a call of MAX_CALL_EVENTS (3 M did
    // not last one either, 300 k was enough for the rest: tried).
    spec.limits.fuel = Some(1_000_000);
    let host = SummarizerHost::start(&engine, &spec).expect("configure fits in the fuel");
    let mut lane = SummarizerLane::standalone(host, Duration::from_secs(60), testing::store(), Monitor::default());
    let [small, _] = known_batches().try_into().unwrap();
    lane.receive(&small);
    let huge: Vec<Event> = (0..5_000).map(|i| event("10.9.9.9", "GET", &format!("/p/{i}/x{i}"), 200, i)).collect();
    lane.receive(&batch(t0() + 2_000, 100, huge, &[]));
    let (failures, restarts, error) = lane.failures();
    assert_eq!((failures, restarts), (1, 1));
    assert!(error.as_deref().unwrap_or("").contains("ran out of fuel"), "{error:?}");

    // The restarted instance goes on; the window's summary counts what was lost.
    let [_, second] = known_batches().try_into().unwrap();
    lane.receive(&second);
    let stored = lane.tick(t0() + 60_000).expect("a summary of what was folded after the restart");
    assert_eq!((stored.summary.events, stored.summary.skipped_events), (5, 5_005));
}

#[test]
fn a_fuel_limit_on_a_summarizer_alone_meters_fuel() {
    let config =
        parse("[[summarizers]]\nplugin = \"builtin:window-summary\"\n[summarizers.limits]\nfuel = 1000000000\n")
            .unwrap();
    assert!(config.meters_fuel(), "the engine meters fuel for a summarizer's limit");
    let engine = crate::detect::PluginEngine::with_fuel(None, config.meters_fuel()).unwrap();
    assert!(SummarizerHost::start(&engine, &config.summarizers[0]).is_ok());
    assert!(!parse("").unwrap().meters_fuel());
}

#[test]
fn a_summarizer_without_a_fuel_limit_runs_on_an_engine_that_meters_fuel() {
    // Metering is on for every plugin once some detector sets a fuel limit.
    let engine = crate::detect::PluginEngine::with_fuel(None, true).unwrap();
    let host = SummarizerHost::start(&engine, &spec(Duration::from_secs(60))).expect("starts on an unlimited tank");
    let mut lane = SummarizerLane::standalone(host, Duration::from_secs(60), testing::store(), Monitor::default());
    for b in known_batches() {
        lane.receive(&b);
    }
    assert_eq!(lane.failures().0, 0);
    assert_eq!(lane.tick(t0() + 60_000).expect("summarized").summary.events, 10);
}
