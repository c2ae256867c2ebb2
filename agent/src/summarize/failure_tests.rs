//! What a summarizer's failures cost, with a real component that fails on demand
//! (`plugins/fixtures/misbehave-summarizer`): a refused batch, a trap, a failed emit, and
//! names that would mix two summarizers' summaries and state.

use super::config::SummarizerSpec;
use super::feed::CommittedBatch;
use super::host::{MAX_SUMMARY_DATA_BYTES, MAX_SUMMARY_TEXT_BYTES, SummarizerHost};
use super::runner::{SummarizerLane, now_ms, snapshot_key};
use super::set::{Summarizers, validate};
use crate::config::{PluginLimits, PluginSource};
use crate::event::Event;
use crate::pipeline::Monitor;
use crate::store::{ScoredEvent, Store, StoredSummary};
use crate::testing;
use std::sync::Arc;
use std::time::Duration;

/// A minute boundary an hour ago.
fn t0() -> i64 {
    let now = now_ms();
    now - now.rem_euclid(60_000) - 3_600_000
}

fn spec(source: PluginSource) -> SummarizerSpec {
    SummarizerSpec {
        name: None,
        source,
        window: Duration::from_secs(60),
        queue: 16,
        limits: PluginLimits { max_memory_bytes: 64 << 20, call_timeout: Duration::from_secs(5), fuel: None },
        config_json: "{}".into(),
    }
}

fn misbehaving() -> SummarizerSpec {
    spec(PluginSource::File(testing::plugin_path("vigil-fixture-misbehave-summarizer")))
}

fn lane(store: Arc<Store>) -> SummarizerLane {
    let host = SummarizerHost::start(testing::engine(), &misbehaving()).expect("the fixture starts");
    SummarizerLane::standalone(host, Duration::from_secs(60), store, Monitor::default())
}

/// `urls.len()` requests, committed at `committed_ms`.
fn batch(committed_ms: i64, urls: &[&str]) -> CommittedBatch {
    let events = urls
        .iter()
        .map(|url| ScoredEvent {
            event: Event { timestamp_ms: committed_ms, ip: "10.0.0.1".into(), url: (*url).into(), ..Event::default() },
            anomaly_score: Some(0.2),
        })
        .collect();
    CommittedBatch { committed_ms, first_id: 1, events, anomalies: Vec::new() }
}

fn plugin_count(stored: &StoredSummary) -> u64 {
    stored.summary.data["events"].as_u64().expect("the fixture counts its events")
}

/// The events of every window the plugin emitted, which its snapshot keeps.
fn plugin_total(stored: &StoredSummary) -> u64 {
    stored.summary.data["total"].as_u64().expect("the fixture counts its events across windows")
}

#[test]
fn a_batch_the_plugin_refuses_is_lost_alone_and_the_window_keeps_what_was_folded() {
    // An error the plugin returns leaves its instance, and what it folded, in place: the
    // window's count went to 0 (and the summary said 4 where the plugin had folded 7).
    let mut lane = lane(testing::store());
    lane.receive(&batch(t0() + 1_000, &["/a", "/b", "/c"]));
    lane.receive(&batch(t0() + 2_000, &["/d", "/refuse"]));
    lane.receive(&batch(t0() + 3_000, &["/e", "/f", "/g", "/h"]));
    let (failures, restarts, error) = lane.failures();
    assert_eq!((failures, restarts), (1, 0));
    assert!(error.as_deref().unwrap_or("").contains("refused a batch"), "{error:?}");
    let stored = lane.tick(t0() + 60_000).expect("the window's summary");
    assert_eq!((stored.summary.events, stored.summary.skipped_events), (7, 2));
    assert_eq!(plugin_count(&stored), 7);
}

