//! The running summarizers as one set: started from the config, changed by a reload by
//! difference, stopped at shutdown.
//!
//! A reload is two steps so that a config is refused as a whole: [`Summarizers::prepare`]
//! starts and configures every new or changed plugin (the running ones are untouched, and
//! an error refuses the config), then [`Summarizers::apply`] swaps them in. An unchanged
//! summarizer (same settings, same component bytes) keeps running with its open window. A
//! changed or removed one leaves the feed in the same step that adds its successor, so each
//! committed batch is folded by exactly one of them; it then folds what is still queued for
//! it, stores its open window as a partial summary and stops. A successor of the same
//! plugin resumes its state (what it has seen across windows), like a restarted detector.

use super::config::SummarizerSpec;
use super::feed::{Lane, LaneReceiver, SummaryFeed};
use super::host::SummarizerHost;
use super::runner::{Handover, SummarizerLane, snapshot_key};
use super::status::{LaneStatus, SummaryBoard};
use crate::config::PluginSource;
use crate::detect::{PluginEngine, PluginError, current_digest};
use crate::pipeline::Monitor;
use crate::store::Store;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

/// One summarizer at work.
struct Running {
    id: u64,
    spec: SummarizerSpec,
    status: Arc<LaneStatus>,
    /// Its queue's sending end; the feed holds a clone while the summarizer is configured.
    lane: Lane,
    /// Ends once every clone of `lane` is dropped, with the plugin's final state.
    thread: JoinHandle<Handover>,
}

impl Running {
    /// Whether `spec`'s component is still the code this summarizer runs.
    fn same_code(&self, spec: &SummarizerSpec) -> bool {
        match &spec.source {
            PluginSource::Builtin(_) => true,
            PluginSource::File(_) => current_digest(&spec.source).as_deref() == Some(self.status.digest.as_str()),
        }
    }

    /// Stop taking batches, fold what is queued, store the open window; the final state.
    fn stop(self) -> Handover {
        drop(self.lane);
        self.thread.join().unwrap_or_else(|_| {
            tracing::error!(summarizer = %self.status.name, "summarizer thread panicked");
            Handover { state: None, unreported: 0 }
        })
    }
}

/// A summarizer a reload stopped, and what a successor of the same name may resume.
struct Gone {
    name: String,
    source: String,
    /// Whether a new summarizer of the same name took its place.
    succeeded: bool,
    /// Its plugin's state at the end, and the events no summary counts yet.
    left: Handover,
}

/// A new config's summarizers, ready to swap in by [`Summarizers::apply`].
pub struct SummarizerPlan {
    entries: Vec<Planned>,
}

enum Planned {
    /// A running summarizer that stays as it is.
    Keep(u64),
    /// A started and configured plugin that is not running yet.
    Start(Box<SummarizerHost>, SummarizerSpec),
}

/// Every summarizer of the running config.
pub struct Summarizers {
    engine: PluginEngine,
    store: Arc<Store>,
    monitor: Monitor,
    feed: SummaryFeed,
    board: SummaryBoard,
    running: Mutex<Vec<Running>>,
    next_id: AtomicU64,
}

/// A summarizer's name keys its summaries (`/api/v1/summaries?summarizer=`) and its saved
/// state, so two of one name would mix both, and an empty one names nothing.
fn check_name(taken: &[String], at: usize, name: &str, spec: &SummarizerSpec) -> Result<(), PluginError> {
    let message = if name.trim().is_empty() {
        "its name is empty: set `name = \"...\"` in its [[summarizers]] table, or give the plugin a NAME".to_owned()
    } else if let Some(first) = taken.iter().position(|n| n == name) {
        format!(
            "summarizers[{first}] has the same name {name:?}; their summaries and saved state would mix: \
             give one of them its own `name = \"...\"` in its [[summarizers]] table"
        )
    } else {
        return Ok(());
    };
    Err(PluginError::Name { source_name: format!("summarizers[{at}] ({})", spec.source), message })
}

/// What `vigil validate` checks of the summarizers beyond the file, as start-up does: each
/// plugin starts and takes its config, and each name is its own and not empty. Returns the
/// "name version" of each one that started, and every problem found (not only the first),
/// each with the index of its entry.
pub fn validate(engine: &PluginEngine, specs: &[SummarizerSpec]) -> (Vec<String>, Vec<(usize, PluginError)>) {
    let mut loaded = Vec::new();
    let mut problems = Vec::new();
    // One per entry, so that `check_name` names the entry a name is taken by; one that did not
    // start takes "", which no name is compared with (an empty one is refused first).
    let mut names: Vec<String> = Vec::with_capacity(specs.len());
    for (at, spec) in specs.iter().enumerate() {
        match SummarizerHost::start(engine, spec) {
            Ok(host) => {
                if let Err(e) = check_name(&names, at, host.name(), spec) {
                    problems.push((at, e));
                }
                loaded.push(format!("{} {}", host.name(), host.version()));
                names.push(host.name().to_owned());
            }
            Err(e) => {
                problems.push((at, e));
                names.push(String::new());
            }
        }
    }
    (loaded, problems)
}

