//! [`HashedNgrams`]: the default embedder, feature hashing ("the hashing trick") of a text's
//! words, adjacent word pairs and character trigrams.
//!
//! Each feature is hashed (FNV-1a, then a 64-bit finalizer so every bit depends on every input
//! byte) to one of `dimension` buckets with a sign taken from another bit of the hash, so
//! colliding features cancel out on average instead of piling up. A feature seen `n` times
//! counts `1 + ln n` (sublinear term frequency: a line that repeats a word is not "more
//! about" it ten times over). The vector is L2-normalized, so cosine distance only compares
//! direction. Words catch shared vocabulary (`login`, `500`, `POST`), pairs catch phrases
//! (`GET /api`), trigrams catch morphology and typos (`logins`, `/logon`).
//!
//! The hash is fixed (not `std`'s `DefaultHasher`, whose algorithm may change between Rust
//! releases): vectors are stored in Chroma and SQLite and must be the same next year.

use super::Embedder;
use fnv::FnvHasher;
use std::hash::Hasher;

/// Weight of one word.
const WORD: f32 = 1.0;
/// Weight of one pair of adjacent words.
const PAIR: f32 = 0.7;
/// Weight of one character trigram; a word has several, so each counts less.
const TRIGRAM: f32 = 0.35;
/// Longest word that gets character trigrams; longer runs (hashes, base64) are noise.
const MAX_TRIGRAM_WORD: usize = 32;

/// The default embedder: hashed words, word pairs and character trigrams; no model needed.
#[derive(Debug, Clone)]
pub struct HashedNgrams {
    dimension: usize,
    name: String,
}

impl Default for HashedNgrams {
    fn default() -> Self {
        HashedNgrams::new(384)
    }
}

impl HashedNgrams {
    /// An embedder with `dimension` buckets (at least 16; 256 to 1024 suit log lines).
    pub fn new(dimension: usize) -> HashedNgrams {
        let dimension = dimension.max(16);
        HashedNgrams { dimension, name: format!("hashed-ngrams-v1-{dimension}") }
    }

    /// Every feature of `text` as (hash, weight), unsorted and with repeats.
    fn features(&self, text: &str) -> Vec<(u64, f32)> {
        let lower = text.to_lowercase();
        let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
        let mut features = Vec::with_capacity(words.len() * 8);
        let mut chars: Vec<char> = Vec::with_capacity(MAX_TRIGRAM_WORD + 2);
        let mut buf = [0u8; 12];
        for (i, word) in words.iter().enumerate() {
            features.push((hash(b"w", &[word.as_bytes()]), WORD));
            if let Some(next) = words.get(i + 1) {
                features.push((hash(b"p", &[word.as_bytes(), b" ", next.as_bytes()]), PAIR));
            }
            // Numbers (ports, ids, timestamps) have no morphology; their trigrams only add noise.
            if word.len() < 3 || word.len() > MAX_TRIGRAM_WORD || word.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            chars.clear();
            chars.push('^');
            chars.extend(word.chars());
            chars.push('$');
            for gram in chars.windows(3) {
                let mut len = 0;
                for c in gram {
                    len += c.encode_utf8(&mut buf[len..]).len();
                }
                features.push((hash(b"c", &[&buf[..len]]), TRIGRAM));
            }
        }
        features
    }
}

impl Embedder for HashedNgrams {
    fn name(&self) -> &str {
        &self.name
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    fn embed(&self, text: &str) -> Vec<f32> {
        let features = self.features(text);
        let dimension = self.dimension;
        let bucket = |h: u64| (h % dimension as u64) as usize;
        // Features grouped by bucket (a counting sort), then each bucket's few by hash: the
        // same additions, in the same order, as sorting every feature by hash, without an
        // n log n sort of them all: ~10% off embedding an anomaly's text of a few hundred
        // features (test `embedding_speed`); `bucketed_features_give_bit_identical_vectors`
        // holds the two ways equal.
        let mut starts = vec![0u32; dimension + 1];
        for (h, _) in &features {
            starts[bucket(*h) + 1] += 1;
        }
        for b in 0..dimension {
            starts[b + 1] += starts[b];
        }
        let mut next = starts.clone();
        let mut grouped = vec![(0u64, 0f32); features.len()];
        for &(h, weight) in &features {
            let slot = &mut next[bucket(h)];
            grouped[*slot as usize] = (h, weight);
            *slot += 1;
        }
        let mut vector = vec![0f32; dimension];
        for (b, out) in vector.iter_mut().enumerate() {
            let group = &mut grouped[starts[b] as usize..starts[b + 1] as usize];
            match group {
                [] => {}
                [(h, weight)] => *out += if *h >> 63 == 0 { *weight } else { -*weight },
                _ => {
                    group.sort_unstable_by_key(|(h, _)| *h);
                    accumulate(group, out);
                }
            }
        }
        let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            vector.iter_mut().for_each(|x| *x /= norm);
        }
        vector
    }
}

/// Add features sorted by hash to their bucket's `value`: a feature seen `n` times counts its
/// weight times `1 + ln n`, with the sign from the hash's top bit.
fn accumulate(sorted: &[(u64, f32)], value: &mut f32) {
    let mut i = 0;
    while i < sorted.len() {
        let (h, weight) = sorted[i];
        let mut n = 1;
        while i + n < sorted.len() && sorted[i + n].0 == h {
            n += 1;
        }
        i += n;
        // Most features occur once, and 1 + ln 1 is exactly 1: no logarithm to take.
        let v = if n == 1 { weight } else { weight * (1.0 + (n as f32).ln()) };
        *value += if h >> 63 == 0 { v } else { -v };
    }
}

#[cfg(test)]
impl HashedNgrams {
    /// The embedding as first written: every feature sorted by hash, then added to its bucket.
    pub(super) fn embed_by_global_sort(&self, text: &str) -> Vec<f32> {
        let mut features = self.features(text);
        features.sort_unstable_by_key(|(h, _)| *h);
        let mut vector = vec![0f32; self.dimension];
        let mut i = 0;
        while i < features.len() {
            let (h, weight) = features[i];
            let mut n = 1;
            while i + n < features.len() && features[i + n].0 == h {
                n += 1;
            }
            i += n;
            let value = weight * (1.0 + (n as f32).ln());
            let bucket = (h % self.dimension as u64) as usize;
            vector[bucket] += if h >> 63 == 0 { value } else { -value };
        }
        let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            vector.iter_mut().for_each(|x| *x /= norm);
        }
        vector
    }
}

/// FNV-1a of a namespace and some parts, then the splitmix64 finalizer.
fn hash(namespace: &[u8], parts: &[&[u8]]) -> u64 {
    let mut hasher = FnvHasher::default();
    hasher.write(namespace);
    hasher.write_u8(0xff);
    for part in parts {
        hasher.write(part);
    }
    let mut z = hasher.finish();
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
