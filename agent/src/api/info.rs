//! The small endpoints: `/` (who is running), `/health`, and the
//! JSON answers for unknown paths and methods.

use super::{ApiError, AppState};
use crate::detect::DetectorStatus;
use axum::Json;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use serde::Serialize;

/// `GET /` body.
#[derive(Serialize)]
pub struct Root {
    message: &'static str,
    version: &'static str,
}

pub async fn root() -> Json<Root> {
    Json(Root { message: "Vigil log management server is running", version: env!("CARGO_PKG_VERSION") })
}

/// `GET /health` body.
#[derive(Serialize)]
pub struct Health {
    status: &'static str,
    timestamp: String,
    version: &'static str,
    uptime_seconds: u64,
    detectors: Vec<DetectorStatus>,
}

pub async fn health(State(state): State<AppState>) -> Json<Health> {
    let detectors = state.detectors.status();
    // Degraded only while something is actually broken: a detector whose last call failed.
    let status = if detectors.iter().any(|d| d.state != "ready") { "degraded" } else { "healthy" };
    let timestamp = jiff::Timestamp::now().round(jiff::Unit::Second).expect("rounding to seconds").to_string();
    Json(Health {
        status,
        timestamp,
        version: env!("CARGO_PKG_VERSION"),
        uptime_seconds: state.started.elapsed().as_secs(),
        detectors,
    })
}

pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no endpoint at {}; see GET / and the README for the API", uri.path()),
    )
}

pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed on {}", uri.path()),
    )
}
