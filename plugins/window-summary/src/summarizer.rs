//! The SDK `Summarizer` over a [`Tally`]: folds batches, emits a [`Report`] per window, and
//! keeps the URL patterns seen (the only state that outlives a window) in its snapshot.

use crate::config::Config;
use crate::patterns::{SeenPatterns, SeenState};
use crate::report::Report;
use crate::window::Tally;
use serde::{Deserialize, Serialize};
use vigil_plugin_sdk::prelude::*;

/// Snapshot layout version; a snapshot of another version is refused with a message.
const SNAPSHOT_VERSION: u32 = 1;

/// The default summarizer.
pub struct WindowSummary {
    config: Config,
    tally: Tally,
    seen: SeenPatterns,
    /// Windows emitted, plus one when the seen patterns were restored: 0 means every
    /// pattern is new because nothing came before.
    history: u64,
}

#[derive(Serialize, Deserialize)]
struct Snapshot {
    version: u32,
    history: u64,
    seen: SeenState,
}

impl WindowSummary {
    /// A summarizer with `config` (validated).
    pub fn with_config(config: Config) -> Result<Self, String> {
        config.validate()?;
        Ok(WindowSummary {
            tally: Tally::new(&config, config.seed),
            seen: SeenPatterns::new(config.max_patterns),
            history: 0,
            config,
        })
    }

    /// The summary of the open window as a [`Report`], and start a new window.
    pub fn report(&mut self, window: Window) -> Report {
        let seed = self.tally.bytes.seed();
        let tally = std::mem::replace(&mut self.tally, Tally::new(&self.config, seed));
        let report = Report::build(
            tally,
            window.start_ms,
            window.end_ms,
            self.config.top_n,
            self.config.anomalies_listed,
            self.history == 0,
        );
        self.history += 1;
        report
    }

    /// URL patterns remembered.
    pub fn patterns_remembered(&self) -> usize {
        self.seen.len()
    }
}

impl Summarizer for WindowSummary {
    type Config = Config;
    const NAME: &'static str = "window-summary";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn new(config: Config, _settings: &SummarizerSettings) -> Result<Self, String> {
        Self::with_config(config)
    }

    fn fold(&mut self, batch: &[Event<'_>], judgements: &Judgements) -> Result<(), String> {
        self.tally.fold(batch, judgements, &self.config, &mut self.seen);
        Ok(())
    }

    fn emit(&mut self, window: Window) -> Result<Summary, String> {
        let report = self.report(window);
        Ok(Summary::new(report.text(), &report))
    }

    fn snapshot(&self) -> Vec<u8> {
        let snapshot = Snapshot { version: SNAPSHOT_VERSION, history: self.history, seen: self.seen.state() };
        postcard::to_stdvec(&snapshot).unwrap_or_default()
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), String> {
        if state.is_empty() {
            return Ok(());
        }
        let snapshot: Snapshot =
            postcard::from_bytes(state).map_err(|e| format!("window-summary snapshot is unreadable: {e}"))?;
        if snapshot.version != SNAPSHOT_VERSION {
            return Err(format!(
                "window-summary snapshot has layout {}, this version reads {SNAPSHOT_VERSION}",
                snapshot.version
            ));
        }
        self.seen.load(snapshot.seen);
        self.history = snapshot.history.max(1);
        Ok(())
    }
}
