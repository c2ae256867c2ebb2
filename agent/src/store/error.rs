//! What can go wrong with the store, worded for the operator: what failed, on which file, and
//! what to do about it.

use rusqlite::ErrorCode;
use std::path::{Path, PathBuf};

/// A store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A `[store]` value is out of range.
    #[error("store.{field}: {message}")]
    Config {
        /// The field, without the `store.` prefix.
        field: &'static str,
        /// What is wrong and what to give instead.
        message: String,
    },
    /// The data directory or the lock file could not be created.
    #[error("store: cannot {what} {path}: {source} (hint: check data_dir and its permissions)")]
    Io {
        /// What was being done, e.g. `create the data directory`.
        what: &'static str,
        /// The directory or file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The database file could not be opened or set up.
    #[error(
        "store: cannot open {path}: {source} (hint: check that data_dir is writable by this user and the disk is not full)"
    )]
    Open {
        /// The database file.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// Another process holds the database.
    #[error(
        "store: {path} is locked by another process (hint: is another vigil running with the same data_dir? \
         stop it, or give this agent a data_dir of its own)"
    )]
    Locked {
        /// The database or lock file.
        path: PathBuf,
    },
    /// The file is not a SQLite database, or is damaged.
    #[error(
        "store: {path} is not a Vigil database or is damaged: {source} (hint: stop vigil, move the file and its \
         -wal/-shm files aside, and start again to create a new one)"
    )]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The file opened but cannot be used as Vigil's store.
    #[error("store: cannot use {path}: {message}")]
    Unusable {
        /// The database file.
        path: PathBuf,
        /// Why, and what to do.
        message: String,
    },
    /// The database was created by a newer Vigil.
    #[error(
        "store: {path} has schema version {found}, newer than the {known} this vigil knows \
         (hint: run the newer vigil, or give this one another data_dir)"
    )]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// The file's `user_version`.
        found: i64,
        /// The newest version this build writes.
        known: i64,
    },
    /// The disk (or the file system quota) is full.
    #[error(
        "store: {operation} on {path} failed: the disk is full (hint: free space, or lower store.max_size_mib \
         or store.retention_days)"
    )]
    DiskFull {
        /// What was being done.
        operation: &'static str,
        /// The database file.
        path: PathBuf,
    },
    /// A commit batch breaks its own rules (for example an anomaly naming an event it lacks).
    #[error("store: invalid commit batch: {0}")]
    InvalidBatch(String),
    /// Any other SQLite failure.
    #[error("store: {operation} on {path} failed: {source}")]
    Sqlite {
        /// What was being done.
        operation: &'static str,
        /// The database file.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
}

impl StoreError {
    /// Classify a SQLite error raised while doing `operation` on `path`.
    pub(crate) fn sqlite(operation: &'static str, path: &Path, source: rusqlite::Error) -> StoreError {
        let path = path.to_path_buf();
        match source.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Locked { path },
            Some(ErrorCode::DiskFull) => StoreError::DiskFull { operation, path },
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => StoreError::Corrupt { path, source },
            Some(ErrorCode::CannotOpen | ErrorCode::PermissionDenied | ErrorCode::ReadOnly) => {
                StoreError::Open { path, source }
            }
            _ => StoreError::Sqlite { operation, path, source },
        }
    }
}
