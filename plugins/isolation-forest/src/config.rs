//! The plugin's config table, as the user writes it, and its validated form.
//!
//! Every key is optional. [`Config::validate`] turns the raw table into [`Params`], which is
//! all the rest of the crate ever sees: no unchecked value reaches the learner.

use serde::{Deserialize, Serialize};

use crate::forest::MAX_SAMPLE_SIZE;

/// The `[detectors.config]` table of the isolation-forest detector.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Number of isolation trees; more trees give steadier scores and cost linear time.
    #[serde(default = "default_trees")]
    pub trees: usize,
    /// Events drawn to grow each tree (2-4096); sets the tree depth to ceil(log2(n)).
    #[serde(default = "default_sample_size")]
    pub sample_size: usize,
    /// Seed of the detector's random stream: the same seed and events give the same scores.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Events to learn from before the schedule switches from warm-up to periodic retraining.
    #[serde(default = "default_warmup")]
    pub warmup: u64,
    /// Capacity of the uniform sample of past events that trees are grown from.
    #[serde(default = "default_reservoir")]
    pub reservoir: usize,
    /// Events scored between two retrains of the forest after warm-up.
    #[serde(default = "default_retrain_every")]
    pub retrain_every: u64,
    /// Length in seconds of the sliding window behind the per-IP rate and error rate.
    #[serde(default = "default_window_secs")]
    pub window_secs: u32,
    /// Slots of the per-IP table (a power of two); IPs beyond it share slots.
    #[serde(default = "default_ip_slots")]
    pub ip_slots: usize,
    /// For events that are not access logs (status 0: system logs, sessions): a message
    /// pattern below this share of the learned messages is anomalous (0 < share <= 0.5).
    /// 0.01 suits logs with a few dominant patterns (HDFS sessions); logs with many rare but
    /// normal lines (BGL, syslog) want 0.001, which flags only patterns hardly ever seen.
    #[serde(default = "default_rare_message_share")]
    pub rare_message_share: f32,
    /// A request to a path never learned is flagged as new. When it was ordinary otherwise
    /// (nothing else odd, status below 400, a client asking mostly for known paths), it
    /// counts towards the path being a page deployed after the warm-up; after this many such
    /// requests it no longer is news. Fewer alerts for a new page against more for an attack
    /// that keeps coming back to an unknown path (docs/detection.md).
    #[serde(default = "default_new_path_alerts")]
    pub new_path_alerts: u32,
}

fn default_trees() -> usize {
    100
}
fn default_sample_size() -> usize {
    256
}
fn default_seed() -> u64 {
    0x5EED_F0E5
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
fn default_window_secs() -> u32 {
    60
}
fn default_new_path_alerts() -> u32 {
    crate::features::DEFAULT_NEW_PATH_ALERTS
}
fn default_rare_message_share() -> f32 {
    crate::features::message::RARE_SHARE
}
fn default_ip_slots() -> usize {
    65_536
}

impl Default for Config {
    fn default() -> Self {
        Self {
            trees: default_trees(),
            sample_size: default_sample_size(),
            seed: default_seed(),
            warmup: default_warmup(),
            reservoir: default_reservoir(),
            retrain_every: default_retrain_every(),
            window_secs: default_window_secs(),
            ip_slots: default_ip_slots(),
            rare_message_share: default_rare_message_share(),
            new_path_alerts: default_new_path_alerts(),
        }
    }
}

/// Bounds of the config values; beyond them memory or latency stops being reasonable.
const MAX_TREES: usize = 1_000;
const MAX_RESERVOIR: usize = 1 << 20;
const MAX_WINDOW_SECS: u32 = 86_400;
const IP_SLOTS_RANGE: (usize, usize) = (256, 1 << 22);

/// A validated config.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Params {
    pub trees: usize,
    pub sample_size: usize,
    pub seed: u64,
    pub warmup: u64,
    pub reservoir: usize,
    pub retrain_every: u64,
    pub window_secs: u32,
    pub ip_slots: usize,
    pub new_path_alerts: u32,
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
        in_range("trees", self.trees as u64, 1, MAX_TREES as u64)?;
        in_range("sample_size", self.sample_size as u64, 2, MAX_SAMPLE_SIZE as u64)?;
        in_range("reservoir", self.reservoir as u64, self.sample_size as u64, MAX_RESERVOIR as u64)
            .map_err(|e| format!("{e} (it must hold at least sample_size events)"))?;
        in_range("retrain_every", self.retrain_every, 1, u64::MAX)?;
        in_range("window_secs", u64::from(self.window_secs), 1, u64::from(MAX_WINDOW_SECS))?;
        in_range("new_path_alerts", u64::from(self.new_path_alerts), 1, u64::from(u32::MAX))?;
        let (low, high) = IP_SLOTS_RANGE;
        if !self.ip_slots.is_power_of_two() || !(low..=high).contains(&self.ip_slots) {
            return Err(format!("ip_slots must be a power of two between {low} and {high}, got {}", self.ip_slots));
        }
        if !(self.rare_message_share > 0.0 && self.rare_message_share <= 0.5) {
            return Err(format!("rare_message_share must be above 0 and at most 0.5, got {}", self.rare_message_share));
        }
        Ok(Params {
            trees: self.trees,
            sample_size: self.sample_size,
            seed: self.seed,
            warmup: self.warmup,
            reservoir: self.reservoir,
            retrain_every: self.retrain_every,
            window_secs: self.window_secs,
            ip_slots: self.ip_slots,
            new_path_alerts: self.new_path_alerts,
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
        assert_eq!((params.trees, params.sample_size, params.reservoir), (100, 256, 4096));
        assert_eq!(
            (params.warmup, params.retrain_every, params.window_secs, params.ip_slots),
            (1000, 50_000, 60, 65_536)
        );
    }

    #[test]
    fn given_keys_override_defaults() {
        let params = parse(r#"{"trees": 50, "seed": 7, "window_secs": 300}"#).unwrap();
        assert_eq!((params.trees, params.seed, params.window_secs, params.sample_size), (50, 7, 300, 256));
    }

    #[test]
    fn rare_message_share_is_a_share() {
        let config: Config = serde_json::from_str(r#"{"rare_message_share": 0.001}"#).unwrap();
        assert!(config.validate().is_ok());
        let err = parse(r#"{"rare_message_share": 0}"#).unwrap_err();
        assert!(err.starts_with("rare_message_share must be above 0"), "{err}");
        assert!(parse(r#"{"rare_message_share": 0.9}"#).is_err());
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(parse(r#"{"tress": 50}"#).unwrap_err().contains("unknown field `tress`"));
    }

    #[test]
    fn out_of_range_values_are_named() {
        let err = |json| parse(json).unwrap_err();
        assert_eq!(err(r#"{"sample_size": 1}"#), "sample_size must be between 2 and 4096, got 1");
        assert_eq!(err(r#"{"trees": 0}"#), "trees must be between 1 and 1000, got 0");
        assert!(err(r#"{"reservoir": 100}"#).contains("at least sample_size"));
        assert!(err(r#"{"ip_slots": 1000}"#).starts_with("ip_slots must be a power of two"));
        assert!(err(r#"{"window_secs": 0}"#).starts_with("window_secs must be between 1"));
        assert!(err(r#"{"retrain_every": 0}"#).starts_with("retrain_every must be"));
        assert_eq!(err(r#"{"new_path_alerts": 0}"#), "new_path_alerts must be between 1 and 4294967295, got 0");
    }
}
