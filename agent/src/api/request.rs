//! Decoding and validating a `POST /anomaly_detection` body: every rejection names the log
//! index and field, says what was expected, and maps to the status API.md gives it.

use super::ApiError;
use crate::event::Event;
use serde::Deserialize;
use serde_json::error::Category;
use std::net::IpAddr;

/// Largest response size we believe a single request produced (1 TiB).
const MAX_BYTES_SENT: i128 = 1 << 40;
/// Longest URL accepted, in bytes.
const MAX_URL_BYTES: usize = 16 * 1024;
/// Longest user agent accepted, in bytes.
const MAX_USER_AGENT_BYTES: usize = 8 * 1024;
/// Longest method accepted.
const MAX_METHOD_BYTES: usize = 32;
/// How far ahead of the agent's clock a log's time may be: a day.
const MAX_AHEAD_MS: i64 = 24 * 3600 * 1000;
/// Problems listed in one error answer at most.
const MAX_DETAILS: usize = 20;

#[derive(Deserialize)]
struct Body {
    logs: Vec<LogIn>,
}

/// One log as the API receives it: the seven fields of API.md, all required. Numbers are
/// taken as i64 so an out-of-range value gets our message, not a generic type error.
/// Only a JSON object is a log: serde's derive also reads a struct from an array of its field
/// values in order, which let `["1.2.3.4", ...]` in and called a valid array with one value too
/// many "not valid JSON". So the derive goes to an inherent `LogIn::deserialize`
/// (`remote = "Self"`), and the `Deserialize` impl below asks for a map.
#[derive(Deserialize)]
#[serde(remote = "Self")]
pub struct LogIn {
    pub ip: String,
    pub timestamp: String,
    pub method: String,
    pub url: String,
    #[serde(deserialize_with = "whole_number")]
    pub status_code: i128,
    #[serde(deserialize_with = "whole_number")]
    pub bytes_sent: i128,
    pub user_agent: String,
}

impl<'de> Deserialize<'de> for LogIn {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Object;
        impl<'de> serde::de::Visitor<'de> for Object {
            type Value = LogIn;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a log object (ip, timestamp, method, url, status_code, bytes_sent, user_agent)")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<LogIn, A::Error> {
                LogIn::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        deserializer.deserialize_map(Object)
    }
}

/// An integer field that also takes a JSON number written with a fraction of zero (`200.0`):
/// JSON Schema, and so the OpenAPI document, counts that as an integer, and serialisers that
/// hold every number as a float (Python's `float`, some log shippers) write it so. Any other
/// fraction or a non-finite value stays a type error.
fn whole_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<i128, D::Error> {
    struct WholeNumber;
    impl serde::de::Visitor<'_> for WholeNumber {
        type Value = i128;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an integer")
        }
        // i128 holds every JSON integer serde_json reads, so an out-of-range value is quoted
        // as it was sent, not clamped, by the validation's message.
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<i128, E> {
            Ok(i128::from(v))
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<i128, E> {
            Ok(i128::from(v))
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<i128, E> {
            // serde_json reads an integer past u64 (1e23 written out) as a float: a whole one is
            // still an integer, out of range. 2^127 is the first float past i128; `as` is exact
            // below it for whole numbers.
            if v.fract() == 0.0 && v.abs() < 2f64.powi(127) {
                Ok(v as i128)
            } else {
                Err(E::invalid_type(serde::de::Unexpected::Float(v), &self))
            }
        }
    }
    deserializer.deserialize_any(WholeNumber)
}

/// A validated log: the event to score and the timestamp text to echo back.
pub struct ValidLog {
    pub event: Event,
    pub timestamp: String,
}

/// Decode and validate a body; `max_logs` is the configured batch limit.
pub fn decode(body: &[u8], max_logs: usize) -> Result<Vec<ValidLog>, ApiError> {
    // A UTF-8 byte order mark, which some Windows tools write, is not JSON; RFC 8259 lets a
    // parser ignore it.
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b != b'{') && serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok() {
        return Err(ApiError::unprocessable("wrong_type", "request body: expected a JSON object {\"logs\": [...]}"));
    }
    let parsed: Body = from_json(body, Input::Body)?;
    validate_all(parsed.logs, max_logs, Input::Body)
}

/// Where logs came from, for the words of an error: fields are named as the sender wrote
/// them (`logs[3].status_code` in a body, `[3].status_code` in a frame's array,
/// `status_code` in a frame of one log).
#[derive(Clone, Copy, PartialEq)]
enum Input {
    Body,
    /// A `/ws/application` frame of one log object.
    Frame,
    /// A `/ws/application` frame of an array of logs.
    FrameArray,
}

