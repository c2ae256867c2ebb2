//! The first and last event times in a scope: what "when was the first request?" and "what
//! time range do the logs cover?" ask.

use super::{Queries, Scope, filter};
use crate::store::StoreError;
use rusqlite::params_from_iter;

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
