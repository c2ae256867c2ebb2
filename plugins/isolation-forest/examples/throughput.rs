//! Native throughput of `score()` (features + forest) after training, for batches of 1, 1,000
//! and 10,000 synthetic access-log events. The agent's benchmark is the real measure; this is
//! the plugin author's quick check: `cargo run --release --example throughput`.

use std::hint::black_box;
use std::time::Instant;

use vigil_isolation_forest::{Config, IsolationForestDetector};
use vigil_plugin_sdk::{Detector, Event, Settings};

/// A small xorshift, so the example needs nothing beyond the crate.
struct Xorshift(u64);

impl Xorshift {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn events(n: usize, seed: u64) -> Vec<Event> {
    const PAGES: [&str; 5] = ["/", "/static/app.js", "/api/items?page=2&sort=asc", "/blog/2024/05/post", "/login"];
    const AGENTS: [&str; 3] = [
        "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15",
        "curl/8.5.0",
    ];
    let mut rng = Xorshift(seed | 1);
    (0..n)
        .map(|i| Event {
            timestamp_ms: 1_700_000_000_000 + i as i64 * 2,
            ip: format!("10.{}.{}.{}", rng.below(4), rng.below(256), rng.below(256)),
            method: if rng.below(10) == 0 { "POST" } else { "GET" }.to_owned(),
            url: PAGES[rng.below(5) as usize].to_owned(),
            status_code: [200, 200, 200, 304, 404][rng.below(5) as usize],
            bytes_sent: rng.below(50_000),
            user_agent: AGENTS[rng.below(3) as usize].to_owned(),
            raw: String::new(),
        })
        .collect()
}

fn main() {
    let settings = Settings { threshold: 0.7 };
    let stream = events(200_000, 42);
    for batch in [1usize, 1_000, 10_000] {
        let mut detector = IsolationForestDetector::new(Config::default(), &settings).expect("default config");
        detector.train(&events(10_000, 7)).expect("train");
        // Score the whole stream once to warm caches, then time a second pass.
        let total = if batch == 1 { 50_000 } else { stream.len() };
        for chunk in stream[..total].chunks(batch) {
            black_box(detector.score(chunk).expect("score"));
        }
        let start = Instant::now();
        for chunk in stream[..total].chunks(batch) {
            black_box(detector.score(chunk).expect("score"));
        }
        let secs = start.elapsed().as_secs_f64();
        println!("batch {batch:>6}: {:>10.0} events/s ({:.0} ns/event)", total as f64 / secs, secs * 1e9 / total as f64);
    }
}
