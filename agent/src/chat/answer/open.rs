//! Open questions and summaries: the window's numbers, then the nearest summaries and
//! anomalies, cited by id.

use super::{Answer, events_source, noun, pct, plural, ranked_noun, ranking_text};
use crate::chat::intent::{Dimension, Reading};
use crate::chat::queries::{Queries, Scope};
use crate::chat::retrieve::{Passage, Retrieved};
use crate::chat::timerange::TimeRange;
use crate::store::StoreError;
use serde_json::json;

/// Answer an open question or a summary request: the exact numbers of the window (and of the
/// URL or IP it names), then the summaries and anomalies nearest to the question.
pub fn open(
    q: &Queries<'_>,
    reading: &Reading,
    range: &TimeRange,
    retrieved: &Retrieved,
) -> Result<Answer, StoreError> {
    let filters = reading.filters.without_status();
    let scope = Scope { range, filters: &filters };
    let when = range.describe();
    let noun = noun(q, reading, scope)?;
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
    let subject = match reading.filters.attack {
        Some(attack) if filters.url.is_none() && filters.ip.is_none() => format!("requests {}", attack.describe()),
        Some(attack) => format!("{subject}, requests {}", attack.describe()),
        None => subject,
    };
    let mut text = if total == 0 {
        format!("For {subject} {when}: no {} are stored.", noun.1)
    } else {
        let mut classes_text = classes.iter().map(|(c, n)| format!("{c} {n}")).collect::<Vec<_>>().join(", ");
        // System log lines have no HTTP status (0): named apart, not as a class "0xx".
        let without: u64 = total - classes.iter().map(|(_, n)| n).sum::<u64>();
        if without > 0 {
            let sep = if classes_text.is_empty() { "" } else { ", " };
            classes_text.push_str(&format!("{sep}none (not HTTP) {without}"));
        }
        format!(
            "For {subject} {when}: {}, {} ({}%), {}. Status classes: {classes_text}.",
            plural(total, noun.0, noun.1),
            plural(errors, "error (4xx/5xx)", "errors (4xx/5xx)"),
            pct(errors, total),
            plural(anomalies, "anomaly", "anomalies"),
        )
    };
    if !top_ips.is_empty() {
        let (one, many) = ranked_noun(reading, Dimension::Ip, noun);
        text.push_str(&format!(" Top IPs: {}.", ranking_text(&top_ips, one, many)));
    }
    if !top_urls.is_empty() {
        let (one, many) = ranked_noun(reading, Dimension::Url, noun);
        text.push_str(&format!(" Top URL paths: {}.", ranking_text(&top_urls, one, many)));
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
    a.filters.not_status.clear();
    a.sources.push(events_source(q, scope, total)?);
    for p in retrieved.summaries.iter().chain(&retrieved.anomalies) {
        a.sources.push(p.source());
    }
    a.key_values.extend([total.to_string(), anomalies.to_string()]);
    Ok(a)
}
