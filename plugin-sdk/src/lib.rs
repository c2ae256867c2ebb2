//! The Vigil plugin SDK: everything a detector author imports.
//!
//! A detector is a type that implements [`Detector`] and is exported with
//! [`export_detector!`]. The SDK owns the WIT boundary (`wit/vigil.wit`, package
//! `vigil:plugin@0.1.0`), the plugin's state between calls and the decoding of its config;
//! the author writes plain Rust over plain types.
//!
//! ```ignore
//! use vigil_plugin_sdk::prelude::*;
//!
//! #[derive(Default, serde::Deserialize)]
//! struct Config { limit: u64 }
//!
//! struct BigResponses { limit: u64 }
//!
//! impl Detector for BigResponses {
//!     type Config = Config;
//!     const NAME: &'static str = "big-responses";
//!     const VERSION: &'static str = "0.1.0";
//!     fn new(config: Config, _: &Settings) -> Result<Self, String> { Ok(Self { limit: config.limit }) }
//!     fn score(&mut self, batch: &[Event<'_>]) -> Result<Vec<Verdict>, String> {
//!         Ok(batch.iter().map(|e| if e.bytes_sent > self.limit {
//!             Verdict::new(1.0, "response larger than the limit")
//!         } else {
//!             Verdict::normal()
//!         }).collect())
//!     }
//! }
//!
//! export_detector!(BigResponses);
//! ```

#[doc(hidden)]
#[allow(clippy::too_many_arguments)] // generated code
pub mod bindings {
    wit_bindgen::generate!({
        world: "detector",
        path: "wit",
        pub_export_macro: true,
        export_macro_name: "__export_detector_world",
        default_bindings_module: "vigil_plugin_sdk::bindings",
    });
}

mod config;
mod event;
pub mod features;
pub mod rng;
pub mod state;
pub mod summarizer;

pub use bindings::vigil::plugin::types::{PluginInfo, Settings};
pub use event::{Event, OwnedEvent, Verdict, borrow_all};
pub use rng::{Reservoir, Rng};
pub use state::StateError;
pub use summarizer::{Anomaly, Judgements, Summarizer, SummarizerSettings, Summary, Window};

/// The WIT package version this SDK speaks; the agent refuses components built for another.
pub const INTERFACE_VERSION: &str = "0.1.0";

/// What a plugin author imports: `use vigil_plugin_sdk::prelude::*;`.
pub mod prelude {
    pub use crate::{Detector, Event, OwnedEvent, Reservoir, Rng, Settings, Verdict, export_detector, features, state};
    pub use crate::{Judgements, Summarizer, SummarizerSettings, Summary, Window, export_summarizer};
}

