//! Starting the agent from a validated config, and stopping it: the plugin engine, the
//! detectors, and the HTTP server, shut down gracefully when the shutdown future resolves.

use crate::api::{self, AppState};
use crate::config::Config;
use crate::detect::{DetectorSet, PluginEngine, PluginError};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use tokio::net::TcpListener;

/// Why the agent could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The data dir could not be created.
    #[error("data_dir {path}: {source} (hint: create it or point data_dir at a writable directory)")]
    DataDir { path: String, source: std::io::Error },
    /// A plugin could not be started.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// The API address could not be bound.
    #[error("api.address {address}: cannot listen: {source} (hint: is another process using the port?)")]
    Bind { address: SocketAddr, source: std::io::Error },
    /// The server failed while running.
    #[error("server: {0}")]
    Serve(std::io::Error),
}

/// A started agent: its detectors loaded and its listener bound, not yet serving.
pub struct Agent {
    listener: TcpListener,
    state: AppState,
}

impl Agent {
    /// Load plugins and bind the listener.
    pub async fn start(config: &Config) -> Result<Agent, RunError> {
        let data_dir = &config.data_dir;
        std::fs::create_dir_all(data_dir)
            .map_err(|source| RunError::DataDir { path: data_dir.display().to_string(), source })?;
        let engine = PluginEngine::new(Some(&data_dir.join("plugin-cache")))?;
        let detectors = DetectorSet::start(&engine, &config.detectors)?;
        let address = config.api.address;
        let listener = TcpListener::bind(address).await.map_err(|source| RunError::Bind { address, source })?;
        let state = AppState {
            detectors: Arc::new(detectors),
            settings: Arc::new(config.api.clone()),
            started: Instant::now(),
        };
        Ok(Agent { listener, state })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// The running detectors.
    pub fn detectors(&self) -> &DetectorSet {
        &self.state.detectors
    }

    /// Serve until `shutdown` resolves, then finish in-flight requests.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), RunError> {
        axum::serve(self.listener, api::router(self.state)).with_graceful_shutdown(shutdown).await.map_err(RunError::Serve)
    }
}

/// Start the agent with `config` and serve until `shutdown` resolves.
pub async fn run(config: Config, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), RunError> {
    Agent::start(&config).await?.serve(shutdown).await
}
