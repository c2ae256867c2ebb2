//! From a read question to an answer: run the queries its intent needs and say the result
//! in plain sentences, with the facts, the window and the ids the answer rests on beside it.

use super::attack_filter::AttackMatch;
use super::intent::{Dimension, Filters, Reading};
use super::queries::{AnomalyRow, Queries, Scope};
use super::timerange::TimeRange;
use crate::store::StoreError;
use serde::Serialize;
use serde_json::{Value, json};

mod aggregate;
mod open;
mod span;

pub use aggregate::aggregate;
pub use open::open;
pub use span::span;

/// The `/chat` response body: API.md's `response`, then what it rests on.
#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    /// The answer in words.
    pub response: String,
    /// What the question was read as (`count`, `top`, `rate`, ... `open`, `unknown`).
    pub intent: &'static str,
    /// The window the numbers cover.
    pub range: RangeOut,
    /// The filters the numbers cover.
    pub filters: FiltersOut,
    /// The numbers, by name.
    pub facts: Value,
    /// What the answer rests on: event samples, anomaly ids, summary ids.
    pub sources: Vec<Value>,
    /// `vigil` (these sentences) or `llm` (rephrased by `[chat] llm_endpoint`).
    pub phrased_by: &'static str,
    /// Why the LLM's rephrasing was not used, when it was tried and failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub llm_error: Option<String>,
    /// Values the words must keep (numbers, IPs, URLs): a rephrasing that drops one is refused.
    #[serde(skip)]
    pub key_values: Vec<String>,
}

/// The window as reported.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RangeOut {
    /// Start, RFC 3339; `null` for "from the oldest stored event".
    pub from: Option<String>,
    /// End (exclusive), RFC 3339; `null` for "up to the newest".
    pub to: Option<String>,
    /// The question's words for the window.
    pub label: String,
}

/// The filters as reported.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct FiltersOut {
    /// Client address.
    pub ip: Option<String>,
    /// URL path (with its query strings and sub-paths).
    pub url: Option<String>,
    /// `500`, `5xx` or `400-599`; statuses asked about together as `404 or 500`.
    pub status: Option<String>,
    /// Statuses left out ("not 200", "excluding 404s"), written as `status` is; absent when
    /// none is.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_status: Vec<String>,
    /// HTTP method.
    pub method: Option<String>,
    /// Requests that look like an attack: `sql_injection`, `xss`, `path_traversal`,
    /// `command_injection`, `scanner`, or `any`; absent when the question names none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attack: Option<&'static str>,
    /// Text the lines hold (ASCII case ignored), as the question quoted or introduced it
    /// ("containing ..."); absent when it names none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The program that wrote the lines (`fields.app` of a `syslog` source, case ignored);
    /// absent when the question names none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub program: Option<String>,
    /// The host that wrote the lines (`fields.host`, case ignored); absent when the question
    /// names none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

impl Answer {
    fn new(reading: &Reading, range: &TimeRange, response: String, facts: Value) -> Answer {
        let f = &reading.filters;
        Answer {
            response,
            intent: reading.intent.name(),
            range: RangeOut {
                from: range.from.map(|t| t.to_string()),
                to: range.to.map(|t| t.to_string()),
                label: range.label.clone(),
            },
            filters: FiltersOut {
                ip: f.ip.clone(),
                url: f.url.clone(),
                status: f.status.map(|s| {
                    std::iter::once(s)
                        .chain(f.status_or.iter().copied())
                        .map(|s| s.code())
                        .collect::<Vec<_>>()
                        .join(" or ")
                }),
                not_status: f.not_status.iter().map(|s| s.code()).collect(),
                method: f.method.clone(),
                attack: f.attack.map(AttackMatch::name),
                text: f.text.clone(),
                program: f.program.clone(),
                host: f.host.clone(),
            },
            facts,
            sources: Vec::new(),
            phrased_by: "vigil",
            llm_error: None,
            key_values: Vec::new(),
        }
    }

    /// An answer that is not about the data: help, or a window that cannot be read.
    pub fn about_asking(intent: &'static str, response: String) -> Answer {
        Answer {
            response,
            intent,
            range: RangeOut { from: None, to: None, label: String::new() },
            filters: FiltersOut::default(),
            facts: json!({ "can_answer": CAN_ANSWER }),
            sources: Vec::new(),
            phrased_by: "vigil",
            llm_error: None,
            key_values: Vec::new(),
        }
    }
}

/// What can be asked, one example per kind; the reply to a question that is not understood.
pub const CAN_ANSWER: &[&str] = &[
    "counts: \"how many 500s in the last hour?\", \"how many requests from 10.0.0.5 today?\", \
     \"how many requests were not 200?\", \"how many errors other than 404?\"",
    "rates: \"what is the error rate since 10:00?\", \"what percentage of requests were 404s?\", \
     \"requests per minute in the last 15 minutes\"",
    "top-N: \"which IP sent the most requests?\", \"top 5 URLs with 404s yesterday\"",
    "breakdowns: \"requests by status\", \"by status class\", \"by method between 9 and 11\"",
    "distinct values: \"how many unique IPs today?\"",
    "bytes and latency: \"how many bytes were sent to /download?\", \"what is the latency of /api?\"",
    "busiest time: \"when was the busiest minute today?\"",
    "first and last times: \"when was the first request?\", \"what time range do the logs cover?\"",
    "anomalies: \"how many anomalies since 10:00?\", \"what anomalies happened on 2025-04-01?\", \
     \"which IP has the most anomalies?\", \"what is the anomaly rate today?\"",
    "attacks (by signature): \"any SQL injection attempts today?\", \"which IP sent the most attacks?\", \
     \"how many XSS, path traversal, command injection or scanner requests?\"",
    "open questions: \"what is going on with /login?\", \"anything unusual today?\", \"summarize the last hour\"",
    "time windows: \"in the last hour\", \"in the last 15 minutes\", \"today\", \"yesterday\", \"since 10:00\", \
     \"between 9 and 11\", \"at 10:42\" (that minute; \"at 10am\" that hour), \"on 2025-04-01\", \"on 01/04/2025\", \
     \"in december 2024\", \"in 2024\", \"this month\", \"last month\", \"this year\" (in [chat] time_zone, UTC by \
     default)",
];

