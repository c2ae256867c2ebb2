//! The Isolation Forest (Liu, Ting, Zhou 2008) as plain Rust over fixed-width points.
//!
//! Owns growing the forest (whole, or one tree at a time so a retrain can be spread over many
//! calls) and scoring batches. Knows nothing of events, features or the SDK; a point is just
//! [`POINT_WIDTH`] floats of which the first `dims` are used. Points must never hold NaN.
//!
//! Trees are flat arrays (see [`tree`]), all trees of the forest in one `Vec`, so a lookup
//! is `depth` branchless steps and a batch is scored tree-major over cache-sized chunks: one
//! tree and a chunk of points stay in L1 while every point of the chunk walks it.

mod path_length;
mod state_walk;
mod tree;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

use crate::rng::SplitMix64;
use path_length::{average_path_length, height_limit};
use tree::{Split, TreeGrower};

/// Width of a point. Sixteen, not the number of features: indexing with `feature & 15`
/// needs no bounds check, and a point is exactly one 64-byte cache line.
pub const POINT_WIDTH: usize = 16;

/// One observation as the forest sees it.
pub type Point = [f32; POINT_WIDTH];

/// The largest supported sub-sample; its trees are 12 levels deep.
pub const MAX_SAMPLE_SIZE: usize = 4096;

/// Points scored together against one tree before moving to the next: 256 points are 16 KiB,
/// which leaves room in L1 for the tree itself.
const CHUNK: usize = 256;

/// Points walked down a tree in lockstep, level by level (see `walk_all`). Measured with the
/// `forest_throughput` test: one point at a time costs ~1.8 ns per node visit natively; 8
/// lanes ~1.5 ns natively and in wasm (Cranelift); 16 lanes is a little faster natively but
/// ~1.5x slower in wasm, where the plugin actually runs; 32 and more lose everywhere. With
/// the 1-based step (0.65 ns natively), 6 lanes scored 591k events/s in wasm and 4 lanes
/// 509k, against 8 lanes' 660k (`--bench scoring`, batch 1,000); with the state walk in wasm
/// (see [`state_walk`]), 6 lanes were 0.94x and 10 lanes 0.96x of 8 (`plugin_ab`).
const LANES: usize = 8;

/// One branchless step down a flat tree, counting nodes from 1: node `m` is entry `m - 1` of
/// the tree's `splits` (which are stored 0-based, children `2i + 1` and `2i + 2`), and its
/// children are `2m` and `2m + 1`. The same walk as 0-based, one addition shorter per step.
///
/// `m` must be an internal node: every caller walks at most `depth` steps from the root
/// (m = 1) of a tree whose `splits` hold all `2^depth - 1` internal nodes, so after `d < depth`
/// steps `m < 2^(d+1) <= splits.len() + 1`.
#[inline(always)]
fn step(splits: &[Split], m: usize, point: &Point) -> usize {
    debug_assert!((1..=splits.len()).contains(&m));
    // SAFETY: `1 <= m <= splits.len()` by the walk invariant above, and every split's feature
    // is below POINT_WIDTH: `TreeGrower` only picks features below `dims <= POINT_WIDTH`, and
    // a decoded forest is validated before it exists (`Forest: TryFrom<ForestParts>`). This
    // is the innermost loop of scoring (100 trees x 8 steps per event); the bounds checks were
    // measured at ~15% of a wasm score call.
    //
    // Entry `m - 1` is read through a pointer moved back by one entry (with wrapping
    // arithmetic: it points outside the slice until `m >= 1` is added), not as `m - 1`: the
    // split's threshold and feature then share one address, `base + 8m`, where `m - 1` made
    // the wasm code compute `base + 8m - 8` and `base + 8m - 4` apart (a wasm load's offset
    // cannot be negative). Six alternated runs of each build, `--bench scoring`, batch 1,000
    // in wasm: 678-682k against 664-669k events/s; natively the same within noise.
    let (split, value) = unsafe {
        let split = *splits.as_ptr().wrapping_sub(1).wrapping_add(m);
        (split, *point.get_unchecked(split.feature as usize))
    };
    2 * m + usize::from(value > split.threshold)
}

/// The leaf indices (counted from 1, so `2^DEPTH` is the first leaf) that `LANES` points
/// reach, walked in lockstep level by level in a loop: what LLVM compiles best natively.
#[inline(always)]
fn walk_lanes_looped<const DEPTH: u32>(splits: &[Split], group: &[Point]) -> [usize; LANES] {
    let mut nodes = [1usize; LANES];
    for _ in 0..DEPTH {
        for (node, point) in nodes.iter_mut().zip(group) {
            *node = step(splits, *node, point);
        }
    }
    nodes
}

/// The leaf index `point` reaches in a tree of `DEPTH` levels.
#[inline(always)]
fn walk<const DEPTH: u32>(splits: &[Split], point: &Point) -> usize {
    let mut m = 1usize;
    for _ in 0..DEPTH {
        m = step(splits, m, point);
    }
    m - (1 << DEPTH)
}

