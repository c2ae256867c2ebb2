//! How a question's filters are read: negated statuses ("not 200", "excluding 404s",
//! "non-404 errors"), URL paths kept in the case they were written, close misspellings of the
//! filter words, and the share of events flagged as anomalies. Over the data set of `mod.rs`
//! (today: 63 requests; 41 with status 200, 8 401s, 2 403s, 3 404s, 5 500s, 4 503s).

use super::attacks::{ask_of, commit};
use super::{ask, expect};
use crate::event::Event;
use serde_json::{Value, json};

/// The answer's `filters.status` and `filters.not_status`, as the API reports them.
fn status_filters(a: &crate::chat::Answer) -> (Value, Value) {
    let filters = serde_json::to_value(&a.filters).unwrap();
    (filters["status"].clone(), filters["not_status"].clone())
}

#[test]
fn a_negated_status_counts_the_requests_without_it() {
    let a = expect(
        "how many requests were not 200 today?",
        "count",
        "count",
        json!(22),
        &["22 requests with a status other than 200"],
    );
    assert_eq!(status_filters(&a), (json!(null), json!(["200"])));
    expect("how many requests excluding 404s today?", "count", "count", json!(60), &["other than 404"]);
    expect("how many requests except 5xx today?", "count", "count", json!(54), &["other than 5xx"]);
    expect("how many requests today that weren't successful?", "count", "count", json!(22), &["other than 2xx"]);
    // "errors other than 404": both a status and a status left out.
    let a = expect(
        "how many non-404 errors today?",
        "count",
        "count",
        json!(19),
        &["19 requests with an error status (400-599) other than 404"],
    );
    assert_eq!(status_filters(&a), (json!("400-599"), json!(["404"])));
    expect("how many errors other than 401 or 404 today?", "count", "count", json!(11), &["other than 401 or 404"]);
    // Without a negation nothing changes; "not found" is a status, not a negation.
    expect("how many 404s today?", "count", "count", json!(3), &["with status 404"]);
    expect("how many not found responses today", "count", "count", json!(3), &["status 404"]);
}

#[test]
fn a_share_of_a_negated_status_is_of_all_requests() {
    expect(
        "what percentage of requests were not 200 today?",
        "rate",
        "percent",
        json!(34.92),
        &["a status other than 200", "22 of 63"],
    );
}

#[test]
fn a_negation_that_cannot_be_expressed_is_said_not_answered_inverted() {
    for (question, negated) in [
        ("how many requests not from 10.0.0.1 today?", "10.0.0.1"),
        ("how many requests excluding /login today?", "/login"),
        ("how many requests that are not attacks?", "attacks"),
    ] {
        let a = ask(question);
        assert_eq!(a.intent, "unknown", "{question}: {}", a.response);
        assert!(a.response.contains("cannot leave out") && a.response.contains(negated), "{question}: {}", a.response);
    }
}

/// URL paths are case-sensitive: 3 requests to /DVWA/login.php (2 of them 404s), 1 to
/// /dvwa/login.php.
#[test]
fn a_url_path_keeps_the_case_it_was_written_in() {
    let store = crate::testing::store();
    let event = |url: &str, status_code| Event {
        timestamp_ms: jiff::Timestamp::from_second(1_743_500_000).unwrap().as_millisecond(),
        ip: "10.0.0.9".into(),
        method: "GET".into(),
        url: url.into(),
        status_code,
        source: "api".into(),
        ..Event::default()
    };
    let events = vec![
        event("/DVWA/login.php", 200),
        event("/DVWA/login.php?x=1", 404),
        event("/DVWA/login.php", 404),
        event("/dvwa/login.php", 404),
    ];
    commit(&store, events);
    let a = ask_of(&store, "how many requests to /DVWA/login.php?");
    assert_eq!(
        (a.facts["count"].clone(), a.filters.url.as_deref()),
        (json!(3), Some("/DVWA/login.php")),
        "{}",
        a.response
    );
    assert!(a.response.contains("3 requests to /DVWA/login.php"), "{}", a.response);
    assert_eq!(ask_of(&store, "How many 404s on /DVWA/login.php?").facts["count"], json!(2));
    assert_eq!(ask_of(&store, "HOW MANY REQUESTS TO /dvwa/login.php?").facts["count"], json!(1));
}

#[test]
fn a_close_misspelling_of_a_filter_word_is_read_as_the_word_and_said() {
    let a = expect("how many erors today?", "count", "count", json!(22), &["22 requests with an error status"]);
    assert!(a.response.contains("read \"erors\" as \"errors\""), "{}", a.response);
    expect("how many forbiden requests today?", "count", "count", json!(2), &["status 403", "\"forbiden\""]);
    // Words that are not close to one are left alone.
    expect("how many requests today?", "count", "count", json!(63), &["63 requests today"]);
}

#[test]
fn the_anomaly_rate_is_the_share_of_events_flagged() {
    let a = expect("what is the anomaly rate today?", "anomaly_rate", "percent", json!(9.52), &["9.52%", "6 of 63"]);
    assert_eq!((a.facts["anomalous_events"].clone(), a.facts["events"].clone()), (json!(6), json!(63)));
    expect("anomaly percentage", "anomaly_rate", "percent", json!(9.21), &["7 of 76"]);
    // Counting and ranking anomalies is unchanged.
    expect("how many anomalies today?", "anomaly_count", "anomalies", json!(6), &["6 anomalies"]);
}

