//! When events happened: the busiest time buckets of a scope ("when was the busiest
//! minute?") and its first and last event times ("when was the first request?", "what time
//! range do the logs cover?").

use super::{Queries, Scope, filter};
use crate::store::StoreError;
use rusqlite::params_from_iter;
use rusqlite::types::Value;

/// The busiest buckets of a window (see [`Queries::peak`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Peak {
    /// The most events a bucket holds.
    pub count: u64,
    /// Starts of the buckets that hold that many, ms since the Unix epoch, earliest first
    /// (at most the limit asked for).
    pub starts: Vec<i64>,
    /// How many buckets hold that many (more than `starts` when the limit cut them).
    pub tied: u64,
}

/// The events of a scope and the times of the first and last of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Events in scope.
    pub count: u64,
    /// Log time of the first, ms since the epoch.
    pub first_ms: i64,
    /// Log time of the last, ms since the epoch.
    pub last_ms: i64,
}

impl Queries<'_> {
    /// The busiest buckets (of `bucket_ms`) in scope: the most events a bucket holds, the
    /// earliest `limit` buckets that hold that many, and how many do; `None` when the scope
    /// holds no event. All of them, not one: a tie is said, not settled by picking one.
    pub fn peak(&self, scope: Scope<'_>, bucket_ms: i64, limit: usize) -> Result<Option<Peak>, StoreError> {
        let (clause, mut params) = filter(scope, "e.timestamp_ms");
        params.insert(0, Value::Integer(bucket_ms));
        params.insert(0, Value::Integer(bucket_ms));
        params.push(Value::Integer(limit as i64));
        // `count(*) OVER ()` counts the rows `r = 1` keeps, before LIMIT.
        let sql = format!(
            "SELECT b, n, count(*) OVER () FROM (SELECT b, n, rank() OVER (ORDER BY n DESC) AS r FROM \
             (SELECT (e.timestamp_ms / ?) * ? AS b, count(*) AS n FROM events e {clause} GROUP BY b)) \
             WHERE r = 1 ORDER BY b LIMIT ?"
        );
        let mut stmt = self.conn.prepare(&sql).map_err(self.err())?;
        let rows = stmt
            .query_map(params_from_iter(&params), |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)? as u64, row.get::<_, i64>(2)? as u64))
            })
            .map_err(self.err())?;
        let rows: Vec<(i64, u64, u64)> = rows.collect::<Result<_, _>>().map_err(self.err())?;
        Ok(rows.first().map(|&(_, count, tied)| Peak { count, starts: rows.iter().map(|r| r.0).collect(), tied }))
    }

    /// How many events are in scope and when the first and last were logged; `None` when
    /// there is none.
    pub fn span(&self, scope: Scope<'_>) -> Result<Option<Span>, StoreError> {
        let (clause, params) = filter(scope, "e.timestamp_ms");
        let sql = format!("SELECT count(*), min(e.timestamp_ms), max(e.timestamp_ms) FROM events e {clause}");
        let (count, first, last): (i64, Option<i64>, Option<i64>) = self
            .conn
            .query_row(&sql, params_from_iter(&params), |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .map_err(self.err())?;
        Ok(match (first, last) {
            (Some(first_ms), Some(last_ms)) if count > 0 => Some(Span { count: count as u64, first_ms, last_ms }),
            _ => None,
        })
    }
}
