//! Turning an access-log event into a point for the forest.
//!
//! Owns the feature catalogue (order, names, how a value reads in a reason) and the bounded
//! state some features need: rarity sketches for methods and User-Agents and the per-IP
//! sliding windows. Extraction never allocates, hashes the raw bytes, and must be fed events
//! in their order: each event sees the window state including itself.

mod hash;
mod ip_window;
mod rarity;
mod url;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use vigil_plugin_sdk::Event;

use crate::forest::{POINT_WIDTH, Point};
use hash::hash_bytes;
use ip_window::IpWindowTable;
use rarity::RarityCounter;

/// One feature of the catalogue, in point order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feature {
    StatusClass,
    Bytes,
    UrlLength,
    UrlDepth,
    QueryParams,
    SpecialShare,
    MethodRarity,
    UserAgentRarity,
    IpRate,
    IpErrorRate,
    HourOfDay,
}

/// How many features a point carries (the rest of [`POINT_WIDTH`] stays 0).
pub const FEATURE_COUNT: usize = 11;

/// Every feature, in point order.
pub const FEATURES: [Feature; FEATURE_COUNT] = [
    Feature::StatusClass,
    Feature::Bytes,
    Feature::UrlLength,
    Feature::UrlDepth,
    Feature::QueryParams,
    Feature::SpecialShare,
    Feature::MethodRarity,
    Feature::UserAgentRarity,
    Feature::IpRate,
    Feature::IpErrorRate,
    Feature::HourOfDay,
];

const _: () = assert!(FEATURE_COUNT <= POINT_WIDTH);

impl Feature {
    /// The name used in reasons and the README.
    pub fn name(self) -> &'static str {
        match self {
            Feature::StatusClass => "status_class",
            Feature::Bytes => "bytes",
            Feature::UrlLength => "url_length",
            Feature::UrlDepth => "url_depth",
            Feature::QueryParams => "query_params",
            Feature::SpecialShare => "url_special_share",
            Feature::MethodRarity => "method_rarity",
            Feature::UserAgentRarity => "user_agent_rarity",
            Feature::IpRate => "ip_rate_per_s",
            Feature::IpErrorRate => "ip_error_rate",
            Feature::HourOfDay => "hour_utc",
        }
    }

    /// The value as a person reads it (bytes undo their log scale), and its decimals.
    pub fn readable(self, value: f32) -> (f64, usize) {
        let value = f64::from(value);
        match self {
            Feature::Bytes => (value.exp_m1().round(), 0),
            Feature::SpecialShare | Feature::MethodRarity | Feature::UserAgentRarity => (value, 2),
            Feature::IpRate | Feature::IpErrorRate => (value, 2),
            _ => (value, 0),
        }
    }
}

/// Sketch sizes: methods are few, User-Agents many (4 × 4096 counters, 64 KiB).
const METHOD_SKETCH: (u32, u32) = (2, 6);
const USER_AGENT_SKETCH: (u32, u32) = (4, 12);

const MS_PER_HOUR: i64 = 3_600_000;

/// The stateful feature extractor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureExtractor {
    methods: RarityCounter,
    user_agents: RarityCounter,
    ips: IpWindowTable,
}

impl FeatureExtractor {
    /// A fresh extractor with `ip_slots` (a power of two) windows of `window_secs`.
    pub fn new(ip_slots: usize, window_secs: u32) -> Self {
        Self {
            methods: RarityCounter::new(METHOD_SKETCH.0, METHOD_SKETCH.1),
            user_agents: RarityCounter::new(USER_AGENT_SKETCH.0, USER_AGENT_SKETCH.1),
            ips: IpWindowTable::new(ip_slots, window_secs),
        }
    }

    /// The point for `event`, updating the rarity and window state with it.
    pub fn extract(&mut self, event: &Event) -> Point {
        let shape = url::measure(event.url);
        let is_error = (400..600).contains(&event.status_code);
        let ip = self.ips.record(hash_bytes(event.ip.as_bytes()), event.timestamp_ms, is_error);
        let hour = event.timestamp_ms.div_euclid(MS_PER_HOUR).rem_euclid(24);

        let mut point = [0.0; POINT_WIDTH];
        point[Feature::StatusClass as usize] = f32::from(event.status_code / 100);
        point[Feature::Bytes as usize] = (event.bytes_sent as f64).ln_1p() as f32;
        point[Feature::UrlLength as usize] = shape.length as f32;
        point[Feature::UrlDepth as usize] = shape.depth as f32;
        point[Feature::QueryParams as usize] = shape.query_params as f32;
        point[Feature::SpecialShare as usize] = shape.special_share;
        point[Feature::MethodRarity as usize] = self.methods.observe(hash_bytes(event.method.as_bytes()));
        point[Feature::UserAgentRarity as usize] = self.user_agents.observe(hash_bytes(event.user_agent.as_bytes()));
        point[Feature::IpRate as usize] = ip.rate;
        point[Feature::IpErrorRate as usize] = ip.error_rate;
        point[Feature::HourOfDay as usize] = hour as f32;
        point
    }

    /// Check an extractor decoded from a snapshot against the sizes the config asks for.
    pub fn validate(&self, ip_slots: usize, window_secs: u32) -> Result<(), String> {
        self.methods.validate(METHOD_SKETCH.0, METHOD_SKETCH.1)?;
        self.user_agents.validate(USER_AGENT_SKETCH.0, USER_AGENT_SKETCH.1)?;
        self.ips.validate(ip_slots, window_secs)
    }
}