/// The audit's questions over the three scanners' access logs (all on 2016-12-22): each
/// answer is what the events themselves hold.
#[test]
fn over_the_scanners_logs_the_audited_questions_count_what_the_events_hold() {
    let Some(files) = crate::testing::scan_logs() else { return };
    let parser = crate::parse::Parser::combined();
    let events: Vec<Event> =
        files.iter().flat_map(|(_, lines)| lines.iter().map(|line| parser.parse(line, "file:scan").event)).collect();
    let count = |keep: &dyn Fn(&Event) -> bool| json!(events.iter().filter(|e| keep(e)).count());
    let store = crate::testing::store();
    commit(&store, events.clone());
    let ask = |question: &str| ask_of(&store, question);

    assert_eq!(ask("how many requests were not 200?").facts["count"], count(&|e| e.status_code != 200));
    assert_eq!(ask("how many requests excluding 404s?").facts["count"], count(&|e| e.status_code != 404));
    let non_404_errors = count(&|e| (400..600).contains(&e.status_code) && e.status_code != 404);
    assert_eq!(ask("how many non-404 errors?").facts["count"], non_404_errors);
    // The path, with any query string, and its sub-paths (as `filters.url` is documented).
    let login = |e: &Event| {
        e.url == "/DVWA/login.php" || e.url.starts_with("/DVWA/login.php?") || e.url.starts_with("/DVWA/login.php/")
    };
    assert_eq!(ask("how many requests to /DVWA/login.php?").facts["count"], count(&login));
    assert_eq!(ask("how many 404s on /DVWA/login.php?").facts["count"], count(&|e| login(e) && e.status_code == 404));
    assert_eq!(ask("how many erors?").facts["count"], count(&|e| (400..600).contains(&e.status_code)));

    let minute = |e: &Event| {
        let at = jiff::Timestamp::from_millisecond(e.timestamp_ms).unwrap().to_string();
        at.starts_with("2016-12-22T20:42:")
    };
    let a = ask("how many requests at 20:42 on 2016-12-22?");
    assert_eq!(
        (a.facts["count"].clone(), a.range.label.as_str()),
        (count(&minute), "at 20:42 on 2016-12-22, the whole minute")
    );
    for question in ["how many 404s on 21/12/2016?", "how many 404s in december 2015?"] {
        assert_eq!(ask(question).facts["count"], json!(0), "{question}");
    }
    assert_eq!(ask("how many 404s in 2016?").facts["count"], count(&|e| e.status_code == 404));
    assert_eq!(ask("how many 404s on 12/22/2016?").facts["count"], count(&|e| e.status_code == 404));
}

#[test]
fn statuses_joined_by_or_or_and_count_requests_with_any_of_them() {
    // Today: 3 404s and 5 500s; 8 401s and 2 403s.
    let a = expect("how many 404 or 500 today?", "count", "count", json!(8), &["8 requests with status 404 or 500"]);
    assert_eq!(status_filters(&a).0, json!("404 or 500"));
    expect("how many requests were 404 or 500 today?", "count", "count", json!(8), &["status 404 or 500"]);
    expect("how many 401 and 403 responses today?", "count", "count", json!(10), &["status 401 or 403"]);
    expect("how many 4xx and 5xx today?", "count", "count", json!(22), &["status 4xx or 5xx"]);
    expect("what share of requests were 404 or 500 today?", "rate", "matching", json!(8), &["12.7%"]);
}

#[test]
fn lists_ranges_sizes_and_impossible_statuses_are_refused_not_answered_for_the_first_or_for_all() {
    for (question, said) in [
        ("how many requests from 10.0.0.1 or 10.0.0.2?", "one IP at a time"),
        ("how many requests from ip 10.0.0.1 and 10.0.0.2?", "one IP at a time"),
        ("compare 10.0.0.1 and 10.0.0.2", "one IP at a time"),
        ("how many requests from 10.0.0.*?", "IP range (\"10.0.0.*\")"),
        ("how many requests from 10.0.0.0/24?", "IP range (\"10.0.0.0/24\")"),
        ("how many GET or HEAD requests?", "one method at a time"),
        ("how many get or head requests?", "one method at a time"),
        ("how many requests to /login or /admin?", "one URL path at a time"),
        ("how many requests larger than 1MB?", "response size (\"larger than 1mb\")"),
        ("how many requests with more than 10000 bytes?", "response size"),
        ("how many 999s?", "999 is not an HTTP status"),
        ("how many 600 errors?", "600 is not an HTTP status"),
        ("top 0 IPs", "a top 0 lists nothing"),
    ] {
        let a = ask(question);
        assert_eq!(a.intent, "unknown", "{question}: {}", a.response);
        assert!(a.response.contains(said), "{question}: {}", a.response);
    }
}

#[test]
fn fewest_ranks_from_the_bottom_and_an_average_size_is_bytes() {
    // Today 10.0.0.6 sent 2 requests, the fewest.
    let a = expect(
        "which IP had the fewest requests today?",
        "top",
        "top.0.ip",
        json!("10.0.0.6"),
        &["The IP with the fewest requests today", "10.0.0.6, with 2 requests"],
    );
    assert_eq!(a.facts["order"], "fewest");
    expect("least common status today", "top", "top.0.status", json!("403"), &["fewest"]);
    // Today's five 500s sent 50 bytes each.
    expect("average response size of 500s today", "bytes", "bytes_mean", json!(50.0), &["mean 50 bytes"]);
}
