//! The embedded index, the outbox and the filter, against real SQLite files.

use super::*;
use crate::event::Event;
use crate::store::{CommitBatch, NewAnomaly, OutboxAck, ScoredEvent, Store, StoreConfig, StoreKind};
use serde_json::json;
use std::sync::Arc;

fn open(kind: StoreKind) -> Arc<Store> {
    let dir = tempfile::tempdir().unwrap().keep();
    Arc::new(Store::open(&dir, &StoreConfig { kind, ..StoreConfig::default() }).unwrap())
}

fn event(i: usize, url: &str, status: u16) -> Event {
    Event {
        timestamp_ms: 1_743_510_896_000 + i as i64 * 1000,
        ip: format!("10.0.0.{}", i % 250),
        method: "GET".into(),
        url: url.into(),
        status_code: status,
        bytes_sent: 512,
        user_agent: "curl/8".into(),
        source: "test".into(),
        ..Event::default()
    }
}

/// A batch of `n` events where every tenth is an anomaly on /admin.
fn batch(n: usize) -> CommitBatch {
    let events = (0..n)
        .map(|i| {
            let (url, status) = if i % 10 == 9 { ("/admin/login", 500) } else { ("/index.html", 200) };
            ScoredEvent { event: event(i, url, status), anomaly_score: Some(if i % 10 == 9 { 0.9 } else { 0.1 }) }
        })
        .collect();
    let anomalies = (0..n)
        .filter(|i| i % 10 == 9)
        .map(|i| NewAnomaly {
            event_index: i,
            detector: "isolation-forest".into(),
            score: 0.9,
            reason: "rare url".into(),
        })
        .collect();
    CommitBatch { events, anomalies, ..CommitBatch::default() }
}

fn meta(value: serde_json::Value) -> Metadata {
    value.as_object().unwrap().clone()
}

#[tokio::test]
async fn embedded_search_returns_the_nearest_summaries_first_and_applies_the_filter() {
    let index = VectorIndex::new(open(StoreKind::Embedded), None);
    let docs = [
        ("s1", "Login failures spiked: 40 POST /login answered 401 from 10.0.0.7", 100),
        ("s2", "Static images served normally, 2000 GET /static/img requests", 200),
        ("s3", "Checkout errors: 12 responses 500 on /checkout", 300),
    ];
    for (id, text, ts) in docs {
        let embedding = index.embedder().embed(text);
        index.upsert(Collection::Summaries, id, text, embedding, meta(json!({ "timestamp": ts }))).await.unwrap();
    }
    let hits = index.search(Collection::Summaries, "failed logins", 3, &Filter::none()).await.unwrap();
    assert_eq!(hits.iter().map(|h| h.id.as_str()).collect::<Vec<_>>()[0], "s1");
    assert_eq!(hits.len(), 3);
    assert!(hits.windows(2).all(|w| w[0].distance <= w[1].distance), "{hits:?}");
    assert_eq!(hits[0].document, docs[0].1);
    assert_eq!(hits[0].metadata["timestamp"], json!(100));

    let later = Filter::none().gte("timestamp", 150.0);
    let hits = index.search(Collection::Summaries, "failed logins", 3, &later).await.unwrap();
    let mut ids: Vec<&str> = hits.iter().map(|h| h.id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["s2", "s3"]);
    assert_eq!(hits.len(), 2);

    // An upsert by the same id replaces the record.
    let text = "Nothing happened at all";
    index.upsert(Collection::Summaries, "s1", text, index.embedder().embed(text), Metadata::new()).await.unwrap();
    let hits = index.search(Collection::Summaries, "nothing happened", 1, &Filter::none()).await.unwrap();
    assert_eq!((hits[0].id.as_str(), hits[0].document.as_str()), ("s1", text));
}

