//! Store commit throughput: realistic access-log events committed through `Store::commit` in
//! batches of 1,000 and 10,000 (indexes, scores, anomalies and a file checkpoint per batch),
//! against the floor: the same rows through one prepared rusqlite INSERT into a table without
//! indexes, one transaction per batch, no checkpoint.
//!
//! Run: `cargo bench -p vigil --bench store_insert -- --events 5000000`
//! (`--events N` shortens the run; only commit time is measured, not event generation).

use rusqlite::{Connection, TransactionBehavior};
use std::time::{Duration, Instant};
use vigil::event::Event;
use vigil::store::{Checkpoint, CommitBatch, LogQuery, NewAnomaly, ScoredEvent, StatusFilter, Store, StoreConfig};

const BATCHES: [usize; 2] = [1_000, 10_000];
const SOURCE: &str = "file:/var/log/nginx/access.log";

fn main() {
    let events = parse_events();
    println!("store_insert: {events} events per run, batches of {BATCHES:?}");
    for batch in BATCHES {
        report("Store::commit", batch, run_store(events, batch));
        report("raw insert (floor)", batch, run_floor(events, batch));
    }
}

fn parse_events() -> usize {
    let args: Vec<String> = std::env::args().collect();
    let mut events = 5_000_000;
    let mut i = 1;
    while i < args.len() {
        if args[i] == "--events" {
            let value = args.get(i + 1).and_then(|v| v.replace('_', "").parse().ok());
            events = value.unwrap_or_else(|| panic!("--events takes a number of events"));
            i += 1;
        }
        // cargo bench passes `--bench`; anything else is ignored too.
        i += 1;
    }
    events
}

/// What one run measured.
struct Run {
    events: usize,
    raw_bytes: u64,
    elapsed: Duration,
    slowest_batch: Duration,
    db_bytes: u64,
}

fn report(what: &str, batch: usize, run: Run) {
    let secs = run.elapsed.as_secs_f64();
    println!(
        "{what:<20} batch {batch:>6}: {:>9.0} events/s  {:>6.1} MiB/s of log lines  ({} events in {secs:.2} s, \
         slowest batch {:.1} ms, db {:.0} MiB)",
        run.events as f64 / secs,
        run.raw_bytes as f64 / secs / (1024.0 * 1024.0),
        run.events,
        run.slowest_batch.as_secs_f64() * 1e3,
        run.db_bytes as f64 / (1024.0 * 1024.0),
    );
}

fn run_store(total: usize, batch_size: usize) -> Run {
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = Store::open(dir.path(), &StoreConfig::default()).expect("open the store");
    let mut traffic = Traffic::new(7);
    let mut run = Run { events: 0, raw_bytes: 0, elapsed: Duration::ZERO, slowest_batch: Duration::ZERO, db_bytes: 0 };
    let mut offset = 0u64;
    while run.events < total {
        let n = batch_size.min(total - run.events);
        let mut batch = CommitBatch::default();
        for i in 0..n {
            let (event, score) = traffic.next_event();
            offset += event.raw.len() as u64 + 1;
            run.raw_bytes += event.raw.len() as u64 + 1;
            if score >= 0.9 {
                let reason = format!("rare url {} for {}", event.url, event.ip);
                batch.anomalies.push(NewAnomaly { event_index: i, detector: "isolation-forest".into(), score, reason });
            }
            batch.events.push(ScoredEvent { event, anomaly_score: Some(score) });
        }
        batch.checkpoints.push(Checkpoint {
            key: SOURCE.into(),
            fingerprint: b"203.0.113.9 - - [01/Apr/2025:00:00:00 +0000]".to_vec(),
            offset,
            tail: b"Mozilla/5.0\"\n".to_vec(),
        });
        let started = Instant::now();
        let committed = store.commit(&batch).expect("commit");
        let took = started.elapsed();
        assert_eq!(committed.ids.map(|ids| ids.count()), Some(n));
        run.elapsed += took;
        run.slowest_batch = run.slowest_batch.max(took);
        run.events += n;
    }
    run.db_bytes = store.bytes_on_disk();
    if batch_size == BATCHES[BATCHES.len() - 1] {
        time_queries(&store);
    }
    run
}

