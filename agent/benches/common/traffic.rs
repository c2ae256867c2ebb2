//! Synthetic access-log traffic for the benchmarks: a deterministic mix of clients, paths,
//! methods, statuses and user agents that looks like a web shop, with a few odd requests.

/// One access-log record with plain fields, convertible to each side's event type.
#[derive(Clone, Debug)]
pub struct Record {
    pub timestamp_ms: i64,
    pub ip: String,
    pub method: &'static str,
    pub url: String,
    pub status_code: u16,
    pub bytes_sent: u64,
    pub user_agent: &'static str,
}

impl Record {
    /// The record as the agent's event, what its plugin host scores.
    #[allow(dead_code)] // not every benchmark needs it
    pub fn host_event(&self) -> vigil::event::Event {
        vigil::event::Event {
            timestamp_ms: self.timestamp_ms,
            ip: self.ip.clone(),
            method: self.method.to_owned(),
            url: self.url.clone(),
            status_code: self.status_code,
            bytes_sent: self.bytes_sent,
            user_agent: self.user_agent.to_owned(),
            ..vigil::event::Event::default()
        }
    }
}

const PATHS: &[&str] = &[
    "/",
    "/products",
    "/products/42",
    "/cart",
    "/checkout",
    "/api/v1/items",
    "/search",
    "/login",
    "/static/app.js",
    "/static/style.css",
];
const AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "curl/8.5.0",
    "Googlebot/2.1 (+http://www.google.com/bot.html)",
];

/// A small deterministic generator (xorshift), so every run sees the same traffic.
pub struct Traffic {
    state: u64,
    clock_ms: i64,
}

impl Traffic {
    #[allow(dead_code)] // not every benchmark needs it
    pub fn new(seed: u64) -> Self {
        Traffic { state: seed | 1, clock_ms: 1_743_510_896_000 }
    }

    /// Traffic whose clock starts at `clock_ms` (and moves forward from there).
    #[allow(dead_code)] // not every benchmark needs it
    pub fn starting_at(seed: u64, clock_ms: i64) -> Self {
        Traffic { state: seed | 1, clock_ms }
    }

    fn next(&mut self) -> u64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state
    }

    pub fn record(&mut self) -> Record {
        let r = self.next();
        self.clock_ms += (r % 20) as i64;
        // Few clients send most requests.
        let client = (r >> 8) % 1000;
        let client = if client < 900 { client % 50 } else { client };
        let odd = r.is_multiple_of(997);
        let path = PATHS[((r >> 20) % PATHS.len() as u64) as usize];
        let url = if odd {
            "/cgi-bin/test.cgi?cmd=%27%3B%20cat%20%2Fetc%2Fpasswd%3B%27".to_owned()
        } else if path == "/search" {
            format!("/search?q=item{}&page={}", (r >> 30) % 500, (r >> 40) % 5)
        } else {
            path.to_owned()
        };
        let status = match (r >> 44) % 100 {
            0..=91 => 200,
            92..=95 => 304,
            96..=98 => 404,
            _ => 500,
        };
        Record {
            timestamp_ms: self.clock_ms,
            ip: format!("10.{}.{}.{}", client / 65536, (client / 256) % 256, client % 256),
            method: if (r >> 50).is_multiple_of(10) { "POST" } else { "GET" },
            url,
            status_code: if odd { 500 } else { status },
            bytes_sent: if odd { 0 } else { 200 + (r >> 52) % 20_000 },
            user_agent: AGENTS[((r >> 56) % AGENTS.len() as u64) as usize],
        }
    }

    #[allow(dead_code)] // not every benchmark needs it
    pub fn records(&mut self, n: usize) -> Vec<Record> {
        (0..n).map(|_| self.record()).collect()
    }
}
