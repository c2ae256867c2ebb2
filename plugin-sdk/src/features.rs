//! Feature extraction helpers for access-log detectors: the status class, the shape of a
//! request target, a bounded rarity counter and a stable hash. None of them allocates per
//! event, and every piece of state is of fixed size, so a detector built on them keeps flat
//! memory however many distinct clients, paths or User-Agents it sees.

use serde::{Deserialize, Serialize};

use crate::Event;

/// The hundreds digit of an HTTP status (2 for 200-299, 5 for 500-599); 0 when the event is
/// not an access log (status 0) or the status is outside 100-599.
pub fn status_class(status_code: u16) -> u8 {
    if (100..600).contains(&status_code) { (status_code / 100) as u8 } else { 0 }
}

/// A response size on a log scale, `ln(1 + bytes)`: sizes span orders of magnitude, and
/// distance-based detectors would otherwise see nothing but the size.
///
/// Taken in `f32` (the sum is exact below 16 MiB): in wasm, `f64::ln_1p` is a call to libm's
/// `log1p`, about twice the cost of `logf`.
pub fn log_bytes(bytes: u64) -> f32 {
    (bytes as f32 + 1.0).ln()
}

/// Bytes that are ordinary in a URL: letters, digits and `/ . - _`. Everything else
/// (percent signs, quotes, `<`, `;`, `=`, `&`, non-ASCII bytes) counts as special.
const ORDINARY: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || matches!(c, b'/' | b'.' | b'-' | b'_');
        b += 1;
    }
    table
};

/// What [`url_shape`] finds in a request target.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct UrlShape {
    /// Length in bytes.
    pub length: u32,
    /// Non-empty `/`-separated segments of the path (before `?` and `#`).
    pub depth: u32,
    /// Non-empty `&`-separated parameters of the query (between `?` and `#`).
    pub query_params: u32,
    /// Bytes outside letters, digits and `/ . - _`, as a share of the length (0 when empty).
    pub special_share: f32,
}

#[derive(Clone, Copy, PartialEq)]
enum Part {
    Path,
    Query,
    Fragment,
}

/// Measure a request target (`/a/b?x=1&y=2`) in one pass over its bytes.
pub fn url_shape(url: &str) -> UrlShape {
    let bytes = url.as_bytes();
    let (mut depth, mut params, mut special) = (0u32, 0u32, 0u32);
    let mut part = Part::Path;
    // Whether the current segment or parameter has already been counted.
    let mut in_item = false;
    for &b in bytes {
        special += u32::from(!ORDINARY[b as usize]);
        match (part, b) {
            (Part::Fragment, _) => {}
            (_, b'#') => part = Part::Fragment,
            (Part::Path, b'?') => (part, in_item) = (Part::Query, false),
            (Part::Path, b'/') | (Part::Query, b'&') => in_item = false,
            (Part::Path, _) if !in_item => (depth, in_item) = (depth + 1, true),
            (Part::Query, _) if !in_item => (params, in_item) = (params + 1, true),
            _ => {}
        }
    }
    let length = bytes.len() as u32;
    let special_share = if length == 0 { 0.0 } else { special as f32 / length as f32 };
    UrlShape { length, depth, query_params: params, special_share }
}

/// The stateless numeric features of an event, in a fixed order (see [`BASIC_FEATURE_NAMES`]):
/// status class, log bytes, URL length, depth, query parameters and special-character share.
pub fn basic_features(event: &Event<'_>) -> [f32; BASIC_FEATURES] {
    let shape = url_shape(event.url);
    [
        f32::from(status_class(event.status_code)),
        log_bytes(event.bytes_sent),
        shape.length as f32,
        shape.depth as f32,
        shape.query_params as f32,
        shape.special_share,
    ]
}

/// How many values [`basic_features`] returns.
pub const BASIC_FEATURES: usize = 6;

/// Names of [`basic_features`]' values, in order, for reasons and docs.
pub const BASIC_FEATURE_NAMES: [&str; BASIC_FEATURES] =
    ["status_class", "log_bytes", "url_length", "url_depth", "query_params", "url_special_share"];