/// What the `/api/v1/logs` filters cost on the store just filled: the unindexed ones (`ip`,
/// a status class, `q`) walk the time index until `limit` rows match.
fn time_queries(store: &Store) {
    println!("  queries on the store just filled (batch {} run):", BATCHES[BATCHES.len() - 1]);
    let queries = [
        ("newest 100", LogQuery::default()),
        ("status=404", LogQuery { status: Some(StatusFilter::Exact(404)), ..LogQuery::default() }),
        ("status=5xx", LogQuery { status: Some(StatusFilter::Class(5)), ..LogQuery::default() }),
        ("ip=frequent client", LogQuery { ip: Some(client_ip(0)), ..LogQuery::default() }),
        ("ip=rare client", LogQuery { ip: Some(client_ip(49_999)), ..LogQuery::default() }),
        ("q=Googlebot", LogQuery { q: Some("googlebot".into()), ..LogQuery::default() }),
        ("q=absent (full scan)", LogQuery { q: Some("no-such-text".into()), ..LogQuery::default() }),
        ("anomalies only", LogQuery { anomalies_only: true, ..LogQuery::default() }),
    ];
    for (name, query) in queries {
        let started = Instant::now();
        let rows = store.logs(&query).expect("query").len();
        println!("  query {name:<22} {rows:>4} rows in {:>8.1} ms", started.elapsed().as_secs_f64() * 1e3);
    }
    let started = Instant::now();
    let counts = store.counts().expect("counts");
    println!(
        "  counts(): {} events, {} anomalies in {:.1} ms",
        counts.events,
        counts.anomalies,
        started.elapsed().as_secs_f64() * 1e3
    );
}

fn run_floor(total: usize, batch_size: usize) -> Run {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("floor.db");
    let mut conn = Connection::open(&path).expect("open the floor db");
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
         CREATE TABLE events (id INTEGER PRIMARY KEY, timestamp_ms INTEGER, ip TEXT, method TEXT, url TEXT,
             status_code INTEGER, bytes_sent INTEGER, user_agent TEXT, raw TEXT, source TEXT, referer TEXT,
             latency_ms REAL, anomaly_score REAL);",
    )
    .expect("create the floor table");
    let mut traffic = Traffic::new(7);
    let mut run = Run { events: 0, raw_bytes: 0, elapsed: Duration::ZERO, slowest_batch: Duration::ZERO, db_bytes: 0 };
    while run.events < total {
        let n = batch_size.min(total - run.events);
        let batch: Vec<(Event, f32)> = (0..n).map(|_| traffic.next_event()).collect();
        run.raw_bytes += batch.iter().map(|(e, _)| e.raw.len() as u64 + 1).sum::<u64>();
        let started = Instant::now();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).expect("begin");
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO events (timestamp_ms, ip, method, url, status_code, bytes_sent, user_agent, raw, \
                     source, referer, latency_ms, anomaly_score) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                )
                .expect("prepare");
            for (e, score) in &batch {
                insert.raw_bind_parameter(1, e.timestamp_ms).unwrap();
                insert.raw_bind_parameter(2, e.ip.as_str()).unwrap();
                insert.raw_bind_parameter(3, e.method.as_str()).unwrap();
                insert.raw_bind_parameter(4, e.url.as_str()).unwrap();
                insert.raw_bind_parameter(5, e.status_code).unwrap();
                insert.raw_bind_parameter(6, e.bytes_sent as i64).unwrap();
                insert.raw_bind_parameter(7, e.user_agent.as_str()).unwrap();
                insert.raw_bind_parameter(8, e.raw.as_str()).unwrap();
                insert.raw_bind_parameter(9, e.source.as_str()).unwrap();
                insert.raw_bind_parameter(10, e.referer.as_deref()).unwrap();
                insert.raw_bind_parameter(11, e.latency_ms).unwrap();
                insert.raw_bind_parameter(12, f64::from(*score)).unwrap();
                insert.raw_execute().expect("insert");
            }
        }
        tx.commit().expect("commit");
        let took = started.elapsed();
        run.elapsed += took;
        run.slowest_batch = run.slowest_batch.max(took);
        run.events += n;
    }
    run.db_bytes = ["", "-wal"]
        .iter()
        .filter_map(|s| std::fs::metadata(format!("{}{s}", path.display())).ok())
        .map(|m| m.len())
        .sum();
    run
}

