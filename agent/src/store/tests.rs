//! The store against real SQLite files in temporary directories.

use super::*;
use crate::event::Event;
use std::collections::HashSet;
use std::path::Path;
use tempfile::TempDir;

const DAY_MS: i64 = 86_400_000;

fn open(dir: &Path) -> Store {
    Store::open(dir, &StoreConfig::default()).expect("open the store")
}

fn event(timestamp_ms: i64, ip: &str, status_code: u16, url: &str) -> Event {
    Event {
        timestamp_ms,
        ip: ip.into(),
        method: "GET".into(),
        url: url.into(),
        status_code,
        bytes_sent: 512,
        user_agent: "Mozilla/5.0".into(),
        raw: format!("{ip} - - \"GET {url} HTTP/1.1\" {status_code} 512"),
        source: "file:/var/log/nginx/access.log".into(),
        ..Event::default()
    }
}

fn batch(events: Vec<Event>) -> CommitBatch {
    let events = events.into_iter().map(|event| ScoredEvent { event, anomaly_score: Some(0.1) }).collect();
    CommitBatch { events, ..CommitBatch::default() }
}

fn checkpoint(key: &str, offset: u64) -> Checkpoint {
    Checkpoint {
        key: key.into(),
        fingerprint: b"203.0.113.9 - - [22/Dec/2016".to_vec(),
        offset,
        tail: b"\" \"-\"\n".to_vec(),
    }
}

fn ids(rows: &[StoredEvent]) -> Vec<i64> {
    rows.iter().map(|r| r.id).collect()
}

#[test]
fn commit_returns_contiguous_id_ranges() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    let sizes = [3, 1, 5, 1000];
    let mut expected_first = 1;
    for size in sizes {
        let events = (0..size).map(|i| event(1_000 + i, "10.0.0.1", 200, "/")).collect();
        let committed = store.commit(&batch(events)).unwrap();
        assert_eq!(committed.ids, Some(expected_first..=expected_first + size - 1));
        expected_first += size;
    }
    // A batch of checkpoints only uses no id.
    let only_checkpoint = CommitBatch { checkpoints: vec![checkpoint("file:a", 10)], ..CommitBatch::default() };
    let committed = store.commit(&only_checkpoint).unwrap();
    assert_eq!(committed, Committed { ids: None, anomalies: 0, checkpoints: 1, first_anomaly_id: 1 });
    let next = store.commit(&batch(vec![event(5, "10.0.0.1", 200, "/")])).unwrap();
    assert_eq!(next.ids, Some(expected_first..=expected_first));
    assert_eq!(store.counts().unwrap().events, 1_010);
}

#[test]
fn commits_from_many_threads_get_disjoint_ranges_covering_every_id() {
    let dir = TempDir::new().unwrap();
    let store = std::sync::Arc::new(open(dir.path()));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                (0..25)
                    .map(|b| {
                        let events = (0..10).map(|i| event(t * 1_000 + b * 10 + i, "10.0.0.2", 200, "/")).collect();
                        let committed = store.commit(&batch(events)).unwrap();
                        // Queries run while other threads commit.
                        store.logs(&LogQuery { limit: Some(5), ..LogQuery::default() }).unwrap();
                        committed.ids.unwrap()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut all: Vec<i64> = threads.into_iter().flat_map(|t| t.join().unwrap()).flatten().collect();
    all.sort_unstable();
    assert_eq!(all, (1..=1_000).collect::<Vec<_>>());
}

#[test]
fn failed_commit_writes_neither_events_nor_checkpoint() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    let mut first = batch(vec![event(1, "10.0.0.1", 200, "/a"), event(2, "10.0.0.1", 200, "/b")]);
    first.checkpoints = vec![checkpoint("file:/var/log/a.log", 100)];
    store.commit(&first).unwrap();

    // The events and the first checkpoint insert fine; the second checkpoint breaks the
    // table's CHECK (an empty key) in the middle of the transaction.
    let mut failing = batch(vec![event(3, "10.0.0.9", 500, "/c"), event(4, "10.0.0.9", 500, "/d")]);
    failing.anomalies = vec![NewAnomaly { event_index: 1, detector: "if".into(), score: 0.9, reason: "x".into() }];
    failing.checkpoints = vec![checkpoint("file:/var/log/a.log", 200), checkpoint("", 1)];
    let error = store.commit(&failing).unwrap_err();
    assert!(matches!(error, StoreError::Sqlite { .. }), "{error:?}");
    assert!(error.to_string().contains("vigil.db"), "{error}");

    assert_eq!(store.checkpoint("file:/var/log/a.log").unwrap(), Some(checkpoint("file:/var/log/a.log", 100)));
    let rows = store.logs(&LogQuery::default()).unwrap();
    assert_eq!(ids(&rows), vec![2, 1]);
    let counts = store.counts().unwrap();
    assert_eq!((counts.events, counts.anomalies), (2, 0));
    assert_eq!(counts.per_source, vec![("file:/var/log/nginx/access.log".to_owned(), 2)]);
    // The failed batch used up no id.
    assert_eq!(store.commit(&batch(vec![event(5, "10.0.0.1", 200, "/e")])).unwrap().ids, Some(3..=3));
}

#[test]
fn anomaly_naming_an_event_outside_the_batch_is_refused_before_writing() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    let mut bad = batch(vec![event(1, "10.0.0.1", 200, "/")]);
    bad.anomalies = vec![NewAnomaly { event_index: 1, detector: "if".into(), score: 0.9, reason: String::new() }];
    bad.checkpoints = vec![checkpoint("file:a", 9)];
    let error = store.commit(&bad).unwrap_err();
    assert_eq!(error.to_string(), "store: invalid commit batch: anomalies[0] names event 1 but the batch has 1 events");
    assert_eq!(store.counts().unwrap().events, 0);
    assert_eq!(store.checkpoint("file:a").unwrap(), None);
}

