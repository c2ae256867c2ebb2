//! Template mining for lines that are not access logs: each line gets the id of its template,
//! the line with its variable parts (numbers, ids, addresses, paths) replaced by `<*>`.
//!
//! Owns the masking ([`mask_line`]), the Drain miner ([`Miner`]) and the grouping-accuracy
//! metric it is measured with ([`grouping_accuracy`]). It does no I/O and keeps only bounded
//! state: at most `max_clusters` templates per miner.

mod accuracy;
mod config;
#[cfg(test)]
pub(crate) mod loghub;
mod mask;
mod miner;
mod sources;
#[cfg(test)]
mod tests;

pub use accuracy::grouping_accuracy;
pub use config::MinerConfig;
pub use mask::{WILDCARD, mask_line};
pub use miner::{Mined, Miner};
pub use sources::{MAX_SOURCES, SourceMiners, strip_header, template_text, wants_template};
