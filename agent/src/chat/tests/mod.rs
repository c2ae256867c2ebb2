//! Chat over a known data set with a fixed "now" (2025-04-01T12:30:00Z): every answer is
//! checked for its exact number, IP or URL; plus the time windows, open questions, the LLM
//! path against a fake OpenAI-compatible server on 127.0.0.1, and the `/chat` handler.

mod attacks;
mod backfill;
mod breakdown;
mod filters;
mod not_asked;
mod system_logs;
mod text;
mod ties;
mod time_zone;
mod windows;

use super::timerange::{self, TimeRange};
use super::{Answer, Chat, ChatConfig, Clock};
use crate::event::Event;
use crate::store::{CommitBatch, NewAnomaly, ScoredEvent, Store};
use jiff::Timestamp;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex, OnceLock};

const NOW: &str = "2025-04-01T12:30:00Z";

fn at(text: &str) -> Timestamp {
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn now() -> Timestamp {
    at(NOW)
}

/// `count` events from `start`, `step_s` seconds apart, the same otherwise.
#[allow(clippy::too_many_arguments)]
fn series(
    out: &mut Vec<(Event, Option<(f32, &'static str)>)>,
    start: &str,
    step_s: i64,
    count: usize,
    ip: &str,
    method: &str,
    url: &str,
    status: u16,
    bytes: u64,
) {
    let start = at(start).as_millisecond();
    for i in 0..count {
        out.push((
            Event {
                timestamp_ms: start + i as i64 * step_s * 1000,
                ip: ip.into(),
                method: method.into(),
                url: url.into(),
                status_code: status,
                bytes_sent: bytes,
                user_agent: "Mozilla/5.0".into(),
                source: "api".into(),
                ..Event::default()
            },
            None,
        ));
    }
}

/// The data set. Today (2025-04-01, up to 12:30) has 63 events, yesterday 13, 76 in all.
///
/// Last hour (11:30-12:30, 38 events): 10.0.0.1 20× GET /index.html 200 (1000 B) from 11:40
/// every 10 s; 10.0.0.2 8× POST /login 401 (200 B) from 12:00 every 30 s, then 2× POST /login
/// 200 (300 B) at 12:20; 10.0.0.3 5× GET /api/v1/data 500 (50 B) from 12:10 every minute,
/// latencies 100..500 ms; 10.0.0.4 3× GET /missing 404 from 12:25 every 10 s.
/// Earlier today: 10.0.0.6 2× DELETE /admin 403 at 08:30; 10.0.0.5 12× GET
/// /api/v1/data?id=… 200 (500 B) from 09:10 every minute; 10.0.0.3 4× GET /api/v1/data 503
/// from 10:30 every minute; 10.0.0.1 7× GET /index.html 200 from 10:45 every 5 s.
/// Yesterday: 10.0.0.7 9× GET /report 200 from 15:00 every minute and 1× 500 at 15:30;
/// 10.0.0.8 3× PUT /upload 201 from 23:59:00 every 10 s.
///
/// Anomalies (7; 6 today, 5 in the last hour): the first two /api/v1/data 500s (0.91, 0.88),
/// three /login 401s (0.75, 0.80, 0.70), the first DELETE /admin (0.95), yesterday's /report
/// 500 (0.85).
fn events() -> Vec<(Event, Option<(f32, &'static str)>)> {
    let mut e = Vec::new();
    series(&mut e, "2025-03-31T15:00:00Z", 60, 9, "10.0.0.7", "GET", "/report", 200, 800);
    series(&mut e, "2025-03-31T15:30:00Z", 60, 1, "10.0.0.7", "GET", "/report", 500, 10);
    e.last_mut().unwrap().1 = Some((0.85, "rare status 500 on /report"));
    series(&mut e, "2025-03-31T23:59:00Z", 10, 3, "10.0.0.8", "PUT", "/upload", 201, 0);
    series(&mut e, "2025-04-01T08:30:00Z", 60, 2, "10.0.0.6", "DELETE", "/admin", 403, 0);
    let n = e.len();
    e[n - 2].1 = Some((0.95, "DELETE on /admin from a new client"));
    let start = e.len();
    series(&mut e, "2025-04-01T09:10:00Z", 60, 12, "10.0.0.5", "GET", "/api/v1/data", 200, 500);
    for (i, (event, _)) in e[start..].iter_mut().enumerate() {
        event.url = format!("/api/v1/data?id={i}");
    }
    series(&mut e, "2025-04-01T10:30:00Z", 60, 4, "10.0.0.3", "GET", "/api/v1/data", 503, 20);
    series(&mut e, "2025-04-01T10:45:00Z", 5, 7, "10.0.0.1", "GET", "/index.html", 200, 1000);
    series(&mut e, "2025-04-01T11:40:00Z", 10, 20, "10.0.0.1", "GET", "/index.html", 200, 1000);
    let start = e.len();
    series(&mut e, "2025-04-01T12:00:00Z", 30, 8, "10.0.0.2", "POST", "/login", 401, 200);
    for (i, score) in [(0, 0.75), (3, 0.80), (6, 0.70)] {
        e[start + i].1 = Some((score, "burst of failed logins on /login"));
    }
    series(&mut e, "2025-04-01T12:20:00Z", 30, 2, "10.0.0.2", "POST", "/login", 200, 300);
    let start = e.len();
    series(&mut e, "2025-04-01T12:10:00Z", 60, 5, "10.0.0.3", "GET", "/api/v1/data", 500, 50);
    for (i, (event, flag)) in e[start..].iter_mut().enumerate() {
        event.latency_ms = Some(100.0 * (i + 1) as f64);
        if i < 2 {
            *flag = Some((if i == 0 { 0.91 } else { 0.88 }, "rare status 500 on /api/v1/data"));
        }
    }
    series(&mut e, "2025-04-01T12:25:00Z", 10, 3, "10.0.0.4", "GET", "/missing", 404, 0);
    e
}

fn load(store: &Store) {
    let rows = events();
    let anomalies = rows
        .iter()
        .enumerate()
        .filter_map(|(i, (_, flag))| {
            flag.map(|(score, reason)| NewAnomaly {
                event_index: i,
                detector: "isolation-forest".into(),
                score,
                reason: reason.into(),
            })
        })
        .collect();
    let events = rows
        .into_iter()
        .map(|(event, flag)| ScoredEvent { event, anomaly_score: Some(flag.map_or(0.2, |(s, _)| s)) })
        .collect();
    store.commit(&CommitBatch { events, anomalies, ..CommitBatch::default() }).expect("the data set commits");
    for (start, end, text) in SUMMARIES {
        store.insert_summary(&summary(start, end, text)).expect("a summary is stored");
    }
}

/// The summaries of the data set; stored in this order, they get ids 1, 2 and 3.
const SUMMARIES: [(&str, &str, &str); 3] = [
    (
        "2025-04-01T12:00:00Z",
        "2025-04-01T12:05:00Z",
        "8 events, 3 anomalies; 4xx 8. POST /login 8 times from 10.0.0.2 (401); top reason: burst of failed logins",
    ),
    ("2025-04-01T11:40:00Z", "2025-04-01T11:45:00Z", "20 events, no anomaly; GET /index.html 20 times from 10.0.0.1"),
    ("2025-03-31T15:00:00Z", "2025-03-31T16:00:00Z", "10 events, 1 anomaly; GET /report 10 times, one rare status 500"),
];

/// One store with the data set for all tests (the store is read-only for chat).
fn store() -> Arc<Store> {
    static STORE: OnceLock<Arc<Store>> = OnceLock::new();
    STORE
        .get_or_init(|| {
            let store = crate::testing::store();
            load(&store);
            store
        })
        .clone()
}

fn chat() -> Chat {
    Chat::new(&Default::default()).with_clock(Clock::Fixed(now()))
}

fn ask(question: &str) -> Answer {
    chat().answer_from_data(&store(), question).unwrap_or_else(|e| panic!("{question}: {e}"))
}

/// Asserts the intent, that `facts[key]` is `value`, and that the words say it too.
fn expect(question: &str, intent: &str, key: &str, value: Value, words: &[&str]) -> Answer {
    let answer = ask(question);
    let shown = serde_json::to_string_pretty(&answer).unwrap();
    assert_eq!(answer.intent, intent, "{question}: {shown}");
    assert_eq!(pointer(&answer.facts, key), &value, "{question}: facts.{key} in {shown}");
    for w in words {
        assert!(answer.response.contains(w), "{question}: {:?} should contain {w:?}", answer.response);
    }
    answer
}

fn pointer<'a>(facts: &'a Value, key: &str) -> &'a Value {
    facts.pointer(&format!("/{}", key.replace('.', "/"))).unwrap_or(&Value::Null)
}

// --- Counts ---

#[test]
fn counts_status_codes_in_windows() {
    expect("How many 500s in the last hour?", "count", "count", json!(5), &["5 requests with status 500"]);
    expect("how many 500 errors today", "count", "count", json!(5), &["5 requests"]);
    expect("How many 500s were there?", "count", "count", json!(6), &["6 requests", "all stored data"]);
    expect("how many 5xx errors today?", "count", "count", json!(9), &["9 requests with status 5xx"]);
    expect("count the 404s in the last 15 minutes", "count", "count", json!(3), &["3 requests with status 404"]);
    expect("How many server errors yesterday?", "count", "count", json!(1), &["1 request with status 5xx"]);
    expect("how many not found responses today", "count", "count", json!(3), &["status 404"]);
}

#[test]
fn counts_requests_by_ip_url_and_method() {
    expect("How many requests did 10.0.0.1 send today?", "count", "count", json!(27), &["27 requests", "10.0.0.1"]);
    expect("how many requests to /login today?", "count", "count", json!(10), &["10 requests to /login"]);
    expect("how many 401s on /login in the last hour", "count", "count", json!(8), &["8 requests"]);
    // The path matches itself with any query string: 5 + 12 + 4.
    expect("number of requests to /api/v1/data today", "count", "count", json!(21), &["21 requests"]);
    expect("How many POST requests today?", "count", "count", json!(10), &["10 POST requests"]);
    expect("how many requests in total?", "count", "count", json!(76), &["76 requests"]);
}

#[test]
fn counts_follow_each_time_window() {
    expect("how many requests in the last 15 minutes", "count", "count", json!(5), &["in the last 15 minutes"]);
    expect("how many requests between 9 and 11", "count", "count", json!(23), &["23 requests"]);
    expect("how many requests since 10:00?", "count", "count", json!(49), &["49 requests", "since 10:00"]);
    expect("how many requests on 2025-03-31?", "count", "count", json!(13), &["13 requests"]);
    expect("how many requests yesterday", "count", "count", json!(13), &["2025-03-31T00:00:00Z"]);
    expect("how many requests today?", "count", "count", json!(63), &["63 requests"]);
    expect("how many requests in the past 2 hours", "count", "count", json!(49), &["49 requests"]);
    expect("how many requests between 23:00 and 23:59:30 yesterday", "count", "count", json!(3), &["3 requests"]);
}

// --- Rates ---

#[test]
fn rates_are_exact_shares() {
    let a =
        expect("What is the error rate in the last hour?", "rate", "percent", json!(42.11), &["42.11%", "16 of 38"]);
    assert_eq!(a.facts["matching"], 16);
    expect("error rate today", "rate", "percent", json!(34.92), &["22 of 63"]);
    expect("what percentage of requests were 404s in the last hour?", "rate", "matching", json!(3), &["7.89%"]);
    expect("what share of requests to /login failed today?", "rate", "percent", json!(80.0), &["8 of 10"]);
    expect("requests per minute in the last 15 minutes", "request_rate", "per_minute", json!(0.33), &["5 requests"]);
    expect("what is the request rate per second in the last hour", "request_rate", "count", json!(38), &["38"]);
}

// --- Top-N ---

#[test]
fn top_ips_and_urls() {
    let a = expect("Which IP sent the most requests today?", "top", "top.0.ip", json!("10.0.0.1"), &["10.0.0.1", "27"]);
    assert_eq!(a.facts["top"][0]["count"], 27);
    assert_eq!(a.facts["top"].as_array().unwrap().len(), 1);
    let a = expect("top 3 IPs today", "top", "top.1.ip", json!("10.0.0.5"), &["10.0.0.5 (12 requests)"]);
    assert_eq!(a.facts["top"][2], json!({ "ip": "10.0.0.2", "count": 10 }));
    expect("who sent the most requests in the last hour", "top", "top.0.ip", json!("10.0.0.1"), &["20 requests"]);
    expect("most requested URL today", "top", "top.0.url", json!("/index.html"), &["/index.html"]);
    expect("which endpoint had the most errors today?", "top", "top.0.url", json!("/api/v1/data"), &["9 requests"]);
    expect("which url had the most 404s", "top", "top.0.url", json!("/missing"), &["/missing", "3 requests"]);
    expect("top urls yesterday", "top", "top.0.url", json!("/report"), &["/report (10 requests)"]);
    expect("which IP had the most anomalies today?", "top", "top.0.ip", json!("10.0.0.2"), &["3 anomalies"]);
}

// --- Breakdowns, distinct values, bytes, latency, peaks ---

#[test]
fn breakdowns_by_status_class_and_method() {
    let a = expect("requests by status today", "breakdown", "total", json!(63), &["200: 41", "503: 4"]);
    assert_eq!(a.facts["groups"][0], json!({ "status": "200", "count": 41 }));
    let a = expect("breakdown by status class today", "breakdown", "groups.2.count", json!(9), &["4xx: 13"]);
    assert_eq!(a.facts["groups"][2]["status_class"], "5xx");
    expect("requests per method today", "breakdown", "groups.0.count", json!(51), &["GET: 51", "POST: 10"]);
}

#[test]
fn distinct_bytes_latency_and_peaks() {
    expect("how many unique IPs today?", "unique", "distinct", json!(6), &["6 distinct IPs"]);
    expect("how many distinct clients in all?", "unique", "distinct", json!(8), &["8 distinct IPs"]);
    expect("how many bytes were sent in the last hour?", "bytes", "bytes_total", json!(22450), &["22450 bytes"]);
    let a = expect("what is the latency of /api/v1/data today?", "latency", "p95_ms", json!(500.0), &["500 ms"]);
    assert_eq!(a.facts["p50_ms"], 300.0);
    assert_eq!(a.facts["measured"], 5);
    expect("when was the busiest minute today?", "peak", "count", json!(7), &["2025-04-01T10:45:00Z", "7 requests"]);
    expect("what was the peak hour today", "peak", "start", json!("2025-04-01T11:00:00Z"), &["20 requests"]);
}

// --- Anomalies ---

#[test]
fn anomalies_are_counted_and_listed_with_ids() {
    let a = expect("how many anomalies since 10:00?", "anomaly_count", "anomalies", json!(5), &["5 anomalies"]);
    assert_eq!(a.sources.len(), 5);
    assert!(a.sources.iter().all(|s| s["type"] == "anomaly" && s["id"].is_i64()), "{:?}", a.sources);
    expect("number of anomalies today", "anomaly_count", "anomalies", json!(6), &["6 anomalies"]);
    let a = expect("what anomalies happened today?", "anomalies", "anomalies", json!(6), &["/admin", "0.95"]);
    assert_eq!(a.facts["listed"][0]["url"], "/admin");
    assert_eq!(a.facts["listed"][1]["score"].as_f64().map(|s| (s * 100.0).round()), Some(91.0));
    expect("list anomalies on 2025-03-31", "anomalies", "listed.0.url", json!("/report"), &["1 anomaly"]);
}

// --- Answers name their window, filters and sources ---

#[test]
fn answers_name_their_window_filters_and_sources() {
    let a = ask("how many 500s on /api/v1/data in the last hour?");
    assert_eq!(a.range.from.as_deref(), Some("2025-04-01T11:30:00Z"));
    assert_eq!(a.range.to.as_deref(), Some("2025-04-01T12:30:00Z"));
    assert_eq!(a.range.label, "in the last hour");
    assert_eq!(a.filters.status.as_deref(), Some("500"));
    assert_eq!(a.filters.url.as_deref(), Some("/api/v1/data"));
    assert!(a.response.contains("2025-04-01T11:30:00Z to 2025-04-01T12:30:00Z"), "{}", a.response);
    assert_eq!(a.sources[0]["type"], "events");
    assert_eq!(a.sources[0]["total"], 5);
    assert_eq!(a.sources[0]["sample_ids"].as_array().unwrap().len(), 5);
    let json = serde_json::to_value(&a).unwrap();
    assert!(json.get("key_values").is_none(), "internal fields stay internal: {json}");
    assert_eq!(json["phrased_by"], "vigil");
}

// --- Time windows ---

fn window(question: &str) -> TimeRange {
    timerange::find(question, now(), &jiff::tz::TimeZone::UTC)
        .unwrap()
        .unwrap_or_else(|| panic!("{question}: no window"))
        .range
}

fn bounds(range: &TimeRange) -> (String, String) {
    (range.from.map(|t| t.to_string()).unwrap_or_default(), range.to.map(|t| t.to_string()).unwrap_or_default())
}

#[test]
fn time_windows_are_read_relative_to_now() {
    let cases = [
        ("errors in the last hour", "2025-04-01T11:30:00Z", "2025-04-01T12:30:00Z"),
        ("in the last 15 minutes", "2025-04-01T12:15:00Z", "2025-04-01T12:30:00Z"),
        ("past 24h", "2025-03-31T12:30:00Z", "2025-04-01T12:30:00Z"),
        ("since 10:00", "2025-04-01T10:00:00Z", "2025-04-01T12:30:00Z"),
        ("since 9am", "2025-04-01T09:00:00Z", "2025-04-01T12:30:00Z"),
        ("since yesterday", "2025-03-31T00:00:00Z", "2025-04-01T12:30:00Z"),
        ("since 10:00 yesterday", "2025-03-31T10:00:00Z", "2025-04-01T12:30:00Z"),
        ("today", "2025-04-01T00:00:00Z", "2025-04-01T12:30:00Z"),
        ("yesterday", "2025-03-31T00:00:00Z", "2025-04-01T00:00:00Z"),
        ("between 9 and 11", "2025-04-01T09:00:00Z", "2025-04-01T11:00:00Z"),
        ("between 9 and 11 yesterday", "2025-03-31T09:00:00Z", "2025-03-31T11:00:00Z"),
        ("from 09:30 to 10:15 on 2025-03-30", "2025-03-30T09:30:00Z", "2025-03-30T10:15:00Z"),
        ("between 22:00 and 02:00", "2025-03-31T22:00:00Z", "2025-04-01T02:00:00Z"),
        ("on 2025-03-30", "2025-03-30T00:00:00Z", "2025-03-31T00:00:00Z"),
        ("on March 30", "2025-03-30T00:00:00Z", "2025-03-31T00:00:00Z"),
        ("since 2025-03-28 18:00", "2025-03-28T18:00:00Z", "2025-04-01T12:30:00Z"),
        ("this morning", "2025-04-01T00:00:00Z", "2025-04-01T12:00:00Z"),
        ("since monday", "2025-03-31T00:00:00Z", "2025-04-01T12:30:00Z"),
        ("since 2 hours ago", "2025-04-01T10:30:00Z", "2025-04-01T12:30:00Z"),
    ];
    for (question, from, to) in cases {
        assert_eq!(bounds(&window(question)), (from.to_owned(), to.to_owned()), "{question}");
    }
    // A time still ahead today means yesterday's.
    assert_eq!(window("since 13:00").from.unwrap().to_string(), "2025-03-31T13:00:00Z");
    assert_eq!(window("until noon yesterday").to.unwrap().to_string(), "2025-03-31T12:00:00Z");
}

#[test]
fn addresses_and_plain_numbers_are_not_windows() {
    for question in ["how many requests from 10.0.0.1 to /login", "top 5 IPs", "how many 500s", "status 404"] {
        assert_eq!(timerange::find(question, now(), &jiff::tz::TimeZone::UTC).unwrap(), None, "{question}");
    }
    let a = ask("how many requests from 10.0.0.2 to /login");
    assert_eq!(a.facts["count"], 10);
    assert_eq!(a.range.label, "all stored data");
}

#[test]
fn unreadable_or_backwards_windows_get_a_reply_saying_so() {
    let a = ask("how many requests between 2025-03-31 and 2025-03-30?");
    assert_eq!(a.intent, "unknown");
    assert!(a.response.contains("ends") && a.response.contains("You can ask"), "{}", a.response);
    let a = ask("how many 500s since 25:99?");
    assert!(a.response.contains("could not read the time \"25:99\""), "{}", a.response);
}

#[test]
fn one_is_there_was_not_there_were() {
    // Yesterday 10.0.0.7 got one 500.
    let a = ask("how many 500s yesterday from 10.0.0.7");
    assert_eq!(a.facts["count"], 1);
    assert!(a.response.starts_with("There was 1 request"), "{}", a.response);
    assert!(ask("how many requests yesterday").response.starts_with("There were 13 requests"));
}

#[test]
fn hours_past_the_clock_are_refused_not_rolled_into_the_next_day() {
    for (question, time) in [
        ("how many 500s between 25:00 and 26:00", "25:00"),
        ("how many 500s between 33 and 35", "33"),
        ("how many 500s since 99:00", "99:00"),
        ("how many 500s since 13pm", "13pm"),
        ("how many requests since 2025-03-31 24:30", "2025-03-31 24:30"),
    ] {
        let a = ask(question);
        assert_eq!(a.intent, "unknown", "{question}: {}", a.response);
        assert!(a.response.contains(&format!("could not read the time {time:?}")), "{question}: {}", a.response);
    }
    // The last hour of the day, and 12 with am/pm, are hours.
    for question in
        ["how many 500s between 23:00 and 23:59", "how many 500s since 12pm", "how many 500s since 11:30 am"]
    {
        assert_ne!(ask(question).intent, "unknown", "{question}");
    }
}

// --- Open questions, summaries, help ---

#[test]
fn open_question_about_a_url_cites_its_anomalies() {
    let a = ask("What is going on with /login?");
    assert_eq!(a.intent, "open");
    assert_eq!(a.facts["requests"], 10);
    assert_eq!(a.facts["errors"], 8);
    let cited: Vec<&Value> = a.sources.iter().filter(|s| s["type"] == "anomaly").collect();
    assert_eq!(cited.len(), 3, "{:?}", a.sources);
    assert!(cited.iter().all(|s| s["text"].as_str().unwrap().contains("/login")), "{cited:?}");
    assert!(a.response.contains("/login") && a.response.contains("10 requests"), "{}", a.response);
}

#[test]
fn anything_unusual_today_cites_the_top_anomaly() {
    let a = ask("anything unusual today?");
    assert_eq!(a.intent, "open");
    assert_eq!(a.facts["anomalies"], 6);
    assert_eq!(a.range.from.as_deref(), Some("2025-04-01T00:00:00Z"));
    let first = a.sources.iter().find(|s| s["type"] == "anomaly").expect("an anomaly is cited");
    assert!(first["text"].as_str().unwrap().contains("/admin"), "{first}");
    assert!(a.response.contains("DELETE on /admin"), "{}", a.response);
}

#[test]
fn summarize_the_last_hour_gives_its_numbers_and_anomalies() {
    let a = ask("summarize the last hour");
    assert_eq!(a.intent, "summary");
    assert_eq!(a.facts["requests"], 38);
    assert_eq!(a.facts["errors"], 16);
    assert_eq!(a.facts["anomalies"], 5);
    assert_eq!(a.facts["top_ips"][0], json!({ "ip": "10.0.0.1", "count": 20 }));
    assert!(a.response.contains("38 requests") && a.response.contains("5 anomalies"), "{}", a.response);
}

#[test]
fn open_questions_cite_the_summaries_that_name_what_they_ask_about() {
    let a = ask("What is going on with /login?");
    let summaries: Vec<&Value> = a.sources.iter().filter(|s| s["type"] == "summary").collect();
    assert_eq!(summaries.len(), 1, "{:?}", a.sources);
    assert_eq!(summaries[0]["id"], 1);
    assert!(a.response.contains("summary 1 (2025-04-01T12:00:00Z to 2025-04-01T12:05:00Z"), "{}", a.response);

    let a = ask("summarize the last hour");
    let ids: Vec<&Value> = a.sources.iter().filter(|s| s["type"] == "summary").map(|s| &s["id"]).collect();
    assert_eq!(ids, [&json!(1), &json!(2)], "newest window first: {:?}", a.sources);

    let a = ask("anything unusual yesterday?");
    let ids: Vec<&Value> = a.sources.iter().filter(|s| s["type"] == "summary").map(|s| &s["id"]).collect();
    assert_eq!(ids, [&json!(3)]);
    assert!(a.response.contains("rare status 500"), "{}", a.response);
}

// --- Open questions by vector search ---

/// A chat whose open questions go through vector search over `store`'s embedded index.
fn vector_chat(store: &Arc<Store>) -> Chat {
    let index = crate::vector::VectorIndex::new(store.clone(), None);
    chat().with_retriever(Arc::new(super::VectorRetriever::new(index)))
}

fn cited<'a>(a: &'a Answer, kind: &str) -> Vec<&'a Value> {
    a.sources.iter().filter(|s| s["type"] == kind).collect()
}

