//! `GET /api/v1/summaries?from=&to=&limit=&summarizer=&before_id=`: the summaries written by
//! summarizer plugins, newest window first, paged by `next_before_id`, and every summarizer's
//! status (what it folded and skipped).

use super::{ApiError, AppState};
use crate::store::{SUMMARY_MAX_LIMIT, SummaryQuery};
use crate::summarize::summary_json;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

/// Query parameters, as text: parsed by hand to name the bad one.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SummaryParams {
    from: Option<String>,
    to: Option<String>,
    limit: Option<String>,
    summarizer: Option<String>,
    before_id: Option<String>,
    /// Checked by the auth layer; allowed here so `?token=` does not fail the query.
    #[serde(rename = "token")]
    _token: Option<String>,
}

fn bad(param: &str, message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_parameter", format!("{param}: {message}"))
}

impl SummaryParams {
    fn resolve(self) -> Result<SummaryQuery, ApiError> {
        let limit = self
            .limit
            .as_deref()
            .map(|l| {
                l.parse::<usize>()
                    .ok()
                    .filter(|l| (1..=SUMMARY_MAX_LIMIT).contains(l))
                    .ok_or_else(|| bad("limit", format!("{l:?} is not a number 1-{SUMMARY_MAX_LIMIT}")))
            })
            .transpose()?;
        let before_id = self
            .before_id
            .as_deref()
            .map(|b| b.parse::<i64>().map_err(|_| bad("before_id", format!("{b:?} is not a summary id"))))
            .transpose()?;
        let (from_ms, to_ms) = super::query::window(self.from.as_deref(), self.to.as_deref())?;
        let summarizer = self.summarizer.filter(|s| !s.is_empty());
        Ok(SummaryQuery { from_ms, to_ms, summarizer, limit, before_id })
    }
}

pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<SummaryParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let parsed = query
        .map_err(|e| {
            bad("query", format!("{}; the parameters are from, to, limit, summarizer, before_id", e.body_text()))
        })
        .and_then(|Query(params)| params.resolve());
    let query = state.counted(parsed)?;
    let store = state.store.clone();
    let rows = tokio::task::spawn_blocking(move || store.summaries(&query))
        .await
        .map_err(unavailable)?
        .map_err(unavailable)?;
    Ok(Json(json!({
        "summaries": rows.iter().map(summary_json).collect::<Vec<_>>(),
        "next_before_id": rows.last().map(|s| s.id),
        "summarizers": state.summaries.status(),
    })))
}

fn unavailable(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "summary query failed");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "store_unavailable",
        format!("the store could not answer: {e}; retry shortly"),
    )
}
