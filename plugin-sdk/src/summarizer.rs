//! Summarizer plugins: a type that implements [`Summarizer`], exported with
//! [`export_summarizer!`](crate::export_summarizer). The agent folds every committed batch
//! into the open window and asks for the window's summary when it closes.
//!
//! ```ignore
//! use vigil_plugin_sdk::prelude::*;
//!
//! #[derive(Default)]
//! struct Count { events: u64 }
//!
//! impl Summarizer for Count {
//!     type Config = serde_json::Value;
//!     const NAME: &'static str = "count";
//!     const VERSION: &'static str = "0.1.0";
//!     fn new(_: Self::Config, _: &SummarizerSettings) -> Result<Self, String> { Ok(Count::default()) }
//!     fn fold(&mut self, batch: &[Event<'_>], _: &Judgements) -> Result<(), String> {
//!         self.events += batch.len() as u64;
//!         Ok(())
//!     }
//!     fn emit(&mut self, _: Window) -> Result<Summary, String> {
//!         let events = std::mem::take(&mut self.events);
//!         Ok(Summary::new(format!("{events} events"), &serde_json::json!({ "events": events })))
//!     }
//! }
//!
//! export_summarizer!(Count);
//! ```

/// Bindings of the `summarizer` world. Generated in a module of their own (each world's
/// bindings are), sharing the `types` interface with the detector's bindings so a batch is
/// one Rust type and decodes with the same code.
#[doc(hidden)]
#[allow(clippy::too_many_arguments)] // generated code
pub mod bindings {
    wit_bindgen::generate!({
        world: "summarizer",
        path: "wit",
        pub_export_macro: true,
        export_macro_name: "__export_summarizer_world",
        default_bindings_module: "vigil_plugin_sdk::summarizer::bindings",
        with: { "vigil:plugin/types@0.1.0": crate::bindings::vigil::plugin::types },
    });
}

use crate::PluginInfo;
use crate::event::{self, Event};
use serde::Serialize;

pub use bindings::vigil::plugin::summaries::{Anomaly, Judgements, SummarizerSettings, Summary, Window};

