//! The small endpoints: `/` (who is running), `/health`, and the
//! JSON answers for unknown paths and methods.

use super::{ApiError, AppState};
use crate::detect::DetectorStatus;
use crate::summarize::SummarizerStatus;
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
    summarizers: Vec<SummarizerStatus>,
    /// The config file, its reloads, and settings waiting for a restart.
    config: crate::reload::ConfigStatus,
    /// With `[store] kind = "chroma"`: the link to Chroma and the outbox behind it.
    #[serde(skip_serializing_if = "Option::is_none")]
    chroma: Option<crate::vector::LinkStatus>,
    /// Whether commits to the store work.
    store: StoreHealth,
}

/// The store in `/health`: `ok`, or `failing` with the latest commit's error while commits
/// fail and are retried (ingest waits for them; nothing accepted is dropped).
#[derive(Serialize)]
pub struct StoreHealth {
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// When commits began failing, RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    failing_since: Option<String>,
}

impl StoreHealth {
    fn of(failure: Option<crate::pipeline::CommitFailure>) -> StoreHealth {
        match failure {
            None => StoreHealth { state: "ok", error: None, failing_since: None },
            Some(f) => StoreHealth {
                state: "failing",
                failing_since: jiff::Timestamp::from_millisecond(f.since_ms).ok().map(|t| t.to_string()),
                error: Some(f.error),
            },
        }
    }
}

pub async fn health(State(state): State<AppState>) -> Json<Health> {
    let detectors = state.detectors.status();
    let config = state.config.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let summarizers = state.summaries.status();
    // Degraded only while something is actually broken: a detector in backoff after failing
    // or whose fallback cannot score,
    // a summarizer whose most recent call failed, a config file on disk that was refused
    // (the agent runs an older one), or commits to the store failing (a full disk).
    let chroma = state.vectors.chroma().map(|link| link.status());
    // A Chroma that is down only delays its writes (they wait in the outbox), but it is broken.
    let chroma_down = chroma.as_ref().is_some_and(|c| c.state == crate::vector::LinkState::Down);
    let summarizer_failing = summarizers.iter().any(|s| s.state == "failing");
    let store = StoreHealth::of(state.pipeline.stats().commit_failure());
    let broken = detectors.iter().any(|d| d.is_broken())
        || summarizer_failing
        || config.refused()
        || chroma_down
        || store.state != "ok";
    let status = if broken { "degraded" } else { "healthy" };
    let timestamp = jiff::Timestamp::now().round(jiff::Unit::Second).expect("rounding to seconds").to_string();
    Json(Health {
        status,
        timestamp,
        version: env!("CARGO_PKG_VERSION"),
        uptime_seconds: state.started.elapsed().as_secs(),
        detectors,
        summarizers,
        config,
        chroma,
        store,
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
