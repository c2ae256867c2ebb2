//! A breakdown over more values than it lists, and over requests without a value.

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

/// A request line without a URL (`GET  HTTP/1.1`, answered 400) is a request all the same: a
/// breakdown by URL lists it as its own group, so its total is the count over the same
/// filters, and a count of distinct URL paths says how many requests had none.
#[test]
fn a_request_without_a_url_is_its_own_group_so_a_breakdown_totals_the_count() {
    let start = jiff::Timestamp::from_second(1_743_500_000).unwrap(); // 2025-04-01T09:33:20Z
    let event = |i: usize, url: &str, status_code: u16| Event {
        timestamp_ms: start.as_millisecond() + i as i64,
        ip: "10.2.0.1".into(),
        method: "GET".into(),
        url: url.into(),
        status_code,
        source: "api".into(),
        ..Event::default()
    };
    let rows = [("/a", 200), ("/a", 404), ("/a", 404), ("/b?x=1", 500), ("", 400), ("/b", 200)];
    let store = crate::testing::store();
    commit(&store, rows.iter().enumerate().map(|(i, (url, status))| event(i, url, *status)).collect());

    let rate = ask_of(&store, "what is the error rate?");
    assert_eq!(
        (rate.facts["matching"].clone(), rate.facts["total"].clone()),
        (json!(4), json!(6)),
        "{}",
        rate.response
    );
    let answer = ask_of(&store, "errors by url");
    assert_eq!(answer.intent, "breakdown", "{}", answer.response);
    assert_eq!(answer.facts["total"], rate.facts["matching"], "{}", answer.response);
    assert_eq!(
        answer.facts["groups"],
        json!([{"url": "/a", "count": 2}, {"url": "/b", "count": 1}, {"url": "", "count": 1}])
    );
    assert_eq!(answer.facts["no_value"], json!(1));
    for words in ["4 requests with an error status", "/a: 2 (50%), /b: 1 (25%); (empty URL): 1 (25%)."] {
        assert!(answer.response.contains(words), "{:?} should contain {words:?}", answer.response);
    }
    let answer = ask_of(&store, "requests by url");
    assert_eq!(answer.facts["total"], json!(6), "{}", answer.response);

    let answer = ask_of(&store, "how many distinct url paths?");
    assert_eq!((answer.facts["distinct"].clone(), answer.facts["no_value"].clone()), (json!(2), json!(1)));
    assert!(
        answer.response.ends_with(
            "There were 2 distinct URL paths among 6 requests in all stored data. 1 request had no URL path."
        ),
        "{}",
        answer.response
    );
    // Nothing to say when every request has one.
    let answer = ask_of(&store, "requests to /a by status");
    assert_eq!((answer.facts["total"].clone(), answer.facts.get("no_value")), (json!(3), None), "{}", answer.response);
}
