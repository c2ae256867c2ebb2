//! The Chroma client: the `chromadb` crate for collections, upserts and queries, plus the
//! two requests the crate gets wrong against Chroma 1.5.
//!
//! Gaps of `chromadb` 2.3.0 against Chroma 1.5, handled here:
//! - `ChromaClient::heartbeat()` and `version()` call the `/api/v1` API, which Chroma 1.x
//!   removed; [`ChromaClient::heartbeat`] sends `GET /api/v2/heartbeat` itself.
//! - `ChromaCollection::query()` decodes documents as `Vec<Vec<String>>` and fails on a hit
//!   without a document (a record written by another tool). [`ChromaClient::query`] asks the
//!   query for ids, metadatas and distances only, then fetches the documents with `get`, whose
//!   result type allows a missing one.
//! - Its requests have no timeout; every call here is bounded by `timeout_ms`.
//!
//! The crate resolves the collections once per connection; any failed call drops the
//! connection, so a Chroma restarted with a new data directory is picked up by the next call.

use super::config::ChromaConfig;
use super::config::TokenHeader;
use super::{Collection, Filter, Hit, Metadata, Record};
use chromadb::ChromaCollection;
use chromadb::client::{ChromaAuthMethod, ChromaClientOptions, ChromaTokenHeader};
use chromadb::collection::{CollectionEntries, GetOptions, QueryOptions};
use serde_json::json;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A failed call to Chroma, as text for logs, `/health` and `/api/v1/stats`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("chroma at {url}: {message}")]
pub struct ChromaError {
    /// The server's URL.
    pub url: String,
    /// What went wrong.
    pub message: String,
}

/// What answers at the configured URL (see [`ChromaClient::probe`]).
#[derive(Debug)]
pub enum Probe {
    /// A Chroma 1.x server.
    Chroma,
    /// Nothing, or an error that may pass (connection refused, timeout, 5xx).
    Unreachable(ChromaError),
    /// The server wants credentials (HTTP 401 or 403): none configured, or refused.
    Refused(ChromaError),
    /// Something that is not Chroma's API.
    NotChroma(ChromaError),
}

/// The resolved collections of one connection.
struct Connected {
    /// The crate's client (it builds a pool of 128 HTTP clients: made once per connection,
    /// not at each [`ChromaClient::reconnect`]).
    client: Arc<chromadb::ChromaClient>,
    collections: HashMap<Collection, ChromaCollection>,
}

/// A client for one Chroma server and Vigil's three collections in it.
pub struct ChromaClient {
    config: ChromaConfig,
    http: reqwest::Client,
    connected: Mutex<Option<Arc<Connected>>>,
    /// The collections' ids of the last connection made, until the drain takes them (see
    /// [`ChromaClient::take_new_collections`]).
    fresh: Mutex<Option<Vec<(Collection, String)>>>,
    /// The store's instance id, marked on the collections this client creates (see
    /// [`ChromaClient::owned_by`]).
    owner: Option<String>,
}

