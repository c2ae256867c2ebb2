//! Finding the stored summaries and anomalies nearest to an open question.
//!
//! Vector search (the agent's embedder and the "summaries" and "anomalies" collections, see
//! [`super::nearest`]) plugs in through [`Retriever`]. [`from_store`] picks the summaries that
//! speak of the question's window in log time and whose text names its URL, IP or words (newest
//! first), and the anomalies of the window that match them (highest score first). [`in_window`]
//! keeps the vector hits that speak of the window in log time too: the index knows a summary by
//! its commit window, which for a backfill says when old logs were read, not when they were
//! written. [`merge`] puts the vector hits first and fills up with the store's picks, so an open
//! question always cites what it rests on — also when the index holds nothing near it or vector
//! search fails.

use super::intent::Reading;
use super::queries::{AnomalyRow, Queries, Scope, SummaryRow};
use super::timerange::TimeRange;
use crate::store::StoreError;
use serde_json::{Value, json};

/// One cited summary or anomaly.
#[derive(Debug, Clone, PartialEq)]
pub struct Passage {
    /// `summary` or `anomaly`.
    pub kind: &'static str,
    /// Its id in the store.
    pub id: Value,
    /// What it says, in one line.
    pub text: String,
    /// Distance to the question in the vector space, when found by vector search.
    pub distance: Option<f32>,
}

impl Passage {
    /// The entry of the answer's `sources`.
    pub fn source(&self) -> Value {
        let mut source = json!({ "type": self.kind, "id": self.id, "text": self.text });
        if let Some(d) = self.distance {
            source["distance"] = json!(d);
        }
        source
    }

    /// A stored summary as a passage, named by the log times it folds. Live logs fall in the
    /// window they were committed in, which then names them; a backfill's do not, and its
    /// window says only when they were read.
    pub fn summary(row: &SummaryRow) -> Passage {
        let (start, end) = (row.window_start_ms, row.window_end_ms);
        let when = if row.first_event_ms >= start && row.last_event_ms < end {
            format!("{} to {}", at(start), at(end))
        } else {
            let logs = format!("logs from {} to {}", at(row.first_event_ms), at(row.last_event_ms));
            format!("{logs}, read {} to {}", at(start), at(end))
        };
        Passage::summary_text(row.id, &when, &row.text)
    }

    /// Summary `id` of the commit window `[start_ms, end_ms)` saying `text`, as its vector-index
    /// record knows it; [`in_window`] cites it as [`Passage::summary`] does.
    pub fn summary_window(id: i64, start_ms: i64, end_ms: i64, text: &str) -> Passage {
        Passage::summary_text(id, &format!("{} to {}", at(start_ms), at(end_ms)), text)
    }

    fn summary_text(id: i64, when: &str, text: &str) -> Passage {
        let mut short: String = text.chars().take(MAX_SUMMARY_CHARS).collect();
        if short.len() < text.len() {
            short.push('…');
        }
        Passage { kind: "summary", id: json!(id), text: format!("{when}: {short}"), distance: None }
    }

    /// An anomaly row as a passage.
    pub fn anomaly(row: &AnomalyRow) -> Passage {
        Passage {
            kind: "anomaly",
            id: json!(row.id),
            text: format!("at {}: {}, score {:.2}: {}", at(row.timestamp_ms), row.what(), row.score, row.reason),
            distance: None,
        }
    }
}

/// A time as RFC 3339.
fn at(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map(|t| t.to_string()).unwrap_or_default()
}

/// What retrieval found for one question.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Retrieved {
    /// Nearest summaries.
    pub summaries: Vec<Passage>,
    /// Nearest anomalies.
    pub anomalies: Vec<Passage>,
    /// `vector` or `store`.
    pub method: &'static str,
    /// A note for the answer (e.g. why vector search was not used).
    pub note: Option<String>,
}

/// Vector search over summaries and anomalies.
pub trait Retriever: Send + Sync {
    /// At most `k` summaries and `k` anomalies of `range` (and of the IP and URL of the
    /// reading's filters) nearest to what the question asks about, nearest first; empty when
    /// the question names nothing to search for. Called on a blocking thread.
    fn nearest(&self, reading: &Reading, range: &TimeRange, k: usize) -> Result<Retrieved, crate::vector::VectorError>;
}