#[test]
fn reopened_store_keeps_events_anomalies_checkpoints_and_ids() {
    let dir = TempDir::new().unwrap();
    {
        let store = open(dir.path());
        let mut first = batch(vec![event(10, "10.0.0.1", 200, "/a"), event(20, "10.0.0.2", 404, "/b")]);
        first.anomalies = vec![NewAnomaly { event_index: 1, detector: "if".into(), score: 0.75, reason: "r".into() }];
        first.checkpoints = vec![checkpoint("file:/a", 4096), checkpoint("file:/b", 7)];
        store.commit(&first).unwrap();
        assert!(dir.path().join("vigil.db-wal").exists(), "the store runs in WAL mode");
    }
    let store = open(dir.path());
    assert_eq!(ids(&store.logs(&LogQuery::default()).unwrap()), vec![2, 1]);
    let anomalies = store.anomalies(&LogQuery::default()).unwrap();
    assert_eq!(anomalies.len(), 1);
    assert_eq!((anomalies[0].event.id, anomalies[0].score, anomalies[0].reason.as_str()), (2, 0.75, "r"));
    let saved: Vec<Checkpoint> = store.checkpoints().unwrap().into_iter().map(|s| s.checkpoint).collect();
    assert_eq!(saved, vec![checkpoint("file:/a", 4096), checkpoint("file:/b", 7)]);
    assert_eq!(store.commit(&batch(vec![event(30, "10.0.0.1", 200, "/c")])).unwrap().ids, Some(3..=3));
}

