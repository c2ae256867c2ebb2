//! The `syslog` format: lines as syslog daemons write them to files (`/var/log/syslog`,
//! `auth.log`, `messages`), RFC 3164 (`Dec 10 06:55:46 host sshd[24200]: message`) and RFC 5424
//! (`<34>1 2026-12-04T21:24:01.123Z host app 42 ID47 [sd] message`), with or without a `<PRI>`,
//! and rsyslog's high-precision variant of 3164 (an RFC 3339 time in place of `Dec 10 ...`).
//!
//! The reading itself is `syslog_loose` (what Vector's syslog parsing uses); this module adds
//! what a file on a server needs around it:
//! - a BSD time has no year: it is this year, unless that would put it more than a day ahead
//!   of now, then last year (a December line read in January);
//! - a BSD time has no offset: it is read in the source's `time_zone` (the machine's own by
//!   default, which is what the daemon wrote in), daylight-saving gaps and folds resolved as
//!   jiff's `compatible` does. An RFC 3339 time keeps its own offset.
//!
//! An event gets `timestamp_ms` and, in `fields`: `host`, `app`, `pid` (a number when it is
//! one), `message` (the text after the header, which the template miner reads), and when the
//! line has them `severity` and `facility` (from `<PRI>`, by name: `err`, `auth`), `msgid` and
//! `structured_data` (`{"id": {"param": "value"}}`). A line that is not syslog is kept with
//! its `raw` text and a `Malformed` error, like every format's.

use super::Parsed;
use super::config::Format;
use super::error::ParseError;
use crate::event::Event;
use chrono::{Datelike, Timelike, Utc};
use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use serde_json::{Map, Value};
use syslog_loose::{IncompleteDate, Message, ProcId, Protocol, Variant};

#[cfg(test)]
mod tests;

/// A validated `syslog` parser: the zone its BSD times are read in.
#[derive(Debug)]
pub(super) struct SyslogParser {
    zone: TimeZone,
}

impl SyslogParser {
    pub(super) fn new(zone: TimeZone) -> SyslogParser {
        SyslogParser { zone }
    }

    pub(super) fn parse(&self, line: &str, source: &str) -> Parsed {
        self.parse_at(line, source, Timestamp::now())
    }

    /// [`SyslogParser::parse`] as if read at `now` (which decides the year of a BSD time).
    pub(super) fn parse_at(&self, line: &str, source: &str, now: Timestamp) -> Parsed {
        let text = line.trim_end_matches(['\n', '\r']);
        // Called only for a BSD time without a year: other lines skip the zone lookup.
        let year_of = |(month, day, ..): IncompleteDate| {
            let today = now.to_zoned(self.zone.clone()).date();
            let tomorrow = today.tomorrow().unwrap_or(today);
            let year = today.year();
            match Date::new(year, month as i8, day as i8) {
                Ok(date) if date > tomorrow => i32::from(year) - 1,
                _ => i32::from(year),
            }
        };
        // Read with UTC standing in for the zone (syslog_loose takes a chrono zone); a BSD
        // time is then moved into `self.zone` below.
        let message = match syslog_loose::parse_message_with_year_exact_tz(text, year_of, Some(Utc), Variant::Either) {
            Ok(message) => message,
            Err(_) => {
                let error = ParseError::Malformed {
                    format: Format::Syslog,
                    expected: "a syslog header (`Mmm dd hh:mm:ss host app[pid]: ` or `<pri>1 time host app ...`)",
                    at: 0,
                };
                return Parsed::failed(line, source, error);
            }
        };
        let mut event = Event { raw: line.to_owned(), source: source.to_owned(), ..Event::default() };
        if let Some(time) = message.timestamp {
            event.timestamp_ms = if has_bsd_time(text) {
                let civil = time.naive_utc();
                DateTime::new(
                    civil.year() as i16,
                    civil.month() as i8,
                    civil.day() as i8,
                    civil.hour() as i8,
                    civil.minute() as i8,
                    civil.second().min(59) as i8,
                    0,
                )
                .ok()
                .and_then(|dt| self.zone.to_ambiguous_timestamp(dt).compatible().ok())
                .map_or(0, Timestamp::as_millisecond)
            } else {
                time.timestamp_millis()
            };
        }
        event.fields = fields(&message, text);
        Parsed { event, error: None }
    }
}

/// Whether the line's time is the BSD `Mmm dd hh:mm:ss` (no year, no offset): it begins with
/// a letter once an optional `<PRI>` is skipped. RFC 5424 and rsyslog's high-precision form
/// begin with a digit there (the version, or the year).
fn has_bsd_time(text: &str) -> bool {
    let text = text.trim_start();
    let after_pri = match text.strip_prefix('<').and_then(|rest| rest.split_once('>')) {
        Some((pri, rest)) if pri.bytes().all(|b| b.is_ascii_digit()) => rest,
        _ => text,
    };
    after_pri.trim_start().starts_with(|c: char| c.is_ascii_alphabetic())
}

/// The header's parts and the message, as an event's `fields`.
fn fields(message: &Message<&str>, text: &str) -> Map<String, Value> {
    let mut fields = Map::new();
    let mut put = |key: &str, value: Option<&str>| {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            fields.insert(key.to_owned(), Value::String(value.to_owned()));
        }
    };
    put("host", message.hostname);
    put("app", message.appname);
    put("msgid", message.msgid);
    put("severity", message.severity.map(|s| s.as_str()));
    put("facility", message.facility.map(|f| f.as_str()));
    match &message.procid {
        Some(ProcId::PID(pid)) => {
            fields.insert("pid".to_owned(), Value::from(*pid));
        }
        Some(ProcId::Name(name)) if !name.is_empty() => {
            fields.insert("pid".to_owned(), Value::String((*name).to_owned()));
        }
        _ => {}
    }
    if !message.structured_data.is_empty() {
        let elements = message
            .structured_data
            .iter()
            .map(|element| {
                let params = element.params().map(|(key, value)| ((*key).to_owned(), Value::String(value))).collect();
                (element.id.to_owned(), Value::Object(params))
            })
            .collect();
        fields.insert("structured_data".to_owned(), Value::Object(elements));
    }
    fields.insert("message".to_owned(), Value::String(bsd_message(message, text).to_owned()));
    fields
}

/// The message of a line, with a leading `-` kept in a BSD line: syslog_loose reads a `-` after
/// the tag as RFC 5424's empty structured data and drops it, which turns macOS's
/// `Dock[307]: -[UABestAppSuggestionManager notify]` into `[UABestAppSuggestionManager
/// notify]`. RFC 3164 has no structured data; what follows the tag is the message.
fn bsd_message<'a>(message: &Message<&'a str>, text: &'a str) -> &'a str {
    let msg = message.msg;
    if message.protocol != Protocol::RFC3164 || !message.structured_data.is_empty() {
        return msg;
    }
    // `msg` is a slice of `text` (syslog_loose does not copy); find where it starts.
    let Some(start) = (msg.as_ptr() as usize).checked_sub(text.as_ptr() as usize).filter(|&at| at <= text.len()) else {
        return msg;
    };
    let before = text[..start].trim_end();
    if before.ends_with('-') { &text[before.len() - 1..] } else { msg }
}
