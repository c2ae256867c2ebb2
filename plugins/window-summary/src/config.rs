//! The plugin's config table (`[summarizers.config]`), every key optional.

use serde::Deserialize;

/// The `[summarizers.config]` table of the window-summary plugin.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Entries in each top list (IPs, URLs, user agents, anomaly reasons), 1-100.
    #[serde(default = "default_top_n")]
    pub top_n: usize,
    /// Distinct keys counted per list within a window (at least `top_n`, at most 100000).
    /// Past it the rarest keys are dropped and the lists say their counts are estimates.
    #[serde(default = "default_tracked_keys")]
    pub tracked_keys: usize,
    /// Response sizes kept per window for the percentiles (16-1000000); windows with more
    /// HTTP events get percentiles of a uniform sample.
    #[serde(default = "default_bytes_sample")]
    pub bytes_sample: usize,
    /// URL patterns remembered across windows to tell which are new (1000-10000000). A
    /// pattern not seen among about this many recent ones is reported as new again.
    #[serde(default = "default_max_patterns")]
    pub max_patterns: usize,
    /// New URL patterns listed by name in one summary (they are all counted), 0-1000.
    #[serde(default = "default_new_patterns_listed")]
    pub new_patterns_listed: usize,
    /// Highest-scoring anomalies listed in one summary (they are all counted), 0-1000.
    #[serde(default = "default_anomalies_listed")]
    pub anomalies_listed: usize,
    /// Seed of the response-size sample: the same seed and events give the same summary.
    #[serde(default = "default_seed")]
    pub seed: u64,
}

impl Default for Config {
    fn default() -> Self {
        serde_json::from_str("{}").expect("every key has a default")
    }
}

impl Config {
    /// Check the ranges serde cannot; the message names the key and the range.
    pub fn validate(&self) -> Result<(), String> {
        let check = |key: &str, value: usize, min: usize, max: usize| {
            if (min..=max).contains(&value) {
                Ok(())
            } else {
                Err(format!("{key} = {value} is out of range; give {min} to {max}"))
            }
        };
        check("top_n", self.top_n, 1, 100)?;
        check("tracked_keys", self.tracked_keys, self.top_n, 100_000)?;
        check("bytes_sample", self.bytes_sample, 16, 1_000_000)?;
        check("max_patterns", self.max_patterns, 1_000, 10_000_000)?;
        check("new_patterns_listed", self.new_patterns_listed, 0, 1_000)?;
        check("anomalies_listed", self.anomalies_listed, 0, 1_000)
    }
}

fn default_top_n() -> usize {
    10
}
fn default_tracked_keys() -> usize {
    1_000
}
fn default_bytes_sample() -> usize {
    4_096
}
fn default_max_patterns() -> usize {
    100_000
}
fn default_new_patterns_listed() -> usize {
    20
}
fn default_anomalies_listed() -> usize {
    10
}
fn default_seed() -> u64 {
    0x5EED_5A3E
}
