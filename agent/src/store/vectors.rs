//! The embedded vector index: records with their embeddings in the `vectors` table of
//! `vigil.db`, searched by brute force.
//!
//! One table holds every collection (`collection` column, unique `(collection, id)`), so an
//! upsert is one `INSERT .. ON CONFLICT`. Anomalies are indexed in the commit that writes them
//! (see `outbox.rs`); summaries when their summarizer stores them ([`enqueue_summary`]). Logs
//! are not indexed here: the embedded store answers questions about logs with SQL.
//!
//! Search is an exact scan: every vector of the collection is compared with the query and the
//! `k` nearest are kept in a heap. That is the right tool for our sizes — anomalies and
//! summaries are bounded by retention to tens of thousands of rows, and a scan of 50,000
//! 384-dimension vectors is tens of milliseconds — and it never misses a neighbour. Retention
//! deletes an event's vectors with the event; [`Store::prune_vectors`] sweeps any left over.
//! An index (HNSW) is Chroma's job (`[store] kind = "chroma"`).

use super::StoreKind;
use super::connection::Store;
use super::error::StoreError;
use crate::embed::{Embedder, cosine_distance};
use crate::event::Event;
use crate::vector::{Collection, Filter, Hit, Metadata, Record};
use rusqlite::{Connection, OptionalExtension};
use serde_json::{Value, json};
use std::cmp::Ordering;
use std::collections::BinaryHeap;

const UPSERT_VECTOR: &str = "INSERT INTO vectors (collection, id, document, metadata, embedder, embedding, event_id, \
     quantized) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1) ON CONFLICT(collection, id) DO UPDATE SET \
     document = excluded.document, metadata = excluded.metadata, embedder = excluded.embedder, \
     embedding = excluded.embedding, event_id = excluded.event_id, quantized = 1";

/// A vector as stored: one signed byte per dimension, scaled so that the largest component is
/// ±127. Search only compares directions (cosine distance ignores the scale), and the rounding
/// moves a distance by less than 0.005 (see the tests), while the row shrinks by three bytes per
/// dimension: a 384-dimension anomaly row went from ~2.3 to ~1.2 KiB, and those rows are
/// written with every anomaly, inside the commit (docs/benchmarks.md, ingest).
///
/// Written for speed, with the bytes of `(x / scale * 127.0).round() as i8` (test
/// `quantized_bytes_are_those_of_rounding_each_scaled_component`): the largest magnitude is
/// taken over eight lanes, not one chain of 384 dependent steps, and rounding is done in
/// integers, with no call to `roundf` per component.
fn quantize(vector: &[f32]) -> Vec<u8> {
    // Exact in any order: a maximum rounds nothing.
    let mut lanes = [0f32; 8];
    let mut chunks = vector.chunks_exact(8);
    for chunk in &mut chunks {
        for (lane, x) in lanes.iter_mut().zip(chunk) {
            *lane = lane.max(x.abs());
        }
    }
    let scale = chunks.remainder().iter().chain(&lanes).fold(0f32, |m, x| m.max(x.abs()));
    if !(scale > 0.0 && scale.is_finite()) {
        return vec![0; vector.len()];
    }
    vector.iter().map(|x| round_half_away(x / scale * 127.0) as u8).collect()
}

/// `v.round() as i8` for |v| <= 127: truncate, then step away from zero when the part cut
/// off is at least a half. The part cut off, `v - t`, is exact: t is v's integer part.
#[inline(always)]
fn round_half_away(v: f32) -> i8 {
    let t = v as i32;
    let rest = v - t as f32;
    (t + i32::from(rest >= 0.5) - i32::from(rest <= -0.5)) as i8
}

/// Read a stored vector into `out`: quantized (this version) or little-endian f32 (rows of
/// earlier versions). `false` when the blob does not have `out`'s dimension.
fn dequantize(blob: &[u8], quantized: bool, out: &mut [f32]) -> bool {
    if quantized {
        if blob.len() != out.len() {
            return false;
        }
        for (x, &b) in out.iter_mut().zip(blob) {
            *x = f32::from(b as i8);
        }
    } else {
        if blob.len() != out.len() * 4 {
            return false;
        }
        for (x, bytes) in out.iter_mut().zip(blob.chunks_exact(4)) {
            *x = f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        }
    }
    true
}

