//! Starting the agent from a validated config, and stopping it: the plugin engine and
//! detectors, the store, the pipeline, the file sources and the HTTP server. On shutdown the
//! server finishes its requests, the sources stop reading, and the pipeline drains: every
//! event read or accepted is committed before the process exits.

use crate::api::{self, AppContext, AppState};
use crate::config::Config;
use crate::detect::{DetectorSet, PluginEngine, PluginError};
use crate::pipeline::{MonitorMessage, Pipeline, PipelineTasks};
use crate::reload::{ConfigStatus, Reloader};
use crate::source::{SourceRegistry, SourceSet};
use crate::store::{Store, StoreError};
use crate::telemetry::WarmupWatch;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

/// How often `/ws` clients get a stats message.
const STATS_EVERY: Duration = Duration::from_secs(5);
/// How often detectors whose snapshot interval passed are snapshotted.
const SNAPSHOT_CHECK_EVERY: Duration = Duration::from_secs(1);

/// Why the agent could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The data dir could not be created.
    #[error("data_dir {path}: {source} (hint: create it or point data_dir at a writable directory)")]
    DataDir { path: String, source: std::io::Error },
    /// The data dir is not a directory the agent may write in (the message says why).
    #[error("{0}")]
    DataDirUnusable(String),
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
    /// Chroma's collections do not fit `[embedding]`.
    #[error(transparent)]
    Vectors(#[from] crate::vector::VectorError),
}

/// A started agent: plugins loaded, store open, pipeline and sources running, listener bound.
pub struct Agent {
    listener: TcpListener,
    state: AppState,
    tasks: PipelineTasks,
    sources: Arc<SourceSet>,
    config: Config,
    config_path: Option<PathBuf>,
    summarizers: Arc<crate::summarize::Summarizers>,
    /// Detectors still learning from their first events (their progress goes to the log).
    warmup: WarmupWatch,
}

impl Agent {
    /// Free what start-up left cached in the store (see [`Store::shrink_memory`]).
    pub fn shrink_store_caches(&self) {
        self.state.store.shrink_memory();
    }

    /// Load plugins, open the store, start the pipeline and the sources, bind the listener.
    pub async fn start(config: &Config) -> Result<Agent, RunError> {
        // The address first, and then the data dir: a start that cannot work leaves nothing
        // behind (no data dir, no compiled plugins, no source run), and says what is wrong
        // with the data dir itself rather than with whatever first wrote in it.
        let address = config.api.address;
        let listener = TcpListener::bind(address).await.map_err(|source| RunError::Bind { address, source })?;
        let data_dir = &config.data_dir;
        crate::store::check_data_dir(data_dir).map_err(RunError::DataDirUnusable)?;
        std::fs::create_dir_all(data_dir)
            .map_err(|source| RunError::DataDir { path: data_dir.display().to_string(), source })?;
        let engine = PluginEngine::with_fuel(Some(&data_dir.join("plugin-cache")), config.meters_fuel())?;
        let store = Arc::new(Store::open_with_embedder(data_dir, &config.store, config.embedding.build())?);
        // Detectors resume the learned state they had when the agent last stopped.
        let saved = store.snapshots()?;
        let detectors = Arc::new(DetectorSet::start_from(&engine, &config.detectors, &saved)?);
        let warmup = WarmupWatch::new(&config.detectors, &detectors.status(), &saved, Instant::now());
        let monitor = crate::pipeline::Monitor::default().with_anomaly_export(crate::telemetry::otel::anomaly_export());
        let (summarizers, feed) =
            crate::summarize::Summarizers::start(&engine, &config.summarizers, store.clone(), monitor.clone())?;
        let summarizers = Arc::new(summarizers);
        let (pipeline, tasks) =
            Pipeline::start_with_feed(&config.pipeline, detectors.clone(), store.clone(), monitor, feed);
        let registry = SourceRegistry::default();
        let sources = SourceSet::start(&config.sources, pipeline.clone(), registry.clone(), store.clone())
            .map_err(|(name, message)| RunError::Source { name, message })?;

        let chroma = (config.store.kind == crate::store::StoreKind::Chroma)
            .then(|| store.instance_id().map(|id| crate::vector::ChromaClient::new(&config.chroma).owned_by(id)))
            .transpose()?
            .map(crate::vector::ChromaLink::new);
        let vectors = crate::vector::VectorIndex::new(store.clone(), chroma);
        vectors.check_chroma().await?;

        let state: AppState = AppContext {
            detectors,
            settings: Arc::new(arc_swap::ArcSwap::from_pointee(config.api.clone())),
            config: Arc::new(std::sync::Mutex::new(ConfigStatus {
                file: crate::config::DEFAULT_CONFIG_NAME.to_owned(),
                ..ConfigStatus::default()
            })),
            pipeline,
            store,
            sources: registry,
            rejected: Arc::new(AtomicU64::new(0)),
            shutdown: Arc::new(tokio::sync::watch::channel(false).0),
            started: Instant::now(),
            chat: Arc::new(
                crate::chat::Chat::new(&config.chat)
                    .with_retriever(Arc::new(crate::chat::VectorRetriever::new(vectors.clone()))),
            ),
            vectors,
            summaries: summarizers.board(),
        }
        .into();
        let sources = Arc::new(sources);
        Ok(Agent { listener, state, tasks, sources, config: config.clone(), config_path: None, summarizers, warmup })
    }

