//! How a source's lines are parsed, as users write it inside `[[sources]]`, and its validation
//! into a [`Parser`]. Nothing here reads lines; every check that can fail happens in
//! [`ParseConfig::build`], so a running source never meets a bad pattern or format.

use super::Parser;
use super::error::BuildError;
use super::json::JsonParser;
use super::pattern::PatternParser;
use super::target::Target;
use super::timestamp::{check_format, named_time_zone};
use serde::Deserialize;
use std::fmt;

/// The parsing part of one source's config.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParseConfig {
    /// How each line is read: `combined` or `common` (nginx/Apache access logs), `json` (one
    /// object per line), `regex` (your `pattern`), `syslog` (RFC 3164 / 5424 system logs), or
    /// `raw` (kept as text only).
    #[serde(default = "default_format")]
    pub format: Format,
    /// For `format = "regex"`: a regex with named groups. Groups named after event fields
    /// (`timestamp`, `ip`, `method`, `url`, `request`, `status_code`, `bytes_sent`,
    /// `user_agent`, `referer`, `latency_ms`, `latency_s`; also `status`, `bytes`, `latency`)
    /// fill those; any other named group goes to `fields`.
    #[serde(default)]
    pub pattern: Option<String>,
    /// For `json` and `regex`: a strftime format (e.g. `"%d/%m/%Y %H:%M:%S"`) for timestamps
    /// that are not RFC 3339, epoch numbers or the access-log form; tried first. Without an
    /// offset in the text, the time is read as UTC.
    #[serde(default)]
    pub timestamp_format: Option<String>,
    /// For `format = "json"`: which JSON keys fill which event field, first present key wins.
    /// A key with dots (`http.status`) also looks inside nested objects. Keys not used stay
    /// in `fields`. Omitted entries keep their defaults.
    #[serde(default)]
    pub json_fields: Option<JsonFields>,
    /// For `format = "syslog"`: the zone of times written without an offset (`Dec 10
    /// 06:55:46`): an IANA name, `"UTC"`, or `"local"` (the default: the machine's own, which
    /// is what its syslog daemon writes in).
    #[serde(default)]
    pub time_zone: Option<String>,
}

impl Default for ParseConfig {
    fn default() -> Self {
        ParseConfig {
            format: default_format(),
            pattern: None,
            timestamp_format: None,
            json_fields: None,
            time_zone: None,
        }
    }
}

/// The line formats a source can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// nginx/Apache combined: common plus `"referer" "user-agent"`.
    Combined,
    /// nginx/Apache common log format.
    Common,
    /// One JSON object per line.
    Json,
    /// A user regex with named groups.
    Regex,
    /// System logs: RFC 3164 (BSD) or RFC 5424, with or without `<PRI>`.
    Syslog,
    /// No parsing: the line is kept as `raw`.
    Raw,
}

impl Format {
    /// The name as written in config.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Combined => "combined",
            Format::Common => "common",
            Format::Json => "json",
            Format::Regex => "regex",
            Format::Syslog => "syslog",
            Format::Raw => "raw",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `json_fields`: the JSON keys each event field is read from, in order of preference. Each
/// entry takes one key or a list of keys; an empty list turns the field off.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonFields {
    /// Keys holding the time: RFC 3339 text, an epoch number (s, ms, µs or ns, told apart by
    /// size), or text in `timestamp_format`.
    #[serde(default = "default_timestamp_keys", deserialize_with = "one_or_many")]
    pub timestamp: Vec<String>,
    /// Keys holding the client address.
    #[serde(default = "default_ip_keys", deserialize_with = "one_or_many")]
    pub ip: Vec<String>,
    /// Keys holding the HTTP method.
    #[serde(default = "default_method_keys", deserialize_with = "one_or_many")]
    pub method: Vec<String>,
    /// Keys holding the request target (path and query).
    #[serde(default = "default_url_keys", deserialize_with = "one_or_many")]
    pub url: Vec<String>,
    /// Keys holding a whole request line (`GET /x HTTP/1.1`), used for method and url when
    /// those are not found on their own.
    #[serde(default = "default_request_keys", deserialize_with = "one_or_many")]
    pub request: Vec<String>,
    /// Keys holding the HTTP status (a number, or digits as text).
    #[serde(default = "default_status_keys", deserialize_with = "one_or_many")]
    pub status_code: Vec<String>,
    /// Keys holding the response size in bytes.
    #[serde(default = "default_bytes_keys", deserialize_with = "one_or_many")]
    pub bytes_sent: Vec<String>,
    /// Keys holding the User-Agent.
    #[serde(default = "default_user_agent_keys", deserialize_with = "one_or_many")]
    pub user_agent: Vec<String>,
    /// Keys holding the Referer.
    #[serde(default = "default_referer_keys", deserialize_with = "one_or_many")]
    pub referer: Vec<String>,
    /// Keys holding the time taken, in milliseconds.
    #[serde(default = "default_latency_ms_keys", deserialize_with = "one_or_many")]
    pub latency_ms: Vec<String>,
    /// Keys holding the time taken, in seconds (nginx `$request_time`); used when no
    /// `latency_ms` key is found.
    #[serde(default = "default_latency_s_keys", deserialize_with = "one_or_many")]
    pub latency_s: Vec<String>,
}

