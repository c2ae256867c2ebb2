//! Summarizer throughput: the default `builtin:window-summary` component folding realistic
//! access-log batches (4,096 events, 50,000 client addresses, ids in URLs, 1% anomalies) in
//! its sandbox, as the agent's summarizer thread does, then emitting the window's summary.
//! This is the cost the summarizer thread pays per committed event, off the ingest path.
//!
//! Run: `cargo bench -p vigil --bench summarize -- --events 2000000`

use std::time::{Duration, Instant};
use vigil::config::{PluginLimits, PluginSource};
use vigil::detect::{EncodedBatch, PluginEngine};
use vigil::event::Event;
use vigil::summarize::{FoldAnomaly, SummarizerHost, SummarizerSpec};

const BATCH: usize = 4_096;

fn main() {
    let events = parse_events();
    let engine = PluginEngine::new(None).expect("engine");
    let spec = SummarizerSpec {
        name: None,
        source: PluginSource::Builtin("window-summary"),
        window: Duration::from_secs(60),
        queue: 256,
        limits: PluginLimits { max_memory_bytes: 256 << 20, call_timeout: Duration::from_secs(5), fuel: None },
        config_json: "{}".into(),
    };
    let mut host = SummarizerHost::start(&engine, &spec).expect("window-summary starts");
    let batches: Vec<Vec<Event>> = (0..8).map(|b| batch(b * BATCH)).collect();
    let scores = vec![0.3f32; BATCH];
    let anomalies: Vec<FoldAnomaly> = (0..BATCH / 100)
        .map(|i| FoldAnomaly {
            index: (i * 100) as u32,
            event_id: i as i64,
            score: 0.8,
            detector: "isolation-forest".into(),
            reason: format!("rare url pattern {}", i % 7),
        })
        .collect();

    println!("summarize: window-summary component, {events} events in batches of {BATCH}");
    let started = Instant::now();
    let mut folded = 0;
    let mut encode_time = Duration::ZERO;
    while folded < events {
        // Encoding is part of the cost: the summarizer thread encodes each committed batch.
        let t = Instant::now();
        let again = EncodedBatch::encode(&batches[(folded / BATCH) % batches.len()]).unwrap();
        encode_time += t.elapsed();
        host.fold(&again, &scores, &anomalies).expect("fold");
        folded += BATCH;
    }
    let fold_time = started.elapsed();
    let t = Instant::now();
    let summary = host.emit(0, 60_000).expect("emit");
    let emit_time = t.elapsed();
    println!(
        "fold: {:>9.0} events/s ({folded} events in {:.2} s, of which encoding {:.2} s)",
        folded as f64 / fold_time.as_secs_f64(),
        fold_time.as_secs_f64(),
        encode_time.as_secs_f64()
    );
    println!(
        "emit: {:.1} ms for a window of {folded} events ({} bytes of JSON)",
        emit_time.as_secs_f64() * 1e3,
        summary.data.len()
    );
}

fn batch(offset: usize) -> Vec<Event> {
    let methods = ["GET", "GET", "GET", "POST", "PUT", "DELETE"];
    let statuses = [200, 200, 200, 200, 304, 404, 500, 302];
    (offset..offset + BATCH)
        .map(|i| {
            let n = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
            Event {
                timestamp_ms: 1_743_508_800_000 + i as i64,
                ip: format!("10.{}.{}.{}", n % 200, (n >> 8) % 250, (n >> 16) % 250 % 4),
                method: methods[i % methods.len()].into(),
                url: format!("/api/v1/items/{}?page={}", n % 100_000, i % 10),
                status_code: statuses[i % statuses.len()],
                bytes_sent: n % 50_000,
                user_agent: format!("Mozilla/5.0 (client {})", n % 300),
                source: "bench".into(),
                ..Event::default()
            }
        })
        .collect()
}

fn parse_events() -> usize {
    let args: Vec<String> = std::env::args().collect();
    let mut events = 2_000_000;
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
