//! Summaries written by summarizer plugins: one row per closed window (or per window cut
//! short by a shutdown), with the plugin's text and JSON. Storing a summary also indexes it
//! for search (embedded) and, with Chroma, queues it in the outbox, in the same transaction.
//! Summaries older than `retention_days` are deleted, with their vectors, by the summarizers
//! as they write.

use super::connection::Store;
use super::error::StoreError;
use rusqlite::types::Value;
use serde_json::{Map, json};

/// The table and its index; run by the migration in `schema.rs`. Idempotent.
pub(crate) const SCHEMA: &str = r#"
    CREATE TABLE IF NOT EXISTS summaries (
        id              INTEGER PRIMARY KEY,
        summarizer      TEXT    NOT NULL,
        window_start_ms INTEGER NOT NULL,
        window_end_ms   INTEGER NOT NULL,
        first_event_ms  INTEGER,
        last_event_ms   INTEGER,
        events          INTEGER NOT NULL,
        anomalies       INTEGER NOT NULL,
        skipped_events  INTEGER NOT NULL,
        partial         INTEGER NOT NULL,
        text            TEXT    NOT NULL,
        data            TEXT    NOT NULL,   -- JSON object
        created_ms      INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS summaries_by_window ON summaries(window_start_ms);
"#;

/// Rows returned when a query gives no `limit`.
pub const SUMMARY_DEFAULT_LIMIT: usize = 100;
/// Most rows one query returns.
pub const SUMMARY_MAX_LIMIT: usize = 1_000;

/// A summary to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSummary {
    /// Name of the summarizer that wrote it.
    pub summarizer: String,
    /// The window, `[start, end)`, ms since the Unix epoch.
    pub window_start_ms: i64,
    pub window_end_ms: i64,
    /// Earliest and latest event time folded into it.
    pub first_event_ms: Option<i64>,
    pub last_event_ms: Option<i64>,
    /// Events folded into it.
    pub events: u64,
    /// Anomalies among them.
    pub anomalies: u64,
    /// Events committed in the window that the summarizer had to skip (it was behind).
    pub skipped_events: u64,
    /// Whether the window was cut short (the agent stopped before it closed).
    pub partial: bool,
    /// The plugin's text.
    pub text: String,
    /// The plugin's structured summary.
    pub data: Map<String, serde_json::Value>,
}

/// A stored summary.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSummary {
    /// Its id (the search index knows it as `summary-<id>`).
    pub id: i64,
    /// What was stored.
    pub summary: NewSummary,
    /// When it was stored, ms since the Unix epoch.
    pub created_ms: i64,
}

/// Filters of [`Store::summaries`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SummaryQuery {
    /// Only windows that end after this time (ms).
    pub from_ms: Option<i64>,
    /// Only windows that start before this time (ms, exclusive).
    pub to_ms: Option<i64>,
    /// Only this summarizer's.
    pub summarizer: Option<String>,
    /// Most rows: [`SUMMARY_DEFAULT_LIMIT`] when `None`, never over [`SUMMARY_MAX_LIMIT`].
    pub limit: Option<usize>,
    /// Paging: only the summaries after this one in the order of the answer (newest window
    /// first, ties by id); none when it names no stored summary.
    pub before_id: Option<i64>,
}

