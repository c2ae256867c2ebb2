//! The labeled data sets of `../shared/data`, turned into the events the agent would see,
//! in the order it would see them. Every choice that is not in the data (client addresses,
//! timestamps, status codes where the data has none) is made by a seeded generator and never
//! depends on the label, so it can neither help nor hide an anomaly.

use super::EvalError;
use super::traffic::{Clients, SplitMix64, bytes_for};
use crate::event::Event;
use crate::parse::Parser;
use std::collections::HashMap;
use std::path::Path;

/// One data set, ready to replay.
#[derive(Debug, Clone, Default)]
pub struct LabeledSet {
    /// Short name: `csic`, `scanners`, `hdfs`, `bgl`.
    pub name: &'static str,
    /// Events in replay order.
    pub events: Vec<Event>,
    /// `true` for an anomaly, one per event.
    pub labels: Vec<bool>,
    /// Events `[0, warmup)` are the warm-up: replayed first, not counted.
    pub warmup: usize,
    /// The attack session an event belongs to (scanners only).
    pub sessions: Vec<Option<u32>>,
}

/// Requests of the CSIC normal file used for warm-up: line `i` when `i % 10 < 3` (10,800 of
/// 36,000). The reference script uses the same rule.
const CSIC_WARMUP_EVERY: (usize, usize) = (3, 10);
/// Background events replayed as warm-up before scanners appear.
const SCANNER_WARMUP: usize = 10_000;
/// Requests of one scanner session: each scan is cut into sessions of this many requests,
/// each from its own address, so the share of sessions flagged is measured over dozens of
/// attackers instead of three, and most sessions start in the middle of a scan.
pub const SCANNER_SESSION: usize = 300;
/// Longest pause kept between two requests of a scan, ms (the recordings have breaks of
/// minutes between phases).
const SCANNER_MAX_GAP_MS: i64 = 10_000;
/// 2026-11-02T08:00:00Z: where every replayed timeline starts.
pub const START_MS: i64 = 1_793_606_400_000;
const SEED: u64 = 0x5643_4953_4943;

/// Read a text file's non-empty lines (split on `\n`, a trailing `\r` dropped, invalid UTF-8
/// replaced), or say which file is missing and what to do.
pub fn read_lines(path: &Path) -> Result<Vec<String>, EvalError> {
    let bytes = std::fs::read(path).map_err(|e| EvalError::Data {
        path: path.display().to_string(),
        message: format!("{e} (pass --data with the folder holding shared/data's README)"),
    })?;
    Ok(bytes
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.is_empty())
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect())
}

/// `get http://localhost:8080/tienda1/index.jsp?a=1` → (`GET`, `/tienda1/index.jsp?a=1`).
pub fn csic_request(line: &str) -> (String, String) {
    let (method, url) = line.split_once(' ').unwrap_or(("get", line));
    let target = match url.strip_prefix("http://").or_else(|| url.strip_prefix("https://")) {
        Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => url,
    };
    (method.to_ascii_uppercase(), target.to_owned())
}

fn access_event(clients: &mut Clients, method: String, url: String, status: u16) -> Event {
    let visit = clients.next();
    let bytes_sent = if status == 304 { 0 } else { bytes_for(&url) };
    Event {
        timestamp_ms: visit.timestamp_ms,
        ip: visit.ip,
        method,
        url,
        status_code: status,
        bytes_sent,
        user_agent: visit.user_agent.to_owned(),
        source: "eval".into(),
        ..Event::default()
    }
}

