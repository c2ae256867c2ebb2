//! A bounded uniform sample of response sizes (Vitter's algorithm R) with a seeded
//! SplitMix64 stream. Hand-written because it is a dozen lines and must not pull a random
//! number crate into the component; nothing here is security-related.

/// At most `capacity` values, a uniform sample of all offered.
#[derive(Clone, Debug)]
pub struct Sample {
    capacity: usize,
    offered: u64,
    items: Vec<u64>,
    state: u64,
}

impl Sample {
    /// An empty sample drawing from a stream seeded with `seed`.
    pub fn new(capacity: usize, seed: u64) -> Self {
        Sample { capacity: capacity.max(1), offered: 0, items: Vec::new(), state: seed }
    }

    /// SplitMix64 (Steele, Lea, Flood 2014): one add, three multiply-xorshifts.
    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Offer a value: kept with probability capacity / offered, replacing a random one.
    pub fn offer(&mut self, value: u64) {
        self.offered += 1;
        if self.items.len() < self.capacity {
            self.items.push(value);
            return;
        }
        // Multiply-shift maps 64 random bits onto 0..offered without a division.
        let slot = ((u128::from(self.next_u64()) * u128::from(self.offered)) >> 64) as usize;
        if slot < self.capacity {
            self.items[slot] = value;
        }
    }

    /// The sample, in no order.
    pub fn items(&self) -> &[u64] {
        &self.items
    }

    /// Whether every offered value is in the sample.
    pub fn is_complete(&self) -> bool {
        self.offered as usize <= self.capacity
    }

    /// The random stream's state, so the next window continues it.
    pub fn seed(&self) -> u64 {
        self.state
    }
}
