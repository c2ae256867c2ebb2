//! A uniform sample of every point offered so far, of fixed capacity (Vitter's algorithm R):
//! what the forest is grown from, so retraining costs the same after a billion events as
//! after a thousand.

use serde::{Deserialize, Serialize};

use crate::forest::Point;
use crate::rng::SplitMix64;

/// A fixed-capacity uniform sample.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reservoir {
    capacity: usize,
    /// Points ever offered.
    offered: u64,
    points: Vec<Point>,
}

impl Reservoir {
    /// An empty reservoir holding at most `capacity` points.
    pub fn new(capacity: usize) -> Self {
        Self { capacity, offered: 0, points: Vec::new() }
    }

    /// Offer one point: kept with probability capacity / offered, replacing a random one.
    pub fn offer(&mut self, point: Point, rng: &mut SplitMix64) {
        self.offered += 1;
        if self.points.len() < self.capacity {
            self.points.push(point);
        } else {
            let slot = rng.below(self.offered) as usize;
            if slot < self.capacity {
                self.points[slot] = point;
            }
        }
    }

    /// The sample.
    pub fn points(&self) -> &[Point] {
        &self.points
    }

    /// Points ever offered.
    pub fn offered(&self) -> u64 {
        self.offered
    }

    /// Check a reservoir decoded from a snapshot.
    pub fn validate(&self, capacity: usize) -> Result<(), String> {
        if self.capacity != capacity || self.points.len() > capacity {
            return Err(format!(
                "reservoir holds {} of {}, expected capacity {capacity}",
                self.points.len(),
                self.capacity
            ));
        }
        if self.points.iter().flatten().any(|v| !v.is_finite()) {
            return Err("reservoir holds a non-finite value".to_owned());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forest::POINT_WIDTH;

    fn point(v: f32) -> Point {
        [v; POINT_WIDTH]
    }

    #[test]
    fn fills_up_then_stays_at_capacity() {
        let (mut reservoir, mut rng) = (Reservoir::new(100), SplitMix64::new(1));
        for i in 0..50 {
            reservoir.offer(point(i as f32), &mut rng);
        }
        assert_eq!(reservoir.points().len(), 50);
        for i in 50..10_000 {
            reservoir.offer(point(i as f32), &mut rng);
        }
        assert_eq!((reservoir.points().len(), reservoir.offered()), (100, 10_000));
    }

    #[test]
    fn sample_is_uniform_over_the_stream() {
        // Offer 0..10_000 into 1_000 slots: the kept values should average near 5_000, where
        // a reservoir biased to early or late points would sit near 500 or 9_500.
        let (mut reservoir, mut rng) = (Reservoir::new(1_000), SplitMix64::new(2));
        for i in 0..10_000 {
            reservoir.offer(point(i as f32), &mut rng);
        }
        let mean = reservoir.points().iter().map(|p| p[0]).sum::<f32>() / 1_000.0;
        assert!((4_600.0..5_400.0).contains(&mean), "mean {mean}");
        let late = reservoir.points().iter().filter(|p| p[0] >= 5_000.0).count();
        assert!((430..570).contains(&late), "{late} of 1000 from the second half");
    }
}
