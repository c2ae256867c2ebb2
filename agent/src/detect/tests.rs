//! The sandbox against real components that break it: deadlines, memory caps, panics, and
//! answers that break the contract. After each failure the next call works again.

use super::*;
use crate::config::{DetectorSpec, PluginSource};
use crate::event::Event;
use crate::testing::{engine, plugin_path, spec};
use std::time::{Duration, Instant};

fn misbehave(mode: &str) -> DetectorSpec {
    let mut spec =
        spec(PluginSource::File(plugin_path("vigil-fixture-misbehave")), 0.5, &format!(r#"{{"mode":"{mode}"}}"#));
    spec.limits.call_timeout = Duration::from_millis(200);
    spec.limits.max_memory_bytes = 32 << 20;
    spec
}

fn events(n: usize) -> Vec<Event> {
    (0..n)
        .map(|i| Event {
            ip: format!("10.0.0.{i}"),
            method: "GET".into(),
            url: "/".into(),
            status_code: 200,
            ..Event::default()
        })
        .collect()
}

fn call_message(result: Result<Vec<Verdict>, PluginError>) -> String {
    match result {
        Err(e @ (PluginError::Call { .. } | PluginError::BadOutput { .. })) => e.to_string(),
        other => panic!("expected a call failure, got {other:?}"),
    }
}

#[test]
fn a_well_behaved_plugin_scores_every_event() {
    let mut host = DetectorHost::start(engine(), &misbehave("behave")).unwrap();
    let verdicts = host.score(&events(3)).unwrap();
    assert_eq!(verdicts.len(), 3);
    assert!(verdicts.iter().all(|v| v.score == 0.5));
    assert_eq!(host.name(), "misbehave");
}

#[test]
fn plugin_that_loops_is_stopped_at_its_deadline() {
    let mut host = DetectorHost::start(engine(), &misbehave("loop")).unwrap();
    let started = Instant::now();
    let message = call_message(host.score(&events(2)));
    let elapsed = started.elapsed();
    assert!(message.contains("deadline of 200ms exceeded"), "{message}");
    assert!(elapsed >= Duration::from_millis(190), "stopped early: {elapsed:?}");
    // A second call on the restarted instance is stopped the same way: the store is fresh.
    assert!(call_message(host.score(&events(1))).contains("deadline"));
}

#[test]
fn plugin_that_hogs_memory_fails_at_the_cap() {
    let mut host = DetectorHost::start(engine(), &misbehave("hog")).unwrap();
    let message = call_message(host.score(&events(1)));
    assert!(message.contains("score failed"), "{message}");
}

#[test]
fn plugin_panic_is_reported_with_its_message() {
    let mut host = DetectorHost::start(engine(), &misbehave("panic")).unwrap();
    let message = call_message(host.score(&events(1)));
    assert!(message.contains("misbehave fixture panicked on purpose"), "{message}");
}

#[test]
fn wrong_number_of_verdicts_is_bad_output() {
    let mut host = DetectorHost::start(engine(), &misbehave("short")).unwrap();
    let message = call_message(host.score(&events(4)));
    assert!(message.contains("3 verdicts for 4 events"), "{message}");
}

#[test]
fn nan_scores_are_bad_output() {
    let mut host = DetectorHost::start(engine(), &misbehave("nan")).unwrap();
    let message = call_message(host.score(&events(2)));
    assert!(message.contains("outside [0, 1]"), "{message}");
}

#[test]
fn a_refused_config_names_the_plugin_and_the_problem() {
    let spec = spec(PluginSource::File(plugin_path("vigil-fixture-misbehave")), 0.5, r#"{"mode":"dance"}"#);
    match DetectorHost::start(engine(), &spec) {
        Err(PluginError::Config { plugin, message }) => {
            assert_eq!(plugin, "misbehave");
            assert!(message.contains("dance"), "{message}");
        }
        other => panic!("expected a config error, got {:?}", other.err()),
    }
}

#[test]
fn a_set_reports_failures_in_its_status() {
    let set = DetectorSet::start(engine(), &[misbehave("short")]).unwrap();
    assert!(set.score(&events(2)).is_err());
    let status = &set.status()[0];
    assert_eq!((status.calls, status.failures, status.state), (1, 1, "failing"));
    assert!(status.last_error.as_deref().unwrap().contains("1 verdicts for 2 events"));
}

#[test]
fn the_highest_score_wins_and_each_threshold_applies() {
    let low = spec(PluginSource::File(plugin_path("vigil-fixture-constant-score")), 0.9, r#"{"score":0.3}"#);
    let high = spec(PluginSource::File(plugin_path("vigil-fixture-constant-score")), 0.7, r#"{"score":0.8}"#);
    let set = DetectorSet::start(engine(), &[low, high]).unwrap();
    let scored = set.score(&events(1)).unwrap();
    assert_eq!(scored[0].score, 0.8);
    assert_eq!(scored[0].detector, 1);
    assert!(scored[0].anomalous);
}