#[test]
fn second_store_on_the_same_data_dir_is_refused_as_locked() {
    let dir = TempDir::new().unwrap();
    let _first = open(dir.path());
    let error = Store::open(dir.path(), &StoreConfig::default()).err().expect("a second open fails");
    assert!(matches!(error, StoreError::Locked { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("locked by another process") && message.contains("same data_dir"), "{message}");
}

#[test]
fn open_errors_name_the_path_and_what_to_do() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let error = Store::open(&file, &StoreConfig::default()).err().unwrap();
    assert!(matches!(error, StoreError::Io { .. }), "{error:?}");
    assert!(error.to_string().contains(&file.display().to_string()), "{error}");

    let garbage = dir.path().join("garbage");
    std::fs::create_dir(&garbage).unwrap();
    std::fs::write(garbage.join(DB_FILE), vec![0x42u8; 8192]).unwrap();
    let error = Store::open(&garbage, &StoreConfig::default()).err().unwrap();
    assert!(matches!(error, StoreError::Corrupt { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains(&garbage.join(DB_FILE).display().to_string()) && message.contains("move the file"));
}

#[test]
fn a_database_from_a_newer_schema_is_refused() {
    let dir = TempDir::new().unwrap();
    drop(open(dir.path()));
    let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let error = Store::open(dir.path(), &StoreConfig::default()).err().unwrap();
    assert!(matches!(error, StoreError::TooNew { found: 99, .. }), "{error:?}");
}

/// Events with known attributes, committed out of time order (a backfill comes last), plus
/// an anomaly on every fourth event.
struct Fixture {
    _dir: TempDir,
    store: Store,
    events: Vec<StoredEvent>,
}

fn fixture() -> Fixture {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    let ips = ["10.0.0.1", "10.0.0.2", "192.168.1.7"];
    let statuses = [200, 404, 500, 503, 301, 200];
    let urls = ["/api/v1/users", "/static/app.js", "/login?next=%2Fadmin", "/search?q=snake_case"];
    let agents = ["Mozilla/5.0", "curl/8.5.0", "python-requests/2.31"];
    let mut all = Vec::new();
    // Three commits; the last holds older timestamps than the first two, and ties.
    for (commit, base) in [(0, 10_000), (1, 20_000), (2, 5_000)] {
        let mut b = CommitBatch::default();
        for i in 0..12i64 {
            let n = (commit * 12 + i) as usize;
            let mut e = event(base + i * 100 - (i % 2) * 100, ips[n % 3], statuses[n % 6], urls[n % 4]);
            e.user_agent = agents[n % 3].into();
            e.raw = format!("{} \"{} {}\" {} ua={}", e.ip, e.method, e.url, e.status_code, e.user_agent);
            if n.is_multiple_of(4) {
                b.anomalies.push(NewAnomaly {
                    event_index: i as usize,
                    detector: "if".into(),
                    score: 0.8,
                    reason: format!("n{n}"),
                });
            }
            b.events.push(ScoredEvent { event: e, anomaly_score: Some(n as f32 / 100.0) });
        }
        let first = *store.commit(&b).unwrap().ids.unwrap().start();
        for (i, scored) in b.events.into_iter().enumerate() {
            all.push(StoredEvent {
                id: first + i as i64,
                anomalous: b.anomalies.iter().any(|a| a.event_index == i),
                anomaly_score: scored.anomaly_score,
                event: scored.event,
                ingested_ms: 0,
                template: None,
            });
        }
    }
    Fixture { _dir: dir, store, events: all }
}

impl Fixture {
    /// The ids `logs` must return: matching events, newest first, ties by id descending.
    fn expected(&self, keep: impl Fn(&StoredEvent) -> bool) -> Vec<i64> {
        let mut rows: Vec<&StoredEvent> = self.events.iter().filter(|e| keep(e)).collect();
        rows.sort_by_key(|e| std::cmp::Reverse((e.event.timestamp_ms, e.id)));
        rows.iter().map(|e| e.id).collect()
    }

    fn logs(&self, query: LogQuery) -> Vec<i64> {
        ids(&self.store.logs(&query).unwrap())
    }
}

#[test]
fn logs_come_newest_first_by_timestamp_then_id() {
    let f = fixture();
    let got = f.logs(LogQuery::default());
    assert_eq!(got, f.expected(|_| true));
    assert_eq!(got.len(), 36);
    // The backfilled commit (ids 25..=36) holds the oldest timestamps, so it comes last.
    assert!(got[24..].iter().all(|id| *id > 24), "{got:?}");
}

#[test]
fn logs_filter_by_time_range_with_from_inclusive_and_to_exclusive() {
    let f = fixture();
    let query = LogQuery { from_ms: Some(10_100), to_ms: Some(20_200), ..LogQuery::default() };
    let expected = f.expected(|e| (10_100..20_200).contains(&e.event.timestamp_ms));
    assert!(expected.len() > 5);
    assert_eq!(f.logs(query), expected);
    assert_eq!(
        f.logs(LogQuery { from_ms: Some(20_300), ..LogQuery::default() }),
        f.expected(|e| e.event.timestamp_ms >= 20_300)
    );
    assert_eq!(f.logs(LogQuery { to_ms: Some(5_000), ..LogQuery::default() }), Vec::<i64>::new());
}

#[test]
fn logs_filter_by_ip_and_status_code_or_class() {
    let f = fixture();
    let by_ip = f.logs(LogQuery { ip: Some("192.168.1.7".into()), ..LogQuery::default() });
    assert_eq!(by_ip, f.expected(|e| e.event.ip == "192.168.1.7"));
    assert_eq!(by_ip.len(), 12);

    let exact = f.logs(LogQuery { status: Some(StatusFilter::Exact(404)), ..LogQuery::default() });
    assert_eq!(exact, f.expected(|e| e.event.status_code == 404));
    assert!(!exact.is_empty());
    // 200 is left out of the status index and served by the time index: the same answer.
    let ok = f.logs(LogQuery { status: Some(StatusFilter::Exact(200)), ..LogQuery::default() });
    assert_eq!(ok, f.expected(|e| e.event.status_code == 200));
    assert!(!ok.is_empty());

    let class = f.logs(LogQuery { status: Some("5xx".parse().unwrap()), ..LogQuery::default() });
    assert_eq!(class, f.expected(|e| (500..600).contains(&e.event.status_code)));
    assert_eq!(class.len(), 12);

    let both = LogQuery { ip: Some("10.0.0.1".into()), status: Some(StatusFilter::Class(2)), ..LogQuery::default() };
    assert_eq!(f.logs(both), f.expected(|e| e.event.ip == "10.0.0.1" && e.event.status_code == 200));
}

/// The partial status index is used for every code it holds, and the time index serves 200
/// (which it leaves out), each yielding rows newest first without a sort.
#[test]
fn an_exact_status_is_served_by_an_index_in_time_order() {
    let f = fixture();
    let plan = |code| f.store.logs_plan(&LogQuery { status: Some(StatusFilter::Exact(code)), ..LogQuery::default() });
    for code in [404, 500, 302] {
        let plan = plan(code).join("; ");
        assert!(plan.contains("USING INDEX events_by_status"), "status {code}: {plan}");
        assert!(!plan.contains("TEMP B-TREE"), "status {code}: {plan}");
    }
    let ok = plan(200).join("; ");
    assert!(ok.contains("USING INDEX events_by_time"), "status 200: {ok}");
    assert!(!ok.contains("TEMP B-TREE"), "status 200: {ok}");
}

#[test]
fn logs_q_is_a_substring_of_url_user_agent_or_raw() {
    let f = fixture();
    let q = |text: &str| f.logs(LogQuery { q: Some(text.into()), ..LogQuery::default() });
    assert_eq!(q("static/app"), f.expected(|e| e.event.url.contains("static/app")));
    assert_eq!(q("curl/8"), f.expected(|e| e.event.user_agent.contains("curl/8")));
    assert_eq!(q("ua=python"), f.expected(|e| e.event.raw.contains("ua=python")));
    // ASCII letters match in either case.
    assert_eq!(q("CURL/8"), q("curl/8"));
    // LIKE's wildcards in `q` match only themselves.
    assert_eq!(q("%2F"), f.expected(|e| e.event.url.contains("%2F")));
    assert_eq!(q("snake_case"), f.expected(|e| e.event.url.contains("snake_case")));
    assert_eq!(q("snake%case"), Vec::<i64>::new());
    assert_eq!(q("e_c"), f.expected(|e| e.event.raw.contains("e_c")));
    assert_eq!(q(""), f.expected(|_| true));
}

/// Every line of the real scanner logs, committed as the file pipeline commits them and read
/// back through `logs`: its `raw` byte for byte, whether the commit stored it once (rebuilt
/// from the columns) or as it came.
#[test]
fn scan_log_lines_read_back_byte_for_byte_and_most_are_stored_once() {
    let Some(files) = crate::testing::scan_logs() else { return };
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    let parser = crate::parse::Parser::combined();
    let lines: Vec<&String> = files.iter().flat_map(|(_, lines)| lines).collect();
    for chunk in lines.chunks(1000) {
        let events = chunk.iter().map(|line| parser.parse(line, "file:scan.log").event).collect();
        store.commit(&batch(events)).unwrap();
    }
    let mut read = 0;
    let mut cursor = None;
    loop {
        let page = store.logs(&LogQuery { limit: Some(MAX_LIMIT), before_id: cursor, ..LogQuery::default() }).unwrap();
        let Some(last) = page.last() else { break };
        cursor = Some(last.id);
        for row in &page {
            assert_eq!(&row.event.raw, lines[row.id as usize - 1], "event {}", row.id);
        }
        read += page.len();
    }
    assert_eq!(read, lines.len());

    let db = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
    let (once, raw_bytes): (i64, i64) = db
        .query_row("SELECT count(raw_layout), sum(length(raw)) FROM events", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    let once = once as usize;
    let line_bytes: usize = lines.iter().map(|l| l.len()).sum();
    eprintln!("{once} of {} lines stored once; raw {raw_bytes} of {line_bytes} bytes", lines.len());
    // Measured: 15,694 of the 17,849 lines (88%), keeping 9.6% of the lines' bytes in `raw`;
    // the rest are attacks whose request, referer or user agent carries escapes (`\"`, `\x..`)
    // that the columns hold decoded.
    assert!(once * 10 >= lines.len() * 8, "{once} of {} stored once", lines.len());
    assert!((raw_bytes as usize) * 4 < line_bytes, "raw kept {raw_bytes} of {line_bytes} bytes");

    // `q` searches the line as read: the time and the protocol are only in the rebuilt text.
    for text in ["22/Dec/2016:16:30:52 +0300", "HTTP/1.1\" 500 2089"] {
        let found =
            store.logs(&LogQuery { q: Some(text.into()), limit: Some(MAX_LIMIT), ..LogQuery::default() }).unwrap();
        let expected = lines.iter().filter(|l| l.contains(text)).count();
        assert!(expected > 0, "{text}");
        assert_eq!(found.len(), expected, "{text}");
    }
}

/// The layouts the pipeline works out ahead of the commit store each line as the commit
/// itself would, and a list of the wrong length is not used.
#[test]
fn line_layouts_made_ahead_of_the_commit_store_what_the_commit_would() {
    let lines = [
        r#"10.0.0.1 - - [01/Apr/2025:12:34:56 +0200] "GET /index.html HTTP/1.1" 200 512 "-" "curl/8""#,
        r#"10.0.0.3 - - [01/Apr/2025:12:34:58 +0200] "GET /q?a=\"b\" HTTP/1.1" 200 1 "-" "y""#,
        r#"10.0.0.2 - - [01/Apr/2025:12:34:57 +0200] "POST /login HTTP/1.0" 401 - "https://a.example/" "x" 0.042"#,
    ];
    let parser = crate::parse::Parser::combined();
    let rows = |layouts: Option<fn(&[ScoredEvent]) -> LineLayouts>| {
        let dir = TempDir::new().unwrap();
        let store = open(dir.path());
        let mut batch = batch(lines.iter().map(|l| parser.parse(l, "file:a.log").event).collect());
        if let Some(make) = layouts {
            batch.line_layouts = make(&batch.events);
        }
        store.commit(&batch).unwrap();
        let db = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
        let mut select = db.prepare("SELECT raw, raw_layout FROM events ORDER BY id").unwrap();
        let rows = select.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<i64>>(1)?)));
        rows.unwrap().collect::<Result<Vec<_>, _>>().unwrap()
    };
    let in_commit = rows(None);
    assert_eq!(in_commit.iter().map(|(_, layout)| layout.is_some()).collect::<Vec<_>>(), [true, false, true]);
    assert_eq!(in_commit[1].0, lines[1]);
    assert_eq!(rows(Some(|events| LineLayouts::of(events.iter().map(|e| &e.event)))), in_commit);
    // Made for other events (one too few; or as many, but in another order, which only the
    // lines' lengths tell apart): worked out again in the commit.
    assert_eq!(rows(Some(|events| LineLayouts::of(events[1..].iter().map(|e| &e.event)))), in_commit);
    assert_eq!(rows(Some(|events| LineLayouts::of(events.iter().rev().map(|e| &e.event)))), in_commit);
}

#[test]
fn logs_anomalies_only_returns_flagged_events() {
    let f = fixture();
    let got = f.logs(LogQuery { anomalies_only: true, ..LogQuery::default() });
    assert_eq!(got, f.expected(|e| e.anomalous));
    assert_eq!(got.len(), 9);
    let rows = f.store.logs(&LogQuery { anomalies_only: true, limit: Some(1), ..LogQuery::default() }).unwrap();
    assert!(rows[0].anomalous);
}

#[test]
fn logs_page_with_the_before_id_cursor_without_gaps_or_repeats() {
    let f = fixture();
    for limit in [1, 5, 7] {
        let mut pages = Vec::new();
        let mut cursor = None;
        loop {
            let page = f.logs(LogQuery { limit: Some(limit), before_id: cursor, ..LogQuery::default() });
            assert!(page.len() <= limit);
            let Some(last) = page.last().copied() else {
                break;
            };
            pages.extend(page);
            cursor = Some(last);
        }
        assert_eq!(pages, f.expected(|_| true), "limit {limit}");
    }
    // Filters and the cursor combine.
    let first = f.logs(LogQuery { ip: Some("10.0.0.2".into()), limit: Some(4), ..LogQuery::default() });
    let rest =
        f.logs(LogQuery { ip: Some("10.0.0.2".into()), before_id: first.last().copied(), ..LogQuery::default() });
    assert_eq!([first, rest].concat(), f.expected(|e| e.event.ip == "10.0.0.2"));
    // A cursor that names no stored event gives an empty page.
    assert_eq!(f.logs(LogQuery { before_id: Some(10_000), ..LogQuery::default() }), Vec::<i64>::new());
}

#[test]
fn logs_limit_defaults_to_100_and_is_capped_at_10000() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    let events = (0..10_050).map(|i| event(i, "10.0.0.1", 200, "/")).collect();
    store.commit(&batch(events)).unwrap();
    let count = |limit| store.logs(&LogQuery { limit, ..LogQuery::default() }).unwrap().len();
    assert_eq!(count(None), DEFAULT_LIMIT);
    assert_eq!(count(Some(3)), 3);
    assert_eq!(count(Some(0)), 0);
    assert_eq!(count(Some(1_000_000)), MAX_LIMIT);
    let newest = store.logs(&LogQuery { limit: Some(2), ..LogQuery::default() }).unwrap();
    assert_eq!(ids(&newest), vec![10_050, 10_049]);
}

