//! Summarizer plugins on their schedule: every committed batch is offered (never awaited) to
//! each configured summarizer, which folds it into its open window; when the window closes
//! the plugin's summary is stored (and indexed for search, and queued for Chroma), broadcast
//! on `/ws` as `{"type": "summary", ...}` and served at `GET /api/v1/summaries`.
//!
//! Plugins run on the detectors' engine and component cache, each in its own sandboxed store
//! and thread. This module must never make ingestion wait: a summarizer that falls behind
//! misses batches, and the events it missed are counted.
//!
//! A reload changes the set by difference ([`Summarizers::prepare`], [`Summarizers::apply`]):
//! unchanged summarizers keep their open window; a changed or removed one stores its open
//! window as a partial summary before it stops, so no folded event is lost.

pub(crate) mod bindings;
pub mod config;
#[cfg(test)]
mod failure_tests;
mod feed;
mod host;
mod runner;
mod set;
#[cfg(test)]
mod set_tests;
mod status;
#[cfg(test)]
mod tests;
mod window;

pub use config::{SummarizerConfig, SummarizerSpec};
pub use feed::{CommittedBatch, SummaryFeed};
pub use host::{FoldAnomaly, MAX_SUMMARY_DATA_BYTES, MAX_SUMMARY_TEXT_BYTES, PluginSummary, SummarizerHost};
pub use runner::summary_json;
pub use set::{SummarizerPlan, Summarizers, validate};
pub use status::{SummarizerStatus, SummaryBoard};
pub use window::SummaryWindow;
