//! How rare a value (an HTTP method, a User-Agent) is among the events seen: a count-min
//! sketch of fixed size, so memory stays flat however many distinct values arrive.
//!
//! Counts are halved every [`HALVING_PERIOD`] events, which keeps them from saturating and
//! lets the notion of "rare" follow the traffic: a value common a week ago and gone since
//! drifts back towards rare.

use serde::{Deserialize, Serialize};

/// Events between two halvings of every counter.
pub const HALVING_PERIOD: u32 = 1 << 20;

/// A count-min sketch (Cormode, Muthukrishnan 2005): `rows` counters per value, the
/// estimate is their minimum, so it can over-count (on collisions) but never under-count.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RarityCounter {
    rows: u32,
    /// log2 of the counters per row.
    width_bits: u32,
    counters: Vec<u32>,
    /// Events counted since the sketch began, halved with the counters.
    total: u32,
    since_halving: u32,
}

impl RarityCounter {
    /// An empty sketch of `rows × 2^width_bits` counters.
    pub fn new(rows: u32, width_bits: u32) -> Self {
        Self { rows, width_bits, counters: vec![0; (rows as usize) << width_bits], total: 0, since_halving: 0 }
    }

    /// Count one occurrence of the value hashed to `hash` and return its rarity,
    /// -ln((count + 1) / (total + 2)): 0 for a value every event has, growing like ln(total)
    /// for a value seen once. The +1/+2 smoothing keeps it finite and defined from the start.
    pub fn observe(&mut self, hash: u64) -> f32 {
        let width = 1usize << self.width_bits;
        let mask = width - 1;
        // Double hashing (Kirsch, Mitzenmacher 2006): rows indexed by h1 + r·h2 are as good
        // as independent hashes for a sketch.
        let (h1, h2) = (hash as usize, (hash >> 32) as usize | 1);
        let mut count = u32::MAX;
        for (r, row) in self.counters.chunks_exact_mut(width).enumerate() {
            let cell = &mut row[h1.wrapping_add(r.wrapping_mul(h2)) & mask];
            *cell = cell.saturating_add(1);
            count = count.min(*cell);
        }
        self.total = self.total.saturating_add(1);
        self.since_halving += 1;
        let rarity = ((self.total as f32 + 2.0) / (count as f32 + 1.0)).ln();
        if self.since_halving >= HALVING_PERIOD {
            self.halve();
        }
        rarity
    }

    /// Number of counters, fixed at creation.
    #[cfg(test)]
    pub fn cells(&self) -> usize {
        self.counters.len()
    }

    fn halve(&mut self) {
        self.counters.iter_mut().for_each(|c| *c /= 2);
        self.total /= 2;
        self.since_halving = 0;
    }

    /// Check a sketch decoded from a snapshot against the size it must have.
    pub fn validate(&self, rows: u32, width_bits: u32) -> Result<(), String> {
        let ok = self.rows == rows
            && self.width_bits == width_bits
            && self.counters.len() == (rows as usize) << width_bits
            && self.since_halving < HALVING_PERIOD;
        if ok { Ok(()) } else { Err("rarity sketch has the wrong size".to_owned()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::hash::hash_bytes;

    #[test]
    fn rare_values_score_higher_than_common_ones() {
        let mut sketch = RarityCounter::new(4, 10);
        for _ in 0..1000 {
            sketch.observe(hash_bytes(b"Mozilla/5.0"));
        }
        let common = sketch.observe(hash_bytes(b"Mozilla/5.0"));
        let rare = sketch.observe(hash_bytes(b"sqlmap/1.7"));
        assert!(common < 0.01, "common {common}");
        assert!(rare > 6.0, "rare {rare}");
    }

    #[test]
    fn first_value_is_defined() {
        let mut sketch = RarityCounter::new(2, 4);
        let first = sketch.observe(hash_bytes(b"GET"));
        assert!(first.is_finite() && first >= 0.0);
    }

    #[test]
    fn halving_keeps_proportions_and_memory() {
        let mut sketch = RarityCounter::new(2, 6);
        let (get, post) = (hash_bytes(b"GET"), hash_bytes(b"POST"));
        for i in 0..HALVING_PERIOD + 10 {
            sketch.observe(if i % 4 == 0 { post } else { get });
        }
        assert!(sketch.total < HALVING_PERIOD, "total {}", sketch.total);
        assert_eq!(sketch.counters.len(), 2 << 6);
        let post_rarity = sketch.observe(post);
        assert!((post_rarity - 4f32.ln()).abs() < 0.05, "post {post_rarity}");
    }
}
