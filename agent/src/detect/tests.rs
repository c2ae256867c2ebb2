//! The sandbox against real components that break it: deadlines, memory caps, panics, and
//! answers that break the contract. After each failure the next call works again.

use super::*;
use crate::config::{DetectorSpec, PluginSource};
use crate::event::Event;
use crate::testing::{engine, plugin_path, spec};
use std::time::{Duration, Instant};

pub(super) fn misbehave(mode: &str) -> DetectorSpec {
    let mut spec =
        spec(PluginSource::File(plugin_path("vigil-fixture-misbehave")), 0.5, &format!(r#"{{"mode":"{mode}"}}"#));
    spec.limits.call_timeout = Duration::from_millis(200);
    spec.limits.max_memory_bytes = 32 << 20;
    spec
}

pub(super) fn events(n: usize) -> Vec<Event> {
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
    // Only the cap may stop it: with misbehave's 200 ms deadline, a loaded machine (CI's two
    // cores running every test) once reached the deadline first.
    let mut spec = misbehave("hog");
    spec.limits.call_timeout = Duration::from_secs(60);
    let mut host = DetectorHost::start(engine(), &spec).unwrap();
    let message = call_message(host.score(&events(1)));
    assert!(message.contains("score failed") && message.contains("memory cap of 32 MiB reached"), "{message}");
}

pub(super) fn misbehave_with(config: &str) -> DetectorSpec {
    let mut spec = misbehave("behave");
    spec.config_json = config.to_owned();
    spec
}

#[test]
fn a_plugin_that_traps_in_new_is_refused_with_its_message_and_not_restarted_without_end() {
    // A trap in `new`, here a panic and too little fuel for the default forest to configure
    // (the least fuel the config accepts). A restart after a trap configures again, and the
    // host once restarted the restart until the stack overflowed.
    let fuel_engine = PluginEngine::with_fuel(None, true).unwrap();
    let mut starved = spec(PluginSource::Builtin("isolation-forest"), 0.6, "{}");
    starved.limits.fuel = Some(1_000);
    for (engine, spec, expected) in [
        (
            engine(),
            misbehave_with(r#"{"mode":"behave","panic_in_new":true}"#),
            "misbehave fixture panicked in new on purpose",
        ),
        (&fuel_engine, starved, "ran out of fuel (1000 units per call)"),
    ] {
        match DetectorHost::start(engine, &spec) {
            Err(e @ PluginError::Call { call: "info" | "configure", .. }) => {
                assert!(e.to_string().contains(expected), "{e}")
            }
            Err(other) => panic!("expected the configure call's failure, got {other}"),
            Ok(_) => panic!("a plugin that traps in new started"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_writing_to_stderr_is_scored_from_async_code() {
    // wasmtime-wasi blocks on the runtime for every write to stderr; on a worker thread that
    // panicked ("Cannot start a runtime from within a runtime"), as the API's small batches
    // are scored in place.
    let mut host = DetectorHost::start(engine(), &misbehave_with(r#"{"mode":"behave","print_kib":1}"#)).unwrap();
    assert_eq!(host.score(&events(2)).unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_that_sleeps_is_scored_from_async_code() {
    // `std::thread::sleep` in a plugin is a wait on a WASI clock pollable, which wasmtime-wasi
    // runs on the tokio runtime: on a worker thread that panicked, as for stderr above.
    let mut host = DetectorHost::start(engine(), &misbehave_with(r#"{"mode":"behave","sleep_ms":20}"#)).unwrap();
    let started = std::time::Instant::now();
    assert_eq!(host.score(&events(2)).unwrap().len(), 2);
    assert!(
        started.elapsed() >= Duration::from_millis(20),
        "the plugin's sleep was cut short: {:?}",
        started.elapsed()
    );
    assert_eq!(host.restarts(), 0);
}

#[test]
fn a_plugin_that_sleeps_past_its_deadline_is_stopped_at_the_deadline_and_restarted() {
    // A host call is not interrupted by the epoch deadline: a wait must end at the deadline
    // itself, or a plugin sleeping for a minute holds its thread for a minute.
    let mut host = DetectorHost::start(engine(), &misbehave_with(r#"{"mode":"behave","sleep_ms":600000}"#)).unwrap();
    let started = std::time::Instant::now();
    let message = call_message(host.score(&events(1)));
    assert!(message.contains("deadline of 200ms exceeded while the plugin waited"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(60), "the wait outlived the deadline: {:?}", started.elapsed());
    assert_eq!(host.restarts(), 1);
}

#[test]
fn a_plugin_that_logs_on_every_call_never_fills_its_stderr_and_a_failure_shows_its_own_output() {
    // ~1 KiB a call: the 16 KiB pipe once filled on the 17th call, and the plugin trapped.
    let mut host = DetectorHost::start(engine(), &misbehave_with(r#"{"mode":"behave","print_kib":1}"#)).unwrap();
    for _ in 0..40 {
        assert_eq!(host.score(&events(1)).unwrap().len(), 1);
    }
    assert_eq!(host.restarts(), 0);
    // A failing call reports what it wrote itself, not what the calls before it wrote.
    let mut panicking = events(1);
    panicking[0].url = "/panic".into();
    let message = call_message(host.score(&panicking));
    assert!(message.contains("misbehave fixture was asked to panic"), "{message}");
    assert!(!message.contains("call 40:"), "{message}");
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
fn a_set_without_fallback_retries_once_then_reports_the_failure() {
    let set = DetectorSet::start(engine(), &[misbehave("short")]).unwrap();
    assert!(set.score(&events(2)).is_err());
    let status = &set.status()[0];
    assert_eq!((status.calls, status.failures, status.state), (2, 2, "failed"));
    // The SDK caught the short answer and returned an error: not a crash, so no restart.
    assert_eq!(status.restarts, 0);
    assert!(status.last_error.as_deref().unwrap().contains("1 verdicts for 2 events"));
    // In backoff the plugin is not called again, and without a fallback the batch fails.
    assert!(set.score(&events(2)).is_err());
    assert_eq!(set.status()[0].calls, 2);
}

#[test]
fn a_failing_plugin_is_restarted_from_its_last_snapshot() {
    let mut host = DetectorHost::start(engine(), &misbehave("behave")).unwrap();
    for _ in 0..3 {
        host.score(&events(1)).unwrap();
    }
    assert_eq!(host.snapshot().unwrap(), 3u64.to_le_bytes());
    host.score(&events(1)).unwrap();
    let mut trap = events(2);
    trap[1].url = "/panic".into();
    let message = call_message(host.score(&trap));
    assert!(message.contains("asked to panic"), "{message}");
    // The new instance resumed from the snapshot (3 calls), not from zero and not from 5.
    let verdicts = host.score(&events(1)).unwrap();
    assert_eq!(verdicts[0].reason, "calls=4");
    assert_eq!(host.restarts(), 1);
}

#[test]
fn a_batch_the_plugin_fails_twice_is_scored_by_the_fallback_and_nothing_is_lost() {
    let mut spec = misbehave("behave");
    spec.fallback = crate::config::Fallback::Builtin("isolation-forest");
    let set = DetectorSet::start(engine(), &[spec]).unwrap();
    assert_eq!(set.score(&events(3)).unwrap()[0].detector.as_ref(), "misbehave");
    // Not needed yet, so not started (its code is loaded, and is not the plugin's).
    assert_eq!(set.fallbacks(), [(false, false)]);

    let mut trap = events(50);
    trap[7].url = "/panic".into();
    let scored = set.score(&trap).unwrap();
    assert_eq!(scored.len(), 50);
    assert!(scored.iter().all(|s| s.detector.as_ref() == "misbehave (fallback)" && (0.0..=1.0).contains(&s.score)));
    assert_eq!(set.fallbacks(), [(true, false)]);
    let status = &set.status()[0];
    assert_eq!((status.calls, status.failures, status.restarts), (3, 2, 2));
    assert_eq!((status.state, status.fallback_batches, status.fallback_events), ("failed", 1, 50));
    assert!(status.last_error.as_deref().unwrap().contains("asked to panic"));
    assert!(status.backoff_until_ms.is_some_and(|ms| ms <= 1_000));

    // During the backoff the fallback scores without calling the plugin.
    let scored = set.score(&events(4)).unwrap();
    assert!(scored.iter().all(|s| s.detector.as_ref() == "misbehave (fallback)"));
    assert_eq!(set.status()[0].calls, 3);
}

#[test]
fn the_default_detectors_fallback_shares_its_compiled_code_and_waits_to_be_needed() {
    let mut default = spec(PluginSource::Builtin("isolation-forest"), 0.6, "{}");
    default.fallback = crate::config::Fallback::Builtin("isolation-forest");
    let mut other = misbehave("behave");
    other.fallback = crate::config::Fallback::Builtin("isolation-forest");
    let set = DetectorSet::start(engine(), &[default, other]).unwrap();
    set.score(&events(20)).unwrap();
    assert_eq!(set.fallbacks(), [(false, true), (false, false)]);
}

#[test]
fn reconfigure_keeps_unchanged_detectors_and_resumes_changed_ones() {
    let set = DetectorSet::start(engine(), &[misbehave("behave")]).unwrap();
    for _ in 0..3 {
        set.score(&events(1)).unwrap();
    }
    // Same spec: nothing changes, the instance keeps counting.
    assert!(!set.differs_from(&[misbehave("behave")]));
    assert!(set.reconfigure(&[misbehave("behave")]).unwrap().is_empty());
    assert_eq!(set.score(&events(1)).unwrap()[0].reason, "calls=4");

    // A new threshold restarts the plugin with its learned state.
    let mut changed = misbehave("behave");
    changed.threshold = 0.9;
    assert!(set.differs_from(std::slice::from_ref(&changed)));
    let changes = set.reconfigure(std::slice::from_ref(&changed)).unwrap();
    assert_eq!(changes, ["detector misbehave restarted with its learned state"]);
    assert_eq!(set.score(&events(1)).unwrap()[0].reason, "calls=5");
    assert_eq!(set.status()[0].threshold, 0.9);

    // A detector that cannot start refuses the whole change; the running one stays.
    let broken = spec(PluginSource::File(plugin_path("vigil-fixture-misbehave")), 0.5, r#"{"mode":"dance"}"#);
    assert!(matches!(set.reconfigure(&[changed.clone(), broken]), Err((1, PluginError::Config { .. }))));
    assert_eq!(set.score(&events(1)).unwrap()[0].reason, "calls=6");

    // Another plugin under the same name replaces it; removing it stops it.
    let mut constant = spec(PluginSource::File(plugin_path("vigil-fixture-constant-score")), 0.5, r#"{"score":0.25}"#);
    constant.name = Some("misbehave".into());
    let changes = set.reconfigure(&[constant]).unwrap();
    assert!(changes[0].starts_with("detector misbehave replaced by plugin constant-score"), "{changes:?}");
    assert_eq!(set.score(&events(1)).unwrap()[0].score, 0.25);
}

#[test]
fn snapshots_resume_a_set_started_later() {
    let set = DetectorSet::start(engine(), &[misbehave("behave")]).unwrap();
    set.score(&events(1)).unwrap();
    set.score(&events(1)).unwrap();
    let saved = set.snapshots(false);
    assert_eq!(saved.len(), 1);
    assert_eq!((saved[0].detector.as_str(), saved[0].plugin.as_str()), ("misbehave", "misbehave"));
    let resumed = DetectorSet::start_from(engine(), &[misbehave("behave")], &saved).unwrap();
    assert_eq!(resumed.score(&events(1)).unwrap()[0].reason, "calls=3");
    assert_eq!(resumed.status()[0].snapshot.as_ref().map(|s| s.bytes), None, "not taken by this set yet");
}

#[test]
fn a_fuel_limit_stops_a_looping_plugin() {
    let engine = PluginEngine::with_fuel(None, true).unwrap();
    let mut spec = misbehave("loop");
    spec.limits.call_timeout = Duration::from_secs(30);
    spec.limits.fuel = Some(50_000_000);
    let mut host = DetectorHost::start(&engine, &spec).unwrap();
    let message = call_message(host.score(&events(1)));
    assert!(message.contains("ran out of fuel (50000000 units per call)"), "{message}");
    // Without metering in the engine a fuel limit is refused with a hint.
    match DetectorHost::start(crate::testing::engine(), &spec) {
        Err(PluginError::Load { message, .. }) => assert!(message.contains("restart the agent"), "{message}"),
        other => panic!("expected a load error, got {:?}", other.err()),
    }
}

#[test]
fn the_highest_score_wins_and_each_threshold_applies() {
    let low = spec(PluginSource::File(plugin_path("vigil-fixture-constant-score")), 0.9, r#"{"score":0.3}"#);
    let high = spec(PluginSource::File(plugin_path("vigil-fixture-constant-score")), 0.7, r#"{"score":0.8}"#);
    let set = DetectorSet::start(engine(), &[low, high]).unwrap();
    let scored = set.score(&events(1)).unwrap();
    assert_eq!(scored[0].score, 0.8);
    assert_eq!(scored[0].detector.as_ref(), "constant-score#2");
    assert!(scored[0].anomalous);
}

#[test]
fn an_anomaly_is_told_by_a_detector_that_flagged_it_not_by_a_higher_score_under_its_threshold() {
    // `strict` scores higher but stays under its own threshold; `lenient` flags the event.
    let lenient = spec(PluginSource::File(plugin_path("vigil-fixture-constant-score")), 0.5, r#"{"score":0.5}"#);
    let mut strict = spec(PluginSource::File(plugin_path("vigil-fixture-constant-score")), 0.95, r#"{"score":0.9}"#);
    strict.name = Some("strict".into());
    for order in [[lenient.clone(), strict.clone()], [strict, lenient]] {
        let set = DetectorSet::start(engine(), &order).unwrap();
        let scored = set.score(&events(1)).unwrap();
        assert!(scored[0].anomalous);
        assert_eq!((scored[0].score, scored[0].detector.as_ref()), (0.5, "constant-score"));
    }
}

#[test]
fn a_big_batch_is_scored_in_calls_of_at_most_max_call_events_in_order() {
    let set = DetectorSet::start(engine(), &[misbehave("behave")]).unwrap();
    let n = 2 * MAX_CALL_EVENTS + 452;
    let scored = set.score(&events(n)).unwrap();
    assert_eq!(scored.len(), n);
    // The fixture's reason counts its calls.
    let call = |i: usize| scored[i].reason.clone();
    assert_eq!([call(0), call(MAX_CALL_EVENTS - 1)], ["calls=1", "calls=1"]);
    assert_eq!([call(MAX_CALL_EVENTS), call(2 * MAX_CALL_EVENTS - 1)], ["calls=2", "calls=2"]);
    assert_eq!([call(2 * MAX_CALL_EVENTS), call(n - 1)], ["calls=3", "calls=3"]);
    assert_eq!(set.status()[0].calls, 3);
}

#[test]
fn a_plugins_linear_memory_is_counted_as_it_grows() {
    let mut spec = misbehave("behave");
    spec.config_json = r#"{"mode":"behave","hold_mib":2}"#.into();
    let set = DetectorSet::start(engine(), &[spec]).unwrap();
    let memory = || set.status()[0].memory_bytes;
    let started = memory();
    assert!(started >= 64 << 10, "an instance holds a page at least: {started}");
    for calls in 1..=3u64 {
        set.score(&events(1)).unwrap();
        // Each call keeps 2 MiB more; the allocator's own bookkeeping adds little.
        let grown = memory() - started;
        let held = calls * (2 << 20);
        assert!((held..held + (1 << 20)).contains(&grown), "after {calls} calls: {grown} bytes more");
    }
}

#[test]
fn a_snapshot_that_fails_is_a_failure_in_the_detectors_status() {
    // It was only logged: /api/v1/plugins kept failures 0 and no last_error.
    let set = DetectorSet::start(engine(), &[misbehave_with(r#"{"mode":"behave","panic_in_snapshot":true}"#)]).unwrap();
    assert!(set.snapshots(false).is_empty());
    let status = &set.status()[0];
    assert_eq!((status.failures, status.restarts), (1, 1));
    let error = status.last_error.as_deref().unwrap_or("");
    assert!(error.contains("panicked in snapshot on purpose"), "{error}");
    assert!(status.last_failure_at.is_some());
}

#[test]
fn a_long_reason_is_cut_to_max_reason_bytes_at_a_char_boundary_with_a_marker() {
    // A reason of 20 MiB was stored and served whole with every anomaly.
    let spec = misbehave_with(r#"{"mode":"behave","reason_bytes":20000}"#);
    let mut host = DetectorHost::start(engine(), &spec).unwrap();
    let verdicts = host.score(&events(2)).unwrap();
    let reason = &verdicts[1].reason;
    assert!(reason.len() <= super::host::MAX_REASON_BYTES, "{} bytes", reason.len());
    let marker = " [cut: the reason was 20008 bytes; a reason holds at most 1024]";
    // The cut falls inside a two-byte character: it is left out whole.
    let kept = reason.strip_suffix(marker).unwrap_or_else(|| panic!("no marker: {reason}"));
    assert!(kept.starts_with("calls=1 é") && kept.ends_with('é'), "{kept}");
    assert_eq!(kept.len(), 960);
    // A reason within the cap is kept as it is.
    let mut host = DetectorHost::start(engine(), &misbehave_with(r#"{"mode":"behave","reason_bytes":100}"#)).unwrap();
    assert_eq!(host.score(&events(1)).unwrap()[0].reason, format!("calls=1 {}", "é".repeat(50)));
}