#[test]
fn a_trap_loses_the_window_folded_so_far_and_counts_it() {
    let mut lane = lane(testing::store());
    lane.receive(&batch(t0() + 1_000, &["/a", "/b", "/c"]));
    lane.receive(&batch(t0() + 2_000, &["/d", "/panic"]));
    lane.receive(&batch(t0() + 3_000, &["/e"]));
    let (failures, restarts, error) = lane.failures();
    assert_eq!((failures, restarts), (1, 1));
    assert!(error.as_deref().unwrap_or("").contains("asked to panic"), "{error:?}");
    let stored = lane.tick(t0() + 60_000).expect("the window's summary");
    assert_eq!((stored.summary.events, stored.summary.skipped_events), (1, 5));
    assert_eq!(plugin_count(&stored), 1);
}

#[test]
fn events_of_a_window_that_stored_no_summary_are_counted_in_the_next_one() {
    // A failed emit stores no summary, and a window whose every batch was lost calls none:
    // their events were counted nowhere.
    let mut lane = lane(testing::store());
    lane.receive(&batch(t0() + 1_000, &["/a", "/refuse-emit", "/c"]));
    assert!(lane.tick(t0() + 60_000).is_none(), "the fixture's emit fails");
    lane.receive(&batch(t0() + 61_000, &["/refuse"]));
    assert!(lane.tick(t0() + 120_000).is_none(), "no event was folded");
    lane.receive(&batch(t0() + 121_000, &["/d", "/e"]));
    let stored = lane.tick(t0() + 180_000).expect("the third window's summary");
    assert_eq!((stored.summary.events, stored.summary.skipped_events), (2, 4));
}

#[test]
fn a_trap_in_snapshot_restarts_the_summarizer_with_its_last_snapshot() {
    // The restarted instance was left empty: the state kept across windows went back to
    // nothing, and `restarts` stayed 0.
    let mut lane = lane(testing::store());
    lane.receive(&batch(t0() + 1_000, &["/a", "/b", "/c"]));
    assert_eq!(plugin_total(&lane.tick(t0() + 60_000).expect("the first window's summary")), 3);
    lane.receive(&batch(t0() + 61_000, &["/d", "/panic-snapshot"]));
    let stored = lane.tick(t0() + 120_000).expect("the summary is stored though its snapshot failed");
    assert_eq!(plugin_total(&stored), 5);
    let (failures, restarts, error) = lane.failures();
    assert_eq!((failures, restarts), (1, 1));
    assert!(error.as_deref().unwrap_or("").contains("panic in snapshot"), "{error:?}");
    // A snapshot is taken at a window's close only: idle ticks do not retry the failed one.
    assert!(lane.tick(t0() + 150_000).is_none() && lane.tick(t0() + 179_000).is_none());
    assert_eq!(lane.failures().0, 1);
    lane.receive(&batch(t0() + 181_000, &["/e"]));
    let stored = lane.tick(t0() + 240_000).expect("the third window's summary");
    assert_eq!(plugin_total(&stored), 4, "the first window's 3, kept in the last snapshot, and this one's 1");
}

#[test]
fn a_summary_text_over_64_kib_is_cut_at_a_char_boundary_and_says_so() {
    // A 30 MiB text was stored whole, and served whole by /api/v1/summaries.
    let mut lane = lane(testing::store());
    lane.receive(&batch(t0() + 1_000, &["/long-text"]));
    let stored = lane.tick(t0() + 60_000).expect("the window's summary");
    let text = &stored.summary.text;
    assert!(text.len() <= MAX_SUMMARY_TEXT_BYTES && MAX_SUMMARY_TEXT_BYTES == 64 * 1024, "{} bytes", text.len());
    let marker = " [cut: the plugin's text was 300000 bytes; a summary text holds at most 65536]";
    let kept =
        text.strip_suffix(marker).unwrap_or_else(|| panic!("no marker at the end: {:?}", &text[text.len() - 100..]));
    assert!(kept.len() > 60_000 && kept.chars().all(|c| c == '€'), "cut between characters: {} bytes", kept.len());
    assert_eq!(plugin_count(&stored), 1, "the data is kept");
}

