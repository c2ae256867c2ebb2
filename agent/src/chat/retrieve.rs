//! Finding the stored summaries and anomalies nearest to an open question.
//!
//! Vector search (the `embed` module's embedder and index over the "summaries" and
//! "anomalies" collections) plugs in through [`Retriever`]. Without it, or when it fails,
//! [`from_store`] picks the anomalies of the window that match the question's URL, IP and
//! words, highest score first, so an open question always cites what it rests on.

use super::intent::Reading;
use super::queries::{AnomalyRow, Queries, Scope};
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

    /// An anomaly row as a passage.
    pub fn anomaly(row: &AnomalyRow) -> Passage {
        let at = jiff::Timestamp::from_millisecond(row.timestamp_ms).map(|t| t.to_string()).unwrap_or_default();
        Passage {
            kind: "anomaly",
            id: json!(row.id),
            text: format!(
                "at {at}: {} {} {} → {}, score {:.2}: {}",
                row.ip, row.method, row.url, row.status_code, row.score, row.reason
            ),
            distance: None,
        }
    }
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
    /// At most `k` summaries and `k` anomalies of `range` nearest to `question`.
    fn nearest(&self, question: &str, range: &TimeRange, k: usize) -> Result<Retrieved, String>;
}

/// Passages cited per kind.
pub const NEAREST: usize = 5;

/// The fallback: anomalies of the window matching the question's filters and words (or, when
/// none match the words, its filters alone), highest score first.
pub fn from_store(q: &Queries<'_>, reading: &Reading, range: &TimeRange) -> Result<Retrieved, StoreError> {
    let filters = super::intent::Filters { status: None, ..reading.filters.clone() };
    let scope = Scope { range, filters: &filters };
    let mut rows = if reading.terms.is_empty() { Vec::new() } else { q.anomalies(scope, &reading.terms, NEAREST)? };
    if rows.is_empty() {
        rows = q.anomalies(scope, &[], NEAREST)?;
    }
    Ok(Retrieved {
        summaries: Vec::new(),
        anomalies: rows.iter().map(Passage::anomaly).collect(),
        method: "store",
        note: None,
    })
}
