//! The detector plugin host: one wasmtime [`PluginEngine`] for the process, one sandboxed
//! [`DetectorHost`] per configured detector, and the [`DetectorSet`] that scores a batch with
//! every detector. Plugins are always called per batch, never per event.

mod batch;
pub(crate) mod bindings;
pub mod builtin;
mod cache;
mod engine;
mod error;
mod fallback;
mod host;
#[cfg(test)]
mod plugin_tests;
mod sandbox;
mod set;
#[cfg(test)]
mod set_tests;
mod slot;
mod stats;
#[cfg(test)]
mod tests;
mod wasi_io;
mod wasi_wait;

pub use batch::EncodedBatch;
pub use cache::compile_in_child_processes;
pub use engine::PluginEngine;
pub(crate) use engine::{PluginState, world_error};
pub use error::PluginError;
pub use host::{DetectorHost, Verdict};
pub(crate) use host::{component_bytes, current_digest, hex_digest};
pub(crate) use sandbox::Sandbox;
pub use set::{DetectorSet, MAX_CALL_EVENTS, Scored, refusals, validate};
pub use slot::{DetectorStatus, SnapshotStatus};
pub(crate) use stats::Latency;
pub use stats::{LATENCY_BUCKETS_US, LatencyStatus, LimitsStatus};