/// Write (or replace) one record and its vector in the embedded index, inside the caller's
/// transaction. `event_id` ties the vector to an event so retention can prune it.
pub(crate) fn put_vector(
    conn: &Connection,
    collection: Collection,
    record: &Record,
    embedder: &dyn Embedder,
    embedding: &[f32],
    event_id: Option<i64>,
) -> rusqlite::Result<()> {
    let metadata = serde_json::to_string(&record.metadata).expect("a JSON map always serializes");
    let row =
        VectorRow { id: &record.id, document: &record.document, metadata: &metadata, quantized: &quantize(embedding) };
    put_row(conn, collection, &row, embedder, event_id)
}

/// A vector-index row as written.
struct VectorRow<'a> {
    id: &'a str,
    document: &'a str,
    /// A JSON object.
    metadata: &'a str,
    /// See [`quantize`].
    quantized: &'a [u8],
}

fn put_row(
    conn: &Connection,
    collection: Collection,
    row: &VectorRow<'_>,
    embedder: &dyn Embedder,
    event_id: Option<i64>,
) -> rusqlite::Result<()> {
    conn.prepare_cached(UPSERT_VECTOR)?.execute((
        collection.name(),
        row.id,
        row.document,
        row.metadata,
        embedder.name(),
        row.quantized,
        event_id,
    ))?;
    Ok(())
}

/// Store a summary for search, in the summarizer's own transaction (`conn` is that
/// transaction): its vector goes into the embedded index, and with `kind = chroma` a row goes
/// into the outbox too, so Chroma gets it exactly when the transaction commits. `id` becomes
/// the record id `summary-<id>`; `metadata` should hold `timestamp` (window start, integer
/// seconds) and may hold any flat string, number or boolean fields.
///
/// Vectors come from the default embedder; [`Store::insert_summary`] uses the store's own
/// (`[embedding]`).
pub fn enqueue_summary(
    conn: &Connection,
    kind: StoreKind,
    id: &str,
    text: &str,
    metadata: &Metadata,
) -> rusqlite::Result<()> {
    put_summary(conn, kind, crate::embed::default_embedder().as_ref(), id, text, metadata)
}

/// [`enqueue_summary`] with the vector made by `embedder`.
pub(crate) fn put_summary(
    conn: &Connection,
    kind: StoreKind,
    embedder: &dyn Embedder,
    id: &str,
    text: &str,
    metadata: &Metadata,
) -> rusqlite::Result<()> {
    let record = Record { id: format!("summary-{id}"), document: text.to_owned(), metadata: flatten(metadata) };
    put_vector(conn, Collection::Summaries, &record, embedder, &embedder.embed(text), None)?;
    if kind == StoreKind::Chroma {
        super::outbox::enqueue_record(conn, Collection::Summaries, &record)?;
    }
    Ok(())
}

/// The text and metadata of a stored event, as Chroma's `logs` collection holds it.
pub(crate) fn log_record(id: i64, event: &Event, anomaly_score: Option<f64>, anomalous: bool) -> Record {
    let mut metadata = event_metadata(event);
    if let Some(score) = anomaly_score {
        metadata.insert("anomaly_score".into(), json!(score));
    }
    metadata.insert("anomalous".into(), json!(anomalous));
    metadata.insert("event_id".into(), json!(id));
    Record { id: format!("log-{id}"), document: event_document(event), metadata }
}

/// The text and metadata of one anomaly: the detector's verdict, then the event.
pub(crate) fn anomaly_record(
    anomaly_id: i64,
    event_id: i64,
    event: &Event,
    detector: &str,
    score: f64,
    reason: &str,
) -> Record {
    let (document, metadata) = anomaly_text(event, detector, score, reason);
    with_ids(document, metadata, anomaly_id, event_id)
}

/// An anomaly's record without the ids its commit gives it.
fn anomaly_text(event: &Event, detector: &str, score: f64, reason: &str) -> (String, Metadata) {
    let mut metadata = event_metadata(event);
    metadata.insert("anomaly_score".into(), json!(score));
    metadata.insert("detector".into(), json!(detector));
    let document = format!("anomaly (score {score:.2}, {detector}): {reason} | {}", event_document(event));
    (document, metadata)
}

fn with_ids(document: String, mut metadata: Metadata, anomaly_id: i64, event_id: i64) -> Record {
    metadata.insert("event_id".into(), json!(event_id));
    Record { id: format!("anomaly-{anomaly_id}"), document, metadata }
}

