//! `GET /api/v1/stats`, `/api/v1/logs` and `/api/v1/anomalies`: what the agent has counted
//! and stored, with filters. Query parameters are checked, and a bad one is a 400 that names
//! it.

use super::{ApiError, AppState};
use crate::store::{LogQuery, MAX_LIMIT, StatusFilter, StoredEvent};
use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::atomic::Ordering;

/// Query parameters of the log endpoints, as text: parsed by hand to name the bad one.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LogParams {
    from: Option<String>,
    to: Option<String>,
    ip: Option<String>,
    status: Option<String>,
    q: Option<String>,
    limit: Option<String>,
    before_id: Option<String>,
    after_id: Option<String>,
    /// Checked by the auth layer; allowed here so `?token=` does not fail the query.
    #[serde(rename = "token")]
    _token: Option<String>,
}

fn bad(param: &str, message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_parameter", format!("{param}: {message}"))
}

/// A time parameter (`from`, `to`).
fn time(param: &str, value: Option<&str>) -> Result<Option<jiff::Timestamp>, ApiError> {
    value
        .map(|v| {
            v.parse::<jiff::Timestamp>().map_err(|e| {
                // An offset's `+` left unencoded in a URL arrives as a space.
                let hint = if v.contains(' ') { "; in a URL, write an offset's + as %2B" } else { "" };
                bad(param, format!("{v:?} is not a time the agent can use ({e}); expected RFC 3339, e.g. 2025-04-01T12:00:00Z{hint}"))
            })
        })
        .transpose()
}

/// `time` in whole milliseconds since the Unix epoch, rounded `up` or down.
fn millis(time: jiff::Timestamp, up: bool) -> i64 {
    let (nanos, per_ms) = (time.as_nanosecond(), 1_000_000);
    let ms = if up { -(-nanos).div_euclid(per_ms) } else { nanos.div_euclid(per_ms) };
    // jiff's timestamps span the years -9999 to 9999: their milliseconds fit.
    ms as i64
}

/// `from` and `to` (exclusive) as milliseconds; `to` must be later than `from`. Times are
/// stored to the millisecond, so a window with finer digits is widened to whole milliseconds,
/// `from` down and `to` up, and keeps every event listed in it: cut down, `to=…00.9995Z` left
/// out an event listed at `…00.999Z`.
pub(super) fn window(from: Option<&str>, to: Option<&str>) -> Result<(Option<i64>, Option<i64>), ApiError> {
    let (from, to) = (time("from", from)?, time("to", to)?);
    if let (Some(from), Some(to)) = (from, to)
        && from >= to
    {
        return Err(bad("to", "must be later than from (the window is from <= time < to)".into()));
    }
    Ok((from.map(|t| millis(t, false)), to.map(|t| millis(t, true))))
}

impl LogParams {
    fn resolve(&self, anomalies_only: bool) -> Result<LogQuery, ApiError> {
        let status = self
            .status
            .as_deref()
            .map(|s| {
                let class = s.strip_suffix("xx").or_else(|| s.strip_suffix("XX"));
                match class {
                    Some(c) => c.parse::<u8>().ok().filter(|c| (1..=5).contains(c)).map(StatusFilter::Class),
                    None => s.parse::<u16>().ok().filter(|c| (100..=599).contains(c)).map(StatusFilter::Exact),
                }
                .ok_or_else(|| bad("status", format!("{s:?} is neither a status 100-599 nor a class like 5xx")))
            })
            .transpose()?;
        let limit = self
            .limit
            .as_deref()
            .map(|l| {
                l.parse::<usize>()
                    .ok()
                    .filter(|l| (1..=MAX_LIMIT).contains(l))
                    .ok_or_else(|| bad("limit", format!("{l:?} is not a number 1-{MAX_LIMIT}")))
            })
            .transpose()?;
        let id = |param: &str, value: &Option<String>| {
            value
                .as_deref()
                .map(|b| b.parse::<i64>().map_err(|_| bad(param, format!("{b:?} is not an id"))))
                .transpose()
        };
        let (before_id, after_id) = (id("before_id", &self.before_id)?, id("after_id", &self.after_id)?);
        if before_id.is_some() && after_id.is_some() {
            return Err(bad(
                "after_id",
                "not with before_id: before_id pages newest first, after_id oldest first".into(),
            ));
        }
        let (from_ms, to_ms) = window(self.from.as_deref(), self.to.as_deref())?;
        Ok(LogQuery {
            from_ms,
            to_ms,
            // An address is searched for as it is stored (`request::canonical_ip`).
            ip: self.ip.clone().map(|ip| match ip.parse() {
                Ok(parsed) => super::request::canonical_ip(parsed, ip),
                Err(_) => ip,
            }),
            status,
            q: self.q.clone().filter(|q| !q.is_empty()),
            limit,
            anomalies_only,
            before_id,
            after_id,
        })
    }
}

fn event_json(stored: &StoredEvent) -> Value {
    let e = &stored.event;
    json!({
        "id": stored.id,
        "timestamp": jiff::Timestamp::from_millisecond(e.timestamp_ms).map(|t| t.to_string()).unwrap_or_default(),
        "ip": e.ip,
        "method": e.method,
        "url": e.url,
        "status_code": e.status_code,
        "bytes_sent": e.bytes_sent,
        "user_agent": e.user_agent,
        "referer": e.referer,
        "latency_ms": e.latency_ms,
        "source": e.source,
        "raw": e.raw,
        "fields": e.fields,
        "anomaly_score": stored.anomaly_score.map(score_json),
        "anomalous": stored.anomalous,
        "template_id": e.template_id,
        "template": stored.template,
    })
}

