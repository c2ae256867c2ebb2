//! Why a vector search or upsert failed.

use super::Collection;
use super::chroma::ChromaError;
use crate::store::StoreError;

/// A failed vector operation.
#[derive(Debug, thiserror::Error)]
pub enum VectorError {
    /// The embedded store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Chroma failed (and there was no embedded copy to answer from).
    #[error(transparent)]
    Chroma(#[from] ChromaError),
    /// The collection is not kept where the search was asked.
    #[error(
        "the {collection} collection is only searchable in Chroma (hint: set [store] kind = \"chroma\", or query logs with /api/v1/logs)"
    )]
    NotIndexed {
        /// The collection.
        collection: Collection,
    },
    /// The query vector's length is not the embedder's dimension.
    #[error("the query vector has {got} dimensions but the embedder {embedder} makes {expected}")]
    Dimension {
        /// The embedder's name.
        embedder: String,
        /// Its dimension.
        expected: usize,
        /// The query's.
        got: usize,
    },
    /// Chroma's collections hold vectors of another dimension than the embedder makes.
    #[error(
        "chroma collection {collection}: {message}, but [embedding] makes {dimension}-dimension vectors ({embedder}) \
         (hint: set [embedding] dimensions back to what the collections hold, or give [chroma] a new \
         collection_prefix to start new collections)"
    )]
    ChromaDimension {
        /// The collection.
        collection: Collection,
        /// Chroma's own words.
        message: String,
        /// The embedder's name.
        embedder: String,
        /// Its dimension.
        dimension: usize,
    },
    /// `[chroma]` leads somewhere no retry can mend: not a Chroma server, or a database it
    /// does not have.
    #[error("{error} (hint: {hint})")]
    ChromaConfig {
        /// What Chroma (or whatever answered) said.
        error: ChromaError,
        /// What to change.
        hint: &'static str,
    },
    /// A blocking task panicked or was cancelled.
    #[error("vector task failed: {0}")]
    Task(String),
}
