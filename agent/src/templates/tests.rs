use super::loghub;
use super::*;

fn masked(line: &str) -> String {
    let mut out = String::new();
    mask_line(line, &mut out);
    out
}

#[test]
fn numbers_ids_addresses_and_times_are_masked() {
    assert_eq!(
        masked("PacketResponder 1 for block blk_-6952295868487656571 terminating"),
        "PacketResponder <*> for block blk_<*> terminating"
    );
    assert_eq!(masked("blk_38865049064139660"), "blk_<*>");
    assert_eq!(masked("rhost=218.188.2.4 uid=0"), "rhost=<*> uid=<*>");
    assert_eq!(masked("Received connection request /10.10.34.11:45307"), "Received connection request /<*>");
    assert_eq!(masked("at 2005-06-03-15.42.50.675872 flags=0x1,"), "at <*> flags=<*>,");
    assert_eq!(masked("(HWID=1973) node-246 len: -1"), "(HWID=<*>) node-<*> len: <*>");
    assert_eq!(masked("id de9231d and 0xff83e97c"), "id <*> and <*>");
    assert_eq!(masked("[instance: b9000564-fe1a-409b-bdcc-1d4a0cb3d6b3] x"), "[instance: <*>] x");
    assert_eq!(masked("[Sun Dec 04 04:47:44 2005] [notice] done"), "[<*> <*> <*> <*> <*>] [notice] done");
}

#[test]
fn time_units_and_restated_quantities_join_their_number() {
    assert_eq!(masked("lifetime <1 sec"), "lifetime <*>");
    assert_eq!(masked("lifetime 00:01"), "lifetime <*>");
    assert_eq!(masked("1190 bytes (1.16 KB) sent, 0 bytes received"), "<*> bytes sent, <*> bytes received");
    // Sizes outside parentheses and whole words stay: they tell events apart.
    assert_eq!(masked("Total disk: 15 GB, used: 0.00 GB"), "Total disk: <*> GB, used: <*> GB");
    assert_eq!(masked("over 335 seconds (total)"), "over <*> seconds (total)");
    let mut out = String::new();
    assert_eq!(mask_line("took 5 ms (3 s)", &mut out), 2);
    assert_eq!(out, "took <*>");
}

#[test]
fn urls_and_paths_are_one_variable() {
    assert_eq!(masked("workerEnv.init() ok /etc/httpd/conf/workers2.properties"), "workerEnv.init() ok <*>");
    assert_eq!(masked("fetch \"http://example.com/a?b=c\", done"), "fetch \"<*>\", done");
    assert_eq!(masked(r"Loaded C:\Windows\winsxs\cbscore.dll"), "Loaded <*>");
    assert_eq!(masked("cd /tmp and ./run"), "cd /tmp and ./run");
}

#[test]
fn words_without_digits_and_spacing_are_kept_as_words() {
    assert_eq!(masked("  check pass;\tuser unknown  "), "check pass; user unknown");
    assert_eq!(masked("java.io.IOException: Connection reset"), "java.io.IOException: Connection reset");
    assert_eq!(masked("žluťoučký kůň 5"), "žluťoučký kůň <*>");
    assert_eq!(masked(""), "");
}

#[test]
fn lines_of_one_event_share_a_template_that_generalises() {
    let mut miner = Miner::new(MinerConfig::default());
    let a = miner.add("Invalid user webmaster from 173.234.31.186").unwrap();
    let b = miner.add("Invalid user admin from 52.80.34.196").unwrap();
    let c = miner.add("Invalid user admin from 52.80.34.197").unwrap();
    assert!(a.created && !b.created && !c.created);
    assert_eq!((a.id, b.id), (c.id, c.id));
    assert!(b.changed, "the user name became a variable");
    assert!(!c.changed);
    assert_eq!(miner.template(c.slot).unwrap(), "Invalid user <*> from <*>");
    assert_eq!(miner.stats(c.slot), Some((a.id, 3)));
}

#[test]
fn different_events_get_different_templates() {
    let mut miner = Miner::new(MinerConfig::default());
    let open = miner.add("session opened for user root by (uid=0)").unwrap();
    let close = miner.add("session closed for user root").unwrap();
    let fail = miner.add("Connection closed by 1.2.3.4 [preauth]").unwrap();
    assert_ne!(open.id, close.id);
    assert_ne!(close.id, fail.id);
    assert_eq!(miner.len(), 3);
    assert_eq!(miner.add("   "), None, "a blank line has no template");
}