impl Input {
    /// Path of `field` of log `i`.
    fn at(self, i: usize, field: &str) -> String {
        match self {
            Input::Body => format!("logs[{i}].{field}"),
            Input::FrameArray => format!("[{i}].{field}"),
            Input::Frame => field.to_owned(),
        }
    }

    /// What the whole input is called.
    fn whole(self) -> &'static str {
        if self == Input::Body { "request body" } else { "frame" }
    }

    /// What to send instead.
    fn shape(self) -> &'static str {
        if self == Input::Body { "send {\"logs\": [...]}" } else { "send a log object or an array of them" }
    }
}

/// Decode a `/ws/application` text frame: one log object, or an array of them.
pub fn decode_frame(text: &str, max_logs: usize) -> Result<Vec<ValidLog>, ApiError> {
    let bytes = text.as_bytes();
    let (logs, input) = match text.trim_start().as_bytes().first() {
        Some(b'[') => (from_json::<Vec<LogIn>>(bytes, Input::FrameArray)?, Input::FrameArray),
        Some(b'{') => match serde_json::from_slice::<LogIn>(bytes) {
            Ok(log) => (vec![log], Input::Frame),
            // The HTTP body's shape, `{"logs": [...]}`, is taken too.
            Err(_)
                if serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(bytes)
                    .is_ok_and(|o| o.contains_key("logs") && !o.contains_key("ip")) =>
            {
                (from_json::<Body>(bytes, Input::Body)?.logs, Input::Body)
            }
            Err(_) => (vec![from_json::<LogIn>(bytes, Input::Frame)?], Input::Frame),
        },
        _ if serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok() => {
            return Err(ApiError::unprocessable(
                "wrong_type",
                "frame: expected a log object or an array of log objects",
            ));
        }
        _ => {
            return Err(ApiError::malformed_json("the frame is not valid JSON; send a log object or an array of them"));
        }
    };
    validate_all(logs, max_logs, input)
}

/// Decode one JSON value from `json`, nothing after it. Tracking the path
/// costs ~0.4 µs per log and only an error needs it, so input is decoded plainly first and
/// only what fails is decoded again, with the path, for the error.
fn from_json<T: serde::de::DeserializeOwned>(json: &[u8], input: Input) -> Result<T, ApiError> {
    if let Ok(value) = serde_json::from_slice(json) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(json);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| shape_error(e, input))?;
    de.end().map_err(|e| {
        ApiError::malformed_json(format!(
            "trailing characters after the JSON {}: {e}; {}",
            input.whole(),
            input.shape()
        ))
    })?;
    Ok(value)
}

fn validate_all(logs: Vec<LogIn>, max_logs: usize, input: Input) -> Result<Vec<ValidLog>, ApiError> {
    if logs.is_empty() {
        let what = if input == Input::Body { "`logs` is empty" } else { "the frame's array is empty" };
        return Err(ApiError::unprocessable("empty_batch", format!("{what}: send at least one log")));
    }
    if logs.len() > max_logs {
        let what = if input == Input::Body { "request" } else { "frame" };
        return Err(ApiError::too_large(
            "too_many_logs",
            format!("{} logs in one {what}; the limit is {max_logs} (api.max_batch_logs): split the batch", logs.len()),
        ));
    }

    let mut problems = Vec::new();
    let mut valid = Vec::with_capacity(logs.len());
    // The latest time a log may have: read from the clock once per batch, not per log.
    let latest_ms = jiff::Timestamp::now().as_millisecond() + MAX_AHEAD_MS;
    for (i, log) in logs.into_iter().enumerate() {
        match validate(i, log, input, latest_ms) {
            Ok(v) => valid.push(v),
            Err(problem) => problems.push(problem),
        }
    }
    match problems.first() {
        None => Ok(valid),
        Some((code, first)) => {
            let count = problems.len();
            let mut error = ApiError::unprocessable(
                code,
                if count > 1 { format!("{first} (and {} more problems)", count - 1) } else { first.clone() },
            );
            if count > 1 {
                error.details = problems.into_iter().take(MAX_DETAILS).map(|(_, m)| m).collect();
            }
            Err(error)
        }
    }
}

