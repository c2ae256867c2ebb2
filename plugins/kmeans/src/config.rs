//! The plugin's config table, as the user writes it, and its validated form.
//!
//! Every key is optional. [`Config::validate`] turns the raw table into [`Params`], which is
//! all the rest of the crate ever sees: no unchecked value reaches the learner.

use serde::{Deserialize, Serialize};

/// The `[detectors.config]` table of the k-means detector.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Number of clusters (centroids) the traffic is summarised by.
    #[serde(default = "default_clusters")]
    pub clusters: usize,
    /// Seed of the detector's random stream: the same seed and events give the same scores.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Events to learn from (all of them, anomalous or not) before periodic retraining starts.
    #[serde(default = "default_warmup")]
    pub warmup: u64,
    /// Capacity of the uniform sample of past events the clusters are fitted to.
    #[serde(default = "default_reservoir")]
    pub reservoir: usize,
    /// Events scored between two refits after warm-up.
    #[serde(default = "default_retrain_every")]
    pub retrain_every: u64,
    /// Share of training events closer to their centroid than the distance that scores 0.5.
    #[serde(default = "default_edge_quantile")]
    pub edge_quantile: f32,
    /// Most Lloyd iterations per fit.
    #[serde(default = "default_max_iterations")]
    pub max_iterations: u64,
    /// Fits from different k-means++ starts per retrain; the one with the least inertia wins.
    #[serde(default = "default_runs")]
    pub runs: usize,
}

fn default_clusters() -> usize {
    8
}
fn default_seed() -> u64 {
    0x6B4D_EA25
}
fn default_warmup() -> u64 {
    1_000
}
fn default_reservoir() -> usize {
    4_096
}
fn default_retrain_every() -> u64 {
    50_000
}
fn default_edge_quantile() -> f32 {
    0.99
}
fn default_max_iterations() -> u64 {
    100
}
fn default_runs() -> usize {
    3
}

impl Default for Config {
    fn default() -> Self {
        Self {
            clusters: default_clusters(),
            seed: default_seed(),
            warmup: default_warmup(),
            reservoir: default_reservoir(),
            retrain_every: default_retrain_every(),
            edge_quantile: default_edge_quantile(),
            max_iterations: default_max_iterations(),
            runs: default_runs(),
        }
    }
}

/// Bounds of the config values; beyond them memory or a retrain's latency stops being reasonable.
const MAX_CLUSTERS: usize = 256;
const MAX_RESERVOIR: usize = 1 << 18;
const MAX_ITERATIONS: u64 = 10_000;
const MAX_RUNS: usize = 20;

/// A validated config.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Params {
    pub clusters: usize,
    pub seed: u64,
    pub warmup: u64,
    pub reservoir: usize,
    pub retrain_every: u64,
    pub edge_quantile: f32,
    pub max_iterations: u64,
    pub runs: usize,
}

impl Config {
    /// Check every value, naming the key, the allowed range and what was given.
    pub fn validate(&self) -> Result<Params, String> {
        let in_range = |key: &str, value: u64, low: u64, high: u64| {
            if (low..=high).contains(&value) {
                Ok(())
            } else {
                Err(format!("{key} must be between {low} and {high}, got {value}"))
            }
        };
        in_range("clusters", self.clusters as u64, 1, MAX_CLUSTERS as u64)?;
        in_range("reservoir", self.reservoir as u64, self.clusters as u64, MAX_RESERVOIR as u64)
            .map_err(|e| format!("{e} (it must hold at least one event per cluster)"))?;
        in_range("retrain_every", self.retrain_every, 1, u64::MAX)?;
        in_range("max_iterations", self.max_iterations, 1, MAX_ITERATIONS)?;
        in_range("runs", self.runs as u64, 1, MAX_RUNS as u64)?;
        if !(self.edge_quantile > 0.0 && self.edge_quantile < 1.0) {
            return Err(format!("edge_quantile must be between 0 and 1 (exclusive), got {}", self.edge_quantile));
        }
        Ok(Params {
            clusters: self.clusters,
            seed: self.seed,
            warmup: self.warmup,
            reservoir: self.reservoir,
            retrain_every: self.retrain_every,
            edge_quantile: self.edge_quantile,
            max_iterations: self.max_iterations,
            runs: self.runs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Params, String> {
        serde_json::from_str::<Config>(json).map_err(|e| e.to_string())?.validate()
    }

    #[test]
    fn empty_table_gives_the_defaults() {
        let params = parse("{}").unwrap();
        assert_eq!(params, Config::default().validate().unwrap());
        assert_eq!((params.clusters, params.reservoir, params.warmup, params.retrain_every), (8, 4096, 1000, 50_000));
        assert_eq!((params.edge_quantile, params.max_iterations, params.runs), (0.99, 100, 3));
    }

    #[test]
    fn given_keys_override_defaults() {
        let params = parse(r#"{"clusters": 4, "seed": 7}"#).unwrap();
        assert_eq!((params.clusters, params.seed, params.reservoir), (4, 7, 4096));
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(parse(r#"{"k": 4}"#).unwrap_err().contains("unknown field `k`"));
    }

    #[test]
    fn out_of_range_values_are_named() {
        let err = |json| parse(json).unwrap_err();
        assert_eq!(err(r#"{"clusters": 0}"#), "clusters must be between 1 and 256, got 0");
        assert!(err(r#"{"clusters": 16, "reservoir": 8}"#).contains("at least one event per cluster"));
        assert!(err(r#"{"retrain_every": 0}"#).starts_with("retrain_every must be"));
        assert!(err(r#"{"runs": 0}"#).starts_with("runs must be between 1"));
        assert_eq!(err(r#"{"edge_quantile": 1.0}"#), "edge_quantile must be between 0 and 1 (exclusive), got 1");
    }
}
