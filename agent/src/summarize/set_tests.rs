//! A reload of the summarizers, with the real `builtin:window-summary` plugin: what stays,
//! what restarts, what starts and stops, and that no folded event is lost on the way.

use super::config::SummarizerSpec;
use super::feed::SummaryFeed;
use super::runner::now_ms;
use super::set::Summarizers;
use crate::config::{PluginLimits, PluginSource};
use crate::event::Event;
use crate::pipeline::Monitor;
use crate::store::{CommitBatch, ScoredEvent, Store, StoredSummary, SummaryQuery};
use crate::testing;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn spec(name: &str, window: Duration) -> SummarizerSpec {
    SummarizerSpec {
        name: Some(name.to_owned()),
        source: PluginSource::Builtin("window-summary"),
        window,
        queue: 16,
        limits: PluginLimits { max_memory_bytes: 64 << 20, call_timeout: Duration::from_secs(5), fuel: None },
        config_json: "{}".into(),
    }
}

/// Offer `n` requests for `url` as one committed batch, now.
fn offer(feed: &SummaryFeed, url: &str, n: usize) {
    let events = (0..n)
        .map(|i| ScoredEvent {
            event: Event {
                timestamp_ms: now_ms(),
                ip: format!("10.0.0.{i}"),
                method: "GET".into(),
                url: url.into(),
                status_code: 200,
                source: "api".into(),
                ..Event::default()
            },
            anomaly_score: Some(0.1),
        })
        .collect();
    feed.offer(CommitBatch { events, ..Default::default() }, 1, now_ms());
}

fn summaries_of(store: &Store, name: &str) -> Vec<StoredSummary> {
    let query = SummaryQuery { summarizer: Some(name.into()), limit: Some(100), ..Default::default() };
    store.summaries(&query).unwrap()
}

/// Wait until `name` has a summary that `wanted` accepts.
fn wait_for(store: &Store, name: &str, wanted: impl Fn(&StoredSummary) -> bool) -> StoredSummary {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(found) = summaries_of(store, name).into_iter().find(&wanted) {
            return found;
        }
        assert!(Instant::now() < deadline, "no such summary of {name} within 10 s: {:?}", summaries_of(store, name));
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn reload(set: &Summarizers, specs: &[SummarizerSpec]) -> Vec<String> {
    set.apply(set.prepare(specs).expect("the new summarizers start"))
}

fn start(store: &Arc<Store>, specs: &[SummarizerSpec]) -> (Summarizers, SummaryFeed) {
    Summarizers::start(testing::engine(), specs, store.clone(), Monitor::default()).unwrap()
}

#[test]
fn a_changed_window_restarts_the_summarizer_and_its_open_window_is_stored_first() {
    let store = testing::store();
    let (set, feed) = start(&store, &[spec("traffic", Duration::from_secs(3600))]);
    offer(&feed, "/before", 7);

    let changes = reload(&set, &[spec("traffic", Duration::from_secs(1))]);
    assert_eq!(changes, ["summarizer traffic restarted with its state, window 1s"]);
    // The old window was stored as it stood, before its summarizer stopped.
    let partial = wait_for(&store, "traffic", |s| s.summary.partial);
    assert_eq!(partial.summary.events, 7);
    assert_eq!(set.board().status()[0].window_ms, 1000);

    offer(&feed, "/after", 3);
    let next = wait_for(&store, "traffic", |s| !s.summary.partial);
    assert_eq!(next.summary.window_end_ms - next.summary.window_start_ms, 1000, "the new window length applies");
    assert_eq!(next.summary.events, 3);
    // The successor resumed its predecessor's state: /before is not a new URL pattern.
    let patterns = &next.summary.data["new_url_patterns"]["patterns"];
    assert_eq!(patterns, &serde_json::json!(["/after"]), "{patterns}");
    set.stop();
}

#[test]
fn an_unchanged_summarizer_keeps_running_with_its_open_window() {
    let store = testing::store();
    let specs = [spec("traffic", Duration::from_secs(3600))];
    let (set, feed) = start(&store, &specs);
    offer(&feed, "/kept", 4);
    assert!(!set.differs_from(&specs));
    assert!(reload(&set, &specs).is_empty());
    std::thread::sleep(Duration::from_millis(100));
    assert!(summaries_of(&store, "traffic").is_empty(), "the open window was not closed");

    offer(&feed, "/kept", 2);
    set.stop();
    let all = summaries_of(&store, "traffic");
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].summary.events, 6, "one window holds the batches from before and after the reload");
}

#[test]
fn an_added_summarizer_starts_and_a_removed_one_stores_its_window_and_stops() {
    let store = testing::store();
    let first = spec("first", Duration::from_secs(3600));
    let second = spec("second", Duration::from_secs(3600));
    let (set, feed) = start(&store, std::slice::from_ref(&first));
    offer(&feed, "/one", 5);

    let changes = reload(&set, &[first.clone(), second.clone()]);
    assert_eq!(changes, ["summarizer second started (builtin:window-summary 0.1.0, window 3600s)"]);
    offer(&feed, "/two", 2);

    let changes = reload(&set, std::slice::from_ref(&second));
    assert_eq!(changes, ["summarizer first stopped"]);
    let stored = summaries_of(&store, "first");
    assert_eq!(stored.len(), 1, "the removed summarizer stored its open window: {stored:?}");
    assert_eq!((stored[0].summary.events, stored[0].summary.partial), (7, true));
    let names: Vec<String> = set.board().status().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["second"]);

    set.stop();
    assert_eq!(summaries_of(&store, "second")[0].summary.events, 2, "only what came after it started");
}

