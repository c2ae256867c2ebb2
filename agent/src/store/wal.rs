//! WAL checkpoints on a thread of their own. Copying committed pages from the WAL back into
//! the database (and the fsyncs that go with it) would otherwise run inside whichever commit
//! crosses the auto-checkpoint size, stalling it for hundreds of milliseconds; here they
//! overlap with commits. The writer keeps a large auto-checkpoint as a backstop, which also
//! lets the WAL restart from its beginning, so the WAL file stays bounded.

use super::config::StoreConfig;
use super::error::StoreError;
use super::schema;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the WAL is checkpointed.
const INTERVAL: Duration = Duration::from_millis(200);

/// The checkpoint thread; stopped and joined on drop.
pub(crate) struct WalCheckpointer {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl WalCheckpointer {
    /// Start checkpointing the WAL of `path` every [`INTERVAL`].
    pub(crate) fn start(path: &Path, config: &StoreConfig) -> Result<WalCheckpointer, StoreError> {
        let conn = schema::open_checkpointer(path, config)?;
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let signal = stop.clone();
        let thread = std::thread::Builder::new()
            .name("vigil-store-wal".into())
            .spawn(move || {
                let (stopped, wake) = &*signal;
                let mut stopped = stopped.lock().unwrap_or_else(|p| p.into_inner());
                while !*stopped {
                    stopped = wake.wait_timeout(stopped, INTERVAL).unwrap_or_else(|p| p.into_inner()).0;
                    // PASSIVE never blocks commits or queries; a failure (a busy moment) is
                    // retried next round, and the writer's backstop covers a long outage.
                    let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                }
            })
            .map_err(|source| StoreError::Io {
                what: "start the WAL checkpoint thread for",
                path: path.to_path_buf(),
                source,
            })?;
        Ok(WalCheckpointer { stop, thread: Some(thread) })
    }
}

impl Drop for WalCheckpointer {
    fn drop(&mut self) {
        let (stopped, wake) = &*self.stop;
        *stopped.lock().unwrap_or_else(|p| p.into_inner()) = true;
        wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
