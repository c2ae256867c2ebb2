//! Bearer-token auth: when `[api] token` is set, every route but `/` and `/health` needs
//! `Authorization: Bearer <token>` (RFC 6750). A `?token=` query parameter, percent-encoded
//! as browsers write it, is taken too: WebSockets need it, since browsers cannot set headers on
//! them; elsewhere the header is better, as URLs end up in proxies' and shells' logs.

use super::{ApiError, AppState};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;
use std::borrow::Cow;

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
    // A header of another scheme (a proxy's Basic auth passed on) is not ours: the query may
    // still carry the token.
    let header = request.headers().get(header::AUTHORIZATION).map(|v| v.to_str().ok().and_then(bearer_token));
    let given = match header {
        Some(Some(bearer)) => Some(Cow::Borrowed(bearer)),
        _ => request.uri().query().and_then(query_token),
    };
    if given.as_deref().is_some_and(|g| constant_time_eq(g.as_bytes(), token.as_bytes())) {
        return next.run(request).await;
    }
    unauthorized(match (given, header) {
        (Some(_), _) => "the token is not valid; check [api] token",
        (None, Some(None)) => "the Authorization header is not a bearer token: send Authorization: Bearer <token>",
        (None, _) => "this endpoint needs a token: send Authorization: Bearer <token> (WebSockets may use ?token=)",
    })
}

/// A 401 that says how to authenticate, in the JSON body and in `WWW-Authenticate`.
fn unauthorized(message: &'static str) -> Response {
    let mut response = ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message).into_response();
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"vigil\""));
    response
}

/// The token of an `Authorization` value: the scheme is case-insensitive (RFC 9110 11.1).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The `token` parameter of a query string, percent-decoded (`encodeURIComponent` writes a
/// base64 token's `+`, `/` and `=` as `%2B`, `%2F`, `%3D`). A `+` stays a `+`: tokens are not
/// form text, and a raw base64 token must keep working.
fn query_token(query: &str) -> Option<Cow<'_, str>> {
    let raw = query.split('&').find_map(|pair| pair.strip_prefix("token="))?;
    Some(percent_decode_str(raw).decode_utf8_lossy())
}

/// Compare without leaking, through timing, how much of the token matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
