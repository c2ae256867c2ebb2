//! Days, months and years written in more ways ("21/12/2016", "12/22/2016", "december 2015",
//! "in 2016", "this month"), a moment ("at 20:42"), and dates that cannot be read, which are
//! said, never widened to all stored data. "Now" is 2025-04-01T12:30:00Z (see `mod.rs`):
//! yesterday, 2025-03-31, holds 13 requests and today 63.

use super::{ask, bounds, expect, window};

#[test]
fn numeric_days_are_read_day_first_or_month_first_when_only_one_reading_is_a_date() {
    for question in
        ["how many requests on 31/03/2025?", "how many requests on 03/31/2025?", "how many requests on 2025/03/31?"]
    {
        let a = expect(question, "count", "count", serde_json::json!(13), &["13 requests"]);
        assert_eq!(a.range.from.as_deref(), Some("2025-03-31T00:00:00Z"), "{question}");
        assert_eq!(a.range.to.as_deref(), Some("2025-04-01T00:00:00Z"), "{question}");
    }
    // Both readings are dates: day first, and the answer says so.
    let a = expect("how many requests on 01/04/2025?", "count", "count", serde_json::json!(63), &[]);
    assert_eq!(a.range.from.as_deref(), Some("2025-04-01T00:00:00Z"));
    assert!(a.range.label.contains("read day first as 2025-04-01"), "{}", a.range.label);
    assert!(a.response.contains("read day first as 2025-04-01"), "{}", a.response);
}

#[test]
fn months_and_years_are_windows() {
    let cases = [
        ("how many 404s in december 2015?", "2015-12-01T00:00:00Z", "2016-01-01T00:00:00Z"),
        ("requests in dec 2015", "2015-12-01T00:00:00Z", "2016-01-01T00:00:00Z"),
        ("how many 404s in 2016?", "2016-01-01T00:00:00Z", "2017-01-01T00:00:00Z"),
        ("how many requests in march", "2025-03-01T00:00:00Z", "2025-04-01T00:00:00Z"),
        ("how many requests this month?", "2025-04-01T00:00:00Z", "2025-04-01T12:30:00Z"),
        ("how many requests last month?", "2025-03-01T00:00:00Z", "2025-04-01T00:00:00Z"),
        ("how many requests this year?", "2025-01-01T00:00:00Z", "2025-04-01T12:30:00Z"),
        ("how many requests last year?", "2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z"),
    ];
    for (question, from, to) in cases {
        assert_eq!(bounds(&window(question)), (from.to_owned(), to.to_owned()), "{question}");
    }
    expect("how many requests last month?", "count", "count", serde_json::json!(13), &["last month"]);
    expect("how many requests in 2016?", "count", "count", serde_json::json!(0), &["in 2016"]);
    // "in the last month" stays the rolling window it was.
    assert_eq!(bounds(&window("in the last 2 days")).0, "2025-03-30T12:30:00Z");
}

#[test]
fn a_date_that_cannot_be_read_is_said_not_widened_to_all_data() {
    for (question, unread) in [
        ("how many 404s on 31/13/2025?", "31/13/2025"),
        ("how many 404s on 21/12/16?", "21/12/16"),
        ("how many requests since 10/04?", "10/04"),
        ("how many 404s on december the 22nd?", "december"),
        ("how many requests 3 weeks ago?", "3 weeks ago"),
        ("how many requests tomorrow?", "tomorrow"),
    ] {
        let a = ask(question);
        assert_eq!(a.intent, "unknown", "{question}: {}", a.response);
        assert!(a.response.contains(&format!("could not read the date {unread:?}")), "{question}: {}", a.response);
        assert!(a.response.contains("2016-12-22") && a.response.contains("last month"), "{question}: {}", a.response);
    }
    // Paths, addresses and quoted texts that hold digits and slashes are not dates.
    let a = ask("how many requests to /2025/03/31/report from 10.0.0.1?");
    assert_eq!((a.intent, a.range.label.as_str()), ("count", "all stored data"), "{}", a.response);
}

#[test]
fn a_day_no_calendar_has_is_said_to_be_no_such_day_with_the_forms_of_a_day() {
    for (question, written) in [
        ("how many requests on 2016-02-30?", "2016-02-30"),
        ("how many requests on 2016-13-01?", "2016-13-01"),
        ("how many requests on 2016-02-30 at 10:00?", "2016-02-30"),
        ("how many requests between 2016-02-28 and 2016-02-30?", "2016-02-30"),
        ("how many requests on 2016-02-30T10:00:00Z?", "2016-02-30"),
        ("how many requests on feb 30 2016?", "feb 30 2016"),
        ("how many requests on 31 april?", "31 april"),
        ("how many requests on 31/02/2016?", "31/02/2016"),
    ] {
        let a = ask(question);
        assert_eq!(a.intent, "unknown", "{question}: {}", a.response);
        assert!(
            a.response.starts_with(&format!("I could not read the date {written:?} (there is no such day)")),
            "{question}: {}",
            a.response
        );
        assert!(a.response.contains("write a day as 2016-12-22"), "{question}: {}", a.response);
        assert!(!a.response.contains("the time") && !a.response.contains("try \"10:00\""), "{question}");
    }
    // Without a year, a day is one of this year's.
    let a = ask("how many requests on 29 feb?");
    assert!(
        a.response.starts_with("I could not read the date \"29 feb\" (there is no such day in 2025)"),
        "{}",
        a.response
    );
    assert_eq!(bounds(&window("how many requests on 28 feb?")).0, "2025-02-28T00:00:00Z");
}

