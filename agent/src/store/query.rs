//! Reading events and anomalies back for `/api/v1/logs`, `/api/v1/anomalies` and
//! `/api/v1/stats`. Results come newest first (by timestamp, then id); a page's last id is
//! the cursor for the next page.
//!
//! How each filter is served: the time range by `events_by_time`; an exact `status` other
//! than 200 by the partial index `events_by_status`, which is ordered by time within a code
//! (200, most of an access log, by the time index); `anomalies_only` by the partial index
//! `events_anomalous_by_time`. `ip`, a status class (`5xx`) and `q` have no index of
//! their own (see `schema.rs` for why): they filter rows while the time index is walked
//! newest-first, which stops after `limit` matches. Queries never write.

use super::connection::Store;
use super::error::StoreError;
use crate::event::Event;
use rusqlite::OptionalExtension;
use rusqlite::types::Value;

/// Rows returned when a query gives no `limit`.
pub const DEFAULT_LIMIT: usize = 100;
/// Most rows one query returns, whatever its `limit`.
pub const MAX_LIMIT: usize = 10_000;

/// Filters for [`Store::logs`] and [`Store::anomalies`]; every filter given must match.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogQuery {
    /// Only events at or after this time (ms since the Unix epoch).
    pub from_ms: Option<i64>,
    /// Only events before this time (exclusive).
    pub to_ms: Option<i64>,
    /// Only events from this client address (exact).
    pub ip: Option<String>,
    /// Only events with this status or status class.
    pub status: Option<StatusFilter>,
    /// Only events whose url, user_agent or raw line contains this text (ASCII letters match
    /// in either case).
    pub q: Option<String>,
    /// Most rows to return: [`DEFAULT_LIMIT`] when `None`, never more than [`MAX_LIMIT`].
    pub limit: Option<usize>,
    /// Only events some detector flagged ([`Store::anomalies`] always implies it).
    pub anomalies_only: bool,
    /// Paging cursor: only rows after this one in the newest-first order. For
    /// [`Store::logs`] an event id, for [`Store::anomalies`] an anomaly id. A cursor whose
    /// row retention has deleted yields an empty page (everything older is gone too).
    pub before_id: Option<i64>,
    /// The other direction: only rows committed after this one (id greater), oldest first:
    /// what a client that missed some (a lagging `/ws` dashboard) fetches. For
    /// [`Store::logs`] an event id, for [`Store::anomalies`] an anomaly id. Not with `before_id`.
    pub after_id: Option<i64>,
}

impl LogQuery {
    /// The row limit actually applied.
    pub fn effective_limit(&self) -> usize {
        self.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT)
    }
}

/// A status filter: one code, or a class such as `5xx`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    /// Exactly this status code.
    Exact(u16),
    /// Every code in `class * 100 ..= class * 100 + 99`; the class is 1 to 5.
    Class(u8),
}

impl std::str::FromStr for StatusFilter {
    type Err = String;

    /// `404` or `4xx` (`4XX` too).
    fn from_str(text: &str) -> Result<Self, String> {
        let bytes = text.as_bytes();
        if bytes.len() == 3 && bytes[1..].eq_ignore_ascii_case(b"xx") && (b'1'..=b'5').contains(&bytes[0]) {
            return Ok(StatusFilter::Class(bytes[0] - b'0'));
        }
        match text.parse::<u16>() {
            Ok(code) if (100..=599).contains(&code) => Ok(StatusFilter::Exact(code)),
            _ => Err(format!("status {text:?} is neither a code from 100 to 599 nor a class 1xx to 5xx")),
        }
    }
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// The id assigned at commit.
    pub id: i64,
    /// The event, fields included.
    pub event: Event,
    /// Its highest detector score, when it was scored.
    pub anomaly_score: Option<f32>,
    /// Whether some detector flagged it.
    pub anomalous: bool,
    /// When it was committed, in ms since the Unix epoch.
    pub ingested_ms: i64,
    /// The text of its template (`event.template_id`), when it has one.
    pub template: Option<String>,
}

