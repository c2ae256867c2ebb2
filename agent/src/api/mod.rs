//! The HTTP API of `../shared/API.md`: routes, shared state, and the JSON error type. Every
//! answer is JSON, including 404, 405 and every rejection of bad input.

mod anomaly;
mod error;
mod info;
mod request;
#[cfg(test)]
mod tests;

pub use error::ApiError;

use crate::config::ApiSettings;
use crate::detect::DetectorSet;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use std::sync::Arc;
use std::time::Instant;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The running detectors.
    pub detectors: Arc<DetectorSet>,
    /// API limits.
    pub settings: Arc<ApiSettings>,
    /// When the agent started.
    pub started: Instant,
}

/// The whole API as a router, testable without a socket.
pub fn router(state: AppState) -> Router {
    let body_limit = state.settings.max_body_bytes;
    Router::new()
        .route("/", get(info::root))
        .route("/health", get(info::health))
        .route("/chat", post(info::chat))
        .route("/anomaly_detection", post(anomaly::detect))
        .fallback(info::not_found)
        .method_not_allowed_fallback(info::method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}
