//! The `templates` table: each mined template's text, how many lines it took, and when it was
//! first and last seen. Rows are upserted in the commit that stores the lines they count, and
//! read back at start-up so a restarted agent keeps its template ids.

use super::connection::Store;
use super::error::StoreError;
use rusqlite::Transaction;

/// What one batch adds to a template.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateUpdate {
    /// The template id the batch's lines carry.
    pub id: i64,
    /// The source whose miner holds the template.
    pub source: String,
    /// The template's text after the batch.
    pub template: String,
    /// Lines of the batch it took.
    pub count: u64,
    /// Earliest and latest timestamp of those lines, ms since the Unix epoch.
    pub first_seen_ms: i64,
    /// See `first_seen_ms`.
    pub last_seen_ms: i64,
}

/// A template as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTemplate {
    /// Its id.
    pub id: i64,
    /// The source it was mined from.
    pub source: String,
    /// Its text, variables as `<*>`.
    pub template: String,
    /// Lines it took, over the store's lifetime.
    pub count: u64,
    /// First and last time a line took it, ms since the Unix epoch.
    pub first_seen_ms: i64,
    /// See `first_seen_ms`.
    pub last_seen_ms: i64,
}

const UPSERT_TEMPLATE: &str = "INSERT INTO templates (id, source, template, count, first_seen_ms, last_seen_ms) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(id) DO UPDATE SET template = excluded.template, \
     count = count + excluded.count, first_seen_ms = min(first_seen_ms, excluded.first_seen_ms), \
     last_seen_ms = max(last_seen_ms, excluded.last_seen_ms)";

/// Upserts `updates` inside the commit's transaction.
pub(crate) fn upsert(tx: &Transaction<'_>, updates: &[TemplateUpdate]) -> rusqlite::Result<()> {
    if updates.is_empty() {
        return Ok(());
    }
    let mut upsert = tx.prepare_cached(UPSERT_TEMPLATE)?;
    for u in updates {
        let count = i64::try_from(u.count).unwrap_or(i64::MAX);
        upsert.execute((u.id, &u.source, &u.template, count, u.first_seen_ms, u.last_seen_ms))?;
    }
    Ok(())
}

impl Store {
    /// The `per_source` most recently seen templates of every source, most recent first, and
    /// the highest template id ever stored (0 when none).
    pub fn recent_templates(&self, per_source: usize) -> Result<(Vec<StoredTemplate>, i64), StoreError> {
        let err = self.error("read templates");
        let reader = self.reader()?;
        let mut stmt = reader
            .prepare_cached(
                "SELECT id, source, template, count, first_seen_ms, last_seen_ms FROM ( \
                   SELECT *, row_number() OVER (PARTITION BY source ORDER BY last_seen_ms DESC, id DESC) AS n \
                   FROM templates) WHERE n <= ?1 ORDER BY last_seen_ms DESC, id DESC",
            )
            .map_err(&err)?;
        let rows = stmt
            .query_map([i64::try_from(per_source).unwrap_or(i64::MAX)], |row| {
                Ok(StoredTemplate {
                    id: row.get(0)?,
                    source: row.get(1)?,
                    template: row.get(2)?,
                    count: row.get::<_, i64>(3)?.max(0) as u64,
                    first_seen_ms: row.get(4)?,
                    last_seen_ms: row.get(5)?,
                })
            })
            .map_err(&err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(&err)?;
        let max_id: i64 =
            reader.query_row("SELECT coalesce(max(id), 0) FROM templates", [], |row| row.get(0)).map_err(&err)?;
        Ok((rows, max_id))
    }
}
