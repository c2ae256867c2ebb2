//! Retention: events older than `retention_days` go, with their anomalies; while the data is
//! over `max_size_mib`, the oldest events go too. Checkpoints are never deleted (a tailer
//! without its offset would read a file again from the start).
//!
//! Deleted rows' pages go to SQLite's free list and are reused by later commits: the size
//! limit counts pages in use, and the file itself stops growing rather than shrinking.
//!
//! Every step is its own short transaction of at most `retention_chunk` events, and the
//! writer lock is released between steps, so commits wait at most one step.

use super::connection::Store;
use super::error::StoreError;
use super::query::used_bytes;
use rusqlite::TransactionBehavior;

/// What [`Store::enforce_retention`] deleted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RetentionReport {
    /// Events deleted for being older than `retention_days`.
    pub expired_events: u64,
    /// Events deleted, oldest first, to bring the data under `max_size_mib`.
    pub evicted_events: u64,
    /// Anomalies deleted with those events.
    pub anomalies: u64,
    /// Bytes in use before.
    pub bytes_before: u64,
    /// Bytes in use after.
    pub bytes_after: u64,
}

impl Store {
    /// Apply the retention rules as of `now_ms` (ms since the Unix epoch).
    pub fn enforce_retention(&self, now_ms: i64) -> Result<RetentionReport, StoreError> {
        let mut report = RetentionReport { bytes_before: self.used_bytes()?, ..RetentionReport::default() };
        let chunk = self.config.retention_chunk;
        if self.config.retention_days > 0 {
            let cutoff = now_ms.saturating_sub(i64::from(self.config.retention_days) * 86_400_000);
            loop {
                let (events, anomalies) = self.delete_oldest(Some(cutoff), chunk)?;
                report.expired_events += events;
                report.anomalies += anomalies;
                if events < chunk as u64 {
                    break;
                }
            }
        }
        if let Some(max) = self.config.max_size_bytes() {
            while self.used_bytes()? > max {
                let (events, anomalies) = self.delete_oldest(None, chunk)?;
                report.evicted_events += events;
                report.anomalies += anomalies;
                if events == 0 {
                    break;
                }
            }
        }
        report.bytes_after = self.used_bytes()?;
        Ok(report)
    }

    /// Delete up to `limit` of the oldest events (only those before `cutoff`, if given) and
    /// their anomalies in one transaction; returns (events, anomalies) deleted.
    fn delete_oldest(&self, cutoff: Option<i64>, limit: usize) -> Result<(u64, u64), StoreError> {
        let err = self.error("delete old events");
        let mut writer = self.writer();
        let tx = writer.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(&err)?;
        let mut anomalies = 0;
        let oldest: Vec<(i64, String)> = {
            let mut select = tx
                .prepare_cached(
                    "SELECT id, source FROM events WHERE timestamp_ms < ?1 ORDER BY timestamp_ms, id LIMIT ?2",
                )
                .map_err(&err)?;
            let rows = select
                .query_map((cutoff.unwrap_or(i64::MAX), limit as i64), |row| Ok((row.get(0)?, row.get(1)?)))
                .map_err(&err)?;
            rows.collect::<Result<_, _>>().map_err(&err)?
        };
        {
            let mut delete_event = tx.prepare_cached("DELETE FROM events WHERE id = ?1").map_err(&err)?;
            let mut delete_anomalies = tx.prepare_cached("DELETE FROM anomalies WHERE event_id = ?1").map_err(&err)?;
            let mut per_source: Vec<(&str, i64)> = Vec::new();
            for (id, source) in &oldest {
                delete_event.execute([id]).map_err(&err)?;
                anomalies += delete_anomalies.execute([id]).map_err(&err)? as u64;
                match per_source.iter_mut().find(|(s, _)| s == source) {
                    Some((_, n)) => *n += 1,
                    None => per_source.push((source, 1)),
                }
            }
            let mut subtract =
                tx.prepare_cached("UPDATE source_counts SET events = events - ?2 WHERE source = ?1").map_err(&err)?;
            for (source, n) in &per_source {
                subtract.execute((source, n)).map_err(&err)?;
            }
            tx.execute("DELETE FROM source_counts WHERE events <= 0", []).map_err(&err)?;
        }
        tx.commit().map_err(&err)?;
        Ok((oldest.len() as u64, anomalies))
    }

    /// Bytes of the database in use, as the writer sees it.
    fn used_bytes(&self) -> Result<u64, StoreError> {
        let writer = self.writer();
        used_bytes(&writer.conn).map_err(self.error("measure the database"))
    }
}