/// The reply to a question the rules do not recognise.
pub fn help(preface: &str) -> String {
    let mut text = format!("{preface} I answer questions about the stored logs with exact numbers. You can ask:");
    for line in CAN_ANSWER {
        text.push_str("\n- ");
        text.push_str(line);
    }
    text
}

fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { (part as f64 * 10_000.0 / whole as f64).round() / 100.0 }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// What answers call HTTP requests.
const REQUESTS: (&str, &str) = ("request", "requests");
/// What answers call events that are not all HTTP requests: log lines.
const LINES: (&str, &str) = ("line", "lines");
/// Newest events read to tell log lines from requests.
const NOUN_SAMPLE: usize = 1_000;

/// What an answer calls the events of `scope`, singular and plural: the question's own word;
/// else "requests" when its filters match requests only (a status, URL, IP, method or
/// attack); else "lines" when the events hold a log message (a system log or raw line: no
/// status, no method), "requests" when they are all requests. Mixed data says "lines": a
/// request read from an access log is a line of it too, but a syslog line is no request. A
/// scope without events is named after the newest stored events, what the store holds.
fn noun(q: &Queries<'_>, reading: &Reading, scope: Scope<'_>) -> Result<(&'static str, &'static str), StoreError> {
    if let Some(named) = reading.noun {
        return Ok(named);
    }
    let f = scope.filters;
    if f.status.is_some()
        || !f.not_status.is_empty()
        || f.url.is_some()
        || f.ip.is_some()
        || f.method.is_some()
        || f.attack.is_some()
    {
        return Ok(REQUESTS);
    }
    let messages = match q.holds_messages(scope, NOUN_SAMPLE)? {
        Some(messages) => messages,
        None => {
            let stored = Scope { range: &TimeRange::all(), filters: &Filters::default() };
            q.holds_messages(stored, NOUN_SAMPLE)?.unwrap_or(false)
        }
    };
    Ok(if messages { LINES } else { REQUESTS })
}

/// What a ranking by `dim` calls what it counts: a field only requests have (an IP, a URL, a
/// status) counts requests, whatever else the scope holds.
fn ranked_noun(reading: &Reading, dim: Dimension, noun: (&'static str, &'static str)) -> (&'static str, &'static str) {
    if dim.of_requests() { reading.noun.unwrap_or(REQUESTS) } else { noun }
}

/// "There was" for one, "There were" for any other count.
fn there_were(n: u64) -> &'static str {
    if n == 1 { "There was" } else { "There were" }
}

/// "5 POST requests with status 500 to /login" / "anomalies from 10.0.0.1".
fn what(noun: &str, filters: &Filters) -> String {
    let noun = match (&filters.method, noun.split_once(' ')) {
        (None, _) => noun.to_owned(),
        (Some(method), Some((count, rest))) if count.starts_with(|c: char| c.is_ascii_digit()) => {
            format!("{count} {method} {rest}")
        }
        (Some(method), _) => format!("{method} {noun}"),
    };
    let described = filters.describe();
    if described.is_empty() { noun } else { format!("{noun} {described}") }
}

fn ranking_text(rows: &[(String, u64)], noun_one: &str, noun_many: &str) -> String {
    rows.iter()
        .enumerate()
        .map(|(i, (value, n))| format!("{}. {value} ({})", i + 1, plural(*n, noun_one, noun_many)))
        .collect::<Vec<_>>()
        .join("; ")
}

/// "A", "A and B", "A, B and C", "A, B, C and 4 more".
fn names_and_more<'a>(names: impl IntoIterator<Item = &'a str>, more: u64) -> String {
    let mut names: Vec<String> = names.into_iter().map(str::to_owned).collect();
    if more > 0 {
        names.push(format!("{more} more"));
    }
    match names.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    }
}

fn anomaly_line(a: &AnomalyRow) -> String {
    let at = jiff::Timestamp::from_millisecond(a.timestamp_ms).map(|t| t.to_string()).unwrap_or_default();
    format!("#{} at {at}: {} (score {:.2}: {})", a.id, a.what(), a.score, a.reason)
}

fn anomaly_source(a: &AnomalyRow) -> Value {
    json!({ "type": "anomaly", "id": a.id, "event_id": a.event_id, "score": a.score, "reason": a.reason })
}

fn events_source(q: &Queries<'_>, scope: Scope<'_>, total: u64) -> Result<Value, StoreError> {
    let ids = q.sample_ids(scope, 10)?;
    Ok(json!({ "type": "events", "total": total, "sample_ids": ids }))
}
