//! The warm-up progress line: while a detector learns from its first `warmup` events, the
//! agent's log says how far it is (`isolation-forest warming up: 1200/5000 events (24%)`) and
//! then that it is trained.
//!
//! Host-side: the plugin interface has no progress export, so progress is the number of events
//! the host has had the detector score (`DetectorStatus::events_scored`) against the `warmup`
//! of the detector's config. A detector resumed from a snapshot has learned before and is not
//! followed. Lines are rate-limited: one per 10% of the warm-up, or one every
//! [`QUIET_FOR`] while events trickle in. Only reads counters; never touches a detector.

use crate::config::{DetectorSpec, PluginSource};
use crate::detect::DetectorStatus;
use crate::store::PluginSnapshot;
use std::time::{Duration, Instant};

/// `warmup` of `builtin:isolation-forest` when its config does not set it (its
/// `default_warmup` in plugins/isolation-forest/src/config.rs).
pub const ISOLATION_FOREST_WARMUP: u64 = 1_000;

/// Longest silence between two progress lines while a detector is still learning.
pub const QUIET_FOR: Duration = Duration::from_secs(5);

/// Progress steps per warm-up: a line at each 10%.
const STEPS: u64 = 10;

/// What to log about one detector's warm-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WarmupLine {
    /// Still learning: `seen` of `warmup` events.
    Progress { detector: String, seen: u64, warmup: u64 },
    /// Learned from its first `warmup` events.
    Trained { detector: String, warmup: u64 },
}

impl WarmupLine {
    /// Write the line to the agent's log.
    pub fn log(&self) {
        match self {
            WarmupLine::Progress { detector, seen, warmup } => {
                let percent = seen * 100 / warmup;
                tracing::info!("{detector} warming up: {seen}/{warmup} events ({percent}%)");
            }
            WarmupLine::Trained { detector, warmup } => {
                tracing::info!("{detector} trained on its first {warmup} events; scoring with the learned model");
            }
        }
    }
}

/// One detector still warming up.
#[derive(Debug)]
struct Warming {
    detector: String,
    warmup: u64,
    /// Events seen at the last line, and when it was logged.
    shown: u64,
    shown_at: Instant,
}

/// The detectors still warming up.
#[derive(Debug, Default)]
pub struct WarmupWatch {
    warming: Vec<Warming>,
}

/// The warm-up size a detector's config gives: its `warmup` setting, or the builtin
/// Isolation Forest's default. `None`: the detector has no warm-up to follow.
pub fn warmup_of(spec: &DetectorSpec) -> Option<u64> {
    let config: serde_json::Value = serde_json::from_str(&spec.config_json).ok()?;
    match config.get("warmup").and_then(serde_json::Value::as_u64) {
        Some(warmup) => Some(warmup),
        None if spec.source == PluginSource::Builtin("isolation-forest") => Some(ISOLATION_FOREST_WARMUP),
        None => None,
    }
    .filter(|&w| w > 0)
}

impl WarmupWatch {
    /// Follow the detectors of `specs` (with their `statuses`, in the same order) that warm up
    /// and were not resumed from one of the `saved` snapshots.
    pub fn new(specs: &[DetectorSpec], statuses: &[DetectorStatus], saved: &[PluginSnapshot], now: Instant) -> Self {
        let warming = specs
            .iter()
            .zip(statuses)
            .filter(|(_, s)| !saved.iter().any(|p| p.detector == s.name && p.plugin == s.plugin))
            .filter_map(|(spec, status)| Some((status.name.clone(), warmup_of(spec)?)))
            .map(|(detector, warmup)| Warming { detector, warmup, shown: 0, shown_at: now })
            .collect();
        WarmupWatch { warming }
    }

    /// Follow `detector` warming up on `warmup` events.
    pub fn follow(&mut self, detector: &str, warmup: u64, now: Instant) {
        self.warming.push(Warming { detector: detector.to_owned(), warmup: warmup.max(1), shown: 0, shown_at: now });
    }

    /// Whether every followed detector is trained (or gone).
    pub fn is_done(&self) -> bool {
        self.warming.is_empty()
    }