    /// Follow `path`, the file `config` was loaded from: changes to it (and to the plugin
    /// files it names) and SIGHUP reload it while the agent serves.
    pub fn watch_config(mut self, path: PathBuf) -> Self {
        self.state.config.lock().unwrap_or_else(|p| p.into_inner()).file = path.display().to_string();
        self.config_path = Some(path);
        self
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// The running detectors.
    pub fn detectors(&self) -> &DetectorSet {
        &self.state.detectors
    }

    /// The running summarizers' status.
    pub fn summarizers(&self) -> Vec<crate::summarize::SummarizerStatus> {
        self.summarizers.board().status()
    }

    /// Serve until `shutdown` resolves, then stop the sources and drain the pipeline.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), RunError> {
        let Agent { listener, state, tasks, sources, config, config_path, summarizers, warmup } = self;
        let housekeeping = tokio::spawn(housekeeping(state.clone()));
        let warmup = tokio::spawn(crate::telemetry::warmup::report(state.detectors.clone(), warmup));
        // With Chroma: the outbox drains into it until shutdown (what is left waits in vigil.db).
        let chroma_drain = state.vectors.chroma().map(|link| {
            let embedder = state.vectors.embedder_handle();
            crate::vector::drain::spawn(link.clone(), state.store.clone(), embedder, state.shutdown.subscribe())
        });
        let reloader = config_path.map(|path| {
            Reloader::new(
                path,
                config,
                state.detectors.clone(),
                summarizers.clone(),
                sources.clone(),
                state.settings.clone(),
                state.config.clone(),
                state.store.clone(),
                state.pipeline.clone(),
            )
            .spawn()
        });
        let (detectors, store) = (state.detectors.clone(), state.store.clone());
        let hangup = tokio::spawn(on_hangup(reloader.as_ref().map(|(handle, _)| handle.clone())));
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
        warmup.abort();
        if let Some(drain) = chroma_drain {
            drain.abort();
            let _ = drain.await;
        }
        hangup.abort();
        if let Some((_, task)) = reloader {
            task.abort();
            let _ = task.await;
        }
        // Sources submit from their own threads; stopping them drops their pipeline handles.
        sources.stop_all().await;
        drop(sources);
        tasks.join().await;
        // The pipeline has drained: summarizers close their windows.
        let _ = tokio::task::spawn_blocking(move || summarizers.stop()).await;
        // Everything is scored: keep what the detectors learned for the next start.
        let saved = tokio::task::spawn_blocking(move || store.save_snapshots(&detectors.snapshots(false))).await;
        if let Ok(Err(e)) = saved {
            tracing::warn!(error = %e, "cannot save plugin snapshots at shutdown");
        }
        served
    }
}

/// SIGHUP reloads the config file (without one, it is logged and ignored, never fatal).
async fn on_hangup(reload: Option<crate::reload::ReloadHandle>) {
    #[cfg(unix)]
    {
        let Ok(mut hangups) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
            return;
        };
        while hangups.recv().await.is_some() {
            match &reload {
                Some(handle) => handle.request("signal"),
                None => tracing::warn!("SIGHUP: running on the embedded config, there is no file to reload"),
            }
        }
    }
    #[cfg(not(unix))]
    let _ = reload;
}

