//! Rankings and the busiest time when the top value is shared: every tied value is said (a
//! handful by name, then how many more), never one of them picked silently.

use super::attacks::{ask_of, commit};
use crate::event::Event;
use crate::store::Store;
use serde_json::json;
use std::sync::Arc;

/// 2025-03-10: 10.0.0.1 sends 5 requests in the minute 09:12, 10.0.0.2 5 in 11:04 and
/// 10.0.0.3 3 at 11:30 (so one hour, 11:00, is the busiest). 2025-03-11: from 00:00 to 15:59,
/// 10.1.0.<hour> sends 6 requests in its hour, one every 10 minutes: 16 hours and 16 IPs tie.
fn tied() -> Arc<Store> {
    let request = |at: &str, ip: &str| Event {
        timestamp_ms: at.parse::<jiff::Timestamp>().expect("an instant").as_millisecond(),
        ip: ip.into(),
        method: "GET".into(),
        url: "/".into(),
        status_code: 200,
        source: "api".into(),
        ..Event::default()
    };
    let mut events = Vec::new();
    for (minute, ip, n) in [("09:12", "10.0.0.1", 5), ("11:04", "10.0.0.2", 5), ("11:30", "10.0.0.3", 3)] {
        events.extend((0..n).map(|s| request(&format!("2025-03-10T{minute}:{s:02}Z"), ip)));
    }
    for hour in 0..16 {
        events.extend((0..6).map(|m| request(&format!("2025-03-11T{hour:02}:{m}0:00Z"), &format!("10.1.0.{hour}"))));
    }
    let store = crate::testing::store();
    commit(&store, events);
    store
}

#[test]
fn a_busiest_minute_or_hour_shared_by_several_names_them_all() {
    let store = tied();
    let a = ask_of(&store, "busiest minute on 2025-03-10");
    assert!(
        a.response.starts_with(
            "The busiest minutes on 2025-03-10 (2025-03-10T00:00:00Z to 2025-03-11T00:00:00Z) began at \
             2025-03-10T09:12:00Z and 2025-03-10T11:04:00Z, with 5 requests each (2 tied)."
        ),
        "{}",
        a.response
    );
    assert_eq!((a.facts["start"].clone(), a.facts["count"].clone()), (json!("2025-03-10T09:12:00Z"), json!(5)));
    assert_eq!(a.facts["starts"], json!(["2025-03-10T09:12:00Z", "2025-03-10T11:04:00Z"]));

    let a = ask_of(&store, "what was the busiest hour on 2025-03-11?");
    for words in [
        "The busiest hours on 2025-03-11",
        "began at 2025-03-11T00:00:00Z, 2025-03-11T01:00:00Z, 2025-03-11T02:00:00Z, 2025-03-11T03:00:00Z, \
         2025-03-11T04:00:00Z and 11 more, with 6 requests each (16 tied).",
    ] {
        assert!(a.response.contains(words), "{:?} should contain {words:?}", a.response);
    }
    assert_eq!(a.facts["start"], json!("2025-03-11T00:00:00Z"));
    assert_eq!((a.facts["starts"].as_array().map(Vec::len), a.facts["more_tied"].clone()), (Some(5), json!(11)));

    // One busiest hour is said as before.
    let a = ask_of(&store, "busiest hour on 2025-03-10");
    assert!(
        a.response.contains("The busiest hour on 2025-03-10")
            && a.response.contains("began at 2025-03-10T11:00:00Z, with 8 requests.")
    );
    assert_eq!(a.facts.get("starts"), None, "{}", a.facts);
}

#[test]
fn a_ranking_whose_leaders_tie_names_every_one_of_them() {
    let store = tied();
    let a = ask_of(&store, "which IP sent the most requests on 2025-03-10?");
    assert!(a.response.starts_with("The IPs with the most requests on 2025-03-10"), "{}", a.response);
    assert!(a.response.ends_with(" are 10.0.0.1 and 10.0.0.2, with 5 requests each (2 tied)."), "{}", a.response);
    assert_eq!(a.facts["top"], json!([{"ip": "10.0.0.1", "count": 5}]));
    assert_eq!(a.facts["tied"], json!([{"ip": "10.0.0.2", "count": 5}]));

    let a = ask_of(&store, "which IP sent the most requests on 2025-03-11?");
    assert!(
        a.response.ends_with(
            " are 10.1.0.0, 10.1.0.1, 10.1.0.10, 10.1.0.11, 10.1.0.12 and 11 more, with 6 requests each (16 tied)."
        ),
        "{}",
        a.response
    );
    assert_eq!((a.facts["tied"].as_array().map(Vec::len), a.facts["more_tied"].clone()), (Some(4), json!(11)));

    // A list that ends inside a tie says who else ties with its last row.
    let a = ask_of(&store, "top 3 IPs on 2025-03-11");
    assert_eq!(a.facts["top"].as_array().map(Vec::len), Some(3), "{}", a.response);
    assert!(
        a.response.ends_with(
            "13 more IPs tie with #3 at 6 requests: 10.1.0.11, 10.1.0.12, 10.1.0.13, 10.1.0.14, 10.1.0.15 and 8 more."
        ),
        "{}",
        a.response
    );
    assert_eq!((a.facts["tied"].as_array().map(Vec::len), a.facts["more_tied"].clone()), (Some(5), json!(8)));

    // No tie: one value, no `tied`.
    let a = ask_of(&store, "which IP sent the fewest requests on 2025-03-10?");
    assert!(a.response.ends_with(" is 10.0.0.3, with 3 requests."), "{}", a.response);
    assert_eq!(a.facts.get("tied"), None, "{}", a.facts);
}
