//! `POST /anomaly_detection`: validate a batch, score it with every detector, and answer in
//! the exact shape of API.md.

use super::request::{self, ValidLog};
use super::{ApiError, AppState};
use crate::detect::Scored;
use crate::event::Event;
use crate::pipeline::Submission;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use serde::Serialize;
use std::time::Instant;

/// Batches at least this big are scored on the blocking pool, so a large batch never stalls
/// the runtime's workers; smaller ones are cheaper to score in place.
const BLOCKING_BATCH: usize = 256;

/// The response body.
#[derive(Serialize, Debug)]
pub struct Response {
    total_logs: usize,
    anomalies_detected: usize,
    anomaly_details: Vec<Detail>,
    prediction_time: String,
}

/// One anomalous log.
#[derive(Serialize, Debug)]
pub struct Detail {
    timestamp: String,
    ip: String,
    method: String,
    url: String,
    status_code: u16,
    anomaly_score: f32,
    /// Position of the log in the request.
    index: usize,
    /// Id of the stored event.
    id: Option<i64>,
    /// The detector that gave the score.
    detector: String,
    /// Why it is anomalous, in the detector's words.
    reason: String,
}

pub async fn detect(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Response>, ApiError> {
    let started = Instant::now();
    // Every refusal of the input counts once in `rejected_total`, whatever was wrong with it.
    let logs = state.counted(read_logs(&state, &headers, body))?;

    let (logs, scored) = score(&state, logs).await?;
    let total_logs = logs.len();
    let mut anomaly_details: Vec<Detail> = logs
        .iter()
        .zip(&scored)
        .enumerate()
        .filter(|(_, (_, s))| s.anomalous)
        .map(|(index, (log, s))| Detail {
            timestamp: log.timestamp.clone(),
            ip: log.event.ip.clone(),
            method: log.event.method.clone(),
            url: log.event.url.clone(),
            status_code: log.event.status_code,
            anomaly_score: s.score,
            index,
            id: None,
            detector: s.detector.to_string(),
            reason: s.reason.clone(),
        })
        .collect();
    let events = logs.into_iter().map(|l| l.event).collect();
    if let Some(ids) = store(&state, events, scored).await? {
        for detail in &mut anomaly_details {
            detail.id = Some(ids.start() + detail.index as i64);
        }
    }
    Ok(Json(Response {
        total_logs,
        anomalies_detected: anomaly_details.len(),
        anomaly_details,
        prediction_time: format!("{:.6}", started.elapsed().as_secs_f64()),
    }))
}

/// The validated logs of a request, or why it is refused: not declared JSON (415), over the
/// byte limit (413), not in a coding it says or supports (400, 415), or not valid logs (400,
/// 413, 422).
fn read_logs(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Vec<ValidLog>, ApiError> {
    require_json(headers)?;
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(
                "body_too_large",
                format!(
                    "the body is over the {} byte limit (api.max_body_bytes): split the batch",
                    state.settings.load().max_body_bytes
                ),
            )
        } else {
            ApiError::new(rejection.status(), "bad_body", rejection.body_text())
        }
    })?;
    let body = super::encoding::decoded_body(headers, body, state.settings.load().max_body_bytes)?;
    request::decode(&body, state.settings.load().max_batch_logs)
}

/// 415 unless the body is declared JSON.
fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim();
    if mime.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        let got = if content_type.is_empty() { "none".to_owned() } else { format!("{content_type:?}") };
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("Content-Type is {got}; send the logs as JSON with Content-Type: application/json"),
        ))
    }
}

/// Score with every detector, off the runtime for big batches. When no detector nor its
/// fallback could score the batch, the request is refused before anything of it is stored:
/// the answer must give each anomaly its score (API.md), and a 503 that stored nothing is safe
/// to resend (a batch stored unscored and then resent would be stored twice). A detector
/// failure is the agent's fault, not the client's: 503 with the plugin's error.
async fn score(state: &AppState, logs: Vec<ValidLog>) -> Result<(Vec<ValidLog>, Vec<Scored>), ApiError> {
    let unavailable = |e: crate::detect::PluginError| {
        tracing::error!(error = %e, "scoring failed; the request is refused and nothing of it stored");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "detector_unavailable",
            format!("scoring failed: {e}; nothing of this request was stored: retry it"),
        )
    };
    let detectors = state.detectors.clone();
    let pipeline = state.pipeline.clone();
    let run = move |logs: Vec<ValidLog>| {
        let events: Vec<&Event> = logs.iter().map(|l| &l.event).collect();
        let started = Instant::now();
        let scored = detectors.score(&events);
        pipeline.stats().instruments.observe_scoring(&detectors, started.elapsed());
        (logs, scored)
    };
    let (logs, scored) = if logs.len() >= BLOCKING_BATCH {
        tokio::task::spawn_blocking(move || run(logs)).await.map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "detector_unavailable",
                format!("scoring was interrupted: {e}; nothing of this request was stored: retry it"),
            )
        })?
    } else {
        run(logs)
    };
    Ok((logs, scored.map_err(unavailable)?))
}

/// Ingest the scored logs like any other source, and wait until they are committed: what the
/// API answered for is never lost.
async fn store(
    state: &AppState,
    events: Vec<Event>,
    scored: Vec<Scored>,
) -> Result<Option<std::ops::RangeInclusive<i64>>, ApiError> {
    let submission = Submission { events, scored: Some(scored), checkpoints: Vec::new(), reply: None };
    let (submission, reply) = submission.with_reply();
    let unavailable = || {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the agent is shutting down; resend to the restarted agent",
        )
    };
    state.pipeline.submit(submission).await.map_err(|_| unavailable())?;
    match reply.await {
        Ok(Ok(accepted)) => Ok(accepted.ids),
        _ => Err(unavailable()),
    }
}
