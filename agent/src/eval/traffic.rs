//! Simulated clients for replayed requests: who sends each request and when. Seeded, so every
//! run replays the same timeline, and blind to labels.

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny seeded generator. Hand-written because the
/// agent has no random-number crate and the replay must be reproducible from a seed across
/// versions, which `rand`'s `StdRng` does not promise.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, n)` (`n > 0`); the modulo bias is below 2^-40 for the small `n` used.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Browsers the simulated clients use, one per client.
const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
];

/// Distinct client addresses: three documentation ranges (RFC 5737), 254 each.
const POOL: u64 = 762;
/// Clients browsing at the same time.
const ACTIVE: usize = 32;
/// Mean time between two requests of the site, ms (20 requests/s).
const MEAN_GAP_MS: f64 = 50.0;

/// Who sent a request, and when.
#[derive(Debug, Clone)]
pub struct Visit {
    pub ip: String,
    pub user_agent: &'static str,
    pub timestamp_ms: i64,
}

/// A site's visitors: [`ACTIVE`] clients browse at once, each for 5-60 requests, then another
/// takes its place; requests arrive as a Poisson process.
#[derive(Debug, Clone)]
pub struct Clients {
    rng: SplitMix64,
    clock_ms: f64,
    active: Vec<(u64, u32)>,
}

impl Clients {
    /// A timeline starting at `start_ms`.
    pub fn new(seed: u64, start_ms: i64) -> Self {
        let mut clients = Clients { rng: SplitMix64::new(seed), clock_ms: start_ms as f64, active: Vec::new() };
        clients.active = (0..ACTIVE).map(|_| clients.newcomer()).collect();
        clients
    }

    fn newcomer(&mut self) -> (u64, u32) {
        // Squaring a uniform draw favours low indices: a few regulars, a long tail.
        let u = self.rng.unit();
        ((u * u * POOL as f64) as u64, 5 + self.rng.below(56) as u32)
    }

    /// The next request's sender and time.
    pub fn next(&mut self) -> Visit {
        self.clock_ms += -MEAN_GAP_MS * (1.0 - self.rng.unit()).ln();
        let slot = self.rng.below(ACTIVE as u64) as usize;
        let (client, left) = self.active[slot];
        self.active[slot] = if left <= 1 { self.newcomer() } else { (client, left - 1) };
        Visit {
            ip: client_ip(client),
            user_agent: USER_AGENTS[client as usize % USER_AGENTS.len()],
            timestamp_ms: self.clock_ms as i64,
        }
    }
}

fn client_ip(client: u64) -> String {
    let net = ["192.0.2", "198.51.100", "203.0.113"][(client / 254) as usize % 3];
    format!("{net}.{}", client % 254 + 1)
}

/// A response size for a request target: fixed per path (a page is the same size each time),
/// 300 B to 20 KB, derived from the path alone.
pub fn bytes_for(url: &str) -> u64 {
    let path = url.split('?').next().unwrap_or(url);
    // FNV-1a: any stable hash will do; this one is three lines.
    let hash = path.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    300 + hash % 19_700
}
