//! Vigil's default summarizer plugin: per window, counts by status class and method, error
//! rates, top IPs / URLs / user agents, response-size percentiles, anomalies with their top
//! reasons, and the URL patterns first seen in the window. Every per-key table is bounded.
//!
//! Glue only. The bounded counters live in `topk`, URL patterns and the memory of those seen
//! in `patterns`, one window's tallies in `window`, the summary's shape and wording in
//! `report`, and `summarizer` implements the SDK's `Summarizer` on top.

mod config;
mod patterns;
mod report;
mod sample;
mod summarizer;
#[cfg(test)]
mod tests;
mod topk;
mod window;

pub use config::Config;
pub use report::Report;
pub use summarizer::WindowSummary;

vigil_plugin_sdk::export_summarizer!(WindowSummary);
