//! A small web shop's traffic: who visits, what they ask for, and what the server answers.
//! Normal requests come from a pool of returning clients browsing pages, static files and the
//! JSON API; the incidents in `incidents.rs` bend this model for a while.

use fastrand::Rng;

/// One request as the front server and the application see it.
#[derive(Debug, Clone)]
pub struct Request {
    pub ip: String,
    pub method: &'static str,
    pub url: String,
    pub status: u16,
    pub bytes: u64,
    pub user_agent: String,
    pub referer: &'static str,
    /// Time to answer, seconds (nginx `$request_time`).
    pub latency_s: f64,
}

impl Request {
    /// Requests the application backend handles itself and reports over `/ws/application`;
    /// everything else is answered by the front server and lands in its access log.
    pub fn is_api(&self) -> bool {
        self.url.starts_with("/api/")
    }
}

const BROWSERS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
];

const PRODUCTS: u32 = 24;
const CATEGORIES: &[&str] = &["shoes", "jackets", "bags", "hats", "socks", "sale"];
const SEARCHES: &[&str] = &["boots", "rain+jacket", "wool", "red", "size+42", "gift"];

/// Returning clients: documentation-range addresses (RFC 5737), so no real host is named.
pub struct Clients {
    ips: Vec<String>,
    agents: Vec<&'static str>,
}

impl Clients {
    pub fn new(rng: &mut Rng, count: usize) -> Clients {
        let blocks = ["192.0.2", "198.51.100", "203.0.113"];
        let ips = (0..count).map(|i| format!("{}.{}", blocks[i % blocks.len()], 10 + rng.u8(..240))).collect();
        let agents = (0..count).map(|_| BROWSERS[rng.usize(..BROWSERS.len())]).collect();
        Clients { ips, agents }
    }

    /// A client, the busier ones more often (a few regulars make most requests).
    fn pick(&self, rng: &mut Rng) -> (String, &'static str) {
        let skewed = (rng.f64().powi(2) * self.ips.len() as f64) as usize;
        (self.ips[skewed].clone(), self.agents[skewed])
    }
}

/// One ordinary request.
pub fn normal(rng: &mut Rng, clients: &Clients) -> Request {
    let (ip, agent) = clients.pick(rng);
    let roll = rng.u32(..100);
    let (method, url, bytes, latency_s): (&'static str, String, u64, f64) = match roll {
        0..=14 => ("GET", "/".into(), 18_000 + rng.u64(..4_000), 0.012),
        15..=39 => ("GET", format!("/products/{}", rng.u32(1..=PRODUCTS)), 24_000 + rng.u64(..9_000), 0.02),
        40..=49 => ("GET", format!("/category/{}", CATEGORIES[rng.usize(..CATEGORIES.len())]), 31_000, 0.03),
        50..=56 => ("GET", format!("/search?q={}", SEARCHES[rng.usize(..SEARCHES.len())]), 27_000, 0.08),
        57..=71 => ("GET", static_file(rng), 2_000 + rng.u64(..120_000), 0.002),
        72..=81 => ("GET", format!("/api/v1/products/{}", rng.u32(1..=PRODUCTS)), 900 + rng.u64(..600), 0.015),
        82..=88 => ("GET", "/api/v1/cart".into(), 400 + rng.u64(..800), 0.01),
        89..=93 => ("POST", "/api/v1/cart/items".into(), 350 + rng.u64(..100), 0.03),
        94..=96 => ("GET", "/api/v1/recommendations".into(), 2_500 + rng.u64(..1_500), 0.06),
        97 => ("POST", "/api/v1/checkout".into(), 700 + rng.u64(..200), 0.25),
        _ => ("POST", "/api/v1/login".into(), 300, 0.09),
    };
    // A few broken links and expired sessions, as on any site.
    let status = match rng.u32(..1000) {
        0..=14 => 404,
        15..=19 if url.starts_with("/api/") => 401,
        20..=59 if url.starts_with("/static/") => 304,
        _ => 200,
    };
    let bytes = if status == 304 {
        0
    } else if status >= 400 {
        150 + rng.u64(..50)
    } else {
        bytes
    };
    Request {
        ip,
        method,
        url,
        status,
        bytes,
        user_agent: agent.to_owned(),
        referer: if roll < 15 { "-" } else { "https://shop.example/" },
        latency_s: latency_s * (0.5 + rng.f64()),
    }
}

fn static_file(rng: &mut Rng) -> String {
    match rng.u32(..4) {
        0 => "/static/app.js".into(),
        1 => "/static/site.css".into(),
        2 => format!("/static/img/p{}.webp", rng.u32(1..=PRODUCTS)),
        _ => "/favicon.ico".into(),
    }
}
