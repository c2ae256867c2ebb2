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
