//! [`VectorRetriever`]: the summaries and anomalies nearest to an open question, found by
//! vector search in the "summaries" and "anomalies" collections of the [`VectorIndex`]
//! (`vigil.db`'s embedded copy, or Chroma with `[store] kind = "chroma"`).
//!
//! The question is embedded by the same embedder that embedded the records. What is embedded
//! is its subject — the words an open question is about ([`Reading::terms`]), its URL and its
//! IP — not the whole sentence: "what is going on", "today" or "anything unusual" name no
//! record, and in a hashed space they only add noise. A question without a subject
//! ("anything unusual today?") is left to the store's picks (highest anomaly scores, newest
//! summaries), which answer it better than any neighbour would.
//!
//! The question's window becomes a metadata filter on `timestamp` (integer seconds), and its
//! IP and URL restrict the hits, so a hit is never outside what the question asks about. A
//! summary's `timestamp` is its commit window's: which hits speak of the window in log time is
//! checked on the store (`retrieve::in_window`). Hits
//! farther than [`MAX_DISTANCE`] share next to no feature with the subject and are dropped.
//! This module only reads.

use super::intent::Reading;
use super::queries::AnomalyRow;
use super::retrieve::{Passage, Retrieved, Retriever};
use super::timerange::TimeRange;
use crate::vector::{Collection, Filter, Hit, VectorError, VectorIndex};
use serde_json::{Value, json};

/// Cosine distance past which a hit is not about the question. Texts that share no word,
/// pair or trigram sit at 1 ± the noise of hash collisions (a few hundredths at 384
/// dimensions); one shared word with a short subject brings a summary to about 0.8.
pub const MAX_DISTANCE: f32 = 0.95;

/// Hits asked for per passage wanted: IP and URL are checked on the hits (a URL matches its
/// sub-paths, which no metadata filter says), so some are set aside.
const OVERFETCH: usize = 4;

/// Open questions answered by vector search over the agent's [`VectorIndex`].
pub struct VectorRetriever {
    index: VectorIndex,
}

impl VectorRetriever {
    /// A retriever over `index`.
    pub fn new(index: VectorIndex) -> VectorRetriever {
        VectorRetriever { index }
    }

    fn search(
        &self,
        collection: Collection,
        embedding: &[f32],
        k: usize,
        filter: &Filter,
        keep: impl Fn(&Hit) -> bool,
    ) -> Result<Vec<Hit>, VectorError> {
        let hits = self.index.query_blocking(collection, embedding, k * OVERFETCH, filter)?;
        Ok(hits.into_iter().filter(|h| h.distance <= MAX_DISTANCE && keep(h)).take(k).collect())
    }
}

impl Retriever for VectorRetriever {
    fn nearest(&self, reading: &Reading, range: &TimeRange, k: usize) -> Result<Retrieved, VectorError> {
        let Some(subject) = subject(reading) else {
            return Ok(Retrieved { method: "store", ..Retrieved::default() });
        };
        let embedding = self.index.embedder().embed(&subject);
        let filters = &reading.filters;
        let (from_s, to_s) = seconds(range);

        // A summary covers [timestamp, window_end): it is in the window when it overlaps it.
        let mut window = Filter::none();
        if let Some(from) = from_s {
            window = window.gte("window_end", (from + 1) as f64);
        }
        if let Some(to) = to_s {
            window = window.lte("timestamp", (to - 1) as f64);
        }
        let names = |h: &Hit| {
            let text = h.document.to_lowercase();
            [filters.url.as_deref(), filters.ip.as_deref()]
                .into_iter()
                .flatten()
                .all(|e| text.contains(&e.to_lowercase()))
        };
        let summaries = self.search(Collection::Summaries, &embedding, k, &window, names)?;

        let mut scope = Filter::none();
        if let Some(from) = from_s {
            scope = scope.gte("timestamp", from as f64);
        }
        if let Some(to) = to_s {
            scope = scope.lte("timestamp", (to - 1) as f64);
        }
        if let Some(ip) = &filters.ip {
            scope = scope.eq("ip", ip.as_str());
        }
        if let Some(method) = &filters.method {
            scope = scope.eq("method", method.as_str());
        }
        let on_url = |h: &Hit| match &filters.url {
            None => true,
            Some(url) => {
                let path = h.metadata.get("path").and_then(Value::as_str).unwrap_or("");
                let base = url.trim_end_matches('/');
                path == url || path.strip_prefix(base).is_some_and(|rest| rest.starts_with('/'))
            }
        };
        let anomalies = self.search(Collection::Anomalies, &embedding, k, &scope, on_url)?;

        Ok(Retrieved {
            summaries: summaries.iter().filter_map(summary).collect(),
            anomalies: anomalies.iter().filter_map(anomaly).collect(),
            method: "vector",
            note: None,
        })
    }
}

