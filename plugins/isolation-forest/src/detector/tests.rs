use super::*;
use crate::rng::SplitMix64;
use vigil_plugin_sdk::{OwnedEvent, borrow_all};

const T0: i64 = 1_700_000_000_000;
const THRESHOLD: f32 = 0.6;

/// Ordinary browsing: a few hundred IPs, common pages, 200s with the odd 304 and 404.
fn normal_event(rng: &mut SplitMix64, ts: i64) -> OwnedEvent {
    const PAGES: [&str; 6] =
        ["/", "/index.html", "/static/app.js", "/static/site.css", "/api/items?page=2", "/blog/2024/post"];
    const AGENTS: [&str; 3] = [
        "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
        "Mozilla/5.0 (Macintosh) Safari/605.1",
        "Mozilla/5.0 (Windows NT 10.0) Chrome/126.0",
    ];
    let status = match rng.below(20) {
        0 => 404,
        1 | 2 => 304,
        _ => 200,
    };
    OwnedEvent {
        timestamp_ms: ts,
        ip: format!("10.0.{}.{}", rng.below(2), rng.below(200)),
        method: if rng.below(10) == 0 { "POST" } else { "GET" }.to_owned(),
        url: PAGES[rng.below(6) as usize].to_owned(),
        status_code: status,
        bytes_sent: 500 + rng.below(20_000),
        user_agent: AGENTS[rng.below(3) as usize].to_owned(),
        raw: String::new(),
    }
}

fn attack_event(ts: i64) -> OwnedEvent {
    OwnedEvent {
        timestamp_ms: ts,
        ip: "203.0.113.66".to_owned(),
        method: "PROPFIND".to_owned(),
        url: "/cgi-bin/../../etc/passwd?cmd=%3Bcat%20%2Fetc%2Fshadow&x=%27%22%3E%3Cscript%3E&a=1&b=2".to_owned(),
        status_code: 500,
        bytes_sent: 0,
        user_agent: "sqlmap/1.7.2#stable (https://sqlmap.org)".to_owned(),
        raw: String::new(),
    }
}

fn traffic(seed: u64, n: usize, start: i64) -> Vec<OwnedEvent> {
    let mut rng = SplitMix64::new(seed);
    (0..n).map(|i| normal_event(&mut rng, start + i as i64 * 20)).collect()
}

fn detector(config: Config) -> IsolationForestDetector {
    IsolationForestDetector::new(config, &Settings { threshold: THRESHOLD }).unwrap()
}

fn bits(verdicts: &[Verdict]) -> Vec<(u32, String)> {
    verdicts.iter().map(|v| (v.score.to_bits(), v.reason.clone())).collect()
}

#[test]
fn first_batch_is_scored_against_itself_and_the_attack_stands_out() {
    let mut d = detector(Config::default());
    let mut batch = traffic(1, 2_000, T0);
    batch.push(attack_event(T0 + 40_000));
    let verdicts = d.score(&borrow_all(&batch)).unwrap();
    assert_eq!(verdicts.len(), batch.len());
    let attack = verdicts.last().unwrap();
    let normal_max = verdicts[..2_000].iter().map(|v| v.score).fold(0.0, f32::max);
    assert!(attack.score >= THRESHOLD && attack.score > normal_max, "attack {} normal max {normal_max}", attack.score);
    assert!(attack.reason.contains("(typical "), "reason: {}", attack.reason);
    let quiet = verdicts[..2_000].iter().filter(|v| v.score < THRESHOLD);
    assert!(quiet.clone().all(|v| v.reason.is_empty()));
    let flagged: Vec<(usize, &Verdict)> =
        verdicts[..2_000].iter().enumerate().filter(|(_, v)| v.score >= THRESHOLD).collect();
    assert!(
        quiet.count() > 1_900,
        "nearly all normal traffic stays under the threshold: {} {:?}",
        flagged.len(),
        &flagged[..flagged.len().min(8)]
    );
}

