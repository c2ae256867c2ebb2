//! The pipeline's handle and the data that passes between its two stages. The scorer
//! ([`super::scorer`]) gathers submissions into a batch (by size or time) and scores what is
//! not scored yet; the committer ([`super::committer`]) writes each batch in one transaction,
//! then answers the submitters and tells the monitor. The scorer is a tokio task that runs its
//! wasm calls on the blocking pool; the committer is a thread of its own, since all it does is
//! block on SQLite. Scoring batch N+1 overlaps committing N.

use super::committer::{Committing, commit_stage};
use super::config::PipelineConfig;
use super::monitor::Monitor;
use super::scorer::{Scoring, score_stage};
use super::submission::{PipelineError, Submission};
use crate::detect::{DetectorSet, Scored};
use crate::store::{AnomalyVector, LineLayouts, Store, TemplateUpdate};
use crate::summarize::SummaryFeed;
use crate::templates::{MinerConfig, SourceMiners};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinHandle;

/// Batches between the scorer and the committer: one being committed, one ready.
const SCORED_QUEUE: usize = 2;

/// Counters for `/api/v1/stats`.
#[derive(Debug, Default)]
pub struct PipelineStats {
    /// Events handed to the pipeline.
    pub submitted: AtomicU64,
    /// Events committed to the store.
    pub committed: AtomicU64,
    /// Anomalies committed.
    pub anomalies: AtomicU64,
    /// Batches committed.
    pub batches: AtomicU64,
    /// Batches whose scoring failed (their events are stored unscored).
    pub score_failures: AtomicU64,
    /// Commit attempts that failed and were retried.
    pub commit_failures: AtomicU64,
    /// Whether the latest commit failed: `failure` then says how (read only when set, so a
    /// commit that works takes no lock).
    failing: AtomicBool,
    failure: Mutex<Option<CommitFailure>>,
    /// Latency histograms and per-source counts for `/metrics`.
    pub instruments: crate::telemetry::Instruments,
}

/// A commit failing again and again (a full disk, a store on a failed mount): ingest waits
/// for it, retried with backoff, and `/health` says so.
#[derive(Debug, Clone, PartialEq)]
pub struct CommitFailure {
    /// The latest attempt's error, with its hint.
    pub error: String,
    /// When the first failed attempt of this spell was, in Unix milliseconds.
    pub since_ms: i64,
}

impl PipelineStats {
    /// Record a failed commit attempt.
    pub(super) fn commit_failed(&self, error: &crate::store::StoreError) {
        self.commit_failures.fetch_add(1, Ordering::Relaxed);
        let mut failure = self.failure.lock().unwrap_or_else(|p| p.into_inner());
        let since_ms = failure.as_ref().map_or_else(|| jiff::Timestamp::now().as_millisecond(), |f| f.since_ms);
        *failure = Some(CommitFailure { error: error.to_string(), since_ms });
        self.failing.store(true, Ordering::Release);
    }

    /// Record a commit that worked: a failing spell is over.
    pub(super) fn commit_worked(&self) {
        if self.failing.swap(false, Ordering::AcqRel) {
            *self.failure.lock().unwrap_or_else(|p| p.into_inner()) = None;
        }
    }