#[test]
fn summary_data_over_its_limit_is_replaced_by_a_note_and_the_text_is_kept() {
    // A 300 KB data object was stored and served with the summary, whole.
    let mut lane = lane(testing::store());
    lane.receive(&batch(t0() + 1_000, &["/long-data", "/b"]));
    let stored = lane.tick(t0() + 60_000).expect("the window's summary is stored");
    assert_eq!(stored.summary.text, "2 events");
    let data = &stored.summary.data;
    assert_eq!(data.len(), 1, "{:?}", data.keys().collect::<Vec<_>>());
    let note = data["cut"].as_str().expect("a note saying what was dropped");
    assert!(
        note.starts_with("the plugin's data was 300") && note.contains(&MAX_SUMMARY_DATA_BYTES.to_string()),
        "{note}"
    );
    // The next window's data is whole again.
    lane.receive(&batch(t0() + 61_000, &["/c"]));
    let stored = lane.tick(t0() + 120_000).expect("the next window's summary");
    assert_eq!(plugin_count(&stored), 1);
}

#[test]
fn a_summarizers_state_is_saved_when_a_window_closes_not_only_at_shutdown() {
    // Saved only by `close`, a crash or `kill -9` lost the state of every window since the
    // last clean stop.
    let store = testing::store();
    let host = SummarizerHost::start(testing::engine(), &spec(PluginSource::Builtin("window-summary"))).unwrap();
    let mut lane = SummarizerLane::standalone(host, Duration::from_secs(60), store.clone(), Monitor::default());
    let key = snapshot_key("window-summary");
    lane.receive(&batch(t0() + 1_000, &["/a", "/b"]));
    assert!(store.snapshots().unwrap().iter().all(|s| s.detector != key));
    lane.tick(t0() + 60_000).expect("the window's summary");
    let saved =
        store.snapshots().unwrap().into_iter().find(|s| s.detector == key).expect("saved at the window's close");
    assert!(!saved.state.is_empty());
}

#[test]
fn two_summarizers_of_one_name_are_refused_with_a_hint_and_named_apart_they_start() {
    let window_summary = spec(PluginSource::Builtin("window-summary"));
    let start =
        |specs: &[SummarizerSpec]| Summarizers::start(testing::engine(), specs, testing::store(), Monitor::default());
    let message = match start(&[window_summary.clone(), window_summary.clone()]) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("two summarizers named window-summary started"),
    };
    assert!(message.contains("summarizers[1]") && message.contains("summarizers[0] has the same name"), "{message}");
    assert!(message.contains("give one of them its own `name"), "{message}");
    let named = SummarizerSpec { name: Some("hourly".into()), ..window_summary.clone() };
    let (summarizers, _feed) = start(&[window_summary, named]).expect("named apart, both start");
    summarizers.stop();
}

#[test]
fn validate_refuses_what_start_up_refuses_two_of_one_name_and_an_empty_name() {
    // `vigil validate` said ok for both, and the agent then refused the config.
    let window_summary = spec(PluginSource::Builtin("window-summary"));
    let (loaded, problems) = validate(testing::engine(), &[window_summary.clone(), window_summary.clone()]);
    assert_eq!(loaded, ["window-summary 0.1.0", "window-summary 0.1.0"]);
    assert_eq!(problems.len(), 1, "{problems:?}");
    let (at, problem) = (problems[0].0, problems[0].1.to_string());
    assert!(at == 1 && problem.contains("summarizers[0] has the same name"), "{problems:?}");
    let blank = SummarizerSpec { name: Some(" ".into()), ..misbehaving() };
    let (_, problems) = validate(testing::engine(), &[window_summary, blank]);
    assert_eq!(problems.len(), 1, "{problems:?}");
    let (at, problem) = (problems[0].0, problems[0].1.to_string());
    assert!(at == 1 && problem.contains("its name is empty"), "{problems:?}");
}
