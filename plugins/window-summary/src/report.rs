//! The summary of one window: its structured form (the JSON the agent stores and serves) and
//! its wording (the text people read and the agent embeds for search).

use crate::topk::TopList;
use crate::window::{CLASSES, Listed, Tally};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// A window's summary, as JSON.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// Window start and end (RFC 3339, UTC), end exclusive.
    pub window_start: String,
    pub window_end: String,
    /// Events folded into the window.
    pub events: u64,
    /// Earliest and latest event time among them (RFC 3339).
    pub first_event: Option<String>,
    pub last_event: Option<String>,
    /// Events per status class: `1xx`..`5xx`, and `other` for events without an HTTP status.
    pub status_classes: BTreeMap<&'static str, u64>,
    /// HTTP events (status 100-599).
    pub http_events: u64,
    /// (4xx + 5xx) / HTTP events; 0 without HTTP events.
    pub error_rate: f64,
    /// 5xx / HTTP events; 0 without HTTP events.
    pub server_error_rate: f64,
    /// Requests per HTTP method.
    pub methods: BTreeMap<String, u64>,
    pub top_ips: TopList,
    /// By path (query strings left out).
    pub top_urls: TopList,
    pub top_user_agents: TopList,
    /// Response sizes of HTTP events.
    pub bytes: Option<Bytes>,
    pub anomalies: Anomalies,
    pub new_url_patterns: NewPatterns,
}

/// Response-size statistics.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Bytes {
    pub total: u64,
    pub min: u64,
    pub max: u64,
    /// Nearest-rank percentiles.
    pub p50: u64,
    pub p90: u64,
    pub p95: u64,
    pub p99: u64,
    /// False when the percentiles come from a uniform sample of the window.
    pub exact: bool,
}

/// The window's anomalies.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Anomalies {
    pub count: u64,
    /// Highest score among them (0 without anomalies).
    pub max_score: f32,
    /// Most frequent reasons.
    pub top_reasons: TopList,
    /// The highest-scoring ones.
    pub highest: Vec<ListedAnomaly>,
    /// Events that could not be scored.
    pub unscored_events: u64,
}

/// One listed anomaly.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ListedAnomaly {
    pub event_id: i64,
    pub score: f32,
    pub detector: String,
    pub reason: String,
    pub timestamp: String,
    pub ip: String,
    pub method: String,
    pub url: String,
    pub status_code: u16,
}

/// URL patterns first seen in the window.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NewPatterns {
    pub count: u64,
    /// The first of them, by name.
    pub patterns: Vec<String>,
    /// True in the first window the plugin ever summarized: every pattern is new then.
    pub baseline: bool,
}

/// RFC 3339 of a Unix time in milliseconds.
pub fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map(|t| t.to_string()).unwrap_or_else(|_| ms.to_string())
}

