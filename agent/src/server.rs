//! Starting the agent from a validated config, and stopping it: the plugin engine and
//! detectors, the store, the pipeline, the file sources and the HTTP server. On shutdown the
//! server finishes its requests, the sources stop reading, and the pipeline drains: every
//! event read or accepted is committed before the process exits.

use crate::api::{self, AppState};
use crate::config::Config;
use crate::detect::{DetectorSet, PluginEngine, PluginError};
use crate::pipeline::{MonitorMessage, Pipeline, PipelineTasks};
use crate::source::SourceRegistry;
use crate::source::file::{FileSource, Position, checkpoint_key};
use crate::store::{Store, StoreError};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

/// How often `/ws` clients get a stats message.
const STATS_EVERY: Duration = Duration::from_secs(5);
/// How often retention runs.
const RETENTION_EVERY: Duration = Duration::from_secs(60);

/// Why the agent could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The data dir could not be created.
    #[error("data_dir {path}: {source} (hint: create it or point data_dir at a writable directory)")]
    DataDir { path: String, source: std::io::Error },
    /// A plugin could not be started.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A source could not be started.
    #[error("source {name}: {message}")]
    Source { name: String, message: String },
    /// The API address could not be bound.
    #[error("api.address {address}: cannot listen: {source} (hint: is another process using the port?)")]
    Bind { address: SocketAddr, source: std::io::Error },
    /// The server failed while running.
    #[error("server: {0}")]
    Serve(std::io::Error),
}

/// A started agent: plugins loaded, store open, pipeline and sources running, listener bound.
pub struct Agent {
    listener: TcpListener,
    state: AppState,
    tasks: PipelineTasks,
    sources: Vec<FileSource>,
}

impl Agent {
    /// Load plugins, open the store, start the pipeline and the sources, bind the listener.
    pub async fn start(config: &Config) -> Result<Agent, RunError> {
        let data_dir = &config.data_dir;
        std::fs::create_dir_all(data_dir)
            .map_err(|source| RunError::DataDir { path: data_dir.display().to_string(), source })?;
        let engine = PluginEngine::new(Some(&data_dir.join("plugin-cache")))?;
        let detectors = Arc::new(DetectorSet::start(&engine, &config.detectors)?);
        let store = Arc::new(Store::open(data_dir, &config.store)?);
        let (pipeline, tasks) = Pipeline::start(&config.pipeline, detectors.clone(), store.clone(), Default::default());
        let registry = SourceRegistry::default();

        let saved = store.checkpoints()?;
        let mut sources = Vec::new();
        for spec in &config.sources {
            let prefix = checkpoint_key(&spec.name, "");
            let positions = saved
                .iter()
                .filter_map(|s| {
                    let key = s.checkpoint.key.strip_prefix(&prefix)?;
                    Some(Position {
                        key: key.to_owned(),
                        fingerprint: s.checkpoint.fingerprint.clone(),
                        offset: s.checkpoint.offset,
                    })
                })
                .collect();
            let source = FileSource::start(spec.clone(), positions, pipeline.clone(), registry.clone())
                .map_err(|e| RunError::Source { name: spec.name.clone(), message: e.to_string() })?;
            sources.push(source);
        }

        let address = config.api.address;
        let listener = TcpListener::bind(address).await.map_err(|source| RunError::Bind { address, source })?;
        let state = AppState {
            detectors,
            settings: Arc::new(config.api.clone()),
            pipeline,
            store,
            sources: registry,
            rejected: Arc::new(AtomicU64::new(0)),
            shutdown: Arc::new(tokio::sync::watch::channel(false).0),
            started: Instant::now(),
            chat: Arc::new(crate::chat::Chat::new(&config.chat)),
        };
        Ok(Agent { listener, state, tasks, sources })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// The running detectors.
    pub fn detectors(&self) -> &DetectorSet {
        &self.state.detectors
    }

    /// Serve until `shutdown` resolves, then stop the sources and drain the pipeline.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), RunError> {
        let Agent { listener, state, tasks, sources } = self;
        let housekeeping = tokio::spawn(housekeeping(state.clone()));
        let closing = state.shutdown.clone();
        let shutdown = async move {
            shutdown.await;
            // WebSockets are not requests that end by themselves: tell them to close.
            closing.send_replace(true);
        };
        let served =
            axum::serve(listener, api::router(state)).with_graceful_shutdown(shutdown).await.map_err(RunError::Serve);
        housekeeping.abort();
        let _ = housekeeping.await;
        // Sources submit from their own threads; stopping them drops their pipeline handles.
        tokio::task::spawn_blocking(move || sources.into_iter().for_each(FileSource::stop))
            .await
            .expect("stopping sources");
        tasks.join().await;
        served
    }
}

/// Periodic work: stats for `/ws`, retention for the store.
async fn housekeeping(state: AppState) {
    let mut stats = tokio::time::interval(STATS_EVERY);
    let mut retention = tokio::time::interval(RETENTION_EVERY);
    loop {
        tokio::select! {
            _ = stats.tick() => {
                let p = state.pipeline.stats();
                let load = |c: &AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
                state.pipeline.monitor().publish(&MonitorMessage::Stats(serde_json::json!({
                    "events_total": load(&p.committed),
                    "anomalies_total": load(&p.anomalies),
                    "queue": state.pipeline.queue_depth(),
                    "sources": state.sources.snapshot(),
                })));
            }
            _ = retention.tick() => {
                let store = state.store.clone();
                let now = jiff::Timestamp::now().as_millisecond();
                match tokio::task::spawn_blocking(move || store.enforce_retention(now)).await {
                    Ok(Err(e)) => tracing::warn!(error = %e, "retention failed; retrying later"),
                    Err(e) => tracing::warn!(error = %e, "retention task failed"),
                    Ok(Ok(_)) => {}
                }
            }
        }
    }
}

/// Start the agent with `config` and serve until `shutdown` resolves.
pub async fn run(config: Config, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), RunError> {
    Agent::start(&config).await?.serve(shutdown).await
}
