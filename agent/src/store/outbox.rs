//! The outbox: what Chroma has yet to receive, kept in `vigil.db` so that a Chroma outage or an
//! agent restart delays writes and loses none.
//!
//! Rows are written in the same transaction as the data they cover — [`record_commit`] inside
//! [`Store::commit`], [`enqueue_record`] inside a summary's or a vector's transaction — so
//! there is never data without its outbox row or the reverse. An events row names a range of
//! event ids (the logs and the anomalies among them): one row per commit, however large the
//! batch. The drain task (`vector::drain`) takes the oldest work with [`Store::outbox_next`],
//! upserts it into Chroma, and only then calls [`Store::outbox_ack`], which deletes the row or
//! moves the range past what was sent. A crash between the upsert and the ack sends the same
//! ids again: upserts by deterministic id make that harmless, so every record lands exactly
//! once by id. Events that retention deleted before they were sent are skipped.
//!
//! With `kind = "embedded"` nothing is written here; anomaly vectors for the embedded index are
//! written by [`record_commit`] in either case.

use super::StoreKind;
use super::connection::Store;
use super::error::StoreError;
use super::vectors::{AnomalyVector, anomaly_record, log_record};
use super::write::CommitBatch;
use crate::embed::Embedder;
use crate::event::Event;
use crate::vector::{Collection, Metadata, Record};
use rusqlite::{Connection, OptionalExtension};

const INSERT_EVENTS: &str = "INSERT INTO outbox (first_id, last_id, created_ms) VALUES (?1, ?2, ?3)";
const INSERT_RECORD: &str =
    "INSERT INTO outbox (collection, item_id, document, metadata, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)";

/// Inside the commit of `batch`, whose events got ids `first..first + len`: index its
/// anomalies in the embedded vector index and, for Chroma, add the outbox row covering them.
pub(super) fn record_commit(
    tx: &Connection,
    kind: StoreKind,
    embedder: &dyn Embedder,
    first: i64,
    batch: &CommitBatch,
    anomaly_ids: &[i64],
) -> rusqlite::Result<()> {
    let count = batch.events.len() as i64;
    if count == 0 {
        return Ok(());
    }
    // Made ahead by the pipeline when it could; otherwise here.
    let prepared = batch.anomaly_vectors.len() == batch.anomalies.len();
    for (n, (anomaly, &anomaly_id)) in batch.anomalies.iter().zip(anomaly_ids).enumerate() {
        let event = &batch.events[anomaly.event_index].event;
        let event_id = first + anomaly.event_index as i64;
        if prepared {
            batch.anomaly_vectors[n].put(tx, embedder, anomaly_id, event_id)?;
        } else {
            AnomalyVector::new(embedder, event, &anomaly.detector, anomaly.score, &anomaly.reason)
                .put(tx, embedder, anomaly_id, event_id)?;
        }
    }
    if kind == StoreKind::Chroma {
        tx.prepare_cached(INSERT_EVENTS)?.execute((first, first + count - 1, super::write::unix_ms()))?;
    }
    Ok(())
}

/// Inside the caller's transaction: queue `record` for Chroma's `collection`.
pub(super) fn enqueue_record(tx: &Connection, collection: Collection, record: &Record) -> rusqlite::Result<()> {
    let metadata = serde_json::to_string(&record.metadata).expect("a JSON map always serializes");
    tx.prepare_cached(INSERT_RECORD)?.execute((
        collection.name(),
        &record.id,
        &record.document,
        metadata,
        super::write::unix_ms(),
    ))?;
    Ok(())
}

/// Work taken from the outbox: records to upsert, and what to acknowledge once Chroma has them.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxWork {
    /// The records, by collection, in outbox order.
    pub records: Vec<(Collection, Record)>,
    /// What [`Store::outbox_ack`] removes.
    pub ack: OutboxAck,
}

/// The part of the outbox a piece of work covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxAck {
    /// Events `first..=upto` of the events row `row` (the whole row when `upto` is its last id).
    Events { row: i64, upto: i64 },
    /// These record rows.
    Records { rows: Vec<i64> },
}

/// What [`Store::chroma_collections_seen`] queued again for collections Chroma made anew.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resent {
    /// The collections whose id changed since the agent last saw them.
    pub collections: Vec<Collection>,
    /// The ids of the stored events queued again (with their anomalies), if any.
    pub events: Option<(i64, i64)>,
    /// Stored summaries queued again.
    pub summaries: u64,
}

/// The `meta` key under which the id of Chroma's `collection` is kept.
fn collection_key(collection: Collection) -> String {
    format!("chroma_collection:{}", collection.name())
}

