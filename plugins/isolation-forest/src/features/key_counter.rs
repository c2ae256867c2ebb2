//! How often each key (a path, a path's status, a path's parameter, a parameter's value
//! shape) has been learned: one count-min sketch of fixed size for every kind of key, so
//! memory stays flat however many distinct paths and parameters a site has.
//!
//! Unlike [`super::rarity::RarityCounter`], looking a key up does not count it: the model
//! counts an event only once it is judged normal, so an attack repeated a thousand times
//! stays as rare as the first time.

use serde::{Deserialize, Serialize};

/// Learned events between two halvings of every counter.
const HALVING_PERIOD: u32 = 1 << 20;

/// A count-min sketch with conservative update (Estan, Varghese 2002): on insertion only the
/// counters equal to the current minimum grow, which keeps collisions from inflating the
/// counts of rare keys, the ones this sketch exists for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyCounter {
    rows: u32,
    width_bits: u32,
    counters: Vec<u32>,
    /// Learned events since the sketch began, halved with the counters.
    events: u32,
    since_halving: u32,
}

impl KeyCounter {
    /// An empty sketch of `rows × 2^width_bits` counters.
    pub fn new(rows: u32, width_bits: u32) -> Self {
        Self { rows, width_bits, counters: vec![0; (rows as usize) << width_bits], events: 0, since_halving: 0 }
    }

    fn cells_of(&self, hash: u64) -> impl Iterator<Item = usize> + use<> {
        let width = 1usize << self.width_bits;
        let (h1, h2) = (hash as usize, (hash >> 32) as usize | 1);
        (0..self.rows as usize).map(move |r| r * width + (h1.wrapping_add(r.wrapping_mul(h2)) & (width - 1)))
    }

    /// The (over-)estimated count of `hash`.
    pub fn count(&self, hash: u64) -> u32 {
        self.cells_of(hash).map(|c| self.counters[c]).min().unwrap_or(0)
    }

    /// Count one occurrence of `hash`.
    pub fn add(&mut self, hash: u64) {
        let min = self.count(hash);
        for c in self.cells_of(hash) {
            if self.counters[c] == min {
                self.counters[c] = min.saturating_add(1);
            }
        }
    }

    /// Number of counters, fixed at creation.
    #[cfg(test)]
    pub fn cells(&self) -> usize {
        self.counters.len()
    }

    /// Learned events so far (after halvings).
    pub fn events(&self) -> u32 {
        self.events
    }

    /// Mark the end of one learned event; halves every counter once per period so old
    /// traffic fades.
    pub fn end_event(&mut self) {
        self.events = self.events.saturating_add(1);
        self.since_halving += 1;
        if self.since_halving >= HALVING_PERIOD {
            self.counters.iter_mut().for_each(|c| *c /= 2);
            self.events /= 2;
            self.since_halving = 0;
        }
    }

    /// Check a sketch decoded from a snapshot against the size it must have.
    pub fn validate(&self, rows: u32, width_bits: u32) -> Result<(), String> {
        let ok = self.rows == rows
            && self.width_bits == width_bits
            && self.counters.len() == (rows as usize) << width_bits
            && self.since_halving < HALVING_PERIOD;
        if ok { Ok(()) } else { Err("key sketch has the wrong size".to_owned()) }
    }
}

/// `ln((total + 2) / (count + 1))`: 0-ish for a key every event has, large for one never
/// seen among many.
pub fn rarity(count: u32, total: u32) -> f32 {
    rarity_ratio(count, total).ln()
}

/// `(total + 2) / (count + 1)`, the ratio whose logarithm is [`rarity`]; at least 1.
pub fn rarity_ratio(count: u32, total: u32) -> f32 {
    (total as f32 + 2.0) / (count.min(total) as f32 + 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_exact_without_collisions_and_lookups_do_not_count() {
        let mut sketch = KeyCounter::new(4, 10);
        for _ in 0..5 {
            sketch.add(42);
        }
        sketch.add(7);
        assert_eq!((sketch.count(42), sketch.count(7), sketch.count(9)), (5, 1, 0));
        assert_eq!(sketch.count(42), 5);
    }

    #[test]
    fn rarity_grows_as_a_key_gets_rarer() {
        assert!(rarity(1000, 1000) < 0.01);
        assert!(rarity(0, 1000) > 6.9);
        assert!(rarity(10, 1000) > rarity(100, 1000));
    }
}
