//! The [`Store`] handle: one writer connection behind a mutex, a small pool of read-only
//! connections for queries, and the lock file that keeps a second agent off the same database.
//!
//! Every method blocks on SQLite; async callers run them in `spawn_blocking`. The handle is
//! `Send + Sync` and meant to be shared in an `Arc`. WAL mode lets queries run on their read
//! connections while a commit is in progress: they see the database as of their start.

use super::config::StoreConfig;
use super::error::StoreError;
use super::schema;
use super::wal::{self, WalCheckpointer};
use crate::embed::Embedder;
use rusqlite::{Connection, OptionalExtension};
use std::fs::{File, TryLockError};
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// The database's file name inside the data directory.
pub const DB_FILE: &str = "vigil.db";

/// The embedded store: one SQLite database, `vigil.db`, in the data directory.
pub struct Store {
    path: PathBuf,
    pub(crate) config: StoreConfig,
    /// Makes every vector the store writes (anomalies, summaries) and the ones searched for.
    pub(crate) embedder: Arc<dyn Embedder>,
    writer: Mutex<Writer>,
    readers: Mutex<Vec<Connection>>,
    /// Declared before the lock so it stops before the lock is released.
    pub(super) wal: WalCheckpointer,
    /// Held (with an OS file lock) for as long as the store is open.
    _lock: File,
}

/// The only connection that writes, and the next event and anomaly ids it will assign.
pub(crate) struct Writer {
    pub(crate) conn: Connection,
    pub(crate) next_id: i64,
    pub(crate) next_anomaly_id: i64,
}

/// Whether the agent could keep its data in `data_dir`, for `vigil validate`: it is a
/// directory the agent may write in, or it does not exist yet and its nearest existing
/// ancestor is one (start-up creates it). Nothing is left behind: the write is tried with a
/// temporary file without a name.
pub fn check_data_dir(data_dir: &Path) -> Result<(), String> {
    let shown = data_dir.display();
    let mut at = data_dir;
    loop {
        match std::fs::metadata(at) {
            Ok(meta) if !meta.is_dir() => {
                return Err(format!(
                    "data_dir {shown}: {} is not a directory (hint: point data_dir at a directory)",
                    at.display()
                ));
            }
            Ok(_) => {
                return tempfile::tempfile_in(at).map(drop).map_err(|e| {
                    let what = if at == data_dir { "cannot write in it".to_owned() } else { format!("cannot create it in {}", at.display()) };
                    format!("data_dir {shown}: {what}: {e} (hint: choose a directory the agent's user may write, or create it with that owner)")
                });
            }
            // Missing, or under a file (which the ancestor's turn reports).
            Err(e)
                if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory)
                    && at != Path::new(".") =>
            {
                // A relative path's last ancestor is the working directory.
                at = at.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            }
            Err(e) => return Err(format!("data_dir {shown}: cannot read {}: {e}", at.display())),
        }
    }
}

impl Store {
    /// Open (creating if needed) `vigil.db` in `data_dir`, migrate its schema and take the
    /// data directory's lock; fails with [`StoreError::Locked`] if another process has it.
    /// Vectors are made by the default embedder.
    pub fn open(data_dir: &Path, config: &StoreConfig) -> Result<Store, StoreError> {
        Store::open_with_embedder(data_dir, config, crate::embed::default_embedder())
    }