#[test]
fn anomalies_come_newest_first_with_detector_reason_and_event() {
    let f = fixture();
    let all = f.store.anomalies(&LogQuery::default()).unwrap();
    let event_ids: Vec<i64> = all.iter().map(|a| a.event.id).collect();
    assert_eq!(event_ids, f.expected(|e| e.anomalous));
    for anomaly in &all {
        let n = anomaly.event.id - 1;
        assert_eq!((anomaly.detector.as_str(), anomaly.score), ("if", 0.8));
        assert_eq!(anomaly.reason, format!("n{n}"));
        assert!(anomaly.event.anomalous);
        assert_eq!(anomaly.event.anomaly_score, Some(n as f32 / 100.0));
    }
    // Filters apply to the anomaly's event; the cursor is the anomaly id.
    let by_ip = f.store.anomalies(&LogQuery { ip: Some("10.0.0.1".into()), ..LogQuery::default() }).unwrap();
    assert_eq!(
        by_ip.iter().map(|a| a.event.id).collect::<Vec<_>>(),
        f.expected(|e| e.anomalous && e.event.ip == "10.0.0.1")
    );
    let first = f.store.anomalies(&LogQuery { limit: Some(4), ..LogQuery::default() }).unwrap();
    let rest = f.store.anomalies(&LogQuery { before_id: Some(first[3].id), ..LogQuery::default() }).unwrap();
    assert_eq!([first, rest].concat(), all);
    let window = LogQuery { from_ms: Some(10_000), to_ms: Some(20_000), ..LogQuery::default() };
    let in_window: Vec<i64> = f.store.anomalies(&window).unwrap().iter().map(|a| a.event.id).collect();
    assert_eq!(in_window, f.expected(|e| e.anomalous && (10_000..20_000).contains(&e.event.timestamp_ms)));
}

