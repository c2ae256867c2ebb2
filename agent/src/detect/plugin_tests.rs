//! The SDK's plugins through the real host: the guide's example detector, the k-means
//! detector (by path and as a builtin) and a component built against another WIT version.

use super::*;
use crate::config::PluginSource;
use crate::event::Event;
use crate::testing::{engine, plugin_path, spec};

fn event(i: u64) -> Event {
    let pages = ["/", "/index.html", "/products/42", "/static/app.js", "/api/v1/items?page=2"];
    Event {
        timestamp_ms: 1_700_000_000_000 + i as i64 * 100,
        ip: format!("10.0.{}.{}", i % 7, i % 11),
        method: if i.is_multiple_of(9) { "POST" } else { "GET" }.into(),
        url: pages[i as usize % pages.len()].into(),
        status_code: if i.is_multiple_of(13) { 304 } else { 200 },
        bytes_sent: 500 + (i * 37) % 3_000,
        user_agent: ["Mozilla/5.0 (X11; Linux x86_64)", "Mozilla/5.0 (iPhone)"][i as usize % 2].into(),
        ..Event::default()
    }
}

fn attack() -> Event {
    Event {
        method: "PROPFIND".into(),
        url: "/cgi-bin/../../etc/passwd?q=%27%20OR%201=1--%3Cscript%3E&x=%00".into(),
        status_code: 500,
        bytes_sent: 0,
        user_agent: "sqlmap/1.7".into(),
        ..event(0)
    }
}

#[test]
fn example_threshold_plugin_scores_through_the_host() {
    let source = PluginSource::File(plugin_path("vigil-example-threshold"));
    let mut host = DetectorHost::start(engine(), &spec(source, 0.5, r#"{"max_bytes": 10000}"#)).unwrap();
    // Name and version default to the crate's package name and version.
    assert_eq!((host.name(), host.version()), ("vigil-example-threshold", env!("CARGO_PKG_VERSION")));
    let events = [Event { bytes_sent: 200, ..event(1) }, Event { bytes_sent: 50_000, ..event(2) }];
    let verdicts = host.score(&events).unwrap();
    assert_eq!(verdicts[0], Verdict { score: 0.0, reason: String::new() });
    assert_eq!(verdicts[1], Verdict { score: 1.0, reason: "50000 bytes, over max_bytes".into() });
}

#[test]
fn example_threshold_plugin_refuses_a_config_without_max_bytes() {
    let source = PluginSource::File(plugin_path("vigil-example-threshold"));
    let err = DetectorHost::start(engine(), &spec(source, 0.5, "{}")).err().expect("config refused");
    assert_eq!(
        err.to_string(),
        "plugin vigil-example-threshold: config refused: detector config: missing field `max_bytes`"
    );
}

fn kmeans_scores_an_outlier_higher(source: PluginSource) {
    let mut host = DetectorHost::start(engine(), &spec(source, 0.6, r#"{"warmup": 500}"#)).unwrap();
    assert_eq!(host.version(), env!("CARGO_PKG_VERSION"));
    for start in (0..1_000).step_by(250) {
        host.score(&(start..start + 250).map(event).collect::<Vec<_>>()).unwrap();
    }
    let mut batch: Vec<Event> = (1_000..1_050).map(event).collect();
    batch.push(attack());
    let verdicts = host.score(&batch).unwrap();
    let outlier = verdicts.last().unwrap();
    let most_normal = verdicts[..50].iter().map(|v| v.score).fold(0.0, f32::max);
    assert!(outlier.score >= 0.9 && outlier.score > most_normal, "outlier {outlier:?}, normal up to {most_normal}");
    assert!(outlier.reason.contains("usual distance from the nearest of"), "{}", outlier.reason);
}

#[test]
fn kmeans_plugin_by_path_scores_an_obvious_outlier_higher() {
    let source = PluginSource::File(plugin_path("vigil-kmeans"));
    kmeans_scores_an_outlier_higher(source);
}

#[test]
fn kmeans_builtin_scores_an_obvious_outlier_higher() {
    kmeans_scores_an_outlier_higher(PluginSource::Builtin("kmeans"));
}

#[test]
fn kmeans_state_survives_snapshot_and_restore_in_a_new_instance() {
    let source = PluginSource::Builtin("kmeans");
    let mut first = DetectorHost::start(engine(), &spec(source.clone(), 0.6, "{}")).unwrap();
    first.score(&(0..600).map(event).collect::<Vec<_>>()).unwrap();
    let state = first.snapshot().unwrap();
    let mut second = DetectorHost::start(engine(), &spec(source, 0.6, "{}")).unwrap();
    second.restore(&state).unwrap();
    let batch: Vec<Event> = (600..700).map(event).chain([attack()]).collect();
    assert_eq!(first.score(&batch).unwrap(), second.score(&batch).unwrap());
}

#[test]
fn plugin_built_for_another_interface_version_is_refused_at_load() {
    let path = plugin_path("vigil-fixture-wrong-version");
    let err = DetectorHost::start(engine(), &spec(PluginSource::File(path.clone()), 0.5, "{}")).err().expect("refused");
    assert_eq!(
        err.to_string(),
        format!(
            "plugin {}: does not implement the detector world of vigil:plugin@0.1.0: it was built for \
             vigil:plugin@0.0.9 (it imports vigil:plugin/types@0.0.9) (hint: rebuild it against vigil-plugin-sdk 0.1.0)",
            path.display()
        )
    );
}

#[test]
fn a_file_that_is_not_a_component_is_refused_with_what_it_is_and_how_to_build_one() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes, expected) in [
        ("junk.wasm", b"not a component".as_slice(), "it is not WebAssembly"),
        ("module.wasm", b"\0asm\x01\0\0\0".as_slice(), "it is a core wasm module, not a component"),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let err = DetectorHost::start(engine(), &spec(PluginSource::File(path), 0.5, "{}")).err().expect("refused");
        let message = err.to_string();
        assert!(message.contains(expected) && message.contains("--target wasm32-wasip2"), "{message}");
    }
}
