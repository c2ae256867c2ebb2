//! The database layout, its migrations, and the connection settings. `PRAGMA user_version`
//! holds the number of migrations applied; a file from a newer build is refused, never
//! rewritten.

use super::config::StoreConfig;
use super::error::StoreError;
use rusqlite::{Connection, OpenFlags};
use std::path::Path;

/// The condition of the partial index `events_by_status`, written once for the migration that
/// creates the index and for the queries that use it (a macro, so `concat!` can take it).
macro_rules! status_indexed {
    () => {
        "status_code NOT IN (0, 200)"
    };
}

/// Migration `n` (1-based) moves a database from `user_version = n - 1` to `n`. Append only:
/// a shipped migration is never edited.
const MIGRATIONS: &[&str] = &[
    // 1: events, anomalies, checkpoints, per-source counts and the id high-water mark.
    //
    // Indexes are what a commit pays for, so there are only three: time (appends), status
    // (a dozen hot spots) and a partial one on anomalies (few rows). `ip` and `q` have none:
    // an index keyed by client address takes its entries in random order, dirtying about one
    // page per event; measured on the 2-core dev machine at batches of 1,000 it cut commits
    // from ~200k to ~70k events/s. Both filters are served by walking `events_by_time`
    // newest-first inside the query's time range, stopping at `limit` matches.
    r#"
    CREATE TABLE events (
        id            INTEGER PRIMARY KEY,
        timestamp_ms  INTEGER NOT NULL,
        ip            TEXT    NOT NULL,
        method        TEXT    NOT NULL,
        url           TEXT    NOT NULL,
        status_code   INTEGER NOT NULL,
        bytes_sent    INTEGER NOT NULL,
        user_agent    TEXT    NOT NULL,
        raw           TEXT    NOT NULL,
        source        TEXT    NOT NULL,
        referer       TEXT,
        latency_ms    REAL,
        fields        TEXT,                 -- JSON object; NULL when empty
        anomaly_score REAL,
        anomalous     INTEGER NOT NULL DEFAULT 0,
        ingested_ms   INTEGER NOT NULL
    );
    CREATE INDEX events_by_time ON events(timestamp_ms);
    CREATE INDEX events_by_status ON events(status_code, timestamp_ms);
    CREATE INDEX events_anomalous_by_time ON events(timestamp_ms) WHERE anomalous = 1;

    CREATE TABLE anomalies (
        id           INTEGER PRIMARY KEY,
        event_id     INTEGER NOT NULL,
        detector     TEXT    NOT NULL,
        score        REAL    NOT NULL,
        reason       TEXT    NOT NULL,
        timestamp_ms INTEGER NOT NULL
    );
    CREATE INDEX anomalies_by_time ON anomalies(timestamp_ms);
    CREATE INDEX anomalies_by_event ON anomalies(event_id);

    CREATE TABLE checkpoints (
        key         TEXT    PRIMARY KEY NOT NULL CHECK (length(key) > 0),
        fingerprint BLOB NOT NULL,
        byte_offset INTEGER NOT NULL CHECK (byte_offset >= 0),
        updated_ms  INTEGER NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE source_counts (
        source TEXT    PRIMARY KEY NOT NULL,
        events INTEGER NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE meta (
        key   TEXT    PRIMARY KEY NOT NULL,
        value INTEGER NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO meta(key, value) VALUES ('next_event_id', 1);
    "#,
    // Plugin state snapshots (see `snapshots.rs`), one per detector.
    r#"
    CREATE TABLE plugin_snapshots (
        detector TEXT    PRIMARY KEY NOT NULL,
        plugin   TEXT    NOT NULL,
        version  TEXT    NOT NULL,
        taken_ms INTEGER NOT NULL,
        state    BLOB    NOT NULL
    ) WITHOUT ROWID;
    "#,
    // The embedded vector index (see `vectors.rs`) and the Chroma outbox (see `outbox.rs`).
    // An outbox row is either a range of event ids (`collection` NULL) or one record.
    r#"
    CREATE TABLE vectors (
        seq        INTEGER PRIMARY KEY,
        collection TEXT    NOT NULL,
        id         TEXT    NOT NULL,
        document   TEXT    NOT NULL,
        metadata   TEXT    NOT NULL,        -- JSON object
        embedder   TEXT    NOT NULL,
        embedding  BLOB    NOT NULL,        -- little-endian f32
        event_id   INTEGER,
        UNIQUE (collection, id)
    );
    CREATE INDEX vectors_by_event ON vectors(event_id) WHERE event_id IS NOT NULL;

    CREATE TABLE outbox (
        seq        INTEGER PRIMARY KEY,
        collection TEXT,
        first_id   INTEGER,
        last_id    INTEGER,
        item_id    TEXT,
        document   TEXT,
        metadata   TEXT,
        created_ms INTEGER NOT NULL
    );
    "#,
    // Mined templates (see `templates.rs`) and the template of each event that has one.
    r#"
    ALTER TABLE events ADD COLUMN template_id INTEGER;
    CREATE TABLE templates (
        id            INTEGER PRIMARY KEY,
        source        TEXT    NOT NULL,
        template      TEXT    NOT NULL,
        count         INTEGER NOT NULL,
        first_seen_ms INTEGER NOT NULL,
        last_seen_ms  INTEGER NOT NULL
    );
    "#,
    // Summaries written by summarizer plugins (see `summaries.rs`); idempotent.
    super::summaries::SCHEMA,
    // Vectors stored as one signed byte per dimension (see `vectors::quantize`); rows written
    // before keep their little-endian f32 and say so with `quantized = 0`.
    "ALTER TABLE vectors ADD COLUMN quantized INTEGER NOT NULL DEFAULT 0;",
    // Access-log lines stored once (see `raw_line.rs`): a line its event's columns write again
    // has an empty `raw` and says how to write it here; NULL keeps `raw` as the line.
    "ALTER TABLE events ADD COLUMN raw_layout INTEGER;",
    // `events_by_status` without the rows a status filter never looks up there: 200, most of
    // an access log, is served by walking the time index (its rows are everywhere, so a page
    // fills at once), and 0 (a log message, not a request) cannot be asked for. One index
    // insert less for most events: `store_insert` batch 1,000 commits 365-381k -> 433-445k
    // events/s. Queries name `STATUS_INDEXED` to use it (`query.rs`).
    concat!(
        "DROP INDEX events_by_status; CREATE INDEX events_by_status ON events(status_code, timestamp_ms) WHERE ",
        status_indexed!(),
        ";"
    ),
    // A checkpoint's last bytes before its offset (see `Checkpoint::tail`); NULL for those
    // written before, which are resumed on their first bytes alone as then.
    "ALTER TABLE checkpoints ADD COLUMN tail BLOB;",
];

/// The condition of the partial index `events_by_status`, exactly as written there: SQLite uses
/// a partial index only for a query whose WHERE clause holds that condition.
pub(crate) const STATUS_INDEXED: &str = status_indexed!();

/// The schema version this build writes.
pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Open the writer connection, set it up and bring the schema up to date.
pub(crate) fn open_writer(path: &Path, config: &StoreConfig) -> Result<Connection, StoreError> {
    let open_err = |e| StoreError::sqlite("open", path, e);
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags).map_err(open_err)?;
    conn.busy_timeout(std::time::Duration::from_millis(config.busy_timeout_ms)).map_err(open_err)?;
    // auto_vacuum stays off (it cost ~20% of commit throughput): pages freed by retention go
    // to the free list and are reused by later commits, so the file stops growing at about
    // `max_size_mib` instead of shrinking.
    // WAL + synchronous=NORMAL: a commit is appended to the WAL and the WAL is fsynced only at
    // checkpoints. A process crash or `kill -9` loses nothing committed (the WAL is in the OS
    // page cache and is replayed on the next open); a power cut or kernel panic may lose the
    // last commits, but never corrupts the file or splits a transaction. Committed events and
    // their checkpoint therefore stay together, which is the exactly-once promise we make.
    // FULL would fsync on every commit and cap commits at the disk's fsync rate.
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0)).map_err(open_err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        let message = format!("journal_mode is {mode}, WAL is required (hint: put data_dir on a local file system)");
        return Err(StoreError::Unusable { path: path.to_path_buf(), message });
    }
    conn.execute_batch(&format!(
        "PRAGMA synchronous = NORMAL;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -{cache_kib};
         -- Checkpoints, and restarts of the WAL from its beginning, run on the `wal`
         -- thread (at 16 MiB); this is only the backstop for when that thread cannot
         -- restart it (a reader holding an old snapshot for long): at 256 MiB.
         PRAGMA wal_autocheckpoint = 65536;
         PRAGMA journal_size_limit = {journal_limit};",
        cache_kib = config.cache_mib * 1024,
        journal_limit = 64 * 1024 * 1024,
    ))
    .map_err(open_err)?;
    conn.set_prepared_statement_cache_capacity(32);
    migrate(&mut conn, path)?;
    Ok(conn)
}