#[test]
fn a_lone_first_event_is_reported_as_learning() {
    let mut d = detector(Config::default());
    let verdicts = d.score(&borrow_all(&traffic(2, 1, T0))).unwrap();
    assert_eq!((verdicts[0].score, verdicts[0].reason.as_str()), (0.0, crate::model::LEARNING_REASON));
    let next = d.score(&borrow_all(&traffic(3, 1, T0 + 10))).unwrap();
    assert_ne!(next[0].reason, crate::model::LEARNING_REASON, "two events are enough to start");
    assert!((0.0..=1.0).contains(&next[0].score));
    assert!(d.score(&borrow_all(&[])).unwrap().is_empty());
}

#[test]
fn trained_detector_flags_the_attack_in_a_small_batch() {
    let mut d = detector(Config::default());
    d.train(&borrow_all(&traffic(4, 5_000, T0))).unwrap();
    let mut batch = traffic(5, 20, T0 + 200_000);
    batch.insert(7, attack_event(T0 + 200_100));
    let verdicts = d.score(&borrow_all(&batch)).unwrap();
    assert!(verdicts[7].score >= THRESHOLD, "attack scored {}", verdicts[7].score);
    assert!(verdicts.iter().enumerate().all(|(i, v)| i == 7 || v.score < verdicts[7].score));
}

#[test]
fn same_config_and_events_give_identical_verdicts() {
    let (mut a, mut b) = (detector(Config::default()), detector(Config::default()));
    let events = traffic(6, 3_000, T0);
    for chunk in events.chunks(500) {
        assert_eq!(bits(&a.score(&borrow_all(chunk)).unwrap()), bits(&b.score(&borrow_all(chunk)).unwrap()));
    }
    let mut other = detector(Config { seed: 99, ..Config::default() });
    let first = traffic(6, 1_000, T0);
    assert_ne!(
        bits(&other.score(&borrow_all(&first)).unwrap()),
        bits(&detector(Config::default()).score(&borrow_all(&first)).unwrap())
    );
}

#[test]
fn snapshot_then_restore_scores_bit_identically() {
    // A short retrain period so the snapshot is taken in the middle of a rolling retrain.
    let config = || Config { warmup: 500, retrain_every: 2_000, ..Config::default() };
    let mut original = detector(config());
    original.train(&borrow_all(&traffic(7, 1_000, T0))).unwrap();
    for chunk in traffic(8, 2_300, T0 + 100_000).chunks(100) {
        original.score(&borrow_all(chunk)).unwrap();
    }
    assert!(original.model.retrain_progress().is_some_and(|n| n > 0 && n < 100));
    let bytes = original.snapshot();
    let mut restored = detector(config());
    restored.restore(&bytes).unwrap();

    let mut following = traffic(9, 3_000, T0 + 200_000);
    following.push(attack_event(T0 + 260_000));
    for chunk in following.chunks(250) {
        assert_eq!(
            bits(&original.score(&borrow_all(chunk)).unwrap()),
            bits(&restored.score(&borrow_all(chunk)).unwrap())
        );
    }
    assert_eq!(original.snapshot(), restored.snapshot());
}

#[test]
fn restore_refuses_garbage_and_other_configs() {
    let mut d = detector(Config::default());
    d.train(&borrow_all(&traffic(10, 300, T0))).unwrap();
    let good = d.snapshot();

    let err = d.restore(b"definitely not a snapshot").unwrap_err();
    assert!(err.contains("VGIF header"), "{err}");
    let mut future = good.clone();
    future[4] = 9;
    assert!(d.restore(&future).unwrap_err().contains("format version 9"));
    let truncated = &good[..good.len() / 2];
    assert!(d.restore(truncated).unwrap_err().starts_with("snapshot is corrupt"));

    let mut smaller = detector(Config { trees: 50, ..Config::default() });
    let err = smaller.restore(&good).unwrap_err();
    assert!(err.contains("trees=100") && err.contains("trees=50"), "{err}");

    // A refused restore leaves the running state alone.
    let before = d.snapshot();
    let _ = d.restore(truncated);
    assert_eq!(d.snapshot(), before);
    d.restore(&good).unwrap();
}