impl Summary {
    /// A summary from its text and its structured facts (serialized to a JSON object).
    pub fn new(text: impl Into<String>, data: &impl Serialize) -> Self {
        // Serializing plain data to a string only fails for maps with non-string keys.
        let data = serde_json::to_string(data).unwrap_or_else(|e| format!(r#"{{"error":"{e}"}}"#));
        Summary { text: text.into(), data }
    }
}

impl Judgements {
    /// Whether event `index` was scored (see [`Judgements::scores`]).
    pub fn scored(&self, index: usize) -> bool {
        self.scores.get(index).is_some_and(|s| *s >= 0.0)
    }
}

/// A summarizer plugin: folds batches of events into a window and summarizes each window.
///
/// Every method but [`Summarizer::new`], [`Summarizer::fold`] and [`Summarizer::emit`] has a
/// default.
pub trait Summarizer: Sized + 'static {
    /// The plugin's config table from the agent's TOML, decoded from JSON.
    type Config: serde::de::DeserializeOwned;
    /// Plugin name, shown in `/api/v1/plugins`, logs and every summary.
    const NAME: &'static str;
    /// Plugin version.
    const VERSION: &'static str;

    /// Build the summarizer from its config table and the agent's settings (the window
    /// length). An error refuses the config with that message.
    fn new(config: Self::Config, settings: &SummarizerSettings) -> Result<Self, String>;

    /// Add a batch of committed events to the open window. `judgements.scores[i]` and the
    /// anomalies whose `index` is `i` belong to `batch[i]`.
    fn fold(&mut self, batch: &[Event<'_>], judgements: &Judgements) -> Result<(), String>;

    /// Summarize the open window and start a new, empty one. The agent calls it only for
    /// windows that had events.
    fn emit(&mut self, window: Window) -> Result<Summary, String>;

    /// State kept across windows, as bytes. Default: nothing to keep.
    fn snapshot(&self) -> Vec<u8> {
        Vec::new()
    }

    /// Restore a state produced by [`Summarizer::snapshot`]. Default: ignore it.
    fn restore(&mut self, _state: &[u8]) -> Result<(), String> {
        Ok(())
    }
}

/// Glue used by [`export_summarizer!`](crate::export_summarizer); not part of the public API.
#[doc(hidden)]
pub mod __private {
    use super::*;
    use crate::bindings::vigil::plugin::types::Batch;
    use std::any::Any;
    use std::cell::RefCell;

    thread_local! {
        // A component instance is single-threaded and holds exactly one summarizer.
        static SUMMARIZER: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
    }

    fn with<S: Summarizer, R>(f: impl FnOnce(&mut S) -> Result<R, String>) -> Result<R, String> {
        SUMMARIZER.with_borrow_mut(|slot| match slot.as_mut().and_then(|s| s.downcast_mut::<S>()) {
            Some(summarizer) => f(summarizer),
            None => Err(format!("{}: called before configure", S::NAME)),
        })
    }

    pub fn info<S: Summarizer>() -> PluginInfo {
        PluginInfo { name: S::NAME.to_owned(), version: S::VERSION.to_owned() }
    }

    pub fn configure<S: Summarizer>(config: &str, settings: &SummarizerSettings) -> Result<(), String> {
        let config = crate::config::decode::<S::Config>(config).map_err(|e| format!("{} config: {e}", S::NAME))?;
        let summarizer = S::new(config, settings)?;
        SUMMARIZER.set(Some(Box::new(summarizer)));
        Ok(())
    }

    pub fn fold<S: Summarizer>(batch: &Batch, judgements: &Judgements) -> Result<(), String> {
        let events: Vec<Event<'_>> = event::decode(batch)?;
        if judgements.scores.len() != events.len() {
            return Err(format!(
                "{}: {} scores for a batch of {} events",
                S::NAME,
                judgements.scores.len(),
                events.len()
            ));
        }
        if let Some(a) = judgements.anomalies.iter().find(|a| a.index as usize >= events.len()) {
            return Err(format!("{}: an anomaly names event {} of a batch of {}", S::NAME, a.index, events.len()));
        }
        with::<S, _>(|s| s.fold(&events, judgements))
    }

    pub fn emit<S: Summarizer>(window: Window) -> Result<Summary, String> {
        with::<S, _>(|s| s.emit(window))
    }

    pub fn snapshot<S: Summarizer>() -> Vec<u8> {
        with::<S, _>(|s| Ok(s.snapshot())).unwrap_or_default()
    }

    pub fn restore<S: Summarizer>(state: &[u8]) -> Result<(), String> {
        with::<S, _>(|s| s.restore(state))
    }
}

/// Export a [`Summarizer`] implementation as the component's `summarizer` world.
#[macro_export]
macro_rules! export_summarizer {
    ($summarizer:ty) => {
        #[doc(hidden)]
        pub struct __VigilSummarizerExport;

        impl $crate::summarizer::bindings::Guest for __VigilSummarizerExport {
            fn info() -> $crate::PluginInfo {
                $crate::summarizer::__private::info::<$summarizer>()
            }
            fn configure(config: String, settings: $crate::summarizer::SummarizerSettings) -> Result<(), String> {
                $crate::summarizer::__private::configure::<$summarizer>(&config, &settings)
            }
            fn fold(
                batch: $crate::bindings::vigil::plugin::types::Batch,
                judgements: $crate::summarizer::Judgements,
            ) -> Result<(), String> {
                $crate::summarizer::__private::fold::<$summarizer>(&batch, &judgements)
            }
            fn emit(window: $crate::summarizer::Window) -> Result<$crate::summarizer::Summary, String> {
                $crate::summarizer::__private::emit::<$summarizer>(window)
            }
            fn snapshot() -> Vec<u8> {
                $crate::summarizer::__private::snapshot::<$summarizer>()
            }
            fn restore(state: Vec<u8>) -> Result<(), String> {
                $crate::summarizer::__private::restore::<$summarizer>(&state)
            }
        }

        $crate::summarizer::bindings::__export_summarizer_world!(__VigilSummarizerExport);
    };
}