#[tokio::test]
async fn anomalies_are_searchable_as_soon_as_their_commit_returns() {
    let store = open(StoreKind::Embedded);
    store.commit(&batch(100)).unwrap();
    let index = VectorIndex::new(store.clone(), None);
    let filter = Filter::none().eq("status_code", 500);
    let hits = index.search(Collection::Anomalies, "admin login errors", 50, &filter).await.unwrap();
    assert_eq!(hits.len(), 10);
    let hit = &hits[0];
    assert!(hit.id.starts_with("anomaly-"), "{hit:?}");
    assert!(hit.document.contains("rare url") && hit.document.contains("/admin/login"), "{hit:?}");
    for key in ["ip", "method", "status_code", "path", "timestamp", "anomaly_score", "source", "event_id"] {
        assert!(hit.metadata.contains_key(key), "{key} missing in {:?}", hit.metadata);
    }
    assert_eq!(store.vector_count(Collection::Anomalies).unwrap(), 10);
    // The embedded store keeps no logs collection.
    let logs = index.search(Collection::Logs, "admin", 5, &Filter::none()).await.unwrap_err();
    assert!(matches!(logs, VectorError::NotIndexed { collection: Collection::Logs }), "{logs}");
}

#[tokio::test]
async fn a_query_vector_of_the_wrong_length_is_a_clear_error() {
    let index = VectorIndex::new(open(StoreKind::Embedded), None);
    let err = index.query(Collection::Summaries, &[1.0, 0.0], 3, &Filter::none()).await.unwrap_err();
    assert!(err.to_string().contains("has 2 dimensions but the embedder hashed-ngrams-v1-384 makes 384"), "{err}");
}

#[test]
fn the_outbox_is_written_with_the_commit_only_for_chroma() {
    let embedded = open(StoreKind::Embedded);
    embedded.commit(&batch(50)).unwrap();
    assert_eq!(embedded.outbox_depth().unwrap().rows, 0);
    assert_eq!(embedded.outbox_next(100).unwrap(), None);

    let chroma = open(StoreKind::Chroma);
    chroma.commit(&batch(50)).unwrap();
    chroma.commit(&batch(30)).unwrap();
    let depth = chroma.outbox_depth().unwrap();
    assert_eq!((depth.rows, depth.events, depth.records), (2, 80, 0));
}

#[test]
fn collections_chroma_made_anew_get_everything_the_store_holds_queued_again() {
    let store = open(StoreKind::Chroma);
    store.commit(&batch(30)).unwrap();
    let summary = crate::store::NewSummary {
        summarizer: "window-summary".into(),
        window_start_ms: 1_743_510_840_000,
        window_end_ms: 1_743_510_900_000,
        first_event_ms: None,
        last_event_ms: None,
        events: 30,
        anomalies: 3,
        skipped_events: 0,
        partial: false,
        text: "a quiet minute".into(),
        data: serde_json::Map::new(),
    };
    store.insert_summary(&summary).unwrap();
    // Chroma has it all.
    while let Some(work) = store.outbox_next(100).unwrap() {
        store.outbox_ack(&work.ack).unwrap();
    }
    let ids = |logs: &str, summaries: &str| {
        vec![
            (Collection::Logs, logs.to_owned()),
            (Collection::Anomalies, "a1".to_owned()),
            (Collection::Summaries, summaries.to_owned()),
        ]
    };
    // First seen: only noted. Seen again unchanged: nothing.
    assert_eq!(store.chroma_collections_seen(&ids("l1", "s1")).unwrap(), crate::store::Resent::default());
    assert_eq!(store.chroma_collections_seen(&ids("l1", "s1")).unwrap(), crate::store::Resent::default());
    assert_eq!(store.outbox_depth().unwrap().rows, 0);

    // The logs collection made anew: every stored event (and its anomalies) is queued again.
    let resent = store.chroma_collections_seen(&ids("l2", "s1")).unwrap();
    assert_eq!((resent.collections, resent.events, resent.summaries), (vec![Collection::Logs], Some((1, 30)), 0));
    let mut again = Vec::new();
    while let Some(work) = store.outbox_next(7).unwrap() {
        again.extend(work.records.into_iter().map(|(c, r)| (c, r.id)));
        store.outbox_ack(&work.ack).unwrap();
    }
    assert_eq!(again.iter().filter(|(c, _)| *c == Collection::Logs).count(), 30);
    assert_eq!(again.iter().filter(|(c, _)| *c == Collection::Anomalies).count(), 3);

    // The summaries collection made anew: the stored summary, as first sent.
    let resent = store.chroma_collections_seen(&ids("l2", "s2")).unwrap();
    assert_eq!((resent.collections, resent.events, resent.summaries), (vec![Collection::Summaries], None, 1));
    let work = store.outbox_next(10).unwrap().unwrap();
    assert_eq!(work.records.len(), 1);
    let (collection, record) = &work.records[0];
    assert_eq!(
        (*collection, record.id.as_str(), record.document.as_str()),
        (Collection::Summaries, "summary-1", "a quiet minute")
    );
    assert_eq!(record.metadata["events"], json!(30));
}