#[test]
fn warmup_learns_every_batch_then_keeps_anomalies_out() {
    let mut d = detector(Config { warmup: 1_000, ..Config::default() });
    for chunk in traffic(11, 1_000, T0).chunks(10) {
        d.score(&borrow_all(chunk)).unwrap();
    }
    assert_eq!(d.model.reservoir_fill(), (1_000, 1_000), "every warm-up event is learned");
    let mut batch = traffic(12, 99, T0 + 50_000);
    batch.push(attack_event(T0 + 52_000));
    let verdicts = d.score(&borrow_all(&batch)).unwrap();
    let anomalies = verdicts.iter().filter(|v| v.score >= THRESHOLD).count();
    assert!(anomalies >= 1);
    assert_eq!(d.model.reservoir_fill().1, 1_100 - anomalies as u64);
}

#[test]
fn retrain_is_spread_over_many_calls() {
    let mut d = detector(Config { warmup: 100, retrain_every: 1_000, ..Config::default() });
    d.train(&borrow_all(&traffic(13, 2_000, T0))).unwrap();
    let mut progress = Vec::new();
    for chunk in traffic(14, 1_600, T0 + 100_000).chunks(20) {
        d.score(&borrow_all(chunk)).unwrap();
        progress.push(d.model.retrain_progress());
    }
    // Starts after 1_000 events, regrows 100 trees over the next 500: 4 per 20-event call.
    assert_eq!(progress[48], None);
    assert_eq!(progress[49], Some(4));
    assert_eq!(progress[50], Some(8));
    assert!(progress[..49].iter().all(Option::is_none));
    assert!(progress[74..].iter().all(Option::is_none), "finished: {:?}", &progress[70..]);
}

#[test]
fn state_size_stays_flat_with_millions_of_keys_in_view() {
    let mut d = detector(Config { ip_slots: 4_096, ..Config::default() });
    let mut rng = SplitMix64::new(15);
    let mut sizes = Vec::new();
    for round in 0..3 {
        let batch: Vec<OwnedEvent> = (0..20_000)
            .map(|i| {
                let mut e = normal_event(&mut rng, T0 + (round * 20_000 + i) * 5);
                e.ip = format!("172.{}.{}.{}", round, i / 256 % 256, i % 256);
                e.user_agent = format!("agent-{round}-{i}");
                e
            })
            .collect();
        d.score(&borrow_all(&batch)).unwrap();
        sizes.push(d.snapshot().len());
    }
    // The reservoir is full from the first round on; later rounds only change counter values.
    let (first, last) = (sizes[0] as f64, sizes[2] as f64);
    assert!(last < first * 1.1, "snapshot grew {sizes:?}");
}

#[test]
fn names_and_version_come_from_the_crate() {
    assert_eq!(IsolationForestDetector::NAME, "isolation-forest");
    assert_eq!(IsolationForestDetector::VERSION, env!("CARGO_PKG_VERSION"));
    let err =
        IsolationForestDetector::new(Config { sample_size: 1, ..Config::default() }, &Settings { threshold: 0.5 });
    assert_eq!(err.err().unwrap(), "sample_size must be between 2 and 4096, got 1");
}

/// A system-log line (status 0): mostly two routine patterns, with varying numbers.
fn message(i: usize, text: &str) -> OwnedEvent {
    OwnedEvent {
        timestamp_ms: T0 + i as i64 * 1000,
        raw: format!("{} node-{:04} {text} core.{}", 1_117_838_570 + i, i % 64, i * 7),
        ..OwnedEvent::default()
    }
}

/// A detector warmed up on 1,000 lines of two routine patterns, in calls of 250.
fn warmed_on_routine_messages() -> IsolationForestDetector {
    let mut d = detector(Config { warmup: 1_000, ..Config::default() });
    let routine: Vec<OwnedEvent> = (0..1_000)
        .map(|i| message(i, if i % 3 == 0 { "RAS KERNEL INFO generating" } else { "RAS APP INFO job started" }))
        .collect();
    for chunk in routine.chunks(250) {
        d.score(&borrow_all(chunk)).unwrap();
    }
    d
}

