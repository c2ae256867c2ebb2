//! Bearer-token auth: when `[api] token` is set, every route but `/` and `/health` needs
//! `Authorization: Bearer <token>` (WebSockets may pass `?token=` instead, as browsers cannot
//! set headers on them).

use super::{ApiError, AppState};
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Paths open without a token.
const OPEN: &[&str] = &["/", "/health"];

pub async fn require_token(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let settings = state.settings.load();
    let Some(token) = settings.token.as_deref() else {
        return next.run(request).await;
    };
    if OPEN.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let query = request.uri().query().and_then(|q| q.split('&').find_map(|pair| pair.strip_prefix("token=")));
    let given = bearer.or(query);
    if given.is_some_and(|g| constant_time_eq(g.as_bytes(), token.as_bytes())) {
        return next.run(request).await;
    }
    let message = if given.is_some() {
        "the token is not valid; check [api] token"
    } else {
        "this endpoint needs a token: send Authorization: Bearer <token> (WebSockets may use ?token=)"
    };
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message).into_response()
}

/// Compare without leaking, through timing, how much of the token matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
