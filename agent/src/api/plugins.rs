//! `GET /api/v1/plugins`: every loaded plugin with its world, version, state, limits, calls,
//! latency, failures, restarts, fallback use, last error and last snapshot.

use super::AppState;
use crate::detect::DetectorStatus;
use axum::Json;
use axum::extract::State;
use serde::Serialize;

/// `GET /api/v1/plugins` body.
#[derive(Serialize)]
pub struct Plugins {
    /// Detector plugins, in config order.
    pub detectors: Vec<DetectorStatus>,
}

pub async fn list(State(state): State<AppState>) -> Json<Plugins> {
    Json(Plugins { detectors: state.detectors.status() })
}