#[test]
fn a_rare_message_pattern_is_anomalous_and_a_routine_one_is_not() {
    let mut d = warmed_on_routine_messages();
    let probe =
        [message(2_000, "RAS KERNEL INFO generating"), message(2_001, "RAS KERNEL FATAL data TLB error interrupt")];
    let verdicts = d.score(&borrow_all(&probe)).unwrap();
    assert!(verdicts[0].score < THRESHOLD, "{:?}", verdicts[0]);
    assert!(verdicts[0].reason.is_empty());
    assert_eq!(verdicts[1].score, 1.0, "{:?}", verdicts[1]);
    // The routine line before it in the batch was counted first.
    assert!(
        verdicts[1].reason.starts_with("message pattern never seen in 1001 messages learned"),
        "{}",
        verdicts[1].reason
    );

    // Its pattern was counted all the same: the second time it is rare, no longer new.
    let again = d.score(&borrow_all(&probe[1..])).unwrap();
    assert!(again[0].score >= THRESHOLD && again[0].score < 1.0, "{:?}", again[0]);
    assert!(
        again[0].reason.starts_with("message pattern seen in 0.10% of 1002 messages learned"),
        "{}",
        again[0].reason
    );
}

/// `normal_event` on another page.
#[test]
fn message_verdicts_do_not_depend_on_how_the_events_were_batched() {
    // A burst in which a new pattern comes back every fifth line.
    let burst: Vec<OwnedEvent> = (0..200)
        .map(|i| {
            let text = match i % 5 {
                0 => "RAS KERNEL FATAL data TLB error interrupt",
                1 | 3 => "RAS APP INFO job started",
                _ => "RAS KERNEL INFO generating",
            };
            message(2_000 + i, text)
        })
        .collect();
    let whole = warmed_on_routine_messages().score(&borrow_all(&burst)).unwrap();
    let mut d = warmed_on_routine_messages();
    let one_by_one: Vec<Verdict> =
        burst.iter().flat_map(|e| d.score(&borrow_all(std::slice::from_ref(e))).unwrap()).collect();
    assert_eq!(bits(&whole), bits(&one_by_one));
    // The new pattern is news its first times, not all forty.
    let flagged = whole.iter().filter(|v| v.score >= THRESHOLD).count();
    assert!((1..20).contains(&flagged), "{flagged} of the burst flagged");
}

fn visit(rng: &mut SplitMix64, i: usize, url: &str) -> OwnedEvent {
    OwnedEvent { url: url.to_owned(), ..normal_event(rng, T0 + i as i64 * 20) }
}

#[test]
fn a_product_first_visited_after_warm_up_is_a_known_page() {
    let mut d = detector(Config { warmup: 1_000, ..Config::default() });
    let mut rng = SplitMix64::new(21);
    let warm_up: Vec<OwnedEvent> = (0..1_000)
        .map(|i| {
            let item = rng.below(50);
            if i % 2 == 0 {
                visit(&mut rng, i, &format!("/shop/item/{item}"))
            } else {
                normal_event(&mut rng, T0 + i as i64 * 20)
            }
        })
        .collect();
    for chunk in warm_up.chunks(100) {
        d.score(&borrow_all(chunk)).unwrap();
    }
    // Two hundred products nobody looked at during the warm-up, each visited once.
    let later: Vec<OwnedEvent> =
        (0..200).map(|i| visit(&mut rng, 1_000 + i, &format!("/shop/item/{}", 1_000 + i))).collect();
    let verdicts = d.score(&borrow_all(&later)).unwrap();
    let news: Vec<&Verdict> = verdicts.iter().filter(|v| v.reason.contains("never requested before")).collect();
    assert!(news.is_empty(), "{} of 200, e.g. {:?}", news.len(), news.first());
    let flagged = verdicts.iter().filter(|v| v.score >= THRESHOLD).count();
    assert!(flagged <= 10, "{flagged} of 200 product visits flagged");
}

fn warmed_up(new_path_alerts: u32) -> IsolationForestDetector {
    let mut d = detector(Config { warmup: 1_000, new_path_alerts, ..Config::default() });
    for chunk in traffic(22, 1_000, T0).chunks(100) {
        d.score(&borrow_all(chunk)).unwrap();
    }
    d
}

fn is_news(v: &Verdict) -> bool {
    v.reason.contains("never requested before")
}

