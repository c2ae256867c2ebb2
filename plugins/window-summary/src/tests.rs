//! Native unit tests of the summarizer: exact numbers for known windows, and the bounds.

use crate::config::Config;
use crate::patterns::{SeenPatterns, pattern_hash, pattern_of};
use crate::report::Report;
use crate::summarizer::WindowSummary;
use crate::topk::TopK;
use vigil_plugin_sdk::prelude::*;
use vigil_plugin_sdk::{Anomaly, OwnedEvent, borrow_all};

const T0: i64 = 1_743_510_000_000; // 2025-04-01T12:20:00Z

fn event(ip: &str, method: &str, url: &str, status: u16, bytes: u64) -> OwnedEvent {
    OwnedEvent {
        timestamp_ms: T0,
        ip: ip.into(),
        method: method.into(),
        url: url.into(),
        status_code: status,
        bytes_sent: bytes,
        user_agent: "curl/8".into(),
        raw: String::new(),
    }
}

fn normal(n: usize) -> Judgements {
    Judgements { scores: vec![0.1; n], anomalies: Vec::new() }
}

fn window() -> Window {
    Window { start_ms: T0, end_ms: T0 + 60_000 }
}

fn fold_report(s: &mut WindowSummary, events: &[OwnedEvent], judgements: &Judgements) -> Report {
    s.fold(&borrow_all(events), judgements).unwrap();
    s.report(window())
}

fn summarizer() -> WindowSummary {
    WindowSummary::with_config(Config::default()).unwrap()
}

#[test]
fn counts_by_status_class_and_method_are_exact() {
    let events = vec![
        event("10.0.0.1", "GET", "/a", 200, 100),
        event("10.0.0.1", "GET", "/a", 201, 100),
        event("10.0.0.2", "POST", "/b", 302, 100),
        event("10.0.0.2", "GET", "/c", 404, 100),
        event("10.0.0.3", "DELETE", "/d", 503, 100),
        event("", "", "", 0, 0),
    ];
    let r = fold_report(&mut summarizer(), &events, &normal(events.len()));
    assert_eq!(r.events, 6);
    assert_eq!(r.http_events, 5);
    let classes: Vec<(&str, u64)> = r.status_classes.iter().map(|(k, v)| (*k, *v)).collect();
    assert_eq!(classes, [("1xx", 0), ("2xx", 2), ("3xx", 1), ("4xx", 1), ("5xx", 1), ("other", 1)]);
    let methods: Vec<(&str, u64)> = r.methods.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(methods, [("DELETE", 1), ("GET", 3), ("POST", 1)]);
    assert_eq!(r.first_event.as_deref(), Some("2025-04-01T12:20:00Z"));
    assert_eq!(r.window_start, "2025-04-01T12:20:00Z");
    assert_eq!(r.window_end, "2025-04-01T12:21:00Z");
}

#[test]
fn error_rates_count_4xx_and_5xx_over_http_events() {
    let mut events: Vec<OwnedEvent> = (0..6).map(|_| event("1.1.1.1", "GET", "/", 200, 10)).collect();
    events.push(event("1.1.1.1", "GET", "/x", 404, 10));
    events.push(event("1.1.1.1", "GET", "/y", 500, 10));
    events.push(event("", "", "", 0, 0)); // not HTTP: left out of the rates
    let r = fold_report(&mut summarizer(), &events, &normal(events.len()));
    assert_eq!(r.error_rate, 2.0 / 8.0);
    assert_eq!(r.server_error_rate, 1.0 / 8.0);
    assert!(r.text().contains("error rate 25.0% (5xx 12.5%)"), "{}", r.text());
}

#[test]
fn top_lists_rank_by_count_then_value_and_drop_query_strings() {
    let mut events = Vec::new();
    for (ip, n) in [("10.0.0.9", 3), ("10.0.0.1", 5), ("10.0.0.5", 3)] {
        for i in 0..n {
            events.push(event(ip, "GET", &format!("/items?page={i}"), 200, 1));
        }
    }
    events.push(event("10.0.0.7", "GET", "/login", 200, 1));
    let r = fold_report(&mut summarizer(), &events, &normal(events.len()));
    let ips: Vec<(&str, u64)> = r.top_ips.top.iter().map(|c| (c.value.as_str(), c.count)).collect();
    assert_eq!(ips, [("10.0.0.1", 5), ("10.0.0.5", 3), ("10.0.0.9", 3), ("10.0.0.7", 1)]);
    assert!(r.top_ips.exact);
    assert_eq!(r.top_ips.distinct, 4);
    let urls: Vec<(&str, u64)> = r.top_urls.top.iter().map(|c| (c.value.as_str(), c.count)).collect();
    assert_eq!(urls, [("/items", 11), ("/login", 1)]);
    assert_eq!(r.top_user_agents.top[0].count, 12);
}