#[test]
fn counts_report_events_per_source_anomalies_and_size() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    assert_eq!(store.counts().unwrap().events, 0);
    let mut b = CommitBatch::default();
    for (i, source) in ["ws", "file:/a", "ws", "api", "ws"].iter().enumerate() {
        let mut e = event(i as i64, "10.0.0.1", 200, "/");
        e.source = (*source).into();
        b.events.push(ScoredEvent { event: e, anomaly_score: None });
    }
    b.anomalies.push(NewAnomaly { event_index: 0, detector: "if".into(), score: 0.7, reason: String::new() });
    b.anomalies.push(NewAnomaly { event_index: 0, detector: "other".into(), score: 0.9, reason: String::new() });
    store.commit(&b).unwrap();
    store.commit(&b).unwrap();
    let counts = store.counts().unwrap();
    assert_eq!(counts.events, 10);
    assert_eq!(counts.anomalies, 4);
    assert_eq!(counts.per_source, vec![("api".into(), 2), ("file:/a".into(), 2), ("ws".into(), 6)]);
    assert!(counts.bytes_on_disk >= counts.bytes_used && counts.bytes_used > 0, "{counts:?}");
}

#[test]
fn retention_by_age_deletes_old_events_and_their_anomalies_and_keeps_checkpoints() {
    let dir = TempDir::new().unwrap();
    let config = StoreConfig { retention_chunk: 100, ..StoreConfig::default() };
    let store = Store::open(dir.path(), &config).unwrap();
    let now = 100 * DAY_MS;
    let mut old = CommitBatch::default();
    for i in 0..250 {
        let mut e = event(now - 10 * DAY_MS + i, "10.0.0.1", 200, "/old");
        e.source = if i < 200 { "file:/old".into() } else { "ws".into() };
        old.events.push(ScoredEvent { event: e, anomaly_score: Some(0.9) });
    }
    old.anomalies = (0..250)
        .step_by(50)
        .map(|i| NewAnomaly { event_index: i, detector: "if".into(), score: 0.9, reason: String::new() })
        .collect();
    old.checkpoints = vec![checkpoint("file:/old", 12_345)];
    store.commit(&old).unwrap();
    let mut recent =
        batch(vec![event(now - 7 * DAY_MS, "10.0.0.2", 200, "/edge"), event(now - DAY_MS, "10.0.0.2", 200, "/new")]);
    for e in &mut recent.events {
        e.event.source = "ws".into();
    }
    recent.anomalies = vec![NewAnomaly { event_index: 1, detector: "if".into(), score: 0.9, reason: String::new() }];
    store.commit(&recent).unwrap();

    let report = store.enforce_retention(now).unwrap();
    assert_eq!((report.expired_events, report.evicted_events, report.anomalies), (250, 0, 5));
    assert_eq!(ids(&store.logs(&LogQuery::default()).unwrap()), vec![252, 251]);
    assert_eq!(store.anomalies(&LogQuery::default()).unwrap().len(), 1);
    let counts = store.counts().unwrap();
    assert_eq!((counts.events, counts.anomalies), (2, 1));
    assert_eq!(counts.per_source, vec![("ws".into(), 2)]);
    assert_eq!(store.checkpoint("file:/old").unwrap(), Some(checkpoint("file:/old", 12_345)));
    // A second run finds nothing more to do.
    let again = store.enforce_retention(now).unwrap();
    assert_eq!((again.expired_events, again.evicted_events), (0, 0));
}