#[test]
fn draining_the_outbox_in_small_batches_yields_every_record_once() {
    let store = open(StoreKind::Chroma);
    store.commit(&batch(25)).unwrap();
    store.commit(&batch(10)).unwrap();
    let conn_kind = store.config().kind;
    {
        let mut guard = store.writer();
        let tx = guard.conn.transaction().unwrap();
        crate::store::enqueue_summary(&tx, conn_kind, "w1", "a quiet minute", &meta(json!({ "timestamp": 5 })))
            .unwrap();
        tx.commit().unwrap();
    }
    let mut seen = Vec::new();
    let mut rounds = 0;
    while let Some(work) = store.outbox_next(8).unwrap() {
        rounds += 1;
        // Not acknowledged: the same work comes again.
        assert_eq!(store.outbox_next(8).unwrap().as_ref(), Some(&work));
        seen.extend(work.records.iter().map(|(c, r)| format!("{c}/{}", r.id)));
        store.outbox_ack(&work.ack).unwrap();
    }
    let logs = seen.iter().filter(|s| s.starts_with("logs/log-")).count();
    let anomalies = seen.iter().filter(|s| s.starts_with("anomalies/anomaly-")).count();
    assert_eq!((logs, anomalies), (35, 3));
    assert!(seen.contains(&"summaries/summary-w1".to_owned()));
    let unique: std::collections::HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "a record came twice: {seen:?}");
    assert_eq!(rounds, 4 + 2 + 1);
    assert_eq!(store.outbox_depth().unwrap().rows, 0);
    // The summary is in the embedded index too.
    assert_eq!(store.vector_count(Collection::Summaries).unwrap(), 1);
}

#[test]
fn log_records_for_chroma_carry_each_line_as_read_also_when_it_was_stored_once() {
    let store = open(StoreKind::Chroma);
    let lines = [
        // Written again from its columns (stored once) ...
        r#"10.0.0.1 - - [01/Apr/2025:12:34:56 +0200] "GET /index.html HTTP/1.1" 200 512 "-" "curl/8""#,
        r#"10.0.0.2 - - [01/Apr/2025:12:34:57 +0200] "POST /login HTTP/1.0" 401 - "https://a.example/" "x" 0.042"#,
        // ... and kept as it came: an escaped quote.
        r#"10.0.0.3 - - [01/Apr/2025:12:34:58 +0200] "GET /q?a=\"b\" HTTP/1.1" 200 1 "-" "y""#,
    ];
    let parser = crate::parse::Parser::combined();
    let events = lines
        .iter()
        .map(|line| ScoredEvent { event: parser.parse(line, "file:a.log").event, anomaly_score: Some(0.1) })
        .collect();
    store.commit(&CommitBatch { events, ..CommitBatch::default() }).unwrap();
    let stored_once: i64 =
        store.writer().conn.query_row("SELECT count(raw_layout) FROM events WHERE raw = ''", [], |r| r.get(0)).unwrap();
    assert_eq!(stored_once, 2);
    let work = store.outbox_next(100).unwrap().unwrap();
    let documents: Vec<&str> = work.records.iter().map(|(_, r)| r.document.as_str()).collect();
    assert_eq!(documents, lines);
}