/// What a path segment that names one resource among many becomes in a URL pattern
/// (`/users/{n}/orders/{id}`): `{n}` for a number, `{id}` for a hex id or UUID (8 or more hex
/// digits and dashes, at least one a digit), `{s}` for anything longer than 40 bytes (tokens,
/// hashes in other alphabets); `None` for a segment that names a page (`users`, `v2`,
/// `app.js`). One rule for every plugin, so a detector's "never requested before" and a
/// summary's "new URL patterns" agree on what a new page is.
pub fn path_segment_class(segment: &[u8]) -> Option<&'static str> {
    if segment.is_empty() {
        return None;
    }
    if segment.iter().all(u8::is_ascii_digit) {
        return Some("{n}");
    }
    let hexish = segment.iter().all(|b| b.is_ascii_hexdigit() || *b == b'-');
    if hexish && segment.len() >= 8 && segment.iter().any(u8::is_ascii_digit) {
        return Some("{id}");
    }
    if segment.len() > 40 {
        return Some("{s}");
    }
    None
}

/// A stable 64-bit hash of `bytes`: FxHash's word-at-a-time mixing finished with MurmurHash3's
/// fmix64.
///
/// Hand-written, not `std`'s SipHash nor a crate: it runs several times per event over short
/// strings, where SipHash costs several times more; and its output decides which counter a
/// value lands in, which detectors keep in snapshots, so it must never change with a toolchain
/// or a dependency version. Not collision-resistant against a chosen-key attacker.
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    const FX_MULTIPLIER: u64 = 0x517c_c1b7_2722_0a95;
    let mut h = bytes.len() as u64;
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let word = u64::from_le_bytes(word.try_into().expect("chunks_exact yields 8 bytes"));
        h = (h.rotate_left(5) ^ word).wrapping_mul(FX_MULTIPLIER);
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        h = (h.rotate_left(5) ^ tail_word(bytes, tail.len())).wrapping_mul(FX_MULTIPLIER);
    }
    // Fx alone leaves the low bits weak, and tables index by low bits: finish with a full mix.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The last `len` (1 to 7) bytes of `bytes` as a little-endian word, zero-padded: what
/// copying them into a zeroed `[u8; 8]` gives. Not written as that copy: a copy of variable
/// length compiles to wasm's `memory.copy`, which wasmtime runs as a call into the host (the
/// Isolation Forest made five per event). From 8 bytes on, the last whole word shifted down;
/// below, byte by byte.
fn tail_word(bytes: &[u8], len: usize) -> u64 {
    debug_assert!((1..8).contains(&len) && len <= bytes.len());
    if let Some(last) = bytes.last_chunk::<8>() {
        u64::from_le_bytes(*last) >> (8 * (8 - len))
    } else {
        bytes[bytes.len() - len..].iter().rev().fold(0, |word, &b| word << 8 | u64::from(b))
    }
}

/// [`hash_bytes`] of a string's UTF-8 bytes.
pub fn hash_str(s: &str) -> u64 {
    hash_bytes(s.as_bytes())
}

/// How rare a value (an HTTP method, a User-Agent, a path) is among those seen so far, in
/// fixed memory: a count-min sketch (Cormode, Muthukrishnan 2005) whose estimate can
/// over-count on collisions but never under-count.
///
/// Counts are halved every `halving_period` observations, which keeps them from saturating
/// and lets "rare" follow the traffic: a value common a week ago and gone since drifts back
/// towards rare.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RarityCounter {
    rows: u32,
    /// log2 of the counters per row.
    width_bits: u32,
    halving_period: u32,
    counters: Vec<u32>,
    /// Observations since the sketch began, halved with the counters.
    total: u32,
    since_halving: u32,
}

impl RarityCounter {
    /// An empty sketch of `rows` × 2^`width_bits` counters (4 bytes each), halved every 2^20
    /// observations. `rows` is clamped to 1..=8 and `width_bits` to 1..=24.
    pub fn new(rows: u32, width_bits: u32) -> Self {
        Self::with_halving(rows, width_bits, 1 << 20)
    }

