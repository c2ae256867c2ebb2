//! Replaying a labeled set through the agent's detectors, batch by batch as the pipeline
//! sends them, and measuring what came out.

use super::EvalError;
use super::datasets::LabeledSet;
use super::metrics::{Confusion, best_f1, roc_auc};
use crate::detect::DetectorSet;
use std::collections::{HashMap, HashSet};
use std::time::Instant;

/// A metric of one data set, as the results table shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Metric {
    /// Data set name.
    pub dataset: &'static str,
    /// Metric name, e.g. `roc_auc`.
    pub metric: &'static str,
    /// Its value; `None` where it is undefined (a class is empty).
    pub value: Option<f64>,
}

/// What the detectors said about the scored (post-warm-up) events of a set.
#[derive(Debug, Clone, Default)]
pub struct Replayed {
    /// Score of each scored event.
    pub scores: Vec<f32>,
    /// Whether some detector flagged it.
    pub flagged: Vec<bool>,
    /// The reason given, if any.
    pub reasons: Vec<String>,
    /// Events scored after the warm-up per second spent in `DetectorSet::score`.
    pub events_per_second: f64,
}

/// Score `set` with `detectors` in batches of `batch` events; the warm-up is scored first,
/// in its own batches, and left out of the results.
pub fn replay(detectors: &DetectorSet, set: &LabeledSet, batch: usize) -> Result<Replayed, EvalError> {
    let batch = batch.max(1);
    for chunk in set.events[..set.warmup].chunks(batch) {
        detectors.score(chunk)?;
    }
    let mut out = Replayed::default();
    let scored = &set.events[set.warmup..];
    let started = Instant::now();
    let mut seconds = 0.0;
    for chunk in scored.chunks(batch) {
        let call = Instant::now();
        let verdicts = detectors.score(chunk)?;
        seconds += call.elapsed().as_secs_f64();
        for v in verdicts {
            out.scores.push(v.score);
            out.flagged.push(v.anomalous);
            out.reasons.push(v.reason);
        }
    }
    tracing::debug!(set = set.name, wall = ?started.elapsed(), "replayed");
    out.events_per_second = if seconds > 0.0 { scored.len() as f64 / seconds } else { 0.0 };
    Ok(out)
}

/// The standard metrics of a replay: ROC-AUC, precision, recall, F1, false-positive rate at
/// the configured threshold, the best F1 any threshold could give, and throughput.
pub fn standard_metrics(set: &LabeledSet, replayed: &Replayed) -> Vec<Metric> {
    let labels = &set.labels[set.warmup..];
    let confusion = Confusion::count(replayed.flagged.iter().copied(), labels);
    let (best, _) = best_f1(&replayed.scores, labels);
    let m = |metric, value| Metric { dataset: set.name, metric, value };
    vec![
        m("roc_auc", roc_auc(&replayed.scores, labels)),
        m("precision", Some(confusion.precision())),
        m("recall", Some(confusion.recall())),
        m("f1", Some(confusion.f1())),
        m("false_positive_rate", Some(confusion.false_positive_rate())),
        m("best_f1", Some(best)),
        m("events_per_s", Some(replayed.events_per_second)),
    ]
}

/// Scanner metrics: the share of attack sessions with a flagged request among their first
/// 100, the median number of requests before the first flag, and the share of ordinary
/// clients flagged at least once (what that detection costs).
pub fn session_metrics(set: &LabeledSet, replayed: &Replayed) -> Vec<Metric> {
    const WITHIN: usize = 100;
    let mut seen: HashMap<u32, usize> = HashMap::new();
    let mut first_flag: HashMap<u32, usize> = HashMap::new();
    let mut normal_ips: HashSet<&str> = HashSet::new();
    let mut flagged_ips: HashSet<&str> = HashSet::new();
    for (i, event) in set.events[set.warmup..].iter().enumerate() {
        let flagged = replayed.flagged[i];
        match set.sessions[set.warmup + i] {
            Some(session) => {
                let n = seen.entry(session).or_default();
                *n += 1;
                if flagged {
                    first_flag.entry(session).or_insert(*n);
                }
            }
            None => {
                normal_ips.insert(&event.ip);
                if flagged {
                    flagged_ips.insert(&event.ip);
                }
            }
        }
    }
    let sessions = seen.len().max(1) as f64;
    let early = first_flag.values().filter(|&&n| n <= WITHIN).count() as f64;
    let mut firsts: Vec<usize> = seen.keys().map(|s| first_flag.get(s).copied().unwrap_or(usize::MAX)).collect();
    firsts.sort_unstable();
    let median = firsts.get(firsts.len() / 2).filter(|&&n| n != usize::MAX).map(|&n| n as f64);
    let m = |metric, value| Metric { dataset: set.name, metric, value };
    vec![
        m("sessions", Some(seen.len() as f64)),
        m("sessions_flagged_within_100", Some(early / sessions)),
        m("median_requests_to_first_flag", median),
        m("normal_ips_flagged", Some(flagged_ips.len() as f64 / normal_ips.len().max(1) as f64)),
    ]
}