impl Store {
    /// Store a summary, index it for search and (with Chroma) queue it, in one transaction.
    pub fn insert_summary(&self, s: &NewSummary) -> Result<StoredSummary, StoreError> {
        let err = self.error("store a summary");
        let data = serde_json::to_string(&s.data).expect("a JSON map always serializes");
        let now = super::write::unix_ms();
        let mut guard = self.writer();
        let tx = guard.conn.transaction().map_err(&err)?;
        tx.prepare_cached(
            "INSERT INTO summaries (summarizer, window_start_ms, window_end_ms, first_event_ms, last_event_ms, \
             events, anomalies, skipped_events, partial, text, data, created_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )
        .map_err(&err)?
        .execute(rusqlite::params![
            s.summarizer,
            s.window_start_ms,
            s.window_end_ms,
            s.first_event_ms,
            s.last_event_ms,
            s.events as i64,
            s.anomalies as i64,
            s.skipped_events as i64,
            s.partial,
            s.text,
            data,
            now,
        ])
        .map_err(&err)?;
        let id = tx.last_insert_rowid();
        let mut metadata = Map::new();
        metadata.insert("timestamp".into(), json!(s.window_start_ms.div_euclid(1000)));
        metadata.insert("window_end".into(), json!(s.window_end_ms.div_euclid(1000)));
        metadata.insert("summarizer".into(), json!(s.summarizer));
        metadata.insert("events".into(), json!(s.events));
        metadata.insert("anomalies".into(), json!(s.anomalies));
        metadata.insert("partial".into(), json!(s.partial));
        let embedder = self.embedder.as_ref();
        super::vectors::put_summary(&tx, self.config.kind, embedder, &id.to_string(), &s.text, &metadata)
            .map_err(&err)?;
        tx.commit().map_err(&err)?;
        Ok(StoredSummary { id, summary: s.clone(), created_ms: now })
    }

    /// Summaries whose window overlaps `[from, to)`, newest window first.
    pub fn summaries(&self, q: &SummaryQuery) -> Result<Vec<StoredSummary>, StoreError> {
        let err = self.error("read summaries");
        let mut clauses = Vec::new();
        let mut params = Vec::new();
        if let Some(from) = q.from_ms {
            clauses.push("window_end_ms > ?");
            params.push(Value::Integer(from));
        }
        if let Some(to) = q.to_ms {
            clauses.push("window_start_ms < ?");
            params.push(Value::Integer(to));
        }
        if let Some(name) = &q.summarizer {
            clauses.push("summarizer = ?");
            params.push(Value::Text(name.clone()));
        }
        if let Some(before) = q.before_id {
            // A summary retention deleted compares as NULL: an empty page, as for logs.
            clauses.push("(window_start_ms, id) < (SELECT window_start_ms, id FROM summaries WHERE id = ?)");
            params.push(Value::Integer(before));
        }
        let filter = if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
        let limit = q.limit.unwrap_or(SUMMARY_DEFAULT_LIMIT).min(SUMMARY_MAX_LIMIT);
        let sql = format!(
            "SELECT id, summarizer, window_start_ms, window_end_ms, first_event_ms, last_event_ms, events, \
             anomalies, skipped_events, partial, text, data, created_ms FROM summaries {filter} \
             ORDER BY window_start_ms DESC, id DESC LIMIT {limit}"
        );
        let reader = self.reader()?;
        let mut stmt = reader.prepare(&sql).map_err(&err)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(params), read_summary).map_err(&err)?;
        rows.collect::<Result<_, _>>().map_err(&err)
    }

    /// Delete summaries whose window ended before `cutoff_ms`, with their vectors (the index
    /// knows summary `n` as `summary-n`, with no event id), in one transaction; returns how
    /// many summaries went.
    pub fn delete_summaries_before(&self, cutoff_ms: i64) -> Result<usize, StoreError> {
        let err = self.error("delete old summaries");
        let mut guard = self.writer();
        let tx = guard.conn.transaction().map_err(&err)?;
        tx.execute(
            "DELETE FROM vectors WHERE collection = 'summaries' AND event_id IS NULL \
             AND id IN (SELECT 'summary-' || id FROM summaries WHERE window_end_ms < ?1)",
            [cutoff_ms],
        )
        .map_err(&err)?;
        let deleted = tx.execute("DELETE FROM summaries WHERE window_end_ms < ?1", [cutoff_ms]).map_err(&err)?;
        tx.commit().map_err(&err)?;
        Ok(deleted)
    }
}

fn read_summary(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredSummary> {
    let data: String = row.get(11)?;
    let data = serde_json::from_str(&data)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(11, rusqlite::types::Type::Text, Box::new(e)))?;
    Ok(StoredSummary {
        id: row.get(0)?,
        summary: NewSummary {
            summarizer: row.get(1)?,
            window_start_ms: row.get(2)?,
            window_end_ms: row.get(3)?,
            first_event_ms: row.get(4)?,
            last_event_ms: row.get(5)?,
            events: row.get::<_, i64>(6)?.max(0) as u64,
            anomalies: row.get::<_, i64>(7)?.max(0) as u64,
            skipped_events: row.get::<_, i64>(8)?.max(0) as u64,
            partial: row.get(9)?,
            text: row.get(10)?,
            data,
        },
        created_ms: row.get(12)?,
    })
}
