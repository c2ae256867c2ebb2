//! What "typical" means for each feature, and the reason text built from it.
//!
//! Ranges are the 5th to 95th percentile of each feature over the reservoir, recomputed
//! whenever the forest is regrown (bounded memory: two floats per feature). A reason names the
//! features furthest outside their range, with the actual and typical values. It is only
//! built for events at or above the threshold; everything else gets no text at all.

use std::fmt::Write;

use serde::{Deserialize, Serialize};

use crate::features::{FEATURE_COUNT, FEATURES, Feature};
use crate::forest::Point;

/// Features named at most in one reason: beyond three, a reason stops being read.
#[cfg(test)]
const MAX_NAMED: usize = 3;

/// Per-feature typical ranges.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TypicalRanges {
    low: [f32; FEATURE_COUNT],
    high: [f32; FEATURE_COUNT],
}

impl TypicalRanges {
    /// The 5th-95th percentile range of every feature over `points`.
    pub fn from_points(points: &[Point]) -> Self {
        let mut ranges = Self::default();
        if points.is_empty() {
            return ranges;
        }
        let mut column: Vec<f32> = Vec::with_capacity(points.len());
        let (low_rank, high_rank) = (points.len() * 5 / 100, (points.len() * 95 / 100).min(points.len() - 1));
        for f in 0..FEATURE_COUNT {
            column.clear();
            column.extend(points.iter().map(|p| p[f]));
            // Selection, not a sort: O(n) per percentile keeps a regrow cheap.
            ranges.low[f] = *column.select_nth_unstable_by(low_rank, f32::total_cmp).1;
            ranges.high[f] = *column.select_nth_unstable_by(high_rank, f32::total_cmp).1;
        }
        ranges
    }

    /// "url_length 412 (typical 12-40); ip_error_rate 0.93 (typical 0.00-0.05)": the
    /// features of `point` furthest outside their typical range, furthest first.
    #[cfg(test)]
    pub fn explain(&self, point: &Point) -> String {
        let mut outside: [(f32, usize); FEATURE_COUNT] = [(0.0, 0); FEATURE_COUNT];
        for (f, slot) in outside.iter_mut().enumerate() {
            *slot = (self.distance_outside(f, point[f]), f);
        }
        outside.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut reason = String::new();
        for &(_, f) in outside.iter().take(MAX_NAMED).filter(|(distance, _)| *distance > 0.0) {
            if !reason.is_empty() {
                reason.push_str("; ");
            }
            self.describe(&mut reason, FEATURES[f], point[f]);
        }
        if reason.is_empty() {
            reason.push_str("unusual combination of features, each within its typical range");
        }
        reason
    }

    /// The features of `point` outside their typical range, furthest first.
    pub fn ranked_outside(&self, point: &Point) -> impl Iterator<Item = Feature> + use<> {
        let mut outside: [(f32, usize); FEATURE_COUNT] = [(0.0, 0); FEATURE_COUNT];
        for (f, slot) in outside.iter_mut().enumerate() {
            *slot = (self.distance_outside(f, point[f]), f);
        }
        outside.sort_by(|a, b| b.0.total_cmp(&a.0));
        outside.into_iter().filter(|(distance, _)| *distance > 0.0).map(|(_, f)| FEATURES[f])
    }

    /// Whether `value` is below the typical range of `feature`.
    pub fn is_below(&self, feature: Feature, value: f32) -> bool {
        value < self.low[feature as usize]
    }

    /// How far outside [low, high] a value is, in units of the range's width (0 inside).
    fn distance_outside(&self, f: usize, value: f32) -> f32 {
        let (low, high) = (self.low[f], self.high[f]);
        // A feature that never varied (all 200s) still needs a scale: take a tenth of its
        // magnitude, and never less than a small constant.
        let width = larger(larger(high - low, 0.1 * larger(high.abs(), low.abs())), 1e-3);
        larger(larger(low - value, value - high) / width, 0.0)
    }

    /// "url_length 412 (typical 12-40)".
    pub fn describe(&self, out: &mut String, feature: Feature, value: f32) {
        let f = feature as usize;
        let (actual, decimals) = feature.readable(value);
        let (low, _) = feature.readable(self.low[f]);
        let (high, _) = feature.readable(self.high[f]);
        let _ = write!(out, "{} {actual:.decimals$} (typical {low:.decimals$}-{high:.decimals$})", feature.name());
    }
}

/// The larger of two values that are never NaN. A comparison, not `f32::max`: in wasm that is
/// a call to libm's `fmaxf`, and a reason ranks all sixteen features with four of them each.
fn larger(a: f32, b: f32) -> f32 {
    if a > b { a } else { b }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forest::POINT_WIDTH;

    fn points() -> Vec<Point> {
        (0..1000)
            .map(|i| {
                let mut p = [0.0; POINT_WIDTH];
                p[Feature::QueryParams as usize] = 2.0;
                p[Feature::UrlLength as usize] = 10.0 + (i % 31) as f32;
                p[Feature::IpErrorRate as usize] = (i % 6) as f32 / 100.0;
                p
            })
            .collect()
    }

    #[test]
    fn ranges_are_the_middle_ninety_percent() {
        let ranges = TypicalRanges::from_points(&points());
        let f = Feature::UrlLength as usize;
        assert!((11.0..=12.0).contains(&ranges.low[f]) && (38.0..=39.0).contains(&ranges.high[f]));
        assert_eq!(ranges.low[Feature::QueryParams as usize], 2.0);
    }

    #[test]
    fn reason_names_the_unusual_features_with_values() {
        let ranges = TypicalRanges::from_points(&points());
        let mut odd = points()[3];
        odd[Feature::UrlLength as usize] = 412.0;
        odd[Feature::IpErrorRate as usize] = 0.93;
        let reason = ranges.explain(&odd);
        assert_eq!(reason, "ip_error_rate 0.93 (typical 0.00-0.05); url_length 412 (typical 11-39)");
    }

    #[test]
    fn typical_point_gets_a_combination_reason() {
        let ranges = TypicalRanges::from_points(&points());
        assert!(ranges.explain(&points()[500]).starts_with("unusual combination"));
    }

    #[test]
    fn bytes_read_in_bytes() {
        let mut p = points();
        for (i, point) in p.iter_mut().enumerate() {
            point[Feature::Bytes as usize] = (1000.0 + i as f32).ln_1p();
        }
        let ranges = TypicalRanges::from_points(&p);
        let mut odd = p[0];
        odd[Feature::Bytes as usize] = 1_048_576f32.ln_1p();
        assert!(ranges.explain(&odd).starts_with("bytes 1048576 (typical 1050-1950)"), "{}", ranges.explain(&odd));
    }
}
