//! `/api/v1/summaries`: newest window first, filtered, and paged by `next_before_id` past the
//! most one page holds.

use super::*;
use crate::store::NewSummary;

fn summary(summarizer: &str, minute: i64) -> NewSummary {
    NewSummary {
        summarizer: summarizer.into(),
        window_start_ms: 1_743_510_840_000 + minute * 60_000,
        window_end_ms: 1_743_510_900_000 + minute * 60_000,
        first_event_ms: None,
        last_event_ms: None,
        events: 10,
        anomalies: 0,
        skipped_events: 0,
        partial: false,
        text: format!("minute {minute}"),
        data: serde_json::Map::new(),
    }
}

/// The `text` of each summary of an answer.
fn texts(body: &Value) -> Vec<String> {
    body["summaries"].as_array().unwrap().iter().map(|s| s["text"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn summaries_are_paged_newest_window_first_by_next_before_id() {
    let context = crate::testing::app_context(constant_detectors(0.1, 0.5), settings(1 << 20, 100));
    // Two summarizers, minutes stored out of order, two summaries of one window.
    for (name, minute) in [("a", 3), ("a", 1), ("b", 3), ("a", 2), ("a", 5), ("a", 4), ("b", 0)] {
        context.store.insert_summary(&summary(name, minute)).unwrap();
    }
    let app = router(context.into());

    let mut seen = Vec::new();
    let mut path = "/api/v1/summaries?limit=3".to_owned();
    loop {
        let (status, body) = get(app.clone(), &path, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let page = texts(&body);
        assert!(page.len() <= 3);
        if page.is_empty() {
            assert_eq!(body["next_before_id"], Value::Null);
            break;
        }
        let last = body["summaries"].as_array().unwrap().last().unwrap()["id"].clone();
        assert_eq!(body["next_before_id"], last, "the cursor is the page's last summary");
        seen.extend(page);
        path = format!("/api/v1/summaries?limit=3&before_id={last}");
    }
    // Window 3 has two summaries: the later stored (b's, the higher id) first.
    let expected = ["minute 5", "minute 4", "minute 3", "minute 3", "minute 2", "minute 1", "minute 0"];
    assert_eq!(seen, expected, "every summary once, newest window first");

    let (_, body) = get(app.clone(), "/api/v1/summaries?summarizer=a&limit=2&before_id=5", None).await;
    assert_eq!(texts(&body), ["minute 4", "minute 3"], "the cursor with a filter (id 5 is a's minute 5)");
    let (_, body) = get(app.clone(), "/api/v1/summaries?before_id=999", None).await;
    assert_eq!(texts(&body), Vec::<String>::new(), "a cursor naming no summary gives an empty page");
    let (status, body) = get(app, "/api/v1/summaries?before_id=last", None).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_parameter")));
    assert!(body["message"].as_str().unwrap().contains("before_id"), "{body}");
}