/// Map a serde error to 400 (not JSON at all) or 422 (JSON of the wrong shape), with the path.
fn shape_error(error: serde_path_to_error::Error<serde_json::Error>, input: Input) -> ApiError {
    let path = error.path().to_string();
    let inner = error.inner();
    let (line, column) = (inner.line(), inner.column());
    match inner.classify() {
        Category::Syntax | Category::Eof | Category::Io => ApiError::malformed_json(format!(
            "the {} is not valid JSON (line {line}, column {column}): {inner}; {}",
            if input == Input::Body { "body" } else { "frame" },
            input.shape()
        )),
        Category::Data => {
            let text = inner.to_string();
            let text = text.split(" at line ").next().unwrap_or(&text);
            let code = if text.starts_with("missing field") { "missing_field" } else { "wrong_type" };
            let field = if path == "." { input.whole().to_owned() } else { path };
            // serde's text may say the same already ("expected a string").
            let expected = expected_for(&field);
            let expected = if text.contains(expected.trim().trim_matches(['(', ')'])) { "" } else { expected };
            ApiError::unprocessable(code, format!("{field}: {text}{expected}"))
        }
    }
}

/// A hint of the expected form for a field path like `logs[3].status_code`.
fn expected_for(path: &str) -> &'static str {
    let field = path.rsplit('.').next().unwrap_or(path);
    match field {
        "status_code" => " (expected an integer HTTP status, 100-599)",
        "bytes_sent" => " (expected a non-negative integer)",
        "ip" | "timestamp" | "method" | "url" | "user_agent" => " (expected a string)",
        "logs" => " (expected an array of log objects)",
        _ => "",
    }
}

