//! Vigil's default detector plugin: an Isolation Forest over access-log features.
//!
//! Glue only. The algorithm lives in `forest` (no SDK types), feature extraction in
//! `features`, the learned state and its schedule in `model`, and `detector` implements the
//! SDK's `Detector` on top. Built as a wasm component for the agent, and as an rlib so the
//! agent's benchmark can use [`IsolationForestDetector`] natively.

mod config;
mod detector;
mod explain;
mod features;
mod forest;
mod model;
mod reservoir;
mod rng;
mod snapshot;
mod typical;

pub use config::Config;
pub use detector::IsolationForestDetector;

vigil_plugin_sdk::export_detector!(IsolationForestDetector);
