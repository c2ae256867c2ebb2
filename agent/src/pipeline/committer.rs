//! The committer stage: writes each scored batch in one transaction (with the source
//! positions it covers, retrying until it works), then answers the submitters, tells the
//! monitor, gives the batch's room back and offers it to the summarizers. A thread of its own
//! (see [`commit_stage`]); the scorer commits a small batch itself when this one is idle.

use super::handle::{PipelineStats, ScoredBatch};
use super::monitor::{Monitor, MonitorMessage};
use super::submission::{Accepted, AnomalyNotice, Submission};
use crate::store::{Checkpoint, CommitBatch, Committed, NewAnomaly, ScoredEvent, Store, TemplateUpdate};
use crate::summarize::SummaryFeed;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, mpsc};

/// Longest pause between retries of a failed commit.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Pre-scored batches (the API's) of at most this many events are committed by the scorer
/// itself when the committer has nothing queued and the store's writer is free: at one log per
/// request, handing each commit to the committer thread and the answer back cost two thread
/// wake-ups per request. Larger batches go to the committer, so that scoring the next batch
/// overlaps committing this one (and the runtime is never held for long: a commit of 16
/// events takes tens of microseconds).
pub(super) const INLINE_COMMIT_EVENTS: usize = 16;

/// What committing a batch needs, shared by the committer thread and the scorer.
pub(super) struct Committing {
    pub(super) store: Arc<Store>,
    pub(super) monitor: Monitor,
    pub(super) stats: Arc<PipelineStats>,
    pub(super) feed: SummaryFeed,
    /// Batches sent to the committer and not yet committed: the scorer commits a batch itself
    /// only when this is 0, so batches are still committed in the order they were scored (a
    /// file's checkpoints depend on it).
    pub(super) queued: AtomicUsize,
}

/// A batch made ready to commit: the rows, and whom to answer afterwards.
pub(super) struct Prepared {
    commit: CommitBatch,
    templates: Vec<TemplateUpdate>,
    submissions: Vec<Submission>,
    /// Each submission's events in `commit.events`.
    spans: Vec<std::ops::Range<usize>>,
    room: Vec<OwnedSemaphorePermit>,
}

/// How a commit by the scorer went.
pub(super) enum Here {
    Committed,
    /// The writer was held (by retention, say): the batch goes to the committer.
    Busy(ScoredBatch),
    /// The commit failed and wrote nothing; it is to be retried.
    Failed(Prepared),
}

impl Committing {
    /// Commit `batch` on the caller's thread if nothing else is queued for the committer and
    /// the store's writer is free right now; never waits for either.
    pub(super) fn commit_here(&self, batch: ScoredBatch) -> Here {
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
                self.stats.commit_worked();
                self.answer(prepared, &done);
                Here::Committed
            }
            Err(e) => {
                self.stats.commit_failed(&e);
                tracing::error!(error = %e, "commit failed; retrying");
                Here::Failed(prepared)
            }
        }
    }

    /// Commit, retrying until it works (see [`commit_with_retry`]), then answer.
    pub(super) fn commit_and_answer(&self, prepared: Prepared) {
        let span = commit_span(&prepared.commit);
        let done = span.in_scope(|| commit_with_retry(&self.store, &prepared.commit, &prepared.templates, &self.stats));
        self.answer(prepared, &done);
    }

    /// Count a committed batch, answer its submitters, tell the monitor, give its room back
    /// and offer it to the summarizers.
    fn answer(&self, prepared: Prepared, done: &Committed) {
        let first_id = done.ids.as_ref().map_or(0, |ids| *ids.start());
        let Prepared { commit, templates: _, submissions, spans, room } = prepared;
        let stats = &self.stats;
        stats.committed.fetch_add(commit.events.len() as u64, Ordering::Relaxed);
        stats.instruments.count_events(commit.events.iter().map(|e| e.event.source.as_str()));
        stats.anomalies.fetch_add(commit.anomalies.len() as u64, Ordering::Relaxed);
        stats.instruments.count_anomalies(commit.anomalies.len() as u64);
        stats.batches.fetch_add(1, Ordering::Relaxed);
        answer(&commit, (first_id, done.first_anomaly_id), submissions, spans, &self.monitor);
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
pub(super) fn commit_stage(mut rx: mpsc::Receiver<ScoredBatch>, committing: &Committing) {
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
fn commit_with_retry(
    store: &Store,
    commit: &CommitBatch,
    templates: &[TemplateUpdate],
    stats: &PipelineStats,
) -> Committed {
    let mut backoff = Duration::from_millis(50);
    loop {
        let started = std::time::Instant::now();
        let result = store.commit_with_templates(commit, templates);
        stats.instruments.observe_commit(started.elapsed());
        match result {
            Ok(done) => {
                stats.commit_worked();
                return done;
            }
            Err(e) => {
                stats.commit_failed(&e);
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
    (first_id, first_anomaly_id): (i64, i64),
    submissions: Vec<Submission>,
    spans: Vec<std::ops::Range<usize>>,
    monitor: &Monitor,
) {
    let notice = |(n, a): &(usize, &NewAnomaly)| {
        let e = &commit.events[a.event_index].event;
        AnomalyNotice {
            id: first_id + a.event_index as i64,
            anomaly_id: first_anomaly_id + *n as i64,
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
        let committed: Vec<(usize, &NewAnomaly)> =
            commit.anomalies.iter().enumerate().filter(|(_, a)| span.contains(&a.event_index)).collect();
        let anomalies: Vec<AnomalyNotice> = committed.iter().map(notice).collect();
        let ids = (!span.is_empty()).then(|| first_id + span.start as i64..=first_id + span.end as i64 - 1);
        if !span.is_empty() {
            for (anomaly, (_, a)) in anomalies.iter().zip(&committed) {
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
    use crate::store::LineLayouts;

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
