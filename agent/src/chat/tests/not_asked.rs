//! Requests `/chat` does not do (changing the store, listing rows, counts per time bucket) and
//! times it cannot give: each is refused in its own words with what to ask instead, never
//! answered as the window's summary or a count.

use super::{ask, expect};
use serde_json::json;

/// Asserts `question` is refused (intent `unknown`, the list of what can be asked) with all of
/// `words` in the reply.
fn refused(question: &str, words: &[&str]) {
    let a = ask(question);
    assert_eq!(a.intent, "unknown", "{question}: {}", a.response);
    assert!(a.response.contains("You can ask:"), "{question}: {}", a.response);
    for w in words {
        assert!(a.response.contains(w), "{question}: {:?} should contain {w:?}", a.response);
    }
}

#[test]
fn counts_per_time_bucket_are_refused_not_summarized() {
    refused("requests by hour", &["cannot break counts down by time (\"by hour\")", "busiest hour"]);
    refused("errors by minute today", &["(\"by minute\")"]);
    refused("how many requests by hour?", &["(\"by hour\")"]);
    refused("hourly requests", &["(\"hourly\")"]);
    // A rate per minute and the busiest hour are still answered.
    assert_eq!(ask("requests per minute in the last hour").intent, "request_rate");
    assert_eq!(ask("when was the busiest hour today?").intent, "peak");
}

#[test]
fn listing_rows_is_refused_with_the_logs_api_call_that_lists_them() {
    refused(
        "show me the last 5 errors",
        &["I do not list log lines", "GET /api/v1/logs?status=4xx&limit=5 and ?status=5xx&limit=5"],
    );
    refused("list the 500s", &["(\"list the 500s\")", "GET /api/v1/logs?status=500&limit=100"]);
    refused("list the 500s from 10.0.0.3 today", &["GET /api/v1/logs?status=500&ip=10.0.0.3&limit=100"]);
    refused("what were the last 3 requests?", &["GET /api/v1/logs?limit=3"]);
    // Showing a number, a ranking or a breakdown is answered.
    assert_eq!(ask("show me the error rate").intent, "rate");
    assert_eq!(ask("show me the top 5 IPs").intent, "top");
    assert_eq!(ask("show me requests by status").intent, "breakdown");
}

#[test]
fn a_request_to_change_the_store_is_refused_as_read_only() {
    refused("delete all logs", &["I only read the stored logs, so I cannot delete anything"]);
    refused("please clear the errors", &["cannot clear anything"]);
    // DELETE is also a method.
    assert_eq!(ask("DELETE requests today").filters.method.as_deref(), Some("DELETE"));
    assert_eq!(ask("delete requests to /admin").filters.method.as_deref(), Some("DELETE"));
}

#[test]
fn the_first_and_last_event_times_are_answered() {
    // All 76 requests: the first yesterday at 15:00, the last 10.0.0.4's third 404 at 12:25:20.
    for question in ["when was the first request?", "what time range do the logs cover?", "what is the oldest log?"] {
        let a = expect(question, "span", "first", json!("2025-03-31T15:00:00Z"), &["2025-03-31T15:00:00Z (the first)"]);
        assert_eq!(a.facts["last"], json!("2025-04-01T12:25:20Z"), "{question}");
        assert_eq!(a.facts["count"], json!(76), "{question}");
    }
    // Filters and windows apply: today's 500s are 10.0.0.3's, 12:10 to 12:14.
    let a = expect(
        "when was the last request with status 500 today?",
        "span",
        "last",
        json!("2025-04-01T12:14:00Z"),
        &["5 requests"],
    );
    assert_eq!(a.facts["first"], json!("2025-04-01T12:10:00Z"));
    let a =
        expect("when was the last error?", "span", "last", json!("2025-04-01T12:25:20Z"), &["with an error status"]);
    assert_eq!(a.filters.status.as_deref(), Some("400-599"));
    // "Last 500" reads 500 as a count, not a status: refused, not answered for every request.
    refused("when was the last 500 today?", &["time of a first or last event of this kind"]);
    expect("when was the first request from 10.0.0.99?", "span", "count", json!(0), &["no requests from 10.0.0.99"]);
    // Of an anomaly or a spike there is no such time yet: refused, not answered for events.
    refused("when was the last anomaly?", &["time of a first or last event of this kind"]);
    refused("when did the spike start?", &["time of a first or last event of this kind"]);
}

#[test]
fn open_questions_still_get_the_summary_answer() {
    for question in ["what happened?", "anything unusual last hour?", "what is going on with /login?"] {
        assert_eq!(ask(question).intent, "open", "{question}");
    }
}