/// How much the outbox holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct OutboxDepth {
    /// Outbox rows.
    pub rows: u64,
    /// Events (logs) waiting, each with its anomalies.
    pub events: u64,
    /// Single records (summaries) waiting.
    pub records: u64,
    /// Events the size limit (`max_size_mib`) deleted before Chroma received them, since the
    /// database was created: a full disk outranks the Chroma copy, and these never reach it.
    pub evicted_unsent: u64,
}

impl Store {
    /// The oldest outbox work, at most `limit` events or records; `None` when the outbox is empty.
    pub fn outbox_next(&self, limit: usize) -> Result<Option<OutboxWork>, StoreError> {
        let err = self.error("read the outbox");
        let limit = limit.max(1) as i64;
        let conn = self.reader()?;
        loop {
            let head = conn
                .query_row("SELECT seq, collection, first_id, last_id FROM outbox ORDER BY seq LIMIT 1", [], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, Option<String>>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                        r.get::<_, Option<i64>>(3)?,
                    ))
                })
                .optional()
                .map_err(&err)?;
            let Some((row, collection, first, last)) = head else { return Ok(None) };
            if collection.is_some() {
                return self.outbox_records(&conn, row, limit).map(Some);
            }
            let (Some(first), Some(last)) = (first, last) else {
                // Not written by this build; drop it rather than block the outbox forever.
                self.outbox_ack(&OutboxAck::Records { rows: vec![row] })?;
                continue;
            };
            let upto = last.min(first + limit - 1);
            let records = events_records(&conn, first, upto).map_err(&err)?;
            let ack = OutboxAck::Events { row, upto };
            if records.is_empty() {
                // Retention deleted these events before they were sent: nothing to send.
                self.outbox_ack(&ack)?;
                continue;
            }
            return Ok(Some(OutboxWork { records, ack }));
        }
    }

    fn outbox_records(&self, conn: &Connection, from: i64, limit: i64) -> Result<OutboxWork, StoreError> {
        let err = self.error("read the outbox");
        let mut select = conn
            .prepare_cached(
                "SELECT seq, collection, item_id, document, metadata FROM outbox \
                 WHERE seq >= ?1 ORDER BY seq LIMIT ?2",
            )
            .map_err(&err)?;
        let mut rows = select.query((from, limit)).map_err(&err)?;
        let (mut records, mut seqs) = (Vec::new(), Vec::new());
        while let Some(r) = rows.next().map_err(&err)? {
            let Some(collection) = r.get::<_, Option<String>>(1).map_err(&err)? else { break };
            seqs.push(r.get::<_, i64>(0).map_err(&err)?);
            let Some(collection) = Collection::from_name(&collection) else { continue };
            let metadata: String = r.get(4).map_err(&err)?;
            records.push((
                collection,
                Record {
                    id: r.get(2).map_err(&err)?,
                    document: r.get(3).map_err(&err)?,
                    metadata: serde_json::from_str::<Metadata>(&metadata).unwrap_or_default(),
                },
            ));
        }
        Ok(OutboxWork { records, ack: OutboxAck::Records { rows: seqs } })
    }

    /// Remove what `ack` covers: Chroma has accepted it.
    pub fn outbox_ack(&self, ack: &OutboxAck) -> Result<(), StoreError> {
        let err = self.error("acknowledge outbox work");
        let mut guard = self.writer();
        let tx = guard.conn.transaction().map_err(&err)?;
        match ack {
            OutboxAck::Events { row, upto } => {
                tx.execute("DELETE FROM outbox WHERE seq = ?1 AND last_id <= ?2", (row, upto)).map_err(&err)?;
                tx.execute("UPDATE outbox SET first_id = ?2 + 1 WHERE seq = ?1", (row, upto)).map_err(&err)?;
            }
            OutboxAck::Records { rows } => {
                let mut delete = tx.prepare_cached("DELETE FROM outbox WHERE seq = ?1").map_err(&err)?;
                for row in rows {
                    delete.execute([row]).map_err(&err)?;
                }
            }
        }
        tx.commit().map_err(&err)
    }

    /// Note the ids Chroma gave its collections on a new connection, and queue again everything
    /// the store holds for each collection whose id changed since the last one: Chroma made it
    /// anew (it was deleted, or Chroma's data was lost or replaced), so it lacks what was sent
    /// before. Events are queued as one range from the oldest stored to the newest, which sends
    /// their logs and anomalies again (upserts by id, so records Chroma still has are only
    /// rewritten); summaries from the local index, which holds each one's record. A collection
    /// seen for the first time is only noted.
    pub fn chroma_collections_seen(&self, ids: &[(Collection, String)]) -> Result<Resent, StoreError> {
        let err = self.error("compare Chroma's collections with those seen before");
        let mut guard = self.writer();
        let tx = guard.conn.transaction().map_err(&err)?;
        let mut resent = Resent::default();
        for (collection, id) in ids {
            let key = collection_key(*collection);
            let seen: Option<String> =
                tx.query_row("SELECT value FROM meta WHERE key = ?1", [&key], |r| r.get(0)).optional().map_err(&err)?;
            match seen {
                Some(seen) if seen == *id => continue,
                Some(_) => resent.collections.push(*collection),
                None => {}
            }
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (&key, id),
            )
            .map_err(&err)?;
        }
        let now = super::write::unix_ms();
        if resent.collections.iter().any(|c| matches!(c, Collection::Logs | Collection::Anomalies)) {
            resent.events = tx
                .query_row("SELECT min(id), max(id) FROM events", [], |r| {
                    Ok(r.get::<_, Option<i64>>(0)?.zip(r.get::<_, Option<i64>>(1)?))
                })
                .map_err(&err)?;
            if let Some((first, last)) = resent.events {
                tx.prepare_cached(INSERT_EVENTS).map_err(&err)?.execute((first, last, now)).map_err(&err)?;
            }
        }
        if resent.collections.contains(&Collection::Summaries) {
            let summaries = Collection::Summaries.name();
            resent.summaries = tx
                .execute(
                    "INSERT INTO outbox (collection, item_id, document, metadata, created_ms) \
                     SELECT collection, id, document, metadata, ?1 FROM vectors WHERE collection = ?2 ORDER BY seq",
                    (now, summaries),
                )
                .map_err(&err)? as u64;
        }
        tx.commit().map_err(&err)?;
        Ok(resent)
    }

    /// What the outbox holds.
    pub fn outbox_depth(&self) -> Result<OutboxDepth, StoreError> {
        let conn = self.reader()?;
        conn.query_row(
            "SELECT count(*), coalesce(sum(last_id - first_id + 1), 0), count(collection), \
             coalesce((SELECT value FROM meta WHERE key = 'evicted_unsent'), 0) FROM outbox",
            [],
            |r| {
                let n = |i| r.get::<_, i64>(i).map(|v| v.max(0) as u64);
                Ok(OutboxDepth { rows: n(0)?, events: n(1)?, records: n(2)?, evicted_unsent: n(3)? })
            },
        )
        .map_err(self.error("measure the outbox"))
    }
}