impl Summarizers {
    /// Start every summarizer of the config, each resumed from its saved snapshot. Returns
    /// them and the feed the pipeline offers committed batches to.
    pub fn start(
        engine: &PluginEngine,
        specs: &[SummarizerSpec],
        store: Arc<Store>,
        monitor: Monitor,
    ) -> Result<(Summarizers, SummaryFeed), PluginError> {
        let set = Summarizers {
            engine: engine.clone(),
            store,
            monitor,
            feed: SummaryFeed::default(),
            board: SummaryBoard::default(),
            running: Mutex::default(),
            next_id: AtomicU64::new(0),
        };
        let plan = set.prepare(specs).map_err(|(_, e)| e)?;
        set.apply(plan);
        let feed = set.feed.clone();
        Ok((set, feed))
    }

    /// The status board.
    pub fn board(&self) -> SummaryBoard {
        self.board.clone()
    }

    fn running(&self) -> MutexGuard<'_, Vec<Running>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `specs` would change anything: a summarizer added, removed or reconfigured,
    /// or the component file of one changed on disk.
    pub fn differs_from(&self, specs: &[SummarizerSpec]) -> bool {
        let running = self.running();
        running.len() != specs.len() || running.iter().zip(specs).any(|(r, spec)| r.spec != *spec || !r.same_code(spec))
    }

    /// Start and configure the plugins of `specs` that are not running as they are; nothing
    /// running changes. The first plugin that fails to start fails the plan, with the index of
    /// its entry.
    pub fn prepare(&self, specs: &[SummarizerSpec]) -> Result<SummarizerPlan, (usize, PluginError)> {
        let running = self.running();
        let mut kept = vec![false; running.len()];
        let mut entries = Vec::with_capacity(specs.len());
        let mut names: Vec<String> = Vec::with_capacity(specs.len());
        for (at, spec) in specs.iter().enumerate() {
            let unchanged = running.iter().enumerate().find(|(i, r)| !kept[*i] && r.spec == *spec && r.same_code(spec));
            let name = match unchanged {
                Some((i, r)) => {
                    kept[i] = true;
                    entries.push(Planned::Keep(r.id));
                    r.status.name.clone()
                }
                None => {
                    let host = SummarizerHost::start(&self.engine, spec).map_err(|e| (at, e))?;
                    let name = host.name().to_owned();
                    entries.push(Planned::Start(Box::new(host), spec.clone()));
                    name
                }
            };
            check_name(&names, at, &name, spec).map_err(|e| (at, e))?;
            names.push(name);
        }
        Ok(SummarizerPlan { entries })
    }

