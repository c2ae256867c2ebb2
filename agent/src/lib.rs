//! Vigil: a sidecar log agent that scores every event for anomalies with WebAssembly plugins.
//!
//! The modules follow the data flow:
//! - [`config`]: the TOML config, parsed raw and resolved into a validated [`Config`].
//! - [`event`]: the one event model every source produces and every plugin sees.
//! - [`parse`]: a source's line formats (combined, common, json, regex, raw) into events.
//! - [`detect`]: the wasmtime plugin host; detectors score batches of events.
//! - [`store`]: the embedded SQLite store; events, anomalies and checkpoints commit together.
//! - [`api`]: the HTTP API of `API.md` (`/`, `/health`, `/anomaly_detection`, `/chat`).
//! - [`server`]: starting the agent from a config and stopping it on a signal.
//!
//! `main.rs` only parses the command line and calls [`run`].

pub mod api;
pub mod config;
pub mod detect;
pub mod event;
pub mod parse;
mod server;
pub mod source;
pub mod store;
#[cfg(test)]
mod testing;

pub use config::Config;
pub use server::{Agent, RunError, run};