    /// [`open`](Store::open), with the vectors of anomalies and summaries made by `embedder`
    /// (from `[embedding]`). Vectors an earlier run made with another embedder are re-embedded
    /// (`kind = "embedded"`) or refused (`kind = "chroma"`); see `vectors.rs`.
    pub fn open_with_embedder(
        data_dir: &Path,
        config: &StoreConfig,
        embedder: Arc<dyn Embedder>,
    ) -> Result<Store, StoreError> {
        config.validate()?;
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::Io {
            what: "create the data directory",
            path: data_dir.to_path_buf(),
            source,
        })?;
        let path = data_dir.join(DB_FILE);
        let lock = take_lock(&path.with_extension("db.lock"))?;
        let mut conn = schema::open_writer(&path, config)?;
        super::vectors::reconcile(&mut conn, &path, config.kind, embedder.as_ref())?;
        let next_event_id = next_id(&conn, "events", "next_event_id")
            .map_err(|e| StoreError::sqlite("read the next event id", &path, e))?;
        let next_anomaly_id = next_id(&conn, "anomalies", "next_anomaly_id")
            .map_err(|e| StoreError::sqlite("read the next anomaly id", &path, e))?;
        let wal = WalCheckpointer::start(&path, config, wal::Tuning::DEFAULT)?;
        Ok(Store {
            path,
            config: config.clone(),
            embedder,
            writer: Mutex::new(Writer { conn, next_id: next_event_id, next_anomaly_id }),
            readers: Mutex::new(Vec::new()),
            wal,
            _lock: lock,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The config the store was opened with.
    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// The embedder of every vector this store writes; search with the same one.
    pub fn embedder(&self) -> &Arc<dyn Embedder> {
        &self.embedder
    }

    /// The writer, waiting for the commit or retention step that holds it. A panic while it
    /// was held left no transaction open (dropping one rolls it back), so poison is ignored.
    pub(crate) fn writer(&self) -> MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The writer if nothing holds it right now, without waiting: for a caller that must not
    /// block on a commit or a retention step (the pipeline's scorer, on the async runtime).
    pub(crate) fn try_writer(&self) -> Option<MutexGuard<'_, Writer>> {
        match self.writer.try_lock() {
            Ok(guard) => Some(guard),
            Err(std::sync::TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    /// A read connection from the pool, or a new one when all pooled ones are busy.
    pub(crate) fn reader(&self) -> Result<Reader<'_>, StoreError> {
        let pooled = self.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => schema::open_reader(&self.path, &self.config)?,
        };
        Ok(Reader { store: self, conn: Some(conn) })
    }

    /// Free the page caches of the writer and of the idle readers. They refill as queries
    /// need them; start-up reads (snapshots, templates, counts) otherwise leave them full,
    /// and an agent restarted on a store of ~1.6 M events idled ~14 MiB higher
    /// (docs/benchmarks.md, memory).
    pub fn shrink_memory(&self) {
        // A failure only means the memory stays cached: nothing to report.
        let _ = self.writer().conn.execute_batch("PRAGMA shrink_memory");
        for reader in self.readers.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = reader.execute_batch("PRAGMA shrink_memory");
        }
    }

    /// Wrap a SQLite error with what was being done and this store's path.
    pub(crate) fn error(&self, operation: &'static str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |e| StoreError::sqlite(operation, &self.path, e)
    }
}

/// A read connection on loan; it goes back to the pool when dropped, if the pool has room.
pub(crate) struct Reader<'a> {
    store: &'a Store,
    conn: Option<Connection>,
}

impl Deref for Reader<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn.as_ref().expect("a reader holds its connection until dropped")
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            let mut pool = self.store.readers.lock().unwrap_or_else(|p| p.into_inner());
            if pool.len() < self.store.config.read_connections {
                pool.push(conn);
            }
        }
    }
}

/// Lock `path` for this process; SQLite alone would let two agents interleave their writes.
fn take_lock(path: &Path) -> Result<File, StoreError> {
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|source| StoreError::Io { what: "open the lock file", path: path.to_path_buf(), source })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(StoreError::Locked { path: path.to_path_buf() }),
        Err(TryLockError::Error(source)) => Err(StoreError::Io { what: "lock", path: path.to_path_buf(), source }),
    }
}

/// One past the highest id ever assigned in `table`: ids are never reused, even after
/// retention deleted the newest rows or emptied the table (it records the next id in `meta`
/// under `key`).
fn next_id(conn: &Connection, table: &str, key: &str) -> rusqlite::Result<i64> {
    let recorded: i64 =
        conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |row| row.get(0)).optional()?.unwrap_or(1);
    let max: Option<i64> = conn.query_row(&format!("SELECT max(id) FROM {table}"), [], |row| row.get(0))?;
    Ok(recorded.max(max.unwrap_or(0) + 1))
}