/// Each cited passage's id and whether it carries a distance.
fn ids_and_distances(a: &Answer, kind: &str) -> Vec<(i64, bool)> {
    cited(a, kind).iter().map(|s| (s["id"].as_i64().unwrap(), s["distance"].is_number())).collect()
}

fn summary(start: &str, end: &str, text: &str) -> crate::store::NewSummary {
    crate::store::NewSummary {
        summarizer: "window-summary".into(),
        window_start_ms: at(start).as_millisecond(),
        window_end_ms: at(end).as_millisecond(),
        first_event_ms: None,
        last_event_ms: None,
        events: 0,
        anomalies: 0,
        skipped_events: 0,
        partial: false,
        text: text.into(),
        data: Default::default(),
    }
}

/// A store where words and nearness disagree. Summaries (ids 1-4): 1 and 2 both name
/// "payment" and "timeouts", so a word match ties them and takes the newer, 2, whose long text
/// is mostly about something else; 1 is about little else. 3 names neither; 4, yesterday's,
/// is a copy of 1. Anomalies (ids 1-3): 1 is the payment timeout (score 0.62); 3 is on a
/// payment URL but about something else, with a higher score (0.90), so a word match ranked by
/// score takes 3 first; 2 (0.97) names neither.
fn payment_store() -> Arc<Store> {
    let store = crate::testing::store();
    let mut rows = Vec::new();
    series(&mut rows, "2025-04-01T10:00:30Z", 1, 1, "10.0.0.9", "POST", "/api/payment", 504, 0);
    series(&mut rows, "2025-04-01T11:30:00Z", 1, 1, "10.0.0.6", "GET", "/admin", 403, 0);
    series(&mut rows, "2025-04-01T11:45:00Z", 1, 1, "10.0.0.5", "GET", "/api/payment/methods", 200, 900);
    let flags = [
        (0.62, "upstream timeouts on the payment gateway"),
        (0.97, "new client on /admin"),
        (0.90, "first request from a new country"),
    ];
    let anomalies = flags
        .iter()
        .enumerate()
        .map(|(i, (score, reason))| NewAnomaly {
            event_index: i,
            detector: "isolation-forest".into(),
            score: *score,
            reason: (*reason).into(),
        })
        .collect();
    let events = rows.into_iter().map(|(event, _)| ScoredEvent { event, anomaly_score: Some(0.9) }).collect();
    store.commit(&CommitBatch { events, anomalies, ..CommitBatch::default() }).unwrap();
    let dense = "POST /api/payment 504 40 times from 10.0.0.9: upstream timeouts on the payment gateway, payment \
                 retries timed out";
    let summaries = [
        summary("2025-04-01T10:00:00Z", "2025-04-01T10:01:00Z", dense),
        summary(
            "2025-04-01T11:00:00Z",
            "2025-04-01T11:01:00Z",
            "quiet minute: GET /index.html 200 300 times from 10.0.0.1, GET /static/app.js 200 120 times, \
             GET /favicon.ico 404 3 times; the payment page was viewed 4 times and no timeouts were seen; top user \
             agents Mozilla/5.0 and curl/8.5; median response 1200 bytes",
        ),
        summary("2025-04-01T12:00:00Z", "2025-04-01T12:01:00Z", "GET /index.html 200 20 times from 10.0.0.1"),
        summary("2025-03-31T10:00:00Z", "2025-03-31T10:01:00Z", dense),
    ];
    for s in &summaries {
        store.insert_summary(s).unwrap();
    }
    store
}

