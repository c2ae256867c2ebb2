//! The commit: one transaction per batch that inserts the batch's events with their scores,
//! the anomalies among them and the checkpoints that cover them. This is the exactly-once
//! boundary: the events and the source offset after them land together or not at all.

use super::checkpoint::Checkpoint;
use super::connection::{Store, Writer};
use super::error::StoreError;
use super::raw_line::{Layout, LineFields, LineLayouts};
use super::vectors::AnomalyVector;
use crate::event::Event;
use rusqlite::{CachedStatement, TransactionBehavior};
use std::ops::RangeInclusive;

/// One event with the score the detectors gave it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScoredEvent {
    /// The event.
    pub event: Event,
    /// Highest detector score in [0, 1]; `None` when the event was not scored.
    pub anomaly_score: Option<f32>,
}

/// An anomaly found among a batch's events.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAnomaly {
    /// Index of the anomalous event in [`CommitBatch::events`].
    pub event_index: usize,
    /// Name of the detector that flagged it.
    pub detector: String,
    /// That detector's score, in [0, 1].
    pub score: f32,
    /// That detector's reason.
    pub reason: String,
}

/// What one commit writes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CommitBatch {
    /// The events, in order; they get consecutive ids in this order.
    pub events: Vec<ScoredEvent>,
    /// The anomalies among `events`.
    pub anomalies: Vec<NewAnomaly>,
    /// Source read positions that cover `events` (for a file: the offset after its last line).
    pub checkpoints: Vec<Checkpoint>,
    /// The anomalies' entries in the vector index, one per anomaly in order, made ahead of
    /// the commit by [`AnomalyVector::new`] with the store's embedder; empty, the commit
    /// makes them (any other length is ignored the same way).
    pub anomaly_vectors: Vec<AnomalyVector>,
    /// How each event's line is stored, made ahead of the commit by [`LineLayouts::of`] over
    /// `events`; empty, the commit works them out (any other length is ignored the same way).
    pub line_layouts: LineLayouts,
}

/// What a commit wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// The ids given to the batch's events, `first..=last`; `None` for a batch without events.
    pub ids: Option<RangeInclusive<i64>>,
    /// Anomalies written.
    pub anomalies: usize,
    /// The id the batch's first anomaly got (the next one's, for a batch without): anomalies
    /// get consecutive ids in batch order, increasing from commit to commit.
    pub first_anomaly_id: i64,
    /// Checkpoints written.
    pub checkpoints: usize,
}

/// The columns an event row is inserted with, in the order [`EventRows::bind`] binds them.
const EVENT_COLUMNS: &str = "id, timestamp_ms, ip, method, url, status_code, bytes_sent, user_agent, raw, source, \
     referer, latency_ms, fields, anomaly_score, anomalous, ingested_ms, template_id, raw_layout";
/// Parameters per event row.
const EVENT_PARAMS: usize = 18;
/// Event rows per INSERT statement. Each run of a statement opens a cursor on the table and
/// on each of its indexes, and closes and resets them at the end; 32 rows share that work
/// (`sqlite3_step` went from 52% to 48% of a `store_insert` run). The batch's remainder goes
/// one row at a time.
const ROWS_PER_INSERT: usize = 32;

/// `INSERT INTO events (...) VALUES (?1, ..., ?18), (?19, ...), ...` for `rows` rows.
fn insert_events_sql(rows: usize) -> String {
    use std::fmt::Write;
    let mut sql = format!("INSERT INTO events ({EVENT_COLUMNS}) VALUES ");
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..EVENT_PARAMS {
            let separator = if column == 0 { "" } else { ", " };
            write!(sql, "{separator}?{}", row * EVENT_PARAMS + column + 1).expect("writing to a String");
        }
        sql.push(')');
    }
    sql
}

static INSERT_EVENT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| insert_events_sql(1));
static INSERT_EVENTS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| insert_events_sql(ROWS_PER_INSERT));
const INSERT_ANOMALY: &str =
    "INSERT INTO anomalies (id, event_id, detector, score, reason, timestamp_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
const UPSERT_CHECKPOINT: &str = "INSERT INTO checkpoints (key, fingerprint, byte_offset, updated_ms, tail) \
     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(key) DO UPDATE SET fingerprint = excluded.fingerprint, \
     byte_offset = excluded.byte_offset, updated_ms = excluded.updated_ms, tail = excluded.tail";
const ADD_SOURCE_COUNT: &str = "INSERT INTO source_counts (source, events) VALUES (?1, ?2) \
     ON CONFLICT(source) DO UPDATE SET events = events + excluded.events";
