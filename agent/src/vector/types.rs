//! What a vector search is about: the [`Collection`]s, the metadata [`Filter`] and the [`Hit`]s.

use serde::Serialize;
use serde_json::{Map, Value};

/// Metadata of one record: flat keys with string, integer, float or boolean values, as Chroma
/// accepts them.
pub type Metadata = Map<String, Value>;

/// The collections Vigil writes; in Chroma they are `<prefix>-logs`, `<prefix>-anomalies` and
/// `<prefix>-summaries`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Collection {
    /// Every stored event (Chroma only: the embedded store searches logs with SQL).
    Logs,
    /// Events some detector flagged, one record per detector verdict.
    Anomalies,
    /// The summaries written by summarizer plugins.
    Summaries,
}

impl Collection {
    /// Every collection.
    pub const ALL: [Collection; 3] = [Collection::Logs, Collection::Anomalies, Collection::Summaries];

    /// The collection's name without the prefix: `logs`, `anomalies` or `summaries`.
    pub fn name(self) -> &'static str {
        match self {
            Collection::Logs => "logs",
            Collection::Anomalies => "anomalies",
            Collection::Summaries => "summaries",
        }
    }

    /// The collection named `name` (without prefix), if any.
    pub fn from_name(name: &str) -> Option<Collection> {
        Collection::ALL.into_iter().find(|c| c.name() == name)
    }
}

impl std::fmt::Display for Collection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One condition on a metadata key.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// The key holds exactly this value (numbers compare as numbers: 500 equals 500.0).
    Eq(String, Value),
    /// The key holds a number at or above this one.
    Gte(String, f64),
    /// The key holds a number at or below this one.
    Lte(String, f64),
}

/// Conditions that must all hold; the empty filter matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// The conditions.
    pub all: Vec<Condition>,
}

impl Filter {
    /// A filter that matches everything.
    pub fn none() -> Filter {
        Filter::default()
    }

    /// Also require `key == value`.
    pub fn eq(mut self, key: &str, value: impl Into<Value>) -> Filter {
        self.all.push(Condition::Eq(key.to_owned(), value.into()));
        self
    }

    /// Also require `key >= value`.
    pub fn gte(mut self, key: &str, value: f64) -> Filter {
        self.all.push(Condition::Gte(key.to_owned(), value));
        self
    }

    /// Also require `key <= value`.
    pub fn lte(mut self, key: &str, value: f64) -> Filter {
        self.all.push(Condition::Lte(key.to_owned(), value));
        self
    }

    /// Whether `metadata` satisfies every condition.
    pub fn matches(&self, metadata: &Metadata) -> bool {
        self.all.iter().all(|c| match c {
            Condition::Eq(key, want) => metadata.get(key).is_some_and(|got| same(got, want)),
            Condition::Gte(key, min) => metadata.get(key).and_then(Value::as_f64).is_some_and(|v| v >= *min),
            Condition::Lte(key, max) => metadata.get(key).and_then(Value::as_f64).is_some_and(|v| v <= *max),
        })
    }

    /// The filter as a Chroma `where` document, or `None` when it is empty.
    pub fn to_chroma_where(&self) -> Option<Value> {
        let mut clauses: Vec<Value> = self
            .all
            .iter()
            .map(|c| match c {
                Condition::Eq(key, value) => serde_json::json!({ key: { "$eq": value } }),
                Condition::Gte(key, value) => serde_json::json!({ key: { "$gte": value } }),
                Condition::Lte(key, value) => serde_json::json!({ key: { "$lte": value } }),
            })
            .collect();
        match clauses.len() {
            0 => None,
            1 => clauses.pop(),
            _ => Some(serde_json::json!({ "$and": clauses })),
        }
    }
}

fn same(got: &Value, want: &Value) -> bool {
    match (got.as_f64(), want.as_f64()) {
        (Some(a), Some(b)) => a == b,
        _ => got == want,
    }
}

/// One search result, nearest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    /// The record's id, such as `log-42`, `anomaly-7` or `summary-2025-04-01T12:00:00Z`.
    pub id: String,
    /// The record's text.
    pub document: String,
    /// The record's metadata.
    pub metadata: Metadata,
    /// Cosine distance to the query, `1 - cos`, in [0, 2]; smaller is nearer.
    pub distance: f32,
}

/// One record to upsert: an id, its text and its metadata (the vector is computed from the
/// text by the embedder).
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Deterministic id: `log-<event id>`, `anomaly-<anomaly id>`, `summary-<summary id>`.
    pub id: String,
    /// The text that is embedded and returned by searches.
    pub document: String,
    /// Filterable metadata.
    pub metadata: Metadata,
}