#[test]
fn a_day_past_the_instants_a_timestamp_holds_is_refused_as_such() {
    for (question, day) in [
        ("how many requests on 9999-12-31?", "9999-12-31"),
        ("how many requests on 31/12/9999?", "9999-12-31"),
        ("how many requests on 9999-12-30?", "9999-12-30"),
        ("how many requests in december 9999?", "9999-12"),
        ("how many requests between 2025-01-01 and 9999-12-31?", "9999-12-31"),
    ] {
        let a = ask(question);
        assert_eq!(a.intent, "unknown", "{question}: {}", a.response);
        assert!(
            a.response.starts_with(&format!(
                "I cannot count on {day}: it reaches outside the times I can handle (-009999-01-02T01:59:59Z to \
                 9999-12-30T22:00:00Z), so I did not answer for all stored data instead."
            )),
            "{question}: {}",
            a.response
        );
    }
    // The day before is read (and is still ahead).
    let a = ask("how many requests on 9999-12-29?");
    assert!(a.response.starts_with("the window \"on 9999-12-29\" ends"), "{}", a.response);
}

#[test]
fn at_a_time_is_that_minute_or_that_hour_as_written() {
    let cases = [
        ("what happened at 20:42 on 2016-12-22?", "2016-12-22T20:42:00Z", "2016-12-22T20:43:00Z"),
        ("how many requests at 13:00 on 2016-12-22?", "2016-12-22T13:00:00Z", "2016-12-22T13:01:00Z"),
        ("how many requests at 1pm on 2016-12-22?", "2016-12-22T13:00:00Z", "2016-12-22T14:00:00Z"),
        ("how many requests on 2016-12-22 at 20:42:05", "2016-12-22T20:42:05Z", "2016-12-22T20:42:06Z"),
        ("what happened at 10:00?", "2025-04-01T10:00:00Z", "2025-04-01T10:01:00Z"),
        // A time still ahead today is yesterday's, as with "since".
        ("how many requests at 13:00?", "2025-03-31T13:00:00Z", "2025-03-31T13:01:00Z"),
    ];
    for (question, from, to) in cases {
        assert_eq!(bounds(&window(question)), (from.to_owned(), to.to_owned()), "{question}");
    }
    // 10.0.0.4's three 404s are at 12:25:00, :10 and :20; 10.0.0.1's 20 requests at 11:40-11:43.
    let a = expect("how many requests at 12:25?", "count", "count", serde_json::json!(3), &["the whole minute"]);
    assert_eq!(a.range.label, "at 12:25, the whole minute");
    expect("how many requests at 11am today?", "count", "count", serde_json::json!(20), &["the whole hour"]);
    let a = ask("what happened at 12:25 today?");
    assert_eq!((a.intent, a.facts["requests"].as_u64()), ("open", Some(3)), "{}", a.response);
}

#[test]
fn after_a_time_on_a_named_day_ends_with_that_day() {
    for question in [
        "how many requests on 2025-03-31 after 15:00?",
        "how many requests after 15:00 on 2025-03-31?",
        "how many requests on 2025-03-31 since 15:00?",
    ] {
        assert_eq!(
            bounds(&window(question)),
            ("2025-03-31T15:00:00Z".to_owned(), "2025-04-01T00:00:00Z".to_owned()),
            "{question}"
        );
    }
    expect("how many requests on 2025-03-31 after 15:00?", "count", "count", serde_json::json!(13), &["13 requests"]);
    // A relative day still runs to now.
    assert_eq!(bounds(&window("since 10:00 yesterday")).1, "2025-04-01T12:30:00Z");
}

#[test]
fn between_two_days_runs_through_the_second_and_one_day_is_that_day() {
    let range = window("how many requests between 2025-03-30 and 2025-03-31?");
    assert_eq!(bounds(&range), ("2025-03-30T00:00:00Z".to_owned(), "2025-04-01T00:00:00Z".to_owned()));
    assert!(range.label.contains("through the end of 2025-03-31"), "{}", range.label);
    let a =
        expect("how many requests between 2025-03-31 and 2025-03-31?", "count", "count", serde_json::json!(13), &[]);
    assert!(a.response.contains("through the end of 2025-03-31"), "{}", a.response);
    // Times of day are as before.
    assert_eq!(bounds(&window("between 9 and 11")).1, "2025-04-01T11:00:00Z");
}

#[test]
fn relative_phrases_that_are_not_read_are_said_not_answered_for_all_data() {
    for (question, unread) in [
        ("how many requests in the last 1.5 hours?", "last 1.5 hours"),
        ("how many 502s in the last half hour?", "half hour"),
        ("how many 502s in the last half an hour?", "half an hour"),
        ("how many requests in the last couple of hours?", "last couple of hours"),
        ("how many requests in the last few minutes?", "last few minutes"),
        ("how many requests in the last hour and a half?", "and a half"),
        ("how many requests last night?", "last night"),
        ("how many requests in q4 2016?", "q4"),
        ("how many requests in 99999?", "in 99999"),
        ("how many requests in the last -5 minutes?", "last -5 minutes"),
        ("summarize 2025", "summarize 2025"),
        ("how many requests in the afternoon of 2025-03-31?", "afternoon"),
        ("how many requests on 2025-03-31 in the evening?", "evening"),
    ] {
        let a = ask(question);
        assert_eq!(a.intent, "unknown", "{question}: {}", a.response);
        let said = a.response.split(", so I did not answer").next().unwrap_or_default();
        assert!(
            said.starts_with("I could not read the date \"") && said.contains(unread),
            "{question}: {}",
            a.response
        );
    }
    for question in
        ["how many requests in the last hour of the logs?", "how many requests in the last 15 minutes of data?"]
    {
        let a = ask(question);
        assert_eq!(a.intent, "unknown", "{question}: {}", a.response);
        assert!(a.response.contains("cannot count back from the newest stored event"), "{question}: {}", a.response);
    }
}
