//! Aggregate questions (counts, rates, top-N, breakdowns, distinct values, bytes, latency,
//! the busiest time, anomalies, attacks): the queries each intent needs, said in sentences.

use super::{
    Answer, anomaly_line, anomaly_source, events_source, names_and_more, pct, plural, ranked_noun, ranking_text,
    there_were, what,
};
use crate::attack::AttackKind;
use crate::chat::attack_filter::AttackMatch;
use crate::chat::intent::{Bucket, Filters, Intent, Reading, StatusMatch};
use crate::chat::queries::{Queries, Scope};
use crate::chat::status_filter;
use crate::chat::timerange::TimeRange;
use crate::store::StoreError;
use serde_json::{Value, json};

/// Most values a breakdown lists.
const BREAKDOWN_MAX: usize = 100;

/// Most values a tie names; the rest are counted ("A, B, C, D, E and 11 more").
const TIES_NAMED: usize = 5;

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
    // Filters only a request can match, over lines that are not requests: said, not counted
    // as 0 (or, for "failed" read as an error status, as the access log's 4xx/5xx).
    let of_requests = filters.of_requests();
    let mut unchecked = 0;
    if !of_requests.is_empty() {
        let lines_only = filters.without_request_fields();
        let lines = Scope { range, filters: &lines_only };
        let requests = q.requests(lines)?;
        let events = q.count(lines)?;
        if requests == 0 && events > 0 {
            let text = format!(
                "None of the {} {when} is an HTTP request, so none has {}, and I did not answer for all of them \
                 instead. For system log lines ask about the words they hold (\"how many failed password lines?\", \
                 \"how many lines containing 'connection closed'?\") or who wrote them (\"how many lines from \
                 sshd?\").",
                what(&plural(events, "line", "lines"), &lines_only),
                of_requests.join(" or ")
            );
            let mut a = Answer::new(reading, range, text, json!({ "requests": 0, "lines": events }));
            a.key_values.push(events.to_string());
            return Ok(a);
        }
        unchecked = events - requests;
    }
    let noun = super::noun(q, reading, scope)?;
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
            let mut text = format!("{} {} {when}.", there_were(n), what(&plural(n, noun.0, noun.1), filters));
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
            // Mixed data: a filter only requests match counted requests alone, and says so.
            if unchecked > 0 {
                text.push_str(&match filters.attack {
                    Some(_) => format!(
                        " {} that are not HTTP requests (system log lines) were not checked.",
                        plural(unchecked, "line", "lines")
                    ),
                    None => format!(
                        " Only HTTP requests were counted: none of the {} that are not (system log lines) has {}.",
                        plural(unchecked, "line", "lines"),
                        of_requests.join(" or ")
                    ),
                });
                facts["not_requests"] = json!(unchecked);
            }
            let mut a = Answer::new(reading, range, text, facts);
            a.sources.push(events_source(q, scope, n)?);
            a.key_values.push(n.to_string());
            a
        }
        // The share of events that hold a text or look like an attack, among all of them.
        Intent::Rate
            if (filters.attack.is_some() || filters.text.is_some())
                && filters.status.is_none()
                && filters.not_status.is_empty() =>
        {
            let all_filters = Filters { attack: None, text: None, ..filters.clone() };
            // A share is of all the events it is a share of, named by them.
            let noun = super::noun(q, reading, Scope { range, filters: &all_filters })?;
            let matching = q.count(scope)?;
            let total = q.count(Scope { range, filters: &all_filters })?;
            let share = pct(matching, total);
            let mut how = Vec::new();
            if let Some(text) = &filters.text {
                how.push(format!("contained \"{text}\""));
            }
            if let Some(attack) = filters.attack {
                how.push(attack.describe().trim_start_matches("that ").to_owned());
            }
            let caveat = if filters.attack.is_some() { format!(" {ATTACK_CAVEAT}") } else { String::new() };
            let text = if total == 0 {
                format!("There were no {} {when}, so there is no share to give.", what(noun.1, &all_filters))
            } else {
                format!(
                    "{share}% of {} {when} {}: {matching} of {total}.{caveat}",
                    what(noun.1, &all_filters),
                    how.join(" and "),
                )
            };
            let mut a =
                Answer::new(reading, range, text, json!({ "matching": matching, "total": total, "percent": share }));
            a.sources.push(events_source(q, scope, matching)?);
            a.key_values.extend([matching.to_string(), total.to_string()]);
            a
        }
        Intent::Rate => {
            // The share of the statuses asked about and left out ("not 200"); errors by default.
            let (status, not_status) = match (filters.status, filters.not_status.is_empty()) {
                (None, true) => (Some(StatusMatch::Errors), Vec::new()),
                _ => (filters.status, filters.not_status.clone()),
            };
            let all_filters = filters.without_status();
            let all = Scope { range, filters: &all_filters };
            let noun = super::noun(q, reading, all)?;
            let status_or = if status == filters.status { filters.status_or.clone() } else { Vec::new() };
            let with_status = Filters { status, status_or, not_status, ..all_filters.clone() };
            let described =
                status_filter::describe(with_status.status, &with_status.status_or, &with_status.not_status)
                    .unwrap_or_default();
            let matching = q.count(Scope { range, filters: &with_status })?;
            let total = q.count(all)?;
            let share = pct(matching, total);
            let text = if total == 0 {
                format!("There were no {} {when}, so there is no rate to give.", what(noun.1, &all_filters))
            } else {
                format!("{share}% of {} had {described}: {matching} of {total} {when}.", what(noun.1, &all_filters))
            };
            let status_code = status.map(|s| {
                std::iter::once(s)
                    .chain(with_status.status_or.iter().copied())
                    .map(StatusMatch::code)
                    .collect::<Vec<_>>()
                    .join(" or ")
            });
            let mut facts = json!({
                "matching": matching, "total": total, "percent": share, "status": status_code.clone()
            });
            if !with_status.not_status.is_empty() {
                facts["not_status"] = with_status.not_status.iter().map(|s| s.code()).collect();
            }
            let mut a = Answer::new(reading, range, text, facts);
            a.filters.status = status_code;
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
                        what(&plural(n, noun.0, noun.1), filters)
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
                        "{} {} {when}; name a window (\"in the last hour\") to get a rate per minute.",
                        there_were(n),
                        what(&plural(n, noun.0, noun.1), filters)
                    );
                    Answer::new(reading, range, text, json!({ "count": n }))
                }
            }
        }
        Intent::Top(dim) => {
            let (one, many) = dim.nouns();
            // Values tied with the last one listed are named (a handful in all when one value
            // is asked for), never cut off silently: fetched beyond the list.
            let named_ties = if reading.top_n == 1 { TIES_NAMED - 1 } else { TIES_NAMED };
            let fetch = reading.top_n + named_ties;
            let (rows, counted) = if reading.anomalies {
                (q.top_anomalies(scope, dim, fetch)?, ("anomaly", "anomalies"))
            } else if reading.fewest {
                (q.bottom(scope, dim, fetch)?, ranked_noun(reading, dim, noun))
            } else {
                (q.top(scope, dim, fetch)?, ranked_noun(reading, dim, noun))
            };
            let (most, top) = if reading.fewest { ("fewest", "Bottom") } else { ("most", "Top") };
            // Events in scope: the answer's source, and what an empty ranking is of.
            let events = if reading.anomalies { None } else { Some(q.count(scope)?) };
            let shown = &rows[..rows.len().min(reading.top_n)];
            // Rows come sorted by count, so those tied with the last listed one follow it.
            let last = shown.last().map(|(_, n)| *n);
            let ties: Vec<&(String, u64)> = rows[shown.len()..].iter().filter(|(_, n)| Some(*n) == last).collect();
            let more_tied = match last {
                Some(last) if ties.len() == named_ties => {
                    let listed = shown.iter().filter(|(_, n)| *n == last).count() + ties.len();
                    q.values_with(scope, dim, last, reading.anomalies)? - listed as u64
                }
                _ => 0,
            };
            let tie_names: Vec<&str> = ties.iter().map(|(v, _)| v.as_str()).collect();
            let text = match (shown, events) {
                // Events without the value (system log lines have no IP or URL) are not ranked.
                ([], Some(n)) => no_value(n, filters, (one, noun), &when),
                ([], None) => match q.anomaly_count(scope)? {
                    0 => format!("There were no {} {when}.", what(counted.1, filters)),
                    n => format!(
                        "None of the {} {when} is of an event with {} {one}.",
                        what(&plural(n, "anomaly", "anomalies"), filters),
                        article(one)
                    ),
                },
                ([(value, n)], _) if ties.is_empty() => format!(
                    "The {one} with the {most} {} {when} is {value}, with {}.",
                    what(counted.1, filters),
                    plural(*n, counted.0, counted.1),
                ),
                ([(value, n)], _) => format!(
                    "The {many} with the {most} {} {when} are {}, with {} each ({} tied).",
                    what(counted.1, filters),
                    names_and_more(std::iter::once(value.as_str()).chain(tie_names.iter().copied()), more_tied),
                    plural(*n, counted.0, counted.1),
                    1 + ties.len() as u64 + more_tied
                ),
                (_, _) => {
                    let mut text = format!(
                        "{top} {} {many} by {} {when}: {}.",
                        shown.len(),
                        what(counted.1, filters),
                        ranking_text(shown, counted.0, counted.1)
                    );
                    if let Some(last) = last.filter(|_| !ties.is_empty()) {
                        let others = ties.len() as u64 + more_tied;
                        text.push_str(&format!(
                            " {others} more {} {} with #{} at {}: {}.",
                            if others == 1 { one } else { many },
                            if others == 1 { "ties" } else { "tie" },
                            shown.len(),
                            plural(last, counted.0, counted.1),
                            names_and_more(tie_names.iter().copied(), more_tied)
                        ));
                    }
                    text
                }
            };
            let list: Vec<Value> = shown.iter().map(|(v, n)| json!({ dim.name(): v, "count": n })).collect();
            let mut facts = json!({ "dimension": dim.name(), "counted": counted.1, "top": list });
            // `top` stays the ranking asked for (a tie's first values, in value order); the
            // values tied with its last one are `tied`, and those not named `more_tied`.
            if !ties.is_empty() {
                facts["tied"] = ties.iter().map(|(v, n)| json!({ dim.name(): v, "count": n })).collect();
                if more_tied > 0 {
                    facts["more_tied"] = json!(more_tied);
                }
            }
            if reading.fewest {
                facts["order"] = json!("fewest");
            }
            let mut a = Answer::new(reading, range, text, facts);
            for (value, n) in shown {
                a.key_values.extend([value.clone(), n.to_string()]);
            }
            a.key_values.extend(tie_names.iter().map(|v| v.to_string()));
            match events {
                Some(total) => a.sources.push(events_source(q, scope, total)?),
                None => {
                    for row in q.anomalies(scope, &[], 10)? {
                        a.sources.push(anomaly_source(&row));
                    }
                }
            }
            a
        }
        Intent::Breakdown(dim) => {
            let (one, many) = dim.nouns();
            let mut rows = q.breakdown(scope, dim, BREAKDOWN_MAX + 1)?;
            // Past BREAKDOWN_MAX values (IPs, URLs) the largest are listed, and the total and
            // shares are still of every request, with what the rest hold.
            let rest = (rows.len() > BREAKDOWN_MAX).then(|| {
                rows.truncate(BREAKDOWN_MAX);
                Ok::<_, StoreError>((q.count_valued(scope, dim)?, q.unique(scope, dim)? - BREAKDOWN_MAX as u64))
            });
            let rest = rest.transpose()?;
            // Requests without a value (`GET  HTTP/1.1` has no URL) are a group of their own,
            // so that the total is the count over the same filters; in `groups` with the value
            // stored (""), in words as `Dimension::no_value` says.
            let missing = if dim.of_requests() && !rows.is_empty() { q.requests_without(scope, dim)? } else { 0 };
            let listed: u64 = rows.iter().map(|(_, n)| n).sum();
            let valued = rest.map_or(listed, |(total, _)| total);
            let total = valued + missing;
            let text = if rows.is_empty() {
                no_value(q.count(scope)?, filters, (one, noun), &when)
            } else {
                let noun = ranked_noun(reading, dim, noun);
                let mut parts =
                    rows.iter().map(|(v, n)| format!("{v}: {n} ({}%)", pct(*n, total))).collect::<Vec<_>>().join(", ");
                if let Some((_, more)) = rest {
                    let others = valued - listed;
                    parts.push_str(&format!(
                        "; {more} more {} with {} ({}%)",
                        if more == 1 { one } else { many },
                        plural(others, noun.0, noun.1),
                        pct(others, total)
                    ));
                }
                if missing > 0 {
                    parts.push_str(&format!("; {}: {missing} ({}%)", dim.no_value(), pct(missing, total)));
                }
                format!("{} {when}, by {}: {parts}.", what(&plural(total, noun.0, noun.1), filters), dim.nouns().0)
            };
            let mut list: Vec<Value> = rows.iter().map(|(v, n)| json!({ dim.name(): v, "count": n })).collect();
            let mut facts = json!({ "dimension": dim.name(), "total": total, "of": many });
            if let Some((_, more)) = rest {
                facts["more_groups"] = json!(more);
                facts["more_requests"] = json!(valued - listed);
            }
            if missing > 0 {
                list.push(json!({ dim.name(): "", "count": missing }));
                facts["no_value"] = json!(missing);
            }
            facts["groups"] = json!(list);
            let mut a = Answer::new(reading, range, text, facts);
            for (value, n) in &rows {
                a.key_values.extend([value.clone(), n.to_string()]);
            }
            if missing > 0 {
                a.key_values.push(missing.to_string());
            }
            a.sources.push(events_source(q, scope, total)?);
            a
        }
        Intent::Unique(dim) => {
            let (one, many) = dim.nouns();
            let n = q.unique(scope, dim)?;
            let total = q.count(scope)?;
            let mut text = format!(
                "{} {} among {} {when}.",
                there_were(n),
                plural(n, &format!("distinct {one}"), &format!("distinct {many}")),
                what(&plural(total, noun.0, noun.1), filters)
            );
            let mut facts = json!({ "dimension": dim.name(), "distinct": n, "requests": total });
            // Requests without a value (`GET  HTTP/1.1` has no URL) are among them, not counted
            // as one: said, so the distinct values are not read as covering every request.
            let missing = if dim.of_requests() { q.requests_without(scope, dim)? } else { 0 };
            if missing > 0 {
                let requests = ranked_noun(reading, dim, noun);
                text.push_str(&format!(" {} had no {one}.", plural(missing, requests.0, requests.1)));
                facts["no_value"] = json!(missing);
            }
            let mut a = Answer::new(reading, range, text, facts);
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
                what(&plural(total, noun.0, noun.1), filters),
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
                    what(noun.0, filters)
                );
                Answer::new(reading, range, text, json!({ "measured": 0 }))
            }
            Some(l) => {
                let mean = (l.mean_ms * 10.0).round() / 10.0;
                let text = format!(
                    "Response times of {} {when}: mean {mean} ms, median {} ms, 95th percentile {} ms, max {} ms.",
                    what(&plural(l.measured, noun.0, noun.1), filters),
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
            match q.peak(scope, ms, TIES_NAMED)? {
                None => Answer::new(
                    reading,
                    range,
                    format!("There were no {} {when}.", what(noun.1, filters)),
                    json!({ "count": 0 }),
                ),
                Some(peak) => {
                    let starts: Vec<String> = peak
                        .starts
                        .iter()
                        .map(|&ms| jiff::Timestamp::from_millisecond(ms).map(|t| t.to_string()).unwrap_or_default())
                        .collect();
                    let counted = what(&plural(peak.count, noun.0, noun.1), filters);
                    let more_tied = peak.tied - starts.len() as u64;
                    let text = match peak.tied {
                        1 => format!("The busiest {name} {when} began at {}, with {counted}.", starts[0]),
                        tied => format!(
                            "The busiest {name}s {when} began at {}, with {counted} each ({tied} tied).",
                            names_and_more(starts.iter().map(String::as_str), more_tied)
                        ),
                    };
                    // `start` is the earliest of the busiest; in a tie, `starts` lists the
                    // first of them (with `start`) and `more_tied` counts the others.
                    let mut facts = json!({ "bucket": name, "start": starts[0], "count": peak.count });
                    if peak.tied > 1 {
                        facts["starts"] = json!(starts);
                        if more_tied > 0 {
                            facts["more_tied"] = json!(more_tied);
                        }
                    }
                    let mut a = Answer::new(reading, range, text, facts);
                    a.key_values.push(peak.count.to_string());
                    a
                }
            }
        }
        Intent::AnomalyCount => {
            let n = q.anomaly_count(scope)?;
            let rows = q.anomalies(scope, &[], 10)?;
            let text = format!("{} {} {when}.", there_were(n), what(&plural(n, "anomaly", "anomalies"), filters));
            let mut a = Answer::new(reading, range, text, json!({ "anomalies": n }));
            a.sources.extend(rows.iter().map(anomaly_source));
            a.key_values.push(n.to_string());
            a
        }
        Intent::AnomalyRate => {
            let anomalies = q.anomaly_count(scope)?;
            let flagged = q.anomalous_events(scope)?;
            let total = q.count(scope)?;
            let share = pct(flagged, total);
            let text = if total == 0 {
                format!("There were no {} {when}, so there is no anomaly rate to give.", what(noun.1, filters))
            } else {
                // More anomalies than events flagged: more than one detector flagged an event.
                let by_detectors = if anomalies == flagged {
                    String::new()
                } else {
                    format!(
                        " ({}; some were flagged by more than one detector)",
                        plural(anomalies, "anomaly", "anomalies")
                    )
                };
                format!(
                    "{share}% of {} {when} were flagged as anomalies: {flagged} of {total}{by_detectors}.",
                    what(noun.1, filters)
                )
            };
            let facts =
                json!({ "anomalous_events": flagged, "events": total, "anomalies": anomalies, "percent": share });
            let mut a = Answer::new(reading, range, text, facts);
            a.sources.extend(q.anomalies(scope, &[], 10)?.iter().map(anomaly_source));
            a.key_values.extend([flagged.to_string(), total.to_string()]);
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
        Intent::Summary | Intent::Open | Intent::Help | Intent::Unknown | Intent::Span => {
            unreachable!("answered by open(), span() or help")
        }
    };
    Ok(answer)
}

/// The answer when none of the `events` in scope has a value of the dimension asked about:
/// there are none at all, or they are not HTTP requests (system log lines have no IP, URL or
/// status).
fn no_value(events: u64, filters: &Filters, (one, noun): (&str, (&str, &str)), when: &str) -> String {
    match events {
        0 => format!("There were no {} {when}.", what(noun.1, filters)),
        n => format!("None of the {} {when} has {} {one}.", what(&plural(n, noun.0, noun.1), filters), article(one)),
    }
}

/// "an IP", "a URL path", "a status".
fn article(noun: &str) -> &'static str {
    if noun.starts_with(['a', 'e', 'i', 'o', 'I']) { "an" } else { "a" }
}
