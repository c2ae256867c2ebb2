//! The scorer stage: gathers queued submissions into a batch (by size or time), mines the
//! templates of its lines, scores what is not scored yet (one call per detector, on the
//! blocking pool) and makes the anomalies' vector-index entries. A small pre-scored batch (the
//! API's, at a few logs per request) that finds the committer idle is committed here, without
//! the two thread hand-offs (see [`INLINE_COMMIT_EVENTS`]).

use super::committer::{Committing, Here, INLINE_COMMIT_EVENTS};
use super::config::PipelineConfig;
use super::handle::{PipelineStats, Queued, ScoredBatch};
use super::submission::Submission;
use crate::detect::{DetectorSet, Scored};
use crate::embed::Embedder;
use crate::store::{AnomalyVector, LineLayouts};
use crate::templates::SourceMiners;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tokio::time::Instant;

/// Pre-scored submissions (the API's) with at most this many anomalies are handled on the
/// runtime; more would hold it for their embeddings (~4 µs each, more on a busy machine), so
/// they go to the blocking pool like unscored ones.
const INLINE_ANOMALIES: usize = 8;

/// What the scorer stage works with.
pub(super) struct Scoring {
    pub(super) detectors: Arc<DetectorSet>,
    pub(super) miners: Mutex<SourceMiners>,
    /// The store's embedder, for the anomalies' vector-index entries.
    pub(super) embedder: Arc<dyn Embedder>,
}

pub(super) async fn score_stage(
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