/// CSIC 2010: warm-up on 10,800 normal requests, then the other 25,200 normal requests and
/// all 25,065 attacks, interleaved at random, from shared simulated clients, all answered 200.
pub fn csic(data: &Path) -> Result<LabeledSet, EvalError> {
    let dir = data.join("csic2010/oneline_full");
    let normal = read_lines(&dir.join("normal.txt"))?;
    let anomalous = read_lines(&dir.join("anomalous.txt"))?;
    let (warm, rest): (Vec<_>, Vec<_>) =
        normal.iter().enumerate().partition(|(i, _)| i % CSIC_WARMUP_EVERY.1 < CSIC_WARMUP_EVERY.0);
    let mut rng = SplitMix64::new(SEED);
    let mut clients = Clients::new(SEED ^ 1, START_MS);
    let mut set = LabeledSet { name: "csic", ..LabeledSet::default() };
    for (_, line) in &warm {
        let (method, url) = csic_request(line);
        set.events.push(access_event(&mut clients, method, url, 200));
        set.labels.push(false);
    }
    set.warmup = set.events.len();
    let (mut n, mut a) = (rest.iter().map(|(_, l)| l.as_str()), anomalous.iter().map(String::as_str));
    let (mut left_n, mut left_a) = (rest.len() as u64, anomalous.len() as u64);
    while left_n + left_a > 0 {
        let attack = rng.below(left_n + left_a) >= left_n;
        let line = if attack { a.next() } else { n.next() }.expect("counted");
        if attack {
            left_a -= 1
        } else {
            left_n -= 1
        }
        let (method, url) = csic_request(line);
        set.events.push(access_event(&mut clients, method, url, 200));
        set.labels.push(attack);
    }
    set.sessions = vec![None; set.events.len()];
    Ok(set)
}

/// A background status: mostly 200, some 304 and 404, as on any real site.
fn background_status(rng: &mut SplitMix64) -> u16 {
    match rng.below(100) {
        0 => 404,
        1 | 2 => 304,
        _ => 200,
    }
}

/// Scanners: the CSIC normal requests as background traffic (10,000 of them first, as
/// warm-up), with the Acunetix, Netsparker and w3af scans cut into sessions of
/// [`SCANNER_SESSION`] requests, each from its own address, starting at random moments.
pub fn scanners(data: &Path) -> Result<LabeledSet, EvalError> {
    let normal = read_lines(&data.join("csic2010/oneline_full/normal.txt"))?;
    let mut rng = SplitMix64::new(SEED ^ 2);
    let mut clients = Clients::new(SEED ^ 3, START_MS);
    let background: Vec<Event> = normal
        .iter()
        .map(|line| {
            let (method, url) = csic_request(line);
            let status = background_status(&mut rng);
            access_event(&mut clients, method, url, status)
        })
        .collect();
    let warm_end = background[SCANNER_WARMUP.min(background.len() - 1)].timestamp_ms;
    let end = background.last().map_or(warm_end, |e| e.timestamp_ms);

    let parser = Parser::combined();
    let mut scan_events: Vec<(Event, u32)> = Vec::new();
    let mut session = 0u32;
    for file in ["acunetix.txt", "netsparker.txt", "w3af.txt"] {
        let path = data.join("apache_scan_logs").join(file);
        let mut parsed: Vec<Event> = Vec::new();
        for line in read_lines(&path)? {
            // Each line of these files is wrapped in one more pair of double quotes.
            let line = line.trim();
            let line = line.strip_prefix('"').and_then(|l| l.strip_suffix('"')).unwrap_or(line);
            let p = parser.parse(line, "eval:scanner");
            if p.is_ok() {
                parsed.push(p.event);
            }
        }
        // The scanner is the busiest address of its file; the few others browsed by hand.
        let mut per_ip: HashMap<&str, usize> = HashMap::new();
        for e in &parsed {
            *per_ip.entry(e.ip.as_str()).or_default() += 1;
        }
        let scanner_ip = per_ip.into_iter().max_by_key(|(_, n)| *n).map(|(ip, _)| ip.to_owned()).unwrap_or_default();
        let mut scan: Vec<Event> = parsed.into_iter().filter(|e| e.ip == scanner_ip).collect();
        scan.sort_by_key(|e| e.timestamp_ms);
        for chunk in scan.chunks(SCANNER_SESSION) {
            let ip = format!("198.18.{}.{}", session / 250, session % 250 + 1);
            let mut at = warm_end + rng.below((end - warm_end).max(1) as u64) as i64;
            let mut previous = chunk[0].timestamp_ms;
            for e in chunk {
                at += (e.timestamp_ms - previous).clamp(0, SCANNER_MAX_GAP_MS);
                previous = e.timestamp_ms;
                let event = Event { timestamp_ms: at, ip: ip.clone(), raw: String::new(), ..e.clone() };
                scan_events.push((event, session));
            }
            session += 1;
        }
    }
    scan_events.sort_by_key(|(e, _)| e.timestamp_ms);

    let mut set = LabeledSet { name: "scanners", warmup: SCANNER_WARMUP, ..LabeledSet::default() };
    let mut scans = scan_events.into_iter().peekable();
    for (i, event) in background.into_iter().enumerate() {
        while i >= SCANNER_WARMUP && scans.peek().is_some_and(|(s, _)| s.timestamp_ms <= event.timestamp_ms) {
            let (scan, session) = scans.next().expect("peeked");
            set.events.push(scan);
            set.labels.push(true);
            set.sessions.push(Some(session));
        }
        set.events.push(event);
        set.labels.push(false);
        set.sessions.push(None);
    }
    for (scan, session) in scans {
        set.events.push(scan);
        set.labels.push(true);
        set.sessions.push(Some(session));
    }
    Ok(set)
}

