//! The SQL behind the answers: counts, shares, top-N, breakdowns, distinct values, bytes,
//! latency percentiles, the busiest bucket and anomalies, over the store's read connections.
//! Every number an answer states comes from one of these queries; nothing here writes.
//!
//! A question's window uses `events_by_time` (or `anomalies_by_time`); its other filters are
//! checked on the rows of that window, as `store::query` does.

use super::intent::{Dimension, Filters};
use super::timerange::TimeRange;
use crate::store::{Store, StoreError};
use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};

/// The events (or anomalies) a question is about.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// The window.
    pub range: &'a TimeRange,
    /// The other filters.
    pub filters: &'a Filters,
}

/// One anomaly with its event, as an answer cites it.
#[derive(Debug, Clone, PartialEq)]
pub struct AnomalyRow {
    /// Anomaly id.
    pub id: i64,
    /// Event id.
    pub event_id: i64,
    /// Event time, ms since the Unix epoch.
    pub timestamp_ms: i64,
    /// Client address.
    pub ip: String,
    /// HTTP method.
    pub method: String,
    /// URL.
    pub url: String,
    /// Status.
    pub status_code: u16,
    /// Detector score.
    pub score: f64,
    /// Detector reason.
    pub reason: String,
    /// Detector name.
    pub detector: String,
    /// The line as read, for events that are not HTTP requests (empty for requests, whose
    /// line the store may keep as its columns only).
    pub line: String,
}

impl AnomalyRow {
    /// What happened, in a few words: `10.0.0.1 GET /login → 500` for a request, the line
    /// itself (its first 160 characters) for anything else.
    pub fn what(&self) -> String {
        if !self.method.is_empty() || self.status_code != 0 || self.line.is_empty() {
            return format!("{} {} {} → {}", self.ip, self.method, self.url, self.status_code);
        }
        let line = self.line.trim_end();
        match line.char_indices().nth(160) {
            Some((cut, _)) => format!("{}…", &line[..cut]),
            None => line.to_owned(),
        }
    }
}

/// A stored summary as answers cite it.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    /// Its id (the one `GET /api/v1/summaries` shows).
    pub id: i64,
    /// Its window, `[start, end)`: when the batches it folds were committed, not their log times.
    pub window_start_ms: i64,
    pub window_end_ms: i64,
    /// The earliest and latest log time it folds (its window's ends for a summary stored
    /// without them; the agent stores none without events).
    pub first_event_ms: i64,
    pub last_event_ms: i64,
    /// The summarizer's text.
    pub text: String,
}

/// Latency figures over the events that carry one.
#[derive(Debug, Clone, PartialEq)]
pub struct Latency {
    /// Events with a latency.
    pub measured: u64,
    /// Mean, ms.
    pub mean_ms: f64,
    /// Median (nearest rank), ms.
    pub p50_ms: f64,
    /// 95th percentile (nearest rank), ms.
    pub p95_ms: f64,
    /// Largest, ms.
    pub max_ms: f64,
}

/// Byte figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Bytes {
    /// Sum of `bytes_sent`.
    pub total: u64,
    /// Mean per event.
    pub mean: f64,
    /// Largest response.
    pub max: u64,
}

/// The path of a URL: what comes before `?`.
const PATH: &str = "CASE WHEN instr(e.url, '?') > 0 THEN substr(e.url, 1, instr(e.url, '?') - 1) ELSE e.url END";

fn column(dim: Dimension) -> &'static str {
    match dim {
        Dimension::Ip => "e.ip",
        Dimension::Url => PATH,
        Dimension::Status => "CAST(e.status_code AS TEXT)",
        Dimension::StatusClass => "(e.status_code / 100) || 'xx'",
        Dimension::Method => "e.method",
        Dimension::UserAgent => "e.user_agent",
        Dimension::Program => "coalesce(json_extract(e.fields, '$.app'), '')",
        Dimension::Host => "coalesce(json_extract(e.fields, '$.host'), '')",
    }
}

/// The events that have a value of `dim`: system log lines have no IP, URL, method, user
/// agent or status (status 0), and ranking or counting them under an empty value answered
/// "the IP with the most requests is , with 2000 requests".
fn has_value(dim: Dimension) -> String {
    match dim {
        // `+` keeps the planner on the time index (see store::query).
        Dimension::Status | Dimension::StatusClass => "+e.status_code != 0".to_owned(),
        _ => format!("{} != ''", column(dim)),
    }
}

