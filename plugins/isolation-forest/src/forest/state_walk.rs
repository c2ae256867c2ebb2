//! The form of a tree that the plugin walks in wasm: one [`Step`] per internal node, holding
//! its threshold and its two children's *states*. A state packs a node number with the feature
//! that node's split reads, so the value a point compares next is found from the state alone.
//!
//! With [`Split`]s, a step is a chain of two dependent loads (the node's feature, then the
//! point's value) before the comparison; here the node's record and the point's value are
//! loaded side by side. In Cranelift's code a step is twelve instructions and three loads,
//! nothing spilled: `cmova`, `mov`, `and`, `lea`, the value's load, `and`, `lea`, the
//! threshold's and both children's loads (one 64-bit load), `mov`, `shr`, `ucomiss`. Natively
//! the split walk stays: LLVM folds its addresses into the loads, and this walk, looped, is
//! ~1.3x slower there (`forest_throughput`: ~590 against ~460 ns per point).
//!
//! A leaf's state is its path length h(x) itself (its bits), so a walk ends on what it adds to
//! the point's sum, with no leaf index to check against the leaves and load from them.

use super::tree::Split;
use super::{LANES, Point};

/// A walk's position: at an internal node `m` (counted from 1), the node and the feature its
/// split reads as `m << 4 | feature`, so the node's [`Step`] is at byte offset `state & !15`
/// (steps are 16 bytes) and the value at `point[state & 15]`; at a leaf, the bits of its
/// path length.
pub type State = u32;

const FEATURE_BITS: u32 = 4;
const FEATURE_MASK: u32 = (1 << FEATURE_BITS) - 1;
const _: () = assert!(super::POINT_WIDTH == 1 << FEATURE_BITS && size_of::<Step>() == 1 << FEATURE_BITS);

/// A node as the walk reads it: go right when the value exceeds `threshold`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[repr(C, align(16))]
pub struct Step {
    threshold: f32,
    _pad: u32,
    /// The left child's state in the low half, the right child's in the high half: one load
    /// and one register per lane, where two left too few of x86's sixteen registers for eight
    /// lanes (the right child's state was spilled to the stack at every step).
    children: u64,
}

impl Step {
    fn new(threshold: f32, left: State, right: State) -> Step {
        Step { threshold, _pad: 0, children: u64::from(left) | (u64::from(right) << 32) }
    }
}

/// The state of node `m` of a tree with these splits and leaves: for a leaf (past the
/// splits), its path length's bits, so a walk ends holding what it adds to the point's sum.
fn state(splits: &[Split], leaves: &[f32], m: usize) -> State {
    match splits.get(m - 1) {
        Some(split) => {
            debug_assert!(split.feature <= FEATURE_MASK);
            ((m as u32) << FEATURE_BITS) | split.feature
        }
        None => leaves[m - leaves.len()].to_bits(),
    }
}

/// A tree's steps from its splits and leaves: entry `m` is node `m`, and entry 0 holds the
/// root's state as both children, so every walk starts from `steps[0]`.
///
/// Every split's feature must be below [`super::POINT_WIDTH`] (grown or validated forests).
pub fn compile(splits: &[Split], leaves: &[f32], steps: &mut [Step]) {
    assert!(steps.len() == splits.len() + 1 && leaves.len() == splits.len() + 1);
    let root = state(splits, leaves, 1);
    steps[0] = Step::new(f32::INFINITY, root, root);
    for (i, split) in splits.iter().enumerate() {
        let m = i + 1;
        steps[m] = Step::new(split.threshold, state(splits, leaves, 2 * m), state(splits, leaves, 2 * m + 1));
    }
}

/// The node number of a state.
#[inline(always)]
fn node(state: State) -> usize {
    (state >> FEATURE_BITS) as usize
}

/// One step down from `state`, an internal node.
///
/// The loads are volatile so that LLVM keeps them in program order, level by level, and both
/// children's states loaded before the comparison: otherwise its wasm backend regroups
/// written-out levels one lane at a time (420k events/s), and picks a child's address to load
/// after the comparison, a load more on each step's chain (0.88x).
#[inline(always)]
fn advance(steps: &[Step], state: State, point: &Point) -> State {
    debug_assert!((1..steps.len()).contains(&node(state)));
    // SAFETY: `state` names an internal node, so `1 <= node(state) < steps.len()`: the walk
    // takes at most `depth` steps from the root, and a tree of depth `depth` has steps for
    // all `2^depth - 1` internal nodes. Its low bits are a split's feature, below
    // POINT_WIDTH (`compile`). Volatile reads of valid, aligned, initialised values.
    unsafe {
        let value = std::ptr::read_volatile(point.as_ptr().add((state & FEATURE_MASK) as usize));
        let step = steps.as_ptr().byte_add((state & !FEATURE_MASK) as usize);
        let threshold = std::ptr::read_volatile(&raw const (*step).threshold);
        let children = std::ptr::read_volatile(&raw const (*step).children);
        (if value > threshold { children >> 32 } else { children }) as State
    }
}

/// The path lengths h(x) of the leaves that `LANES` points reach, walked in lockstep with the
/// levels written out. A wasm loop costs Cranelift an epoch check at its head (the call
/// deadline), and a value live across that check's slow path, a call, must sit in one of the
/// few callee-saved registers or on the stack: a looped walk stored and reloaded five of its
/// eight lanes at every level. Written out, there is no loop and so no check.
#[inline(always)]
pub fn lanes_unrolled<const DEPTH: u32>(steps: &[Step], group: &[Point]) -> [f32; LANES] {
    const { assert!(DEPTH <= 12, "levels! writes out at most 12 levels") };
    let mut states = [steps[0].children as State; LANES];
    let mut level = || {
        for (state, point) in states.iter_mut().zip(group) {
            *state = advance(steps, *state, point);
        }
    };
    macro_rules! levels {
        ($($below:literal)*) => { $( if DEPTH > $below { level(); } )* };
    }
    levels!(0 1 2 3 4 5 6 7 8 9 10 11);
    states.map(f32::from_bits)
}