/// HDFS_100k block sessions, one event per block whose `fields` are its event counts
/// (`{"E5": 3, "E22": 1, ...}`) and whose line (`raw`) is its sequence of event ids, as a
/// session line would read (`E5 E22 E5 E11 ...`). loglizer's protocol: the first half of the normal blocks and
/// the first half of the anomalous ones (file order) are the warm-up, the rest is scored.
pub fn hdfs(data: &Path) -> Result<LabeledSet, EvalError> {
    let path = data.join("hdfs_100k/HDFS_100k_sessions.csv");
    let lines = read_lines(&path)?;
    let mut blocks: Vec<(bool, serde_json::Map<String, serde_json::Value>, String)> = Vec::new();
    for (n, line) in lines.iter().enumerate().skip(1) {
        let cols: Vec<&str> = line.split(',').collect();
        if cols.len() < 4 {
            return Err(EvalError::Data {
                path: path.display().to_string(),
                message: format!("line {}: expected BlockId,Label,Split,EventIdSequence,...", n + 1),
            });
        }
        let mut counts: std::collections::BTreeMap<&str, u64> = Default::default();
        for id in cols[3].split_whitespace() {
            *counts.entry(id).or_default() += 1;
        }
        let fields = counts.into_iter().map(|(k, v)| (k.to_owned(), serde_json::Value::from(v))).collect();
        blocks.push((cols[1] == "Anomaly", fields, cols[3].trim().to_owned()));
    }
    let half = |anomaly: bool| blocks.iter().filter(|(a, _, _)| *a == anomaly).count() / 2;
    let (normal_half, anomaly_half) = (half(false), half(true));
    let (mut seen_n, mut seen_a) = (0, 0);
    let mut train = Vec::new();
    let mut test = Vec::new();
    for (anomaly, fields, sequence) in blocks {
        let in_train = if anomaly {
            seen_a += 1;
            seen_a <= anomaly_half
        } else {
            seen_n += 1;
            seen_n <= normal_half
        };
        if in_train { train.push((anomaly, fields, sequence)) } else { test.push((anomaly, fields, sequence)) }
    }
    let mut set = LabeledSet { name: "hdfs", warmup: train.len(), ..LabeledSet::default() };
    for (i, (anomaly, fields, raw)) in train.into_iter().chain(test).enumerate() {
        set.events.push(Event {
            timestamp_ms: START_MS + i as i64 * 1000,
            source: "eval:hdfs".into(),
            raw,
            fields,
            ..Event::default()
        });
        set.labels.push(anomaly);
    }
    set.sessions = vec![None; set.events.len()];
    Ok(set)
}

/// BGL 2k: every line in order, its alert label (the first field) cut off the line the
/// detector sees; no warm-up beyond the detector's own.
pub fn bgl(data: &Path) -> Result<LabeledSet, EvalError> {
    let path = data.join("loghub/BGL/BGL_2k.log");
    let mut set = LabeledSet { name: "bgl", ..LabeledSet::default() };
    for line in read_lines(&path)? {
        let (label, rest) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        let seconds: i64 = rest.split(' ').next().and_then(|s| s.parse().ok()).unwrap_or(0);
        set.events.push(Event {
            timestamp_ms: seconds * 1000,
            raw: rest.to_owned(),
            source: "eval:bgl".into(),
            ..Event::default()
        });
        set.labels.push(label != "-");
    }
    set.sessions = vec![None; set.events.len()];
    Ok(set)
}