#[test]
fn open_questions_cite_the_nearest_summary_and_anomaly_not_the_word_match() {
    let store = payment_store();
    let question = "what is going on with payment timeouts today?";

    // Matched by words: the tie goes to the newer summary, and the higher-scored anomaly.
    let by_words = chat().answer_from_data(&store, question).unwrap();
    assert_eq!(ids_and_distances(&by_words, "summary")[..2], [(2, false), (1, false)], "{:?}", by_words.sources);
    assert_eq!(ids_and_distances(&by_words, "anomaly")[0], (3, false), "{:?}", by_words.sources);
    assert_eq!(by_words.facts["retrieval"], "store");

    let a = vector_chat(&store).answer_from_data(&store, question).unwrap();
    let shown = serde_json::to_string_pretty(&a.sources).unwrap();
    assert_eq!(a.intent, "open");
    assert_eq!(a.facts["retrieval"], "vector", "{shown}");
    // Nearest first, each with its distance; yesterday's copy of summary 1 is outside "today".
    assert_eq!(ids_and_distances(&a, "summary")[..2], [(1, true), (2, true)], "{shown}");
    assert!(!ids_and_distances(&a, "summary").iter().any(|(id, _)| *id == 4), "{shown}");
    let summaries = cited(&a, "summary");
    let d: Vec<f64> = summaries.iter().filter_map(|s| s["distance"].as_f64()).collect();
    assert!(d[0] < d[1] && d[1] <= f64::from(super::nearest::MAX_DISTANCE), "{shown}");
    assert!(summaries[0]["text"].as_str().unwrap().starts_with("2025-04-01T10:00:00Z to 2025-04-01T10:01:00Z: POST"));
    // The store's pick without a distance comes after the vector hits, never twice.
    assert_eq!(ids_and_distances(&a, "summary")[2..], [(3, false)], "{shown}");
    assert_eq!(ids_and_distances(&a, "anomaly")[0], (1, true), "{shown}");
    assert!(cited(&a, "anomaly")[0]["text"].as_str().unwrap().contains("upstream timeouts on the payment gateway"));
    assert!(a.response.contains("summary 1 (2025-04-01T10:00:00Z"), "{}", a.response);

    // Without "today" the window is all data: yesterday's copy is as near as summary 1.
    let a = vector_chat(&store).answer_from_data(&store, "what is going on with payment timeouts?").unwrap();
    let mut nearest: Vec<i64> = ids_and_distances(&a, "summary")[..2].iter().map(|(id, _)| *id).collect();
    nearest.sort();
    assert_eq!(nearest, [1, 4], "{:?}", a.sources);
}