fn query_failed(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "store query failed");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "store_unavailable",
        format!("the store could not answer: {e}; retry shortly"),
    )
}

fn params(query: Result<Query<LogParams>, axum::extract::rejection::QueryRejection>) -> Result<LogParams, ApiError> {
    query.map(|Query(p)| p).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            format!("{}; the parameters are from, to, ip, status, q, limit, before_id, after_id", e.body_text()),
        )
    })
}

pub async fn logs(
    State(state): State<AppState>,
    query: Result<Query<LogParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let query = state.counted(params(query).and_then(|p| p.resolve(false)))?;
    let after = query.after_id;
    let store = state.store.clone();
    let rows =
        tokio::task::spawn_blocking(move || store.logs(&query)).await.map_err(query_failed)?.map_err(query_failed)?;
    let logs: Vec<Value> = rows.iter().map(event_json).collect();
    Ok(Json(page("logs", logs, rows.last().map(|r| r.id), after)))
}

pub async fn anomalies(
    State(state): State<AppState>,
    query: Result<Query<LogParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let query = state.counted(params(query).and_then(|p| p.resolve(true)))?;
    let after = query.after_id;
    let store = state.store.clone();
    let rows = tokio::task::spawn_blocking(move || store.anomalies(&query))
        .await
        .map_err(query_failed)?
        .map_err(query_failed)?;
    let last = rows.last().map(|r| r.id);
    let anomalies: Vec<Value> = rows
        .iter()
        .map(|a| {
            let mut v = event_json(&a.event);
            v["anomaly_id"] = json!(a.id);
            v["detector"] = json!(a.detector);
            v["reason"] = json!(a.reason);
            v["anomaly_score"] = score_json(a.score);
            v
        })
        .collect();
    Ok(Json(page("anomalies", anomalies, last, after)))
}

/// A page of rows with its cursor: `next_before_id` (newest first), or with `after_id`,
/// `next_after_id` (oldest first; the given one again on an empty page, to poll with).
fn page(key: &str, rows: Vec<Value>, last: Option<i64>, after_id: Option<i64>) -> Value {
    match after_id {
        Some(after) => json!({ key: rows, "next_before_id": null, "next_after_id": last.unwrap_or(after) }),
        None => json!({ key: rows, "next_before_id": last }),
    }
}

pub async fn stats(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let store = state.store.clone();
    let counts =
        tokio::task::spawn_blocking(move || store.counts()).await.map_err(query_failed)?.map_err(query_failed)?;
    let p = state.pipeline.stats();
    let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    let rejected = state.rejected.load(Ordering::Relaxed);
    Ok(Json(json!({
        "events_total": load(&p.committed),
        "anomalies_total": load(&p.anomalies),
        "rejected_total": rejected,
        "since_start": {
            "submitted": load(&p.submitted),
            "committed": load(&p.committed),
            "anomalies": load(&p.anomalies),
            "batches": load(&p.batches),
            "score_failures": load(&p.score_failures),
            "commit_failures": load(&p.commit_failures),
            "rejected": rejected,
        },
        "store": {
            "events": counts.events,
            "anomalies": counts.anomalies,
            "bytes_on_disk": counts.bytes_on_disk,
            "bytes_used": counts.bytes_used,
            "per_source": counts.per_source.iter().map(|(s, n)| json!({ "source": s, "events": n })).collect::<Vec<_>>(),
        },
        "sources": source_counters(&state, &p.instruments),
        "queues": { "pipeline": state.pipeline.queue_depth() },
        "chroma": chroma_status(&state).await?,
    })))
}

/// Each source's counters: the file sources' own, and for every source the events committed
/// from it since start (`events`), HTTP ingest as `api` and WebSocket ingest as `ws`.
pub fn source_counters(state: &AppState, instruments: &crate::telemetry::Instruments) -> Value {
    let mut sources = state.sources.snapshot();
    if let Value::Object(files) = &mut sources {
        for (name, counters) in files.iter_mut() {
            counters["events"] = json!(instruments.events_in(&format!("file:{name}")));
        }
        for (name, kind) in [("api", "http"), ("ws", "websocket")] {
            files.insert(name.to_owned(), json!({ "type": kind, "events": instruments.events_in(name) }));
        }
    }
    sources
}

/// The Chroma link's state with the outbox's depth as of now (`/health` shows the depth as of
/// the drain task's last look, without a query).
async fn chroma_status(state: &AppState) -> Result<Option<crate::vector::LinkStatus>, ApiError> {
    let Some(link) = state.vectors.chroma() else { return Ok(None) };
    let store = state.store.clone();
    let depth =
        tokio::task::spawn_blocking(move || store.outbox_depth()).await.map_err(query_failed)?.map_err(query_failed)?;
    Ok(Some(crate::vector::LinkStatus { outbox: depth, ..link.status() }))
}

/// A score as JSON, written as the shortest decimal of its `f32`, as `POST /anomaly_detection`
/// and `/ws` write it: a `Value` holds numbers as `f64`, and the widened `f32` printed as
/// 0.7218618392944336 where the others print 0.72186184.
pub fn score_json(score: f32) -> Value {
    score.to_string().parse::<f64>().map_or(Value::Null, Value::from)
}
