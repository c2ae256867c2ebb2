//! The two stages: the scorer gathers submissions into a batch (by size or time) and scores
//! what is not scored yet; the committer writes each batch in one transaction, then answers
//! the submitters and tells the monitor. The scorer is a tokio task that runs its wasm calls
//! on the blocking pool; the committer is a thread of its own, since all it does is block on
//! SQLite. Scoring batch N+1 overlaps committing N. A small pre-scored batch (the API's, at a
//! few logs per request) that finds the committer idle is committed by the scorer itself,
//! without the two thread hand-offs (see [`INLINE_COMMIT_EVENTS`]).

use super::config::PipelineConfig;
use super::monitor::{Monitor, MonitorMessage};
use super::submission::{Accepted, AnomalyNotice, PipelineError, Submission};
use crate::detect::{DetectorSet, Scored};
use crate::embed::Embedder;
use crate::store::{
    AnomalyVector, Checkpoint, CommitBatch, LineLayouts, NewAnomaly, ScoredEvent, Store, TemplateUpdate,
};
use crate::summarize::SummaryFeed;
use crate::templates::{MinerConfig, SourceMiners};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Batches between the scorer and the committer: one being committed, one ready.
const SCORED_QUEUE: usize = 2;
/// Longest pause between retries of a failed commit.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

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
    /// Latency histograms and per-source counts for `/metrics`.
    pub instruments: crate::telemetry::Instruments,
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
struct Queued {
    submission: Submission,
    room: OwnedSemaphorePermit,
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
struct ScoredBatch {
    submissions: Vec<Submission>,
    scores: Vec<Option<Scored>>,
    /// What the batch's lines add to their templates.
    templates: Vec<TemplateUpdate>,
    /// The submissions' room in the pipeline, given back once they are answered.
    room: Vec<OwnedSemaphorePermit>,
    /// The anomalies' vector-index entries, in commit order (see `CommitBatch::anomaly_vectors`).
    anomaly_vectors: Vec<AnomalyVector>,
    /// How the events' lines are stored (see `CommitBatch::line_layouts`).
    line_layouts: LineLayouts,
}

/// Pre-scored submissions (the API's) with at most this many anomalies are handled on the
/// runtime; more would hold it for their embeddings (~4 µs each, more on a busy machine), so
/// they go to the blocking pool like unscored ones.
const INLINE_ANOMALIES: usize = 8;

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

/// What the scorer stage works with.
struct Scoring {
    detectors: Arc<DetectorSet>,
    miners: Mutex<SourceMiners>,
    /// The store's embedder, for the anomalies' vector-index entries.
    embedder: Arc<dyn Embedder>,
}

async fn score_stage(
    mut rx: mpsc::Receiver<Queued>,
    tx: mpsc::Sender<ScoredBatch>,
    scoring: Arc<Scoring>,
    committing: Arc<Committing>,
    config: PipelineConfig,
    stats: Arc<PipelineStats>,
) {
    while let Some(first) = rx.recv().await {
        let mut events = first.submission.events.len();
        let mut submissions = vec![first.submission];
        let mut room = vec![first.room];
        // Take what is already queued; wait for more only up to `batch_wait` (0: never). Under
        // load the queue fills while the previous batch is scored and committed, so batches
        // grow by themselves, and an idle agent answers without delay.
        let deadline = Instant::now() + config.batch_wait();
        while events < config.batch_events {
            let next = match rx.try_recv() {
                Ok(next) => Some(next),
                Err(mpsc::error::TryRecvError::Disconnected) => None,
                Err(mpsc::error::TryRecvError::Empty) if config.batch_wait_ms == 0 => None,
                Err(mpsc::error::TryRecvError::Empty) => {
                    tokio::time::timeout_at(deadline, rx.recv()).await.ok().flatten()
                }
            };
            let Some(next) = next else { break };
            events += next.submission.events.len();
            submissions.push(next.submission);
            room.push(next.room);
        }
        // Pre-scored submissions (the API's) need no wasm call: no trip to the blocking pool,
        // unless they bring many anomalies to embed.
        let anomalies = || submissions.iter().flat_map(|s| s.scored.iter().flatten()).filter(|s| s.anomalous).count();
        let inline = submissions.iter().all(|s| s.scored.is_some()) && anomalies() <= INLINE_ANOMALIES;
        let scored = if inline {
            Ok(score(&scoring, submissions, room, &stats))
        } else {
            let scoring = scoring.clone();
            let stats = stats.clone();
            tokio::task::spawn_blocking(move || score(&scoring, submissions, room, &stats)).await
        };
        let mut batch = match scored {
            Ok(batch) => batch,
            Err(e) => {
                tracing::error!(error = %e, "scoring task panicked; its batch is lost");
                continue;
            }
        };
        if inline && events <= INLINE_COMMIT_EVENTS {
            batch = match committing.commit_here(batch) {
                Here::Committed => continue,
                Here::Busy(batch) => batch,
                Here::Failed(prepared) => {
                    // Retried off the runtime; the scorer waits, as it would for a full queue.
                    let committing = committing.clone();
                    let retried = tokio::task::spawn_blocking(move || committing.commit_and_answer(prepared));
                    if let Err(e) = retried.await {
                        tracing::error!(error = %e, "commit task panicked");
                    }
                    continue;
                }
            };
        }
        // Counted before it is sent, so the scorer never sees the committer idle with a batch
        // on its way (see `Committing::commit_here`).
        committing.queued.fetch_add(1, Ordering::AcqRel);
        if tx.send(batch).await.is_err() {
            return;
        }
    }
}

/// Score every submission that is not scored yet, all in one call per detector, and make the
/// anomalies' vector-index entries.
fn score(
    scoring: &Scoring,
    mut submissions: Vec<Submission>,
    room: Vec<OwnedSemaphorePermit>,
    stats: &PipelineStats,
) -> ScoredBatch {
    let Scoring { detectors, miners, embedder } = scoring;
    // Templates first: lines that are not access logs get their template id (the miner takes
    // about 1 µs a line, see `docs/templates.md`; access logs cost one check).
    let templates = miners
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .mine(submissions.iter_mut().flat_map(|s| s.events.iter_mut()));
    let unscored: Vec<&crate::event::Event> =
        submissions.iter().filter(|s| s.scored.is_none()).flat_map(|s| &s.events).collect();
    let mut fresh = if unscored.is_empty() {
        Vec::new()
    } else {
        // One span per batch (never per event): the agent's traces when OTLP export is on.
        // Counts as i64: OTLP has no unsigned attributes (u64 would be exported as text).
        let _span = tracing::info_span!("score", events = unscored.len() as i64).entered();
        let started = std::time::Instant::now();
        let scores = detectors.score(&unscored);
        stats.instruments.observe_scoring(detectors, started.elapsed());
        match scores {
            Ok(scores) => scores.into_iter().map(Some).collect(),
            Err(e) => {
                // The events are still stored, unscored: losing them would be worse.
                stats.score_failures.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, events = unscored.len(), "scoring failed; storing the batch unscored");
                vec![None; unscored.len()]
            }
        }
    }
    .into_iter();
    let scores: Vec<Option<Scored>> = submissions
        .iter_mut()
        .flat_map(|s| match s.scored.take() {
            Some(scored) => scored.into_iter().map(Some).collect::<Vec<_>>(),
            None => fresh.by_ref().take(s.events.len()).collect(),
        })
        .collect();
    let events = submissions.iter().flat_map(|s| &s.events);
    let anomaly_vectors = events
        .zip(&scores)
        .filter_map(|(event, scored)| scored.as_ref().filter(|s| s.anomalous).map(|s| (event, s)))
        .map(|(event, s)| AnomalyVector::new(embedder.as_ref(), event, &s.detector, s.score, &s.reason))
        .collect();
    let line_layouts = LineLayouts::of(submissions.iter().flat_map(|s| &s.events));
    ScoredBatch { submissions, scores, templates, room, anomaly_vectors, line_layouts }
}