    /// Like [`RarityCounter::new`], halving every `halving_period` (at least 1) observations.
    pub fn with_halving(rows: u32, width_bits: u32, halving_period: u32) -> Self {
        let (rows, width_bits) = (rows.clamp(1, 8), width_bits.clamp(1, 24));
        RarityCounter {
            rows,
            width_bits,
            halving_period: halving_period.max(1),
            counters: vec![0; (rows as usize) << width_bits],
            total: 0,
            since_halving: 0,
        }
    }

    /// Count one occurrence of `value` and return its rarity (see [`RarityCounter::observe`]).
    pub fn observe_str(&mut self, value: &str) -> f32 {
        self.observe(hash_str(value))
    }

    /// Count one occurrence of the value hashed to `hash` and return its rarity,
    /// `ln((total + 2) / (count + 1))`: about 0 for a value every observation has, growing
    /// like ln(total) for a value seen once. The +1/+2 smoothing keeps it finite from the start.
    pub fn observe(&mut self, hash: u64) -> f32 {
        let count = self.bump(hash);
        self.total = self.total.saturating_add(1);
        self.since_halving += 1;
        let rarity = ((self.total as f32 + 2.0) / (count as f32 + 1.0)).ln();
        if self.since_halving >= self.halving_period {
            self.counters.iter_mut().for_each(|c| *c /= 2);
            self.total /= 2;
            self.since_halving = 0;
        }
        rarity
    }

    /// The rarity `value` would have, without counting it.
    pub fn rarity(&self, hash: u64) -> f32 {
        let count = self.cells(hash).map(|i| self.counters[i]).min().unwrap_or(0);
        ((self.total as f32 + 2.0) / (count as f32 + 1.0)).ln()
    }

    /// Memory held by the counters, in bytes (fixed at creation).
    pub fn memory_bytes(&self) -> usize {
        self.counters.len() * std::mem::size_of::<u32>()
    }

    /// Check a sketch decoded from a snapshot against the size it must have, so a corrupt or
    /// foreign snapshot is refused instead of indexing out of bounds later.
    pub fn validate(&self, rows: u32, width_bits: u32) -> Result<(), String> {
        let ok = self.rows == rows.clamp(1, 8)
            && self.width_bits == width_bits.clamp(1, 24)
            && self.counters.len() == (self.rows as usize) << self.width_bits
            && self.halving_period >= 1
            && self.since_halving < self.halving_period;
        if ok {
            Ok(())
        } else {
            Err(format!("rarity counter has the wrong size (expected {rows} rows of 2^{width_bits})"))
        }
    }

    /// Increment the value's counters and return its new estimate.
    fn bump(&mut self, hash: u64) -> u32 {
        let mut count = u32::MAX;
        for i in self.cells(hash) {
            let cell = &mut self.counters[i];
            *cell = cell.saturating_add(1);
            count = count.min(*cell);
        }
        count
    }