type Problem = (&'static str, String);

fn validate(i: usize, log: LogIn, input: Input, latest_ms: i64) -> Result<ValidLog, Problem> {
    let at = |field: &str| input.at(i, field);
    for (field, value) in [
        ("ip", &log.ip),
        ("timestamp", &log.timestamp),
        ("method", &log.method),
        ("url", &log.url),
        ("user_agent", &log.user_agent),
    ] {
        if let Some(pos) = value.find(|c: char| c.is_control()) {
            let c = value[pos..].chars().next().unwrap_or_default();
            return Err((
                "control_character",
                format!("{}: control character {:?} at byte {pos}; escape or remove it", at(field), c),
            ));
        }
    }
    let Ok(ip) = log.ip.parse::<IpAddr>() else {
        return Err((
            "invalid_value",
            format!("{}: {:?} is not an IP address (expected e.g. 192.0.2.1 or 2001:db8::1)", at("ip"), log.ip),
        ));
    };
    let timestamp_ms = match event_time(&log.timestamp) {
        Ok(ms) if (0..=latest_ms).contains(&ms) => ms,
        Ok(ms) => return Err(if ms < 0 { TimeProblem::Before1970 } else { TimeProblem::Ahead }.say(&at, &log)),
        Err(problem) => return Err(problem.say(&at, &log)),
    };
    if log.method.is_empty() || log.method.len() > MAX_METHOD_BYTES || !log.method.bytes().all(is_token_byte) {
        return Err((
            "invalid_value",
            format!(
                "{}: {:?} is not an HTTP method (expected a token like GET, at most {MAX_METHOD_BYTES} characters)",
                at("method"),
                log.method
            ),
        ));
    }
    if log.url.is_empty() || log.url.len() > MAX_URL_BYTES {
        return Err((
            "invalid_value",
            format!("{}: must be 1 to {MAX_URL_BYTES} bytes, got {}", at("url"), log.url.len()),
        ));
    }
    if !(100..=599).contains(&log.status_code) {
        return Err(("invalid_value", format!("{}: {} is outside 100-599", at("status_code"), log.status_code)));
    }
    if !(0..=MAX_BYTES_SENT).contains(&log.bytes_sent) {
        return Err((
            "invalid_value",
            format!("{}: {} is outside 0-{MAX_BYTES_SENT} (1 TiB)", at("bytes_sent"), log.bytes_sent),
        ));
    }
    if log.user_agent.len() > MAX_USER_AGENT_BYTES {
        return Err(("invalid_value", format!("{}: longer than {MAX_USER_AGENT_BYTES} bytes", at("user_agent"))));
    }
    Ok(ValidLog {
        event: Event {
            timestamp_ms,
            ip: canonical_ip(ip, log.ip),
            method: log.method,
            url: log.url,
            status_code: log.status_code as u16,
            bytes_sent: log.bytes_sent as u64,
            user_agent: log.user_agent,
            source: "api".to_owned(),
            ..Event::default()
        },
        timestamp: log.timestamp,
    })
}

/// Why a log's time is refused.
enum TimeProblem {
    NotRfc3339,
    /// An offset beyond ±23:59 (jiff takes up to ±25:59:59, and `+24:00` was stored a day off).
    Offset(jiff::tz::Offset),
    /// Second 60: jiff reads it as 59, a second earlier than meant, without a word.
    LeapSecond,
    Before1970,
    Ahead,
}

impl TimeProblem {
    fn say(self, at: &dyn Fn(&str) -> String, log: &LogIn) -> Problem {
        let (field, text) = (at("timestamp"), &log.timestamp);
        // Before the Unix epoch, or more than a day ahead of this clock (a time zone mistake
        // is at most 14 hours): not when an event happened. Stored, a time in year 9998
        // stayed at the top of every newest-first page for good.
        let message = match self {
            TimeProblem::NotRfc3339 => {
                format!("{field}: {text:?} is not an RFC 3339 time (expected e.g. 2025-04-01T12:34:56Z)")
            }
            TimeProblem::Offset(offset) => format!(
                "{field}: {text:?} has the offset {offset}, beyond RFC 3339's -23:59 to +23:59; send the time with its \
                 real offset, or in UTC (Z)"
            ),
            TimeProblem::LeapSecond => format!(
                "{field}: {text:?} has second 60 (a leap second), which the agent cannot store as it is; send it \
                 as second 59.999 or as the next minute's second 00"
            ),
            TimeProblem::Before1970 => format!("{field}: {text:?} is before 1970; send the time the event happened"),
            TimeProblem::Ahead => format!(
                "{field}: {text:?} is more than a day ahead of the agent's clock; send the time the event happened"
            ),
        };
        ("invalid_value", message)
    }
}

/// Largest RFC 3339 offset: 23:59.
const MAX_OFFSET_SECONDS: i32 = 23 * 3600 + 59 * 60;

/// A log's time in milliseconds since the Unix epoch (finer digits dropped), or why it is
/// refused.
fn event_time(text: &str) -> Result<i64, TimeProblem> {
    let parsed = text.parse::<jiff::Timestamp>();
    if parsed.is_ok() && leap_second(text) {
        return Err(TimeProblem::LeapSecond);
    }
    // Only a numeric offset other than `Z` can be out of range; most logs end in `Z`.
    let zulu = text.ends_with(['Z', 'z']);
    let pieces = (parsed.is_err() || !zulu).then(|| jiff::fmt::temporal::Pieces::parse(text).ok()).flatten();
    if let Some(offset) = pieces.as_ref().and_then(|p| p.to_numeric_offset())
        && offset.seconds().abs() > MAX_OFFSET_SECONDS
    {
        return Err(TimeProblem::Offset(offset));
    }
    match parsed {
        Ok(time) => Ok(time.as_millisecond()),
        // A valid time with an offset beyond the years jiff's timestamps span (up to
        // 9999-12-30, so that any offset fits): far ahead, or far back.
        Err(_) => match pieces {
            Some(p) if p.to_numeric_offset().is_some() && p.time().is_some() => {
                Err(if p.date().year() > 0 { TimeProblem::Ahead } else { TimeProblem::Before1970 })
            }
            _ => Err(TimeProblem::NotRfc3339),
        },
    }
}

/// Whether the time of day of `text` has second 60: `HH:MM:60`, or `HHMM60` in ISO 8601's
/// basic format, after the date's `T` (or space).
fn leap_second(text: &str) -> bool {
    let Some(separator) = text.find(['T', 't', ' ']) else { return false };
    let time = &text.as_bytes()[separator + 1..];
    let extended = time.get(2) == Some(&b':') && time.get(5) == Some(&b':') && time.get(6..8) == Some(b"60");
    let basic = time.get(..4).is_some_and(|t| t.iter().all(u8::is_ascii_digit)) && time.get(4..6) == Some(b"60");
    extended || basic
}

/// An address as one client is counted and searched by: RFC 5952's text of `ip` (IPv6 in
/// lower case, zeros compressed), so `2001:DB8:0:0::7` and `2001:db8::7` are one client.
/// `text` is kept when it already is that (every IPv4 address, most IPv6 ones).
pub fn canonical_ip(ip: IpAddr, text: String) -> String {
    // std reads IPv4 only as four plain decimal octets, the one way it writes them.
    if ip.is_ipv4() {
        return text;
    }
    let canonical = ip.to_string();
    if canonical == text { text } else { canonical }
}

/// RFC 9110 token characters.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}