/// The next event id is `max(id) + 1` of what is stored (see `connection::next_event_id`);
/// only retention, which may delete the newest events, records it (a page write per commit
/// saved: one in five of a one-event commit's pages).
pub(super) const SET_NEXT_ID: &str = "UPDATE meta SET value = ?1 WHERE key = 'next_event_id'";
/// The same for anomalies, whose ids the writer assigns too (SQLite's own would be `max(id) +
/// 1` at each insert, reusing those of the newest anomalies once retention deleted them).
pub(super) const SET_NEXT_ANOMALY_ID: &str = "INSERT INTO meta (key, value) VALUES ('next_anomaly_id', ?1) \
     ON CONFLICT(key) DO UPDATE SET value = excluded.value";

impl Store {
    /// Write `batch` in one transaction and return the ids its events got. On error nothing
    /// of the batch is written and no id is used up.
    pub fn commit(&self, batch: &CommitBatch) -> Result<Committed, StoreError> {
        self.commit_with_templates(batch, &[])
    }

    /// [`Store::commit`], also upserting the templates the batch's lines were mined into, in
    /// the same transaction.
    pub fn commit_with_templates(
        &self,
        batch: &CommitBatch,
        templates: &[super::templates::TemplateUpdate],
    ) -> Result<Committed, StoreError> {
        self.commit_with_writer(&mut self.writer(), batch, templates)
    }

    /// [`Store::commit_with_templates`] with the writer its caller holds (see
    /// [`Store::try_writer`]).
    pub(crate) fn commit_with_writer(
        &self,
        writer: &mut Writer,
        batch: &CommitBatch,
        templates: &[super::templates::TemplateUpdate],
    ) -> Result<Committed, StoreError> {
        let count = batch.events.len();
        let mut anomalous = vec![false; count];
        for (n, anomaly) in batch.anomalies.iter().enumerate() {
            match anomalous.get_mut(anomaly.event_index) {
                Some(flag) => *flag = true,
                None => {
                    return Err(StoreError::InvalidBatch(format!(
                        "anomalies[{n}] names event {} but the batch has {count} events",
                        anomaly.event_index
                    )));
                }
            }
        }
        if count == 0 && batch.checkpoints.is_empty() {
            return Ok(Committed { ids: None, anomalies: 0, checkpoints: 0, first_anomaly_id: writer.next_anomaly_id });
        }
        let per_source = count_per_source(&batch.events);
        let now = unix_ms();
        let err = self.error("commit a batch");

        let first = writer.next_id;
        let next = first + count as i64;
        let first_anomaly = writer.next_anomaly_id;
        let tx = writer.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(&err)?;
        {
            let mut many = tx.prepare_cached(&INSERT_EVENTS).map_err(&err)?;
            let mut one = tx.prepare_cached(&INSERT_EVENT).map_err(&err)?;
            let mut rows =
                EventRows { batch, first, anomalous: &anomalous, now, err: &err, scratch: Default::default() };
            let whole = count - count % ROWS_PER_INSERT;
            for start in (0..whole).step_by(ROWS_PER_INSERT) {
                for i in start..start + ROWS_PER_INSERT {
                    rows.bind(&mut many, (i - start) * EVENT_PARAMS, i)?;
                }
                many.raw_execute().map_err(&err)?;
            }
            for i in whole..count {
                rows.bind(&mut one, 0, i)?;
                one.raw_execute().map_err(&err)?;
            }
            let mut insert = tx.prepare_cached(INSERT_ANOMALY).map_err(&err)?;
            let mut anomaly_ids = Vec::with_capacity(batch.anomalies.len());
            for (anomaly, anomaly_id) in batch.anomalies.iter().zip(first_anomaly..) {
                let event = &batch.events[anomaly.event_index].event;
                let id = first + anomaly.event_index as i64;
                let params =
                    (anomaly_id, id, &anomaly.detector, f64::from(anomaly.score), &anomaly.reason, event.timestamp_ms);
                insert.execute(params).map_err(&err)?;
                anomaly_ids.push(anomaly_id);
            }
            let mut upsert = tx.prepare_cached(UPSERT_CHECKPOINT).map_err(&err)?;
            for checkpoint in &batch.checkpoints {
                // An offset past i64::MAX turns negative and is refused by the table's CHECK.
                let tail = (!checkpoint.tail.is_empty()).then_some(&checkpoint.tail);
                let params = (&checkpoint.key, &checkpoint.fingerprint, checkpoint.offset as i64, now, tail);
                upsert.execute(params).map_err(&err)?;
            }
            let mut add = tx.prepare_cached(ADD_SOURCE_COUNT).map_err(&err)?;
            for (source, events) in &per_source {
                add.execute((source, *events as i64)).map_err(&err)?;
            }
            super::templates::upsert(&tx, templates).map_err(&err)?;
            // Anomaly vectors and the Chroma outbox row commit with the events they cover.
            super::outbox::record_commit(&tx, self.config.kind, self.embedder.as_ref(), first, batch, &anomaly_ids)
                .map_err(&err)?;
        }
        tx.commit().map_err(&err)?;
        writer.next_id = next;
        writer.next_anomaly_id = first_anomaly + batch.anomalies.len() as i64;
        self.wal.restart_if_due(&writer.conn);
        Ok(Committed {
            ids: (count > 0).then(|| first..=next - 1),
            anomalies: batch.anomalies.len(),
            checkpoints: batch.checkpoints.len(),
            first_anomaly_id: first_anomaly,
        })
    }
}