#[test]
fn bytes_percentiles_use_nearest_rank() {
    // Sizes 1..=100: p50 = 50, p90 = 90, p95 = 95, p99 = 99 by nearest rank.
    let events: Vec<OwnedEvent> = (1..=100).rev().map(|b| event("1.1.1.1", "GET", "/", 200, b)).collect();
    let r = fold_report(&mut summarizer(), &events, &normal(events.len()));
    let b = r.bytes.unwrap();
    assert_eq!((b.min, b.p50, b.p90, b.p95, b.p99, b.max, b.total), (1, 50, 90, 95, 99, 100, 5050));
    assert!(b.exact);
}

#[test]
fn bytes_percentiles_past_the_sample_are_estimates_from_a_bounded_sample() {
    let config = Config { bytes_sample: 100, ..Config::default() };
    let mut s = WindowSummary::with_config(config).unwrap();
    let events: Vec<OwnedEvent> = (1..=10_000).map(|b| event("1.1.1.1", "GET", "/", 200, b)).collect();
    let b = fold_report(&mut s, &events, &normal(events.len())).bytes.unwrap();
    assert!(!b.exact);
    assert_eq!((b.min, b.max, b.total), (1, 10_000, 50_005_000));
    assert!((3_500..=6_500).contains(&b.p50), "median of a uniform sample of 1..=10000: {}", b.p50);
}

#[test]
fn anomalies_list_top_reasons_and_highest_scores() {
    let events: Vec<OwnedEvent> = (0..5).map(|i| event("6.6.6.6", "GET", &format!("/admin/{i}"), 403, 10)).collect();
    let anomaly = |index: u32, score: f32, reason: &str| Anomaly {
        index,
        event_id: 100 + i64::from(index),
        score,
        detector: "isolation-forest".into(),
        reason: reason.into(),
    };
    let judgements = Judgements {
        scores: vec![0.7, 0.9, 0.2, 0.8, -1.0],
        anomalies: vec![anomaly(0, 0.7, "rare url"), anomaly(1, 0.9, "rare url"), anomaly(3, 0.8, "many 4xx")],
    };
    let config = Config { anomalies_listed: 2, ..Config::default() };
    let mut s = WindowSummary::with_config(config).unwrap();
    let r = fold_report(&mut s, &events, &judgements);
    let a = &r.anomalies;
    assert_eq!(a.count, 3);
    assert_eq!(a.max_score, 0.9);
    assert_eq!(a.unscored_events, 1);
    let reasons: Vec<(&str, u64)> = a.top_reasons.top.iter().map(|c| (c.value.as_str(), c.count)).collect();
    assert_eq!(reasons, [("rare url", 2), ("many 4xx", 1)]);
    let ids: Vec<i64> = a.highest.iter().map(|h| h.event_id).collect();
    assert_eq!(ids, [101, 103]);
    assert_eq!(a.highest[0].url, "/admin/1");
    assert!(r.text().contains("3 anomalies (highest score 0.90)"), "{}", r.text());
}

#[test]
fn url_patterns_are_new_only_in_the_window_they_first_appear() {
    let mut s = summarizer();
    let first = vec![event("1.1.1.1", "GET", "/users/1", 200, 1), event("1.1.1.1", "GET", "/users/2?x=1", 200, 1)];
    let r1 = fold_report(&mut s, &first, &normal(2));
    assert_eq!(r1.new_url_patterns.count, 1);
    assert_eq!(r1.new_url_patterns.patterns, ["/users/{n}"]);
    assert!(r1.new_url_patterns.baseline, "nothing came before the first window");

    let second = vec![
        event("1.1.1.1", "GET", "/users/3", 200, 1),
        event("1.1.1.1", "GET", "/orders/0f3a9c2e77", 200, 1),
        event("1.1.1.1", "GET", "/orders/1b2c3d4e5f", 200, 1),
    ];
    let r2 = fold_report(&mut s, &second, &normal(3));
    assert_eq!(r2.new_url_patterns.count, 1);
    assert_eq!(r2.new_url_patterns.patterns, ["/orders/{id}"]);
    assert!(!r2.new_url_patterns.baseline);
    assert!(r2.text().contains("1 new URL patterns: /orders/{id}."), "{}", r2.text());
}

