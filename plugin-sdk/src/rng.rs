//! A seeded random number generator for plugins: the same seed gives the same stream on every
//! machine, in wasm and natively, so a detector's training is reproducible and its tests are
//! deterministic.
//!
//! Wraps `rand_xoshiro`'s xoshiro256++ (seeded through SplitMix64) rather than hand-writing it;
//! the 0.6 line is the one linfa 0.8 builds on, so an [`Rng`] can be handed to linfa (or
//! anything taking a `rand_core` 0.6 `RngCore`) directly. Its state serializes with serde, so
//! a detector can keep it in its snapshot and resume the same stream after a restore. Never
//! use it for anything security-related.

use rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

/// A seeded, deterministic, serializable generator (xoshiro256++).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rng {
    inner: Xoshiro256PlusPlus,
}

impl Rng {
    /// A generator whose whole future stream is fixed by `seed`.
    pub fn seeded(seed: u64) -> Self {
        Rng { inner: Xoshiro256PlusPlus::seed_from_u64(seed) }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }

    /// A uniform value in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        // The top 53 bits fill an f64 mantissa exactly, so every value is representable.
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform value in `[0, 1)`.
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 * (1.0 / (1u64 << 24) as f32)
    }

    /// A uniform index in `0..bound`; 0 when `bound` is 0.
    ///
    /// Multiply-shift instead of a modulo: no division, and the bias (at most bound / 2^64)
    /// is far below anything a sample of a few million points could show.
    pub fn below(&mut self, bound: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }

    /// `true` with probability `p` (clamped into [0, 1]).
    pub fn chance(&mut self, p: f64) -> bool {
        self.next_f64() < p
    }

    /// Shuffle `items` in place (Fisher-Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// So an [`Rng`] can drive `rand` 0.8 and linfa 0.8 (`KMeans::params_with_rng`, ...).
impl RngCore for Rng {
    fn next_u32(&mut self) -> u32 {
        self.inner.next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.inner.fill_bytes(dest)
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.inner.try_fill_bytes(dest)
    }
}

/// Keeps a uniform sample of everything offered, at most `capacity` items (Vitter's algorithm
/// R): what a detector retrains on, so retraining costs the same after a billion events as
/// after a thousand.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reservoir<T> {
    capacity: usize,
    offered: u64,
    items: Vec<T>,
}

impl<T> Reservoir<T> {
    /// An empty reservoir holding at most `capacity` items.
    pub fn new(capacity: usize) -> Self {
        Reservoir { capacity, offered: 0, items: Vec::new() }
    }

    /// Offer one item: kept with probability capacity / offered, replacing a random one.
    pub fn offer(&mut self, item: T, rng: &mut Rng) {
        self.offered += 1;
        if self.items.len() < self.capacity {
            self.items.push(item);
        } else {
            let slot = rng.below(self.offered) as usize;
            if slot < self.capacity {
                self.items[slot] = item;
            }
        }
    }

    /// The sample, in no particular order.
    pub fn items(&self) -> &[T] {
        &self.items
    }

    /// Items ever offered.
    pub fn offered(&self) -> u64 {
        self.offered
    }

    /// The most items it keeps.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_gives_the_same_stream_and_another_seed_does_not() {
        let (mut a, mut b, mut c) = (Rng::seeded(7), Rng::seeded(7), Rng::seeded(8));
        let xs: Vec<u64> = (0..16).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..16).map(|_| b.next_u64()).collect();
        let zs: Vec<u64> = (0..16).map(|_| c.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs, zs);
    }

    #[test]
    fn first_value_is_pinned() {
        // Plugins keep this stream in snapshots: a change here changes what they restore into.
        let first = Rng::seeded(0).next_u64();
        assert_eq!(first, 0x5317_5d61_490b_23df, "got {first:#x}");
    }

    #[test]
    fn state_survives_serialization_mid_stream() {
        let mut rng = Rng::seeded(3);
        rng.next_u64();
        let mut restored: Rng = postcard::from_bytes(&postcard::to_allocvec(&rng).unwrap()).unwrap();
        assert_eq!(restored.next_u64(), rng.next_u64());
    }

    #[test]
    fn values_stay_in_range() {
        let mut rng = Rng::seeded(3);
        for _ in 0..10_000 {
            assert!((0.0..1.0).contains(&rng.next_f64()));
            assert!((0.0..1.0).contains(&rng.next_f32()));
            assert!(rng.below(10) < 10);
        }
        assert_eq!(rng.below(0), 0);
    }

    #[test]
    fn shuffle_keeps_every_item() {
        let mut items: Vec<u32> = (0..100).collect();
        Rng::seeded(1).shuffle(&mut items);
        assert_ne!(items, (0..100).collect::<Vec<_>>());
        items.sort_unstable();
        assert_eq!(items, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn reservoir_is_bounded_and_uniform() {
        let (mut reservoir, mut rng) = (Reservoir::new(1_000), Rng::seeded(2));
        for i in 0..10_000u32 {
            reservoir.offer(i, &mut rng);
        }
        assert_eq!((reservoir.items().len(), reservoir.offered()), (1_000, 10_000));
        // A sample biased to early or late items would average near 500 or 9,500.
        let mean = reservoir.items().iter().map(|&i| f64::from(i)).sum::<f64>() / 1_000.0;
        assert!((4_600.0..5_400.0).contains(&mean), "mean {mean}");
    }
}