#[test]
fn retention_by_size_deletes_the_oldest_events_until_under_the_limit() {
    let dir = TempDir::new().unwrap();
    let config = StoreConfig { retention_days: 0, max_size_mib: 1, retention_chunk: 500, ..StoreConfig::default() };
    let store = Store::open(dir.path(), &config).unwrap();
    let padding = "x".repeat(400);
    // ~5,000 events of ~1 KB: several MiB. Timestamps run backwards within the second batch,
    // so "oldest" must mean by timestamp, not by id.
    for part in 0..2i64 {
        let mut b = CommitBatch::default();
        for i in 0..2_500 {
            let ts = if part == 0 { i } else { 1_000_000 - i };
            let mut e = event(ts, "10.0.0.1", 200, &format!("/p/{padding}"));
            e.user_agent = padding.clone();
            b.events.push(ScoredEvent { event: e, anomaly_score: None });
        }
        b.anomalies = vec![NewAnomaly { event_index: 0, detector: "if".into(), score: 0.9, reason: String::new() }];
        b.checkpoints = vec![checkpoint(&format!("file:/part{part}"), 1)];
        store.commit(&b).unwrap();
    }
    assert!(store.counts().unwrap().bytes_used > 4 * 1024 * 1024);

    let report = store.enforce_retention(1_000_000).unwrap();
    assert!(report.evicted_events > 0 && report.expired_events == 0, "{report:?}");
    assert!(report.bytes_after <= 1024 * 1024 && report.bytes_before > report.bytes_after, "{report:?}");
    let counts = store.counts().unwrap();
    assert_eq!(counts.events, 5_000 - report.evicted_events);
    assert!(counts.bytes_used <= 1024 * 1024);
    // What is left is exactly the newest events.
    let kept = store.logs(&LogQuery { limit: Some(MAX_LIMIT), ..LogQuery::default() }).unwrap();
    assert_eq!(kept.len() as u64, counts.events);
    let oldest_kept = kept.iter().map(|e| e.event.timestamp_ms).min().unwrap();
    let kept_ids: HashSet<i64> = kept.iter().map(|e| e.id).collect();
    let expected_kept: HashSet<i64> = (1..=5_000i64)
        .filter(|id| {
            let ts = if *id <= 2_500 { id - 1 } else { 1_000_000 - (id - 2_501) };
            ts >= oldest_kept
        })
        .collect();
    assert_eq!(kept_ids, expected_kept);
    // The first batch's anomaly went with its event, the second's stays.
    assert_eq!(report.anomalies, 1);
    assert_eq!(store.anomalies(&LogQuery::default()).unwrap()[0].event.id, 2_501);
    let keys: Vec<String> = store.checkpoints().unwrap().into_iter().map(|s| s.checkpoint.key).collect();
    assert_eq!(keys, vec!["file:/part0", "file:/part1"]);
    // Later commits reuse the freed pages: the file does not grow past its old size.
    let pages = || -> i64 {
        let conn =
            rusqlite::Connection::open_with_flags(store.path(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        conn.pragma_query_value(None, "page_count", |row| row.get(0)).unwrap()
    };
    let before = pages();
    let refill = (0..2_000).map(|i| event(2_000_000 + i, "10.0.0.1", 200, &format!("/q/{padding}"))).collect();
    store.commit(&batch(refill)).unwrap();
    assert_eq!(pages(), before);
    // Ids are never reused, even after deletions and a reopen.
    drop(store);
    let store = Store::open(dir.path(), &config).unwrap();
    assert_eq!(store.commit(&batch(vec![event(3_000_000, "10.0.0.1", 200, "/")])).unwrap().ids, Some(7_001..=7_001));
}

#[test]
fn ids_are_not_reused_after_every_event_is_deleted() {
    let dir = TempDir::new().unwrap();
    let config = StoreConfig { retention_days: 1, retention_chunk: 100, ..StoreConfig::default() };
    {
        let store = Store::open(dir.path(), &config).unwrap();
        store.commit(&anomalous(vec![event(0, "10.0.0.1", 200, "/"), event(1, "10.0.0.1", 200, "/")])).unwrap();
        assert_eq!(largest_anomaly_id(&store), Some(2));
        assert_eq!(store.enforce_retention(10 * DAY_MS).unwrap().expired_events, 2);
        assert_eq!(store.counts().unwrap().events, 0);
        assert_eq!(largest_anomaly_id(&store), None);
        // Anomaly ids too: SQLite's own would give the next one the id just deleted.
        store.commit(&anomalous(vec![event(10 * DAY_MS, "10.0.0.1", 200, "/")])).unwrap();
        assert_eq!(largest_anomaly_id(&store), Some(3));
    }
    let store = Store::open(dir.path(), &config).unwrap();
    assert_eq!(store.commit(&anomalous(vec![event(0, "10.0.0.1", 200, "/")])).unwrap().ids, Some(4..=4));
    assert_eq!(largest_anomaly_id(&store), Some(4));
    // Retention deletes the newest anomaly (its event is the oldest by its own time): the
    // next one still gets a new id, before and after a reopen.
    assert_eq!(store.enforce_retention(10 * DAY_MS).unwrap().expired_events, 1);
    assert_eq!(largest_anomaly_id(&store), Some(3));
    store.commit(&anomalous(vec![event(10 * DAY_MS, "10.0.0.1", 200, "/")])).unwrap();
    assert_eq!(largest_anomaly_id(&store), Some(5));
    assert_eq!(store.enforce_retention(10 * DAY_MS).unwrap().expired_events, 0);
    drop(store);
    let store = Store::open(dir.path(), &config).unwrap();
    store.commit(&anomalous(vec![event(10 * DAY_MS, "10.0.0.1", 200, "/")])).unwrap();
    assert_eq!(largest_anomaly_id(&store), Some(6));
}

/// `events` as one batch, every one of them an anomaly.
fn anomalous(events: Vec<Event>) -> CommitBatch {
    let mut b = batch(events);
    b.anomalies = (0..b.events.len())
        .map(|event_index| NewAnomaly { event_index, detector: "d".into(), score: 0.9, reason: "r".into() })
        .collect();
    b
}

fn largest_anomaly_id(store: &Store) -> Option<i64> {
    let conn = rusqlite::Connection::open_with_flags(store.path(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    conn.query_row("SELECT max(id) FROM anomalies", [], |row| row.get(0)).unwrap()
}

#[test]
fn unicode_and_control_characters_round_trip() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    let mut fields = serde_json::Map::new();
    fields.insert("clé ünïcode 🔑".into(), serde_json::json!("välue\u{0}\u{1b}[31m\n\t\"quoted\""));
    fields.insert("nested".into(), serde_json::json!({"list": [1, 2.5, null, true, "\u{202e}rtl"], "n": -7}));
    fields.insert("big".into(), serde_json::json!(u64::MAX));
    let e = Event {
        timestamp_ms: -1_000,
        ip: "2001:db8::1".into(),
        method: "PROPFIND".into(),
        url: "/café/日本語/😀?q=a%20b&x=\u{7f}".into(),
        status_code: 599,
        bytes_sent: u64::from(u32::MAX) * 4,
        user_agent: "agent\u{0}with nul\r\nand CRLF".into(),
        raw: "line with \u{1}\u{2}\u{3} controls and \u{fffd} replacement".into(),
        source: "file:/var/log/ünïcode/access.log".into(),
        referer: Some(String::new()),
        latency_ms: Some(0.125),
        fields,
        template_id: None,
    };
    let plain = Event { referer: None, latency_ms: None, ..event(5, "::1", 0, "") };
    let mut b = batch(vec![e.clone(), plain.clone()]);
    b.events[0].anomaly_score = Some(0.123_456_79);
    b.events[1].anomaly_score = None;
    b.anomalies = vec![NewAnomaly {
        event_index: 0,
        detector: "détecteur".into(),
        score: 1.0,
        reason: "raison\n\u{0}ligne".into(),
    }];
    b.checkpoints = vec![Checkpoint {
        key: "file:/tmp/ünïcode\u{1}.log".into(),
        fingerprint: vec![0xff, 0x00, 0xfe],
        offset: 0,
        tail: Vec::new(),
    }];
    store.commit(&b).unwrap();

    let rows = store.logs(&LogQuery::default()).unwrap();
    assert_eq!(rows[0].event, plain);
    assert_eq!(rows[0].anomaly_score, None);
    assert_eq!(rows[1].event, e);
    assert_eq!(rows[1].anomaly_score, Some(0.123_456_79));
    let anomaly = &store.anomalies(&LogQuery::default()).unwrap()[0];
    assert_eq!((anomaly.detector.as_str(), anomaly.reason.as_str()), ("détecteur", "raison\n\u{0}ligne"));
    assert_eq!(store.checkpoint("file:/tmp/ünïcode\u{1}.log").unwrap().unwrap().fingerprint, vec![0xff, 0x00, 0xfe]);
    assert_eq!(ids(&store.logs(&LogQuery { q: Some("日本語/😀".into()), ..LogQuery::default() }).unwrap()), vec![1]);
    assert_eq!(ids(&store.logs(&LogQuery { ip: Some("2001:db8::1".into()), ..LogQuery::default() }).unwrap()), vec![1]);
}

/// Batches around the size of a multi-row INSERT (`write::ROWS_PER_INSERT`): every column of
/// every row lands in its own row, whatever statement wrote it.
#[test]
fn every_column_of_every_event_is_stored_in_its_own_row_whatever_the_batch_size() {
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    let mut written = Vec::new();
    for size in [31, 32, 33, 64, 97, 1] {
        let events: Vec<Event> = (written.len()..written.len() + size)
            .map(|i| {
                let mut fields = serde_json::Map::new();
                if i % 3 == 0 {
                    fields.insert(format!("k{i}"), serde_json::json!(i));
                }
                Event {
                    timestamp_ms: 1_000 + i as i64 * 7,
                    ip: format!("10.0.{}.{}", i / 256, i % 256),
                    method: ["GET", "POST", "PUT"][i % 3].into(),
                    url: format!("/item/{i}"),
                    status_code: 200 + (i % 300) as u16,
                    bytes_sent: i as u64 * 11,
                    user_agent: format!("agent {i}"),
                    raw: format!("line {i}"),
                    source: format!("file:/var/log/{}.log", i % 2),
                    referer: (i % 2 == 0).then(|| format!("/from/{i}")),
                    latency_ms: (i % 4 == 0).then_some(i as f64 / 8.0),
                    fields,
                    template_id: None,
                }
            })
            .collect();
        let mut b = batch(events.clone());
        for (n, scored) in b.events.iter_mut().enumerate() {
            scored.anomaly_score = (n % 5 != 0).then_some(n as f32 / 100.0);
        }
        b.anomalies = (0..size)
            .step_by(7)
            .map(|n| NewAnomaly { event_index: n, detector: "d".into(), score: 0.9, reason: format!("r{n}") })
            .collect();
        let first = written.len() as i64 + 1;
        assert_eq!(store.commit(&b).unwrap().ids, Some(first..=first + size as i64 - 1));
        written.extend(b.events.into_iter().enumerate().map(|(n, scored)| (scored, n % 7 == 0)));
    }
    let mut rows = store.logs(&LogQuery { limit: Some(MAX_LIMIT), ..LogQuery::default() }).unwrap();
    rows.sort_by_key(|r| r.id);
    assert_eq!(rows.len(), written.len());
    for (row, (scored, anomalous)) in rows.iter().zip(&written) {
        assert_eq!(row.event, scored.event, "event {}", row.id);
        assert_eq!(row.anomaly_score, scored.anomaly_score, "event {}", row.id);
        assert_eq!(row.anomalous, *anomalous, "event {}", row.id);
    }
}

#[test]
fn status_filter_parses_codes_and_classes() {
    assert_eq!("404".parse(), Ok(StatusFilter::Exact(404)));
    assert_eq!("5xx".parse(), Ok(StatusFilter::Class(5)));
    assert_eq!("2XX".parse(), Ok(StatusFilter::Class(2)));
    for bad in ["6xx", "0xx", "99", "600", "abc", "5x", ""] {
        let error = bad.parse::<StatusFilter>().unwrap_err();
        assert!(error.contains("100 to 599"), "{bad}: {error}");
    }
}

#[test]
fn config_defaults_and_kind_rejection() {
    let config: StoreConfig = toml::from_str("").unwrap();
    assert_eq!(config, StoreConfig::default());
    assert_eq!((config.kind, config.retention_days, config.max_size_mib), (StoreKind::Embedded, 7, 1024));
    let embedded: StoreConfig = toml::from_str("kind = \"embedded\"\nretention_days = 30").unwrap();
    assert_eq!(embedded.retention_days, 30);

    let chroma: StoreConfig = toml::from_str("kind = \"chroma\"").unwrap();
    assert_eq!(chroma.kind, StoreKind::Chroma);
    let other = toml::from_str::<StoreConfig>("kind = \"postgres\"").unwrap_err().to_string();
    assert!(other.contains("unknown store kind \"postgres\""), "{other}");
    let unknown = toml::from_str::<StoreConfig>("retention = 3").unwrap_err().to_string();
    assert!(unknown.contains("unknown field `retention`"), "{unknown}");
}

#[test]
fn out_of_range_config_is_refused_before_anything_is_created() {
    let dir = TempDir::new().unwrap();
    let data_dir = dir.path().join("data");
    let config = StoreConfig { read_connections: 0, ..StoreConfig::default() };
    let error = Store::open(&data_dir, &config).err().unwrap();
    assert_eq!(error.to_string(), "store.read_connections: 0 is out of range; give 1 to 64");
    assert!(!data_dir.exists());
    let config = StoreConfig { retention_chunk: 5, ..StoreConfig::default() };
    assert!(matches!(config.validate(), Err(StoreError::Config { field: "retention_chunk", .. })));
}

#[test]
fn anomaly_vectors_made_ahead_of_the_commit_are_the_ones_the_commit_would_make() {
    let vectors = |prepare: bool| {
        let dir = TempDir::new().unwrap();
        let store = open(dir.path());
        // A first commit, so the second one's anomaly and event ids are not the first.
        let mut first = batch(vec![event(1_000, "10.0.0.1", 200, "/")]);
        first.anomalies.push(NewAnomaly { event_index: 0, detector: "d".into(), score: 0.7, reason: "r0".into() });
        store.commit(&first).unwrap();
        let mut second = batch((0..4).map(|i| event(2_000 + i, "10.0.0.2", 404, &format!("/admin/{i}"))).collect());
        for (event_index, reason) in [(1, "rare path"), (3, "odd status")] {
            second.anomalies.push(NewAnomaly {
                event_index,
                detector: "isolation-forest".into(),
                score: 0.81,
                reason: reason.into(),
            });
        }
        if prepare {
            second.anomaly_vectors = second
                .anomalies
                .iter()
                .map(|a| {
                    let event = &second.events[a.event_index].event;
                    AnomalyVector::new(store.embedder().as_ref(), event, &a.detector, a.score, &a.reason)
                })
                .collect();
        }
        store.commit(&second).unwrap();
        let conn =
            rusqlite::Connection::open_with_flags(store.path(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let mut rows = conn
            .prepare(
                "SELECT collection, id, document, metadata, embedder, embedding, event_id FROM vectors ORDER BY seq",
            )
            .unwrap();
        rows.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, Vec<u8>>(5)?,
                r.get::<_, Option<i64>>(6)?,
            ))
        })
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
    };
    let (ahead, in_commit) = (vectors(true), vectors(false));
    assert_eq!(ahead.len(), 3);
    assert_eq!((ahead[2].1.as_str(), ahead[2].6), ("anomaly-3", Some(5)), "{:?}", ahead[2]);
    assert!(ahead[2].2.contains("odd status") && ahead[2].3.contains("\"event_id\":5"), "{:?}", ahead[2]);
    assert_eq!(ahead, in_commit);
    // The metadata and text are those of the anomaly's record for Chroma.
    let event = event(2_003, "10.0.0.2", 404, "/admin/3");
    let record = super::vectors::anomaly_record(3, 5, &event, "isolation-forest", f64::from(0.81f32), "odd status");
    let stored: crate::vector::Metadata = serde_json::from_str(&ahead[2].3).unwrap();
    assert_eq!((&ahead[2].2, stored), (&record.document, record.metadata));
}

#[test]
fn vectors_stored_a_byte_per_dimension_keep_their_distances_and_older_f32_rows_are_still_read() {
    use crate::vector::{Collection, Filter, Record};
    let dir = TempDir::new().unwrap();
    let store = open(dir.path());
    let embedder = store.embedder().clone();
    let texts = [
        "anomaly (score 0.91, isolation-forest): url_length 412 | GET /cgi-bin/test.cgi?cmd=cat%20/etc/passwd",
        "anomaly (score 0.66, isolation-forest): ip_rate_per_s 1.93 (typical 0.02-0.33) | GET /products/42",
        "window 12:00-12:01: 5123 requests, 2.1% errors, top client 10.0.0.7, 14 anomalies",
        "failed password for invalid user admin from 203.0.113.9 port 22",
    ];
    for (i, text) in texts.iter().enumerate() {
        let record = Record { id: format!("r{i}"), document: (*text).into(), metadata: Default::default() };
        store.upsert_vector(Collection::Anomalies, &record, embedder.as_ref(), &embedder.embed(text)).unwrap();
    }
    // A row as an earlier version wrote it: little-endian f32, `quantized` 0.
    let old = "GET /wp-login.php 404 from a scanner";
    let blob: Vec<u8> = embedder.embed(old).iter().flat_map(|x| x.to_le_bytes()).collect();
    let conn = rusqlite::Connection::open(store.path()).unwrap();
    conn.execute(
        "INSERT INTO vectors (collection, id, document, metadata, embedder, embedding, event_id, quantized) \
         VALUES ('anomalies', 'old', ?1, '{}', ?2, ?3, NULL, 0)",
        (old, embedder.name(), blob),
    )
    .unwrap();
    let stored_bytes: i64 =
        conn.query_row("SELECT length(embedding) FROM vectors WHERE id = 'r0'", [], |r| r.get(0)).unwrap();
    assert_eq!(stored_bytes as usize, embedder.dimension());

    let query = embedder.embed("requests for /etc/passwd through cgi-bin");
    let hits = store.nearest_vectors(Collection::Anomalies, embedder.as_ref(), &query, 10, &Filter::none()).unwrap();
    assert_eq!(hits.len(), 5, "{hits:?}");
    assert_eq!(hits[0].id, "r0");
    for hit in &hits {
        let exact = crate::embed::cosine_distance(&query, &embedder.embed(&hit.document));
        assert!((hit.distance - exact).abs() < 0.005, "{}: {} stored vs {exact} exact", hit.id, hit.distance);
    }
}

#[test]
fn a_data_dir_is_checked_without_creating_anything() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(check_data_dir(dir.path()), Ok(()));
    // Not there yet, under a directory that is: start-up would create it; the check does not.
    let later = dir.path().join("a/b/vigil-data");
    assert_eq!(check_data_dir(&later), Ok(()));
    assert!(!dir.path().join("a").exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing left behind");
    // A file where the directory, or one of its parents, should be.
    let file = dir.path().join("file");
    std::fs::write(&file, "x").unwrap();
    for path in [file.clone(), file.join("vigil-data")] {
        let err = check_data_dir(&path).unwrap_err();
        assert!(err.contains(&format!("{} is not a directory", file.display())), "{err}");
        assert!(err.starts_with(&format!("data_dir {}:", path.display())) && err.contains("hint:"), "{err}");
    }
}
