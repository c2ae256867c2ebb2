//! Vigil: a sidecar log agent that scores every event for anomalies with WebAssembly plugins.
//!
//! The modules follow the data flow:
//! - [`config`]: the TOML config, parsed raw and resolved into a validated [`Config`].
//! - [`source`]: where events come from; `file` tails log files through rotation.
//! - [`parse`]: a source's line formats (combined, common, json, regex, raw) into events.
//! - [`event`]: the one event model every source produces and every plugin sees.
//! - [`pipeline`]: bounded queues and batching from sources through detection to the store.
//! - [`detect`]: the wasmtime plugin host; detectors score batches of events.
//! - [`store`]: the embedded SQLite store; events, anomalies and checkpoints commit together.
//! - [`summarize`]: summarizer plugins fold committed batches into windows and store summaries.
//! - [`embed`]: text to vectors (hashed n-grams by default, no model download).
//! - [`vector`]: vector search (embedded or ChromaDB) and the outbox drain into Chroma.
//! - [`chat`]: `/chat` questions answered from the store with exact numbers.
//! - [`api`]: the HTTP and WebSocket API of `API.md` and the `/api/v1` queries.
//! - [`templates`]: Drain template mining; non-access lines get a template id.
//! - [`eval`]: `vigil eval`, detection quality on public labeled data.
//! - [`telemetry`]: the agent's own metrics (`/metrics`) and OpenTelemetry export.
//! - [`memory`]: glibc allocator settings, and handing idle memory back to the OS.
//! - [`server`]: starting the agent from a config and stopping it on a signal.
//!
//! `main.rs` only parses the command line and calls [`run`].

pub mod api;
pub mod attack;
pub mod chat;
pub mod config;
pub mod detect;
pub mod embed;
pub mod eval;
pub mod event;
pub mod memory;
pub mod parse;
pub mod pipeline;
pub mod reload;
mod server;
pub mod source;
pub mod store;
pub mod summarize;
pub mod telemetry;
pub mod templates;
#[cfg(test)]
mod testing;
pub mod vector;

pub use config::Config;
pub use server::{Agent, RunError, run};