#[test]
fn events_deleted_before_they_were_sent_are_skipped() {
    let store = open(StoreKind::Chroma);
    store.commit(&batch(5)).unwrap();
    {
        let guard = store.writer();
        guard.conn.execute("DELETE FROM events", []).unwrap();
    }
    assert_eq!(store.outbox_next(100).unwrap(), None);
    assert_eq!(store.outbox_depth().unwrap().rows, 0);
    assert_eq!(store.prune_vectors().unwrap(), 0);
    // Events 6..=25, anomalies on events 15 and 25; retention takes everything before 20.
    store.commit(&batch(20)).unwrap();
    {
        let guard = store.writer();
        guard.conn.execute("DELETE FROM events WHERE id < 20", []).unwrap();
    }
    assert_eq!(store.prune_vectors().unwrap(), 1);
    let work = store.outbox_next(100).unwrap().unwrap();
    let ids: Vec<&str> = work.records.iter().map(|(_, r)| r.id.as_str()).collect();
    assert_eq!(ids, ["log-20", "log-21", "log-22", "log-23", "log-24", "log-25", "anomaly-2"]);
    assert!(matches!(work.ack, OutboxAck::Events { upto: 25, .. }));
}

#[test]
fn retention_by_age_keeps_the_events_chroma_has_not_received() {
    // Events of 2025 against a 7-day limit: expired as soon as they are stored.
    let store = open(StoreKind::Chroma);
    store.commit(&batch(30)).unwrap();
    let now = jiff::Timestamp::now().as_millisecond();
    let report = store.enforce_retention(now).unwrap();
    assert_eq!((report.expired_events, report.unsent_evicted), (0, 0), "{report:?}");
    assert_eq!(store.outbox_depth().unwrap().events, 30);

    // Chroma takes the first 10; only those may go.
    let work = store.outbox_next(10).unwrap().unwrap();
    store.outbox_ack(&work.ack).unwrap();
    assert_eq!(store.enforce_retention(now).unwrap().expired_events, 10);
    let rest = store.outbox_next(100).unwrap().unwrap();
    let logs = rest.records.iter().filter(|(c, _)| *c == Collection::Logs).count();
    assert_eq!((logs, rest.records.first().map(|(_, r)| r.id.as_str())), (20, Some("log-11")));
    store.outbox_ack(&rest.ack).unwrap();
    assert_eq!(store.enforce_retention(now).unwrap().expired_events, 20);

    // The embedded store has no outbox: its old events go at once.
    let embedded = open(StoreKind::Embedded);
    embedded.commit(&batch(30)).unwrap();
    assert_eq!(embedded.enforce_retention(now).unwrap().expired_events, 30);
}

#[test]
fn the_size_limit_may_take_unsent_events_and_counts_them() {
    let dir = tempfile::tempdir().unwrap().keep();
    let config = StoreConfig {
        kind: StoreKind::Chroma,
        retention_days: 0,
        max_size_mib: 1,
        retention_chunk: 500,
        ..StoreConfig::default()
    };
    let store = Store::open(&dir, &config).unwrap();
    let padding = "x".repeat(800);
    let mut big = batch(4_000);
    for e in &mut big.events {
        e.event.user_agent = padding.clone();
    }
    store.commit(&big).unwrap();
    // Chroma has the first 100 events only.
    let sent = store.outbox_next(100).unwrap().unwrap();
    store.outbox_ack(&sent.ack).unwrap();

    let report = store.enforce_retention(0).unwrap();
    assert!(report.evicted_events > 100, "{report:?}");
    assert_eq!(report.unsent_evicted, report.evicted_events - 100, "{report:?}");
}

