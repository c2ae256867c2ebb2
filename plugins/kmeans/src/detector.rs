//! The SDK face of the crate: [`KMeansDetector`] implements `Detector` by handing each call to
//! the [`Model`], and snapshots it with the SDK's versioned state helpers.

use vigil_plugin_sdk::{Detector, Event, Settings, Verdict, state};

use crate::config::{Config, Params};
use crate::features::Point;
use crate::model::Model;

#[cfg(test)]
mod tests;

/// Snapshot format version: bump when the model's layout or meaning changes.
const STATE_VERSION: u8 = 1;

/// A k-means anomaly detector: distance to the nearest of k centroids of recent traffic.
pub struct KMeansDetector {
    params: Params,
    threshold: f32,
    model: Model,
    /// Reused from call to call so scoring does not allocate a point buffer per batch.
    points: Vec<Point>,
}

impl Detector for KMeansDetector {
    type Config = Config;
    const NAME: &'static str = "kmeans";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn new(config: Config, settings: &Settings) -> Result<Self, String> {
        let params = config.validate()?;
        Ok(Self { params, threshold: settings.threshold, model: Model::new(params), points: Vec::new() })
    }

    fn train(&mut self, batch: &[Event]) -> Result<(), String> {
        self.model.train(batch, &mut self.points)
    }

    fn score(&mut self, batch: &[Event]) -> Result<Vec<Verdict>, String> {
        self.model.score(batch, self.threshold, &mut self.points)
    }

    fn snapshot(&self) -> Vec<u8> {
        state::encode(STATE_VERSION, &self.model)
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.model = state::decode::<Model>(STATE_VERSION, bytes)?.adopt(self.params)?;
        Ok(())
    }
}
