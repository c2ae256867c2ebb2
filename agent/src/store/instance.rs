//! The store's instance id: a random number drawn once, when a data_dir is first used, and
//! kept in `meta`. It tells this agent's records apart where several agents meet (a shared
//! Chroma, whose collections it marks), since event and anomaly ids count from 1 per store.

use super::{Store, StoreError};
use rusqlite::OptionalExtension;
use std::hash::{BuildHasher, Hasher};

impl Store {
    /// This store's instance id, as 16 hex digits; drawn and kept on first use.
    pub fn instance_id(&self) -> Result<String, StoreError> {
        let err = self.error("read the store's instance id");
        let guard = self.writer();
        let conn = &guard.conn;
        let kept: Option<i64> = conn
            .query_row("SELECT value FROM meta WHERE key = 'instance_id'", [], |r| r.get(0))
            .optional()
            .map_err(&err)?;
        let id = match kept {
            Some(id) => id,
            None => {
                // std's per-process random hasher keys, with the clock and pid mixed in: enough
                // to tell stores apart, and no random-number crate for one number.
                let mut h = std::collections::hash_map::RandomState::new().build_hasher();
                h.write_u128(
                    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos(),
                );
                h.write_u32(std::process::id());
                let id = h.finish() as i64;
                conn.execute("INSERT INTO meta(key, value) VALUES ('instance_id', ?1)", [id]).map_err(&err)?;
                id
            }
        };
        Ok(format!("{:016x}", id as u64))
    }
}
