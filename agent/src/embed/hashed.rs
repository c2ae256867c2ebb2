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
    /// `hash % dimension`, the bucket of a feature.
    bucket: Remainder,
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
        HashedNgrams {
            dimension,
            bucket: Remainder::new(dimension as u64),
            name: format!("hashed-ngrams-v1-{dimension}"),
        }
    }

    /// Every feature of `text` as (hash, weight), unsorted and with repeats.
    ///
    /// The same features, in the same order, as the first version (kept for the tests as
    /// `features_as_first_written`), written for speed: ASCII text, nearly every log line,
    /// is split and cut into trigrams on bytes, and each hash starts from its namespace's
    /// precomputed FNV state. Other text takes the `char` path it always did.
    pub(super) fn features(&self, text: &str) -> Vec<(u64, f32)> {
        let lower = text.to_lowercase();
        let words: Vec<&[u8]> = if lower.is_ascii() {
            // For ASCII, `char::is_alphanumeric` is exactly `u8::is_ascii_alphanumeric`.
            lower.as_bytes().split(|b| !b.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).collect()
        } else {
            lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::as_bytes).collect()
        };
        let (word_state, pair_state, gram_state) =
            (namespace_state(b'w'), namespace_state(b'p'), namespace_state(b'c'));
        let mut features = Vec::with_capacity(words.len() * 8);
        let mut padded = [0u8; MAX_TRIGRAM_WORD + 2];
        for (i, word) in words.iter().enumerate() {
            // The word's own hash and the first half of its pair's, side by side: two
            // independent chains of multiplications instead of one after the other.
            let (mut word_hash, mut pair_hash) = (word_state, pair_state);
            for &byte in *word {
                word_hash = fnv1a_step(word_hash, byte);
                pair_hash = fnv1a_step(pair_hash, byte);
            }
            features.push((finalize(word_hash), WORD));
            if let Some(next) = words.get(i + 1) {
                let pair_hash = next.iter().fold(fnv1a_step(pair_hash, b' '), |h, &b| fnv1a_step(h, b));
                features.push((finalize(pair_hash), PAIR));
            }
            // Numbers (ports, ids, timestamps) have no morphology; their trigrams only add noise.
            if word.len() < 3 || word.len() > MAX_TRIGRAM_WORD || word.iter().all(u8::is_ascii_digit) {
                continue;
            }
            if word.is_ascii() {
                // '^' and '$' mark the word's ends; every trigram is then three bytes.
                let padded = &mut padded[..word.len() + 2];
                padded[0] = b'^';
                padded[1..=word.len()].copy_from_slice(word);
                padded[word.len() + 1] = b'$';
                features.extend(padded.windows(3).map(|gram| (hash_from(gram_state, gram), TRIGRAM)));
            } else {
                let word = std::str::from_utf8(word).expect("split from a str at char boundaries");
                char_trigrams(word, |gram| features.push((hash_from(gram_state, gram), TRIGRAM)));
            }
        }
        features
    }
}

/// The character trigrams of `word` framed by '^' and '$', each as UTF-8 bytes.
fn char_trigrams(word: &str, mut each: impl FnMut(&[u8])) {
    let chars: Vec<char> = std::iter::once('^').chain(word.chars()).chain(std::iter::once('$')).collect();
    let mut buf = [0u8; 12];
    for gram in chars.windows(3) {
        let mut len = 0;
        for c in gram {
            len += c.encode_utf8(&mut buf[len..]).len();
        }
        each(&buf[..len]);
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
        // Features grouped by bucket (a counting sort), then each bucket's few by hash: the
        // same additions, in the same order, as sorting every feature by hash, without an
        // n log n sort of them all (`bucketed_features_give_bit_identical_vectors` holds the
        // two ways equal).
        let buckets: Vec<u32> = features.iter().map(|(h, _)| self.bucket.of(*h) as u32).collect();
        let mut starts = vec![0u32; dimension + 1];
        for &b in &buckets {
            starts[b as usize + 1] += 1;
        }
        // The running total in a register: `starts[b + 1] += starts[b]` waited for the store
        // of the step before, bucket after bucket.
        let mut total = 0;
        for start in &mut starts {
            total += *start;
            *start = total;
        }
        let mut next = starts.clone();
        let mut grouped = vec![(0u64, 0f32); features.len()];
        for (&feature, &b) in features.iter().zip(&buckets) {
            let slot = &mut next[b as usize];
            grouped[*slot as usize] = feature;
            *slot += 1;
        }
        let mut vector = vec![0f32; dimension];
        // The sum of squares in bucket order, as `vector.iter().map(|x| x * x).sum()` adds
        // them; the empty buckets' zeros are left out, which changes no bit (s + 0 = s), and
        // that serial chain of additions now runs over the filled buckets only.
        let mut sum_of_squares = 0f32;
        for (out, bounds) in vector.iter_mut().zip(starts.windows(2)) {
            let group = &mut grouped[bounds[0] as usize..bounds[1] as usize];
            match group {
                [] => continue,
                [(h, weight)] => *out = if *h >> 63 == 0 { *weight } else { -*weight },
                // A quarter of the buckets hold two to a few features: sorted inline, not by
                // a call to the slice sort for each.
                _ if group.len() <= 16 => {
                    insertion_sort_by_hash(group);
                    accumulate(group, out);
                }
                _ => {
                    group.sort_unstable_by_key(|(h, _)| *h);
                    accumulate(group, out);
                }
            }
            sum_of_squares += *out * *out;
        }
        let norm = sum_of_squares.sqrt();
        if norm > 0.0 {
            vector.iter_mut().for_each(|x| *x /= norm);
        }
        vector
    }
}

