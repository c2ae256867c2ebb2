//! The pipeline with real detectors (the constant-score fixture) and a real SQLite store.

use super::*;
use crate::event::Event;
use crate::store::{Checkpoint, LogQuery};
use crate::testing::{constant_detectors, store};
use std::sync::Arc;

fn events(n: usize, source: &str) -> Vec<Event> {
    (0..n)
        .map(|i| Event {
            ip: format!("10.0.0.{i}"),
            method: "GET".into(),
            url: format!("/{i}"),
            status_code: 200,
            source: source.into(),
            ..Event::default()
        })
        .collect()
}

fn start(score: f32, threshold: f64) -> (Pipeline, PipelineTasks, Arc<crate::store::Store>) {
    let store = store();
    let (pipeline, tasks) = Pipeline::start(
        &PipelineConfig::default(),
        Arc::new(constant_detectors(score, threshold)),
        store.clone(),
        Monitor::default(),
    );
    (pipeline, tasks, store)
}

#[tokio::test]
async fn a_submission_is_committed_with_contiguous_ids_before_its_reply() {
    let (pipeline, _tasks, store) = start(0.1, 0.5);
    let (first, reply_a) = Submission::events(events(3, "ws")).with_reply();
    let (second, reply_b) = Submission::events(events(2, "ws")).with_reply();
    pipeline.submit(first).await.unwrap();
    pipeline.submit(second).await.unwrap();
    let a = reply_a.await.unwrap().unwrap();
    let b = reply_b.await.unwrap().unwrap();
    assert_eq!(a.ids, Some(1..=3));
    assert_eq!(b.ids, Some(4..=5));
    assert!(a.anomalies.is_empty());
    assert_eq!(store.logs(&LogQuery::default()).unwrap().len(), 5, "committed before the reply");
}

#[tokio::test]
async fn anomalies_reach_the_submitter_and_the_monitor() {
    let (pipeline, _tasks, store) = start(0.9, 0.5);
    let mut monitor = pipeline.monitor().subscribe();
    let (submission, reply) = Submission::events(events(2, "ws")).with_reply();
    pipeline.submit(submission).await.unwrap();
    let accepted = reply.await.unwrap().unwrap();
    assert_eq!(accepted.anomalies.len(), 2);
    assert_eq!(accepted.anomalies[1].id, 2);
    assert_eq!(accepted.anomalies[1].url, "/1");
    assert_eq!(accepted.anomalies[1].detector, "constant-score");
    assert_eq!((accepted.anomalies[0].anomaly_id, accepted.anomalies[1].anomaly_id), (1, 2));
    let (text, anomaly_id) = monitor.recv().await.unwrap();
    let first: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!((first["type"].as_str(), first["id"].as_i64()), (Some("anomaly"), Some(1)));
    assert_eq!((first["anomaly_id"].as_i64(), anomaly_id), (Some(1), Some(1)));
    let _second = monitor.recv().await.unwrap();
    let (text, anomaly_id) = monitor.recv().await.unwrap();
    assert_eq!(anomaly_id, None, "an ack is no anomaly");
    let ack: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (ack["type"].as_str(), ack["count"].as_u64(), ack["anomalies"].as_u64()),
        (Some("ack"), Some(2), Some(2))
    );
    assert_eq!(store.counts().unwrap().anomalies, 2);
}

#[tokio::test]
async fn checkpoints_commit_with_their_events() {
    let (pipeline, tasks, store) = start(0.1, 0.5);
    let checkpoint =
        Checkpoint { key: "src/abc".into(), fingerprint: b"first bytes".to_vec(), offset: 42, tail: Vec::new() };
    let submission =
        Submission { events: events(4, "file:src"), scored: None, checkpoints: vec![checkpoint.clone()], reply: None };
    pipeline.submit(submission).await.unwrap();
    drop(pipeline);
    tasks.join().await;
    assert_eq!(store.checkpoint("src/abc").unwrap(), Some(checkpoint));
    assert_eq!(store.counts().unwrap().events, 4);
}

