//! Sources: where events come from. `file` tails log files (its runner feeds the pipeline);
//! the WebSocket and HTTP sources live with the API. A source never drops a line: what it
//! reads goes downstream with the position that covers it, so the store commits both
//! together, and a full pipeline makes the source wait.

pub mod config;
pub mod file;
mod registry;
mod set;

pub use config::{SourceConfig, SourceSpec};
pub use registry::SourceRegistry;
pub use set::SourceSet;
