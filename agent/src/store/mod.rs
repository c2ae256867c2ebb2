//! The embedded store: one SQLite database, `vigil.db`, in the data directory, holding events
//! with their anomaly scores, anomalies, and the source checkpoints committed with them.
//!
//! [`Store::commit`] is the exactly-once boundary of the pipeline: a batch's events, its
//! anomalies and the source offsets that cover them land in one transaction. Queries
//! ([`Store::logs`], [`Store::anomalies`], [`Store::counts`]) serve the `/api/v1` endpoints;
//! [`Store::enforce_retention`] bounds the database by age and size.
//!
//! The API is blocking (async callers use `spawn_blocking`) and thread-safe: one writer
//! connection behind a mutex, a pool of read-only connections for queries, a thread that
//! checkpoints the WAL. This module owns the schema; nothing else may touch `vigil.db`.

mod checkpoint;
mod config;
mod connection;
mod error;
mod instance;
mod outbox;
mod query;
mod raw_line;
mod retention;
#[cfg(test)]
mod retention_tests;
mod schema;
mod snapshots;
mod summaries;
mod templates;
#[cfg(test)]
mod tests;
mod vectors;
mod wal;
mod write;

pub use checkpoint::{Checkpoint, SavedCheckpoint};
pub(crate) use config::RANGES as STORE_RANGES;
pub use config::{StoreConfig, StoreKind};
pub use connection::{DB_FILE, Store, check_data_dir};
pub use error::StoreError;
pub use outbox::{OutboxAck, OutboxDepth, OutboxWork, Resent};
pub use query::{DEFAULT_LIMIT, LogQuery, MAX_LIMIT, StatusFilter, StoreCounts, StoredAnomaly, StoredEvent};
pub(crate) use raw_line::text_arg;
pub use raw_line::{LineLayouts, Q_MATCH_SQL};
pub use retention::RetentionReport;
pub use snapshots::PluginSnapshot;
pub use summaries::{NewSummary, SUMMARY_DEFAULT_LIMIT, SUMMARY_MAX_LIMIT, StoredSummary, SummaryQuery};
pub use templates::{StoredTemplate, TemplateUpdate};
pub use vectors::{AnomalyVector, enqueue_summary};
pub use write::{CommitBatch, Committed, NewAnomaly, ScoredEvent};