#[tokio::test]
async fn pre_scored_events_keep_their_scores() {
    let (pipeline, _tasks, store) = start(0.9, 0.5);
    let scored = vec![crate::detect::Scored {
        score: 0.25,
        anomalous: false,
        detector: "constant".into(),
        reason: String::new(),
    }];
    let (submission, reply) =
        Submission { events: events(1, "api"), scored: Some(scored), checkpoints: vec![], reply: None }.with_reply();
    pipeline.submit(submission).await.unwrap();
    assert!(reply.await.unwrap().unwrap().anomalies.is_empty());
    assert_eq!(store.logs(&LogQuery::default()).unwrap()[0].anomaly_score, Some(0.25));
}

#[tokio::test]
async fn dropping_every_handle_drains_everything_submitted() {
    let (pipeline, tasks, store) = start(0.1, 0.5);
    for _ in 0..50 {
        pipeline.submit(Submission::events(events(100, "file:x"))).await.unwrap();
    }
    drop(pipeline);
    tasks.join().await;
    assert_eq!(store.counts().unwrap().events, 5_000);
}

/// `count` tasks that each submit ten events at once.
fn submit_concurrently(pipeline: &Pipeline, count: usize) -> Vec<tokio::task::JoinHandle<Result<(), PipelineError>>> {
    (0..count)
        .map(|_| {
            let p = pipeline.clone();
            tokio::spawn(async move { p.submit(Submission::events(events(10, "ws"))).await })
        })
        .collect()
}

#[tokio::test]
async fn a_full_queue_makes_submitters_wait() {
    let store = store();
    let config = PipelineConfig { queue: 1, batch_events: 1, batch_wait_ms: 0, ..PipelineConfig::default() };
    let (pipeline, tasks) =
        Pipeline::start(&config, Arc::new(constant_detectors(0.1, 0.5)), store.clone(), Monitor::default());
    // Far more submissions than queue slots: each send waits for room, none is dropped.
    let senders = submit_concurrently(&pipeline, 20);
    for s in senders {
        s.await.unwrap().unwrap();
    }
    assert!(pipeline.queue_depth() <= 1);
    drop(pipeline);
    tasks.join().await;
    assert_eq!(store.counts().unwrap().events, 200);
}

#[tokio::test]
async fn the_events_in_the_pipeline_stay_within_queue_events() {
    let store = store();
    // Room for 25 events, in a queue that would take 64 submissions of 10.
    let config = PipelineConfig { queue_events: 25, ..PipelineConfig::default() };
    let (pipeline, tasks) =
        Pipeline::start(&config, Arc::new(constant_detectors(0.1, 0.5)), store.clone(), Monitor::default());
    let senders = submit_concurrently(&pipeline, 40);
    // Submitted (counted once queued) and not yet committed.
    let in_flight = |p: &Pipeline| {
        let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::SeqCst);
        let committed = load(&p.stats().committed);
        load(&p.stats().submitted).saturating_sub(committed)
    };
    let mut most = 0;
    while !senders.iter().all(|s| s.is_finished()) {
        most = most.max(in_flight(&pipeline));
        tokio::task::yield_now().await;
    }
    for s in senders {
        s.await.unwrap().unwrap();
    }
    assert!(most > 0 && most <= 20, "{most} events in flight with room for 25 (two submissions of 10)");
    // A submission larger than the whole room waits for all of it and goes in alone.
    pipeline.submit(Submission::events(events(100, "file:big"))).await.unwrap();
    drop(pipeline);
    tasks.join().await;
    assert_eq!(store.counts().unwrap().events, 500);
}

