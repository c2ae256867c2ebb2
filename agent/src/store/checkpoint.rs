//! Source read positions. A file tailer resumes from the checkpoint committed with the last
//! events it read, so a restart neither loses nor repeats a line. Retention never deletes them.

use super::connection::Store;
use super::error::StoreError;
use rusqlite::OptionalExtension;

/// How far a source has been read.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Checkpoint {
    /// The source's name and the file's key, e.g. `nginx/5f3a…`; not empty.
    pub key: String,
    /// Identifies the file the offset belongs to (its first bytes, as far as read), so a
    /// rotated or truncated file is not resumed at a stale offset.
    pub fingerprint: Vec<u8>,
    /// Bytes read and committed; reading resumes here.
    pub offset: u64,
    /// The file's last bytes before `offset` (a few dozen), so a file that only begins like
    /// this one is not resumed here; empty when not known.
    pub tail: Vec<u8>,
}

/// A checkpoint with the time it was last written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedCheckpoint {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// When it was committed, in milliseconds since the Unix epoch.
    pub updated_ms: i64,
}

const SELECT: &str = "SELECT key, fingerprint, byte_offset, updated_ms, tail FROM checkpoints";

impl Store {
    /// The committed checkpoint of source `key`, if any.
    pub fn checkpoint(&self, key: &str) -> Result<Option<Checkpoint>, StoreError> {
        let err = self.error("read a checkpoint");
        let reader = self.reader()?;
        let mut stmt = reader.prepare_cached(&format!("{SELECT} WHERE key = ?1")).map_err(&err)?;
        let saved = stmt.query_row([key], read_row).optional().map_err(&err)?;
        Ok(saved.map(|s| s.checkpoint))
    }

    /// Every committed checkpoint, ordered by key.
    pub fn checkpoints(&self) -> Result<Vec<SavedCheckpoint>, StoreError> {
        let err = self.error("read the checkpoints");
        let reader = self.reader()?;
        let mut stmt = reader.prepare_cached(&format!("{SELECT} ORDER BY key")).map_err(&err)?;
        let rows = stmt.query_map([], read_row).map_err(&err)?;
        rows.collect::<Result<_, _>>().map_err(&err)
    }

    /// Move checkpoints to new keys, each `(from, to)` in one transaction: a source that was
    /// renamed takes over its old name's positions. A `to` that exists already is kept, and
    /// its `from` only dropped.
    pub fn move_checkpoints(&self, moves: &[(String, String)]) -> Result<(), StoreError> {
        if moves.is_empty() {
            return Ok(());
        }
        let err = self.error("move checkpoints to a renamed source");
        let mut guard = self.writer();
        let tx = guard.conn.transaction().map_err(&err)?;
        {
            let mut copy = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO checkpoints (key, fingerprint, byte_offset, updated_ms, tail) \
                     SELECT ?2, fingerprint, byte_offset, updated_ms, tail FROM checkpoints WHERE key = ?1",
                )
                .map_err(&err)?;
            let mut delete = tx.prepare_cached("DELETE FROM checkpoints WHERE key = ?1").map_err(&err)?;
            for (from, to) in moves {
                copy.execute([from, to]).map_err(&err)?;
                delete.execute([from]).map_err(&err)?;
            }
        }
        tx.commit().map_err(&err)
    }
}

fn read_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<SavedCheckpoint> {
    Ok(SavedCheckpoint {
        checkpoint: Checkpoint {
            key: row.get(0)?,
            fingerprint: row.get::<_, Vec<u8>>(1)?,
            offset: row.get::<_, i64>(2)? as u64,
            tail: row.get::<_, Option<Vec<u8>>>(4)?.unwrap_or_default(),
        },
        updated_ms: row.get(3)?,
    })
}