/// How a forest is grown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForestShape {
    /// Number of trees.
    pub trees: usize,
    /// Points drawn (without replacement) to grow each tree, at most [`MAX_SAMPLE_SIZE`].
    pub sample_size: usize,
    /// Leading coordinates of a point that the trees split on, at most [`POINT_WIDTH`].
    pub dims: usize,
}

/// A grown forest. Decoding one validates it (see [`Forest::validate`]): scoring relies on
/// every split naming a feature inside the point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ForestParts")]
pub struct Forest {
    shape: ForestShape,
    /// Sub-sample actually used: `sample_size`, or fewer when fewer points were given.
    psi: usize,
    /// Height limit ceil(log2(psi)): every lookup takes exactly this many steps.
    depth: u32,
    /// `trees × (2^depth - 1)` internal nodes, tree after tree.
    splits: Vec<Split>,
    /// `trees × 2^depth` path lengths h(x), tree after tree.
    leaves: Vec<f32>,
    /// `trees × 2^depth` steps: the splits and leaves as the plugin walks them in wasm (see
    /// [`state_walk`]), entry 0 of each tree its root's state. Derived from `splits` and
    /// `leaves` whenever they change, so not serialised.
    #[serde(skip)]
    steps: Vec<state_walk::Step>,
}

/// A [`Forest`] as decoded, before it is validated: the same fields, so the encoding is the
/// forest's own.
#[derive(Deserialize)]
struct ForestParts {
    shape: ForestShape,
    psi: usize,
    depth: u32,
    splits: Vec<Split>,
    leaves: Vec<f32>,
}

impl TryFrom<ForestParts> for Forest {
    type Error = String;

    fn try_from(parts: ForestParts) -> Result<Forest, String> {
        let ForestParts { shape, psi, depth, splits, leaves } = parts;
        let mut forest = Forest { shape, psi, depth, splits, leaves, steps: Vec::new() };
        forest.validate()?;
        forest.compile_all();
        Ok(forest)
    }
}

impl Forest {
    /// Grow every tree from `points`.
    pub fn fit(shape: ForestShape, points: &[Point], rng: &mut SplitMix64) -> Self {
        assert!(shape.dims <= POINT_WIDTH && shape.sample_size <= MAX_SAMPLE_SIZE);
        let psi = shape.sample_size.min(points.len());
        let depth = height_limit(psi);
        let (internal, leaves) = ((1usize << depth) - 1, 1usize << depth);
        let mut forest = Forest {
            shape,
            psi,
            depth,
            splits: vec![tree::ALWAYS_LEFT; shape.trees * internal],
            leaves: vec![0.0; shape.trees * leaves],
            steps: Vec::new(),
        };
        let mut order: Vec<u32> = (0..points.len() as u32).collect();
        for t in 0..shape.trees {
            forest.grow_tree(t, points, &mut order, rng);
        }
        forest.compile_all();
        forest
    }

    /// Derive every tree's steps from its splits and leaves.
    fn compile_all(&mut self) {
        let per_tree = self.internal_nodes() + 1;
        self.steps = vec![state_walk::Step::default(); self.shape.trees * per_tree];
        for t in 0..self.shape.trees {
            self.compile_tree(t);
        }
    }

    /// Derive tree `t`'s steps from its splits and leaves.
    fn compile_tree(&mut self, t: usize) {
        let internal = self.internal_nodes();
        state_walk::compile(
            &self.splits[t * internal..][..internal],
            &self.leaves[t * (internal + 1)..][..internal + 1],
            &mut self.steps[t * (internal + 1)..][..internal + 1],
        );
    }

    /// Whether [`Forest::replace_tree`] may be used with `available` points: replacing trees
    /// one by one is only sound while every tree is grown on the same sub-sample size.
    pub fn accepts_replacement_from(&self, available: usize) -> bool {
        self.shape.sample_size.min(available) == self.psi
    }

    /// Regrow tree `t` from a fresh sub-sample of `points`, leaving the others untouched.
    pub fn replace_tree(&mut self, t: usize, points: &[Point], rng: &mut SplitMix64) {
        assert!(self.accepts_replacement_from(points.len()) && t < self.shape.trees);
        let mut order: Vec<u32> = (0..points.len() as u32).collect();
        self.grow_tree(t, points, &mut order, rng);
        self.compile_tree(t);
    }

    fn grow_tree(&mut self, t: usize, points: &[Point], order: &mut [u32], rng: &mut SplitMix64) {
        // Partial Fisher–Yates: the first psi entries become a uniform sample without
        // replacement. `order` carries over between trees, which keeps it uniform.
        for i in 0..self.psi {
            let j = i + rng.below((order.len() - i) as u64) as usize;
            order.swap(i, j);
        }
        let mut members = order[..self.psi].to_vec();
        let (internal, leaves) = (self.internal_nodes(), self.internal_nodes() + 1);
        TreeGrower {
            points,
            dims: self.shape.dims,
            depth: self.depth,
            splits: &mut self.splits[t * internal..(t + 1) * internal],
            leaves: &mut self.leaves[t * leaves..(t + 1) * leaves],
            rng,
        }
        .grow(&mut members);
    }

