//! Questions about system logs in their own words, over loghub's OpenSSH and Linux logs read
//! by the `syslog` parser into one store (4,000 lines, none an HTTP request): "failed
//! password" is the lines' text, not an HTTP error status; "lines from sshd" counts that
//! program's lines; "host" is the host name; and a filter only a request can match is said,
//! not answered with 0.

use super::attacks::{ask_of, commit};
use super::text::stored;
use crate::event::Event;
use crate::store::Store;
use serde_json::json;
use std::sync::Arc;

/// Both logs in one store, with their events and lines.
fn both() -> Option<(Arc<Store>, Vec<Event>, Vec<String>)> {
    let (store, mut events, mut lines) = stored("OpenSSH")?;
    let (_, linux, linux_lines) = stored("Linux")?;
    commit(&store, linux.clone());
    events.extend(linux);
    lines.extend(linux_lines);
    Some((store, events, lines))
}

fn lines_with(lines: &[String], text: &str) -> u64 {
    lines.iter().filter(|line| line.to_ascii_lowercase().contains(text)).count() as u64
}

fn field_is(events: &[Event], field: &str, value: &str) -> u64 {
    events.iter().filter(|e| e.fields.get(field).and_then(|v| v.as_str()) == Some(value)).count() as u64
}

#[test]
fn unquoted_system_log_phrases_count_the_lines_holding_them_not_error_statuses() {
    let Some((store, _, lines)) = both() else { return };
    for (question, text) in [
        ("how many failed password lines?", "failed password"),
        ("how many failed passwords?", "failed password"),
        ("how many authentication failures?", "authentication failure"),
        ("how many invalid users?", "invalid user"),
        ("how many break-in attempts?", "break-in attempt"),
    ] {
        let a = ask_of(&store, question);
        let expected = lines_with(&lines, text);
        assert!(expected > 50, "{question}: the sample holds {expected}");
        assert_eq!((a.intent, a.facts["count"].as_u64()), ("count", Some(expected)), "{question}: {}", a.response);
        assert_eq!((a.filters.text.as_deref(), a.filters.status.as_deref()), (Some(text), None), "{question}");
        assert!(a.response.contains(&format!("containing \"{text}\"")), "{question}: {}", a.response);
    }
}

#[test]
fn a_filter_only_requests_have_over_system_log_lines_is_said_not_answered_with_0() {
    let Some((store, _, _)) = both() else { return };
    for (question, lacks) in [
        ("how many failures?", "an HTTP status"),
        ("how many 404s?", "an HTTP status"),
        ("were we attacked?", "attack signatures read"),
        ("which IP sent the most errors?", "an HTTP status"),
    ] {
        let a = ask_of(&store, question);
        assert!(
            a.response.starts_with("None of the 4000 lines in all stored data is an HTTP request"),
            "{question}: {}",
            a.response
        );
        assert!(a.response.contains(lacks), "{question}: {}", a.response);
        assert_eq!((a.facts["requests"].as_u64(), a.facts["lines"].as_u64()), (Some(0), Some(4000)), "{question}");
    }
}

#[test]
fn on_mixed_data_a_count_by_status_counts_the_requests_and_says_it_left_out_the_lines() {
    let Some((store, _, _)) = both() else { return };
    let request = |status: u16| Event {
        timestamp_ms: jiff::Timestamp::from_second(1_743_500_000).unwrap().as_millisecond(),
        ip: "10.0.0.1".into(),
        method: "GET".into(),
        url: "/missing".into(),
        status_code: status,
        source: "api".into(),
        ..Event::default()
    };
    commit(&store, vec![request(404), request(404), request(200)]);
    for (question, count, lacks) in [
        ("how many 404s?", 2, "an HTTP status"),
        ("how many requests were not 200?", 2, "an HTTP status"),
        ("how many requests from 10.0.0.1?", 3, "a client IP"),
    ] {
        let a = ask_of(&store, question);
        assert_eq!((a.intent, a.facts["count"].as_u64()), ("count", Some(count)), "{question}: {}", a.response);
        assert_eq!(a.facts["not_requests"], json!(4000), "{question}: {}", a.response);
        assert!(
            a.response.ends_with(&format!(
                " Only HTTP requests were counted: none of the 4000 lines that are not (system log lines) has {lacks}."
            )),
            "{question}: {}",
            a.response
        );
    }
    // A count that is not of requests only counts every line, and has nothing to say.
    let a = ask_of(&store, "how many lines?");
    assert_eq!((a.facts["count"].as_u64(), a.facts.get("not_requests")), (Some(4003), None), "{}", a.response);
}

#[test]
fn failed_logins_are_refused_with_what_can_be_asked() {
    let Some((store, _, _)) = both() else { return };
    for question in ["how many failed logins?", "how many login failures today?", "any failed login attempts?"] {
        let a = ask_of(&store, question);
        assert_eq!(a.intent, "unknown", "{question}: {}", a.response);
        assert!(a.response.contains("cannot tell which events are") && a.response.contains("failed password lines"));
    }
}

#[test]
fn lines_from_a_program_or_host_count_only_its_lines() {
    let Some((store, events, _)) = both() else { return };
    for (question, field, value) in [
        ("how many lines from sshd?", "app", "sshd"),
        ("how many sshd lines?", "app", "sshd"),
        ("how many events from sshd?", "app", "sshd"),
        ("how many lines from ftpd?", "app", "ftpd"),
        ("how many kernel lines?", "app", "kernel"),
        ("how many lines from the kernel?", "app", "kernel"),
        ("how many lines from host combo?", "host", "combo"),
        ("how many lines from combo?", "host", "combo"),
    ] {
        let expected = field_is(&events, field, value);
        assert!(expected > 10 && expected < 4000, "{question}: {expected}");
        let a = ask_of(&store, question);
        assert_eq!((a.intent, a.facts["count"].as_u64()), ("count", Some(expected)), "{question}: {}", a.response);
        let filtered = if field == "app" { &a.filters.program } else { &a.filters.host };
        assert_eq!(filtered.as_deref(), Some(value), "{question}");
        assert!(a.response.contains(&format!("from {} {value}", if field == "app" { "program" } else { "host" })));
    }
    let a = ask_of(&store, "how many lines from nosuchd?");
    assert_eq!(a.intent, "unknown", "{}", a.response);
    assert!(a.response.contains("No stored line was written by a program or host named \"nosuchd\""), "{}", a.response);
}

#[test]
fn host_is_the_host_name_over_system_log_lines() {
    let Some((store, _, _)) = both() else { return };
    let a = ask_of(&store, "how many unique hosts?");
    assert_eq!((a.intent, a.facts["distinct"].as_u64()), ("unique", Some(2)), "{}", a.response);
    assert!(a.response.contains("2 distinct host names") && a.response.contains("I read \"host\""), "{}", a.response);
    let a = ask_of(&store, "which host wrote the most lines?");
    assert_eq!(a.facts["top"][0]["count"], json!(2000), "{}", a.response);
    assert_eq!(a.facts["dimension"], json!("host"), "{}", a.response);
}

#[test]
fn a_ranking_of_anomalies_by_a_value_they_lack_says_so_not_that_there_are_none() {
    // The web data set's 7 anomalies are requests: none has a program.
    let a = super::ask("which program has the most anomalies?");
    assert!(a.response.starts_with("None of the 7 anomalies in all stored data"), "{}", a.response);
}
