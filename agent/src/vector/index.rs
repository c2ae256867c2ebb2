//! [`VectorIndex`]: the one place searches and upserts go, whatever the store kind.

use super::link::ChromaLink;
use super::{Collection, Filter, Hit, Metadata, Record, VectorError};
use crate::embed::Embedder;
use crate::store::Store;
use std::sync::Arc;

/// Vector search and upsert over the configured backend.
///
/// - `kind = "embedded"`: anomalies and summaries are searched in `vigil.db` by exact scan
///   (see `store/vectors.rs`); the logs collection is not kept (logs are queried with SQL).
/// - `kind = "chroma"`: searches go to Chroma (all three collections). While Chroma is down,
///   or when a search fails, anomalies and summaries are answered from the embedded copy,
///   which is always written; a logs search fails then.
///
/// Upserts always land in the embedded index and, with Chroma, in the outbox (one
/// transaction), so they reach Chroma exactly when the drain task gets to them.
#[derive(Clone)]
pub struct VectorIndex {
    store: Arc<Store>,
    embedder: Arc<dyn Embedder>,
    chroma: Option<ChromaLink>,
}

/// Longest wait for Chroma when checking its collections' dimension at start.
const CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, VectorError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| VectorError::Task(e.to_string()))
}

impl VectorIndex {
    /// An index over `store`, and over Chroma when `chroma` is given. Vectors come from the
    /// store's embedder (`[embedding]`), so what is written and what is searched agree.
    pub fn new(store: Arc<Store>, chroma: Option<ChromaLink>) -> VectorIndex {
        let embedder = store.embedder().clone();
        VectorIndex { store, embedder, chroma }
    }

    /// The embedder as a shared handle (for the Chroma drain task).
    pub fn embedder_handle(&self) -> Arc<dyn Embedder> {
        self.embedder.clone()
    }

    /// The embedder every vector of this index comes from: embed queries with it.
    pub fn embedder(&self) -> &dyn Embedder {
        self.embedder.as_ref()
    }

    /// The Chroma link, when the store kind is `chroma`.
    pub fn chroma(&self) -> Option<&ChromaLink> {
        self.chroma.as_ref()
    }

    /// Write (or replace) record `id` of `collection`: its `document`, its `embedding` (from
    /// [`embedder`](Self::embedder)) and its `metadata` (flat strings, numbers, booleans).
    pub async fn upsert(
        &self,
        collection: Collection,
        id: &str,
        document: &str,
        embedding: Vec<f32>,
        metadata: Metadata,
    ) -> Result<(), VectorError> {
        self.check_dimension(&embedding)?;
        let record = Record { id: id.to_owned(), document: document.to_owned(), metadata };
        let (store, embedder) = (self.store.clone(), self.embedder.clone());
        blocking(move || store.upsert_vector(collection, &record, embedder.as_ref(), &embedding)).await??;
        Ok(())
    }

    /// The `k` records of `collection` nearest to `embedding` (from
    /// [`embedder`](Self::embedder)) that match `filter`, nearest first.
    pub async fn query(
        &self,
        collection: Collection,
        embedding: &[f32],
        k: usize,
        filter: &Filter,
    ) -> Result<Vec<Hit>, VectorError> {
        self.check_dimension(embedding)?;
        if let Some(answered) = self.query_chroma(collection, embedding, k, filter).await {
            return answered;
        }
        let (store, embedder, embedding, filter) =
            (self.store.clone(), self.embedder.clone(), embedding.to_vec(), filter.clone());
        let hits =
            blocking(move || store.nearest_vectors(collection, embedder.as_ref(), &embedding, k, &filter)).await??;
        Ok(hits)
    }

    /// [`query`](Self::query) for callers already on a blocking thread (`/chat` answers on
    /// one while it holds a store read connection). The embedded index is scanned right here;
    /// a Chroma search runs on the tokio runtime of this thread, so with Chroma this must be
    /// called from inside `spawn_blocking` (never from an async task).
    pub fn query_blocking(
        &self,
        collection: Collection,
        embedding: &[f32],
        k: usize,
        filter: &Filter,
    ) -> Result<Vec<Hit>, VectorError> {
        self.check_dimension(embedding)?;
        if self.chroma.is_some() {
            let handle = tokio::runtime::Handle::try_current().map_err(|e| VectorError::Task(e.to_string()))?;
            if let Some(answered) = handle.block_on(self.query_chroma(collection, embedding, k, filter)) {
                return answered;
            }
        }
        Ok(self.store.nearest_vectors(collection, self.embedder.as_ref(), embedding, k, filter)?)
    }

    /// The answer of Chroma, or `None` when the embedded index should answer instead (no
    /// Chroma, or Chroma down or failing for a collection the embedded copy holds).
    async fn query_chroma(
        &self,
        collection: Collection,
        embedding: &[f32],
        k: usize,
        filter: &Filter,
    ) -> Option<Result<Vec<Hit>, VectorError>> {
        let Some(link) = &self.chroma else {
            return (collection == Collection::Logs).then_some(Err(VectorError::NotIndexed { collection }));
        };
        let fallback = collection != Collection::Logs;
        if fallback && link.is_down() {
            return None;
        }
        match link.client().query(collection, embedding, k, filter).await {
            Ok(hits) => {
                link.succeeded(0);
                Some(Ok(hits))
            }
            Err(e) => {
                link.failed(&e.to_string());
                if !fallback {
                    return Some(Err(e.into()));
                }
                tracing::warn!(error = %e, %collection, "chroma search failed; answering from the embedded index");
                None
            }
        }
    }

