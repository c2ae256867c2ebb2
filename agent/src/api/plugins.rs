//! `GET /api/v1/plugins`: every loaded plugin with its world, version, digest, state, limits,
//! calls, latency, failures, restarts and last error; detectors also with their fallback use
//! and last snapshot, summarizers with their window and queue.

use super::AppState;
use crate::detect::DetectorStatus;
use crate::summarize::SummarizerStatus;
use axum::Json;
use axum::extract::State;
use serde::Serialize;

/// `GET /api/v1/plugins` body.
#[derive(Serialize)]
pub struct Plugins {
    /// Detector plugins, in config order.
    pub detectors: Vec<DetectorStatus>,
    /// Summarizer plugins, in config order.
    pub summarizers: Vec<SummarizerStatus>,
}

pub async fn list(State(state): State<AppState>) -> Json<Plugins> {
    Json(Plugins { detectors: state.detectors.status(), summarizers: state.summaries.status() })
}
