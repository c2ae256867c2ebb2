//! From a read question to an answer: run the queries its intent needs and say the result
//! in plain sentences, with the facts, the window and the ids the answer rests on beside it.

use super::attack_filter::AttackMatch;
use super::intent::{Bucket, Dimension, Filters, Intent, Reading};
use super::queries::{AnomalyRow, Queries, Scope};
use super::retrieve::{Passage, Retrieved};
use super::timerange::TimeRange;
use crate::attack::AttackKind;
use crate::store::StoreError;
use serde::Serialize;
use serde_json::{Value, json};

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
    /// `500`, `5xx` or `400-599`.
    pub status: Option<String>,
    /// HTTP method.
    pub method: Option<String>,
    /// Requests that look like an attack: `sql_injection`, `xss`, `path_traversal`,
    /// `command_injection`, `scanner`, or `any`; absent when the question names none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attack: Option<&'static str>,
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
                status: f.status.map(|s| s.code()),
                method: f.method.clone(),
                attack: f.attack.map(AttackMatch::name),
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
    "counts: \"how many 500s in the last hour?\", \"how many requests from 10.0.0.5 today?\"",
    "rates: \"what is the error rate since 10:00?\", \"what percentage of requests were 404s?\", \
     \"requests per minute in the last 15 minutes\"",
    "top-N: \"which IP sent the most requests?\", \"top 5 URLs with 404s yesterday\"",
    "breakdowns: \"requests by status\", \"by status class\", \"by method between 9 and 11\"",
    "distinct values: \"how many unique IPs today?\"",
    "bytes and latency: \"how many bytes were sent to /download?\", \"what is the latency of /api?\"",
    "busiest time: \"when was the busiest minute today?\"",
    "anomalies: \"how many anomalies since 10:00?\", \"what anomalies happened on 2025-04-01?\", \
     \"which IP has the most anomalies?\"",
    "attacks (by signature): \"any SQL injection attempts today?\", \"which IP sent the most attacks?\", \
     \"how many XSS, path traversal, command injection or scanner requests?\"",
    "open questions: \"what is going on with /login?\", \"anything unusual today?\", \"summarize the last hour\"",
    "time windows: \"in the last hour\", \"in the last 15 minutes\", \"today\", \"yesterday\", \"since 10:00\", \
     \"between 9 and 11\", \"on 2025-04-01\" (UTC)",
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

fn anomaly_line(a: &AnomalyRow) -> String {
    let at = jiff::Timestamp::from_millisecond(a.timestamp_ms).map(|t| t.to_string()).unwrap_or_default();
    format!(
        "#{} at {at}: {} {} {} → {} (score {:.2}: {})",
        a.id, a.ip, a.method, a.url, a.status_code, a.score, a.reason
    )
}

fn anomaly_source(a: &AnomalyRow) -> Value {
    json!({ "type": "anomaly", "id": a.id, "event_id": a.event_id, "score": a.score, "reason": a.reason })
}

fn events_source(q: &Queries<'_>, scope: Scope<'_>, total: u64) -> Result<Value, StoreError> {
    let ids = q.sample_ids(scope, 10)?;
    Ok(json!({ "type": "events", "total": total, "sample_ids": ids }))
}

/// What an answer about attacks says of its numbers.
const ATTACK_CAVEAT: &str = "Matched by signature on the URL, user agent and referer: a match says a request \
                             looks like an attack, not that it succeeded.";

/// How many requests in scope look like an attack, and like each kind (a request can look
/// like several).
fn attack_kinds(
    q: &Queries<'_>,
    range: &TimeRange,
    filters: &Filters,
) -> Result<(u64, Vec<(AttackKind, u64)>), StoreError> {
    let all = Filters { attack: None, ..filters.clone() };
    let masks = q.attack_kinds(Scope { range, filters: &all })?;
    let any = masks.iter().filter(|(mask, _)| *mask != 0).map(|(_, n)| n).sum();
    let by_kind = AttackKind::ALL
        .into_iter()
        .map(|kind| (kind, masks.iter().filter(|(mask, _)| mask & kind.bit() != 0).map(|(_, n)| n).sum()))
        .collect();
    Ok((any, by_kind))
}

