//! Growing one isolation tree into its flat, complete-binary-tree arrays.
//!
//! The layout is what makes scoring fast: node `i` has children `2i + 1` (values ≤ threshold)
//! and `2i + 2` (values > threshold), and every tree has exactly `2^depth - 1` internal nodes
//! and `2^depth` leaves. A branch that isolates early (one point left, all points equal, or
//! the height limit) stops at depth d: the internal nodes below it keep [`ALWAYS_LEFT`] and
//! its leftmost leaf holds d + c(n). So every lookup is exactly `depth` identical, branchless
//! steps and still returns the paper's path length h(x). This module only writes trees; it
//! never scores.

use serde::{Deserialize, Serialize};

use super::path_length::average_path_length;
use super::{POINT_WIDTH, Point};
use crate::rng::SplitMix64;

/// An internal node: go right when `point[feature] > threshold`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Split {
    /// The split value; +∞ sends every (finite) value left.
    pub threshold: f32,
    /// Index into the point; always below the forest's `dims`.
    pub feature: u32,
}

/// The filler below an early external node: every point goes to the leftmost leaf.
pub const ALWAYS_LEFT: Split = Split { threshold: f32::INFINITY, feature: 0 };

/// Grows one tree over `members` (indices into `points`) into `splits` and `leaves`.
pub struct TreeGrower<'a> {
    pub points: &'a [Point],
    pub dims: usize,
    pub depth: u32,
    pub splits: &'a mut [Split],
    pub leaves: &'a mut [f32],
    pub rng: &'a mut SplitMix64,
}

impl TreeGrower<'_> {
    /// Overwrite the whole tree with one grown on `members` (which it reorders).
    pub fn grow(mut self, members: &mut [u32]) {
        self.splits.fill(ALWAYS_LEFT);
        self.leaves.fill(0.0);
        self.grow_node(0, 0, members);
    }

    fn grow_node(&mut self, node: usize, level: u32, members: &mut [u32]) {
        if level == self.depth || members.len() <= 1 {
            return self.make_external(node, level, members.len());
        }
        let Some((feature, threshold)) = self.pick_split(members) else {
            return self.make_external(node, level, members.len());
        };
        self.splits[node] = Split { threshold, feature: feature as u32 };
        let left_len = partition(members, |m| self.points[m as usize][feature] <= threshold);
        let (left, right) = members.split_at_mut(left_len);
        self.grow_node(2 * node + 1, level + 1, left);
        self.grow_node(2 * node + 2, level + 1, right);
    }

    /// A random feature among those that still vary, and a uniform split inside its range;
    /// `None` when every member is identical (nothing left to isolate).
    ///
    /// Features are tried in random order and only the tried one's range is computed: the
    /// first that varies is a uniform pick among the varying ones, at a fraction of the cost
    /// of measuring every feature (this runs for every node of every retrained tree).
    fn pick_split(&mut self, members: &[u32]) -> Option<(usize, f32)> {
        let mut untried: [usize; POINT_WIDTH] = std::array::from_fn(|d| d);
        for left in (1..=self.dims).rev() {
            let slot = self.rng.below(left as u64) as usize;
            let feature = untried[slot];
            untried.swap(slot, left - 1);
            let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
            for &m in members {
                let v = self.points[m as usize][feature];
                // Plain comparisons: f32::min/max become libm calls in wasm.
                if v < lo {
                    lo = v;
                }
                if v > hi {
                    hi = v;
                }
            }
            if hi > lo {
                let threshold = lo + self.rng.next_f32() * (hi - lo);
                // Rounding may land on `hi`, which would send everything left: fall back to
                // `lo`, which still separates the minimum from the maximum.
                return Some((feature, if threshold < hi { threshold } else { lo }));
            }
        }
        None
    }

    fn make_external(&mut self, node: usize, level: u32, size: usize) {
        let mut leftmost = node;
        for _ in level..self.depth {
            leftmost = 2 * leftmost + 1;
        }
        let first_leaf = self.splits.len();
        self.leaves[leftmost - first_leaf] = (f64::from(level) + average_path_length(size)) as f32;
    }
}

/// Reorder `items` so those matching `goes_left` come first; returns how many matched.
fn partition(items: &mut [u32], goes_left: impl Fn(u32) -> bool) -> usize {
    let mut boundary = 0;
    for i in 0..items.len() {
        if goes_left(items[i]) {
            items.swap(i, boundary);
            boundary += 1;
        }
    }
    boundary
}