/// `n % divisor` for one divisor and many `n`, by a multiplication instead of a division
/// (Barrett reduction): a 64-bit division was ~10% of embedding a text. Hand-written because
/// it is these few lines; `strength_reduce` does the same for every integer width.
#[derive(Debug, Clone, Copy)]
pub(super) struct Remainder {
    divisor: u64,
    /// floor(2^64 / divisor).
    magic: u64,
}

impl Remainder {
    pub(super) fn new(divisor: u64) -> Remainder {
        assert!(divisor >= 2, "a remainder by {divisor} needs no reduction");
        Remainder { divisor, magic: ((1u128 << 64) / u128::from(divisor)) as u64 }
    }

    /// Exactly `n % divisor`. The estimated quotient q = floor(n * magic / 2^64) is never
    /// above n / divisor and less than 2 below it, so n - q * divisor is in [0, 2 * divisor)
    /// and one subtraction at most finishes the job.
    #[inline]
    pub(super) fn of(&self, n: u64) -> u64 {
        let quotient = ((u128::from(n) * u128::from(self.magic)) >> 64) as u64;
        let rest = n - quotient * self.divisor;
        if rest >= self.divisor { rest - self.divisor } else { rest }
    }
}

/// Sort a bucket's few features by hash.
#[inline]
fn insertion_sort_by_hash(group: &mut [(u64, f32)]) {
    for i in 1..group.len() {
        let item = group[i];
        let mut j = i;
        while j > 0 && group[j - 1].0 > item.0 {
            group[j] = group[j - 1];
            j -= 1;
        }
        group[j] = item;
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
        let mut features = features_as_first_written(text);
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

/// FNV-1a's state after a namespace byte and the 0xff separator: where every hash of that
/// kind of feature starts.
fn namespace_state(namespace: u8) -> u64 {
    let mut hasher = FnvHasher::default();
    hasher.write(&[namespace, 0xff]);
    hasher.finish()
}

/// FNV-1a of `bytes`, continuing from `state`, then the splitmix64 finalizer.
fn hash_from(state: u64, bytes: &[u8]) -> u64 {
    let mut hasher = FnvHasher::with_key(state);
    hasher.write(bytes);
    finalize(hasher.finish())
}

/// One byte of 64-bit FNV-1a, as `FnvHasher::write` does it; written out so that a word's
/// hash and its pair's can advance together (the `fnv` crate hashes one stream at a time).
#[inline(always)]
fn fnv1a_step(state: u64, byte: u8) -> u64 {
    (state ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
}

/// The splitmix64 finalizer: every output bit depends on every bit of the FNV state.
fn finalize(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The features as first written (one `char` at a time, every hash from the namespace on):
/// the reference the faster `HashedNgrams::features` must equal.
#[cfg(test)]
pub(super) fn features_as_first_written(text: &str) -> Vec<(u64, f32)> {
    let hash = |namespace: &[u8], parts: &[&[u8]]| {
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
    };
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    let mut features = Vec::new();
    let mut chars: Vec<char> = Vec::new();
    let mut buf = [0u8; 12];
    for (i, word) in words.iter().enumerate() {
        features.push((hash(b"w", &[word.as_bytes()]), WORD));
        if let Some(next) = words.get(i + 1) {
            features.push((hash(b"p", &[word.as_bytes(), b" ", next.as_bytes()]), PAIR));
        }
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
