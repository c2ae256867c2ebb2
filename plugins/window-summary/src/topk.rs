//! A bounded heavy-hitter counter (Space-Saving, pruned in batches). Hand-written: the
//! crates that implement it are unmaintained or pull in hashing and allocation layers that
//! do not build for wasm32-wasip2; the algorithm is a map and a prune.
//!
//! It counts keys exactly until `capacity` distinct keys are tracked. Then, when the map
//! reaches twice that, the rarest half is dropped and `floor` remembers the highest count
//! dropped; a key seen later starts at `floor`, as in Space-Saving, so every key whose true
//! count exceeds `floor` is still tracked, and a reported count overestimates by at most
//! `floor`. Each prune costs O(n log n) for n inserts: O(log n) per insert.

use foldhash::{HashMap, HashMapExt};
use serde::Serialize;

/// Longest key kept, in bytes: a 100 KB URL costs no more than a short one.
pub const MAX_KEY_BYTES: usize = 256;

/// One entry of a top list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Counted {
    /// The key (truncated to [`MAX_KEY_BYTES`]).
    pub value: String,
    /// How many times it was seen (an upper bound when the list is not exact).
    pub count: u64,
}

/// A top list as reported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TopList {
    /// Highest counts first; ties by key.
    pub top: Vec<Counted>,
    /// Distinct keys seen, exact while `exact` holds (a lower bound otherwise).
    pub distinct: u64,
    /// Whether every count is exact (no key was ever dropped).
    pub exact: bool,
}

/// Counts keys with bounded memory.
#[derive(Clone, Debug)]
pub struct TopK {
    capacity: usize,
    counts: HashMap<String, u64>,
    floor: u64,
    dropped_keys: u64,
}

impl TopK {
    /// A counter that keeps at least `capacity` keys (and at most twice as many).
    pub fn new(capacity: usize) -> Self {
        TopK { capacity: capacity.max(1), counts: HashMap::new(), floor: 0, dropped_keys: 0 }
    }

    /// Count `key` once.
    pub fn add(&mut self, key: &str) {
        let key = truncate(key);
        if let Some(count) = self.counts.get_mut(key) {
            *count += 1;
            return;
        }
        if self.counts.len() >= 2 * self.capacity {
            self.prune();
        }
        self.counts.insert(key.to_owned(), self.floor + 1);
    }

    /// Drop the rarest keys down to `capacity`.
    fn prune(&mut self) {
        let mut entries: Vec<(String, u64)> = self.counts.drain().collect();
        entries.sort_unstable_by_key(|e| std::cmp::Reverse(e.1));
        for (_, count) in entries.drain(self.capacity..) {
            self.floor = self.floor.max(count);
            self.dropped_keys += 1;
        }
        self.counts.extend(entries);
    }

    /// The `n` most frequent keys.
    pub fn top(&self, n: usize) -> TopList {
        let mut top: Vec<Counted> =
            self.counts.iter().map(|(value, &count)| Counted { value: value.clone(), count }).collect();
        top.sort_unstable_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
        top.truncate(n);
        TopList { top, distinct: self.counts.len() as u64 + self.dropped_keys, exact: self.floor == 0 }
    }

    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }
}

/// `key` cut to at most [`MAX_KEY_BYTES`], on a character boundary.
pub fn truncate(key: &str) -> &str {
    if key.len() <= MAX_KEY_BYTES {
        return key;
    }
    let mut end = MAX_KEY_BYTES;
    while !key.is_char_boundary(end) {
        end -= 1;
    }
    &key[..end]
}