/// Pre-scored batches (the API's) of at most this many events are committed by the scorer
/// itself when the committer has nothing queued and the store's writer is free: at one log per
/// request, handing each commit to the committer thread and the answer back cost two thread
/// wake-ups per request. Larger batches go to the committer, so that scoring the next batch
/// overlaps committing this one (and the runtime is never held for long: a commit of 16
/// events takes tens of microseconds).
const INLINE_COMMIT_EVENTS: usize = 16;

/// What committing a batch needs, shared by the committer thread and the scorer.
struct Committing {
    store: Arc<Store>,
    monitor: Monitor,
    stats: Arc<PipelineStats>,
    feed: SummaryFeed,
    /// Batches sent to the committer and not yet committed: the scorer commits a batch itself
    /// only when this is 0, so batches are still committed in the order they were scored (a
    /// file's checkpoints depend on it).
    queued: AtomicUsize,
}

/// A batch made ready to commit: the rows, and whom to answer afterwards.
struct Prepared {
    commit: CommitBatch,
    templates: Vec<TemplateUpdate>,
    submissions: Vec<Submission>,
    /// Each submission's events in `commit.events`.
    spans: Vec<std::ops::Range<usize>>,
    room: Vec<OwnedSemaphorePermit>,
}

/// How a commit by the scorer went.
enum Here {
    Committed,
    /// The writer was held (by retention, say): the batch goes to the committer.
    Busy(ScoredBatch),
    /// The commit failed and wrote nothing; it is to be retried.
    Failed(Prepared),
}

