//! The learned clusters: per-feature standardisation, the k-means centroids (fitted with
//! linfa-clustering) and the distance calibration that turns "how far from the nearest
//! centroid" into a score in [0, 1]. Plain Rust over points; no SDK types.

use linfa::DatasetBase;
use linfa::traits::Fit;
use linfa_clustering::KMeans;
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use vigil_plugin_sdk::Rng;

use crate::features::{DIMS, NAMES, Point};

/// Below this spread a feature counts as constant: it is not scaled, so any deviation from the
/// constant counts in its own units instead of blowing up to infinity.
const MIN_STD: f32 = 1e-3;
/// The smallest calibration distance, so a sample of identical points still gives finite scores.
const MIN_EDGE: f32 = 1e-3;

/// What a fit needs besides the points.
#[derive(Clone, Copy, Debug)]
pub struct FitParams {
    pub clusters: usize,
    pub max_iterations: u64,
    pub runs: usize,
    /// Quantile of the training distances that scores 0.5.
    pub edge_quantile: f32,
}

/// Centroids in standardised space, and how to get there and back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Clusters {
    mean: Point,
    std: Point,
    centroids: Vec<Point>,
    /// The training distance at the edge quantile: an event this far from its nearest
    /// centroid scores 0.5.
    edge: f32,
}

/// One event's place relative to the clusters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Placement {
    /// Index of the nearest centroid.
    pub nearest: usize,
    /// Euclidean distance to it, in standardised units.
    pub distance: f32,
    /// Score in [0, 1]: `1 - 2^(-distance / edge)`.
    pub score: f32,
}

impl Clusters {
    /// Fit `params.clusters` centroids (fewer if there are fewer points) to `points` (at least
    /// one). The random stream only seeds k-means++, drawn from `rng` so refits differ.
    pub fn fit(points: &[Point], params: FitParams, rng: &mut Rng) -> Result<Self, String> {
        if points.is_empty() {
            return Err("cannot fit clusters to no events".to_owned());
        }
        let (mean, std) = moments(points);
        let standardised: Vec<f32> =
            points.iter().flat_map(|p| (0..DIMS).map(move |d| (p[d] - mean[d]) / std[d])).collect();
        let records = Array2::from_shape_vec((points.len(), DIMS), standardised).expect("rows of DIMS values");
        let k = params.clusters.min(points.len());
        let model = KMeans::params_with_rng(k, Rng::seeded(rng.next_u64()))
            .max_n_iterations(params.max_iterations)
            .n_runs(params.runs)
            .tolerance(1e-4)
            .fit(&DatasetBase::from(records.clone()))
            .map_err(|e| format!("k-means fit failed: {e}"))?;
        let centroids: Vec<Point> = model
            .centroids()
            .rows()
            .into_iter()
            .map(|row| std::array::from_fn(|d| row[d]))
            .filter(|c: &Point| c.iter().all(|v| v.is_finite()))
            .collect();
        if centroids.is_empty() {
            return Err("k-means fit gave no finite centroid".to_owned());
        }
        let mut clusters = Clusters { mean, std, centroids, edge: 1.0 };
        let mut distances: Vec<f32> =
            records.rows().into_iter().map(|row| clusters.nearest_standardised(row.as_slice().unwrap()).1).collect();
        distances.sort_unstable_by(f32::total_cmp);
        let at = ((distances.len() - 1) as f32 * params.edge_quantile).round() as usize;
        clusters.edge = distances[at].max(MIN_EDGE);
        Ok(clusters)
    }

    /// Where `point` falls: nearest centroid, distance and score.
    pub fn place(&self, point: &Point) -> Placement {
        let z: Point = std::array::from_fn(|d| (point[d] - self.mean[d]) / self.std[d]);
        let (nearest, distance) = self.nearest_standardised(&z);
        Placement { nearest, distance, score: 1.0 - (-distance / self.edge).exp2() }
    }

    /// A short reason for an anomalous `point`: how far out it is, and the feature that
    /// contributes most to the distance with its value and its cluster's.
    pub fn explain(&self, point: &Point, placement: Placement) -> String {
        let centroid = &self.centroids[placement.nearest];
        let (d, _) = (0..DIMS)
            .map(|d| (d, ((point[d] - self.mean[d]) / self.std[d] - centroid[d]).abs()))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .expect("DIMS > 0");
        let usual = centroid[d] * self.std[d] + self.mean[d];
        format!(
            "{:.1}x the usual distance from the nearest of {} clusters; mostly {} {:.2} (cluster centre {:.2})",
            placement.distance / self.edge,
            self.centroids.len(),
            NAMES[d],
            point[d],
            usual
        )
    }