#[test]
fn templates_are_bounded_and_the_least_recent_is_evicted() {
    let config = MinerConfig { max_clusters: 3, ..MinerConfig::default() };
    let mut miner = Miner::new(config);
    let first = miner.add("alpha event happened").unwrap();
    miner.add("beta thing broke down badly").unwrap();
    miner.add("gamma").unwrap();
    // Matching `alpha` makes `beta` the least recent.
    assert_eq!(miner.add("alpha event happened").unwrap().id, first.id);
    let delta = miner.add("delta is new here").unwrap();
    assert_eq!(miner.len(), 3);
    assert_eq!(miner.evicted(), 1);
    assert_eq!(miner.add("alpha event happened").unwrap().id, first.id, "alpha was kept");
    let beta = miner.add("beta thing broke down badly").unwrap();
    assert!(beta.created, "beta was evicted and comes back as a new template");
    assert!(beta.id > delta.id, "an evicted id is never reused");
    for n in 0..1_000 {
        miner.add(&format!("distinct{n} shape{n}x {}", "w ".repeat(n % 50)));
    }
    assert_eq!(miner.len(), 3);
}

#[test]
fn restored_templates_keep_their_ids() {
    let mut miner = Miner::new(MinerConfig::default());
    miner.restore(41, "Invalid user <*> from <*>", 7);
    let mined = miner.add("Invalid user guest from 1.2.3.4").unwrap();
    assert_eq!(mined.id, 41);
    assert!(!mined.created && !mined.changed);
    assert_eq!(miner.stats(mined.slot), Some((41, 8)));
    assert_eq!(miner.add("something else entirely").unwrap().id, 42);
}

#[test]
fn a_raw_line_is_mined_without_its_syslog_or_log4j_header() {
    let syslog = "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: check pass; user unknown";
    assert_eq!(strip_header(syslog), "check pass; user unknown");
    let log4j = "2015-10-18 18:01:47,978 INFO [main] org.apache.hadoop.MRAppMaster: Created MRAppMaster";
    assert_eq!(strip_header(log4j), "Created MRAppMaster");
    // No time before the colon, or nothing after it: the whole line.
    assert_eq!(strip_header("Total disk: 15 GB"), "Total disk: 15 GB");
    assert_eq!(strip_header("at 10:00 done:"), "at 10:00 done:");
    let mut miners = SourceMiners::new(MinerConfig::default());
    let mut events = vec![line("file:syslog", syslog)];
    assert_eq!(miners.mine(&mut events)[0].template, "check pass; user unknown");
}

#[test]
fn grouping_accuracy_counts_lines_whose_group_is_exactly_right() {
    assert_eq!(grouping_accuracy(&["a", "a", "b", "c"], &[1, 1, 2, 3]), 1.0);
    // One predicted group mixes b and c: those two lines are wrong.
    assert_eq!(grouping_accuracy(&["a", "a", "b", "c"], &[1, 1, 2, 2]), 0.5);
    // a split in two: both a lines are wrong.
    assert_eq!(grouping_accuracy(&["a", "a", "b", "c"], &[1, 4, 2, 3]), 0.5);
    assert_eq!(grouping_accuracy::<&str, u8>(&[], &[]), 1.0);
}

/// GA of the default miner on one loghub system's messages.
fn loghub_accuracy(system: &str) -> Option<f64> {
    let Some(root) = loghub::root() else {
        eprintln!("skipped: ../shared/data/loghub is absent (see the data README)");
        return None;
    };
    let sample = loghub::load(&root, system).unwrap();
    let mut miner = Miner::new(MinerConfig::default());
    let ids: Vec<i64> = sample.content.iter().map(|line| miner.add(line).map_or(0, |m| m.id)).collect();
    Some(grouping_accuracy(&sample.truth, &ids))
}

#[test]
fn loghub_hdfs_openssh_and_linux_are_grouped_accurately() {
    // Floors a little under the measured values (docs/templates.md), so a regression shows.
    for (system, floor) in [("HDFS", 0.99), ("OpenSSH", 0.98), ("Linux", 0.65)] {
        let Some(ga) = loghub_accuracy(system) else { return };
        assert!(ga >= floor, "{system}: grouping accuracy {ga:.3} is under {floor}");
    }
}

fn line(source: &str, raw: &str) -> crate::event::Event {
    crate::event::Event { raw: raw.into(), source: source.into(), timestamp_ms: 1_000, ..Default::default() }
}

