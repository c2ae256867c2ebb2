//! The event fields a JSON key or a regex group can fill, and how a text value is written into
//! each (numbers checked, `-` read as absent). Shared by the `json` and `regex` formats so both
//! read the same text the same way.

use super::access_log::split_request;
use super::error::ParseError;
use super::timestamp::text_millis;
use crate::event::Event;

/// An event field that a JSON key or a regex group fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Target {
    /// `timestamp_ms`, from any timestamp form `timestamp` reads.
    Timestamp,
    /// `ip`.
    Ip,
    /// `method`.
    Method,
    /// `url`.
    Url,
    /// A whole request line (`GET /x HTTP/1.1`): fills `method` and `url` unless they are
    /// given on their own.
    Request,
    /// `status_code`.
    StatusCode,
    /// `bytes_sent`.
    BytesSent,
    /// `user_agent`.
    UserAgent,
    /// `referer`.
    Referer,
    /// `latency_ms`, given in milliseconds.
    LatencyMs,
    /// `latency_ms`, given in seconds (nginx `$request_time`).
    LatencySeconds,
}

impl Target {
    /// The field's name in config and messages.
    pub(super) fn name(self) -> &'static str {
        match self {
            Target::Timestamp => "timestamp",
            Target::Ip => "ip",
            Target::Method => "method",
            Target::Url => "url",
            Target::Request => "request",
            Target::StatusCode => "status_code",
            Target::BytesSent => "bytes_sent",
            Target::UserAgent => "user_agent",
            Target::Referer => "referer",
            Target::LatencyMs => "latency_ms",
            Target::LatencySeconds => "latency_s",
        }
    }

    /// The field a regex group name stands for: the event field names, plus the short names
    /// people write anyway (`status`, `bytes`, `latency` in ms, `time`), so such a group does
    /// not end up silently in `fields`.
    pub(super) fn from_group_name(name: &str) -> Option<Target> {
        Some(match name {
            "timestamp" | "timestamp_ms" | "time" => Target::Timestamp,
            "ip" => Target::Ip,
            "method" => Target::Method,
            "url" => Target::Url,
            "request" => Target::Request,
            "status_code" | "status" => Target::StatusCode,
            "bytes_sent" | "bytes" => Target::BytesSent,
            "user_agent" => Target::UserAgent,
            "referer" => Target::Referer,
            "latency_ms" | "latency" => Target::LatencyMs,
            "latency_s" => Target::LatencySeconds,
            _ => return None,
        })
    }
}

/// Writes one text value into `event`. `key` is the JSON key or regex group it came from, for
/// messages. On error the field keeps its default and the error says why.
pub(super) fn assign_text(
    event: &mut Event,
    target: Target,
    key: &str,
    text: &str,
    timestamp_format: Option<&str>,
) -> Result<(), ParseError> {
    let absent = text.is_empty() || text == "-";
    match target {
        Target::Timestamp if absent => {}
        Target::Timestamp => {
            event.timestamp_ms = text_millis(text, timestamp_format).map_err(|reason| ParseError::Timestamp {
                field: key.to_owned(),
                value: text.to_owned(),
                reason,
            })?;
        }
        Target::Ip => event.ip = text.to_owned(),
        Target::Method => event.method = text.to_owned(),
        Target::Url => event.url = text.to_owned(),
        Target::Request => {
            let (method, url) = split_request(text);
            if event.method.is_empty() {
                event.method = method.to_owned();
            }
            if event.url.is_empty() {
                event.url = url.to_owned();
            }
        }
        Target::UserAgent => event.user_agent = if absent { String::new() } else { text.to_owned() },
        Target::Referer => event.referer = (!absent).then(|| text.to_owned()),
        Target::StatusCode if absent => event.status_code = 0,
        Target::StatusCode => {
            event.status_code = text
                .trim()
                .parse::<u16>()
                .ok()
                .filter(|code| *code <= 999)
                .ok_or_else(|| number_error(target, text))?;
        }
        Target::BytesSent if absent => event.bytes_sent = 0,
        Target::BytesSent => {
            event.bytes_sent = text.trim().parse().map_err(|_| number_error(target, text))?;
        }
        Target::LatencyMs | Target::LatencySeconds if absent => event.latency_ms = None,
        Target::LatencyMs | Target::LatencySeconds => {
            let value = text
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| number_error(target, text))?;
            set_latency(event, target, value);
        }
    }
    Ok(())
}

/// Sets `latency_ms` from a value in the target's unit.
pub(super) fn set_latency(event: &mut Event, target: Target, value: f64) {
    let factor = if target == Target::LatencySeconds { 1000.0 } else { 1.0 };
    event.latency_ms = Some(value * factor);
}

/// The error for a numeric field holding something else.
pub(super) fn number_error(target: Target, text: &str) -> ParseError {
    let (field, expected) = match target {
        Target::StatusCode => ("status_code", "a status code 0-999"),
        Target::BytesSent => ("bytes_sent", "a whole number of bytes"),
        Target::LatencySeconds => ("latency_ms", "a non-negative number of seconds"),
        _ => ("latency_ms", "a non-negative number of milliseconds"),
    };
    ParseError::Number { field, value: text.to_owned(), expected }
}