/// An anomaly with the event it is about.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAnomaly {
    /// The anomaly's own id (the paging cursor of [`Store::anomalies`]).
    pub id: i64,
    /// The detector that flagged the event.
    pub detector: String,
    /// That detector's score.
    pub score: f32,
    /// That detector's reason.
    pub reason: String,
    /// The event.
    pub event: StoredEvent,
}

/// What the store holds, for `/api/v1/stats`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoreCounts {
    /// Events stored.
    pub events: u64,
    /// Anomalies stored.
    pub anomalies: u64,
    /// Events stored per source, ordered by source.
    pub per_source: Vec<(String, u64)>,
    /// Size of the database and its WAL on disk.
    pub bytes_on_disk: u64,
    /// Bytes of the database in use (what `max_size_mib` limits); the rest is free pages.
    pub bytes_used: u64,
}

const EVENT_COLUMNS: &str = "e.id, e.timestamp_ms, e.ip, e.method, e.url, e.status_code, e.bytes_sent, \
     e.user_agent, e.raw, e.source, e.referer, e.latency_ms, e.fields, e.anomaly_score, e.anomalous, e.ingested_ms, \
     e.template_id, (SELECT t.template FROM templates t WHERE t.id = e.template_id), e.raw_layout";
const EVENT_COLUMN_COUNT: usize = 19;

impl Store {
    /// Stored events matching `query`, newest first.
    pub fn logs(&self, query: &LogQuery) -> Result<Vec<StoredEvent>, StoreError> {
        let err = self.error("query logs");
        let reader = self.reader()?;
        let Some((sql, params)) = logs_statement(&reader, query).map_err(&err)? else { return Ok(Vec::new()) };
        let mut stmt = reader.prepare_cached(&sql).map_err(&err)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(&params), read_event).map_err(&err)?;
        rows.collect::<Result<_, _>>().map_err(&err)
    }

    /// How SQLite runs `logs(query)`: the `detail` column of its `EXPLAIN QUERY PLAN`.
    #[cfg(test)]
    pub(crate) fn logs_plan(&self, query: &LogQuery) -> Vec<String> {
        let reader = self.reader().unwrap();
        let (sql, params) = logs_statement(&reader, query).unwrap().expect("no cursor in the query");
        let mut stmt = reader.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = stmt.query_map(rusqlite::params_from_iter(&params), |row| row.get(3)).unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    }

    /// Stored anomalies whose events match `query`, newest first.
    pub fn anomalies(&self, query: &LogQuery) -> Result<Vec<StoredAnomaly>, StoreError> {
        let err = self.error("query anomalies");
        let reader = self.reader()?;
        let mut filter = Filter::new("a.timestamp_ms", "a.id", query);
        if let Some(id) = query.after_id {
            filter.push("a.id > ?".into(), [Value::Integer(id)]);
        }
        if let Some(id) = query.before_id {
            let at: Option<i64> = reader
                .prepare_cached("SELECT timestamp_ms FROM anomalies WHERE id = ?1")
                .and_then(|mut s| s.query_row([id], |row| row.get(0)).optional())
                .map_err(&err)?;
            let Some(at) = at else { return Ok(Vec::new()) };
            filter.before(at, id);
        }
        // CROSS JOIN keeps anomalies the outer loop: they are few, and walking them newest
        // first stops at `limit`; each event is then one primary-key lookup.
        let order = if query.after_id.is_some() { "a.id" } else { "a.timestamp_ms DESC, a.id DESC" };
        let sql = format!(
            "SELECT {EVENT_COLUMNS}, a.id, a.detector, a.score, a.reason \
             FROM anomalies a CROSS JOIN events e ON e.id = a.event_id {} \
             ORDER BY {order} LIMIT ?",
            filter.where_clause()
        );
        filter.params.push(Value::Integer(query.effective_limit() as i64));
        let mut stmt = reader.prepare_cached(&sql).map_err(&err)?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(&filter.params), |row| {
                let n = EVENT_COLUMN_COUNT;
                Ok(StoredAnomaly {
                    event: read_event(row)?,
                    id: row.get(n)?,
                    detector: row.get(n + 1)?,
                    score: row.get::<_, f64>(n + 2)? as f32,
                    reason: row.get(n + 3)?,
                })
            })
            .map_err(&err)?;
        rows.collect::<Result<_, _>>().map_err(&err)
    }

    /// Counts of what is stored, per source, and the size on disk.
    pub fn counts(&self) -> Result<StoreCounts, StoreError> {
        let err = self.error("count stored events");
        let reader = self.reader()?;
        // One read transaction, so the numbers agree with each other.
        reader.execute_batch("BEGIN").map_err(&err)?;
        let counted = (|| {
            let mut stmt =
                reader.prepare_cached("SELECT source, events FROM source_counts WHERE events > 0 ORDER BY source")?;
            let per_source = stmt
                .query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)? as u64)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let anomalies: i64 = reader.query_row("SELECT count(*) FROM anomalies", [], |row| row.get(0))?;
            let bytes_used = used_bytes(&reader)?;
            Ok::<_, rusqlite::Error>((per_source, anomalies as u64, bytes_used))
        })();
        reader.execute_batch("COMMIT").map_err(&err)?;
        let (per_source, anomalies, bytes_used) = counted.map_err(&err)?;
        let events = per_source.iter().map(|(_, n)| n).sum();
        Ok(StoreCounts { events, anomalies, per_source, bytes_on_disk: self.bytes_on_disk(), bytes_used })
    }

    /// Size of `vigil.db` and its WAL and shared-memory files.
    pub fn bytes_on_disk(&self) -> u64 {
        ["", "-wal", "-shm"]
            .iter()
            .filter_map(|suffix| {
                let mut name = self.path().as_os_str().to_owned();
                name.push(suffix);
                std::fs::metadata(name).ok()
            })
            .map(|meta| meta.len())
            .sum()
    }
}