fn access(source: &str) -> crate::event::Event {
    crate::event::Event { method: "GET".into(), url: "/".into(), status_code: 200, ..line(source, "GET / 200") }
}

#[test]
fn only_lines_that_are_not_access_logs_get_templates_and_ids_are_unique_across_sources() {
    let mut miners = SourceMiners::new(MinerConfig::default());
    let mut message = line("ws", "");
    message.fields.insert("message".into(), serde_json::json!("Invalid user bob from 10.0.0.1"));
    let mut events = vec![
        line("file:a", "Invalid user alice from 10.0.0.2"),
        access("file:a"),
        message,
        line("ws", "  "),
        line("file:b", "x 1"),
    ];
    let updates = miners.mine(&mut events);
    let ids: Vec<Option<i64>> = events.iter().map(|e| e.template_id).collect();
    // Same text, different sources: different templates. Access logs and blank lines: none.
    assert_eq!(ids, [Some(1), None, Some(2), None, Some(3)]);
    assert_eq!(updates.len(), 3);
    assert_eq!((updates[1].source.as_str(), updates[1].template.as_str()), ("ws", "Invalid user bob from <*>"));
}

#[test]
fn a_batch_adds_one_update_per_template_with_its_latest_text() {
    let mut miners = SourceMiners::new(MinerConfig::default());
    let mut events = vec![
        line("file:a", "Invalid user alice from 10.0.0.2"),
        crate::event::Event { timestamp_ms: 500, ..line("file:a", "Invalid user bob from 10.0.0.3") },
    ];
    let updates = miners.mine(&mut events);
    assert_eq!(updates.len(), 1);
    let u = &updates[0];
    assert_eq!((u.count, u.first_seen_ms, u.last_seen_ms), (2, 500, 1_000));
    assert_eq!(u.template, "Invalid user <*> from <*>");
}

#[tokio::test]
async fn raw_lines_are_stored_and_listed_with_their_template_and_keep_it_after_a_restart() {
    use crate::pipeline::Submission;
    use tower::ServiceExt;
    let settings = crate::config::ApiSettings {
        address: ([127, 0, 0, 1], 0).into(),
        max_body_bytes: 1 << 20,
        max_batch_logs: 100,
        token: None,
        cors_origins: vec![],
    };
    let state = crate::testing::app_state(crate::testing::constant_detectors(0.1, 0.5), settings);
    let (store, pipeline) = (state.store.clone(), state.pipeline.clone());
    let raw = |n: u32| line("file:auth", &format!("Failed password for user{n} from 10.0.0.{n} port 22"));
    let (submission, reply) = Submission::events(vec![raw(1), raw(2), access("file:auth")]).with_reply();
    pipeline.submit(submission).await.unwrap();
    reply.await.unwrap().unwrap();

    let app = crate::api::router(state);
    let request = axum::http::Request::get("/api/v1/logs").body(axum::body::Body::empty()).unwrap();
    let body = app.oneshot(request).await.unwrap().into_body();
    let body: serde_json::Value =
        serde_json::from_slice(&http_body_util::BodyExt::collect(body).await.unwrap().to_bytes()).unwrap();
    let logs = body["logs"].as_array().unwrap();
    let template_ids: Vec<&serde_json::Value> = logs.iter().map(|l| &l["template_id"]).collect();
    assert_eq!(template_ids, [&serde_json::Value::Null, &serde_json::json!(1), &serde_json::json!(1)]);
    assert_eq!(logs[1]["template"], "Failed password for <*> from <*> port <*>");
    let (saved, max_id) = store.recent_templates(10).unwrap();
    assert_eq!((saved.len(), saved[0].count, max_id), (1, 2, 1));

    // A new pipeline on the same store (a restart) finds the saved template again.
    let (restarted, _tasks) = crate::pipeline::Pipeline::start(
        &Default::default(),
        std::sync::Arc::new(crate::testing::constant_detectors(0.1, 0.5)),
        store.clone(),
        Default::default(),
    );
    let (submission, reply) = Submission::events(vec![raw(3), line("file:auth", "new shape")]).with_reply();
    restarted.submit(submission).await.unwrap();
    reply.await.unwrap().unwrap();
    let stored = store.logs(&crate::store::LogQuery::default()).unwrap();
    assert_eq!((stored[1].event.template_id, stored[0].event.template_id), (Some(1), Some(2)));
    assert_eq!(store.recent_templates(10).unwrap().0.iter().find(|t| t.id == 1).unwrap().count, 3);
}
