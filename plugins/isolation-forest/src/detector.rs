//! The SDK face of the crate: [`IsolationForestDetector`] implements `Detector` by handing
//! each call to the [`Model`]. It holds no logic of its own beyond that wiring.

use vigil_plugin_sdk::{Detector, Event, Settings, Verdict};

use crate::config::{Config, Params};
use crate::model::{Model, Scratch};
use crate::snapshot;

#[cfg(test)]
mod tests;

/// Vigil's default anomaly detector: an Isolation Forest over access-log features.
pub struct IsolationForestDetector {
    params: Params,
    threshold: f32,
    /// Not part of `Params`: it shapes no learned state, so snapshots do not carry it.
    rare_message_share: f32,
    model: Model,
    scratch: Scratch,
}

impl Detector for IsolationForestDetector {
    type Config = Config;
    const NAME: &'static str = "isolation-forest";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn new(config: Config, settings: &Settings) -> Result<Self, String> {
        let params = config.validate()?;
        Ok(Self {
            params,
            threshold: settings.threshold,
            rare_message_share: config.rare_message_share,
            model: Model::new(params),
            scratch: Scratch::default(),
        })
    }

    fn train(&mut self, batch: &[Event]) -> Result<(), String> {
        self.model.train(batch, &mut self.scratch);
        Ok(())
    }

    fn score(&mut self, batch: &[Event]) -> Result<Vec<Verdict>, String> {
        Ok(self.model.score(batch, self.threshold, self.rare_message_share, &mut self.scratch))
    }

    fn snapshot(&self) -> Vec<u8> {
        snapshot::encode(&self.model)
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), String> {
        self.model = snapshot::decode(state, self.params)?;
        Ok(())
    }
}