/// Answer an aggregate question (any intent but help, open and summary) from the store.
pub fn aggregate(q: &Queries<'_>, reading: &Reading, range: &TimeRange) -> Result<Answer, StoreError> {
    let scope = Scope { range, filters: &reading.filters };
    let when = range.describe();
    let filters = &reading.filters;
    let answer = match reading.intent {
        Intent::Count => {
            // Any attack: one scan gives the count and every kind's.
            let by_kind = match filters.attack {
                Some(AttackMatch::Any) => Some(attack_kinds(q, range, filters)?),
                _ => None,
            };
            let n = match &by_kind {
                Some((n, _)) => *n,
                None => q.count(scope)?,
            };
            let mut text = format!("There were {} {when}.", what(&plural(n, "request", "requests"), filters));
            let mut facts = json!({ "count": n });
            if filters.attack.is_some() {
                if let Some((_, by_kind)) = by_kind.filter(|(n, _)| *n > 0) {
                    let listed: Vec<String> = by_kind
                        .iter()
                        .filter(|(_, n)| *n > 0)
                        .map(|(kind, n)| format!("{} {n}", kind.describe()))
                        .collect();
                    text =
                        format!("{} By kind: {} (one request can look like more than one).", text, listed.join(", "));
                    facts["by_kind"] = by_kind.iter().map(|(kind, n)| (kind.name().to_owned(), json!(n))).collect();
                }
                text.push(' ');
                text.push_str(ATTACK_CAVEAT);
            }
            let mut a = Answer::new(reading, range, text, facts);
            a.sources.push(events_source(q, scope, n)?);
            a.key_values.push(n.to_string());
            a
        }
        Intent::Rate if filters.attack.is_some() && filters.status.is_none() => {
            let all_filters = Filters { attack: None, ..filters.clone() };
            let matching = q.count(scope)?;
            let total = q.count(Scope { range, filters: &all_filters })?;
            let share = pct(matching, total);
            let look = filters.attack.map(AttackMatch::describe).unwrap_or_default();
            let text = if total == 0 {
                format!("There were no {} {when}, so there is no share to give.", what("requests", &all_filters))
            } else {
                format!(
                    "{share}% of {} {when} {}: {matching} of {total}. {ATTACK_CAVEAT}",
                    what("requests", &all_filters),
                    look.trim_start_matches("that "),
                )
            };
            let mut a =
                Answer::new(reading, range, text, json!({ "matching": matching, "total": total, "percent": share }));
            a.sources.push(events_source(q, scope, matching)?);
            a.key_values.extend([matching.to_string(), total.to_string()]);
            a
        }
        Intent::Rate => {
            let status = filters.status.unwrap_or(super::intent::StatusMatch::Errors);
            let all_filters = Filters { status: None, ..filters.clone() };
            let all = Scope { range, filters: &all_filters };
            let with_status = Filters { status: Some(status), ..filters.clone() };
            let matching = q.count(Scope { range, filters: &with_status })?;
            let total = q.count(all)?;
            let share = pct(matching, total);
            let text = if total == 0 {
                format!("There were no {} {when}, so there is no rate to give.", what("requests", &all_filters))
            } else {
                format!(
                    "{share}% of {} had {}: {matching} of {total} {when}.",
                    what("requests", &all_filters),
                    status.describe()
                )
            };
            let mut a = Answer::new(
                reading,
                range,
                text,
                json!({ "matching": matching, "total": total, "percent": share, "status": status.code() }),
            );
            a.filters.status = Some(status.code());
            a.sources.push(events_source(q, Scope { range, filters: &with_status }, matching)?);
            a.key_values.extend([matching.to_string(), total.to_string()]);
            a
        }
        Intent::RequestRate => {
            let n = q.count(scope)?;
            match range.minutes().filter(|m| *m > 0.0) {
                Some(minutes) => {
                    let per_minute = (n as f64 / minutes * 100.0).round() / 100.0;
                    let per_second = (n as f64 / minutes / 60.0 * 1000.0).round() / 1000.0;
                    let text = format!(
                        "{} {when}: {per_minute} per minute ({per_second} per second) over {minutes} minutes.",
                        what(&plural(n, "request", "requests"), filters)
                    );
                    let mut a = Answer::new(
                        reading,
                        range,
                        text,
                        json!({ "count": n, "minutes": minutes, "per_minute": per_minute, "per_second": per_second }),
                    );
                    a.key_values.push(n.to_string());
                    a
                }
                None => {
                    let text = format!(
                        "There were {} {when}; name a window (\"in the last hour\") to get a rate per minute.",
                        what(&plural(n, "request", "requests"), filters)
                    );
                    Answer::new(reading, range, text, json!({ "count": n }))
                }
            }
        }
        Intent::Top(dim) => {
            let (one, many) = dim.nouns();
            let (rows, counted) = if reading.anomalies {
                (q.top_anomalies(scope, dim, reading.top_n + 1)?, ("anomaly", "anomalies"))
            } else {
                (q.top(scope, dim, reading.top_n + 1)?, ("request", "requests"))
            };
            let tied = rows.len() > reading.top_n && rows[reading.top_n].1 == rows[reading.top_n - 1].1;
            let shown = &rows[..rows.len().min(reading.top_n)];
            let text = match shown {
                [] => format!("There were no {} {when}.", what(counted.1, filters)),
                [(value, n)] => format!(
                    "The {one} with the most {} {when} is {value}, with {}{}.",
                    what(counted.1, filters),
                    plural(*n, counted.0, counted.1),
                    if tied { format!(" (tied with {})", rows[1].0) } else { String::new() }
                ),
                _ => format!(
                    "Top {} {many} by {} {when}: {}.",
                    shown.len(),
                    what(counted.1, filters),
                    ranking_text(shown, counted.0, counted.1)
                ),
            };
            let list: Vec<Value> = shown.iter().map(|(v, n)| json!({ dim.name(): v, "count": n })).collect();
            let mut a = Answer::new(
                reading,
                range,
                text,
                json!({ "dimension": dim.name(), "counted": counted.1, "top": list }),
            );
            for (value, n) in shown {
                a.key_values.extend([value.clone(), n.to_string()]);
            }
            if reading.anomalies {
                for row in q.anomalies(scope, &[], 10)? {
                    a.sources.push(anomaly_source(&row));
                }
            } else {
                let total = q.count(scope)?;
                a.sources.push(events_source(q, scope, total)?);
            }
            a
        }
        Intent::Breakdown(dim) => {
            let (_, many) = dim.nouns();
            let rows = q.breakdown(scope, dim, 100)?;
            let total: u64 = rows.iter().map(|(_, n)| n).sum();
            let text = if rows.is_empty() {
                format!("There were no {} {when}.", what("requests", filters))
            } else {
                let parts =
                    rows.iter().map(|(v, n)| format!("{v}: {n} ({}%)", pct(*n, total))).collect::<Vec<_>>().join(", ");
                format!(
                    "{} {when}, by {}: {parts}.",
                    what(&plural(total, "request", "requests"), filters),
                    dim.nouns().0
                )
            };
            let list: Vec<Value> = rows.iter().map(|(v, n)| json!({ dim.name(): v, "count": n })).collect();
            let mut a = Answer::new(
                reading,
                range,
                text,
                json!({ "dimension": dim.name(), "total": total, "groups": list, "of": many }),
            );
            for (value, n) in &rows {
                a.key_values.extend([value.clone(), n.to_string()]);
            }
            a.sources.push(events_source(q, scope, total)?);
            a
        }
        Intent::Unique(dim) => {
            let (one, many) = dim.nouns();
            let n = q.unique(scope, dim)?;
            let total = q.count(scope)?;
            let text = format!(
                "There were {} among {} {when}.",
                plural(n, &format!("distinct {one}"), &format!("distinct {many}")),
                what(&plural(total, "request", "requests"), filters)
            );
            let mut a =
                Answer::new(reading, range, text, json!({ "dimension": dim.name(), "distinct": n, "requests": total }));
            a.key_values.push(n.to_string());
            a.sources.push(events_source(q, scope, total)?);
            a
        }
        Intent::Bytes => {
            let b = q.bytes(scope)?;
            let total = q.count(scope)?;
            let mean = (b.mean * 10.0).round() / 10.0;
            let text = format!(
                "{} sent {} bytes in total {when} (mean {mean} bytes, largest {} bytes).",
                what(&plural(total, "request", "requests"), filters),
                b.total,
                b.max
            );
            let mut a = Answer::new(
                reading,
                range,
                text,
                json!({ "bytes_total": b.total, "bytes_mean": mean, "bytes_max": b.max, "requests": total }),
            );
            a.key_values.push(b.total.to_string());
            a.sources.push(events_source(q, scope, total)?);
            a
        }
        Intent::Latency => match q.latency(scope)? {
            None => {
                let text = format!(
                    "No {} {when} carries a response time (only sources with a latency field, such as JSON logs, have one).",
                    what("request", filters)
                );
                Answer::new(reading, range, text, json!({ "measured": 0 }))
            }
            Some(l) => {
                let mean = (l.mean_ms * 10.0).round() / 10.0;
                let text = format!(
                    "Response times of {} {when}: mean {mean} ms, median {} ms, 95th percentile {} ms, max {} ms.",
                    what(&plural(l.measured, "request", "requests"), filters),
                    l.p50_ms,
                    l.p95_ms,
                    l.max_ms
                );
                let mut a = Answer::new(
                    reading,
                    range,
                    text,
                    json!({ "measured": l.measured, "mean_ms": mean, "p50_ms": l.p50_ms, "p95_ms": l.p95_ms, "max_ms": l.max_ms }),
                );
                a.key_values.extend([l.p50_ms.to_string(), l.max_ms.to_string()]);
                a.sources.push(events_source(q, scope, l.measured)?);
                a
            }
        },
        Intent::Peak(bucket) => {
            let (ms, name) = match bucket {
                Bucket::Minute => (60_000, "minute"),
                Bucket::Hour => (3_600_000, "hour"),
            };
            match q.peak(scope, ms)? {
                None => Answer::new(
                    reading,
                    range,
                    format!("There were no {} {when}.", what("requests", filters)),
                    json!({ "count": 0 }),
                ),
                Some((start, n)) => {
                    let start = jiff::Timestamp::from_millisecond(start).map(|t| t.to_string()).unwrap_or_default();
                    let text = format!(
                        "The busiest {name} {when} began at {start}, with {}.",
                        what(&plural(n, "request", "requests"), filters)
                    );
                    let mut a =
                        Answer::new(reading, range, text, json!({ "bucket": name, "start": start, "count": n }));
                    a.key_values.extend([n.to_string()]);
                    a
                }
            }
        }
        Intent::AnomalyCount => {
            let n = q.anomaly_count(scope)?;
            let rows = q.anomalies(scope, &[], 10)?;
            let text = format!("There were {} {when}.", what(&plural(n, "anomaly", "anomalies"), filters));
            let mut a = Answer::new(reading, range, text, json!({ "anomalies": n }));
            a.sources.extend(rows.iter().map(anomaly_source));
            a.key_values.push(n.to_string());
            a
        }
        Intent::Anomalies => {
            let n = q.anomaly_count(scope)?;
            let limit = reading.top_n.max(10);
            let rows = q.anomalies(scope, &[], limit)?;
            let text = if rows.is_empty() {
                format!("There were no {} {when}.", what("anomalies", filters))
            } else {
                let lines = rows.iter().map(anomaly_line).collect::<Vec<_>>().join("\n- ");
                let shown = if n as usize > rows.len() {
                    format!(" The {} highest-scoring:", rows.len())
                } else {
                    String::new()
                };
                format!("There were {} {when}.{shown}\n- {lines}", what(&plural(n, "anomaly", "anomalies"), filters))
            };
            let list: Vec<Value> = rows
                .iter()
                .map(|r| json!({ "id": r.id, "event_id": r.event_id, "ip": r.ip, "url": r.url, "status": r.status_code, "score": r.score, "reason": r.reason }))
                .collect();
            let mut a = Answer::new(reading, range, text, json!({ "anomalies": n, "listed": list }));
            a.sources.extend(rows.iter().map(anomaly_source));
            a.key_values.push(n.to_string());
            a
        }
        Intent::Summary | Intent::Open | Intent::Help | Intent::Unknown => {
            unreachable!("answered by open() or help")
        }
    };
    Ok(answer)
}

