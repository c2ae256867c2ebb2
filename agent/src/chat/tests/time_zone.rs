//! `[chat] time_zone`: days and times of day read in the operator's zone.

use super::{NOW, now, store};
use crate::chat::timerange::{self, TimeRange};
use crate::chat::{Chat, ChatConfig, Clock};
use jiff::tz::TimeZone;
use serde_json::json;

fn window(question: &str, zone: &str) -> TimeRange {
    let tz = TimeZone::get(zone).unwrap();
    timerange::find(question, now(), &tz).unwrap().unwrap_or_else(|| panic!("{question}: no window")).range
}

fn at(text: &str) -> Option<jiff::Timestamp> {
    Some(text.parse().unwrap())
}

#[test]
fn times_of_day_and_days_are_read_in_the_configured_zone() {
    // Istanbul is UTC+3: the access log's "16:30" is 13:30 UTC.
    let w = window("how many requests between 16:30 and 16:35 on 22 dec 2016", "Europe/Istanbul");
    assert_eq!((w.from, w.to), (at("2016-12-22T13:30:00Z"), at("2016-12-22T13:35:00Z")));
    // New York in spring is UTC-4: its day starts at 04:00 UTC (and today's ends now).
    let w = window("how many requests on 2025-03-31", "America/New_York");
    assert_eq!((w.from, w.to), (at("2025-03-31T04:00:00Z"), at("2025-04-01T04:00:00Z")));
    let w = window("how many requests today", "America/New_York");
    assert_eq!((w.from, w.to), (at("2025-04-01T04:00:00Z"), at(NOW)));
    // The day clocks go forward is 23 hours long.
    let w = window("how many requests on 2025-03-09", "America/New_York");
    assert_eq!((w.from, w.to), (at("2025-03-09T05:00:00Z"), at("2025-03-10T04:00:00Z")));
    // A day written month first, as syslog and US English write it.
    let w = window("how many events on dec 10 2024 between 07:00 and 08:00", "Europe/Istanbul");
    assert_eq!((w.from, w.to), (at("2024-12-10T04:00:00Z"), at("2024-12-10T05:00:00Z")));
    let w = window("how many events on dec 10, 2024", "UTC");
    assert_eq!((w.from, w.to), (at("2024-12-10T00:00:00Z"), at("2024-12-11T00:00:00Z")));
    let w = window("how many events since mar 31st 2025 9:00", "UTC");
    assert_eq!(w.from, at("2025-03-31T09:00:00Z"));
    // A zone is not a shift of "now": the last hour is the last hour.
    let w = window("how many requests in the last hour", "Asia/Tokyo");
    assert_eq!((w.from, w.to), (at("2025-04-01T11:30:00Z"), at(NOW)));
}

/// The data set's 20 requests of 10.0.0.1 are at 11:40-11:43 UTC, 14:40-14:43 in Istanbul.
#[test]
fn a_chat_with_a_time_zone_answers_in_it() {
    let config = ChatConfig { time_zone: Some("Europe/Istanbul".into()), ..ChatConfig::default() };
    let chat = Chat::new(&config.resolve().unwrap()).with_clock(Clock::Fixed(now()));
    let question = "how many requests from 10.0.0.1 between 14:40 and 14:45 today?";
    let answer = chat.answer_from_data(&store(), question).unwrap();
    assert_eq!(answer.facts["count"], json!(20), "{}", answer.response);
    assert_eq!(answer.range.from.as_deref(), Some("2025-04-01T11:40:00Z"));
    let in_utc = Chat::new(&ChatConfig::default().resolve().unwrap()).with_clock(Clock::Fixed(now()));
    assert_eq!(in_utc.answer_from_data(&store(), question).unwrap().facts["count"], json!(0));
}

#[test]
fn an_unknown_time_zone_is_refused_with_what_to_write() {
    let config = ChatConfig { time_zone: Some("Mars/Olympus".into()), ..ChatConfig::default() };
    let errors = config.resolve().unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].field, "chat.time_zone");
    assert!(errors[0].message.contains("Mars/Olympus") && errors[0].hint.contains("Europe/Istanbul"), "{errors:?}");
    for zone in ["UTC", "local", "Asia/Kolkata"] {
        let config = ChatConfig { time_zone: Some(zone.into()), ..ChatConfig::default() };
        assert!(config.resolve().is_ok(), "{zone}");
    }
}