/// The log records of events `first..=upto` and the anomaly records among them.
fn events_records(conn: &Connection, first: i64, upto: i64) -> rusqlite::Result<Vec<(Collection, Record)>> {
    let mut select = conn.prepare_cached(
        "SELECT id, timestamp_ms, ip, method, url, status_code, bytes_sent, user_agent, raw, source, \
         anomaly_score, anomalous, referer, latency_ms, raw_layout FROM events WHERE id BETWEEN ?1 AND ?2 ORDER BY id",
    )?;
    let mut events: Vec<(i64, Event)> = Vec::new();
    let mut records = Vec::new();
    let mut rows = select.query((first, upto))?;
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        let mut event = Event {
            timestamp_ms: r.get(1)?,
            ip: r.get(2)?,
            method: r.get(3)?,
            url: r.get(4)?,
            status_code: r.get(5)?,
            bytes_sent: r.get::<_, i64>(6)?.max(0) as u64,
            user_agent: r.get(7)?,
            raw: r.get(8)?,
            source: r.get(9)?,
            referer: r.get(12)?,
            latency_ms: r.get(13)?,
            ..Event::default()
        };
        super::raw_line::read_back(&mut event, r.get(14)?);
        records.push((Collection::Logs, log_record(id, &event, r.get(10)?, r.get(11)?)));
        events.push((id, event));
    }
    drop(rows);
    let mut select = conn.prepare_cached(
        "SELECT id, event_id, detector, score, reason FROM anomalies WHERE event_id BETWEEN ?1 AND ?2 ORDER BY id",
    )?;
    let mut rows = select.query((first, upto))?;
    while let Some(r) = rows.next()? {
        let event_id: i64 = r.get(1)?;
        let Ok(at) = events.binary_search_by_key(&event_id, |(id, _)| *id) else { continue };
        let detector: String = r.get(2)?;
        let reason: String = r.get(4)?;
        let record = anomaly_record(r.get(0)?, event_id, &events[at].1, &detector, r.get(3)?, &reason);
        records.push((Collection::Anomalies, record));
    }
    Ok(records)
}