    /// The lines due at `now`, given each detector's events scored so far (`None`: the
    /// detector is no longer running, e.g. after a reload, and is dropped silently).
    pub fn observe(&mut self, scored: impl Fn(&str) -> Option<u64>, now: Instant) -> Vec<WarmupLine> {
        let mut lines = Vec::new();
        self.warming.retain_mut(|w| {
            let Some(seen) = scored(&w.detector) else { return false };
            if seen >= w.warmup {
                lines.push(WarmupLine::Trained { detector: w.detector.clone(), warmup: w.warmup });
                return false;
            }
            let next_step = w.shown * STEPS / w.warmup < seen * STEPS / w.warmup;
            let quiet = now.saturating_duration_since(w.shown_at) >= QUIET_FOR;
            if seen > w.shown && (next_step || quiet) {
                lines.push(WarmupLine::Progress { detector: w.detector.clone(), seen, warmup: w.warmup });
                w.shown = seen;
                w.shown_at = now;
            }
            true
        });
        lines
    }
}

/// How often [`report`] reads the detectors' counters.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// Log `watch`'s lines as `detectors` score events, until every detector is trained.
pub async fn report(detectors: std::sync::Arc<crate::detect::DetectorSet>, mut watch: WarmupWatch) {
    let mut ticks = tokio::time::interval(CHECK_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !watch.is_done() {
        ticks.tick().await;
        let status = detectors.status();
        let scored = |name: &str| status.iter().find(|s| s.name == name).map(|s| s.events_scored);
        for line in watch.observe(scored, Instant::now()) {
            line.log();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(seen: u64) -> WarmupLine {
        WarmupLine::Progress { detector: "isolation-forest".into(), seen, warmup: 5000 }
    }

    #[test]
    fn a_line_per_ten_percent_then_one_when_trained() {
        let start = Instant::now();
        let mut watch = WarmupWatch::default();
        watch.follow("isolation-forest", 5000, start);
        let at = |ms| start + Duration::from_millis(ms);
        // Less than 10% and no pause: nothing yet.
        assert_eq!(watch.observe(|_| Some(300), at(100)), []);
        assert_eq!(watch.observe(|_| Some(600), at(200)), [progress(600)]);
        // Within the same 10% step and soon after: quiet.
        assert_eq!(watch.observe(|_| Some(900), at(300)), []);
        // Jumping several steps at once gives one line, not one per step.
        assert_eq!(watch.observe(|_| Some(2600), at(400)), [progress(2600)]);
        assert!(!watch.is_done());
        assert_eq!(
            watch.observe(|_| Some(5000), at(500)),
            [WarmupLine::Trained { detector: "isolation-forest".into(), warmup: 5000 }]
        );
        assert!(watch.is_done());
        assert_eq!(watch.observe(|_| Some(9000), at(600)), [], "trained is said once");
    }

    #[test]
    fn a_trickle_still_gets_a_line_every_few_seconds_but_no_news_gets_none() {
        let start = Instant::now();
        let mut watch = WarmupWatch::default();
        watch.follow("isolation-forest", 5000, start);
        assert_eq!(watch.observe(|_| Some(10), start + QUIET_FOR), [progress(10)]);
        assert_eq!(watch.observe(|_| Some(10), start + QUIET_FOR * 3), [], "no new events, no line");
        assert_eq!(watch.observe(|_| Some(11), start + QUIET_FOR * 3), [progress(11)]);
        assert_eq!(watch.observe(|_| Some(12), start + QUIET_FOR * 3 + Duration::from_secs(1)), []);
    }

    #[test]
    fn a_detector_that_is_gone_is_dropped() {
        let now = Instant::now();
        let mut watch = WarmupWatch::default();
        watch.follow("old", 100, now);
        assert_eq!(watch.observe(|_| None, now), []);
        assert!(watch.is_done());
    }

    #[test]
    fn warmup_comes_from_the_config_or_the_builtin_default() {
        let spec = |source, config: &str| DetectorSpec {
            name: None,
            source,
            threshold: 0.6,
            limits: crate::config::PluginLimits {
                max_memory_bytes: 1 << 20,
                call_timeout: Duration::from_secs(1),
                fuel: None,
            },
            config_json: config.to_owned(),
            fallback: crate::config::Fallback::None,
            snapshot_interval: None,
        };
        let forest = PluginSource::Builtin("isolation-forest");
        assert_eq!(warmup_of(&spec(forest.clone(), "{}")), Some(ISOLATION_FOREST_WARMUP));
        assert_eq!(warmup_of(&spec(forest, r#"{"warmup":5000}"#)), Some(5000));
        let file = PluginSource::File("x.wasm".into());
        assert_eq!(warmup_of(&spec(file.clone(), "{}")), None, "a plugin without a warm-up setting");
        assert_eq!(warmup_of(&spec(file, r#"{"warmup":300}"#)), Some(300));
    }
}