/// Tells when ingest has gone quiet, so the memory its bursts left cached (SQLite pages,
/// freed batches in glibc's arenas) can go back to the OS: an agent idle after a burst held
/// ~77 MiB resident, ~51 once released (~40 with plugins compiled out of process;
/// docs/benchmarks.md, memory).
#[derive(Default)]
struct IdleWatch {
    /// Events submitted at the previous check.
    submitted: u64,
    /// Whether memory was released since events last arrived.
    released: bool,
}

impl IdleWatch {
    /// True once per quiet spell: when no event arrived over a whole check period after
    /// some had.
    fn quiet(&mut self, submitted: u64) -> bool {
        if submitted != self.submitted {
            self.submitted = submitted;
            self.released = false;
            return false;
        }
        !std::mem::replace(&mut self.released, true)
    }
}

/// Periodic work: stats for `/ws`, retention for the store, plugin snapshots, and giving
/// memory back when ingest goes quiet.
async fn housekeeping(state: AppState) {
    let mut stats = tokio::time::interval(STATS_EVERY);
    // The first pass comes one interval after start, not at once: a log replayed or backfilled
    // right at start (dated beyond retention_days) is queryable for that long, not deleted
    // while its sender is still reading the ack.
    let period = Duration::from_secs(state.store.config().retention_interval_secs);
    let mut retention = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    retention.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut snapshots = tokio::time::interval(SNAPSHOT_CHECK_EVERY);
    snapshots.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut idle = IdleWatch::default();
    loop {
        tokio::select! {
            _ = snapshots.tick() => {
                let detectors = state.detectors.clone();
                let store = state.store.clone();
                let saved = tokio::task::spawn_blocking(move || store.save_snapshots(&detectors.snapshots(true))).await;
                if let Ok(Err(e)) = saved {
                    tracing::warn!(error = %e, "cannot save plugin snapshots; retrying later");
                }
            }
            _ = stats.tick() => {
                let p = state.pipeline.stats();
                let load = |c: &AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
                if idle.quiet(load(&p.submitted)) {
                    let store = state.store.clone();
                    let _ = tokio::task::spawn_blocking(move || {
                        store.shrink_memory();
                        crate::memory::release_free_heap();
                    })
                    .await;
                }
                state.pipeline.monitor().publish(&MonitorMessage::Stats(serde_json::json!({
                    "events_total": load(&p.committed),
                    "anomalies_total": load(&p.anomalies),
                    "queue": state.pipeline.queue_depth(),
                    "sources": crate::api::source_counters(&state, &p.instruments),
                })));
            }
            _ = retention.tick() => {
                let store = state.store.clone();
                let now = jiff::Timestamp::now().as_millisecond();
                // Vectors of the deleted events go with them.
                let retain = move || store.enforce_retention(now).and_then(|r| store.prune_vectors().map(|_| r));
                match tokio::task::spawn_blocking(retain).await {
                    Ok(Err(e)) => tracing::warn!(error = %e, "retention failed; retrying later"),
                    Err(e) => tracing::warn!(error = %e, "retention task failed"),
                    // Said, not done silently: a backfill of logs older than retention_days (by
                    // their own time) is accepted and then deleted here within a minute.
                    Ok(Ok(r)) if r.expired_events + r.evicted_events > 0 => tracing::info!(
                        expired = r.expired_events,
                        evicted = r.evicted_events,
                        anomalies = r.anomalies,
                        "retention deleted events: `expired` were older than store.retention_days by their own \
                         timestamps, `evicted` the oldest over store.max_size_mib"
                    ),
                    Ok(Ok(_)) => {}
                }
                if let Err(e) = state.vectors.expire_in_chroma(now).await {
                    tracing::warn!(error = %e, "deleting expired records from chroma failed; retrying at the next sweep");
                }
            }
        }
    }
}

/// Start the agent with `config` and serve until `shutdown` resolves.
pub async fn run(config: Config, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), RunError> {
    Agent::start(&config).await?.serve(shutdown).await
}

#[cfg(test)]
mod tests {
    use super::IdleWatch;

    #[test]
    fn memory_is_released_once_per_quiet_spell_and_never_while_events_arrive() {
        let mut idle = IdleWatch::default();
        assert!(idle.quiet(0), "a fresh start has nothing queued: release at once");
        assert!(!idle.quiet(0), "once per quiet spell");
        assert!(!idle.quiet(100), "events arrived since the last check");
        assert!(!idle.quiet(250), "still arriving");
        assert!(idle.quiet(250), "a whole period without events");
        assert!(!idle.quiet(250));
        assert!(!idle.quiet(251));
        assert!(idle.quiet(251));
    }
}
