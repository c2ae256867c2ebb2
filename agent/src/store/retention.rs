//! Retention: events older than `retention_days` go, with their anomalies and their vectors;
//! while the data is over `max_size_mib`, the oldest events go too, with theirs. Checkpoints
//! are never deleted (a tailer without its offset would read a file again from the start).
//!
//! Events still waiting in the Chroma outbox are not expired by age: age is the event's own
//! timestamp, so a backfilled or replayed log would otherwise be deleted before Chroma ever
//! saw it, and a Chroma outage must delay writes, not lose them. Only the size limit may take
//! unsent events (a full disk outranks a late copy); those are counted in
//! [`RetentionReport::unsent_evicted`], logged, and added up in the database
//! ([`OutboxDepth::evicted_unsent`](super::OutboxDepth), shown by /api/v1/stats and /health).
//!
//! Deleted rows' pages go to SQLite's free list and are reused by later commits: the size
//! limit counts pages in use (`page_count - freelist_count`), and the file itself stops
//! growing rather than shrinking. The size limit deletes in steps sized to the excess (see
//! [`eviction_step`]) and measures after each, so it stops just under the limit: a step of
//! `retention_chunk` events once took every event of a store a few MiB over.
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
    /// Of the evicted events, those Chroma had not received yet (they will never reach it).
    pub unsent_evicted: u64,
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
                let unsent = self.first_unsent_event()?;
                let (events, anomalies) = self.delete_oldest(Some(cutoff), unsent, chunk)?;
                report.expired_events += events;
                report.anomalies += anomalies;
                if events < chunk as u64 {
                    break;
                }
            }
        }
        if let Some(max) = self.config.max_size_bytes() {
            // Commits go on meanwhile: count within the ids that exist now.
            let unsent = self.first_unsent_event()?.map(|first| (first, self.last_event_id()));
            let unsent_before = self.events_between(unsent)?;
            loop {
                let used = self.used_bytes()?;
                if used <= max {
                    break;
                }
                let step = eviction_step(used - max, used, self.stored_events()?, chunk);
                let (events, anomalies) = self.delete_oldest(None, None, step)?;
                report.evicted_events += events;
                report.anomalies += anomalies;
                if events == 0 {
                    break;
                }
            }
            report.unsent_evicted = unsent_before.saturating_sub(self.events_between(unsent)?);
            if report.unsent_evicted > 0 {
                // Kept in the database, for /api/v1/stats and /health (`outbox.evicted_unsent`).
                self.writer()
                    .conn
                    .execute(
                        "INSERT INTO meta (key, value) VALUES ('evicted_unsent', ?1) \
                         ON CONFLICT (key) DO UPDATE SET value = value + excluded.value",
                        [report.unsent_evicted as i64],
                    )
                    .map_err(self.error("count the events Chroma will not receive"))?;
                tracing::warn!(
                    events = report.unsent_evicted,
                    max_size_mib = self.config.max_size_mib,
                    "the store is over its size limit: events Chroma has not received yet were deleted; \
                     raise store.max_size_mib or bring Chroma back"
                );
            }
        }
        report.bytes_after = self.used_bytes()?;
        Ok(report)
    }

    /// Events stored, from the per-source counts (no scan of `events`).
    fn stored_events(&self) -> Result<u64, StoreError> {
        let writer = self.writer();
        writer
            .conn
            .query_row("SELECT coalesce(sum(events), 0) FROM source_counts", [], |r| r.get::<_, i64>(0))
            .map(|n| n.max(0) as u64)
            .map_err(self.error("count events"))
    }

    /// The lowest event id still waiting in the outbox, if any.
    fn first_unsent_event(&self) -> Result<Option<i64>, StoreError> {
        let writer = self.writer();
        writer
            .conn
            .query_row("SELECT min(first_id) FROM outbox WHERE first_id IS NOT NULL", [], |r| r.get(0))
            .map_err(self.error("read the outbox"))
    }

    /// The highest event id there is (0 when there is none).
    fn last_event_id(&self) -> i64 {
        let writer = self.writer();
        writer.conn.query_row("SELECT coalesce(max(id), 0) FROM events", [], |r| r.get(0)).unwrap_or(i64::MAX)
    }

    /// Events with ids in `first..=last` (none without a range).
    fn events_between(&self, range: Option<(i64, i64)>) -> Result<u64, StoreError> {
        let Some((first, last)) = range else { return Ok(0) };
        let writer = self.writer();
        writer
            .conn
            .query_row("SELECT count(*) FROM events WHERE id BETWEEN ?1 AND ?2", [first, last], |r| r.get::<_, i64>(0))
            .map(|n| n.max(0) as u64)
            .map_err(self.error("count unsent events"))
    }

    /// Delete up to `limit` of the oldest events (only those before `cutoff`, if given, and
    /// only ids below `keep_from`, if given) with their anomalies and vectors in one
    /// transaction; returns (events, anomalies) deleted.
    fn delete_oldest(
        &self,
        cutoff: Option<i64>,
        keep_from: Option<i64>,
        limit: usize,
    ) -> Result<(u64, u64), StoreError> {
        let err = self.error("delete old events");
        let mut writer = self.writer();
        let (next_id, next_anomaly_id) = (writer.next_id, writer.next_anomaly_id);
        let tx = writer.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(&err)?;
        let mut anomalies = 0;
        let oldest: Vec<(i64, String)> = {
            let mut select = tx
                .prepare_cached(
                    "SELECT id, source FROM events WHERE timestamp_ms < ?1 AND id < ?3 \
                     ORDER BY timestamp_ms, id LIMIT ?2",
                )
                .map_err(&err)?;
            let bounds = (cutoff.unwrap_or(i64::MAX), limit as i64, keep_from.unwrap_or(i64::MAX));
            let rows = select.query_map(bounds, |row| Ok((row.get(0)?, row.get(1)?))).map_err(&err)?;
            rows.collect::<Result<_, _>>().map_err(&err)?
        };
        {
            let mut delete_event = tx.prepare_cached("DELETE FROM events WHERE id = ?1").map_err(&err)?;
            let mut delete_anomalies = tx.prepare_cached("DELETE FROM anomalies WHERE event_id = ?1").map_err(&err)?;
            // By the event's id (index `vectors_by_event`): ids are not in time order (a
            // backfill of old files comes after live traffic), so no id bound can stand in.
            let mut delete_vectors = tx.prepare_cached("DELETE FROM vectors WHERE event_id = ?1").map_err(&err)?;
            let mut per_source: Vec<(&str, i64)> = Vec::new();
            for (id, source) in &oldest {
                delete_event.execute([id]).map_err(&err)?;
                anomalies += delete_anomalies.execute([id]).map_err(&err)? as u64;
                delete_vectors.execute([id]).map_err(&err)?;
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
            // The newest events may go too: ids already given must not come back on a reopen.
            tx.prepare_cached(super::write::SET_NEXT_ID).map_err(&err)?.execute([next_id]).map_err(&err)?;
            tx.prepare_cached(super::write::SET_NEXT_ANOMALY_ID)
                .map_err(&err)?
                .execute([next_anomaly_id])
                .map_err(&err)?;
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

/// How many of the oldest events to delete next to free `excess` bytes, when `used` bytes hold
/// `events` events: the excess over the average event's share of the data, at least one, at
/// most `chunk`. The share counts every page (vectors, indexes, and summaries that the size
/// limit does not take), so it is never less than what an event frees on average, and a step
/// stays within what is needed; the sweep measures again and takes another step if not.
fn eviction_step(excess: u64, used: u64, events: u64, chunk: usize) -> usize {
    let share = (used / events.max(1)).max(1);
    usize::try_from(excess.div_ceil(share)).unwrap_or(usize::MAX).clamp(1, chunk)
}