#[test]
fn filters_match_numbers_as_numbers_and_render_as_chroma_where() {
    let m = meta(json!({ "status_code": 500, "ip": "10.0.0.1", "timestamp": 100 }));
    assert!(Filter::none().matches(&m));
    assert!(Filter::none().eq("status_code", 500.0).matches(&m));
    assert!(Filter::none().eq("ip", "10.0.0.1").gte("timestamp", 100.0).lte("timestamp", 100.0).matches(&m));
    assert!(!Filter::none().eq("ip", "10.0.0.2").matches(&m));
    assert!(!Filter::none().eq("missing", 1).matches(&m));
    assert_eq!(Filter::none().to_chroma_where(), None);
    assert_eq!(Filter::none().eq("status_code", 500).to_chroma_where(), Some(json!({ "status_code": { "$eq": 500 } })));
    assert_eq!(
        Filter::none().eq("ip", "a").gte("timestamp", 5.0).to_chroma_where(),
        Some(json!({ "$and": [{ "ip": { "$eq": "a" } }, { "timestamp": { "$gte": 5.0 } }] }))
    );
}

#[test]
fn chroma_config_problems_name_the_field() {
    let ok: ChromaConfig = toml::from_str("url = \"http://127.0.0.1:8000\"").unwrap();
    assert!(ok.problems().is_empty());
    assert_eq!(ok.collection_name(Collection::Anomalies), "vigil-anomalies");
    let bad: ChromaConfig =
        toml::from_str("url = \"127.0.0.1:8000\"\ncollection_prefix = \"-x\"\nbatch_size = 0").unwrap();
    let fields: Vec<_> = bad.problems().into_iter().map(|(f, _, _)| f).collect();
    assert_eq!(fields, ["url", "collection_prefix", "batch_size"]);
    let unknown = toml::from_str::<ChromaConfig>("urll = \"x\"").unwrap_err().to_string();
    assert!(unknown.contains("unknown field `urll`"), "{unknown}");
}

#[test]
fn a_chroma_token_is_checked_for_what_a_header_carries_and_never_printed() {
    let token = |line: &str| toml::from_str::<ChromaConfig>(line).unwrap();
    for bad in ["token = \"\"", "token = \"two words\"", "token = \"k\\n\"", "token = \"clé\""] {
        let fields: Vec<_> = token(bad).problems().into_iter().map(|(f, _, _)| f).collect();
        assert_eq!(fields, ["token"], "{bad}");
    }
    let good = token("token = \"ck-9f8e/7d+6c=\"\ntoken_header = \"x-chroma-token\"");
    assert!(good.problems().is_empty());
    let (name, value) = good.token_header.header(good.token.as_ref().unwrap());
    assert_eq!((name, value.as_str()), ("x-chroma-token", "ck-9f8e/7d+6c="));
    let bearer = token("token = \"abc\"");
    assert_eq!(bearer.token_header.header(bearer.token.as_ref().unwrap()).1, "Bearer abc");
    assert!(!format!("{good:?}").contains("ck-9f8e"), "Debug shows the token: {good:?}");
    let wrong = toml::from_str::<ChromaConfig>("token_header = \"bearer\"").unwrap_err().to_string();
    assert!(wrong.contains("authorization") && wrong.contains("x-chroma-token"), "{wrong}");
}

#[test]
fn a_chroma_error_names_each_cause_once() {
    let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused (os error 111)");
    let error = anyhow::Error::new(io)
        .context("tcp connect error: Connection refused (os error 111)")
        .context("error sending request for url (http://127.0.0.1:1/api/v2)");
    assert_eq!(
        super::chroma::chain_text(&error),
        "error sending request for url (http://127.0.0.1:1/api/v2): tcp connect error: Connection refused (os error 111)"
    );
}
