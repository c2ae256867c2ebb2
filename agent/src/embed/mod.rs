//! Embeddings computed by the agent: text in, a unit-length vector out. Chroma's HTTP API and
//! the embedded vector index both take vectors, so whatever embeds a log line, an anomaly or a
//! summary must embed the question that searches for it too — the same [`Embedder`] on both
//! sides.
//!
//! [`HashedNgrams`] is the default: feature hashing of words, word pairs and character
//! n-grams; it needs no model download, no network and no state, and it is deterministic
//! across runs, builds and machines (vectors persist in Chroma). `[embedding]` ([`config`])
//! chooses the embedder and its dimension; a model-based embedder can be added behind the same
//! trait (see [`Embedder`]). This module never does I/O.

pub mod config;
mod hashed;
#[cfg(test)]
mod tests;

pub use config::{EmbedderKind, EmbeddingConfig, EmbeddingConfigError, EmbeddingSettings};
pub use hashed::HashedNgrams;

use std::sync::{Arc, LazyLock};

/// Turns text into a vector of [`dimension`](Embedder::dimension) floats, L2-normalized (or all
/// zeros for text without features), so that cosine distance compares meaning.
///
/// # Adding a model-based embedder
/// A sentence-embedding model (an ONNX or candle model run in-process, or an HTTP embedding
/// endpoint) plugs in as one more implementation:
/// 1. Implement the trait. `embed` is called on the commit path (anomalies), by summarizers and
///    by `/chat` from blocking threads, so it must be synchronous, thread-safe and cheap enough
///    per text; a remote model needs its own blocking client with a timeout. Load the model
///    once, in the constructor, and L2-normalize what it returns.
/// 2. Give it a [`name`](Embedder::name) that names the model, its revision and its dimension
///    (`"minilm-l6-v2-384"`): the store tags every vector with it and compares only vectors of
///    the same name, and a changed name is what makes the agent re-embed (embedded store) or
///    refuse to start (Chroma) instead of mixing two vector spaces.
/// 3. Add a variant to [`EmbedderKind`] with its own settings in [`EmbeddingConfig`] (model
///    path, endpoint), validated in [`EmbeddingConfig::resolve`] and built in
///    [`EmbeddingSettings::build`]. Everything else (store, Chroma outbox, `/chat`) takes the
///    embedder from there.
pub trait Embedder: Send + Sync {
    /// A stable name that changes whenever the vectors would: stored with every vector so
    /// vectors of different embedders are never compared.
    fn name(&self) -> &str;
    /// Length of every vector [`embed`](Embedder::embed) returns.
    fn dimension(&self) -> usize;
    /// The vector of `text`.
    fn embed(&self, text: &str) -> Vec<f32>;
}

static DEFAULT: LazyLock<Arc<dyn Embedder>> = LazyLock::new(|| Arc::new(HashedNgrams::default()));

/// The embedder the agent uses for every collection: [`HashedNgrams`] with its defaults.
pub fn default_embedder() -> Arc<dyn Embedder> {
    DEFAULT.clone()
}

/// Cosine distance, `1 - cos(a, b)`, in [0, 2]: the distance Chroma reports in a collection
/// with `hnsw:space = cosine`. A zero vector is at distance 1 from everything.
pub fn cosine_distance(a: &[f32], b: &[f32]) -> f32 {
    let (mut dot, mut na, mut nb) = (0f32, 0f32, 0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        return 1.0;
    }
    (1.0 - dot / (na.sqrt() * nb.sqrt())).clamp(0.0, 2.0)
}
