//! A detector set when its plugins fail: the fallback that stands in, failed snapshots, and
//! the names detectors are known by.

use super::fallback::FALLBACK_LIMITS;
use super::tests::{events, misbehave};
use super::*;
use crate::config::Fallback;
use crate::testing::engine;

#[test]
fn the_fallback_runs_under_its_own_limits_not_the_failed_plugins_memory_cap() {
    // The plugin fits in 2 MiB; the isolation forest does not, and once started under the
    // failed plugin's limits it failed "memory cap of 2 MiB reached": the batch went unscored.
    let mut spec = misbehave("panic");
    spec.limits.max_memory_bytes = 2 << 20;
    spec.fallback = Fallback::Builtin("isolation-forest");
    let set = DetectorSet::start(engine(), &[spec]).unwrap();
    let scored = set.score(&events(3)).expect("the fallback scores");
    assert!(scored.iter().all(|s| s.detector.as_ref() == "misbehave (fallback)"), "{scored:?}");
    let status = &set.status()[0];
    assert_eq!((status.fallback_batches, status.fallback_error.as_deref()), (1, None));
    assert_eq!(FALLBACK_LIMITS.max_memory_bytes, 256 << 20);
}

#[test]
fn a_fallback_that_cannot_start_is_in_the_status_and_in_the_error() {
    let mut spec = misbehave("short");
    spec.fallback = Fallback::Builtin("no-such-builtin");
    let set = DetectorSet::start(engine(), &[spec]).unwrap();
    let message = set.score(&events(3)).unwrap_err().to_string();
    assert!(
        message.contains("2 verdicts for 3 events")
            && message.contains("fallback builtin:no-such-builtin cannot start")
            && message.contains("no such builtin"),
        "{message}"
    );
    let status = &set.status()[0];
    let error = status.fallback_error.as_deref().unwrap_or("");
    assert!(error.contains("cannot start: plugin builtin:no-such-builtin"), "{error}");
    assert!(status.is_broken());
}