impl Default for JsonFields {
    fn default() -> Self {
        JsonFields {
            timestamp: default_timestamp_keys(),
            ip: default_ip_keys(),
            method: default_method_keys(),
            url: default_url_keys(),
            request: default_request_keys(),
            status_code: default_status_keys(),
            bytes_sent: default_bytes_keys(),
            user_agent: default_user_agent_keys(),
            referer: default_referer_keys(),
            latency_ms: default_latency_ms_keys(),
            latency_s: default_latency_s_keys(),
        }
    }
}

impl JsonFields {
    /// The mapping as (field, keys) pairs, in the order they are applied: `method` and `url`
    /// before `request`, so keys of their own win over a request line.
    pub(super) fn entries(&self) -> [(Target, &[String]); 11] {
        [
            (Target::Timestamp, &self.timestamp),
            (Target::Ip, &self.ip),
            (Target::Method, &self.method),
            (Target::Url, &self.url),
            (Target::Request, &self.request),
            (Target::StatusCode, &self.status_code),
            (Target::BytesSent, &self.bytes_sent),
            (Target::UserAgent, &self.user_agent),
            (Target::Referer, &self.referer),
            (Target::LatencyMs, &self.latency_ms),
            (Target::LatencySeconds, &self.latency_s),
        ]
    }
}

impl ParseConfig {
    /// Validates the config into a [`Parser`]: the regex compiles and names groups, the
    /// timestamp format is usable, and no option is set that the format would ignore.
    pub fn build(&self) -> Result<Parser, BuildError> {
        let format = self.format;
        let unused = |option, used_with| BuildError::UnusedOption { option, used_with, format };
        if self.pattern.is_some() && format != Format::Regex {
            return Err(unused("pattern", "\"regex\""));
        }
        if self.json_fields.is_some() && format != Format::Json {
            return Err(unused("json_fields", "\"json\""));
        }
        if self.timestamp_format.is_some() && !matches!(format, Format::Json | Format::Regex) {
            return Err(unused("timestamp_format", "\"json\" or \"regex\""));
        }
        if self.time_zone.is_some() && format != Format::Syslog {
            return Err(unused("time_zone", "\"syslog\""));
        }
        if let Some(ts_format) = &self.timestamp_format {
            check_format(ts_format)
                .map_err(|reason| BuildError::InvalidTimestampFormat { format: ts_format.clone(), reason })?;
        }
        let timestamp_format = self.timestamp_format.clone();
        Ok(match format {
            Format::Combined => Parser::combined(),
            Format::Common => Parser::common(),
            Format::Raw => Parser::raw(),
            Format::Syslog => {
                let name = self.time_zone.as_deref().unwrap_or("local");
                let zone = named_time_zone(name)
                    .map_err(|reason| BuildError::InvalidTimeZone { zone: name.to_owned(), reason })?;
                Parser::syslog(zone)
            }
            Format::Json => {
                let fields = self.json_fields.clone().unwrap_or_default();
                for (target, keys) in fields.entries() {
                    if keys.iter().any(String::is_empty) {
                        return Err(BuildError::EmptyJsonKey { field: target.name() });
                    }
                }
                Parser::from_json(JsonParser::new(fields, timestamp_format))
            }
            Format::Regex => {
                let pattern = self.pattern.as_deref().ok_or(BuildError::MissingPattern)?;
                Parser::from_pattern(PatternParser::new(pattern, timestamp_format)?)
            }
        })
    }
}

/// Accepts `ip = "client"` as well as `ip = ["client", "remote_addr"]`.
fn one_or_many<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged, expecting = "a JSON key name or a list of key names")]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(key) => vec![key],
        OneOrMany::Many(keys) => keys,
    })
}

fn keys(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}
fn default_format() -> Format {
    Format::Combined
}
fn default_timestamp_keys() -> Vec<String> {
    keys(&["timestamp", "time", "@timestamp", "ts", "time_local", "time_iso8601", "datetime", "date"])
}
fn default_ip_keys() -> Vec<String> {
    keys(&["ip", "remote_addr", "client_ip", "clientip", "remote_ip", "client", "src_ip"])
}
fn default_method_keys() -> Vec<String> {
    keys(&["method", "request_method", "http_method", "verb"])
}
fn default_url_keys() -> Vec<String> {
    keys(&["url", "uri", "request_uri", "path", "request_url"])
}
fn default_request_keys() -> Vec<String> {
    keys(&["request", "request_line"])
}
fn default_status_keys() -> Vec<String> {
    keys(&["status", "status_code", "statuscode", "response_code", "http_status"])
}
fn default_bytes_keys() -> Vec<String> {
    keys(&["bytes_sent", "body_bytes_sent", "bytes", "size", "response_size"])
}
fn default_user_agent_keys() -> Vec<String> {
    keys(&["user_agent", "http_user_agent", "useragent", "agent", "ua"])
}
fn default_referer_keys() -> Vec<String> {
    keys(&["referer", "referrer", "http_referer"])
}
fn default_latency_ms_keys() -> Vec<String> {
    keys(&["latency_ms", "latency", "duration_ms", "response_time_ms", "elapsed_ms"])
}
fn default_latency_s_keys() -> Vec<String> {
    keys(&["request_time", "latency_s", "duration_s"])
}
