//! The HTTP and WebSocket API of `../shared/API.md`: routes, shared state, auth, and the JSON
//! error type. Every answer is JSON, including 401, 404, 405 and every rejection of bad input.

mod anomaly;
mod auth;
mod chat;
mod encoding;
mod error;
mod info;
mod metrics;
mod openapi;
mod plugins;
mod query;
mod request;
mod summaries;
#[cfg(test)]
mod tests;
mod ui;
mod ws;

pub use error::ApiError;
pub use query::source_counters;

use crate::config::ApiSettings;
use crate::detect::DetectorSet;
use crate::pipeline::Pipeline;
use crate::source::SourceRegistry;
use crate::store::Store;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{any, get, post};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

/// What every handler can reach: one shared [`AppContext`]. Axum clones the state for every
/// extraction (the auth layer's and the handler's, per request), and a clone of the context
/// itself touched some twenty reference counts; this one touches one.
#[derive(Clone)]
pub struct AppState(Arc<AppContext>);

impl std::ops::Deref for AppState {
    type Target = AppContext;

    fn deref(&self) -> &AppContext {
        &self.0
    }
}

impl From<AppContext> for AppState {
    fn from(context: AppContext) -> Self {
        AppState(Arc::new(context))
    }
}

/// The agent's parts the API works with; shared behind [`AppState`].
pub struct AppContext {
    /// The running detectors.
    pub detectors: Arc<DetectorSet>,
    /// API limits and token; a reload swaps them.
    pub settings: Arc<arc_swap::ArcSwap<ApiSettings>>,
    /// The config file and how its last reload went, for `/health`.
    pub config: Arc<std::sync::Mutex<crate::reload::ConfigStatus>>,
    /// Where accepted events go to be stored.
    pub pipeline: Pipeline,
    /// The store, for queries.
    pub store: Arc<Store>,
    /// Live counters of the sources.
    pub sources: SourceRegistry,
    /// Requests and frames refused as bad input since start.
    pub rejected: Arc<AtomicU64>,
    /// Turns true when the agent is shutting down: long-lived WebSockets close then.
    pub shutdown: Arc<tokio::sync::watch::Sender<bool>>,
    /// When the agent started.
    pub started: Instant,
    /// Answers `/chat` questions.
    pub chat: Arc<crate::chat::Chat>,
    /// Vector search (embedded or Chroma) and, with Chroma, the link's state.
    pub vectors: crate::vector::VectorIndex,
    /// The summarizers' status.
    pub summaries: crate::summarize::SummaryBoard,
}

impl AppContext {
    /// Count one request or frame refused as bad input (`rejected_total`).
    pub fn count_rejected(&self) {
        self.rejected.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// `input` as read from a request, with a refusal of it (a 4xx) counted in
    /// `rejected_total`, whatever was wrong with it.
    pub fn counted<T>(&self, input: Result<T, ApiError>) -> Result<T, ApiError> {
        if input.as_ref().is_err_and(|e| e.status.is_client_error()) {
            self.count_rejected();
        }
        input
    }
}

/// The whole API as a router, testable without a socket.
pub fn router(state: AppState) -> Router {
    let body_limit = state.settings.load().max_body_bytes;
    Router::new()
        .route("/", get(info::root))
        .route("/health", get(info::health))
        .route("/chat", post(chat::chat))
        .route("/anomaly_detection", post(anomaly::detect))
        .route("/api/v1/stats", get(query::stats).layer(gzip()))
        .route("/api/v1/logs", get(query::logs).layer(gzip()))
        .route("/api/v1/anomalies", get(query::anomalies).layer(gzip()))
        .route("/api/v1/plugins", get(plugins::list).layer(gzip()))
        .route("/api/v1/summaries", get(summaries::list).layer(gzip()))
        .route("/metrics", get(metrics::scrape).layer(gzip()))
        .route("/openapi.json", get(openapi::document).layer(gzip()))
        .route("/ws", any(ws::monitor))
        .route("/ws/application", any(ws::application))
        .fallback(info::not_found)
        .method_not_allowed_fallback(info::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::require_token))
        // After the auth layer: the dashboard page is open and asks for the token itself.
        .merge(ui::router())
        .layer(DefaultBodyLimit::max(body_limit))
        // Outermost: a browser's preflight (OPTIONS, without the token) is answered here.
        .layer(cors(&state))
        .with_state(state)
}

/// Gzip for the query answers, which can be large (a page of 1,000 logs: ~290 KB plain), to
/// clients that accept it; under a kilobyte it is not worth the CPU. Not for ingest answers:
/// applications send from the same machine, where the agent's CPU is what counts.
fn gzip() -> tower_http::compression::CompressionLayer<tower_http::compression::predicate::SizeAbove> {
    use tower_http::compression::{CompressionLayer, predicate::SizeAbove};
    CompressionLayer::new().gzip(true).compress_when(SizeAbove::new(1024))
}

/// CORS for the origins of `[api] cors_origins`, read at each request so a reload applies.
/// Any other origin gets no CORS headers, and its page cannot read the answers.
fn cors(state: &AppState) -> tower_http::cors::CorsLayer {
    use axum::http::{Method, header};
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let settings = state.settings.clone();
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            let allowed = &settings.load().cors_origins;
            allowed.iter().any(|a| a == "*" || a.as_bytes() == origin.as_bytes())
        }))
        .allow_methods([Method::GET, Method::HEAD, Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::CONTENT_ENCODING])
        .max_age(std::time::Duration::from_secs(3600))
}