/// Answer an open question or a summary request: the exact numbers of the window (and of the
/// URL or IP it names), then the summaries and anomalies nearest to the question.
pub fn open(
    q: &Queries<'_>,
    reading: &Reading,
    range: &TimeRange,
    retrieved: &Retrieved,
) -> Result<Answer, StoreError> {
    let filters = Filters { status: None, ..reading.filters.clone() };
    let scope = Scope { range, filters: &filters };
    let when = range.describe();
    let total = q.count(scope)?;
    let classes = q.breakdown(scope, Dimension::StatusClass, 10)?;
    let errors: u64 = classes.iter().filter(|(c, _)| c.starts_with('4') || c.starts_with('5')).map(|(_, n)| n).sum();
    let anomalies = q.anomaly_count(scope)?;
    let top_ips = if filters.ip.is_none() { q.top(scope, Dimension::Ip, 3)? } else { Vec::new() };
    let top_urls = if filters.url.is_none() { q.top(scope, Dimension::Url, 3)? } else { Vec::new() };

    let subject = match (&filters.url, &filters.ip) {
        (Some(url), Some(ip)) => format!("{url} from {ip}"),
        (Some(url), None) => url.clone(),
        (None, Some(ip)) => ip.clone(),
        (None, None) => "all traffic".to_owned(),
    };
    let mut text = if total == 0 {
        format!("For {subject} {when}: no requests are stored.")
    } else {
        let classes_text = classes.iter().map(|(c, n)| format!("{c} {n}")).collect::<Vec<_>>().join(", ");
        format!(
            "For {subject} {when}: {}, {} ({}%), {}. Status classes: {classes_text}.",
            plural(total, "request", "requests"),
            plural(errors, "error (4xx/5xx)", "errors (4xx/5xx)"),
            pct(errors, total),
            plural(anomalies, "anomaly", "anomalies"),
        )
    };
    if !top_ips.is_empty() {
        text.push_str(&format!(" Top IPs: {}.", ranking_text(&top_ips, "request", "requests")));
    }
    if !top_urls.is_empty() {
        text.push_str(&format!(" Top URL paths: {}.", ranking_text(&top_urls, "request", "requests")));
    }
    let cite = |p: &Passage| match p.id.as_str() {
        Some(id) => format!("{} {id} ({})", p.kind, p.text),
        None => format!("{} {} ({})", p.kind, p.id, p.text),
    };
    if !retrieved.summaries.is_empty() {
        let lines = retrieved.summaries.iter().map(cite).collect::<Vec<_>>().join("\n- ");
        text.push_str(&format!("\nNearest summaries:\n- {lines}"));
    }
    if retrieved.anomalies.is_empty() {
        if anomalies == 0 {
            text.push_str(" Nothing unusual: no anomaly was flagged.");
        }
    } else {
        let lines = retrieved.anomalies.iter().map(cite).collect::<Vec<_>>().join("\n- ");
        text.push_str(&format!("\nMost relevant anomalies:\n- {lines}"));
    }
    if let Some(note) = &retrieved.note {
        text.push_str(&format!("\n({note})"));
    }

    let facts = json!({
        "requests": total,
        "errors": errors,
        "error_percent": pct(errors, total),
        "anomalies": anomalies,
        "status_classes": classes.iter().map(|(c, n)| json!({ "status_class": c, "count": n })).collect::<Vec<_>>(),
        "top_ips": top_ips.iter().map(|(v, n)| json!({ "ip": v, "count": n })).collect::<Vec<_>>(),
        "top_urls": top_urls.iter().map(|(v, n)| json!({ "url": v, "count": n })).collect::<Vec<_>>(),
        "retrieval": retrieved.method,
    });
    let mut a = Answer::new(reading, range, text, facts);
    a.filters.status = None;
    a.sources.push(events_source(q, scope, total)?);
    for p in retrieved.summaries.iter().chain(&retrieved.anomalies) {
        a.sources.push(p.source());
    }
    a.key_values.extend([total.to_string(), anomalies.to_string()]);
    Ok(a)
}
