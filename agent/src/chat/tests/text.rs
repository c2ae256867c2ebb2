//! Questions that ask for a text (`how many "Failed password"`, `lines mentioning invalid
//! user`), over the real OpenSSH log of `../shared/data/loghub` read by the `syslog` parser.

use super::attacks::{ask_of, commit};
use crate::event::Event;
use crate::store::Store;
use crate::templates::loghub;
use jiff::tz::TimeZone;
use serde_json::json;
use std::sync::Arc;

/// A store holding `system`'s 2,000 loghub lines read by the `syslog` parser, with the events
/// and the lines themselves.
pub(super) fn stored(system: &str) -> Option<(Arc<Store>, Vec<Event>, Vec<String>)> {
    let Some(root) = loghub::root() else {
        eprintln!("skipped: ../shared/data/loghub is absent");
        return None;
    };
    let sample = loghub::load(&root, system).expect("the loghub sample");
    let parser = crate::parse::Parser::syslog(TimeZone::UTC);
    let events: Vec<Event> = sample.raw.iter().map(|line| parser.parse(line, "file:syslog").event).collect();
    let store = crate::testing::store();
    commit(&store, events.clone());
    Some((store, events, sample.raw))
}

fn lines_with(lines: &[String], text: &str) -> u64 {
    lines.iter().filter(|line| line.to_ascii_lowercase().contains(text)).count() as u64
}

