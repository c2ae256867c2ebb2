//! The feed from the pipeline to the summarizers: after each commit, the committed batch is
//! offered to every summarizer's bounded queue without waiting. A summarizer that is behind
//! misses the batch, and the events it missed are counted: summaries never slow ingestion.
//! A reload swaps the list of queues in one step: each batch goes to the summarizers of
//! exactly one config, so a replaced summarizer and its successor never share a batch.

use crate::store::{CommitBatch, NewAnomaly, ScoredEvent};
use arc_swap::ArcSwap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

/// Most events waiting for one summarizer, whatever its `queue` (in batches) says: batches
/// range from one event to thousands, and a lagging summarizer must not hold a burst's worth
/// of events in memory. An empty queue always takes the next batch, however large.
pub const MAX_QUEUED_EVENTS: u64 = 32_768;

/// A committed batch, shared by every summarizer.
#[derive(Debug)]
pub struct CommittedBatch {
    /// When it was committed (wall clock, ms since the Unix epoch): picks its window.
    pub committed_ms: i64,
    /// Id of its first event; the others follow in order.
    pub first_id: i64,
    /// The events with their scores.
    pub events: Vec<ScoredEvent>,
    /// The anomalies among them.
    pub anomalies: Vec<NewAnomaly>,
}

/// Counters of one summarizer's queue.
#[derive(Debug, Default)]
pub struct LaneCounters {
    /// Batches waiting.
    pub queued: AtomicU64,
    /// Events in the batches waiting or being folded (at most [`MAX_QUEUED_EVENTS`]).
    pub queued_events: AtomicU64,
    /// Events received.
    pub received_events: AtomicU64,
    /// Events skipped because the queue was full (or the summarizer had stopped).
    pub skipped_events: AtomicU64,
    /// Batches skipped.
    pub skipped_batches: AtomicU64,
}

/// The sending end of one summarizer's queue. Dropping every clone of it ends that
/// summarizer (it closes its open window first).
#[derive(Clone)]
pub(super) struct Lane {
    tx: SyncSender<Arc<CommittedBatch>>,
    counters: Arc<LaneCounters>,
}

impl Lane {
    /// A queue of `capacity` batches and its receiving end.
    pub(super) fn new(capacity: usize) -> (Lane, LaneReceiver) {
        let capacity = capacity.max(1);
        let (tx, rx) = sync_channel(capacity);
        let counters = Arc::new(LaneCounters::default());
        (Lane { tx, counters: counters.clone() }, LaneReceiver { rx, counters, capacity })
    }
}

/// The pipeline's end of the feed; cheap to clone. The summarizers swap its queues on a
/// reload ([`SummaryFeed::replace`]).
#[derive(Clone, Default)]
pub struct SummaryFeed {
    lanes: Arc<ArcSwap<Vec<Lane>>>,
}

/// One summarizer's end of the feed.
pub struct LaneReceiver {
    pub(super) rx: Receiver<Arc<CommittedBatch>>,
    pub(super) counters: Arc<LaneCounters>,
    /// Batches the queue holds.
    pub(super) capacity: usize,
}

impl SummaryFeed {
    /// A feed with one queue of `capacity` batches per summarizer.
    pub fn new(capacities: &[usize]) -> (SummaryFeed, Vec<LaneReceiver>) {
        let (lanes, receivers) = capacities.iter().map(|&capacity| Lane::new(capacity)).unzip();
        let feed = SummaryFeed::default();
        feed.replace(lanes);
        (feed, receivers)
    }

    /// Offer batches to exactly `lanes` from now on. A lane left out stops receiving; its
    /// summarizer ends once the batches in flight to it are delivered.
    pub(super) fn replace(&self, lanes: Vec<Lane>) {
        self.lanes.store(Arc::new(lanes));
    }

    /// Whether any summarizer listens.
    pub fn is_empty(&self) -> bool {
        self.lanes.load().is_empty()
    }

    /// Offer a committed batch to every summarizer, never waiting. `committed_ms` is the
    /// wall-clock time of the commit.
    pub fn offer(&self, commit: CommitBatch, first_id: i64, committed_ms: i64) {
        // One list for the whole batch, even if a reload swaps it meanwhile.
        let lanes = self.lanes.load_full();
        if lanes.is_empty() || commit.events.is_empty() {
            return;
        }
        let events = commit.events.len() as u64;
        let batch =
            Arc::new(CommittedBatch { committed_ms, first_id, events: commit.events, anomalies: commit.anomalies });
        for lane in lanes.iter() {
            // Counted before the send: the receiver decrements as soon as it has it.
            lane.counters.queued.fetch_add(1, Ordering::Relaxed);
            let waiting = lane.counters.queued_events.fetch_add(events, Ordering::Relaxed);
            let over = waiting > 0 && waiting + events > MAX_QUEUED_EVENTS;
            match if over { None } else { Some(lane.tx.try_send(batch.clone())) } {
                Some(Ok(())) => {
                    lane.counters.received_events.fetch_add(events, Ordering::Relaxed);
                }
                None | Some(Err(TrySendError::Full(_) | TrySendError::Disconnected(_))) => {
                    lane.counters.queued.fetch_sub(1, Ordering::Relaxed);
                    lane.counters.queued_events.fetch_sub(events, Ordering::Relaxed);
                    lane.counters.skipped_events.fetch_add(events, Ordering::Relaxed);
                    lane.counters.skipped_batches.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}