#[test]
fn a_summarizer_that_fails_to_start_leaves_the_running_ones_untouched() {
    let store = testing::store();
    let (set, _feed) = start(&store, &[spec("traffic", Duration::from_secs(3600))]);
    let mut broken = spec("broken", Duration::from_secs(60));
    broken.source = PluginSource::Builtin("isolation-forest");
    let (at, error) = set.prepare(&[broken]).err().expect("a detector is refused as a summarizer");
    assert_eq!(at, 0);
    let error = error.to_string();
    assert!(error.contains("is a detector") && error.contains("not a summarizer"), "{error}");
    let status = set.board().status();
    assert_eq!((status.len(), status[0].name.as_str(), status[0].state), (1, "traffic", "ready"));
    set.stop();
}

#[test]
fn a_changed_component_file_restarts_its_summarizer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("summary.wasm");
    std::fs::copy(testing::plugin_path("vigil-window-summary"), &path).unwrap();
    let mut from_file = spec("traffic", Duration::from_secs(3600));
    from_file.source = PluginSource::File(path.clone());
    let store = testing::store();
    let (set, feed) = start(&store, std::slice::from_ref(&from_file));
    let digest = set.board().status()[0].digest.clone();
    assert!(!set.differs_from(std::slice::from_ref(&from_file)));

    // The same code with a custom section appended (id 0, 5 bytes, name "test"): other bytes.
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(&[0, 5, 4, b't', b'e', b's', b't']);
    std::fs::write(&path, bytes).unwrap();
    assert!(set.differs_from(std::slice::from_ref(&from_file)), "a new file on disk is a change");
    offer(&feed, "/x", 1);
    let changes = reload(&set, std::slice::from_ref(&from_file));
    assert_eq!(changes, ["summarizer traffic restarted with its state, window 3600s"]);
    assert_ne!(set.board().status()[0].digest, digest);
    set.stop();
}

/// The misbehaving fixture (`plugins/fixtures/misbehave-summarizer`), over 1 s windows.
fn misbehaving(queue: usize) -> SummarizerSpec {
    let source = PluginSource::File(testing::plugin_path("vigil-fixture-misbehave-summarizer"));
    SummarizerSpec { name: None, source, queue, ..spec("", Duration::from_secs(1)) }
}

const MISBEHAVING: &str = "misbehave-summarizer";

#[test]
fn events_lost_before_a_reload_are_counted_in_the_successors_next_summary() {
    // The count pending in the stopped summarizer went with it: the next summary said 0.
    let store = testing::store();
    let (set, feed) = start(&store, &[misbehaving(16)]);
    offer(&feed, "/refuse-emit", 3);
    // The reload closes the open window early, and the fixture's emit fails: no summary.
    let changes = reload(&set, &[misbehaving(32)]);
    assert_eq!(changes, ["summarizer misbehave-summarizer restarted with its state, window 1s"]);
    assert!(summaries_of(&store, MISBEHAVING).is_empty());
    offer(&feed, "/a", 2);
    let next = wait_for(&store, MISBEHAVING, |_| true);
    assert_eq!((next.summary.events, next.summary.skipped_events), (2, 3));
    set.stop();
}

#[test]
fn events_lost_before_a_shutdown_are_counted_in_the_next_starts_first_summary() {
    // The count pending at a stop went with the process: the next start's summary said 0.
    let store = testing::store();
    let (set, feed) = start(&store, &[misbehaving(16)]);
    offer(&feed, "/refuse-emit", 3);
    // The stop closes the open window early, and the fixture's emit fails: no summary.
    set.stop();
    assert!(summaries_of(&store, MISBEHAVING).is_empty());
    let (set, feed) = start(&store, &[misbehaving(16)]);
    offer(&feed, "/a", 2);
    let next = wait_for(&store, MISBEHAVING, |_| true);
    assert_eq!((next.summary.events, next.summary.skipped_events), (2, 3));
    set.stop();
    // Counted once: a third start has nothing left to count.
    let (set, feed) = start(&store, &[misbehaving(16)]);
    offer(&feed, "/b", 1);
    let third = wait_for(&store, MISBEHAVING, |s| s.summary.events == 1);
    assert_eq!(third.summary.skipped_events, 0);
    set.stop();
}

#[test]
fn the_status_counts_events_lost_to_a_failure_as_skipped_like_the_summaries() {
    // The status counted only the events a full queue skipped: 0, where the summaries said 3.
    let store = testing::store();
    let (set, feed) = start(&store, &[misbehaving(16)]);
    offer(&feed, "/refuse-emit", 3);
    let deadline = Instant::now() + Duration::from_secs(10);
    while set.board().status()[0].failures == 0 {
        assert!(Instant::now() < deadline, "the window's emit did not fail within 10 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(set.board().status()[0].skipped_events, 3, "lost with the failed emit");
    offer(&feed, "/a", 1);
    let next = wait_for(&store, MISBEHAVING, |_| true);
    assert_eq!(next.summary.skipped_events, 3);
    assert_eq!(set.board().status()[0].skipped_events, 3, "counted once, not again with the summary");
    set.stop();
}
