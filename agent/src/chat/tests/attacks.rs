//! Questions about attacks (`crate::attack`'s signatures as a filter), over a small data set
//! with known attacks, and over a real scanner's access log.

use crate::attack::Matcher;
use crate::chat::{Answer, Chat, Clock};
use crate::event::Event;
use crate::store::{CommitBatch, ScoredEvent, Store};
use serde_json::{Value, json};
use std::sync::{Arc, OnceLock};

const NOW: &str = "2025-04-01T12:30:00Z";

/// Today (2025-04-01), 30 requests, a second apart from 11:00: 10.0.0.1 20x GET /index.html;
/// 10.0.0.66 3x SQL injection (status 500) and 2x cross-site scripting; 10.0.0.77 4x path
/// traversal (404) and once as sqlmap.
fn events() -> Vec<Event> {
    let mut rows: Vec<(&str, &str, u16, &str)> = vec![("10.0.0.1", "/index.html", 200, "Mozilla/5.0"); 20];
    rows.extend([("10.0.0.66", "/item?id=1%27%20or%201=1--", 500, "Mozilla/5.0"); 3]);
    rows.extend([("10.0.0.66", "/search?q=%3Cscript%3Ealert(1)%3C/script%3E", 200, "Mozilla/5.0"); 2]);
    rows.extend([("10.0.0.77", "/download?file=../../etc/passwd", 404, "Mozilla/5.0"); 4]);
    rows.push(("10.0.0.77", "/", 200, "sqlmap/1.7.2#stable (https://sqlmap.org)"));
    let start: jiff::Timestamp = "2025-04-01T11:00:00Z".parse().unwrap();
    rows.into_iter()
        .enumerate()
        .map(|(i, (ip, url, status_code, user_agent))| Event {
            timestamp_ms: start.as_millisecond() + i as i64 * 1000,
            ip: ip.into(),
            method: "GET".into(),
            url: url.into(),
            status_code,
            user_agent: user_agent.into(),
            source: "api".into(),
            ..Event::default()
        })
        .collect()
}

pub(super) fn commit(store: &Store, events: Vec<Event>) {
    let events = events.into_iter().map(|event| ScoredEvent { event, anomaly_score: Some(0.2) }).collect();
    store.commit(&CommitBatch { events, ..CommitBatch::default() }).expect("the data set commits");
}

fn store() -> Arc<Store> {
    static STORE: OnceLock<Arc<Store>> = OnceLock::new();
    STORE
        .get_or_init(|| {
            let store = crate::testing::store();
            commit(&store, events());
            store
        })
        .clone()
}

pub(super) fn ask_of(store: &Store, question: &str) -> Answer {
    let chat = Chat::new(&Default::default()).with_clock(Clock::Fixed(NOW.parse().unwrap()));
    chat.answer_from_data(store, question).unwrap_or_else(|e| panic!("{question}: {e}"))
}

/// Asserts the intent, the attack filter, the facts named and words of the response.
fn expect(question: &str, intent: &str, attack: Option<&str>, facts: &[(&str, Value)], words: &[&str]) {
    let answer = ask_of(&store(), question);
    let shown = serde_json::to_string_pretty(&answer).unwrap();
    assert_eq!(answer.intent, intent, "{question}: {shown}");
    assert_eq!(answer.filters.attack, attack, "{question}: {shown}");
    for (key, value) in facts {
        assert_eq!(&answer.facts[key], value, "{question}: facts.{key} in {shown}");
    }
    for word in words {
        assert!(answer.response.contains(word), "{question}: {:?} should contain {word:?}", answer.response);
    }
}

#[test]
fn a_question_about_one_kind_of_attack_counts_the_requests_that_look_like_it() {
    expect(
        "Any SQL injection attempts?",
        "count",
        Some("sql_injection"),
        &[("count", json!(3))],
        &["3 requests that look like SQL injection", "not that it succeeded"],
    );
    expect("how many xss attacks from 10.0.0.66 today?", "count", Some("xss"), &[("count", json!(2))], &["10.0.0.66"]);
    expect("any directory traversal?", "count", Some("path_traversal"), &[("count", json!(4))], &[]);
    expect("were there any vulnerability scanners?", "count", Some("scanner"), &[("count", json!(1))], &[]);
    expect("any shellshock attempts?", "count", Some("command_injection"), &[("count", json!(0))], &["0 requests"]);
    // Without attack words nothing is filtered, and the filter is not reported.
    expect("how many requests today?", "count", None, &[("count", json!(30))], &[]);
}

#[test]
fn a_question_about_attacks_counts_every_kind_and_lists_them() {
    expect(
        "Were we attacked today?",
        "count",
        Some("any"),
        &[
            ("count", json!(10)),
            (
                "by_kind",
                json!({"sql_injection": 3, "xss": 2, "path_traversal": 4, "command_injection": 0, "scanner": 1}),
            ),
        ],
        &["10 requests that look like an attack", "SQL injection 3", "path traversal 4"],
    );
}

#[test]
fn attacks_can_be_ranked_and_shared() {
    expect("which IP sent the most attacks?", "top", Some("any"), &[], &["10.0.0.77", "5 requests"]);
    expect(
        "what percentage of requests were path traversal attempts?",
        "rate",
        Some("path_traversal"),
        &[("matching", json!(4)), ("total", json!(30)), ("percent", json!(13.33))],
        &["13.33%", "4 of 30"],
    );
}

#[test]
fn a_summary_of_attacks_is_about_the_requests_that_look_like_one() {
    expect(
        "summarize the attacks of today",
        "summary",
        Some("any"),
        &[("requests", json!(10)), ("errors", json!(7))],
        &["For requests that look like an attack today", "10 requests"],
    );
}

/// Over a real scanner's access log, the answer's count is what the signatures find line by
/// line: the SQL function sees the same URL, user agent and referer as the parser gave.
#[test]
fn over_a_scanners_log_the_answer_counts_what_the_signatures_find() {
    let Some(files) = crate::testing::scan_logs() else { return };
    let parser = crate::parse::Parser::combined();
    let (_, lines) = files.into_iter().find(|(name, _)| *name == "netsparker.txt").expect("netsparker.txt");
    let events: Vec<Event> = lines.iter().map(|line| parser.parse(line, "file:scan").event).collect();
    let mut matcher = Matcher::default();
    let mut expected = |kind| {
        events
            .iter()
            .filter(|e| matcher.looks_like(kind, &e.url, &e.user_agent, e.referer.as_deref().unwrap_or("")))
            .count()
    };
    let (sql, any) = (expected(Some(crate::attack::AttackKind::SqlInjection)), expected(None));
    assert!(sql > 100 && any > sql, "sql {sql}, any {any}");
    let store = crate::testing::store();
    commit(&store, events);
    assert_eq!(ask_of(&store, "how many sql injection attempts?").facts["count"], json!(sql));
    assert_eq!(ask_of(&store, "how many attacks?").facts["count"], json!(any));
}

#[test]
fn log4shell_and_shellshock_say_they_are_counted_as_all_command_injection() {
    for word in ["log4shell", "shellshock"] {
        let a = ask_of(&store(), &format!("how many {word} attempts?"));
        assert_eq!(a.intent, "count", "{word}: {}", a.response);
        assert!(a.response.contains(&format!("I cannot tell {word} from other command injection")), "{}", a.response);
    }
    let a = ask_of(&store(), "when did 10.0.0.77 start scanning?");
    assert_eq!(a.intent, "unknown", "{}", a.response);
    assert!(a.response.contains("time of a first or last event"), "{}", a.response);
}