/// Bytes in pages that hold data: the file's pages less the free list.
pub(crate) fn used_bytes(conn: &rusqlite::Connection) -> rusqlite::Result<u64> {
    let pages: i64 = conn.pragma_query_value(None, "page_count", |row| row.get(0))?;
    let free: i64 = conn.pragma_query_value(None, "freelist_count", |row| row.get(0))?;
    let size: i64 = conn.pragma_query_value(None, "page_size", |row| row.get(0))?;
    Ok(((pages - free).max(0) * size) as u64)
}

/// The SQL and parameters of `Store::logs(query)`; `None` when its `before_id` cursor names
/// no stored event (nothing is older than an unknown row).
fn logs_statement(reader: &rusqlite::Connection, query: &LogQuery) -> rusqlite::Result<Option<(String, Vec<Value>)>> {
    let mut filter = Filter::new("e.timestamp_ms", "e.id", query);
    if query.anomalies_only {
        // Written as the partial index's own condition, so the planner can use it.
        filter.clauses.push("e.anomalous = 1".into());
    }
    if let Some(id) = query.after_id {
        filter.push("e.id > ?".into(), [Value::Integer(id)]);
    }
    if let Some(id) = query.before_id {
        let at: Option<i64> = reader
            .prepare_cached("SELECT timestamp_ms FROM events WHERE id = ?1")
            .and_then(|mut s| s.query_row([id], |row| row.get(0)).optional())?;
        let Some(at) = at else { return Ok(None) };
        filter.before(at, id);
    }
    let order = if query.after_id.is_some() { "e.id" } else { "e.timestamp_ms DESC, e.id DESC" };
    let sql = format!("SELECT {EVENT_COLUMNS} FROM events e {} ORDER BY {order} LIMIT ?", filter.where_clause());
    filter.params.push(Value::Integer(query.effective_limit() as i64));
    Ok(Some((sql, filter.params)))
}