#[test]
fn open_questions_keep_their_answers_with_vector_search() {
    let chat = vector_chat(&store());
    let a = chat.answer_from_data(&store(), "What is going on with /login?").unwrap();
    assert_eq!((a.facts["requests"].as_u64(), a.facts["errors"].as_u64()), (Some(10), Some(8)));
    // Only what names /login: summary 1 and the three /login anomalies, found by vector search.
    assert_eq!(ids_and_distances(&a, "summary"), [(1, true)], "{:?}", a.sources);
    let anomalies = cited(&a, "anomaly");
    assert_eq!(anomalies.len(), 3, "{:?}", a.sources);
    assert!(anomalies.iter().all(|s| s["distance"].is_number() && s["text"].as_str().unwrap().contains("/login")));

    // Nothing to search for: the top anomaly by score, the window's summaries newest first.
    let a = chat.answer_from_data(&store(), "anything unusual today?").unwrap();
    assert_eq!(a.facts["retrieval"], "store");
    assert!(cited(&a, "anomaly")[0]["text"].as_str().unwrap().contains("/admin"), "{:?}", a.sources);
    let a = chat.answer_from_data(&store(), "summarize the last hour").unwrap();
    assert_eq!(ids_and_distances(&a, "summary"), [(1, false), (2, false)]);
}