/// What binding a batch's events needs besides the statement.
struct EventRows<'a, E> {
    batch: &'a CommitBatch,
    /// The id of the batch's first event.
    first: i64,
    /// Whether each event has an anomaly.
    anomalous: &'a [bool],
    /// The commit's time.
    now: i64,
    err: &'a E,
    /// Buffers reused from row to row.
    scratch: (Vec<u8>, String),
}

impl<E: Fn(rusqlite::Error) -> StoreError> EventRows<'_, E> {
    /// Bind event `index` to the statement's parameters `params + 1 ..= params + 18`.
    fn bind(&mut self, insert: &mut CachedStatement<'_>, params: usize, index: usize) -> Result<(), StoreError> {
        let EventRows { batch, first, anomalous, now, err, scratch: (fields_json, line) } = self;
        let err = *err;
        let scored = &batch.events[index];
        let e = &scored.event;
        let fields = if e.fields.is_empty() {
            None
        } else {
            fields_json.clear();
            serde_json::to_writer(&mut *fields_json, &e.fields).map_err(|json| {
                StoreError::InvalidBatch(format!("events[{index}].fields cannot be written as JSON: {json}"))
            })?;
            Some(std::str::from_utf8(fields_json).expect("serde_json writes UTF-8"))
        };
        // An access-log line its columns write again is stored once (`raw_line`).
        let columns = LineFields::of(e);
        let layout = batch.line_layouts.layout((index, batch.events.len()), &columns, &e.raw, line);
        let raw = if layout.is_some() { "" } else { e.raw.as_str() };
        // Bound one by one: no parameter slice to build, no count check per row. rusqlite
        // copies text as it binds it, so the scratch buffers serve the next row at once.
        insert.raw_bind_parameter(params + 1, *first + index as i64).map_err(err)?;
        insert.raw_bind_parameter(params + 2, e.timestamp_ms).map_err(err)?;
        insert.raw_bind_parameter(params + 3, e.ip.as_str()).map_err(err)?;
        insert.raw_bind_parameter(params + 4, e.method.as_str()).map_err(err)?;
        insert.raw_bind_parameter(params + 5, e.url.as_str()).map_err(err)?;
        insert.raw_bind_parameter(params + 6, e.status_code).map_err(err)?;
        insert.raw_bind_parameter(params + 7, columns.bytes_sent).map_err(err)?;
        insert.raw_bind_parameter(params + 8, e.user_agent.as_str()).map_err(err)?;
        insert.raw_bind_parameter(params + 9, raw).map_err(err)?;
        insert.raw_bind_parameter(params + 10, e.source.as_str()).map_err(err)?;
        insert.raw_bind_parameter(params + 11, e.referer.as_deref()).map_err(err)?;
        insert.raw_bind_parameter(params + 12, e.latency_ms).map_err(err)?;
        insert.raw_bind_parameter(params + 13, fields).map_err(err)?;
        insert.raw_bind_parameter(params + 14, scored.anomaly_score.map(f64::from)).map_err(err)?;
        insert.raw_bind_parameter(params + 15, anomalous[index]).map_err(err)?;
        insert.raw_bind_parameter(params + 16, *now).map_err(err)?;
        insert.raw_bind_parameter(params + 17, e.template_id).map_err(err)?;
        insert.raw_bind_parameter(params + 18, layout.map(Layout::code)).map_err(err)?;
        Ok(())
    }
}

/// Events per source in the batch. A batch usually comes from one or a few sources, so a
/// short list beats a hash map.
fn count_per_source(events: &[ScoredEvent]) -> Vec<(&str, u64)> {
    let mut counts: Vec<(&str, u64)> = Vec::new();
    for scored in events {
        let source = scored.event.source.as_str();
        match counts.iter_mut().find(|(s, _)| *s == source) {
            Some((_, n)) => *n += 1,
            None => counts.push((source, 1)),
        }
    }
    counts
}

/// Milliseconds since the Unix epoch.
pub(crate) fn unix_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