#[test]
fn pattern_hash_agrees_with_the_pattern() {
    let urls = [
        "/",
        "",
        "/a/b",
        "/a/12/b?q=1",
        "/x/deadbeef12/y#f",
        &format!("/{}", "s".repeat(50)),
        "/1/2/3/4/5/6/7/8/9/10/11/12/13/14",
    ];
    for url in urls {
        let direct = pattern_hash(&pattern_of(url));
        assert_eq!(pattern_hash(url), direct, "{url:?} -> {:?}", pattern_of(url));
    }
    assert_eq!(pattern_of("/1/2/3/4/5/6/7/8/9/10/11/12/13/14"), "/{n}/{n}/{n}/{n}/{n}/{n}/{n}/{n}/{n}/{n}/{n}/{n}/…");
}

#[test]
fn seen_patterns_stay_within_their_capacity() {
    let mut seen = SeenPatterns::new(1_000);
    for h in 0..100_000u64 {
        seen.is_new(h);
        assert!(seen.len() <= 1_000);
    }
    // A pattern in steady use is never forgotten.
    let mut steady = SeenPatterns::new(1_000);
    steady.is_new(u64::MAX);
    for h in 0..100_000u64 {
        steady.is_new(h);
        if h % 100 == 0 {
            assert!(!steady.is_new(u64::MAX));
        }
    }
}

#[test]
fn top_k_keeps_heavy_hitters_with_bounded_keys() {
    let mut top = TopK::new(10);
    for i in 0..100_000u32 {
        top.add(&format!("rare-{i}"));
        if i % 10 == 0 {
            top.add("heavy");
        }
    }
    let list = top.top(3);
    assert_eq!(list.top[0].value, "heavy");
    assert!(list.top[0].count >= 10_000, "{list:?}");
    assert!(!list.exact);
    assert_eq!(list.distinct, 100_001);
}

#[test]
fn snapshot_restore_keeps_the_seen_patterns() {
    let mut s = summarizer();
    fold_report(&mut s, &[event("1.1.1.1", "GET", "/known/1", 200, 1)], &normal(1));
    let state = s.snapshot();
    let mut restored = summarizer();
    restored.restore(&state).unwrap();
    assert_eq!(restored.patterns_remembered(), 1);
    let r = fold_report(&mut restored, &[event("1.1.1.1", "GET", "/known/2", 200, 1)], &normal(1));
    assert_eq!(r.new_url_patterns.count, 0);
    assert!(!r.new_url_patterns.baseline);
    let err = restored.restore(b"\xff\xff garbage").unwrap_err();
    assert!(err.contains("snapshot"), "{err}");
}

#[test]
fn out_of_range_config_is_refused_naming_the_key() {
    let err = WindowSummary::with_config(Config { top_n: 0, ..Config::default() }).err().unwrap();
    assert_eq!(err, "top_n = 0 is out of range; give 1 to 100");
    let err = serde_json::from_str::<Config>(r#"{"topn": 3}"#).unwrap_err().to_string();
    assert!(err.contains("unknown field `topn`"), "{err}");
}

#[test]
fn emitted_summary_carries_text_and_json() {
    let mut s = summarizer();
    s.fold(&borrow_all(&[event("1.1.1.1", "GET", "/", 200, 5)]), &normal(1)).unwrap();
    let summary = s.emit(window()).unwrap();
    let data: serde_json::Value = serde_json::from_str(&summary.data).unwrap();
    assert_eq!(data["events"], 1);
    assert_eq!(data["top_ips"]["top"][0]["value"], "1.1.1.1");
    assert!(
        summary.text.starts_with("From 2025-04-01T12:20:00Z to 2025-04-01T12:21:00Z: 1 events"),
        "{}",
        summary.text
    );
}
