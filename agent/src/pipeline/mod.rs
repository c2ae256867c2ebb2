//! The pipeline between sources and the store: bounded queues, batching by size or time,
//! scoring with the detectors, and one store commit per batch that also records the source
//! positions the batch covers. Submitters wait for room in the queue (backpressure reaches
//! the sources) and, when they ask, for the commit itself (WebSocket acks, API answers).
//! Committed anomalies and ack summaries go out on the monitor channel (`/ws`).

mod committer;
mod config;
mod handle;
mod monitor;
mod scorer;
mod submission;
#[cfg(test)]
mod tests;

pub use config::PipelineConfig;
pub use handle::{CommitFailure, Pipeline, PipelineStats, PipelineTasks};
pub use monitor::{Monitor, MonitorMessage, Published};
pub use submission::{Accepted, AnomalyNotice, PipelineError, Submission};