fn failing_snapshots(every: std::time::Duration) -> crate::config::DetectorSpec {
    let mut spec = super::tests::misbehave_with(r#"{"mode":"behave","panic_in_snapshot":true}"#);
    spec.snapshot_interval = Some(every);
    spec
}

/// The misbehave fixture's state after `calls` score calls, as the store would hold it.
fn saved(calls: u64) -> crate::store::PluginSnapshot {
    crate::store::PluginSnapshot {
        detector: "misbehave".into(),
        plugin: "misbehave".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        taken_ms: 0,
        state: calls.to_le_bytes().to_vec(),
    }
}

#[test]
fn a_failed_snapshot_waits_its_interval_before_it_is_tried_again() {
    // It was due again at the next tick (a second later): every try trapped, replaced the
    // instance and rolled its learning back, every second.
    let set = DetectorSet::start(engine(), &[failing_snapshots(std::time::Duration::from_secs(60))]).unwrap();
    assert!(set.snapshots(true).is_empty());
    assert!(set.snapshots(true).is_empty());
    let status = &set.status()[0];
    assert_eq!((status.failures, status.restarts), (1, 1));
    let error = status.snapshot_error.as_deref().unwrap_or("");
    assert!(error.contains("panicked in snapshot on purpose"), "{error}");
    assert!(status.is_broken(), "a detector whose state cannot be saved is not healthy");
    // Shutdown and reloads still try.
    assert!(set.snapshots(false).is_empty());
    assert_eq!(set.status()[0].failures, 2);
}

#[test]
fn a_detector_whose_snapshot_fails_resumes_from_its_last_good_one_after_a_trap_and_a_reload() {
    let spec = failing_snapshots(std::time::Duration::from_secs(60));
    let set = DetectorSet::start_from(engine(), std::slice::from_ref(&spec), &[saved(5)]).unwrap();
    assert_eq!(set.score(&events(1)).unwrap()[0].reason, "calls=6");
    // The trap replaced the instance, which resumed from the saved state.
    assert!(set.snapshots(false).is_empty());
    assert_eq!(set.score(&events(1)).unwrap()[0].reason, "calls=6");
    // A reload cannot take its state either: it restarts from the last good one, not fresh.
    let mut changed = spec;
    changed.threshold = 0.9;
    let changes = set.reconfigure(&[changed]).unwrap();
    assert_eq!(changes.len(), 1);
    assert!(changes[0].starts_with("detector misbehave restarted from its last good snapshot"), "{changes:?}");
    assert_eq!(set.score(&events(1)).unwrap()[0].reason, "calls=6");
}

#[test]
fn the_fallback_judges_by_the_builtin_threshold_not_the_failed_plugins() {
    // Under a plugin's own threshold (0 here, 0.5 in the guide) the untrained forest, which
    // scores ordinary events about 0.5, flagged them by the dozen.
    let mut spec = misbehave("panic");
    spec.threshold = 0.0;
    spec.fallback = Fallback::Builtin("isolation-forest");
    let set = DetectorSet::start(engine(), &[spec]).unwrap();
    let scored = set.score(&events(20)).unwrap();
    assert!(scored.iter().all(|s| s.detector.as_ref() == "misbehave (fallback)"), "{scored:?}");
    for s in &scored {
        assert_eq!(s.anomalous, f64::from(s.score) >= super::fallback::FALLBACK_THRESHOLD, "{s:?}");
    }
    assert!(scored.iter().any(|s| !s.anomalous), "{scored:?}");
}

#[test]
fn a_blank_detector_name_is_refused_at_load_saying_what_to_do() {
    let mut spec = misbehave("behave");
    spec.name = Some("  ".into());
    let message = DetectorSet::start(engine(), &[spec]).err().expect("refused").to_string();
    assert!(message.contains(r#"detector name = "  " is blank"#) && message.contains("leave name out"), "{message}");
    // A plugin that reports a blank name of its own (a component built without the SDK) is
    // refused the same way, unless the config names the detector.
    let reported = super::host::blank_name(None, "").expect("refused");
    assert!(reported.contains("the plugin reports a blank name") && reported.contains("name = "), "{reported}");
    assert_eq!(super::host::blank_name(Some("web"), ""), None);
}

#[test]
fn two_detectors_given_the_same_name_are_refused_and_unnamed_ones_are_numbered() {
    let mut first = misbehave("behave");
    first.name = Some("web".into());
    let second = first.clone();
    let message = DetectorSet::start(engine(), &[first.clone(), second]).err().expect("refused").to_string();
    assert!(message.contains(r#"detector name = "web" is also another detector's"#), "{message}");
    // Unnamed detectors of one plugin are still told apart by number.
    let set = DetectorSet::start(engine(), &[misbehave("behave"), misbehave("behave"), first]).unwrap();
    let names: Vec<String> = set.status().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["misbehave", "misbehave#2", "web"]);
}

#[test]
fn validate_reports_every_refused_detector_by_its_place_in_the_config() {
    // `vigil validate` stopped at the first, as "plugin misbehave: config refused: ...", with
    // neither its place nor its name.
    let mut first = misbehave("behave");
    first.config_json = r#"{"mode":"dance"}"#.into();
    let mut third = first.clone();
    third.name = Some("web".into());
    let (started, problems) = validate(engine(), &[first, misbehave("behave"), third]);
    assert_eq!(started, [format!("misbehave {}", env!("CARGO_PKG_VERSION"))]);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].starts_with("detectors[0]: plugin misbehave: config refused:"), "{problems:?}");
    assert!(problems[1].starts_with("detectors[2] (web): plugin misbehave: config refused:"), "{problems:?}");
}

#[test]
fn a_saved_snapshot_refused_at_start_is_in_the_status_without_degrading_health() {
    let mut refused = saved(5);
    refused.state = vec![1, 2, 3];
    let set = DetectorSet::start_from(engine(), &[misbehave("behave")], &[refused]).unwrap();
    let status = &set.status()[0];
    let error = status.restore_error.as_deref().unwrap_or("");
    assert!(error.contains("a state is 8 bytes, got 3"), "{error}");
    assert!(!status.is_broken(), "learning again after an upgrade is not a fault");
    assert_eq!(set.score(&events(1)).unwrap()[0].reason, "calls=1", "it learns again from nothing");

    let resumed = DetectorSet::start_from(engine(), &[misbehave("behave")], &[saved(5)]).unwrap();
    assert_eq!(resumed.status()[0].restore_error, None);
}