    /// The counter of each row for `hash`. Double hashing (Kirsch, Mitzenmacher 2006): rows
    /// indexed by h1 + r·h2 are as good as independent hashes for a sketch.
    fn cells(&self, hash: u64) -> impl Iterator<Item = usize> + use<> {
        let width = 1usize << self.width_bits;
        let (h1, h2) = (hash as usize, (hash >> 32) as usize | 1);
        (0..self.rows as usize).map(move |r| r * width + (h1.wrapping_add(r.wrapping_mul(h2)) & (width - 1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_that_name_one_resource_among_many_have_a_class() {
        let class = |s: &str| path_segment_class(s.as_bytes());
        assert_eq!([class("42"), class("0"), class("2024")], [Some("{n}"); 3]);
        assert_eq!(class("3f2a9c1e"), Some("{id}"));
        assert_eq!(class("123e4567-e89b-12d3-a456-426614174000"), Some("{id}"));
        assert_eq!(class(&"x".repeat(41)), Some("{s}"));
        // Pages: words, short hex-looking words, versions, files, the empty root segment.
        for page in ["users", "deadbeef", "cafe", "v2", "app.js", "", "p42.webp", &"x".repeat(40)] {
            assert_eq!(class(page), None, "{page}");
        }
    }

    #[test]
    fn status_classes() {
        assert_eq!([200, 304, 404, 503, 0, 99, 600].map(status_class), [2, 3, 4, 5, 0, 0, 0]);
    }

    #[test]
    fn url_path_and_query_are_counted() {
        let shape = url_shape("/a/b?x=1&y=2");
        assert_eq!((shape.length, shape.depth, shape.query_params), (12, 2, 2));
        // '?', two '=' and one '&' are special: 4 of 12 bytes.
        assert!((shape.special_share - 4.0 / 12.0).abs() < 1e-6);
    }

    #[test]
    fn empty_segments_parameters_and_fragments_do_not_count() {
        let shape = url_shape("//a///b/?&&x&#frag/c?d=1&e");
        assert_eq!((shape.depth, shape.query_params), (2, 1));
        assert_eq!(url_shape(""), UrlShape::default());
    }

    #[test]
    fn injection_looks_special() {
        assert_eq!(url_shape("/static/app-1.2_min.js").special_share, 0.0);
        assert!(url_shape("/search?q=%27%20OR%201=1--%3Cscript%3E").special_share > 0.2);
    }

    #[test]
    fn basic_features_follow_their_names() {
        let event = Event { url: "/a/b?x=1", status_code: 404, bytes_sent: 0, ..Event::default() };
        assert_eq!(basic_features(&event), [4.0, 0.0, 8.0, 2.0, 1.0, 2.0 / 8.0]);
        assert_eq!(BASIC_FEATURE_NAMES[2], "url_length");
    }

    #[test]
    fn tail_word_is_the_zero_padded_copy_of_the_tail() {
        let bytes: Vec<u8> = (0..24u8).map(|i| i.wrapping_mul(37).wrapping_add(0x81)).collect();
        for n in 1..=bytes.len() {
            let (prefix, len) = (&bytes[..n], n % 8);
            if len == 0 {
                continue;
            }
            let mut word = [0u8; 8];
            word[..len].copy_from_slice(&prefix[n - len..]);
            assert_eq!(tail_word(prefix, len), u64::from_le_bytes(word), "{n} bytes");
        }
    }

    #[test]
    fn hash_is_pinned_and_spreads_low_bits() {
        // Detectors keep counters placed by this hash in snapshots: a change breaks them.
        assert_eq!(hash_str("GET"), 0xbe05_8393_560e_1f9d, "got {:#x}", hash_str("GET"));
        // A whole word and a tail of 3, and of 5.
        assert_eq!(hash_str("203.0.113.9"), 0x7dca_9dce_2dff_f879);
        assert_eq!(hash_str("/api/v1/items"), 0xbe4b_69cf_656d_8536);
        assert_ne!(hash_bytes(b"a"), hash_bytes(b"a\0"));
        let mut slots = [0u32; 256];
        for i in 0..25_600u32 {
            slots[(hash_str(&format!("10.0.{}.{}", i / 256, i % 256)) & 255) as usize] += 1;
        }
        assert!(slots.iter().all(|&n| (50..=160).contains(&n)), "{slots:?}");
    }

    #[test]
    fn rare_values_score_higher_than_common_ones() {
        let mut sketch = RarityCounter::new(4, 10);
        for _ in 0..1000 {
            sketch.observe_str("Mozilla/5.0");
        }
        let common = sketch.observe_str("Mozilla/5.0");
        let rare = sketch.observe_str("sqlmap/1.7");
        assert!(common < 0.01, "common {common}");
        assert!(rare > 6.0, "rare {rare}");
        assert!(sketch.rarity(hash_str("never-seen")) > rare);
    }

    #[test]
    fn rarity_memory_is_fixed_and_halving_keeps_proportions() {
        let mut sketch = RarityCounter::with_halving(2, 6, 1_000);
        assert_eq!(sketch.memory_bytes(), 2 * 64 * 4);
        for i in 0..100_000u32 {
            sketch.observe_str(if i % 4 == 0 { "POST" } else { "GET" });
            sketch.observe_str(&format!("client-{i}"));
        }
        assert_eq!(sketch.memory_bytes(), 2 * 64 * 4);
        assert!(sketch.total < 1_000, "total {}", sketch.total);
        assert!(sketch.validate(2, 6).is_ok());
        assert!(sketch.validate(4, 6).is_err());
    }
}