#[tokio::test]
// Held on purpose across the awaits: the committer is a thread of its own and must wait.
#[allow(clippy::await_holding_lock)]
async fn batches_scored_while_a_commit_runs_share_the_next_transaction() {
    let store = store();
    // One submission per scored batch, so only the committer can put several in a transaction.
    let config = PipelineConfig { batch_events: 1, ..PipelineConfig::default() };
    let (pipeline, tasks) =
        Pipeline::start(&config, Arc::new(constant_detectors(0.1, 0.5)), store.clone(), Monitor::default());
    // Hold the store's writer: the first batch's commit waits for it while the scorer queues
    // the next ones.
    let writer = store.writer();
    let mut replies = Vec::new();
    for _ in 0..4 {
        let (submission, reply) = Submission::events(events(1, "ws")).with_reply();
        pipeline.submit(submission).await.unwrap();
        replies.push(reply);
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    drop(writer);
    let mut ids = Vec::new();
    for reply in replies {
        ids.push(reply.await.unwrap().unwrap().ids.unwrap());
    }
    assert_eq!(ids, vec![1..=1, 2..=2, 3..=3, 4..=4], "each submission keeps its own ids, in order");
    let batches = pipeline.stats().batches.load(std::sync::atomic::Ordering::SeqCst);
    assert!(batches < 4, "four scored batches took {batches} transactions");
    drop(pipeline);
    tasks.join().await;
    assert_eq!(store.counts().unwrap().events, 4);
}

/// A submission scored already, as the API makes them: every event below the threshold.
fn pre_scored(n: usize, source: &str) -> Submission {
    let scored = (0..n)
        .map(|_| crate::detect::Scored { score: 0.1, anomalous: false, detector: "api".into(), reason: String::new() })
        .collect();
    Submission { scored: Some(scored), ..Submission::events(events(n, source)) }
}

#[tokio::test]
// Held on purpose across the awaits: nothing may commit until it is released.
#[allow(clippy::await_holding_lock)]
async fn a_small_pre_scored_batch_goes_to_the_committer_while_the_writer_is_held() {
    let store = store();
    let (pipeline, tasks) = Pipeline::start(
        &PipelineConfig::default(),
        Arc::new(constant_detectors(0.1, 0.5)),
        store.clone(),
        Monitor::default(),
    );
    let writer = store.writer();
    let (submission, mut reply) = pre_scored(1, "api").with_reply();
    pipeline.submit(submission).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(reply.try_recv().is_err(), "nothing can commit while the writer is held");
    drop(writer);
    assert_eq!(reply.await.unwrap().unwrap().ids, Some(1..=1), "the committer took it once the writer was free");
    drop(pipeline);
    tasks.join().await;
    assert_eq!(store.counts().unwrap().events, 1);
}

#[tokio::test]
// Held on purpose across the awaits: the committer is a thread of its own and must wait.
#[allow(clippy::await_holding_lock)]
async fn pre_scored_batches_committed_by_the_scorer_keep_the_order_of_queued_ones() {
    let store = store();
    let config = PipelineConfig { batch_events: 1, ..PipelineConfig::default() };
    let (pipeline, tasks) =
        Pipeline::start(&config, Arc::new(constant_detectors(0.1, 0.5)), store.clone(), Monitor::default());
    // The first goes to the store at once, with nothing queued.
    let (first, reply) = pre_scored(2, "api").with_reply();
    pipeline.submit(first).await.unwrap();
    assert_eq!(reply.await.unwrap().unwrap().ids, Some(1..=2));
    // With the writer held, an unscored batch waits at the committer, and the pre-scored ones
    // after it must wait behind it, not slip in ahead when the writer comes free.
    let writer = store.writer();
    let mut replies = Vec::new();
    for (n, submission) in
        [Submission::events(events(3, "ws")), pre_scored(1, "api"), pre_scored(2, "api")].into_iter().enumerate()
    {
        let (submission, reply) = submission.with_reply();
        pipeline.submit(submission).await.unwrap();
        replies.push(reply);
        if n == 0 {
            // Let the scorer hand the unscored batch to the committer before the next arrive.
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    drop(writer);
    let mut ids = Vec::new();
    for reply in replies {
        ids.push(reply.await.unwrap().unwrap().ids.unwrap());
    }
    assert_eq!(ids, vec![3..=5, 6..=6, 7..=8], "ids follow the order the batches were submitted in");
    drop(pipeline);
    tasks.join().await;
    assert_eq!(store.counts().unwrap().events, 8);
}