/// [`filter`], keeping only events with a value of `dim` ([`has_value`]).
fn filter_valued(scope: Scope<'_>, time: &str, dim: Dimension) -> (String, Vec<Value>) {
    let (clause, params) = filter(scope, time);
    let clause = match clause.is_empty() {
        true => format!("WHERE {}", has_value(dim)),
        false => format!("{clause} AND {}", has_value(dim)),
    };
    (clause, params)
}

/// A WHERE clause over `events e` and its parameters. `time` is the column the window
/// applies to: `e.timestamp_ms`, or `a.timestamp_ms` when anomalies are the outer table.
fn filter(scope: Scope<'_>, time: &str) -> (String, Vec<Value>) {
    let mut clauses: Vec<String> = Vec::new();
    let mut params = Vec::new();
    if let Some(from) = scope.range.from_ms() {
        clauses.push(format!("{time} >= ?"));
        params.push(Value::Integer(from));
    }
    if let Some(to) = scope.range.to_ms() {
        clauses.push(format!("{time} < ?"));
        params.push(Value::Integer(to));
    }
    let f = scope.filters;
    if let Some(ip) = &f.ip {
        clauses.push("e.ip = ?".into());
        params.push(Value::Text(ip.clone()));
    }
    if let Some(url) = &f.url {
        // The path itself, with any query string, and its sub-paths. Compared by `substr`, not
        // LIKE: LIKE ignores ASCII case, and paths are case-sensitive (/DVWA is not /dvwa).
        let base = url.trim_end_matches('/');
        clauses.push("(e.url = ? OR substr(e.url, 1, ?) IN (?, ?))".into());
        params.push(Value::Text(url.clone()));
        params.push(Value::Integer(base.chars().count() as i64 + 1));
        params.push(Value::Text(format!("{base}?")));
        params.push(Value::Text(format!("{base}/")));
    }
    if let Some(status) = f.status {
        // `+` keeps the planner on the time index (see store::query).
        let any = vec!["+e.status_code BETWEEN ? AND ?"; 1 + f.status_or.len()];
        clauses.push(format!("({})", any.join(" OR ")));
        for status in std::iter::once(status).chain(f.status_or.iter().copied()) {
            let (low, high) = status.bounds();
            params.push(Value::Integer(low.into()));
            params.push(Value::Integer(high.into()));
        }
    }
    if !f.not_status.is_empty() {
        // Events without a status (system log lines, 0) have no status "other than 200".
        clauses.push("+e.status_code != 0".into());
        for status in &f.not_status {
            let (low, high) = status.bounds();
            clauses.push("+e.status_code NOT BETWEEN ? AND ?".into());
            params.push(Value::Integer(low.into()));
            params.push(Value::Integer(high.into()));
        }
    }
    if let Some(method) = &f.method {
        clauses.push("e.method = ?".into());
        params.push(Value::Text(method.clone()));
    }
    if let Some(program) = &f.program {
        clauses.push(format!("lower({}) = ?", column(Dimension::Program)));
        params.push(Value::Text(program.clone()));
    }
    if let Some(host) = &f.host {
        clauses.push(format!("lower({}) = ?", column(Dimension::Host)));
        params.push(Value::Text(host.clone()));
    }
    if let Some(text) = &f.text {
        // After the indexed conditions: the search reads each row's line.
        clauses.push(crate::store::Q_MATCH_SQL.into());
        params.push(Value::Text(text.clone()));
    }
    if let Some(attack) = f.attack {
        // Last: the signatures run only on rows the cheaper conditions kept.
        clauses.push("vigil_attack(?, e.url, e.user_agent, e.referer)".into());
        params.push(Value::Integer(attack.code()));
    }
    let clause = if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
    (clause, params)
}

mod times;
pub use times::{Peak, Span};

/// Read-only queries for one question, on one read connection and in one read transaction,
/// so the numbers of one answer agree with each other.
pub struct Queries<'s> {
    store: &'s Store,
    conn: &'s Connection,
}

