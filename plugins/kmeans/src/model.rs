//! Everything the detector has learned, and the schedule by which it keeps learning.
//!
//! Owns the feature state, the reservoir sample, the clusters and the random stream. During
//! warm-up every event enters the sample and the clusters are refitted whenever the sample
//! has been offered an eighth more events than at the last fit (O(log warmup) fits); after
//! it only events scoring below the threshold enter the sample (an ongoing attack does not
//! teach the detector that it is normal) and the clusters are refitted every `retrain_every`
//! scored events. It is the unit of snapshots.

use serde::{Deserialize, Serialize};
use vigil_plugin_sdk::{Event, Reservoir, Rng, Verdict};

use crate::clusters::{Clusters, FitParams};
use crate::config::Params;
use crate::features::{FeatureExtractor, Point};

/// The reason given while no clusters have been fitted yet.
pub const LEARNING_REASON: &str = "learning: not enough events yet";

/// During warm-up a refit is due once the sample has been offered this fraction (1/8) more
/// events than at the last fit.
const WARMUP_GROWTH_DIVISOR: u64 = 8;

/// The learned state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Model {
    params: Params,
    extractor: FeatureExtractor,
    reservoir: Reservoir<Point>,
    clusters: Option<Clusters>,
    rng: Rng,
    /// Events ever turned into points, trained or scored.
    events_seen: u64,
    /// `reservoir.offered()` at the last fit.
    fitted_at: u64,
    /// Events scored since the last fit after warm-up.
    since_fit: u64,
}

impl Model {
    /// A model that has learned nothing yet.
    pub fn new(params: Params) -> Self {
        Self {
            params,
            extractor: FeatureExtractor::default(),
            reservoir: Reservoir::new(params.reservoir),
            clusters: None,
            rng: Rng::seeded(params.seed),
            events_seen: 0,
            fitted_at: 0,
            since_fit: 0,
        }
    }

    /// Learn from a batch presumed normal: all of it enters the sample, and the clusters are
    /// refitted.
    pub fn train(&mut self, batch: &[Event], points: &mut Vec<Point>) -> Result<(), String> {
        self.extract(batch, points);
        for point in points.iter() {
            self.reservoir.offer(*point, &mut self.rng);
        }
        if self.reservoir.items().is_empty() { Ok(()) } else { self.refit() }
    }

    /// Score a batch, learning from it as the schedule says.
    pub fn score(&mut self, batch: &[Event], threshold: f32, points: &mut Vec<Point>) -> Result<Vec<Verdict>, String> {
        let warming_up = self.clusters.is_none() || self.events_seen < self.params.warmup;
        self.extract(batch, points);
        if warming_up {
            // Learned before scoring, so the very first batch is judged against itself.
            for point in points.iter() {
                self.reservoir.offer(*point, &mut self.rng);
            }
            if self.warmup_refit_due() {
                self.refit()?;
            }
        }
        let Some(clusters) = &self.clusters else {
            return Ok(batch.iter().map(|_| Verdict::new(0.0, LEARNING_REASON)).collect());
        };
        let mut verdicts = Vec::with_capacity(batch.len());
        for point in points.iter() {
            let placement = clusters.place(point);
            if placement.score >= threshold {
                verdicts.push(Verdict::new(placement.score, clusters.explain(point, placement)));
            } else {
                verdicts.push(Verdict::new(placement.score, ""));
                if !warming_up {
                    self.reservoir.offer(*point, &mut self.rng);
                }
            }
        }
        if !warming_up {
            self.since_fit += batch.len() as u64;
            if self.since_fit >= self.params.retrain_every {
                self.refit()?;
            }
        }
        Ok(verdicts)
    }

    /// Whether clusters have been fitted yet.
    #[cfg(test)]
    pub fn is_fitted(&self) -> bool {
        self.clusters.is_some()
    }

    /// Check a model decoded from a snapshot, and adopt the running config's schedule.
    ///
    /// `clusters` and `reservoir` size the state and must match; the other keys may differ
    /// and are taken from `current`.
    pub fn adopt(mut self, current: Params) -> Result<Self, String> {
        let saved = self.params;
        if (saved.clusters, saved.reservoir) != (current.clusters, current.reservoir) {
            return Err(format!(
                "snapshot was taken with clusters={}, reservoir={} but the config says clusters={}, reservoir={}; \
                 restore the old config or discard the snapshot",
                saved.clusters, saved.reservoir, current.clusters, current.reservoir
            ));
        }
        self.extractor.validate()?;
        let sample = &self.reservoir;
        if sample.capacity() != current.reservoir || sample.items().len() > current.reservoir {
            return Err(format!("snapshot sample holds {} of {}", sample.items().len(), sample.capacity()));
        }
        if sample.items().iter().flatten().any(|v| !v.is_finite()) {
            return Err("snapshot sample holds a non-finite value".to_owned());
        }
        if let Some(clusters) = &self.clusters {
            clusters.validate(current.clusters)?;
        }
        self.params = current;
        Ok(self)
    }

    fn extract(&mut self, batch: &[Event], points: &mut Vec<Point>) {
        points.clear();
        points.extend(batch.iter().map(|event| self.extractor.extract(event)));
        self.events_seen += batch.len() as u64;
    }

    fn warmup_refit_due(&self) -> bool {
        let new_events = self.reservoir.offered() - self.fitted_at;
        !self.reservoir.items().is_empty()
            && (self.clusters.is_none() || new_events >= (self.fitted_at / WARMUP_GROWTH_DIVISOR).max(1))
    }

    fn refit(&mut self) -> Result<(), String> {
        let params = FitParams {
            clusters: self.params.clusters,
            max_iterations: self.params.max_iterations,
            runs: self.params.runs,
            edge_quantile: self.params.edge_quantile,
        };
        self.clusters = Some(Clusters::fit(self.reservoir.items(), params, &mut self.rng)?);
        self.fitted_at = self.reservoir.offered();
        self.since_fit = 0;
        Ok(())
    }
}