impl ChromaClient {
    /// A client for `config`; nothing is sent until the first call.
    pub fn new(config: &ChromaConfig) -> ChromaClient {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.timeout_ms))
            .build()
            .expect("a reqwest client with a timeout builds");
        ChromaClient { config: config.clone(), http, connected: Mutex::new(None), fresh: Mutex::new(None), owner: None }
    }

    /// Mark the collections this client creates with `owner` (the store's instance id) and
    /// refuse collections marked by another: record ids count from 1 in each agent's store,
    /// so two agents writing one prefix overwrote each other's records without a word.
    pub fn owned_by(mut self, owner: String) -> ChromaClient {
        self.owner = Some(owner);
        self
    }

    /// The config this client was made with.
    pub fn config(&self) -> &ChromaConfig {
        &self.config
    }

    fn error(&self, message: impl std::fmt::Display) -> ChromaError {
        ChromaError { url: self.config.base_url().to_owned(), message: message.to_string() }
    }

    /// Run `call` with the timeout; a failure or timeout drops the connection.
    async fn bounded<T>(&self, what: &str, call: impl Future<Output = anyhow::Result<T>>) -> Result<T, ChromaError> {
        let timeout = Duration::from_millis(self.config.timeout_ms);
        let result = match tokio::time::timeout(timeout, call).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(e)) => self.error(format!("{what}: {}", chain_text(&e))),
            Err(_) => self.error(format!("{what}: no answer within {} ms", self.config.timeout_ms)),
        };
        *self.connected.lock().unwrap_or_else(|p| p.into_inner()) = None;
        Err(result)
    }

    /// A GET of `url` with the configured token, for the requests made here rather than by
    /// the crate.
    fn get(&self, url: &str) -> reqwest::RequestBuilder {
        let request = self.http.get(url);
        match &self.config.token {
            Some(token) => {
                let (name, value) = self.config.token_header.header(token);
                request.header(name, value)
            }
            None => request,
        }
    }

    /// The crate's form of the configured token.
    fn auth(&self) -> ChromaAuthMethod {
        match &self.config.token {
            None => ChromaAuthMethod::None,
            Some(token) => ChromaAuthMethod::TokenAuth {
                token: token.expose().to_owned(),
                header: match self.config.token_header {
                    TokenHeader::Authorization => ChromaTokenHeader::Authorization,
                    TokenHeader::XChromaToken => ChromaTokenHeader::XChromaToken,
                },
            },
        }
    }

    /// `GET /api/v2/heartbeat`: whether the server answers (the crate's own `heartbeat()`
    /// calls the removed v1 API).
    pub async fn heartbeat(&self) -> Result<(), ChromaError> {
        let url = format!("{}/api/v2/heartbeat", self.config.base_url());
        let response = self.get(&url).send().await.map_err(|e| self.error(format!("heartbeat: {e}")))?;
        if !response.status().is_success() {
            return Err(self.error(format!("heartbeat: HTTP {}", response.status())));
        }
        Ok(())
    }

    /// Whether the URL leads to a Chroma 1.x server: its heartbeat is a JSON object with a
    /// `nanosecond heartbeat`. A server that answers otherwise is a wrong `url` (another
    /// service, a path after the address, a proxy wanting credentials), which no retry mends;
    /// one that does not answer, or answers 5xx, may be down for now.
    pub async fn probe(&self) -> Probe {
        let url = format!("{}/api/v2/heartbeat", self.config.base_url());
        let response = match self.get(&url).send().await {
            Ok(response) => response,
            Err(e) => return Probe::Unreachable(self.error(format!("heartbeat: {e}"))),
        };
        let status = response.status();
        if status.is_server_error() {
            return Probe::Unreachable(self.error(format!("heartbeat: HTTP {status}")));
        }
        let heartbeat = response.json::<serde_json::Value>().await.ok();
        if status.is_success() && heartbeat.as_ref().is_some_and(|h| h.get("nanosecond heartbeat").is_some()) {
            return Probe::Chroma;
        }
        let what = match status.as_u16() {
            401 | 403 if self.config.token.is_some() => {
                return Probe::Refused(
                    self.error(format!("GET {url} answered HTTP {status}: [chroma] token was refused")),
                );
            }
            401 | 403 => {
                return Probe::Refused(
                    self.error(format!("GET {url} answered HTTP {status}: the server wants credentials")),
                );
            }
            _ if status.is_success() => {
                format!("GET {url} answered without Chroma's heartbeat: not a Chroma 1.x server")
            }
            _ => format!("GET {url} answered HTTP {status}: not a Chroma 1.x server"),
        };
        Probe::NotChroma(self.error(what))
    }

    /// The connection, made (client, then the three collections, created if missing with
    /// cosine distance) when there is none.
    async fn connect(&self) -> Result<Arc<Connected>, ChromaError> {
        if let Some(connected) = self.connected.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            return Ok(connected);
        }
        let options = ChromaClientOptions {
            url: Some(self.config.base_url().to_owned()),
            auth: self.auth(),
            database: self.config.database.clone(),
        };
        let client = Arc::new(self.bounded("connect", chromadb::ChromaClient::new(options)).await?);
        self.resolve(client).await
    }

    /// Find (or make) the three collections with `client`, and keep them as the connection.
    async fn resolve(&self, client: Arc<chromadb::ChromaClient>) -> Result<Arc<Connected>, ChromaError> {
        let mut collections = HashMap::new();
        for collection in Collection::ALL {
            let name = self.config.collection_name(collection);
            // `hnsw:space` in the metadata is how Chroma 1.5 still takes the distance of a new
            // collection; an existing collection keeps the space it was created with.
            let mut metadata = json!({ "hnsw:space": "cosine", "created_by": "vigil" });
            if let Some(owner) = &self.owner {
                metadata["vigil_agent"] = json!(owner);
            }
            let metadata = metadata.as_object().cloned();
            let found =
                self.bounded("get or create a collection", client.get_or_create_collection(&name, metadata)).await?;
            // An existing collection keeps its metadata: one marked by another store is theirs.
            // (One without a mark, from a Vigil before the mark or another tool, is used as is.)
            let marked = found.metadata().and_then(|m| m.get("vigil_agent")).and_then(|v| v.as_str());
            if let (Some(owner), Some(other)) = (&self.owner, marked)
                && owner != other
            {
                return Err(self.error(format!(
                    "collection {name} is written by another Vigil agent (instance {other}; this one is {owner})"
                )));
            }
            collections.insert(collection, found);
        }
        let ids = collections.iter().map(|(c, found)| (*c, found.id().to_owned())).collect();
        *self.fresh.lock().unwrap_or_else(|p| p.into_inner()) = Some(ids);
        let connected = Arc::new(Connected { client, collections });
        *self.connected.lock().unwrap_or_else(|p| p.into_inner()) = Some(connected.clone());
        Ok(connected)
    }

    /// The ids of the collections as the last connection found (or made) them, once per
    /// connection: a collection whose id changed was made anew and lacks what was sent before
    /// (`Store::chroma_collections_seen`).
    pub fn take_new_collections(&self) -> Option<Vec<(Collection, String)>> {
        self.fresh.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// Put back ids taken with [`ChromaClient::take_new_collections`] that could not be used
    /// (unless a newer connection has left its own since).
    pub fn return_new_collections(&self, ids: Vec<(Collection, String)>) {
        self.fresh.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(ids);
    }

    /// Find (or make again) the collections, with the connection's client when there is one:
    /// how a collection deleted from Chroma while nothing is written is noticed.
    pub async fn reconnect(&self) -> Result<(), ChromaError> {
        let previous = self.connected.lock().unwrap_or_else(|p| p.into_inner()).take();
        match previous {
            Some(connected) => self.resolve(connected.client.clone()).await.map(drop),
            None => self.connect().await.map(drop),
        }
    }

    /// Upsert `records` with their `embeddings` (same order) into `collection`.
    pub async fn upsert(
        &self,
        collection: Collection,
        records: &[&Record],
        embeddings: Vec<Vec<f32>>,
    ) -> Result<(), ChromaError> {
        if records.is_empty() {
            return Ok(());
        }
        let connected = self.connect().await?;
        let entries = CollectionEntries {
            ids: records.iter().map(|r| r.id.as_str()).collect(),
            metadatas: Some(records.iter().map(|r| r.metadata.clone()).collect()),
            documents: Some(records.iter().map(|r| r.document.as_str()).collect()),
            embeddings: Some(embeddings),
        };
        let target = &connected.collections[&collection];
        self.bounded("upsert", target.upsert(entries, None)).await.map(|_| ())
    }

    /// Delete `collection`'s records whose `timestamp` metadata (seconds) is before
    /// `cutoff_secs`.
    pub async fn delete_before(&self, collection: Collection, cutoff_secs: i64) -> Result<(), ChromaError> {
        let connected = self.connect().await?;
        let target = &connected.collections[&collection];
        let older = json!({ "timestamp": { "$lt": cutoff_secs } });
        self.bounded("delete expired records", target.delete(None, Some(older), None)).await
    }

    /// The `k` records of `collection` nearest to `embedding` that match `filter`.
    pub async fn query(
        &self,
        collection: Collection,
        embedding: &[f32],
        k: usize,
        filter: &Filter,
    ) -> Result<Vec<Hit>, ChromaError> {
        if k == 0 {
            return Ok(Vec::new());
        }
        let connected = self.connect().await?;
        let target = &connected.collections[&collection];
        // Documents are not asked for here: the crate fails to decode a hit without one.
        let options = QueryOptions {
            query_embeddings: Some(vec![embedding.to_vec()]),
            n_results: Some(k),
            where_metadata: filter.to_chroma_where(),
            include: Some(vec!["metadatas", "distances"]),
            ..QueryOptions::default()
        };
        let found = self.bounded("query", target.query(options, None)).await?;
        let ids = found.ids.into_iter().next().unwrap_or_default();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let metadatas = found.metadatas.and_then(|m| m.into_iter().next()).unwrap_or_default();
        let distances = found.distances.and_then(|d| d.into_iter().next()).unwrap_or_default();
        let get = GetOptions { ids: ids.clone(), include: Some(vec!["documents".to_owned()]), ..GetOptions::default() };
        let got = self.bounded("get documents", target.get(get)).await?;
        let documents: HashMap<String, String> = got
            .ids
            .into_iter()
            .zip(got.documents.unwrap_or_default())
            .filter_map(|(id, doc)| doc.map(|d| (id, d)))
            .collect();
        Ok(ids
            .into_iter()
            .enumerate()
            .map(|(i, id)| Hit {
                document: documents.get(&id).cloned().unwrap_or_default(),
                metadata: metadatas.get(i).cloned().flatten().unwrap_or_else(Metadata::new),
                distance: distances.get(i).copied().unwrap_or(f32::NAN),
                id,
            })
            .collect())
    }

    /// Records in `collection`.
    pub async fn count(&self, collection: Collection) -> Result<usize, ChromaError> {
        let connected = self.connect().await?;
        self.bounded("count", connected.collections[&collection].count()).await
    }
}

/// An error and its causes, each cause once: reqwest's errors repeat their source in their
/// own text, so `{:#}` said "Connection refused (os error 111)" four times in one message.
pub(super) fn chain_text(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain().map(|c| c.to_string()) {
        if !text.contains(&cause) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&cause);
        }
    }
    text
}