    /// [`query`](Self::query) with the embedding of `text`.
    pub async fn search(
        &self,
        collection: Collection,
        text: &str,
        k: usize,
        filter: &Filter,
    ) -> Result<Vec<Hit>, VectorError> {
        let embedding = self.embedder.embed(text);
        self.query(collection, &embedding, k, filter).await
    }

    /// With Chroma, at start: fail on what no retry can mend, each with a hint. A URL that
    /// answers but not as Chroma, a database Chroma does not have, collections marked by
    /// another agent, or collections holding vectors of another dimension than the embedder
    /// makes (the store refuses a changed embedder against its own vectors at open; this
    /// catches collections another tool filled). Before, these started, called Chroma
    /// "unreachable" or rejected every write, and filled the outbox. Chroma down or slow is
    /// not an error here: the agent starts and writes wait in the outbox.
    pub async fn check_chroma(&self) -> Result<(), VectorError> {
        let Some(link) = &self.chroma else { return Ok(()) };
        if probe_chroma(link.client()).await?.is_some() {
            // Down for now: the agent starts and writes wait in the outbox.
            return Ok(());
        }
        // Any unit vector will do: Chroma checks the length before it searches.
        let mut probe = vec![0f32; self.embedder.dimension()];
        probe[0] = 1.0;
        let everything = Filter::none();
        for collection in Collection::ALL {
            let asked = link.client().query(collection, &probe, 1, &everything);
            let message = match tokio::time::timeout(CHECK_TIMEOUT, asked).await {
                Ok(Ok(_)) => continue,
                // Chroma 1.5: "Database [name] does not exist" (HTTP 400).
                Ok(Err(error)) if error.message.contains("Database [") && error.message.contains("does not exist") => {
                    let hint =
                        "create the database in Chroma, or set [chroma] database to one it has (default_database)";
                    return Err(VectorError::ChromaConfig { error, hint });
                }
                Ok(Err(error)) if error.message.contains("is written by another Vigil agent") => {
                    let hint = "give this agent a [chroma] collection_prefix of its own (its host name, say): ids \
                                count per agent, so agents sharing collections overwrite each other's records";
                    return Err(VectorError::ChromaConfig { error, hint });
                }
                Ok(Err(e)) => e.to_string(),
                Err(_) => format!("no answer within {CHECK_TIMEOUT:?}"),
            };
            // Chroma 1.5: "Collection expecting embedding with dimension of 384, got 512".
            if message.contains("expecting embedding with dimension") {
                let (embedder, dimension) = (self.embedder.name().to_owned(), self.embedder.dimension());
                return Err(VectorError::ChromaDimension { collection, message, embedder, dimension });
            }
            tracing::warn!(error = %message, "cannot check the dimension of Chroma's collections now");
            return Ok(());
        }
        Ok(())
    }

    /// With Chroma and `[chroma] retention_days` set: delete the records older than that from
    /// its collections (a record not sent yet is deleted at a sweep after it arrives). Whether
    /// anything was asked of Chroma.
    pub async fn expire_in_chroma(&self, now_ms: i64) -> Result<bool, VectorError> {
        let Some(link) = &self.chroma else { return Ok(false) };
        let days = link.client().config().retention_days;
        if days == 0 {
            return Ok(false);
        }
        let cutoff_secs = now_ms.div_euclid(1000) - i64::from(days) * 86_400;
        for collection in Collection::ALL {
            link.client().delete_before(collection, cutoff_secs).await?;
        }
        Ok(true)
    }

    fn check_dimension(&self, embedding: &[f32]) -> Result<(), VectorError> {
        if embedding.len() != self.embedder.dimension() {
            return Err(VectorError::Dimension {
                embedder: self.embedder.name().to_owned(),
                expected: self.embedder.dimension(),
                got: embedding.len(),
            });
        }
        Ok(())
    }
}

/// What a start (or `vigil validate`) makes of Chroma's heartbeat: an error no retry mends (not
/// Chroma at that URL, or credentials missing or refused), each with its hint; `Ok(Some(why))`
/// when nothing answers now (the agent would start and keep writes in the outbox); `Ok(None)`
/// when Chroma answers.
pub async fn probe_chroma(client: &super::ChromaClient) -> Result<Option<String>, VectorError> {
    match tokio::time::timeout(CHECK_TIMEOUT, client.probe()).await {
        Ok(super::chroma::Probe::NotChroma(error)) => {
            let hint = "give [chroma] url the address Chroma listens on, like \"http://127.0.0.1:8000\", with no path";
            Err(VectorError::ChromaConfig { error, hint })
        }
        Ok(super::chroma::Probe::Refused(error)) => {
            let hint = if client.config().token.is_some() {
                "check [chroma] token, and token_header: Chroma Cloud reads \"x-chroma-token\", most proxies \
                 \"authorization\" (the default)"
            } else {
                "set [chroma] token to the key the server (or the proxy in front of it) expects"
            };
            Err(VectorError::ChromaConfig { error, hint })
        }
        Ok(super::chroma::Probe::Chroma) => Ok(None),
        Ok(super::chroma::Probe::Unreachable(error)) => Ok(Some(error.to_string())),
        Err(_) => Ok(Some(format!("chroma at {}: no heartbeat within {CHECK_TIMEOUT:?}", client.config().base_url()))),
    }
}