/// Open one read-only query connection to an existing database.
pub(crate) fn open_reader(path: &Path, config: &StoreConfig) -> Result<Connection, StoreError> {
    let open_err = |e| StoreError::sqlite("open a read connection", path, e);
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(open_err)?;
    conn.busy_timeout(std::time::Duration::from_millis(config.busy_timeout_ms)).map_err(open_err)?;
    conn.execute_batch(&format!(
        "PRAGMA query_only = ON; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -{READER_CACHE_KIB};"
    ))
    .map_err(open_err)?;
    conn.set_prepared_statement_cache_capacity(32);
    super::raw_line::register_sql_function(&conn).map_err(open_err)?;
    crate::attack::register_sql_function(&conn).map_err(open_err)?;
    Ok(conn)
}

/// Open the connection that checkpoints the WAL (see `wal.rs`).
pub(crate) fn open_checkpointer(path: &Path, config: &StoreConfig) -> Result<Connection, StoreError> {
    let open_err = |e| StoreError::sqlite("open the WAL checkpoint connection", path, e);
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(open_err)?;
    conn.busy_timeout(std::time::Duration::from_millis(config.busy_timeout_ms)).map_err(open_err)?;
    // The same durability as the writer: a checkpoint fsyncs the WAL, then the database.
    conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0;").map_err(open_err)?;
    Ok(conn)
}

/// Page cache of each read connection. Small on purpose, and no `mmap_size`: a 16 MiB cache per
/// reader and a 256 MiB memory map made the agent's resident size follow the database (257 MiB
/// after 10 s of WebSocket ingest, 127 MiB of it mapped database pages), while commits and the
/// store_insert bench's queries were no slower without them (docs/benchmarks.md, memory):
/// the OS page cache keeps the file's hot pages either way.
const READER_CACHE_KIB: u64 = 4 * 1024;

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let err = |e| StoreError::sqlite("migrate the schema", path, e);
    let found: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0)).map_err(err)?;
    if found < 0 {
        let message =
            format!("user_version is {found}, which Vigil never writes (hint: is this another program's database?)");
        return Err(StoreError::Unusable { path: path.to_path_buf(), message });
    }
    if found > SCHEMA_VERSION {
        return Err(StoreError::TooNew { path: path.to_path_buf(), found, known: SCHEMA_VERSION });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(err)?;
        tx.execute_batch(sql).map_err(err)?;
        tx.pragma_update(None, "user_version", index as i64 + 1).map_err(err)?;
        tx.commit().map_err(err)?;
    }
    Ok(())
}