/// An anomaly's entry in the vector index, made before its commit: embedding the text is the
/// costly part (~4 µs with the hashed embedder, test `embedding_speed`), and the pipeline does
/// it while the previous batch commits instead of inside the single writer's transaction
/// (`CommitBatch::anomaly_vectors`).
/// Its metadata is written as JSON and its vector quantized ahead too: the commit only adds
/// the ids, which it alone knows.
#[derive(Debug, Clone, PartialEq)]
pub struct AnomalyVector {
    document: String,
    /// The metadata as a JSON object, without its closing `}`.
    metadata_open: String,
    quantized: Vec<u8>,
}

impl AnomalyVector {
    /// The entry for an anomaly of `event` scored `score` by `detector`, embedded by `embedder`
    /// (which must be the store's: see `Store::embedder`).
    pub fn new(embedder: &dyn Embedder, event: &Event, detector: &str, score: f32, reason: &str) -> Self {
        let (document, metadata) = anomaly_text(event, detector, f64::from(score), reason);
        let mut metadata_open = serde_json::to_string(&metadata).expect("a JSON map always serializes");
        metadata_open.pop();
        AnomalyVector { quantized: quantize(&embedder.embed(&document)), document, metadata_open }
    }

    /// Write it for anomaly `anomaly_id` of event `event_id`, inside the commit's transaction:
    /// the row [`anomaly_record`] would give, with `event_id` last in the metadata object.
    pub(crate) fn put(
        &self,
        conn: &Connection,
        embedder: &dyn Embedder,
        anomaly_id: i64,
        event_id: i64,
    ) -> rusqlite::Result<()> {
        let separator = if self.metadata_open.len() > 1 { "," } else { "" };
        let metadata = format!("{}{separator}\"event_id\":{event_id}}}", self.metadata_open);
        let id = format!("anomaly-{anomaly_id}");
        let row = VectorRow { id: &id, document: &self.document, metadata: &metadata, quantized: &self.quantized };
        put_row(conn, Collection::Anomalies, &row, embedder, Some(event_id))
    }
}

/// The line itself when the source kept it, otherwise the access-log fields as a line.
fn event_document(e: &Event) -> String {
    if !e.raw.trim().is_empty() {
        return e.raw.clone();
    }
    format!("{} {} {} {} bytes from {} \"{}\"", e.method, e.url, e.status_code, e.bytes_sent, e.ip, e.user_agent)
}

/// Metadata every record about an event carries, for filtering.
fn event_metadata(e: &Event) -> Metadata {
    let mut m = Metadata::new();
    m.insert("ip".into(), json!(e.ip));
    m.insert("method".into(), json!(e.method));
    m.insert("status_code".into(), json!(e.status_code));
    m.insert("path".into(), json!(e.url.split(['?', '#']).next().unwrap_or("")));
    m.insert("timestamp".into(), json!(e.timestamp_ms.div_euclid(1000)));
    m.insert("source".into(), json!(e.source));
    m
}

/// A candidate in the top-k heap: the largest distance is on top, to be evicted first.
struct Candidate {
    distance: f32,
    row: i64,
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Candidate {}
impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        self.distance.total_cmp(&other.distance).then(self.row.cmp(&other.row))
    }
}

impl Store {
    /// Write (or replace) one record and its vector in the embedded index.
    pub fn upsert_vector(
        &self,
        collection: Collection,
        record: &Record,
        embedder: &dyn Embedder,
        embedding: &[f32],
    ) -> Result<(), StoreError> {
        let err = self.error("upsert a vector");
        let record = &Record { metadata: flatten(&record.metadata), ..record.clone() };
        let mut guard = self.writer();
        let tx = guard.conn.transaction().map_err(&err)?;
        put_vector(&tx, collection, record, embedder, embedding, None).map_err(&err)?;
        if self.config.kind == StoreKind::Chroma {
            super::outbox::enqueue_record(&tx, collection, record).map_err(&err)?;
        }
        tx.commit().map_err(&err)
    }

