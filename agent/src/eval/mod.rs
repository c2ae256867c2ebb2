//! `vigil eval`: detection quality on public labeled data (`../shared/data`), measured by
//! replaying it through the agent's own detectors (the configured plugins, the embedded
//! Isolation Forest component by default) exactly as the pipeline calls them, in batches.
//!
//! Owns turning each data set into events ([`datasets`]), the replay and the metrics. It
//! never changes a detector's config: the threshold is the configured one. `--export` writes
//! the replayed events so `tests/eval/sklearn_reference.py` can run scikit-learn on the very
//! same events and protocol.

pub mod datasets;
pub mod metrics;
mod replay;
#[cfg(test)]
mod tests;
mod traffic;

pub use datasets::LabeledSet;
pub use replay::{Metric, Replayed, replay};

use crate::detect::{DetectorSet, PluginEngine, PluginError};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The data sets, in table order.
pub const DATASETS: [&str; 4] = ["csic", "scanners", "hdfs", "bgl"];

/// What went wrong in an evaluation.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A data file is missing or malformed.
    #[error("{path}: {message}")]
    Data { path: String, message: String },
    /// A detector failed.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// Writing results or exports failed.
    #[error("{path}: {message}")]
    Output { path: String, message: String },
    /// An unknown data set was asked for.
    #[error("unknown data set {0:?}: choose among csic, scanners, hdfs, bgl")]
    UnknownSet(String),
}

/// What to evaluate and how.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// The folder of `shared/data` (with `csic2010/`, `hdfs_100k/`, ...).
    pub data: PathBuf,
    /// Data sets to run (names from [`DATASETS`]).
    pub sets: Vec<String>,
    /// Events per detector call.
    pub batch: usize,
    /// Where to write each set's events as JSON lines, if anywhere.
    pub export: Option<PathBuf>,
}

/// One data set's results, with a few of the reasons given for its top-scored anomalies.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SetResult {
    /// Metrics, in table order.
    pub metrics: Vec<Metric>,
    /// Reasons of the highest-scored true anomalies (at most three).
    pub sample_reasons: Vec<String>,
}

/// Build one data set by name.
pub fn load(name: &str, data: &Path) -> Result<LabeledSet, EvalError> {
    match name {
        "csic" => datasets::csic(data),
        "scanners" => datasets::scanners(data),
        "hdfs" => datasets::hdfs(data),
        "bgl" => datasets::bgl(data),
        other => Err(EvalError::UnknownSet(other.to_owned())),
    }
}

/// Run every asked-for data set against fresh detectors started from `specs` (each set gets
/// its own, so no set learns from another).
pub fn run(
    engine: &PluginEngine,
    specs: &[crate::config::DetectorSpec],
    options: &EvalOptions,
) -> Result<Vec<SetResult>, EvalError> {
    let mut results = Vec::new();
    for name in &options.sets {
        let set = load(name, &options.data)?;
        if let Some(dir) = &options.export {
            export(&set, dir)?;
        }
        let detectors = DetectorSet::start(engine, specs)?;
        let replayed = replay(&detectors, &set, options.batch)?;
        let mut metrics = replay::standard_metrics(&set, &replayed);
        if set.sessions.iter().any(Option::is_some) {
            metrics.extend(replay::session_metrics(&set, &replayed));
        }
        results.push(SetResult { metrics, sample_reasons: sample_reasons(&set, &replayed) });
    }
    Ok(results)
}

fn sample_reasons(set: &LabeledSet, replayed: &Replayed) -> Vec<String> {
    let labels = &set.labels[set.warmup..];
    let mut out: Vec<String> = Vec::new();
    // Caught anomalies, then false alarms, so both kinds of reason can be read.
    for (want, tag) in [(true, "anomaly"), (false, "false alarm")] {
        let mut top: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == want && replayed.flagged[i]).collect();
        top.sort_by(|&a, &b| replayed.scores[b].total_cmp(&replayed.scores[a]));
        // Spread over the ranking: the top three are often the same attack.
        let picks = [0, top.len() / 3, top.len() * 2 / 3];
        for &k in picks.iter().filter(|&&k| k < top.len()) {
            let i = top[k];
            let event = &set.events[set.warmup + i];
            let what = if event.method.is_empty() {
                event.raw.chars().take(80).collect::<String>()
            } else {
                format!("{} {} {}", event.method, event.url.chars().take(80).collect::<String>(), event.status_code)
            };
            let line = format!("{tag} [{:.2}] {what} => {}", replayed.scores[i], replayed.reasons[i]);
            if !out.contains(&line) {
                out.push(line);
            }
        }
    }
    out
}

/// Write `set` as `<dir>/<name>.jsonl`: one object per event with its label, whether it is
/// warm-up, and its session.
pub fn export(set: &LabeledSet, dir: &Path) -> Result<(), EvalError> {
    let path = dir.join(format!("{}.jsonl", set.name));
    let fail = |e: std::io::Error| EvalError::Output { path: path.display().to_string(), message: e.to_string() };
    std::fs::create_dir_all(dir).map_err(fail)?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).map_err(fail)?);
    for (i, event) in set.events.iter().enumerate() {
        let line = serde_json::json!({
            "ts": event.timestamp_ms,
            "ip": event.ip,
            "method": event.method,
            "url": event.url,
            "status": event.status_code,
            "bytes": event.bytes_sent,
            "ua": event.user_agent,
            "raw": event.raw,
            "fields": event.fields,
            "label": set.labels[i],
            "warmup": i < set.warmup,
            "session": set.sessions[i],
        });
        writeln!(out, "{line}").map_err(fail)?;
    }
    out.flush().map_err(fail)
}

/// The results as a Markdown table: data set, metric, value.
pub fn render(results: &[SetResult]) -> String {
    let mut out = String::from("| data set | metric | Vigil |\n| --- | --- | --- |\n");
    for r in results {
        for m in &r.metrics {
            out.push_str(&format!("| {} | {} | {} |\n", m.dataset, m.metric, format_value(m.metric, m.value)));
        }
    }
    for r in results {
        for reason in &r.sample_reasons {
            let name = r.metrics.first().map_or("", |m| m.dataset);
            out.push_str(&format!("\n{name}: {reason}"));
        }
    }
    out.push('\n');
    out
}

fn format_value(metric: &str, value: Option<f64>) -> String {
    match value {
        None => "n/a".into(),
        Some(v) if metric == "events_per_s" => format!("{:.0}", v),
        Some(v) if metric == "sessions" || metric.starts_with("median") => format!("{v:.0}"),
        Some(v) => format!("{v:.3}"),
    }
}
