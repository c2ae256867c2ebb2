//! A breakdown over more values than it lists.

use super::attacks::{ask_of, commit};
use crate::event::Event;
use serde_json::json;

/// 150 IPs: 10.1.0.0 sends 200 requests, the 149 others one each (349 in all, today).
/// A breakdown by IP lists 100 of them; its total and shares are still of all 349 requests,
/// and it says what the 50 IPs it leaves out hold.
#[test]
fn a_breakdown_over_more_values_than_it_lists_counts_every_request() {
    let start = jiff::Timestamp::from_second(1_743_500_000).unwrap(); // 2025-04-01T09:33:20Z
    let event = |i: usize, ip: usize| Event {
        timestamp_ms: start.as_millisecond() + i as i64,
        ip: format!("10.1.0.{ip}"),
        method: "GET".into(),
        url: "/".into(),
        status_code: 200,
        source: "api".into(),
        ..Event::default()
    };
    let mut events: Vec<Event> = (0..200).map(|i| event(i, 0)).collect();
    events.extend((1..150).map(|ip| event(200 + ip, ip)));
    let store = crate::testing::store();
    commit(&store, events);
    let answer = ask_of(&store, "requests by ip today");
    assert_eq!(answer.intent, "breakdown", "{}", answer.response);
    assert_eq!(answer.facts["total"], json!(349));
    assert_eq!(answer.facts["groups"].as_array().map(Vec::len), Some(100));
    assert_eq!(answer.facts["groups"][0], json!({"ip": "10.1.0.0", "count": 200}));
    assert_eq!((answer.facts["more_groups"].clone(), answer.facts["more_requests"].clone()), (json!(50), json!(50)));
    for words in ["349 requests", "10.1.0.0: 200 (57.31%)", "50 more IPs with 50 requests (14.33%)"] {
        assert!(answer.response.contains(words), "{:?} should contain {words:?}", answer.response);
    }
}
