//! `[pipeline]`: batching and queue sizes.

use serde::Deserialize;
use std::time::Duration;

/// `[pipeline]` as written in the config file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// Most events scored and committed together.
    #[serde(default = "default_batch_events")]
    pub batch_events: usize,
    /// Longest an event waits for more events to fill its batch, in milliseconds. 0 (the
    /// default) takes whatever is queued at once: batches still fill under load, and an idle
    /// agent acknowledges without delay.
    #[serde(default = "default_batch_wait_ms")]
    pub batch_wait_ms: u64,
    /// Submissions queued before submitters wait (backpressure).
    #[serde(default = "default_queue")]
    pub queue: usize,
    /// Events in the pipeline (queued, being scored or being committed) before submitters
    /// wait: bounds its memory whatever the size of the submissions (a file source submits
    /// up to a `read_chunk_bytes` of lines at once). A larger submission waits until the
    /// pipeline is empty and then goes in alone.
    #[serde(default = "default_queue_events")]
    pub queue_events: usize,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            batch_events: default_batch_events(),
            batch_wait_ms: default_batch_wait_ms(),
            queue: default_queue(),
            queue_events: default_queue_events(),
        }
    }
}

impl PipelineConfig {
    /// The batch wait as a duration.
    pub fn batch_wait(&self) -> Duration {
        Duration::from_millis(self.batch_wait_ms)
    }
}

fn default_batch_events() -> usize {
    4096
}
fn default_batch_wait_ms() -> u64 {
    0
}
fn default_queue() -> usize {
    64
}
fn default_queue_events() -> usize {
    32_768
}