/// A deterministic stream of nginx `combined` access-log events: a skewed population of
/// 50,000 clients, a mix of pages, assets and API calls, and a realistic status mix.
struct Traffic {
    state: u64,
    timestamp_ms: i64,
}

const USER_AGENTS: [&str; 8] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "curl/8.5.0",
    "python-requests/2.31.0",
    "Go-http-client/1.1",
];
const REFERERS: [&str; 4] =
    ["https://shop.example.com/", "https://www.google.com/", "https://shop.example.com/cart", "https://t.co/x1y2z3"];
const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

impl Traffic {
    fn new(seed: u64) -> Self {
        // 2025-04-01T00:00:00Z
        Traffic { state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1, timestamp_ms: 1_743_465_600_000 }
    }

    fn next(&mut self) -> u64 {
        // xorshift64*
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn next_event(&mut self) -> (Event, f32) {
        self.timestamp_ms += self.below(4) as i64;
        // The product of two uniforms skews toward low client numbers: a few heavy clients.
        let client = (self.unit() * self.unit() * 50_000.0) as u64;
        let ip = client_ip(client);
        let method = match self.below(100) {
            0..85 => "GET",
            85..95 => "POST",
            95..97 => "PUT",
            97..99 => "HEAD",
            _ => "DELETE",
        };
        let url = match self.below(10) {
            0..3 => format!("/api/v1/products/{}", self.below(20_000)),
            3..5 => format!("/static/js/app.{:08x}.js", self.below(16)),
            5 => format!("/images/p/{}.jpg", self.below(5_000)),
            6 => format!("/search?q=item{}&page={}", self.below(1_000), 1 + self.below(5)),
            7 => "/".to_owned(),
            8 => format!("/api/v1/users/{}/orders", self.below(100_000)),
            _ => "/cart".to_owned(),
        };
        let status_code = match self.below(1000) {
            0..850 => 200,
            850..900 => 304,
            900..940 => 404,
            940..960 => 301,
            960..975 => 302,
            975..985 => 403,
            985..993 => 500,
            993..997 => 502,
            _ => 401,
        };
        let bytes_sent = if status_code == 304 { 0 } else { 200 + self.below(60_000) };
        let user_agent = USER_AGENTS[(self.unit() * self.unit() * 8.0) as usize];
        let referer = (self.below(10) < 6).then(|| REFERERS[self.below(4) as usize].to_owned());
        let latency = 0.2 + self.unit() * self.unit() * 800.0;
        let latency_ms = Some(latency);
        let raw = format!(
            "{ip} - - [{}] \"{method} {url} HTTP/1.1\" {status_code} {bytes_sent} \"{}\" \"{user_agent}\" {:.3}",
            clf_time(self.timestamp_ms),
            referer.as_deref().unwrap_or("-"),
            latency / 1000.0,
        );
        // About one event in 200 scores as an anomaly.
        let score = if self.below(200) == 0 { 0.9 + self.unit() as f32 * 0.1 } else { self.unit() as f32 * 0.6 };
        let event = Event {
            // The time its line shows, as a parser reads it: access logs write whole seconds.
            timestamp_ms: self.timestamp_ms - self.timestamp_ms % 1000,
            ip,
            method: method.to_owned(),
            url,
            status_code,
            bytes_sent,
            user_agent: user_agent.to_owned(),
            raw,
            source: SOURCE.to_owned(),
            referer,
            latency_ms,
            fields: serde_json::Map::new(),
            template_id: None,
        };
        (event, score)
    }
}

/// The address of client number `client`.
fn client_ip(client: u64) -> String {
    let h = client.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    format!("{}.{}.{}.{}", 11 + (h >> 56) % 200, (h >> 48) & 255, (h >> 40) & 255, 1 + (h >> 32) % 254)
}

/// `01/Apr/2025:12:34:56 +0000` for a Unix time in milliseconds.
fn clf_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{day:02}/{}/{year}:{:02}:{:02}:{:02} +0000",
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