#[test]
fn a_question_that_quotes_or_names_a_text_counts_the_lines_holding_it() {
    let Some((store, _, lines)) = stored("OpenSSH") else { return };
    let failed = lines_with(&lines, "failed password");
    let invalid = lines_with(&lines, "invalid user");
    assert!(failed > 100 && invalid > 100 && failed + invalid < 2000, "failed {failed}, invalid {invalid}");

    let answer = ask_of(&store, r#"How many "Failed password" attempts?"#);
    assert_eq!(answer.intent, "count");
    assert_eq!(answer.facts["count"], json!(failed), "{}", answer.response);
    assert_eq!(answer.filters.text.as_deref(), Some("failed password"));
    assert_eq!(answer.filters.status, None, "\"failed\" in the quote is not an error status");
    assert!(answer.response.contains(r#"containing "failed password""#), "{}", answer.response);

    let answer = ask_of(&store, "how many lines mention invalid user?");
    assert_eq!(answer.facts["count"], json!(invalid), "{}", answer.response);
    assert_eq!(answer.filters.text.as_deref(), Some("invalid user"));

    // With another intent: the share of all lines.
    let answer = ask_of(&store, r#"what percentage of lines contain "invalid user"?"#);
    assert_eq!(answer.filters.text.as_deref(), Some("invalid user"), "{}", answer.response);
    assert_eq!(answer.intent, "rate");
    assert_eq!(
        (&answer.facts["matching"], &answer.facts["total"]),
        (&json!(invalid), &json!(2000)),
        "{}",
        answer.response
    );
    assert_eq!(answer.filters.status, None, "{}", answer.response);
}

/// System log lines have no IP, URL, method or status: answers do not rank them under an empty
/// value ("the IP with the most requests is , with 2000 requests", "0xx 2000") but say so, and
/// speak of lines when the question does.
#[test]
fn over_system_log_lines_answers_say_what_they_lack() {
    let Some((store, _, _)) = stored("OpenSSH") else { return };
    let answer = ask_of(&store, "which ip sent the most lines?");
    assert_eq!(answer.response, "None of the 2000 lines in all stored data has an IP.");
    assert_eq!(answer.facts["top"], json!([]));
    let answer = ask_of(&store, r#"lines containing "preauth" by method"#);
    assert!(
        answer.response.starts_with("None of the ") && answer.response.ends_with(" has a method."),
        "{}",
        answer.response
    );
    assert_eq!(ask_of(&store, "how many unique ips?").facts["distinct"], json!(0));
    let answer = ask_of(&store, "summarize the logs");
    assert!(
        answer.response.contains("2000 logs") && answer.response.contains("none (not HTTP) 2000"),
        "{}",
        answer.response
    );
    assert!(!answer.response.contains("0xx") && !answer.response.contains("Top IPs"), "{}", answer.response);
}

#[test]
fn an_anomaly_is_shown_as_its_request_or_else_as_its_line() {
    let row = |method: &str, status_code, line: &str| crate::chat::queries::AnomalyRow {
        id: 1,
        event_id: 1,
        timestamp_ms: 0,
        ip: if method.is_empty() { String::new() } else { "10.0.0.1".into() },
        method: method.into(),
        url: if method.is_empty() { String::new() } else { "/login".into() },
        status_code,
        score: 0.9,
        reason: "rare".into(),
        detector: "isolation-forest".into(),
        line: line.into(),
    };
    assert_eq!(row("POST", 500, "").what(), "10.0.0.1 POST /login → 500");
    let line = "Dec 10 07:08:28 LabSZ sshd[24208]: reverse mapping checking getaddrinfo failed";
    assert_eq!(row("", 0, line).what(), line);
    let long = "x".repeat(200);
    assert_eq!(row("", 0, &long).what(), format!("{}…", "x".repeat(160)));
}

/// Syslog's program and host (`fields.app`, `fields.host`) are dimensions like the IP: over
/// loghub's Linux log, the ranking is the one counted from the parsed lines.
#[test]
fn system_log_lines_are_ranked_by_program_and_host() {
    let Some((store, events, _)) = stored("Linux") else { return };
    let mut by_app = std::collections::HashMap::<String, u64>::new();
    for event in &events {
        if let Some(app) = event.fields.get("app").and_then(|v| v.as_str()) {
            *by_app.entry(app.to_owned()).or_default() += 1;
        }
    }
    let mut expected: Vec<(String, u64)> = by_app.into_iter().collect();
    expected.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));

    let answer = ask_of(&store, "which 3 programs wrote the most lines?");
    assert_eq!(answer.intent, "top", "{}", answer.response);
    let top: Vec<(String, u64)> = answer.facts["top"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| (row["program"].as_str().unwrap().to_owned(), row["count"].as_u64().unwrap()))
        .collect();
    assert_eq!(top, expected[..3].to_vec(), "{}", answer.response);
    assert!(answer.response.starts_with("Top 3 programs by lines"), "{}", answer.response);

    let answer = ask_of(&store, "lines by host name");
    assert_eq!(answer.intent, "breakdown", "{}", answer.response);
    assert_eq!(answer.facts["groups"], json!([{ "host": "combo", "count": 2000 }]), "{}", answer.response);
}

/// A question that names no noun gets the data's: system log lines are "lines" in every kind
/// of answer, never "requests"; the question's own word still wins ("logs"), a filter only a
/// request can match (a status) still counts requests, and a window with no event speaks of
/// what the store holds.
#[test]
fn answers_over_system_log_lines_call_them_lines_not_requests() {
    let Some((store, _, lines)) = stored("OpenSSH") else { return };
    let failed = lines_with(&lines, "failed password");
    let cases = [
        ("how many in total?", "There were 2000 lines in all stored data.".to_owned()),
        (r#"how many "Failed password"?"#, format!("There were {failed} lines containing \"failed password\"")),
        (r#"what share contain "failed password"?"#, "% of lines in all stored data contained".to_owned()),
        ("which program wrote the most?", "The program with the most lines in all stored data is sshd".to_owned()),
        ("breakdown by program", "lines in all stored data, by program: sshd: ".to_owned()),
        ("how many unique programs?", "among 2000 lines".to_owned()),
        ("when was the busiest hour?", "The busiest hour in all stored data began at".to_owned()),
        ("what is the throughput?", "There were 2000 lines in all stored data; name a window".to_owned()),
        ("what happened?", "in all stored data: 2000 lines, 0 errors".to_owned()),
        ("what happened today?", "no lines are stored".to_owned()),
        ("summarize the logs", "2000 logs".to_owned()),
        ("how many 500s?", "None of the 2000 lines in all stored data is an HTTP request".to_owned()),
    ];
    for (question, words) in cases {
        let answer = ask_of(&store, question);
        assert!(answer.response.contains(&words), "{question}: {:?} should contain {words:?}", answer.response);
        assert!(
            question.contains("500") || !answer.response.contains("request"),
            "{question}: {:?} calls lines requests",
            answer.response
        );
    }
}

/// Requests and system log lines in one store: an answer over both says "lines" (a request
/// read from an access log is a line too; a syslog line is no request), over requests alone
/// "requests".
#[test]
fn answers_over_requests_and_lines_say_lines_and_over_requests_alone_requests() {
    let Some((store, _, _)) = stored("OpenSSH") else { return };
    let request = |status_code| Event {
        timestamp_ms: "2025-04-01T11:00:00Z".parse::<jiff::Timestamp>().unwrap().as_millisecond(),
        ip: "10.0.0.1".into(),
        method: "GET".into(),
        url: "/index.html".into(),
        status_code,
        source: "api".into(),
        ..Event::default()
    };
    commit(&store, vec![request(200), request(500)]);
    let answer = ask_of(&store, "how many in total?");
    assert_eq!(answer.response, "There were 2002 lines in all stored data.");
    let answer = ask_of(&store, "how many today?");
    assert_eq!(answer.response, "There were 2 requests today (2025-04-01T00:00:00Z to 2025-04-01T12:30:00Z).");
    // A ranking by IP counts requests: only they have one.
    let answer = ask_of(&store, "which IP sent the most?");
    assert_eq!(answer.response, "The IP with the most requests in all stored data is 10.0.0.1, with 2 requests.");
    let answer = ask_of(&store, "what is the error rate today?");
    assert!(answer.response.starts_with("50% of requests had an error status (400-599): 1 of 2 today"));
    // A share is named after all the events it is a share of.
    let answer = ask_of(&store, "what is the error rate?");
    assert!(answer.response.starts_with("0.05% of lines had an error status (400-599): 1 of 2002"));
}