/// What the question is about, as text to embed: its words, URL, IP and method.
fn subject(reading: &Reading) -> Option<String> {
    let f = &reading.filters;
    let parts: Vec<&str> = reading
        .terms
        .iter()
        .map(String::as_str)
        .chain([f.url.as_deref(), f.ip.as_deref(), f.method.as_deref()].into_iter().flatten())
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// The window as whole seconds: `[from, to)` rounded outwards, as the vectors' `timestamp`
/// metadata is.
fn seconds(range: &TimeRange) -> (Option<i64>, Option<i64>) {
    let from = range.from_ms().map(|ms| ms.div_euclid(1000));
    let to = range.to_ms().map(|ms| ms.div_euclid(1000) + i64::from(ms.rem_euclid(1000) > 0));
    (from, to)
}

/// The numeric id in a record id such as `summary-12` (the id the API shows).
fn numeric_id(id: &str, prefix: &str) -> Value {
    let rest = id.strip_prefix(prefix).and_then(|r| r.strip_prefix('-')).unwrap_or(id);
    rest.parse::<i64>().map_or_else(|_| json!(rest), |n| json!(n))
}

fn int(hit: &Hit, key: &str) -> Option<i64> {
    hit.metadata.get(key).and_then(Value::as_f64).map(|v| v as i64)
}

fn text(hit: &Hit, key: &str) -> String {
    hit.metadata.get(key).and_then(Value::as_str).unwrap_or_default().to_owned()
}

/// A summary hit as the same passage the store's pick of it gives.
fn summary(hit: &Hit) -> Option<Passage> {
    let id = numeric_id(&hit.id, "summary").as_i64()?;
    let (start, end) = (int(hit, "timestamp")? * 1000, int(hit, "window_end")? * 1000);
    Some(Passage { distance: Some(hit.distance), ..Passage::summary_window(id, start, end, &hit.document) })
}

/// An anomaly hit as a passage: the event from its metadata, the reason from its document
/// (`anomaly (score …, detector): <reason> | <line>`, see `store/vectors.rs`).
fn anomaly(hit: &Hit) -> Option<Passage> {
    let reason = hit.document.split_once("): ").map_or("", |(_, r)| r);
    let (reason, line) = reason.rsplit_once(" | ").unwrap_or((reason, ""));
    let row = AnomalyRow {
        id: numeric_id(&hit.id, "anomaly").as_i64()?,
        event_id: int(hit, "event_id").unwrap_or_default(),
        timestamp_ms: int(hit, "timestamp")? * 1000,
        ip: text(hit, "ip"),
        method: text(hit, "method"),
        url: text(hit, "path"),
        status_code: int(hit, "status_code").unwrap_or_default() as u16,
        score: hit.metadata.get("anomaly_score").and_then(Value::as_f64).unwrap_or_default(),
        reason: reason.to_owned(),
        detector: text(hit, "detector"),
        line: line.to_owned(),
    };
    Some(Passage { distance: Some(hit.distance), ..Passage::anomaly(&row) })
}
