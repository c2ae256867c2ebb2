//! Turning an access-log event into a point, from the SDK's feature helpers: the six basic
//! features (status class, log bytes, URL length, depth, query parameters, special-character
//! share) plus how rare the event's method and User-Agent are among those seen so far.

use serde::{Deserialize, Serialize};
use vigil_plugin_sdk::Event;
use vigil_plugin_sdk::features::{BASIC_FEATURE_NAMES, BASIC_FEATURES, RarityCounter, basic_features};

/// Values per point.
pub const DIMS: usize = BASIC_FEATURES + 2;

/// One event as numbers, in [`NAMES`] order.
pub type Point = [f32; DIMS];

/// Feature names, in point order.
pub const NAMES: [&str; DIMS] = {
    let mut names = [""; DIMS];
    let mut i = 0;
    while i < BASIC_FEATURES {
        names[i] = BASIC_FEATURE_NAMES[i];
        i += 1;
    }
    names[BASIC_FEATURES] = "method_rarity";
    names[BASIC_FEATURES + 1] = "user_agent_rarity";
    names
};

/// Sketch sizes (rows, log2 width): methods are few, User-Agents many (4 × 4096 counters).
const METHOD_SKETCH: (u32, u32) = (2, 6);
const USER_AGENT_SKETCH: (u32, u32) = (4, 12);

/// The stateful part of extraction: the rarity counters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureExtractor {
    methods: RarityCounter,
    user_agents: RarityCounter,
}

impl Default for FeatureExtractor {
    fn default() -> Self {
        Self {
            methods: RarityCounter::new(METHOD_SKETCH.0, METHOD_SKETCH.1),
            user_agents: RarityCounter::new(USER_AGENT_SKETCH.0, USER_AGENT_SKETCH.1),
        }
    }
}

impl FeatureExtractor {
    /// The point for `event`, counting its method and User-Agent.
    pub fn extract(&mut self, event: &Event) -> Point {
        let mut point = [0.0; DIMS];
        point[..BASIC_FEATURES].copy_from_slice(&basic_features(event));
        point[BASIC_FEATURES] = self.methods.observe_str(event.method);
        point[BASIC_FEATURES + 1] = self.user_agents.observe_str(event.user_agent);
        point
    }

    /// Check an extractor decoded from a snapshot.
    pub fn validate(&self) -> Result<(), String> {
        self.methods.validate(METHOD_SKETCH.0, METHOD_SKETCH.1)?;
        self.user_agents.validate(USER_AGENT_SKETCH.0, USER_AGENT_SKETCH.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_point() {
        assert_eq!(
            NAMES,
            [
                "status_class",
                "log_bytes",
                "url_length",
                "url_depth",
                "query_params",
                "url_special_share",
                "method_rarity",
                "user_agent_rarity"
            ]
        );
    }

    #[test]
    fn rare_agents_stand_out() {
        let mut extractor = FeatureExtractor::default();
        let browser =
            Event { method: "GET", url: "/", status_code: 200, user_agent: "Mozilla/5.0", ..Event::default() };
        for _ in 0..500 {
            extractor.extract(&browser);
        }
        let usual = extractor.extract(&browser);
        let scanner = extractor.extract(&Event { method: "PROPFIND", user_agent: "sqlmap/1.7", ..browser });
        assert_eq!(usual[0], 2.0);
        assert!(scanner[6] > usual[6] + 5.0 && scanner[7] > usual[7] + 5.0, "{usual:?} {scanner:?}");
    }
}