/// The vector hits first, then the store's picks they do not already cite, at most `k` of each
/// kind. `method` is `vector` when a vector hit is cited, else `store`.
pub fn merge(vector: Retrieved, stored: Retrieved, k: usize) -> Retrieved {
    fn join(first: Vec<Passage>, then: Vec<Passage>, k: usize) -> Vec<Passage> {
        let mut out: Vec<Passage> = Vec::with_capacity(k);
        for p in first.into_iter().chain(then) {
            if out.len() < k && !out.iter().any(|o| o.kind == p.kind && o.id == p.id) {
                out.push(p);
            }
        }
        out
    }
    let summaries = join(vector.summaries, stored.summaries, k);
    let anomalies = join(vector.anomalies, stored.anomalies, k);
    let by_vector = summaries.iter().chain(&anomalies).any(|p| p.distance.is_some());
    Retrieved {
        summaries,
        anomalies,
        method: if by_vector { "vector" } else { "store" },
        note: vector.note.or(stored.note),
    }
}

/// `found`'s summaries that speak of `range` in log time (see [`Queries::summaries`]), cited
/// as the store's picks are; its anomalies, placed by their event's time, as they are.
pub fn in_window(q: &Queries<'_>, range: &TimeRange, found: Retrieved) -> Result<Retrieved, StoreError> {
    let ids: Vec<i64> = found.summaries.iter().filter_map(|p| p.id.as_i64()).collect();
    let rows = if ids.is_empty() { Vec::new() } else { q.summaries(range, Some(&ids), ids.len())? };
    let summaries = found
        .summaries
        .iter()
        .filter_map(|p| {
            let row = rows.iter().find(|r| p.id.as_i64() == Some(r.id))?;
            Some(Passage { distance: p.distance, ..Passage::summary(row) })
        })
        .collect();
    Ok(Retrieved { summaries, ..found })
}

/// Passages cited per kind.
pub const NEAREST: usize = 5;
/// Characters of a summary's text quoted in a citation.
const MAX_SUMMARY_CHARS: usize = 400;
/// Summaries of a window scanned for the question's words.
const SUMMARIES_SCANNED: usize = 1_000;

/// The fallback: anomalies of the window matching the question's filters and words (or, when
/// none match the words, its filters alone), highest score first.
pub fn from_store(q: &Queries<'_>, reading: &Reading, range: &TimeRange) -> Result<Retrieved, StoreError> {
    let filters = reading.filters.without_status();
    let scope = Scope { range, filters: &filters };
    let mut rows = if reading.terms.is_empty() { Vec::new() } else { q.anomalies(scope, &reading.terms, NEAREST)? };
    if rows.is_empty() {
        rows = q.anomalies(scope, &[], NEAREST)?;
    }
    Ok(Retrieved {
        summaries: summaries(q, reading, range)?.iter().map(Passage::summary).collect(),
        anomalies: rows.iter().map(Passage::anomaly).collect(),
        method: "store",
        note: None,
    })
}

/// Summaries of the window in log time that name the question's URL and IP (when it has them)
/// and, among those, the ones naming most of its words; newest first.
fn summaries(q: &Queries<'_>, reading: &Reading, range: &TimeRange) -> Result<Vec<SummaryRow>, StoreError> {
    let found = q.summaries(range, None, SUMMARIES_SCANNED)?;
    let entities: Vec<&str> =
        [reading.filters.url.as_deref(), reading.filters.ip.as_deref()].into_iter().flatten().collect();
    let mut scored: Vec<(usize, SummaryRow)> = found
        .into_iter()
        .filter_map(|s| {
            let text = s.text.to_lowercase();
            if !entities.iter().all(|e| text.contains(&e.to_lowercase())) {
                return None;
            }
            let words = reading.terms.iter().filter(|t| text.contains(t.as_str())).count();
            Some((words, s))
        })
        .collect();
    // Stable: equal word counts keep the newest-first order of the query.
    scored.sort_by_key(|s| std::cmp::Reverse(s.0));
    Ok(scored.into_iter().take(NEAREST).map(|(_, s)| s).collect())
}
