//! Retention against real SQLite files: what goes with an event, and how much the size limit
//! takes.

use super::*;
use crate::event::Event;
use crate::vector::Collection;
use tempfile::TempDir;

const DAY_MS: i64 = 86_400_000;

/// An access-log event at `timestamp_ms`, different from its neighbours so its anomaly
/// vector is too.
fn event(timestamp_ms: i64, n: usize) -> Event {
    let url = format!("/api/items/{n}?q=select+{n}+from+users");
    Event {
        timestamp_ms,
        ip: format!("10.0.{}.{}", n / 250 % 250, n % 250),
        method: "GET".into(),
        status_code: 404,
        bytes_sent: 512,
        user_agent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0".into(),
        raw: format!("10.0.0.1 - - \"GET {url} HTTP/1.1\" 404 512"),
        url,
        source: "file:/var/log/nginx/access.log".into(),
        ..Event::default()
    }
}

/// Events at `timestamps`, every one of them an anomaly (so each has a vector).
fn anomalous(timestamps: impl Iterator<Item = i64>) -> CommitBatch {
    let events: Vec<ScoredEvent> =
        timestamps.enumerate().map(|(n, ts)| ScoredEvent { event: event(ts, n), anomaly_score: Some(0.9) }).collect();
    let anomalies = (0..events.len())
        .map(|event_index| NewAnomaly { event_index, detector: "d".into(), score: 0.9, reason: "odd".into() })
        .collect();
    CommitBatch { events, anomalies, ..CommitBatch::default() }
}

fn count(store: &Store, sql: &str) -> u64 {
    store.writer().conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap() as u64
}

/// Vectors tied to an event that is gone, or to an anomaly that is gone.
fn orphan_vectors(store: &Store) -> u64 {
    count(
        store,
        "SELECT count(*) FROM vectors WHERE event_id IS NOT NULL AND (event_id NOT IN (SELECT id FROM events) \
         OR (collection = 'anomalies' AND id NOT IN (SELECT 'anomaly-' || id FROM anomalies)))",
    )
}

#[test]
fn vectors_of_events_expired_by_age_go_with_them_whatever_their_ids() {
    let dir = TempDir::new().unwrap();
    let config = StoreConfig { retention_days: 1, retention_chunk: 100, ..StoreConfig::default() };
    let store = Store::open(dir.path(), &config).unwrap();
    let now = 10 * DAY_MS;
    // Live traffic first (ids 1..=200, recent), then a backfill of old files (ids 201..=500).
    store.commit(&anomalous((0..200).map(|i| now - i))).unwrap();
    store.commit(&anomalous((0..300).map(|i| DAY_MS + i))).unwrap();
    assert_eq!(store.vector_count(Collection::Anomalies).unwrap(), 500);

    // As the agent runs it: the sweep, then the vector pruning.
    let report = store.enforce_retention(now).unwrap();
    store.prune_vectors().unwrap();
    assert_eq!((report.expired_events, report.anomalies), (300, 300), "{report:?}");
    assert_eq!(orphan_vectors(&store), 0);
    assert_eq!(store.vector_count(Collection::Anomalies).unwrap(), 200);
}

#[test]
fn the_size_limit_evicts_the_oldest_events_and_their_vectors_only_until_under_it() {
    let dir = TempDir::new().unwrap();
    // The default chunk, as shipped.
    let config = StoreConfig { retention_days: 0, max_size_mib: 2, ..StoreConfig::default() };
    let max = config.max_size_bytes().unwrap();
    let store = Store::open(dir.path(), &config).unwrap();
    let mut total = 0u64;
    while store.counts().unwrap().bytes_used < 2 * max {
        let first = total as i64;
        store.commit(&anomalous((0..500).map(|i| DAY_MS + first + i))).unwrap();
        total += 500;
    }

    let report = store.enforce_retention(20 * DAY_MS).unwrap();
    store.prune_vectors().unwrap();
    let counts = store.counts().unwrap();
    assert!(report.bytes_after <= max && counts.bytes_used <= max, "{report:?} {counts:?}");
    // About half had to go; not much more than that.
    assert!(report.evicted_events > 0 && report.evicted_events < total * 6 / 10, "{total} events: {report:?}");
    assert!(counts.bytes_used > max * 8 / 10, "{counts:?}");
    assert_eq!(counts.events, total - report.evicted_events);
    assert_eq!(report.anomalies, report.evicted_events);
    // What is left is the newest events, each with its anomaly vector.
    let oldest_kept = count(&store, "SELECT min(id) FROM events");
    assert_eq!((oldest_kept, count(&store, "SELECT max(id) FROM events")), (report.evicted_events + 1, total));
    assert_eq!(orphan_vectors(&store), 0);
    assert_eq!(store.vector_count(Collection::Anomalies).unwrap(), counts.events);
}

#[test]
fn summaries_deleted_for_their_age_take_their_vectors_with_them() {
    let dir = TempDir::new().unwrap();
    let store = Store::open(dir.path(), &StoreConfig::default()).unwrap();
    for (n, end) in [(0, DAY_MS), (1, 2 * DAY_MS), (2, 9 * DAY_MS)] {
        let summary = NewSummary {
            summarizer: "hourly".into(),
            window_start_ms: end - 3_600_000,
            window_end_ms: end,
            first_event_ms: None,
            last_event_ms: None,
            events: 10,
            anomalies: 1,
            skipped_events: 0,
            partial: false,
            text: format!("window {n}: 10 requests, one odd login"),
            data: serde_json::Map::new(),
        };
        store.insert_summary(&summary).unwrap();
    }
    assert_eq!(store.vector_count(Collection::Summaries).unwrap(), 3);

    assert_eq!(store.delete_summaries_before(3 * DAY_MS).unwrap(), 2);
    let left = count(
        &store,
        "SELECT count(*) FROM vectors WHERE collection = 'summaries' \
         AND id NOT IN (SELECT 'summary-' || id FROM summaries)",
    );
    assert_eq!(left, 0);
    assert_eq!(store.vector_count(Collection::Summaries).unwrap(), 1);
}

#[test]
fn events_the_size_limit_takes_before_chroma_has_them_are_counted_in_the_outbox_depth() {
    let dir = TempDir::new().unwrap();
    let config = StoreConfig { kind: StoreKind::Chroma, retention_days: 0, max_size_mib: 1, ..StoreConfig::default() };
    let max = config.max_size_bytes().unwrap();
    {
        let store = Store::open(dir.path(), &config).unwrap();
        let mut total = 0;
        while store.counts().unwrap().bytes_used < 2 * max {
            store.commit(&anomalous((0..500).map(|i| DAY_MS + total + i))).unwrap();
            total += 500;
        }
        // Chroma has the first 100 events only.
        let sent = store.outbox_next(100).unwrap().unwrap();
        store.outbox_ack(&sent.ack).unwrap();
        assert_eq!(store.outbox_depth().unwrap().evicted_unsent, 0);

        let report = store.enforce_retention(20 * DAY_MS).unwrap();
        assert!(report.unsent_evicted > 0, "{report:?}");
        assert_eq!(store.outbox_depth().unwrap().evicted_unsent, report.unsent_evicted);
    }
    // Kept across a restart.
    let store = Store::open(dir.path(), &config).unwrap();
    assert!(store.outbox_depth().unwrap().evicted_unsent > 0);
}
