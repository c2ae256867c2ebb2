//! Plugin state snapshots: a detector's learned model as the bytes its `snapshot` export
//! returned, kept per detector so a restart or a hot reload resumes it instead of learning
//! from zero. One row per detector; a newer snapshot replaces the older one.

use super::connection::Store;
use super::error::StoreError;
use rusqlite::OptionalExtension;

/// One saved plugin state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginSnapshot {
    /// The detector's name in the running config (its identity across restarts).
    pub detector: String,
    /// The plugin's own name and version when the snapshot was taken: a snapshot is only
    /// offered back to the same plugin.
    pub plugin: String,
    pub version: String,
    /// When it was taken, milliseconds since the Unix epoch.
    pub taken_ms: i64,
    /// The bytes `snapshot` returned.
    pub state: Vec<u8>,
}

const UPSERT: &str = "INSERT INTO plugin_snapshots (detector, plugin, version, taken_ms, state) \
     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(detector) DO UPDATE SET plugin = excluded.plugin, \
     version = excluded.version, taken_ms = excluded.taken_ms, state = excluded.state";

impl Store {
    /// Save snapshots, replacing earlier ones of the same detectors, in one transaction.
    pub fn save_snapshots(&self, snapshots: &[PluginSnapshot]) -> Result<(), StoreError> {
        if snapshots.is_empty() {
            return Ok(());
        }
        let err = self.error("save plugin snapshots");
        let mut guard = self.writer();
        let tx = guard.conn.transaction().map_err(&err)?;
        {
            let mut upsert = tx.prepare_cached(UPSERT).map_err(&err)?;
            for s in snapshots {
                upsert
                    .execute(rusqlite::params![s.detector, s.plugin, s.version, s.taken_ms, s.state])
                    .map_err(&err)?;
            }
        }
        tx.commit().map_err(&err)
    }

    /// Every saved snapshot.
    pub fn snapshots(&self) -> Result<Vec<PluginSnapshot>, StoreError> {
        let err = self.error("read plugin snapshots");
        let reader = self.reader()?;
        let mut stmt = reader
            .prepare_cached("SELECT detector, plugin, version, taken_ms, state FROM plugin_snapshots ORDER BY detector")
            .map_err(&err)?;
        let rows = stmt
            .query_map([], |row| {
                Ok(PluginSnapshot {
                    detector: row.get(0)?,
                    plugin: row.get(1)?,
                    version: row.get(2)?,
                    taken_ms: row.get(3)?,
                    state: row.get(4)?,
                })
            })
            .map_err(&err)?;
        rows.collect::<Result<_, _>>().map_err(&err)
    }
}

/// The `meta` key under which a summarizer's uncounted skipped events wait for its next start.
fn unreported_key(summarizer: &str) -> String {
    format!("summary_unreported:{summarizer}")
}

impl Store {
    /// Keep `events` that summarizer `name` skipped or lost and no stored summary counts yet,
    /// for its next start to count ([`Store::take_unreported_skips`]); added to any kept before.
    pub fn keep_unreported_skips(&self, name: &str, events: u64) -> Result<(), StoreError> {
        if events == 0 {
            return Ok(());
        }
        let err = self.error("keep a summarizer's uncounted skipped events");
        let guard = self.writer();
        guard
            .conn
            .execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = value + excluded.value",
                rusqlite::params![unreported_key(name), events as i64],
            )
            .map_err(&err)?;
        Ok(())
    }

    /// The skipped events kept for summarizer `name` by its last run, removed as they are read.
    pub fn take_unreported_skips(&self, name: &str) -> Result<u64, StoreError> {
        let err = self.error("read a summarizer's uncounted skipped events");
        let guard = self.writer();
        let taken: Option<i64> = guard
            .conn
            .query_row("DELETE FROM meta WHERE key = ?1 RETURNING value", [unreported_key(name)], |row| row.get(0))
            .optional()
            .map_err(&err)?;
        Ok(taken.unwrap_or(0).max(0) as u64)
    }
}