    /// Swap in a plan from [`Summarizers::prepare`] (called by one reloader at a time).
    /// Blocking: it waits for replaced and removed summarizers to store their open windows.
    /// Returns what changed, worded for the operator.
    pub fn apply(&self, plan: SummarizerPlan) -> Vec<String> {
        let mut running = self.running();
        let mut old: Vec<Option<Running>> = std::mem::take(&mut *running).into_iter().map(Some).collect();
        enum Next {
            Kept(Running),
            New(Box<SummarizerHost>, SummarizerSpec, Lane, LaneReceiver),
        }
        let mut next = Vec::with_capacity(plan.entries.len());
        for entry in plan.entries {
            match entry {
                Planned::Keep(id) => {
                    // Always found: the plan was made from this list, by the only reloader.
                    if let Some(kept) = old.iter_mut().find(|o| o.as_ref().is_some_and(|o| o.id == id)) {
                        next.push(Next::Kept(kept.take().expect("found just now")));
                    }
                }
                Planned::Start(host, spec) => {
                    let (lane, receiver) = Lane::new(spec.queue);
                    next.push(Next::New(host, spec, lane, receiver));
                }
            }
        }
        // One step: from the next batch on, the new list gets every batch and the old
        // summarizers none.
        self.feed.replace(
            next.iter()
                .map(|n| match n {
                    Next::Kept(r) => r.lane.clone(),
                    Next::New(_, _, lane, _) => lane.clone(),
                })
                .collect(),
        );
        // The summarizers that go: each folds what was queued for it and stores its window.
        let mut gone: Vec<Gone> = old
            .into_iter()
            .flatten()
            .map(|r| Gone {
                name: r.status.name.clone(),
                source: r.status.source.clone(),
                succeeded: false,
                left: r.stop(),
            })
            .collect();

        let mut changes = Vec::new();
        let mut saved = None;
        for entry in next {
            let (host, spec, lane, receiver) = match entry {
                Next::Kept(r) => {
                    running.push(r);
                    continue;
                }
                Next::New(host, spec, lane, receiver) => (host, spec, lane, receiver),
            };
            let status = Arc::new(LaneStatus::new(&host, spec.window.as_millis() as i64, receiver.counters.clone()));
            let (name, source, version) = (status.name.clone(), status.source.clone(), status.version.clone());
            let window = format!("{:?}", spec.window);
            let mut worker =
                SummarizerLane::new(*host, spec.window, self.store.clone(), self.monitor.clone(), status.clone());
            match gone.iter_mut().find(|g| g.name == name && !g.succeeded) {
                Some(previous) if previous.source == source => {
                    previous.succeeded = true;
                    // Summaries are the name's: the next one counts what the last did not.
                    worker.carry_unreported(previous.left.unreported);
                    let resumed = previous.left.state.take().map(|state| worker.resume_from(state));
                    changes.push(match resumed {
                        Some(Err(e)) => format!("summarizer {name} restarted fresh (its state was not kept: {e})"),
                        _ => format!("summarizer {name} restarted with its state, window {window}"),
                    });
                }
                Some(previous) => {
                    previous.succeeded = true;
                    worker.carry_unreported(previous.left.unreported);
                    changes.push(format!("summarizer {name} replaced by plugin {source} {version}, window {window}"));
                }
                None => {
                    let saved = saved.get_or_insert_with(|| {
                        self.store.snapshots().unwrap_or_else(|e| {
                            tracing::warn!(error = %e, "cannot read summarizer snapshots; starting without them");
                            Vec::new()
                        })
                    });
                    let key = snapshot_key(&name);
                    if let Some(s) = saved.iter().find(|s| s.detector == key && s.plugin == source)
                        && let Err(e) = worker.resume_from(s.state.clone())
                    {
                        tracing::warn!(summarizer = %name, error = %e, "summarizer refused its snapshot; starting afresh");
                    }
                    // What its last run skipped and no summary counted: the next one counts it.
                    match self.store.take_unreported_skips(&name) {
                        Ok(events) => worker.carry_unreported(events),
                        Err(e) => {
                            tracing::warn!(summarizer = %name, error = %e, "cannot read its uncounted skipped events")
                        }
                    }
                    changes.push(format!("summarizer {name} started ({source} {version}, window {window})"));
                }
            }
            let thread =
                std::thread::Builder::new().name(format!("vigil-summarize-{name}")).spawn(move || worker.run(receiver));
            match thread {
                Ok(thread) => {
                    let id = self.next_id.fetch_add(1, Ordering::Relaxed);
                    running.push(Running { id, spec, status, lane, thread });
                }
                Err(e) => {
                    // The feed still offers to its queue; it fills and its batches count as skipped.
                    tracing::error!(summarizer = %name, error = %e, "cannot start the summarizer's thread");
                    changes.push(format!("summarizer {name} could not start: {e}"));
                }
            }
        }
        for g in gone.into_iter().filter(|g| !g.succeeded) {
            self.keep_unreported(&g.name, g.left.unreported);
            changes.push(format!("summarizer {} stopped", g.name));
        }
        self.board.show(running.iter().map(|r| r.status.clone()).collect());
        changes
    }

    /// Close every summarizer's window and wait until each has stored it and stopped. Call
    /// it after the pipeline has drained, so every committed batch was offered. Blocking.
    pub fn stop(&self) {
        self.feed.replace(Vec::new());
        let running = std::mem::take(&mut *self.running());
        for r in running {
            let name = r.status.name.clone();
            let left = r.stop();
            self.keep_unreported(&name, left.unreported);
        }
    }

    /// Keep the events a stopped summarizer skipped and no summary counted, for the next start
    /// of one of its name to count in its first summary.
    fn keep_unreported(&self, name: &str, events: u64) {
        if let Err(e) = self.store.keep_unreported_skips(name, events) {
            tracing::warn!(summarizer = %name, events, error = %e, "cannot keep its uncounted skipped events");
        }
    }
}
