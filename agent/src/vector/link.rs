//! [`ChromaLink`]: the Chroma client shared by the drain task and searches, and the link's
//! state as `/health` and `/api/v1/stats` show it.

use super::chroma::ChromaClient;
use crate::store::OutboxDepth;
use serde::Serialize;
use std::sync::{Arc, Mutex};

/// Whether Chroma is reachable, as last seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkState {
    /// Nothing sent or checked yet.
    Connecting,
    /// The last call succeeded.
    Up,
    /// The last call failed; writes wait in the outbox and are retried with backoff.
    Down,
}

/// The link's state and counters.
#[derive(Debug, Clone, Serialize)]
pub struct LinkStatus {
    /// Up, down or connecting.
    pub state: LinkState,
    /// The server's URL.
    pub url: String,
    /// The collections' prefix.
    pub collection_prefix: String,
    /// The last error, kept after the link comes back up.
    pub last_error: Option<String>,
    /// When the last error happened (RFC 3339).
    pub last_error_at: Option<String>,
    /// When Chroma last accepted a write or answered a call (RFC 3339).
    pub last_success_at: Option<String>,
    /// Failed calls in a row (0 while up).
    pub consecutive_failures: u64,
    /// Records Chroma accepted since start.
    pub records_sent: u64,
    /// Failed calls since start.
    pub failures_total: u64,
    /// What waits in the outbox, as of the drain task's last look.
    pub outbox: OutboxDepth,
}

/// The Chroma client and the link's state; cheap to clone.
#[derive(Clone)]
pub struct ChromaLink {
    client: Arc<ChromaClient>,
    status: Arc<Mutex<LinkStatus>>,
}

fn now() -> String {
    jiff::Timestamp::now().round(jiff::Unit::Millisecond).map(|t| t.to_string()).unwrap_or_default()
}

impl ChromaLink {
    /// A link over `client`, in state `connecting`.
    pub fn new(client: ChromaClient) -> ChromaLink {
        let status = LinkStatus {
            state: LinkState::Connecting,
            url: client.config().base_url().to_owned(),
            collection_prefix: client.config().collection_prefix.clone(),
            last_error: None,
            last_error_at: None,
            last_success_at: None,
            consecutive_failures: 0,
            records_sent: 0,
            failures_total: 0,
            outbox: OutboxDepth::default(),
        };
        ChromaLink { client: Arc::new(client), status: Arc::new(Mutex::new(status)) }
    }

    /// The client.
    pub fn client(&self) -> &ChromaClient {
        &self.client
    }

    /// A copy of the state.
    pub fn status(&self) -> LinkStatus {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LinkStatus> {
        self.status.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Chroma answered; `records` of ours were accepted.
    pub fn succeeded(&self, records: u64) {
        let mut s = self.lock();
        if s.state != LinkState::Up {
            tracing::info!(url = %s.url, "chroma is reachable");
        }
        s.state = LinkState::Up;
        s.consecutive_failures = 0;
        s.records_sent += records;
        s.last_success_at = Some(now());
    }

    /// A call failed with `error`.
    pub fn failed(&self, error: &str) {
        let mut s = self.lock();
        if s.state != LinkState::Down {
            tracing::warn!(
                error,
                "a chroma call failed (down, or it refused the call); writes wait in the outbox and are retried"
            );
        }
        s.state = LinkState::Down;
        s.consecutive_failures += 1;
        s.failures_total += 1;
        s.last_error = Some(error.to_owned());
        s.last_error_at = Some(now());
    }

    /// Record the outbox's depth.
    pub fn set_outbox(&self, depth: OutboxDepth) {
        self.lock().outbox = depth;
    }

    /// Whether the last call failed.
    pub fn is_down(&self) -> bool {
        self.lock().state == LinkState::Down
    }
}
