//! The detector as the agent drives it: scoring with learning on, outliers, snapshots.

use super::*;
use vigil_plugin_sdk::{OwnedEvent, borrow_all};

fn detector(config: &str) -> KMeansDetector {
    KMeansDetector::new(serde_json::from_str(config).unwrap(), &Settings { threshold: 0.6 }).unwrap()
}

/// Ordinary browsing: a few pages and assets, 200s and the odd 304, common browsers.
fn normal(i: u64) -> OwnedEvent {
    let pages = ["/", "/index.html", "/products/42", "/static/app.js", "/api/v1/items?page=2", "/about"];
    let agents = ["Mozilla/5.0 (X11; Linux x86_64)", "Mozilla/5.0 (Macintosh)", "Mozilla/5.0 (iPhone)"];
    OwnedEvent {
        timestamp_ms: 1_700_000_000_000 + i as i64 * 100,
        ip: format!("10.0.{}.{}", i % 7, i % 11),
        method: if i.is_multiple_of(9) { "POST" } else { "GET" }.into(),
        url: pages[(i % pages.len() as u64) as usize].into(),
        status_code: if i.is_multiple_of(13) { 304 } else { 200 },
        bytes_sent: 500 + (i * 37) % 3_000,
        user_agent: agents[(i % agents.len() as u64) as usize].into(),
        raw: String::new(),
    }
}

fn attack() -> OwnedEvent {
    OwnedEvent {
        method: "PROPFIND".into(),
        url: "/cgi-bin/../../etc/passwd?q=%27%20OR%201=1--%3Cscript%3E&x=%00&y=;ls".into(),
        status_code: 500,
        bytes_sent: 0,
        user_agent: "sqlmap/1.7".into(),
        ..normal(0)
    }
}

fn score(d: &mut KMeansDetector, events: &[OwnedEvent]) -> Vec<Verdict> {
    d.score(&borrow_all(events)).unwrap()
}

#[test]
fn first_batch_is_judged_against_itself() {
    let mut d = detector("{}");
    let verdicts = score(&mut d, &[normal(1), normal(2)]);
    assert_eq!(verdicts.len(), 2);
    assert!(d.model.is_fitted());
}

#[test]
fn an_obvious_outlier_scores_above_the_threshold_and_normal_traffic_below() {
    let mut d = detector("{}");
    let warmup: Vec<_> = (0..2_000).map(normal).collect();
    for chunk in warmup.chunks(250) {
        score(&mut d, chunk);
    }
    let mut batch: Vec<_> = (2_000..2_100).map(normal).collect();
    batch.push(attack());
    let verdicts = score(&mut d, &batch);
    let outlier = verdicts.last().unwrap();
    assert!(outlier.score >= 0.9, "{outlier:?}");
    assert!(outlier.reason.contains("usual distance"), "{}", outlier.reason);
    let flagged = verdicts[..100].iter().filter(|v| v.score >= 0.6).count();
    assert!(flagged <= 3, "{flagged} of 100 normal events flagged");
    assert!(verdicts[..100].iter().filter(|v| v.score < 0.6).all(|v| v.reason.is_empty()));
}

#[test]
fn snapshot_restores_the_same_scores() {
    let config = r#"{"warmup": 500, "retrain_every": 300, "reservoir": 512}"#;
    let mut d = detector(config);
    for chunk in (0..1_200).map(normal).collect::<Vec<_>>().chunks(100) {
        score(&mut d, chunk);
    }
    let bytes = d.snapshot();
    let mut restored = detector(config);
    restored.restore(&bytes).unwrap();
    // Scoring goes on learning (rarity counts, a refit every 300 events): both must stay equal.
    for chunk in (1_200..2_000).map(normal).chain([attack()]).collect::<Vec<_>>().chunks(100) {
        assert_eq!(score(&mut d, chunk), score(&mut restored, chunk));
    }
}

#[test]
fn restore_refuses_other_sizes_versions_and_garbage() {
    let mut d = detector("{}");
    score(&mut d, &[normal(1)]);
    let bytes = d.snapshot();
    let err = detector(r#"{"clusters": 4}"#).restore(&bytes).unwrap_err();
    assert!(err.contains("clusters=8, reservoir=4096 but the config says clusters=4"), "{err}");
    let mut other_version = bytes.clone();
    other_version[4] = STATE_VERSION + 1;
    let err = d.restore(&other_version).unwrap_err();
    assert!(err.contains("snapshot format version 2 is not supported"), "{err}");
    assert!(d.restore(b"garbage").unwrap_err().contains("not a vigil-plugin-sdk snapshot"));
    assert!(d.restore(&bytes[..bytes.len() / 2]).unwrap_err().contains("corrupt"));
}

#[test]
fn train_fits_on_what_it_is_given() {
    let mut d = detector(r#"{"clusters": 2}"#);
    d.train(&borrow_all(&(0..50).map(normal).collect::<Vec<_>>())).unwrap();
    assert!(d.model.is_fitted());
    assert!(score(&mut d, &[attack()])[0].score > 0.9);
}
