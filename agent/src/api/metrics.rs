//! `GET /metrics`: the agent's counters, queue depths and latency histograms in the
//! Prometheus text format. The numbers are the ones `/api/v1/stats` shows, read at scrape
//! time, plus the histograms recorded by the pipeline.

use super::AppState;
use crate::telemetry::metrics::{self, ChromaReading, PluginReading, Readings, SourceReading};
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use std::sync::atomic::{AtomicU64, Ordering};

/// The agent's counters, as [`metrics::render`] and the OTLP exporter read them.
pub fn readings(state: &AppState) -> Readings {
    let p = state.pipeline.stats();
    let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let sources = match state.sources.snapshot() {
        serde_json::Value::Object(map) => map
            .iter()
            .map(|(name, c)| {
                let n = |key: &str| c.get(key).and_then(serde_json::Value::as_u64).unwrap_or(0);
                // The events of source `web` of type `file` carry `source: "file:web"`: label both alike.
                let name = match c.get("type").and_then(serde_json::Value::as_str) {
                    Some(kind) => format!("{kind}:{name}"),
                    None => name.clone(),
                };
                SourceReading {
                    name,
                    lines: n("lines"),
                    parse_errors: n("parse_errors"),
                    read_errors: n("read_errors"),
                    files: n("files"),
                    skipped_files: n("skipped_files"),
                }
            })
            .collect(),
        _ => Vec::new(),
    };
    let summarizers = state.summaries.status();
    // Detectors and summarizers side by side under their names: both are plugins.
    let plugins = state
        .detectors
        .status()
        .into_iter()
        .map(|d| PluginReading {
            failing: d.state != "ready",
            name: d.name,
            calls: d.calls,
            failures: d.failures,
            memory_bytes: d.memory_bytes,
        })
        .chain(summarizers.iter().map(|s| PluginReading {
            failing: s.state == "failing",
            name: s.name.clone(),
            calls: s.calls,
            failures: s.failures,
            memory_bytes: s.memory_bytes,
        }))
        .collect();
    let mut queues = vec![("pipeline".to_owned(), state.pipeline.queue_depth() as u64)];
    queues.extend(summarizers.iter().map(|s| (format!("summarizer:{}", s.name), s.queued)));
    let chroma = state.vectors.chroma().map(|link| {
        let status = link.status();
        ChromaReading {
            up: status.state == crate::vector::LinkState::Up,
            records_sent: status.records_sent,
            failures: status.failures_total,
            outbox_events: status.outbox.events,
            outbox_records: status.outbox.records,
        }
    });
    Readings {
        chroma,
        events_submitted: load(&p.submitted),
        events_committed: load(&p.committed),
        anomalies: load(&p.anomalies),
        batches: load(&p.batches),
        score_failures: load(&p.score_failures),
        commit_failures: load(&p.commit_failures),
        rejected: state.rejected.load(Ordering::Relaxed),
        queues,
        sources,
        plugins,
        uptime_seconds: state.started.elapsed().as_secs(),
    }
}

/// `GET /metrics`.
pub async fn scrape(State(state): State<AppState>) -> impl IntoResponse {
    let instruments = &state.pipeline.stats().instruments;
    // The drain task's last look at the outbox: a scrape never queries the store.
    if let Some(link) = state.vectors.chroma() {
        instruments.set_outbox_depth(link.status().outbox.rows);
    }
    let text = metrics::render(&readings(&state), instruments);
    ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text)
}
