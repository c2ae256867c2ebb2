use vigil_plugin_sdk::prelude::*;

#[derive(serde::Deserialize)]
struct Config {
    max_bytes: u64,
}

struct Threshold(Config);

impl Detector for Threshold {
    type Config = Config;
    fn new(config: Config, _settings: &Settings) -> Result<Self, String> {
        Ok(Threshold(config))
    }

    fn score(&mut self, batch: &[Event]) -> Result<Vec<Verdict>, String> {
        let verdict = |e: &Event| match e.bytes_sent > self.0.max_bytes {
            true => Verdict::new(1.0, format!("{} bytes, over max_bytes", e.bytes_sent)),
            false => Verdict::normal(),
        };
        Ok(batch.iter().map(verdict).collect())
    }
}

export_detector!(Threshold);
