//! Requests `/chat` does not do (changing the store, listing rows, counts per time bucket) and
//! times it cannot give: each is refused in its own words with what to ask instead, never
//! answered as the window's summary or a count.

use super::ask;

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
fn the_time_span_of_the_logs_is_not_answered_with_a_summary() {
    refused("what time range do the logs cover?", &["first or last event"]);
    refused("what is the oldest log?", &["first or last event"]);
    refused("when was the first request?", &["first or last event"]);
}

#[test]
fn open_questions_still_get_the_summary_answer() {
    for question in ["what happened?", "anything unusual last hour?", "what is going on with /login?"] {
        assert_eq!(ask(question).intent, "open", "{question}");
    }
}
