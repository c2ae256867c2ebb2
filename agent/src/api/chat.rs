//! `POST /chat`: `{"query": "..."}` → `{"response": "...", ...}` (API.md). The question is
//! answered by [`crate::chat`]; this file checks the request and maps failures to JSON errors.

use super::{ApiError, AppState};
use crate::chat::{Answer, ChatError};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use serde::Deserialize;

/// Longest question accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 2_000;

/// The request body. Unknown fields are ignored, so a client may send more (e.g. a session id).
#[derive(Deserialize)]
struct ChatRequest {
    query: String,
}

pub async fn chat(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Answer>, ApiError> {
    let query = state.counted(decode(&headers, body))?;
    let answer = state.chat.answer(state.store.clone(), query).await.map_err(|e| {
        tracing::error!(error = %e, "chat could not read the store");
        let message = match e {
            ChatError::Store(e) => format!("the store could not answer: {e}; retry shortly"),
            ChatError::Interrupted(e) => format!("{e}; retry shortly"),
        };
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable", message)
    })?;
    Ok(Json(answer))
}

/// The question of a request, or the 4xx that says what is wrong with it.
fn decode(headers: &HeaderMap, body: Result<Bytes, BytesRejection>) -> Result<String, ApiError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("application/json") {
        let got = if content_type.is_empty() { "none".to_owned() } else { format!("{content_type:?}") };
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("Content-Type is {got}; send {{\"query\": \"...\"}} with Content-Type: application/json"),
        ));
    }
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large("body_too_large", "the body is over the api.max_body_bytes limit")
        } else {
            ApiError::new(rejection.status(), "bad_body", rejection.body_text())
        }
    })?;
    let value: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
        ApiError::malformed_json(format!(
            "the body is not valid JSON ({e}); send {{\"query\": \"how many 500s in the last hour?\"}}"
        ))
    })?;
    if !value.is_object() {
        return Err(ApiError::unprocessable("wrong_type", "request body: expected a JSON object {\"query\": \"...\"}"));
    }
    let request: ChatRequest = serde_json::from_value(value).map_err(|e| {
        let code = if e.to_string().starts_with("missing field") { "missing_field" } else { "wrong_type" };
        ApiError::unprocessable(code, format!("query: {e}; send {{\"query\": \"your question\"}}"))
    })?;
    let query = request.query.trim();
    if query.is_empty() {
        return Err(ApiError::unprocessable(
            "empty_query",
            "query is empty: ask a question, e.g. \"how many 500s in the last hour?\"",
        ));
    }
    let chars = query.chars().count();
    if chars > MAX_QUERY_CHARS {
        return Err(ApiError::too_large(
            "query_too_long",
            format!("query has {chars} characters; the limit is {MAX_QUERY_CHARS}: ask a shorter question"),
        ));
    }
    if let Some((at, c)) = query.char_indices().find(|(_, c)| c.is_control() && !matches!(c, '\n' | '\t' | '\r')) {
        return Err(ApiError::unprocessable(
            "control_character",
            format!("query has the control character U+{:04X} at byte {at}; send plain text", c as u32),
        ));
    }
    Ok(query.to_owned())
}