    /// The `k` records of `collection` nearest to `embedding` that match `filter`, nearest
    /// first. Only vectors made by `embedder` are compared.
    pub fn nearest_vectors(
        &self,
        collection: Collection,
        embedder: &dyn Embedder,
        embedding: &[f32],
        k: usize,
        filter: &Filter,
    ) -> Result<Vec<Hit>, StoreError> {
        let err = self.error("search the vector index");
        let conn = self.reader()?;
        let mut heap: BinaryHeap<Candidate> = BinaryHeap::with_capacity(k + 1);
        if k == 0 {
            return Ok(Vec::new());
        }
        let mut scan = conn
            .prepare_cached(
                "SELECT seq, embedding, metadata, quantized FROM vectors WHERE collection = ?1 AND embedder = ?2",
            )
            .map_err(&err)?;
        let mut rows = scan.query((collection.name(), embedder.name())).map_err(&err)?;
        let mut vector = vec![0f32; embedding.len()];
        while let Some(row) = rows.next().map_err(&err)? {
            if !filter.all.is_empty() {
                let metadata: Metadata =
                    serde_json::from_str(row.get_ref(2).map_err(&err)?.as_str().unwrap_or("{}")).unwrap_or_default();
                if !filter.matches(&metadata) {
                    continue;
                }
            }
            let blob = row.get_ref(1).map_err(&err)?.as_blob().unwrap_or(&[]);
            let quantized = row.get::<_, bool>(3).map_err(&err)?;
            if !dequantize(blob, quantized, &mut vector) {
                continue;
            }
            let candidate = Candidate { distance: cosine_distance(embedding, &vector), row: row.get(0).map_err(&err)? };
            if heap.len() < k {
                heap.push(candidate);
            } else if heap.peek().is_some_and(|worst| candidate < *worst) {
                heap.pop();
                heap.push(candidate);
            }
        }
        drop(rows);
        let mut fetch =
            conn.prepare_cached("SELECT id, document, metadata FROM vectors WHERE seq = ?1").map_err(&err)?;
        let mut hits = Vec::with_capacity(heap.len());
        for candidate in heap.into_sorted_vec() {
            let found = fetch
                .query_row([candidate.row], |row| {
                    let metadata: String = row.get(2)?;
                    Ok(Hit {
                        id: row.get(0)?,
                        document: row.get(1)?,
                        metadata: serde_json::from_str(&metadata).unwrap_or_default(),
                        distance: candidate.distance,
                    })
                })
                .optional()
                .map_err(&err)?;
            hits.extend(found);
        }
        Ok(hits)
    }

    /// Records in `collection` of the embedded index.
    pub fn vector_count(&self, collection: Collection) -> Result<u64, StoreError> {
        let conn = self.reader()?;
        conn.query_row("SELECT count(*) FROM vectors WHERE collection = ?1", [collection.name()], |r| {
            r.get::<_, i64>(0).map(|n| n as u64)
        })
        .map_err(self.error("count vectors"))
    }

    /// Delete the vectors whose event is gone; returns how many went. Retention deletes an
    /// event's vectors with it; this sweeps those left by earlier versions, which pruned by a
    /// lowest-id bound that ids out of time order (a backfill after live traffic) escaped.
    /// It reads only the index `vectors_by_event` and looks each id up in `events`.
    pub fn prune_vectors(&self) -> Result<usize, StoreError> {
        let guard = self.writer();
        guard
            .conn
            .execute(
                "DELETE FROM vectors WHERE seq IN (SELECT v.seq FROM vectors v INDEXED BY vectors_by_event \
                 WHERE v.event_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM events e WHERE e.id = v.event_id))",
                [],
            )
            .map_err(self.error("prune the vector index"))
    }
}

