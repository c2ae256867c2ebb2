//! The `json` format: one JSON object per line, mapped onto the event by `json_fields`.
//!
//! Keys used for an event field are taken out of the object; everything else stays in
//! `fields` with its JSON type. Where the meaning is unambiguous the type is forgiven: a status
//! written `"200"`, bytes written `"512"`, an address written as a number. A value that cannot
//! fill its field (an object for `ip`, `"abc"` for `status_code`) leaves the field default,
//! is reported, and is never thrown away.

use super::Parsed;
use super::config::JsonFields;
use super::error::ParseError;
use super::target::{Target, assign_text, number_error, set_latency};
use super::timestamp::epoch_millis;
use crate::event::Event;
use serde_json::{Map, Number, Value};

/// A validated `json` parser.
#[derive(Debug)]
pub(super) struct JsonParser {
    /// Event field → JSON keys, in the order they are applied.
    entries: Vec<(Target, Vec<String>)>,
    timestamp_format: Option<String>,
}

impl JsonParser {
    pub(super) fn new(fields: JsonFields, timestamp_format: Option<String>) -> Self {
        let entries = fields.entries().into_iter().map(|(target, keys)| (target, keys.to_vec())).collect();
        JsonParser { entries, timestamp_format }
    }

    pub(super) fn parse(&self, line: &str, source: &str) -> Parsed {
        let text = line.trim_end_matches(['\n', '\r']);
        let mut map = match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => map,
            Ok(other) => {
                let reason = format!("the line is {}, not an object", describe(&other));
                return Parsed::failed(line, source, ParseError::NotJsonObject { reason });
            }
            Err(e) => {
                let reason = format!("the line is not JSON ({e})");
                return Parsed::failed(line, source, ParseError::NotJsonObject { reason });
            }
        };
        let mut event = Event { raw: line.to_owned(), source: source.to_owned(), ..Event::default() };
        let mut error = None;
        for (target, keys) in &self.entries {
            // Seconds are only the fallback for a source that has no millisecond key.
            if *target == Target::LatencySeconds && event.latency_ms.is_some() {
                continue;
            }
            let Some((key, value)) = take_first(&mut map, keys) else {
                continue;
            };
            if let Err(e) = self.assign(&mut event, *target, key, value, &mut map) {
                error.get_or_insert(e);
            }
        }
        event.fields = map;
        Parsed { event, error }
    }

    /// Writes one JSON value into its field; a value of the wrong kind goes back into `map`.
    fn assign(
        &self,
        event: &mut Event,
        target: Target,
        key: &str,
        value: Value,
        map: &mut Map<String, Value>,
    ) -> Result<(), ParseError> {
        match value {
            Value::String(text) => assign_text(event, target, key, &text, self.timestamp_format.as_deref()),
            Value::Number(number) => assign_number(event, target, key, &number),
            other => {
                let found = describe(&other);
                map.insert(key.to_owned(), other);
                Err(ParseError::JsonType { field: target.name(), key: key.to_owned(), found })
            }
        }
    }
}

fn assign_number(event: &mut Event, target: Target, key: &str, number: &Number) -> Result<(), ParseError> {
    let as_f64 = number.as_f64().filter(|v| v.is_finite());
    match target {
        Target::Timestamp => {
            event.timestamp_ms = as_f64.and_then(epoch_millis).ok_or_else(|| ParseError::Timestamp {
                field: key.to_owned(),
                value: number.to_string(),
                reason: "an epoch number out of range".into(),
            })?;
        }
        Target::StatusCode => {
            event.status_code = whole_number(number)
                .filter(|code| *code <= 999)
                .map(|code| code as u16)
                .ok_or_else(|| number_error(target, &number.to_string()))?;
        }
        Target::BytesSent => {
            event.bytes_sent = whole_number(number).ok_or_else(|| number_error(target, &number.to_string()))?;
        }
        Target::LatencyMs | Target::LatencySeconds => {
            let value = as_f64.filter(|v| *v >= 0.0).ok_or_else(|| number_error(target, &number.to_string()))?;
            set_latency(event, target, value);
        }
        Target::Ip | Target::Method | Target::Url | Target::Request | Target::UserAgent | Target::Referer => {
            assign_text(event, target, key, &number.to_string(), None)?;
        }
    }
    Ok(())
}

/// A non-negative whole number, also when written as a float (`404.0`) by a float-happy
/// logger; `404.5` is no status or size.
fn whole_number(number: &Number) -> Option<u64> {
    number
        .as_u64()
        .or_else(|| number.as_f64().filter(|v| *v >= 0.0 && v.fract() == 0.0 && *v < u64::MAX as f64).map(|v| v as u64))
}

/// Removes and returns the first of `keys` present with a non-null value.
fn take_first<'k>(map: &mut Map<String, Value>, keys: &'k [String]) -> Option<(&'k str, Value)> {
    keys.iter().find_map(|key| match remove_key(map, key)? {
        Value::Null => None,
        value => Some((key.as_str(), value)),
    })
}

/// Removes `key`; when absent and dotted (`http.status`), looks inside nested objects.
fn remove_key(map: &mut Map<String, Value>, key: &str) -> Option<Value> {
    if let Some(value) = map.remove(key) {
        return Some(value);
    }
    let (head, rest) = key.split_once('.')?;
    match map.get_mut(head)? {
        Value::Object(inner) => remove_key(inner, rest),
        _ => None,
    }
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