fn percentile(sorted: &[u64], p: u64) -> u64 {
    // Nearest rank: the smallest value with at least p% of the values at or below it.
    let rank = (p as usize * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

fn rate(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}

impl Report {
    /// The report of `tally` over `[start_ms, end_ms)`.
    pub fn build(mut tally: Tally, start_ms: i64, end_ms: i64, top_n: usize, listed: usize, baseline: bool) -> Self {
        tally.keep_top_listed(listed);
        let http = tally.http_events();
        let bytes = tally.bytes_min.map(|min| {
            let mut sample = tally.bytes.items().to_vec();
            sample.sort_unstable();
            Bytes {
                total: tally.bytes_total,
                min,
                max: tally.bytes_max,
                p50: percentile(&sample, 50),
                p90: percentile(&sample, 90),
                p95: percentile(&sample, 95),
                p99: percentile(&sample, 99),
                exact: tally.bytes.is_complete(),
            }
        });
        let methods = tally.methods.top(64).top.into_iter().map(|c| (c.value, c.count)).collect();
        Report {
            window_start: rfc3339(start_ms),
            window_end: rfc3339(end_ms),
            events: tally.events,
            first_event: tally.first_ms.map(rfc3339),
            last_event: tally.last_ms.map(rfc3339),
            status_classes: CLASSES.iter().copied().zip(tally.classes).collect(),
            http_events: http,
            error_rate: rate(tally.classes[3] + tally.classes[4], http),
            server_error_rate: rate(tally.classes[4], http),
            methods,
            top_ips: tally.ips.top(top_n),
            top_urls: tally.urls.top(top_n),
            top_user_agents: tally.user_agents.top(top_n),
            bytes,
            anomalies: Anomalies {
                count: tally.anomalies,
                max_score: tally.max_score,
                top_reasons: tally.reasons.top(top_n),
                highest: tally.listed.into_iter().map(listed_anomaly).collect(),
                unscored_events: tally.unscored,
            },
            new_url_patterns: NewPatterns { count: tally.new_patterns, patterns: tally.new_pattern_names, baseline },
        }
    }

    /// The summary in a few sentences.
    pub fn text(&self) -> String {
        let mut t = String::new();
        let _ = write!(t, "From {} to {}: {} events", self.window_start, self.window_end, self.events);
        if self.http_events > 0 {
            let classes: Vec<String> = self
                .status_classes
                .iter()
                .filter(|(class, n)| **n > 0 && **class != "other")
                .map(|(class, n)| format!("{class} {n}"))
                .collect();
            let _ = write!(
                t,
                ", {} HTTP requests ({}); error rate {:.1}% (5xx {:.1}%)",
                self.http_events,
                classes.join(", "),
                self.error_rate * 100.0,
                self.server_error_rate * 100.0
            );
        }
        t.push('.');
        if !self.methods.is_empty() {
            let mut methods: Vec<(&String, &u64)> = self.methods.iter().collect();
            methods.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            let methods: Vec<String> = methods.iter().map(|(m, n)| format!("{m} {n}")).collect();
            let _ = write!(t, " Methods: {}.", methods.join(", "));
        }
        for (label, list) in
            [("Top IPs", &self.top_ips), ("Top URLs", &self.top_urls), ("Top user agents", &self.top_user_agents)]
        {
            if !list.top.is_empty() {
                let items: Vec<String> =
                    list.top.iter().take(5).map(|c| format!("{} ({})", c.value, c.count)).collect();
                let _ = write!(t, " {label}: {}.", items.join(", "));
            }
        }
        if let Some(b) = &self.bytes {
            let _ = write!(t, " Response bytes: median {}, p90 {}, p99 {}, max {}.", b.p50, b.p90, b.p99, b.max);
        }
        let a = &self.anomalies;
        if a.count == 0 {
            t.push_str(" No anomalies.");
        } else {
            let _ = write!(t, " {} anomalies (highest score {:.2})", a.count, a.max_score);
            let reasons: Vec<String> =
                a.top_reasons.top.iter().take(3).map(|c| format!("\"{}\" ({})", c.value, c.count)).collect();
            if !reasons.is_empty() {
                let _ = write!(t, "; top reasons: {}", reasons.join(", "));
            }
            if let Some(h) = a.highest.first() {
                let _ = write!(
                    t,
                    "; highest: event {} {} {} from {} (status {}, score {:.2})",
                    h.event_id, h.method, h.url, h.ip, h.status_code, h.score
                );
            }
            t.push('.');
        }
        let p = &self.new_url_patterns;
        if p.count > 0 && !p.baseline {
            let _ = write!(
                t,
                " {} new URL patterns: {}.",
                p.count,
                p.patterns.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
            );
        }
        t
    }
}

fn listed_anomaly(l: Listed) -> ListedAnomaly {
    ListedAnomaly {
        event_id: l.event_id,
        score: l.score,
        detector: l.detector,
        reason: l.reason,
        timestamp: rfc3339(l.timestamp_ms),
        ip: l.ip,
        method: l.method,
        url: l.url,
        status_code: l.status_code,
    }
}
