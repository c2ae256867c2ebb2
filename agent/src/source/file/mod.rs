//! The file source: follows the files matching its globs through rotation (rename + create,
//! copytruncate, delete + re-create, late-appearing files), identifying a file by a
//! fingerprint of its first bytes rather than by its path, and reports, with every group of
//! lines, the position (fingerprint and offset) that covers them.
//!
//! Rotated files compressed with gzip are read once, whole, when `gzip` is on.
//!
//! The [`Tailer`] is synchronous and deterministic: each `poll` scans, reads and returns what
//! is new. The runner drives it from notify events with a polling fallback.

mod config;
mod examine;
mod fingerprint;
mod gzip;
mod resume;
mod runner;
mod tailed;
mod tailer;
#[cfg(test)]
mod tests;

pub use config::{FileSourceConfig, StartAt};
pub use fingerprint::Fingerprint;
pub use runner::{FileSource, checkpoint_key};
pub use tailed::LineRead;
pub use tailer::{FileLines, Position, Tailer, TailerStats};