impl Committing {
    /// Commit `batch` on the caller's thread if nothing else is queued for the committer and
    /// the store's writer is free right now; never waits for either.
    fn commit_here(&self, batch: ScoredBatch) -> Here {
        if self.queued.load(Ordering::Acquire) != 0 {
            return Here::Busy(batch);
        }
        let Some(mut writer) = self.store.try_writer() else { return Here::Busy(batch) };
        let prepared = Prepared::from(batch);
        let span = commit_span(&prepared.commit);
        let started = std::time::Instant::now();
        let result =
            span.in_scope(|| self.store.commit_with_writer(&mut writer, &prepared.commit, &prepared.templates));
        drop(writer);
        self.stats.instruments.observe_commit(started.elapsed());
        match result {
            Ok(done) => {
                self.answer(prepared, done.ids.map_or(0, |ids| *ids.start()));
                Here::Committed
            }
            Err(e) => {
                self.stats.commit_failures.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, "commit failed; retrying");
                Here::Failed(prepared)
            }
        }
    }

    /// Commit, retrying until it works (see [`commit_with_retry`]), then answer.
    fn commit_and_answer(&self, prepared: Prepared) {
        let span = commit_span(&prepared.commit);
        let first_id =
            span.in_scope(|| commit_with_retry(&self.store, &prepared.commit, &prepared.templates, &self.stats));
        self.answer(prepared, first_id);
    }

    /// Count a committed batch, answer its submitters, tell the monitor, give its room back
    /// and offer it to the summarizers.
    fn answer(&self, prepared: Prepared, first_id: i64) {
        let Prepared { commit, templates: _, submissions, spans, room } = prepared;
        let stats = &self.stats;
        stats.committed.fetch_add(commit.events.len() as u64, Ordering::Relaxed);
        stats.instruments.count_events(commit.events.iter().map(|e| e.event.source.as_str()));
        stats.anomalies.fetch_add(commit.anomalies.len() as u64, Ordering::Relaxed);
        stats.instruments.count_anomalies(commit.anomalies.len() as u64);
        stats.batches.fetch_add(1, Ordering::Relaxed);
        answer(&commit, first_id, submissions, spans, &self.monitor);
        drop(room);
        self.feed.offer(commit, first_id, jiff::Timestamp::now().as_millisecond());
    }
}

fn commit_span(commit: &CommitBatch) -> tracing::Span {
    tracing::info_span!("commit", events = commit.events.len() as i64, anomalies = commit.anomalies.len() as i64)
}

impl From<ScoredBatch> for Prepared {
    fn from(batch: ScoredBatch) -> Prepared {
        let ScoredBatch { mut submissions, scores, templates, room, anomaly_vectors, line_layouts } = batch;
        let mut commit = CommitBatch::default();
        // Sized once: growing it would copy every event moved in so far, several times.
        commit.events.reserve_exact(submissions.iter().map(|s| s.events.len()).sum());
        let mut spans = Vec::with_capacity(submissions.len());
        let mut checkpoints: Vec<Checkpoint> = Vec::new();
        let mut scores = scores.into_iter();
        for submission in &mut submissions {
            let start = commit.events.len();
            for event in std::mem::take(&mut submission.events) {
                let scored = scores.next().flatten();
                if let Some(s) = scored.as_ref().filter(|s| s.anomalous) {
                    commit.anomalies.push(NewAnomaly {
                        event_index: commit.events.len(),
                        detector: s.detector.to_string(),
                        score: s.score,
                        reason: s.reason.clone(),
                    });
                }
                commit.events.push(ScoredEvent { event, anomaly_score: scored.map(|s| s.score) });
            }
            spans.push(start..commit.events.len());
            for checkpoint in submission.checkpoints.drain(..) {
                // Later positions of the same file supersede earlier ones.
                checkpoints.retain(|c| c.key != checkpoint.key);
                checkpoints.push(checkpoint);
            }
        }
        commit.checkpoints = checkpoints;
        commit.anomaly_vectors = anomaly_vectors;
        commit.line_layouts = line_layouts;
        Prepared { commit, templates, submissions, spans, room }
    }
}

/// The committer's loop. A thread, not a task: a commit blocks for its whole length, and
/// handing it to the blocking pool and back cost two thread wake-ups per batch, which at one
/// log per API request was a large part of each request's cost.
fn commit_stage(mut rx: mpsc::Receiver<ScoredBatch>, committing: &Committing) {
    while let Some(mut batch) = rx.blocking_recv() {
        let mut batches = 1;
        // Group commit: what the scorer finished meanwhile goes into the same transaction.
        while let Ok(next) = rx.try_recv() {
            batch.absorb(next);
            batches += 1;
        }
        committing.commit_and_answer(Prepared::from(batch));
        committing.queued.fetch_sub(batches, Ordering::AcqRel);
    }
}