/// A detector plugin: scores batches of events for anomalies.
///
/// Every method but [`Detector::new`] and [`Detector::score`] has a default, so the smallest
/// detector is a constructor and a scoring function.
pub trait Detector: Sized + 'static {
    /// The plugin's config table from the agent's TOML, decoded from JSON.
    type Config: serde::de::DeserializeOwned;
    /// Plugin name, shown in `/api/v1/plugins` and logs. Default: the crate's package name.
    const NAME: &'static str = "";
    /// Plugin version. Default: the crate's package version.
    const VERSION: &'static str = "";

    /// Build the detector from its config table and the agent's settings (the anomaly
    /// threshold). An error refuses the config with that message.
    fn new(config: Self::Config, settings: &Settings) -> Result<Self, String>;

    /// Learn from a batch presumed normal. Default: learn nothing.
    ///
    /// The agent does not call this while it runs: it only scores, and a detector learns from
    /// what it scores (the built-in ones take their first events as a warm-up, then keep a
    /// sample). `train` is for hosts that have known-normal data to give, such as the agent's
    /// benchmarks; put the learning a running agent needs in `score`.
    fn train(&mut self, _batch: &[Event<'_>]) -> Result<(), String> {
        Ok(())
    }

    /// Score a batch: exactly one verdict per event, in order.
    fn score(&mut self, batch: &[Event<'_>]) -> Result<Vec<Verdict>, String>;

    /// The learned state as bytes. Default: nothing to keep.
    fn snapshot(&self) -> Vec<u8> {
        Vec::new()
    }

    /// Restore a state produced by [`Detector::snapshot`]. Default: ignore it.
    fn restore(&mut self, _state: &[u8]) -> Result<(), String> {
        Ok(())
    }
}

/// Glue used by [`export_detector!`]; not part of the public API.
#[doc(hidden)]
pub mod __private {
    use super::*;
    use crate::bindings::vigil::plugin::types::{Batch, Verdicts};
    use std::any::Any;
    use std::cell::RefCell;

    thread_local! {
        // A component instance is single-threaded and holds exactly one detector.
        static DETECTOR: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
    }

    fn with<D: Detector, R>(f: impl FnOnce(&mut D) -> Result<R, String>) -> Result<R, String> {
        DETECTOR.with_borrow_mut(|slot| match slot.as_mut().and_then(|d| d.downcast_mut::<D>()) {
            Some(detector) => f(detector),
            None => Err(format!("{}: called before configure", label::<D>())),
        })
    }

    /// The detector's own name for messages ("detector" when it relies on the package name).
    fn label<D: Detector>() -> &'static str {
        if D::NAME.is_empty() { "detector" } else { D::NAME }
    }

    /// `package` and `version` are the plugin crate's (the macro expands `env!` there): the
    /// defaults for a detector that names neither.
    pub fn info<D: Detector>(package: &str, version: &str) -> PluginInfo {
        let or = |own: &str, fallback: &str| if own.is_empty() { fallback.to_owned() } else { own.to_owned() };
        PluginInfo { name: or(D::NAME, package), version: or(D::VERSION, version) }
    }

    pub fn configure<D: Detector>(config: &str, settings: &Settings) -> Result<(), String> {
        let config = crate::config::decode::<D::Config>(config).map_err(|e| format!("{} config: {e}", label::<D>()))?;
        let detector = D::new(config, settings)?;
        DETECTOR.set(Some(Box::new(detector)));
        Ok(())
    }

    pub fn train<D: Detector>(batch: &Batch) -> Result<(), String> {
        let events = event::decode(batch)?;
        with::<D, _>(|d| d.train(&events))
    }

    pub fn score<D: Detector>(batch: &Batch) -> Result<Verdicts, String> {
        let events = event::decode(batch)?;
        let verdicts = with::<D, _>(|d| d.score(&events))?;
        if verdicts.len() != events.len() {
            return Err(format!("{}: {} verdicts for {} events", label::<D>(), verdicts.len(), events.len()));
        }
        Ok(event::encode(verdicts))
    }

    pub fn snapshot<D: Detector>() -> Vec<u8> {
        with::<D, _>(|d| Ok(d.snapshot())).unwrap_or_default()
    }

    pub fn restore<D: Detector>(state: &[u8]) -> Result<(), String> {
        with::<D, _>(|d| d.restore(state))
    }
}

/// Export a [`Detector`] implementation as the component's `detector` world.
#[macro_export]
macro_rules! export_detector {
    ($detector:ty) => {
        #[doc(hidden)]
        pub struct __VigilDetectorExport;

        impl $crate::bindings::Guest for __VigilDetectorExport {
            fn info() -> $crate::PluginInfo {
                $crate::__private::info::<$detector>(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
            }
            fn configure(config: String, settings: $crate::Settings) -> Result<(), String> {
                $crate::__private::configure::<$detector>(&config, &settings)
            }
            fn train(batch: $crate::bindings::vigil::plugin::types::Batch) -> Result<(), String> {
                $crate::__private::train::<$detector>(&batch)
            }
            fn score(
                batch: $crate::bindings::vigil::plugin::types::Batch,
            ) -> Result<$crate::bindings::vigil::plugin::types::Verdicts, String> {
                $crate::__private::score::<$detector>(&batch)
            }
            fn snapshot() -> Vec<u8> {
                $crate::__private::snapshot::<$detector>()
            }
            fn restore(state: Vec<u8>) -> Result<(), String> {
                $crate::__private::restore::<$detector>(&state)
            }
        }

        $crate::bindings::__export_detector_world!(__VigilDetectorExport);
    };
}