/// A WHERE clause built from a query, with its positional parameters in order.
struct Filter {
    clauses: Vec<String>,
    params: Vec<Value>,
    time_column: &'static str,
    id_column: &'static str,
}

impl Filter {
    fn new(time_column: &'static str, id_column: &'static str, query: &LogQuery) -> Filter {
        let mut filter = Filter { clauses: Vec::new(), params: Vec::new(), time_column, id_column };
        if let Some(from) = query.from_ms {
            filter.push(format!("{time_column} >= ?"), [Value::Integer(from)]);
        }
        if let Some(to) = query.to_ms {
            filter.push(format!("{time_column} < ?"), [Value::Integer(to)]);
        }
        if let Some(ip) = &query.ip {
            filter.push("e.ip = ?".into(), [Value::Text(ip.clone())]);
        }
        match query.status {
            // 200 is not in `events_by_status` (see `schema.rs`): the time index serves it. Any
            // other code names the index's condition, so that the planner may use it.
            Some(StatusFilter::Exact(200)) => filter.push("e.status_code = 200".into(), []),
            Some(StatusFilter::Exact(code)) => filter.push(
                format!("e.status_code = ? AND e.{}", super::schema::STATUS_INDEXED),
                [Value::Integer(code.into())],
            ),
            Some(StatusFilter::Class(class)) => {
                let low = i64::from(class) * 100;
                // The unary `+` keeps the planner off `events_by_status`: a class spans many
                // keys, so that index would need a sort of every match; the time index
                // yields rows already in order and stops at `limit`.
                filter.push("+e.status_code BETWEEN ? AND ?".into(), [Value::Integer(low), Value::Integer(low + 99)]);
            }
            None => {}
        }
        if let Some(q) = query.q.as_deref().filter(|q| !q.is_empty()) {
            // The URL, the user agent or the line as read (a line stored once is written
            // again to be searched), ignoring ASCII case as `LIKE` did.
            filter.push(super::raw_line::Q_MATCH_SQL.into(), [Value::Text(q.to_ascii_lowercase())]);
        }
        filter
    }

    fn push<const N: usize>(&mut self, clause: String, params: [Value; N]) {
        self.clauses.push(clause);
        self.params.extend(params);
    }

    /// Rows strictly after (`at`, `id`) in the newest-first order.
    fn before(&mut self, at: i64, id: i64) {
        let (time, id_column) = (self.time_column, self.id_column);
        self.push(
            format!("{time} <= ? AND ({time} < ? OR {id_column} < ?)"),
            [Value::Integer(at), Value::Integer(at), Value::Integer(id)],
        );
    }

    fn where_clause(&self) -> String {
        if self.clauses.is_empty() { String::new() } else { format!("WHERE {}", self.clauses.join(" AND ")) }
    }
}

fn read_event(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredEvent> {
    let fields = match row.get::<_, Option<String>>(12)? {
        None => serde_json::Map::new(),
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(12, rusqlite::types::Type::Text, Box::new(e)))?,
    };
    let mut stored = StoredEvent {
        id: row.get(0)?,
        event: Event {
            timestamp_ms: row.get(1)?,
            ip: row.get(2)?,
            method: row.get(3)?,
            url: row.get(4)?,
            status_code: row.get(5)?,
            bytes_sent: row.get::<_, i64>(6)?.max(0) as u64,
            user_agent: row.get(7)?,
            raw: row.get(8)?,
            source: row.get(9)?,
            referer: row.get(10)?,
            latency_ms: row.get(11)?,
            fields,
            template_id: row.get(16)?,
        },
        anomaly_score: row.get::<_, Option<f64>>(13)?.map(|s| s as f32),
        anomalous: row.get(14)?,
        ingested_ms: row.get(15)?,
        template: row.get(17)?,
    };
    super::raw_line::read_back(&mut stored.event, row.get(18)?);
    Ok(stored)
}
