//! Vector search and the ChromaDB backend.
//!
//! - [`VectorIndex`] is the facade every search and upsert goes through:
//!   `query(collection, embedding, k, filter) -> Vec<Hit>` (id, document, metadata, cosine
//!   distance) and `upsert(collection, id, document, embedding, metadata)`. Embed with
//!   [`VectorIndex::embedder`], or call [`VectorIndex::search`] with text. Embedded, it scans
//!   `vigil.db`'s `vectors` table; with `[store] kind = "chroma"` it asks Chroma and falls back
//!   to the embedded copy of anomalies and summaries while Chroma is down.
//! - With Chroma, the embedded store stays the source of truth: logs, anomalies and summaries
//!   reach Chroma through the durable outbox (`store/outbox.rs`), written in the same
//!   transaction as the data, drained by [`drain::spawn`] with retries and backoff. Records
//!   have deterministic ids (`log-<event id>`, `anomaly-<anomaly id>`, `summary-<id>`) and are
//!   upserted, so a retry never duplicates. [`ChromaLink`] holds the link's state for
//!   `/health` and `/api/v1/stats`.
//! - Summaries: a summarizer stores a summary and calls
//!   [`crate::store::enqueue_summary`]`(tx, kind, id, text, metadata)` in the same
//!   transaction; that indexes it embedded and queues it for Chroma. Chat then finds it with
//!   `query(Collection::Summaries, ..)`.
//!
//! This module never writes `vigil.db` itself: the store does, through its own methods.

mod chroma;
mod config;
pub mod drain;
mod error;
mod index;
mod link;
#[cfg(test)]
mod tests;
mod types;

pub use chroma::{ChromaClient, ChromaError};
pub use config::ChromaConfig;
pub use error::VectorError;
pub use index::{VectorIndex, probe_chroma};
pub use link::{ChromaLink, LinkState, LinkStatus};
pub use types::{Collection, Condition, Filter, Hit, Metadata, Record};