    /// The shape the forest was grown with.
    pub fn shape(&self) -> ForestShape {
        self.shape
    }

    fn internal_nodes(&self) -> usize {
        (1usize << self.depth) - 1
    }

    /// Anomaly scores s = 2^(-E(h) / c(psi)) in [0, 1], one per point, written to `scores`.
    ///
    /// With fewer than two training points there is nothing to compare against, and every
    /// point gets 0.5 (the score of a point whose depth is exactly average).
    pub fn score_into(&self, points: &[Point], scores: &mut [f32]) {
        assert_eq!(points.len(), scores.len());
        let normaliser = self.shape.trees as f64 * average_path_length(self.psi);
        if normaliser <= 0.0 {
            scores.fill(0.5);
            return;
        }
        let inverse = (1.0 / normaliser) as f32;
        for (chunk, out) in points.chunks(CHUNK).zip(scores.chunks_mut(CHUNK)) {
            out.fill(0.0);
            self.sum_path_lengths(chunk, out);
            for s in out.iter_mut() {
                *s = (-*s * inverse).exp2().clamp(0.0, 1.0);
            }
        }
    }

    /// Adds every tree's h(x) to `sums`, tree-major. Trees are visited in order, so the sum
    /// (and so the score) of a point never depends on the batch it came in.
    fn sum_path_lengths(&self, points: &[Point], sums: &mut [f32]) {
        // A constant depth lets the compiler unroll the walk completely.
        match self.depth {
            0 => self.walk_all::<0>(points, sums),
            1 => self.walk_all::<1>(points, sums),
            2 => self.walk_all::<2>(points, sums),
            3 => self.walk_all::<3>(points, sums),
            4 => self.walk_all::<4>(points, sums),
            5 => self.walk_all::<5>(points, sums),
            6 => self.walk_all::<6>(points, sums),
            7 => self.walk_all::<7>(points, sums),
            8 => self.walk_all::<8>(points, sums),
            9 => self.walk_all::<9>(points, sums),
            10 => self.walk_all::<10>(points, sums),
            11 => self.walk_all::<11>(points, sums),
            12 => self.walk_all::<12>(points, sums),
            depth => unreachable!("depth {depth} exceeds the supported sample size"),
        }
    }

    fn walk_all<const DEPTH: u32>(&self, points: &[Point], sums: &mut [f32]) {
        let internal = (1usize << DEPTH) - 1;
        let per_tree_leaves = internal + 1;
        for t in 0..self.shape.trees {
            let splits = &self.splits[t * internal..][..internal];
            let steps = &self.steps[t * per_tree_leaves..][..per_tree_leaves];
            let leaves = &self.leaves[t * per_tree_leaves..][..per_tree_leaves];
            // A walk is a chain of dependent loads; walking LANES points in lockstep gives
            // the CPU independent chains side by side instead of one long one.
            let mut point_groups = points.chunks_exact(LANES);
            let mut sum_groups = sums.chunks_exact_mut(LANES);
            for (group, group_sums) in (&mut point_groups).zip(&mut sum_groups) {
                if cfg!(target_arch = "wasm32") {
                    let lengths = state_walk::lanes_unrolled::<DEPTH>(steps, group);
                    for (sum, length) in group_sums.iter_mut().zip(lengths) {
                        *sum += length;
                    }
                } else {
                    let nodes = walk_lanes_looped::<DEPTH>(splits, group);
                    for (sum, node) in group_sums.iter_mut().zip(nodes) {
                        *sum += leaves[node - per_tree_leaves];
                    }
                }
            }
            for (sum, point) in sum_groups.into_remainder().iter_mut().zip(point_groups.remainder()) {
                *sum += leaves[walk::<DEPTH>(splits, point)];
            }
        }
    }

    /// Check a forest decoded from outside (a snapshot) before it is ever walked.
    pub fn validate(&self) -> Result<(), String> {
        let ForestShape { trees, sample_size, dims } = self.shape;
        if dims > POINT_WIDTH || !(2..=MAX_SAMPLE_SIZE).contains(&sample_size) {
            return Err(format!("forest: impossible shape {:?}", self.shape));
        }
        if self.psi > sample_size || self.depth != height_limit(self.psi) {
            return Err(format!("forest: depth {} does not match sub-sample {}", self.depth, self.psi));
        }
        let internal = self.internal_nodes();
        if self.splits.len() != trees * internal || self.leaves.len() != trees * (internal + 1) {
            return Err("forest: node arrays do not match the tree count and depth".to_owned());
        }
        if self.splits.iter().any(|s| s.feature as usize >= dims.max(1) || s.threshold.is_nan()) {
            return Err("forest: a split names an unknown feature or has no threshold".to_owned());
        }
        if self.leaves.iter().any(|h| !h.is_finite() || *h < 0.0) {
            return Err("forest: a leaf holds an invalid path length".to_owned());
        }
        Ok(())
    }
}
