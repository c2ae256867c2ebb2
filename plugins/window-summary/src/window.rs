//! One window's tallies: everything folded since the last summary, in bounded memory.

use crate::config::Config;
use crate::patterns::{self, SeenPatterns};
use crate::sample::Sample;
use crate::topk::{TopK, truncate};
use vigil_plugin_sdk::{Event, Judgements};

/// Status classes counted: 1xx to 5xx, then anything else (non-HTTP events, odd codes).
pub const CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "other"];

/// An anomaly kept to be listed by name.
#[derive(Clone, Debug, PartialEq)]
pub struct Listed {
    pub event_id: i64,
    pub score: f32,
    pub detector: String,
    pub reason: String,
    pub timestamp_ms: i64,
    pub ip: String,
    pub method: String,
    pub url: String,
    pub status_code: u16,
}

/// The open window.
#[derive(Debug)]
pub struct Tally {
    pub events: u64,
    pub first_ms: Option<i64>,
    pub last_ms: Option<i64>,
    pub classes: [u64; 6],
    pub methods: TopK,
    pub ips: TopK,
    pub urls: TopK,
    pub user_agents: TopK,
    pub bytes: Sample,
    pub bytes_total: u64,
    pub bytes_min: Option<u64>,
    pub bytes_max: u64,
    pub unscored: u64,
    pub anomalies: u64,
    pub max_score: f32,
    pub reasons: TopK,
    pub listed: Vec<Listed>,
    pub new_patterns: u64,
    pub new_pattern_names: Vec<String>,
}

impl Tally {
    /// An empty window sized by `config`.
    pub fn new(config: &Config, seed: u64) -> Self {
        Tally {
            events: 0,
            first_ms: None,
            last_ms: None,
            classes: [0; 6],
            methods: TopK::new(64),
            ips: TopK::new(config.tracked_keys),
            urls: TopK::new(config.tracked_keys),
            user_agents: TopK::new(config.tracked_keys),
            bytes: Sample::new(config.bytes_sample, seed),
            bytes_total: 0,
            bytes_min: None,
            bytes_max: 0,
            unscored: 0,
            anomalies: 0,
            max_score: 0.0,
            reasons: TopK::new(config.tracked_keys),
            listed: Vec::new(),
            new_patterns: 0,
            new_pattern_names: Vec::new(),
        }
    }

    /// Fold one batch.
    pub fn fold(&mut self, batch: &[Event<'_>], judgements: &Judgements, config: &Config, seen: &mut SeenPatterns) {
        for e in batch {
            self.events += 1;
            self.first_ms = Some(self.first_ms.map_or(e.timestamp_ms, |t| t.min(e.timestamp_ms)));
            self.last_ms = Some(self.last_ms.map_or(e.timestamp_ms, |t| t.max(e.timestamp_ms)));
            let http = (100..=599).contains(&e.status_code);
            self.classes[if http { usize::from(e.status_code / 100) - 1 } else { 5 }] += 1;
            if !e.method.is_empty() {
                self.methods.add(e.method);
            }
            if !e.ip.is_empty() {
                self.ips.add(e.ip);
            }
            if !e.url.is_empty() {
                self.urls.add(patterns::path_of(e.url));
                if seen.is_new(patterns::pattern_hash(e.url)) {
                    self.new_patterns += 1;
                    if self.new_pattern_names.len() < config.new_patterns_listed {
                        self.new_pattern_names.push(truncate(&patterns::pattern_of(e.url)).to_owned());
                    }
                }
            }
            if !e.user_agent.is_empty() {
                self.user_agents.add(e.user_agent);
            }
            if http {
                self.bytes.offer(e.bytes_sent);
                self.bytes_total = self.bytes_total.saturating_add(e.bytes_sent);
                self.bytes_min = Some(self.bytes_min.map_or(e.bytes_sent, |m| m.min(e.bytes_sent)));
                self.bytes_max = self.bytes_max.max(e.bytes_sent);
            }
        }
        self.unscored += judgements.scores.iter().filter(|s| **s < 0.0).count() as u64;
        for a in &judgements.anomalies {
            self.anomalies += 1;
            self.max_score = self.max_score.max(a.score);
            self.reasons.add(if a.reason.is_empty() { "(no reason given)" } else { &a.reason });
            if config.anomalies_listed == 0 {
                continue;
            }
            let e = &batch[a.index as usize];
            self.listed.push(Listed {
                event_id: a.event_id,
                score: a.score,
                detector: a.detector.clone(),
                reason: truncate(&a.reason).to_owned(),
                timestamp_ms: e.timestamp_ms,
                ip: truncate(e.ip).to_owned(),
                method: truncate(e.method).to_owned(),
                url: truncate(e.url).to_owned(),
                status_code: e.status_code,
            });
            // Keep only the highest scores, pruning in batches: O(log n) per anomaly.
            if self.listed.len() >= 2 * config.anomalies_listed.max(8) {
                self.keep_top_listed(config.anomalies_listed);
            }
        }
    }

    /// Keep the `n` highest-scoring listed anomalies, highest first (earlier ids on ties).
    pub fn keep_top_listed(&mut self, n: usize) {
        self.listed.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.event_id.cmp(&b.event_id)));
        self.listed.truncate(n);
    }

    /// HTTP events (status 100-599).
    pub fn http_events(&self) -> u64 {
        self.classes[..5].iter().sum()
    }
}
