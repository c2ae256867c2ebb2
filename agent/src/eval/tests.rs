use super::datasets::{self, csic_request};
use super::metrics::{Confusion, best_f1, roc_auc};
use super::traffic::{Clients, bytes_for};
use std::path::Path;

#[test]
fn roc_auc_is_one_for_a_perfect_ranking_and_half_for_ties() {
    assert_eq!(roc_auc(&[0.1, 0.2, 0.8, 0.9], &[false, false, true, true]), Some(1.0));
    assert_eq!(roc_auc(&[0.5; 4], &[false, true, false, true]), Some(0.5));
    assert_eq!(roc_auc(&[0.9, 0.1], &[false, true]), Some(0.0));
    assert_eq!(roc_auc(&[0.3, 0.4], &[true, true]), None);
}

#[test]
fn roc_auc_counts_ties_between_classes_as_half() {
    // Positive 0.5 ties one negative and beats the other: (1 + 0.5) / 2.
    assert_eq!(roc_auc(&[0.2, 0.5, 0.5], &[false, false, true]), Some(0.75));
}

#[test]
fn confusion_gives_precision_recall_and_f1() {
    let c = Confusion::count([true, true, false, false, true], &[true, false, true, false, true]);
    assert_eq!((c.true_positives, c.false_positives, c.false_negatives, c.true_negatives), (2, 1, 1, 1));
    assert!((c.precision() - 2.0 / 3.0).abs() < 1e-12);
    assert!((c.recall() - 2.0 / 3.0).abs() < 1e-12);
    assert!((c.f1() - 2.0 / 3.0).abs() < 1e-12);
    assert_eq!(Confusion::count([false], &[true]).precision(), 0.0);
}

#[test]
fn best_f1_finds_the_separating_threshold() {
    let (f1, at) = best_f1(&[0.1, 0.2, 0.7, 0.9], &[false, false, true, true]);
    assert_eq!((f1, at), (1.0, 0.7));
}

#[test]
fn csic_lines_become_method_and_request_target() {
    assert_eq!(
        csic_request("post http://localhost:8080/tienda1/publico/anadir.jsp?id=3&b1=a"),
        ("POST".to_owned(), "/tienda1/publico/anadir.jsp?id=3&b1=a".to_owned())
    );
    assert_eq!(csic_request("get http://localhost:8080"), ("GET".to_owned(), "/".to_owned()));
}

#[test]
fn simulated_clients_are_reproducible_and_move_forward_in_time() {
    let (mut a, mut b) = (Clients::new(7, 1_000), Clients::new(7, 1_000));
    let mut last = 0;
    for _ in 0..1000 {
        let (x, y) = (a.next(), b.next());
        assert_eq!((x.ip.as_str(), x.timestamp_ms), (y.ip.as_str(), y.timestamp_ms));
        assert!(x.timestamp_ms >= last);
        last = x.timestamp_ms;
    }
    assert_eq!(bytes_for("/a?x=1"), bytes_for("/a?y=2"));
}

#[test]
fn missing_data_names_the_file_and_the_flag() {
    let err = datasets::csic(Path::new("/nonexistent-vigil-data")).unwrap_err().to_string();
    assert!(err.contains("csic2010/oneline_full/normal.txt") && err.contains("--data"), "{err}");
}

#[test]
fn bgl_label_is_cut_from_the_line_the_detector_sees() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("loghub/BGL")).unwrap();
    std::fs::write(
        dir.path().join("loghub/BGL/BGL_2k.log"),
        "- 1117838570 2005.06.03 R02 RAS KERNEL INFO ok\nKERNDTLB 1117838571 2005.06.03 R02 RAS KERNEL FATAL bad\n",
    )
    .unwrap();
    let set = datasets::bgl(dir.path()).unwrap();
    assert_eq!(set.labels, [false, true]);
    assert_eq!(set.events[1].raw, "1117838571 2005.06.03 R02 RAS KERNEL FATAL bad");
    assert_eq!(set.events[1].timestamp_ms, 1_117_838_571_000);
}

#[test]
fn hdfs_blocks_carry_event_counts_and_split_half_of_each_label() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("hdfs_100k")).unwrap();
    let mut csv = String::from("BlockId,Label,Split,EventIdSequence,NumEvents\n");
    for i in 0..4 {
        csv.push_str(&format!("blk_{i},Normal,x,E5 E22 E5,3\n"));
    }
    csv.push_str("blk_8,Anomaly,x,E5 E7,2\nblk_9,Anomaly,x,E7,1\n");
    std::fs::write(dir.path().join("hdfs_100k/HDFS_100k_sessions.csv"), csv).unwrap();
    let set = datasets::hdfs(dir.path()).unwrap();
    assert_eq!(set.warmup, 3);
    assert_eq!(set.labels, [false, false, true, false, false, true]);
    assert_eq!(set.events[0].fields["E5"], 2);
    assert_eq!(set.events[2].fields["E7"], 1);
    assert_eq!((set.events[0].raw.as_str(), set.events[2].raw.as_str()), ("E5 E22 E5", "E5 E7"));
}

#[test]
fn replay_through_the_builtin_plugin_scores_every_event_after_the_warmup() {
    use super::datasets::{LabeledSet, START_MS};
    use crate::detect::{DetectorSet, PluginEngine};
    use crate::event::Event;

    let engine = PluginEngine::new(None).unwrap();
    let detectors = DetectorSet::start(&engine, &crate::Config::embedded_default().detectors).unwrap();
    let mut clients = Clients::new(1, START_MS);
    let mut set = LabeledSet { name: "csic", warmup: 2_000, ..LabeledSet::default() };
    for i in 0..3_000 {
        let attack = i >= 2_000 && i % 100 == 0;
        let url = if attack {
            format!("/shop/item?id={}'+or+'1'='1'--<script>alert(document.cookie)</script>", i % 50)
        } else {
            format!("/shop/item?id={}", i % 50)
        };
        let visit = clients.next();
        set.events.push(Event {
            timestamp_ms: visit.timestamp_ms,
            ip: visit.ip,
            method: "GET".into(),
            url,
            status_code: 200,
            bytes_sent: 1_000,
            user_agent: visit.user_agent.into(),
            ..Event::default()
        });
        set.labels.push(attack);
    }
    set.sessions = vec![None; set.events.len()];
    let replayed = super::replay(&detectors, &set, 256).unwrap();
    assert_eq!(replayed.scores.len(), 1_000);
    let auc = roc_auc(&replayed.scores, &set.labels[2_000..]).unwrap();
    assert!(auc > 0.9, "injections should rank above plain requests, ROC-AUC {auc}");
}