/// A vector index that is down.
struct Unreachable;

impl super::Retriever for Unreachable {
    fn nearest(
        &self,
        _: &super::intent::Reading,
        _: &TimeRange,
        _: usize,
    ) -> Result<super::Retrieved, crate::vector::VectorError> {
        Err(crate::vector::VectorError::Task("the index is unreachable".into()))
    }
}

#[test]
fn failed_vector_search_falls_back_to_the_store_and_says_so() {
    let chat = chat().with_retriever(Arc::new(Unreachable));
    let a = chat.answer_from_data(&store(), "What is going on with /login?").unwrap();
    assert_eq!(a.facts["retrieval"], "store");
    assert_eq!(ids_and_distances(&a, "summary"), [(1, false)]);
    assert_eq!(cited(&a, "anomaly").len(), 3);
    assert!(a.response.contains("vector search failed (") && a.response.contains("unreachable"), "{}", a.response);
}

#[test]
fn unknown_questions_get_the_list_of_what_can_be_asked() {
    for question in ["What's the weather in Paris?", "tell me a joke about cats"] {
        let a = ask(question);
        assert!(a.intent == "unknown" || a.intent == "open", "{question}: {}", a.intent);
    }
    let a = ask("What's the weather in Paris?");
    assert_eq!(a.intent, "unknown");
    assert!(a.response.contains("how many 500s in the last hour?"), "{}", a.response);
    assert!(a.facts["can_answer"].as_array().unwrap().len() >= 8);
    let a = ask("help");
    assert_eq!(a.intent, "help");
    assert!(a.response.contains("which IP sent the most requests?"), "{}", a.response);
}

