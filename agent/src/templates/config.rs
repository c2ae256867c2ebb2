//! The miner's settings. One set serves every source: it is the set measured on the 16 loghub
//! samples (`docs/templates.md`), so the defaults are the tuned values.

/// Settings of a [`Miner`](super::Miner).
#[derive(Debug, Clone, PartialEq)]
pub struct MinerConfig {
    /// Leading tokens that route a line down the tree (Drain's depth less two).
    pub depth: usize,
    /// Least share of equal tokens for a line to join a template, in [0, 1].
    pub similarity: f64,
    /// Most branches under one tree node; further tokens share the `<*>` branch.
    pub max_children: usize,
    /// Most templates held; the least recently matched one is evicted past it.
    pub max_clusters: usize,
    /// Tokens of a line that count; the rest is ignored.
    pub max_tokens: usize,
}

impl Default for MinerConfig {
    fn default() -> Self {
        MinerConfig { depth: 2, similarity: 0.7, max_children: 100, max_clusters: 10_000, max_tokens: 256 }
    }
}
