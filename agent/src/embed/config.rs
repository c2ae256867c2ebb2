//! `[embedding]`: which embedder turns logs, anomalies, summaries and `/chat` questions into
//! vectors. Every vector in `vigil.db` and in Chroma comes from it, so changing it is checked
//! against what the store already holds when the agent starts (see `store/vectors.rs`).

use super::{Embedder, HashedNgrams};
use serde::Deserialize;
use std::sync::Arc;

/// Fewest dimensions accepted: below this, hashed features collide so often that unrelated
/// texts look alike.
pub const MIN_DIMENSIONS: u32 = 32;
/// Most dimensions accepted: past this, every stored vector costs over 16 KiB for no gain in
/// what a hashed embedder can tell apart.
pub const MAX_DIMENSIONS: u32 = 4096;

/// `[embedding]` as users write it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddingConfig {
    /// Which embedder: `"hashed"` (the default and, for now, the only one) hashes words, word
    /// pairs and character trigrams into `dimensions` buckets; it needs no model download and
    /// gives the same vector for the same text on every machine.
    #[serde(default)]
    pub kind: EmbedderKind,
    /// Length of every vector, 32 to 4096. More dimensions mean fewer hash collisions (finer
    /// search) and larger vectors; 384 suits log lines. Changing it against a data_dir that
    /// already holds vectors re-embeds the embedded index at start (`[store] kind =
    /// "embedded"`), or is refused with Chroma, whose collections keep their dimension.
    #[serde(default = "default_dimensions")]
    pub dimensions: u32,
}

impl Default for EmbeddingConfig {
    fn default() -> Self {
        EmbeddingConfig { kind: EmbedderKind::default(), dimensions: default_dimensions() }
    }
}

fn default_dimensions() -> u32 {
    384
}

/// The embedders Vigil can build.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum EmbedderKind {
    /// [`HashedNgrams`]: feature hashing, no model.
    #[default]
    Hashed,
}

impl TryFrom<String> for EmbedderKind {
    type Error = String;

    fn try_from(kind: String) -> Result<Self, Self::Error> {
        match kind.as_str() {
            "hashed" => Ok(EmbedderKind::Hashed),
            other => Err(format!("unknown embedding kind {other:?}; the kinds are: \"hashed\"")),
        }
    }
}

/// Validated `[embedding]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbeddingSettings {
    /// Which embedder.
    pub kind: EmbedderKind,
    /// Length of every vector.
    pub dimensions: usize,
}

impl Default for EmbeddingSettings {
    fn default() -> Self {
        EmbeddingSettings { kind: EmbedderKind::Hashed, dimensions: default_dimensions() as usize }
    }
}

/// One problem in `[embedding]`: the field, what is wrong and what to write instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddingConfigError {
    /// The field, e.g. `embedding.dimensions`.
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
    /// What to write instead.
    pub hint: &'static str,
}

impl EmbeddingConfig {
    /// Check the values and build the settings the running code uses.
    pub fn resolve(&self) -> Result<EmbeddingSettings, EmbeddingConfigError> {
        if !(MIN_DIMENSIONS..=MAX_DIMENSIONS).contains(&self.dimensions) {
            return Err(EmbeddingConfigError {
                field: "embedding.dimensions",
                message: format!("must be between {MIN_DIMENSIONS} and {MAX_DIMENSIONS}, got {}", self.dimensions),
                hint: "384 (the default) suits log lines",
            });
        }
        Ok(EmbeddingSettings { kind: self.kind, dimensions: self.dimensions as usize })
    }
}

impl EmbeddingSettings {
    /// The embedder these settings describe; the default settings give the same vectors as
    /// [`super::default_embedder`].
    pub fn build(&self) -> Arc<dyn Embedder> {
        match self.kind {
            EmbedderKind::Hashed if *self == EmbeddingSettings::default() => super::default_embedder(),
            EmbedderKind::Hashed => Arc::new(HashedNgrams::new(self.dimensions)),
        }
    }
}