    /// How commits are failing, while they are.
    pub fn commit_failure(&self) -> Option<CommitFailure> {
        if !self.failing.load(Ordering::Acquire) {
            return None;
        }
        self.failure.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// The handle sources submit to; cheap to clone.
#[derive(Clone)]
pub struct Pipeline {
    tx: mpsc::Sender<Queued>,
    /// One permit per event the pipeline may hold (`[pipeline] queue_events`).
    room: Arc<Semaphore>,
    room_size: usize,
    /// The runtime the stages run on, for submitters on plain threads.
    runtime: tokio::runtime::Handle,
    monitor: Monitor,
    stats: Arc<PipelineStats>,
}

/// A submission in the pipeline, holding one permit of its room per event until it is
/// committed and answered. The channel alone bounds submissions, not events: sixty-four
/// 1 MiB file reads were ~450k parsed events, over 400 MiB resident.
pub(super) struct Queued {
    pub(super) submission: Submission,
    pub(super) room: OwnedSemaphorePermit,
}

/// The running stages; `join` waits until everything submitted is committed.
pub struct PipelineTasks {
    scorer: JoinHandle<()>,
    committer: std::thread::JoinHandle<()>,
}

impl PipelineTasks {
    /// Wait for the stages to drain and stop (after every `Pipeline` handle is dropped).
    pub async fn join(self) {
        let _ = self.scorer.await;
        let committer = self.committer;
        let _ = tokio::task::spawn_blocking(move || committer.join()).await;
    }
}

/// A batch on its way to the store.
pub(super) struct ScoredBatch {
    pub(super) submissions: Vec<Submission>,
    pub(super) scores: Vec<Option<Scored>>,
    /// What the batch's lines add to their templates.
    pub(super) templates: Vec<TemplateUpdate>,
    /// The submissions' room in the pipeline, given back once they are answered.
    pub(super) room: Vec<OwnedSemaphorePermit>,
    /// The anomalies' vector-index entries, in commit order (see `CommitBatch::anomaly_vectors`).
    pub(super) anomaly_vectors: Vec<AnomalyVector>,
    /// How the events' lines are stored (see `CommitBatch::line_layouts`).
    pub(super) line_layouts: LineLayouts,
}

impl Pipeline {
    /// Start the stages on the current tokio runtime.
    pub fn start(
        config: &PipelineConfig,
        detectors: Arc<DetectorSet>,
        store: Arc<Store>,
        monitor: Monitor,
    ) -> (Pipeline, PipelineTasks) {
        Self::start_with_feed(config, detectors, store, monitor, SummaryFeed::default())
    }

    /// Like [`Pipeline::start`], offering every committed batch to the summarizers' `feed`
    /// (never waiting for them).
    pub fn start_with_feed(
        config: &PipelineConfig,
        detectors: Arc<DetectorSet>,
        store: Arc<Store>,
        monitor: Monitor,
        feed: SummaryFeed,
    ) -> (Pipeline, PipelineTasks) {
        let (tx, rx) = mpsc::channel(config.queue.max(1));
        let room_size = config.queue_events.clamp(1, Semaphore::MAX_PERMITS);
        let (scored_tx, scored_rx) = mpsc::channel(SCORED_QUEUE);
        let stats = Arc::new(PipelineStats::default());
        let miners = Mutex::new(SourceMiners::load(&store, MinerConfig::default()));
        let scoring = Scoring { detectors: detectors.clone(), miners, embedder: store.embedder().clone() };
        let committing = Arc::new(Committing {
            store,
            monitor: monitor.clone(),
            stats: stats.clone(),
            feed,
            queued: AtomicUsize::new(0),
        });
        let scorer = tokio::spawn(score_stage(
            rx,
            scored_tx,
            Arc::new(scoring),
            committing.clone(),
            config.clone(),
            stats.clone(),
        ));
        let committer = std::thread::Builder::new()
            .name("vigil-commit".into())
            .spawn(move || commit_stage(scored_rx, &committing))
            .expect("the operating system starts the commit thread");
        let pipeline = Pipeline {
            tx,
            room: Arc::new(Semaphore::new(room_size)),
            room_size,
            runtime: tokio::runtime::Handle::current(),
            monitor,
            stats,
        };
        (pipeline, PipelineTasks { scorer, committer })
    }

    /// Queue a submission, waiting while the queue is full.
    pub async fn submit(&self, submission: Submission) -> Result<(), PipelineError> {
        let events = submission.events.len() as u64;
        let room = self.reserve(submission.events.len()).await?;
        self.tx.send(Queued { submission, room }).await.map_err(|_| PipelineError::Closed)?;
        self.stats.submitted.fetch_add(events, Ordering::Relaxed);
        Ok(())
    }

    /// Queue a submission from a thread outside the runtime (the file tailer), blocking while
    /// the queue is full.
    pub fn submit_blocking(&self, submission: Submission) -> Result<(), PipelineError> {
        let events = submission.events.len() as u64;
        let room = self.runtime.block_on(self.reserve(submission.events.len()))?;
        self.tx.blocking_send(Queued { submission, room }).map_err(|_| PipelineError::Closed)?;
        self.stats.submitted.fetch_add(events, Ordering::Relaxed);
        Ok(())
    }

    /// Wait for room for `events` events; a submission larger than the whole room waits for
    /// all of it.
    async fn reserve(&self, events: usize) -> Result<OwnedSemaphorePermit, PipelineError> {
        let permits = u32::try_from(events.min(self.room_size)).unwrap_or(u32::MAX);
        self.room.clone().acquire_many_owned(permits).await.map_err(|_| PipelineError::Closed)
    }

    /// Submissions waiting in the queue.
    pub fn queue_depth(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// The counters.
    pub fn stats(&self) -> &PipelineStats {
        &self.stats
    }

    /// The monitor channel.
    pub fn monitor(&self) -> &Monitor {
        &self.monitor
    }
}