// --- The LLM path, against a fake OpenAI-compatible server ---

/// What the fake server does with a request.
#[derive(Clone, Copy)]
enum Fake {
    /// Echo the plain answer with a preface.
    Rephrase,
    /// Answer without the numbers.
    DropFacts,
    /// Echo the plain answer and add a number and an IP of its own.
    AddFacts,
    /// Never answer.
    Hang,
    /// HTTP 500.
    Fail,
}

/// Start a fake `/v1/chat/completions` on 127.0.0.1; returns its base URL and the requests seen.
async fn fake_llm(mode: Fake) -> (String, Arc<Mutex<Vec<Value>>>) {
    use axum::routing::post;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move |axum::Json(body): axum::Json<Value>| {
            let log = log.clone();
            async move {
                log.lock().unwrap().push(body.clone());
                let user = body["messages"][1]["content"].as_str().unwrap_or("").to_owned();
                let plain = user.split("Answer to rephrase: ").nth(1).unwrap_or("").to_owned();
                let content = match mode {
                    Fake::Rephrase => format!("In short: {plain}"),
                    Fake::DropFacts => "Things look fine.".to_owned(),
                    Fake::AddFacts => format!("{plain} 9999 of them came from 8.8.8.8."),
                    Fake::Hang => {
                        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
                        String::new()
                    }
                    Fake::Fail => {
                        return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, axum::Json(json!({"error": "boom"})));
                    }
                };
                (axum::http::StatusCode::OK, axum::Json(json!({ "choices": [{ "message": { "content": content } }] })))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/v1"), seen)
}

fn llm_chat(endpoint: &str, timeout_ms: u64) -> Arc<Chat> {
    let config = ChatConfig {
        llm_endpoint: Some(endpoint.to_owned()),
        model: Some("fake-model".into()),
        timeout_ms,
        api_key: Some("sk-test".into()),
        time_zone: None,
    };
    Arc::new(Chat::new(&config.resolve().unwrap()).with_clock(Clock::Fixed(now())))
}

#[tokio::test]
async fn llm_rephrases_the_facts_it_is_sent() {
    let (endpoint, seen) = fake_llm(Fake::Rephrase).await;
    let a = llm_chat(&endpoint, 10_000).answer(store(), "How many 500s in the last hour?".into()).await.unwrap();
    assert_eq!(a.phrased_by, "llm");
    assert!(a.response.starts_with("In short: There were 5 requests with status 500"), "{}", a.response);
    assert_eq!(a.facts["count"], 5);
    let request = &seen.lock().unwrap()[0];
    assert_eq!(request["model"], "fake-model");
    let user = request["messages"][1]["content"].as_str().unwrap();
    assert!(user.contains(r#"Facts (JSON): {"count":5}"#) && user.contains("in the last hour"), "{user}");
}

#[tokio::test]
async fn llm_reply_that_drops_a_fact_is_refused() {
    let (endpoint, _) = fake_llm(Fake::DropFacts).await;
    let a = llm_chat(&endpoint, 10_000).answer(store(), "how many requests today?".into()).await.unwrap();
    assert_eq!(a.phrased_by, "vigil");
    assert!(a.response.contains("63 requests"), "{}", a.response);
    assert!(a.llm_error.as_deref().unwrap().contains("left out \"63\""), "{:?}", a.llm_error);
}

#[tokio::test]
async fn llm_reply_that_adds_a_number_or_ip_is_refused() {
    let (endpoint, _) = fake_llm(Fake::AddFacts).await;
    let a = llm_chat(&endpoint, 10_000).answer(store(), "how many 404s today?".into()).await.unwrap();
    assert_eq!(a.phrased_by, "vigil");
    assert!(!a.response.contains("9999") && a.response.contains("3 requests"), "{}", a.response);
    assert!(a.llm_error.as_deref().unwrap().contains("added \"9999\""), "{:?}", a.llm_error);
}

#[tokio::test]
async fn llm_timeout_error_or_absence_falls_back_to_the_plain_answer() {
    let (hang, _) = fake_llm(Fake::Hang).await;
    let a = llm_chat(&hang, 200).answer(store(), "how many 404s today?".into()).await.unwrap();
    assert_eq!((a.phrased_by, a.facts["count"].as_u64()), ("vigil", Some(3)));
    assert!(a.llm_error.as_deref().unwrap().contains("within 200 ms"), "{:?}", a.llm_error);

    let (fail, _) = fake_llm(Fake::Fail).await;
    let a = llm_chat(&fail, 10_000).answer(store(), "how many 404s today?".into()).await.unwrap();
    assert!(a.llm_error.as_deref().unwrap().contains("HTTP 500"), "{:?}", a.llm_error);
    assert!(a.response.contains("3 requests"), "{}", a.response);

    // Nothing listens on a port just released.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let a = llm_chat(&format!("http://{closed}/v1"), 10_000).answer(store(), "how many 404s today?".into()).await;
    assert!(a.unwrap().llm_error.is_some());
}

#[test]
fn chat_config_is_checked() {
    let parse = |text: &str| toml::from_str::<ChatConfig>(text).map_err(|e| e.to_string()).map(|c| c.resolve());
    assert_eq!(parse("").unwrap().unwrap().llm, None);
    let problems = parse("llm_endpoint = \"http://127.0.0.1:11434/v1\"").unwrap().unwrap_err();
    assert_eq!(problems[0].field, "chat.model");
    let problems = parse("llm_endpoint = \"ftp://x\"\nmodel = \"m\"").unwrap().unwrap_err();
    assert_eq!(problems[0].field, "chat.llm_endpoint");
    let problems = parse("timeout_ms = 5").unwrap().unwrap_err();
    assert_eq!(problems[0].field, "chat.timeout_ms");
    let ok = parse("llm_endpoint = \"http://127.0.0.1:11434/v1/\"\nmodel = \"llama3.2\"").unwrap().unwrap();
    assert_eq!(ok.llm.unwrap().completions_url, "http://127.0.0.1:11434/v1/chat/completions");
    assert!(parse("llm = \"x\"").unwrap_err().contains("unknown field"));
}

// --- The handler ---

async fn post_chat(app: axum::Router, content_type: Option<&str>, body: &str) -> (axum::http::StatusCode, Value) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let mut request = axum::http::Request::builder().method("POST").uri("/chat");
    if let Some(ct) = content_type {
        request = request.header("content-type", ct);
    }
    let response = app.oneshot(request.body(axum::body::Body::from(body.to_owned())).unwrap()).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("not JSON ({e}): {bytes:?}")))
}