impl<'s> Queries<'s> {
    /// Run `work` with queries on a read connection of `store`, inside one read transaction.
    pub fn with<T>(store: &Store, work: impl FnOnce(&Queries<'_>) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let reader = store.reader()?;
        let err = store.error("begin a chat read");
        reader.execute_batch("BEGIN").map_err(&err)?;
        let result = work(&Queries { store, conn: &reader });
        reader.execute_batch("COMMIT").map_err(&err)?;
        result
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        self.store.error("answer a chat question")
    }

    fn one<T: rusqlite::types::FromSql>(&self, sql: &str, params: &[Value]) -> Result<T, StoreError> {
        self.conn.query_row(sql, params_from_iter(params), |row| row.get(0)).map_err(self.err())
    }

    /// Events in scope.
    pub fn count(&self, scope: Scope<'_>) -> Result<u64, StoreError> {
        let (clause, params) = filter(scope, "e.timestamp_ms");
        let n: i64 = self.one(&format!("SELECT count(*) FROM events e {clause}"), &params)?;
        Ok(n as u64)
    }

    /// HTTP requests in scope: events with a status or a method (system log lines have
    /// neither).
    pub fn requests(&self, scope: Scope<'_>) -> Result<u64, StoreError> {
        self.requests_where(scope, "TRUE")
    }

    /// HTTP requests in scope without a value of `dim` (`GET  HTTP/1.1` has no URL): what a
    /// breakdown or a count of distinct values, which only count values, leaves out.
    pub fn requests_without(&self, scope: Scope<'_>, dim: Dimension) -> Result<u64, StoreError> {
        self.requests_where(scope, &format!("NOT ({})", has_value(dim)))
    }

    fn requests_where(&self, scope: Scope<'_>, condition: &str) -> Result<u64, StoreError> {
        let (clause, params) = filter(scope, "e.timestamp_ms");
        let only = format!("(+e.status_code != 0 OR e.method != '') AND {condition}");
        let clause = if clause.is_empty() { format!("WHERE {only}") } else { format!("{clause} AND {only}") };
        let n: i64 = self.one(&format!("SELECT count(*) FROM events e {clause}"), &params)?;
        Ok(n as u64)
    }

    /// Whether any stored event was written by the program (`Dimension::Program`) or host
    /// (`Dimension::Host`) `name`, ignoring case.
    pub fn names(&self, dim: Dimension, name: &str) -> Result<bool, StoreError> {
        let sql = format!("SELECT EXISTS (SELECT 1 FROM events e WHERE lower({}) = ?)", column(dim));
        self.one(&sql, &[Value::Text(name.to_lowercase())])
    }

    /// Events in scope by the attack kinds they look like, as `(kinds as AttackKind bits, events)`
    /// (bits 0: none); one scan for every kind.
    pub fn attack_kinds(&self, scope: Scope<'_>) -> Result<Vec<(u8, u64)>, StoreError> {
        let (clause, params) = filter(scope, "e.timestamp_ms");
        let sql = format!(
            "SELECT vigil_attack_kinds(e.url, e.user_agent, e.referer) AS k, count(*) FROM events e {clause} GROUP BY k"
        );
        let mut stmt = self.conn.prepare(&sql).map_err(self.err())?;
        let rows = stmt
            .query_map(params_from_iter(params), |row| Ok((row.get::<_, u8>(0)?, row.get::<_, i64>(1)? as u64)))
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// Whether the newest `sample` events in scope hold a log message (an event that is not an
    /// HTTP request: no status and no method, as system log lines and raw lines have); `None`
    /// when the scope holds no event. Read on the newest events, as `sample_ids` is, so a
    /// question over months reads a bounded number of rows for one word.
    pub fn holds_messages(&self, scope: Scope<'_>, sample: usize) -> Result<Option<bool>, StoreError> {
        let (clause, mut params) = filter(scope, "e.timestamp_ms");
        params.push(Value::Integer(sample as i64));
        let sql = format!(
            "SELECT max(m) FROM (SELECT e.status_code = 0 AND e.method = '' AS m FROM events e {clause} \
             ORDER BY e.timestamp_ms DESC LIMIT ?)"
        );
        self.one(&sql, &params)
    }

    /// Ids of the newest events in scope, at most `limit`.
    pub fn sample_ids(&self, scope: Scope<'_>, limit: usize) -> Result<Vec<i64>, StoreError> {
        let (clause, mut params) = filter(scope, "e.timestamp_ms");
        params.push(Value::Integer(limit as i64));
        let sql = format!("SELECT e.id FROM events e {clause} ORDER BY e.timestamp_ms DESC, e.id DESC LIMIT ?");
        let mut stmt = self.conn.prepare(&sql).map_err(self.err())?;
        let rows = stmt.query_map(params_from_iter(&params), |row| row.get(0)).map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// The `limit` values of `dim` with the most events in scope (ties by value), with counts.
    pub fn top(&self, scope: Scope<'_>, dim: Dimension, limit: usize) -> Result<Vec<(String, u64)>, StoreError> {
        let (clause, mut params) = filter_valued(scope, "e.timestamp_ms", dim);
        params.push(Value::Integer(limit as i64));
        let col = column(dim);
        let sql =
            format!("SELECT {col} AS v, count(*) AS n FROM events e {clause} GROUP BY v ORDER BY n DESC, v LIMIT ?");
        self.pairs(&sql, &params)
    }

    /// The `limit` values of `dim` with the fewest events in scope (of those with any; ties by
    /// value), with counts.
    pub fn bottom(&self, scope: Scope<'_>, dim: Dimension, limit: usize) -> Result<Vec<(String, u64)>, StoreError> {
        let (clause, mut params) = filter_valued(scope, "e.timestamp_ms", dim);
        params.push(Value::Integer(limit as i64));
        let col = column(dim);
        let sql = format!("SELECT {col} AS v, count(*) AS n FROM events e {clause} GROUP BY v ORDER BY n, v LIMIT ?");
        self.pairs(&sql, &params)
    }

    /// Like [`Queries::top`], counting anomalies instead of events.
    pub fn top_anomalies(
        &self,
        scope: Scope<'_>,
        dim: Dimension,
        limit: usize,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        let (clause, mut params) = filter_valued(scope, "a.timestamp_ms", dim);
        params.push(Value::Integer(limit as i64));
        let col = column(dim);
        let sql = format!(
            "SELECT {col} AS v, count(*) AS n FROM anomalies a CROSS JOIN events e ON e.id = a.event_id {clause} \
             GROUP BY v ORDER BY n DESC, v LIMIT ?"
        );
        self.pairs(&sql, &params)
    }

    /// Event counts for every value of `dim` in scope, by value (at most `limit` values).
    pub fn breakdown(&self, scope: Scope<'_>, dim: Dimension, limit: usize) -> Result<Vec<(String, u64)>, StoreError> {
        let (clause, mut params) = filter_valued(scope, "e.timestamp_ms", dim);
        params.push(Value::Integer(limit as i64));
        let col = column(dim);
        let order = if matches!(dim, Dimension::Status | Dimension::StatusClass) { "v" } else { "n DESC, v" };
        let sql =
            format!("SELECT {col} AS v, count(*) AS n FROM events e {clause} GROUP BY v ORDER BY {order} LIMIT ?");
        self.pairs(&sql, &params)
    }

    fn pairs(&self, sql: &str, params: &[Value]) -> Result<Vec<(String, u64)>, StoreError> {
        let mut stmt = self.conn.prepare(sql).map_err(self.err())?;
        let rows = stmt
            .query_map(params_from_iter(params), |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)? as u64)))
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// Distinct values of `dim` in scope.
    pub fn unique(&self, scope: Scope<'_>, dim: Dimension) -> Result<u64, StoreError> {
        let (clause, params) = filter_valued(scope, "e.timestamp_ms", dim);
        let n: i64 = self.one(&format!("SELECT count(DISTINCT {}) FROM events e {clause}", column(dim)), &params)?;
        Ok(n as u64)
    }

    /// Events in scope that have a value of `dim` (an IP, a status, ...).
    pub fn count_valued(&self, scope: Scope<'_>, dim: Dimension) -> Result<u64, StoreError> {
        let (clause, params) = filter_valued(scope, "e.timestamp_ms", dim);
        let n: i64 = self.one(&format!("SELECT count(*) FROM events e {clause}"), &params)?;
        Ok(n as u64)
    }

    /// Bytes sent in scope.
    pub fn bytes(&self, scope: Scope<'_>) -> Result<Bytes, StoreError> {
        let (clause, params) = filter(scope, "e.timestamp_ms");
        let sql = format!(
            "SELECT coalesce(sum(e.bytes_sent), 0), coalesce(avg(e.bytes_sent), 0), coalesce(max(e.bytes_sent), 0) \
             FROM events e {clause}"
        );
        self.conn
            .query_row(&sql, params_from_iter(&params), |row| {
                Ok(Bytes { total: row.get::<_, i64>(0)? as u64, mean: row.get(1)?, max: row.get::<_, i64>(2)? as u64 })
            })
            .map_err(self.err())
    }

    /// Latency figures in scope; `None` when no event in scope has a latency.
    pub fn latency(&self, scope: Scope<'_>) -> Result<Option<Latency>, StoreError> {
        let (clause, params) = filter(scope, "e.timestamp_ms");
        let measured_clause = if clause.is_empty() {
            "WHERE e.latency_ms IS NOT NULL".to_owned()
        } else {
            format!("{clause} AND e.latency_ms IS NOT NULL")
        };
        let (measured, mean, max): (i64, Option<f64>, Option<f64>) = self
            .conn
            .query_row(
                &format!("SELECT count(*), avg(e.latency_ms), max(e.latency_ms) FROM events e {measured_clause}"),
                params_from_iter(&params),
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .map_err(self.err())?;
        if measured == 0 {
            return Ok(None);
        }
        // Nearest-rank percentiles: the value at rank ceil(p * n), exactly as stored.
        let rank = |p: f64| ((p * measured as f64).ceil() as i64).clamp(1, measured) - 1;
        let sql = format!("SELECT e.latency_ms FROM events e {measured_clause} ORDER BY e.latency_ms LIMIT 1 OFFSET ?");
        let at = |offset: i64| -> Result<f64, StoreError> {
            let mut p = params.clone();
            p.push(Value::Integer(offset));
            self.one(&sql, &p)
        };
        Ok(Some(Latency {
            measured: measured as u64,
            mean_ms: mean.unwrap_or(0.0),
            p50_ms: at(rank(0.5))?,
            p95_ms: at(rank(0.95))?,
            max_ms: max.unwrap_or(0.0),
        }))
    }

    /// How many values of `dim` have exactly `n` events in scope (anomalies, with
    /// `anomalies`): the size of a tie in a ranking.
    pub fn values_with(&self, scope: Scope<'_>, dim: Dimension, n: u64, anomalies: bool) -> Result<u64, StoreError> {
        let (from, time) = match anomalies {
            true => ("anomalies a CROSS JOIN events e ON e.id = a.event_id", "a.timestamp_ms"),
            false => ("events e", "e.timestamp_ms"),
        };
        let (clause, mut params) = filter_valued(scope, time, dim);
        params.push(Value::Integer(n as i64));
        let sql = format!(
            "SELECT count(*) FROM (SELECT {} AS v FROM {from} {clause} GROUP BY v HAVING count(*) = ?)",
            column(dim)
        );
        let n: i64 = self.one(&sql, &params)?;
        Ok(n as u64)
    }

    /// Summaries that speak of `range` in log time, newest logs first, at most `limit`; only
    /// those of `ids` when given. Summaries are windowed by commit time (see
    /// `summarize::window`): a backfill's fold logs days older than their window, a whole file
    /// in one minute. One speaks of the range when the log times it folds overlap it and stick
    /// out of it by no more than one window's length, as live logs straddling its ends do.
    pub fn summaries(
        &self,
        range: &TimeRange,
        ids: Option<&[i64]>,
        limit: usize,
    ) -> Result<Vec<SummaryRow>, StoreError> {
        let mut clauses: Vec<String> = Vec::new();
        let mut params = Vec::new();
        if let Some(from) = range.from_ms() {
            clauses.push("last_ms >= ?1 AND first_ms >= ?1 - length_ms".into());
            params.push(Value::Integer(from));
        }
        if let Some(to) = range.to_ms() {
            let at = params.len() + 1;
            clauses.push(format!("first_ms < ?{at} AND last_ms < ?{at} + length_ms"));
            params.push(Value::Integer(to));
        }
        if let Some(ids) = ids {
            let first = params.len() + 1;
            let marks: Vec<String> = (first..first + ids.len()).map(|i| format!("?{i}")).collect();
            clauses.push(format!("id IN ({})", marks.join(", ")));
            params.extend(ids.iter().map(|&id| Value::Integer(id)));
        }
        let clause = if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
        params.push(Value::Integer(limit as i64));
        let sql = format!(
            "SELECT id, window_start_ms, window_end_ms, first_ms, last_ms, text FROM (SELECT id, window_start_ms, \
             window_end_ms, window_end_ms - window_start_ms AS length_ms, text, \
             coalesce(first_event_ms, window_start_ms) AS first_ms, coalesce(last_event_ms, window_end_ms - 1) AS last_ms \
             FROM summaries) {clause} ORDER BY last_ms DESC, id DESC LIMIT ?{}",
            params.len()
        );
        let mut stmt = self.conn.prepare(&sql).map_err(self.err())?;
        let rows = stmt
            .query_map(params_from_iter(&params), |row| {
                Ok(SummaryRow {
                    id: row.get(0)?,
                    window_start_ms: row.get(1)?,
                    window_end_ms: row.get(2)?,
                    first_event_ms: row.get(3)?,
                    last_event_ms: row.get(4)?,
                    text: row.get(5)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// Anomalies in scope.
    pub fn anomaly_count(&self, scope: Scope<'_>) -> Result<u64, StoreError> {
        let (clause, params) = filter(scope, "a.timestamp_ms");
        let sql = format!("SELECT count(*) FROM anomalies a CROSS JOIN events e ON e.id = a.event_id {clause}");
        let n: i64 = self.one(&sql, &params)?;
        Ok(n as u64)
    }

    /// Events in scope flagged as anomalies (by one detector or more).
    pub fn anomalous_events(&self, scope: Scope<'_>) -> Result<u64, StoreError> {
        let (clause, params) = filter(scope, "a.timestamp_ms");
        let sql = format!(
            "SELECT count(DISTINCT a.event_id) FROM anomalies a CROSS JOIN events e ON e.id = a.event_id {clause}"
        );
        let n: i64 = self.one(&sql, &params)?;
        Ok(n as u64)
    }

    /// Anomalies in scope, highest score first (then newest), at most `limit`; with `terms`,
    /// only those whose URL, user agent or reason contains one of them.
    pub fn anomalies(&self, scope: Scope<'_>, terms: &[String], limit: usize) -> Result<Vec<AnomalyRow>, StoreError> {
        let (mut clause, mut params) = filter(scope, "a.timestamp_ms");
        if !terms.is_empty() {
            let any = vec![
                r"(e.url LIKE ? ESCAPE '\' OR e.user_agent LIKE ? ESCAPE '\' OR a.reason LIKE ? ESCAPE '\')";
                terms.len()
            ];
            let joined = format!("({})", any.join(" OR "));
            clause = if clause.is_empty() { format!("WHERE {joined}") } else { format!("{clause} AND {joined}") };
            for term in terms {
                let escaped: String = term
                    .chars()
                    .flat_map(|c| if matches!(c, '%' | '_' | '\\') { vec!['\\', c] } else { vec![c] })
                    .collect();
                for _ in 0..3 {
                    params.push(Value::Text(format!("%{escaped}%")));
                }
            }
        }
        params.push(Value::Integer(limit as i64));
        let sql = format!(
            "SELECT a.id, e.id, e.timestamp_ms, e.ip, e.method, e.url, e.status_code, a.score, a.reason, a.detector, \
             CASE WHEN e.method = '' AND e.status_code = 0 THEN e.raw ELSE '' END \
             FROM anomalies a CROSS JOIN events e ON e.id = a.event_id {clause} \
             ORDER BY a.score DESC, a.timestamp_ms DESC, a.id DESC LIMIT ?"
        );
        let mut stmt = self.conn.prepare(&sql).map_err(self.err())?;
        let rows = stmt
            .query_map(params_from_iter(&params), |row| {
                Ok(AnomalyRow {
                    id: row.get(0)?,
                    event_id: row.get(1)?,
                    timestamp_ms: row.get(2)?,
                    ip: row.get(3)?,
                    method: row.get(4)?,
                    url: row.get(5)?,
                    status_code: row.get(6)?,
                    score: row.get(7)?,
                    reason: row.get(8)?,
                    detector: row.get(9)?,
                    line: row.get(10)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }
}
