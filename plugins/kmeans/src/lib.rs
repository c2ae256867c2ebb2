//! A k-means detector plugin for Vigil: traffic is summarised by k centroids (fitted with
//! linfa-clustering on a reservoir sample of past events), and an event scores by its distance
//! to the nearest one.
//!
//! Glue only. Features come from the SDK's helpers (`features`), the fit and the score
//! mapping live in `clusters` (no SDK types), the learned state and its schedule in `model`,
//! and `detector` implements the SDK's `Detector` on top. Built as a wasm component for the
//! agent, and as an rlib so [`KMeansDetector`] can be driven natively (tests, benchmarks).

mod clusters;
mod config;
mod detector;
mod features;
mod model;

pub use config::Config;
pub use detector::KMeansDetector;

// Only in the component: natively the export symbols would clash with another plugin's when
// both rlibs are linked into one binary (the agent's scoring benchmark links two).
#[cfg(target_family = "wasm")]
vigil_plugin_sdk::export_detector!(KMeansDetector);