#[test]
fn a_page_deployed_after_warm_up_is_news_for_its_first_ordinary_requests_not_for_good() {
    let mut d = warmed_up(5);
    let mut rng = SplitMix64::new(23);
    let verdicts: Vec<Verdict> =
        (0..30).flat_map(|i| d.score(&borrow_all(&[visit(&mut rng, 1_000 + i, "/pricing")])).unwrap()).collect();
    assert!(verdicts[0].score >= THRESHOLD, "{:?}", verdicts[0]);
    assert!(verdicts[0].reason.starts_with("path /pricing never requested before"), "{}", verdicts[0].reason);
    // Five ordinary requests make it a page; a 404 or a client new to the site does not count.
    let news = verdicts.iter().filter(|v| is_news(v)).count();
    assert!((5..=8).contains(&news), "{news} of 30 flagged as new: {verdicts:?}");
    assert!(!verdicts[10..].iter().any(is_news), "{:?}", &verdicts[10..]);
    let flagged = verdicts[10..].iter().filter(|v| v.score >= THRESHOLD).count();
    assert!(flagged <= 1, "{flagged} of the last 20 requests flagged: {:?}", &verdicts[10..]);
}

#[test]
fn probes_of_an_unknown_path_stay_news_when_they_fail_or_all_a_client_asks_is_news() {
    let mut d = warmed_up(5);
    // Ordinary requests but for their path: a browser's GET, a usual size.
    let mut rng = SplitMix64::new(24);
    let mut probe = |i: usize, ip: &str, url: &str, status: u16| OwnedEvent {
        ip: ip.to_owned(),
        method: "GET".to_owned(),
        url: url.to_owned(),
        status_code: status,
        ..normal_event(&mut rng, T0 + 30_000 + i as i64 * 500)
    };
    // Known clients each asking once, so only the status tells these from a new page's visits.
    let failing: Vec<OwnedEvent> =
        (0..40).map(|i| probe(i, &format!("10.0.0.{}", 100 + i), "/admin/config.php", 404)).collect();
    let answered: Vec<OwnedEvent> = (0..40).map(|i| probe(i, "198.51.100.9", "/wp-login.php", 200)).collect();
    for probes in [failing, answered] {
        let verdicts: Vec<Verdict> = probes.chunks(4).flat_map(|chunk| d.score(&borrow_all(chunk)).unwrap()).collect();
        assert!(verdicts.iter().all(is_news), "{verdicts:?}");
    }
}

/// The figure of docs/detection.md ("New pages and ids in paths"): a shop's requests with
/// item ids in their paths, 5,000 items, in batches of 1,000, from the first event on.
/// `cargo test --release -p vigil-isolation-forest shop_replay -- --ignored --nocapture`
#[test]
#[ignore = "a measurement: run it in release"]
fn shop_replay_with_ids_in_paths_is_mostly_quiet() {
    let mut d = detector(Config::default());
    let started = std::time::Instant::now();
    let mut flagged = 0;
    let mut ts = T0;
    for b in 0..2_010u64 {
        let batch: Vec<OwnedEvent> = (0..1_000u64)
            .map(|i| {
                let k = b * 1_000 + i;
                ts += 3;
                OwnedEvent {
                    timestamp_ms: ts,
                    ip: format!("10.{}.{}.{}", k % 7, (k / 7) % 251, (k * 31) % 253),
                    method: if k % 17 == 0 { "POST" } else { "GET" }.to_owned(),
                    url: format!("/shop/item/{}?ref={}&q={}", k % 5_000, k % 13, k % 977),
                    status_code: if k % 23 == 0 { 404 } else { 200 },
                    bytes_sent: 100 + (k * 7_919) % 50_000,
                    user_agent: format!("Mozilla/5.0 (X11; Linux x86_64) Agent/{}", k % 300),
                    raw: String::new(),
                }
            })
            .collect();
        flagged += d.score(&borrow_all(&batch)).unwrap().iter().filter(|v| v.score >= THRESHOLD).count();
    }
    println!("{flagged} of 2,010,000 requests flagged in {:?}", started.elapsed());
    assert!(flagged < 2_010_000 / 20, "{flagged} flagged");
}