/// At open, before anything is written: make the embedded index agree with `embedder`, the
/// one `[embedding]` configures. Vectors of another embedder (another dimension, another
/// model) would never be compared with new queries — search would silently forget them — so:
/// - `kind = "embedded"`: they are re-embedded from their stored documents, in one
///   transaction (about 20 µs per record with the hashed embedder); returns how many.
/// - `kind = "chroma"`: refused, because Chroma's collections keep the dimension they were
///   created with and would reject every new vector; the message says what to do.
pub(crate) fn reconcile(
    conn: &mut Connection,
    path: &std::path::Path,
    kind: StoreKind,
    embedder: &dyn Embedder,
) -> Result<usize, StoreError> {
    let err = |e| StoreError::sqlite("check the embedder of the vector index", path, e);
    let mut others = conn
        .prepare(
            "SELECT embedder, count(*), max(length(embedding) / (CASE quantized WHEN 0 THEN 4 ELSE 1 END)) \
             FROM vectors WHERE embedder <> ?1 GROUP BY 1",
        )
        .map_err(err)?;
    let found: Vec<(String, i64, i64)> = others
        .query_map([embedder.name()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .and_then(|rows| rows.collect())
        .map_err(err)?;
    drop(others);
    if found.is_empty() {
        return Ok(0);
    }
    let held: Vec<String> = found
        .iter()
        .map(|(name, n, dims)| format!("{n} vector{} of {name} ({dims} dimensions)", if *n == 1 { "" } else { "s" }))
        .collect();
    let (name, dims) = (embedder.name(), embedder.dimension());
    if kind == StoreKind::Chroma {
        let before = found.iter().map(|(_, _, d)| d.to_string()).collect::<Vec<_>>().join(" or ");
        return Err(StoreError::Unusable {
            path: path.to_path_buf(),
            message: format!(
                "the vector index holds {} but [embedding] now makes {name} ({dims} dimensions), and the Chroma \
                 collections keep the dimension they were created with (hint: set [embedding] dimensions back to \
                 {before}; to change the embedder with Chroma, start with a new data_dir and a new [chroma] \
                 collection_prefix)",
                held.join(", ")
            ),
        });
    }
    let tx = conn.transaction().map_err(err)?;
    let stale: Vec<(i64, String)> = tx
        .prepare("SELECT seq, document FROM vectors WHERE embedder <> ?1")
        .and_then(|mut s| s.query_map([name], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
        .map_err(err)?;
    {
        let mut update = tx
            .prepare("UPDATE vectors SET embedder = ?2, embedding = ?3, quantized = 1 WHERE seq = ?1")
            .map_err(err)?;
        for (seq, document) in &stale {
            update.execute((seq, name, quantize(&embedder.embed(document)))).map_err(err)?;
        }
    }
    tx.commit().map_err(err)?;
    tracing::info!(records = stale.len(), from = %held.join(", "), to = name, "re-embedded the vector index for [embedding]");
    Ok(stale.len())
}

/// Metadata as Chroma accepts it: strings, numbers and booleans are kept, nulls dropped, and
/// arrays and objects kept as their JSON text.
pub(crate) fn flatten(metadata: &Metadata) -> Metadata {
    metadata
        .iter()
        .filter_map(|(key, value)| {
            let flat = match value {
                Value::Null => return None,
                Value::Bool(_) | Value::Number(_) | Value::String(_) => value.clone(),
                other => Value::String(other.to_string()),
            };
            Some((key.clone(), flat))
        })
        .collect()
}

#[cfg(test)]
mod quantize_tests {
    use super::{quantize, round_half_away};
    use crate::embed::{Embedder, HashedNgrams};

    /// The quantization as first written: every stored vector so far has these bytes.
    fn quantize_as_first_written(vector: &[f32]) -> Vec<u8> {
        let scale = vector.iter().fold(0f32, |m, x| m.max(x.abs()));
        if !(scale > 0.0 && scale.is_finite()) {
            return vec![0; vector.len()];
        }
        vector.iter().map(|x| (x / scale * 127.0).round() as i8 as u8).collect()
    }

    #[test]
    fn quantized_bytes_are_those_of_rounding_each_scaled_component() {
        // Every half-way point and its float neighbours, where rounding can go either way.
        for k in -254..=254 {
            let half = k as f32 / 2.0;
            for v in [half, half.next_down(), half.next_up()] {
                if v.abs() <= 127.0 {
                    assert_eq!(round_half_away(v), v.round() as i8, "{v}");
                }
            }
        }
        let e = HashedNgrams::default();
        let mut vectors: Vec<Vec<f32>> = ["", "a", "GET /login 401", "Grüße aus Köln"].map(|t| e.embed(t)).into();
        if let Some(files) = crate::testing::scan_logs() {
            vectors.extend(files.into_iter().flat_map(|(_, lines)| lines).step_by(11).map(|line| e.embed(&line)));
        }
        // Odd lengths, signs, a lone maximum in the remainder, NaN and infinity.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for len in [1, 7, 8, 9, 17, 384, 385] {
            vectors.push(
                (0..len)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
                    })
                    .collect(),
            );
        }
        vectors.push(vec![0.1, -0.2, 0.3, 0.0, 0.0, 0.0, 0.0, 0.0, -0.9]);
        vectors.push(vec![0.5, f32::NAN, -0.25]);
        vectors.push(vec![0.5, f32::INFINITY, -0.25]);
        vectors.push(vec![-0.0; 5]);
        for v in &vectors {
            assert_eq!(quantize(v), quantize_as_first_written(v), "{v:?}");
        }
    }
}