impl ScoredBatch {
    /// Append `next`, which was scored after this batch: its events commit after these.
    fn absorb(&mut self, next: ScoredBatch) {
        self.submissions.extend(next.submissions);
        self.scores.extend(next.scores);
        self.templates.extend(next.templates);
        self.room.extend(next.room);
        self.anomaly_vectors.extend(next.anomaly_vectors);
        self.line_layouts.extend(next.line_layouts);
    }
}

/// Commit, retrying with backoff until it works: a failing disk delays events, never drops
/// them (the queue fills and the sources wait). Returns the first event id.
fn commit_with_retry(store: &Store, commit: &CommitBatch, templates: &[TemplateUpdate], stats: &PipelineStats) -> i64 {
    let mut backoff = Duration::from_millis(50);
    loop {
        let started = std::time::Instant::now();
        let result = store.commit_with_templates(commit, templates);
        stats.instruments.observe_commit(started.elapsed());
        match result {
            Ok(done) => return done.ids.map_or(0, |ids| *ids.start()),
            Err(e) => {
                stats.commit_failures.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, retry_in = ?backoff, "commit failed; retrying");
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Tell each submitter what it got, and the monitor what was committed.
fn answer(
    commit: &CommitBatch,
    first_id: i64,
    submissions: Vec<Submission>,
    spans: Vec<std::ops::Range<usize>>,
    monitor: &Monitor,
) {
    let notice = |a: &NewAnomaly| {
        let e = &commit.events[a.event_index].event;
        AnomalyNotice {
            id: first_id + a.event_index as i64,
            timestamp: jiff::Timestamp::from_millisecond(e.timestamp_ms).map(|t| t.to_string()).unwrap_or_default(),
            ip: e.ip.clone(),
            method: e.method.clone(),
            url: e.url.clone(),
            status_code: e.status_code,
            anomaly_score: a.score,
            detector: a.detector.clone(),
            reason: a.reason.clone(),
            source: e.source.clone(),
        }
    };
    for (submission, span) in submissions.into_iter().zip(spans) {
        let committed: Vec<&NewAnomaly> = commit.anomalies.iter().filter(|a| span.contains(&a.event_index)).collect();
        let anomalies: Vec<AnomalyNotice> = committed.iter().map(|a| notice(a)).collect();
        let ids = (!span.is_empty()).then(|| first_id + span.start as i64..=first_id + span.end as i64 - 1);
        if !span.is_empty() {
            for (anomaly, a) in anomalies.iter().zip(&committed) {
                monitor.anomaly(anomaly, &commit.events[a.event_index].event);
            }
            monitor.publish(&MonitorMessage::Ack {
                source: commit.events[span.start].event.source.clone(),
                count: span.len(),
                first_id: ids.as_ref().map(|r| *r.start()),
                last_id: ids.as_ref().map(|r| *r.end()),
                anomalies: anomalies.len(),
            });
        }
        if let Some(reply) = submission.reply {
            let _ = reply.send(Ok(Accepted { ids, anomalies }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Scored;
    use crate::event::Event;

    fn scored_batch() -> ScoredBatch {
        let events = vec![Event { url: "/".into(), status_code: 200, source: "api".into(), ..Event::default() }];
        let scored = Scored { score: 0.1, anomalous: false, detector: "api".into(), reason: String::new() };
        ScoredBatch {
            line_layouts: LineLayouts::of(&events),
            submissions: vec![Submission { scored: None, ..Submission::events(events) }],
            scores: vec![Some(scored)],
            templates: Vec::new(),
            room: Vec::new(),
            anomaly_vectors: Vec::new(),
        }
    }

    #[test]
    fn the_scorer_commits_only_with_nothing_queued_and_the_writer_free() {
        let store = crate::testing::store();
        let committing = Committing {
            store: store.clone(),
            monitor: Monitor::default(),
            stats: Arc::new(PipelineStats::default()),
            feed: SummaryFeed::default(),
            queued: AtomicUsize::new(1),
        };
        // A batch on its way to the committer: this one must not commit ahead of it.
        assert!(matches!(committing.commit_here(scored_batch()), Here::Busy(_)));
        committing.queued.store(0, Ordering::SeqCst);
        {
            let _held = store.writer();
            assert!(matches!(committing.commit_here(scored_batch()), Here::Busy(_)), "never waits for the writer");
        }
        assert_eq!(store.counts().unwrap().events, 0);
        assert!(matches!(committing.commit_here(scored_batch()), Here::Committed));
        assert_eq!(store.counts().unwrap().events, 1);
        assert_eq!(committing.stats.batches.load(Ordering::SeqCst), 1);
    }
}
