//! What can go wrong: [`BuildError`] when a source's parse config is invalid (reported at config
//! time, so the agent never starts a source it cannot parse), and [`ParseError`] when one line
//! does not fit its format (reported per line, counted, and never a reason to drop the line).

use super::config::Format;

/// A source's parse config that cannot be turned into a [`Parser`](super::Parser).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BuildError {
    /// `format = "regex"` without a `pattern`.
    #[error(
        "pattern: missing; format = \"regex\" needs a `pattern` with named groups, \
         e.g. pattern = '^(?P<ip>\\S+) (?P<status_code>\\d{{3}})'"
    )]
    MissingPattern,
    /// The `pattern` is not a valid regex.
    #[error("pattern: invalid regex `{pattern}`: {error}")]
    InvalidPattern {
        /// The pattern as configured.
        pattern: String,
        /// What the regex compiler said.
        error: String,
    },
    /// The `pattern` captures nothing by name, so no event field could ever be filled.
    #[error(
        "pattern: `{pattern}` has no named groups; name the parts to keep with (?P<name>...), \
         using event field names (timestamp, ip, method, url, status_code, bytes_sent, \
         user_agent, referer, latency_ms) or any other name for `fields`"
    )]
    NoNamedGroups {
        /// The pattern as configured.
        pattern: String,
    },
    /// An option that the chosen format ignores; refused so a typo in `format` is not silent.
    #[error(
        "{option}: only used with format = {used_with}, but format = \"{format}\"; \
         remove `{option}` or change `format`"
    )]
    UnusedOption {
        /// The option's name.
        option: &'static str,
        /// The formats that use it.
        used_with: &'static str,
        /// The configured format.
        format: Format,
    },
    /// `timestamp_format` is not a usable strftime format.
    #[error(
        "timestamp_format: `{format}` {reason}; see \
         https://docs.rs/jiff/0.2/jiff/fmt/strtime/ for the directives (e.g. \"%d/%m/%Y %H:%M:%S\")"
    )]
    InvalidTimestampFormat {
        /// The format as configured.
        format: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// `time_zone` names no zone this machine knows.
    #[error(
        "time_zone: {reason}; write an IANA name such as \"Europe/Berlin\" or \"America/New_York\", \
         \"UTC\", or \"local\" (the machine's own, the default)"
    )]
    InvalidTimeZone {
        /// The zone as configured.
        zone: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// A `json_fields` entry with an empty key.
    #[error("json_fields.{field}: contains an empty key; remove it or name the JSON key to read")]
    EmptyJsonKey {
        /// The mapping entry, e.g. `ip`.
        field: &'static str,
    },
}

/// Why one line did not parse cleanly. The line is kept either way: see [`Parsed`](super::Parsed).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseError {
    /// The line does not have the shape of its format; the event keeps only `raw` and `source`.
    #[error("{format}: expected {expected} at byte {at}; check this source's `format`")]
    Malformed {
        /// The format the line was read as.
        format: Format,
        /// What the parser was looking for.
        expected: &'static str,
        /// Byte offset in the line where it was looking.
        at: usize,
    },
    /// A timestamp was present but could not be read; `timestamp_ms` is left 0.
    #[error("{field}: `{value}` is not a timestamp I can read ({reason}); timestamp_ms left 0")]
    Timestamp {
        /// The JSON key, regex group or `time` (for access logs) it came from.
        field: String,
        /// The text as found.
        value: String,
        /// Which forms were tried.
        reason: String,
    },
    /// A numeric field (status, bytes, latency) held something else; the field is left default.
    #[error("{field}: `{value}` is not {expected}; the field is left empty")]
    Number {
        /// The event field, e.g. `status_code`.
        field: &'static str,
        /// The text as found.
        value: String,
        /// What was expected, e.g. `a status code 0-999`.
        expected: &'static str,
    },
    /// A mapped JSON value of a type the field cannot hold (an object for `ip`); it stays in
    /// `fields` under its key.
    #[error("{field}: JSON key `{key}` holds {found}, not text or a number; kept in fields")]
    JsonType {
        /// The event field.
        field: &'static str,
        /// The JSON key it was read from.
        key: String,
        /// What was there (`an object`, `an array`, ...).
        found: &'static str,
    },
    /// The line is not a JSON object.
    #[error("json: {reason}; check this source's `format`")]
    NotJsonObject {
        /// The JSON error, or what the line held instead of an object.
        reason: String,
    },
    /// The line does not match the source's `pattern`.
    #[error("regex: line does not match the source's `pattern`")]
    NoMatch,
}

impl ParseError {
    /// A short stable name for metrics labels (`malformed`, `timestamp`, `number`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            ParseError::Malformed { .. } => "malformed",
            ParseError::Timestamp { .. } => "timestamp",
            ParseError::Number { .. } => "number",
            ParseError::JsonType { .. } => "json_type",
            ParseError::NotJsonObject { .. } => "not_json_object",
            ParseError::NoMatch => "no_match",
        }
    }
}