    /// Number of centroids.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.centroids.len()
    }

    /// Check clusters decoded from a snapshot, so a corrupt one is refused instead of scoring
    /// everything NaN.
    pub fn validate(&self, max_clusters: usize) -> Result<(), String> {
        let finite = |p: &Point| p.iter().all(|v| v.is_finite());
        if self.centroids.is_empty() || self.centroids.len() > max_clusters {
            return Err(format!("snapshot has {} centroids, expected 1 to {max_clusters}", self.centroids.len()));
        }
        if !finite(&self.mean) || !self.std.iter().all(|s| s.is_finite() && *s >= MIN_STD) {
            return Err("snapshot has a non-finite or zero scale".to_owned());
        }
        if !(self.centroids.iter().all(finite) && self.edge.is_finite() && self.edge >= MIN_EDGE) {
            return Err("snapshot has a non-finite centroid or calibration".to_owned());
        }
        Ok(())
    }

    fn nearest_standardised(&self, z: &[f32]) -> (usize, f32) {
        let mut best = (0, f32::INFINITY);
        for (i, c) in self.centroids.iter().enumerate() {
            let d2: f32 = c.iter().zip(z).map(|(c, z)| (c - z) * (c - z)).sum();
            if d2 < best.1 {
                best = (i, d2);
            }
        }
        (best.0, best.1.sqrt())
    }
}

/// Per-feature mean and standard deviation (at least [`MIN_STD`]).
fn moments(points: &[Point]) -> (Point, Point) {
    let n = points.len() as f64;
    let mut mean = [0f64; DIMS];
    for p in points {
        for d in 0..DIMS {
            mean[d] += f64::from(p[d]) / n;
        }
    }
    let mut var = [0f64; DIMS];
    for p in points {
        for d in 0..DIMS {
            var[d] += (f64::from(p[d]) - mean[d]).powi(2) / n;
        }
    }
    (mean.map(|m| m as f32), var.map(|v| (v.sqrt() as f32).max(MIN_STD)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARAMS: FitParams = FitParams { clusters: 3, max_iterations: 100, runs: 2, edge_quantile: 0.99 };

    /// Three tight blobs with a little noise.
    fn blobs(n: usize, rng: &mut Rng) -> Vec<Point> {
        (0..n)
            .map(|i| {
                let centre = [0.0, 10.0, 20.0][i % 3];
                std::array::from_fn(|d| centre + d as f32 + rng.next_f32() - 0.5)
            })
            .collect()
    }

    #[test]
    fn finds_the_blobs_and_scores_outliers_high() {
        let mut rng = Rng::seeded(1);
        let clusters = Clusters::fit(&blobs(600, &mut rng), PARAMS, &mut rng).unwrap();
        assert_eq!(clusters.len(), 3);
        let inside = clusters.place(&std::array::from_fn(|d| 10.0 + d as f32));
        let between = clusters.place(&std::array::from_fn(|d| 5.0 + d as f32));
        let far = clusters.place(&[100.0; DIMS]);
        assert!(inside.score < 0.5, "{inside:?}");
        assert!(between.score > 0.9 && far.score > between.score, "{between:?} {far:?}");
        assert!(far.score <= 1.0);
        let reason = clusters.explain(&[100.0; DIMS], far);
        assert!(reason.contains("usual distance from the nearest of 3 clusters; mostly"), "{reason}");
    }

    #[test]
    fn about_one_percent_of_training_points_pass_the_edge() {
        let mut rng = Rng::seeded(2);
        let points = blobs(3_000, &mut rng);
        let clusters = Clusters::fit(&points, PARAMS, &mut rng).unwrap();
        let over = points.iter().filter(|p| clusters.place(p).score > 0.5).count();
        assert!((10..=60).contains(&over), "{over} of 3000 above 0.5");
    }

    #[test]
    fn same_seed_same_clusters() {
        let points = blobs(300, &mut Rng::seeded(3));
        let a = Clusters::fit(&points, PARAMS, &mut Rng::seeded(9)).unwrap();
        let b = Clusters::fit(&points, PARAMS, &mut Rng::seeded(9)).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn few_or_identical_points_still_fit() {
        let mut rng = Rng::seeded(4);
        let one = Clusters::fit(&[[1.0; DIMS]], PARAMS, &mut rng).unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one.place(&[1.0; DIMS]).score, 0.0);
        assert!(one.place(&[2.0; DIMS]).score > 0.99);
        let same = Clusters::fit(&[[3.0; DIMS]; 50], PARAMS, &mut rng).unwrap();
        assert!(same.validate(3).is_ok());
        assert!(Clusters::fit(&[], PARAMS, &mut rng).is_err());
    }

    #[test]
    fn corrupt_clusters_are_refused() {
        let mut rng = Rng::seeded(5);
        let mut clusters = Clusters::fit(&blobs(60, &mut rng), PARAMS, &mut rng).unwrap();
        assert!(clusters.validate(2).is_err());
        clusters.centroids[0][0] = f32::NAN;
        assert!(clusters.validate(3).is_err());
    }
}