fn app() -> axum::Router {
    let settings = crate::config::ApiSettings {
        address: ([127, 0, 0, 1], 0).into(),
        max_body_bytes: 1 << 20,
        max_batch_logs: 100,
        token: None,
        cors_origins: vec![],
    };
    let mut state = crate::testing::app_context(crate::testing::constant_detectors(0.1, 0.5), settings);
    state.store = store();
    state.chat = Arc::new(chat());
    crate::api::router(state.into())
}

#[tokio::test]
async fn chat_endpoint_answers_in_the_api_shape() {
    let (status, body) = post_chat(app(), Some("application/json"), r#"{"query": "how many 500s today?"}"#).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["response"].as_str().unwrap().contains("5 requests"), "{body}");
    assert_eq!(body["intent"], "count");
    assert_eq!(body["facts"]["count"], 5);
    assert_eq!(body["range"]["from"], "2025-04-01T00:00:00Z");
    let (status, body) = post_chat(app(), Some("application/json"), r#"{"query": "sing me a song"}"#).await;
    assert_eq!((status.as_u16(), body["intent"].as_str()), (200, Some("unknown")));
}

#[tokio::test]
async fn chat_endpoint_rejects_bad_requests_with_json_errors() {
    let cases: [(Option<&str>, &str, u16, &str); 7] = [
        (Some("application/json"), "{\"query\": ", 400, "malformed_json"),
        (Some("application/json"), "{}", 422, "missing_field"),
        (Some("application/json"), "{\"query\": 42}", 422, "wrong_type"),
        (Some("application/json"), "[\"how many\"]", 422, "wrong_type"),
        (Some("application/json"), "{\"query\": \"   \"}", 422, "empty_query"),
        (Some("application/json"), "{\"query\": \"how many\\u0000500s\"}", 422, "control_character"),
        (Some("text/plain"), "{\"query\": \"how many\"}", 415, "unsupported_media_type"),
    ];
    for (content_type, body, status, code) in cases {
        let (got, answer) = post_chat(app(), content_type, body).await;
        assert_eq!((got.as_u16(), answer["error"].as_str()), (status, Some(code)), "{body}: {answer}");
        assert!(answer["message"].as_str().is_some_and(|m| m.len() > 20), "{answer}");
    }
    let long = format!("{{\"query\": \"{}\"}}", "a".repeat(2_001));
    let (got, answer) = post_chat(app(), Some("application/json"), &long).await;
    assert_eq!((got.as_u16(), answer["error"].as_str()), (413, Some("query_too_long")));
}
