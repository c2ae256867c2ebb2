use super::*;

const SHAPE: ForestShape = ForestShape { trees: 100, sample_size: 256, dims: 3 };

fn point(values: &[f32]) -> Point {
    let mut p = [0.0; POINT_WIDTH];
    p[..values.len()].copy_from_slice(values);
    p
}

/// A tight cluster around (10, 20, 30): the sum of a few uniforms is bell-shaped enough.
fn cluster(n: usize, seed: u64) -> Vec<Point> {
    let mut rng = SplitMix64::new(seed);
    let mut bell = |centre: f32| centre + (0..4).map(|_| rng.next_f32() - 0.5).sum::<f32>();
    (0..n).map(|_| point(&[bell(10.0), bell(20.0), bell(30.0)])).collect()
}

fn scores(forest: &Forest, points: &[Point]) -> Vec<f32> {
    let mut out = vec![0.0; points.len()];
    forest.score_into(points, &mut out);
    out
}

#[test]
fn obvious_outlier_scores_higher_than_the_bulk() {
    let data = cluster(2000, 1);
    let forest = Forest::fit(SHAPE, &data, &mut SplitMix64::new(9));
    let mut bulk = scores(&forest, &data);
    bulk.sort_by(f32::total_cmp);
    let outlier = scores(&forest, &[point(&[60.0, -20.0, 90.0])])[0];
    let bulk_mean = bulk.iter().sum::<f32>() / bulk.len() as f32;
    let bulk_p99 = bulk[bulk.len() * 99 / 100];
    assert!(outlier > 0.65, "outlier scored {outlier}");
    assert!(bulk_mean < 0.5, "bulk mean {bulk_mean}");
    // The most extreme training points sit at the cluster's edge and are isolated almost as
    // fast as an out-of-range point, so compare against the 99th percentile, not the max.
    assert!(outlier > bulk_p99, "outlier {outlier}, bulk p99 {bulk_p99}");
}

#[test]
fn identical_training_points_give_finite_scores() {
    let data = vec![point(&[1.0, 1.0, 1.0]); 500];
    let forest = Forest::fit(SHAPE, &data, &mut SplitMix64::new(1));
    let probes = [point(&[1.0, 1.0, 1.0]), point(&[5.0, -3.0, 1e30])];
    for s in scores(&forest, &probes) {
        assert!(s.is_finite() && (0.0..=1.0).contains(&s), "score {s}");
    }
}

#[test]
fn same_seed_grows_identical_forests_and_another_seed_does_not() {
    let data = cluster(1000, 2);
    let a = Forest::fit(SHAPE, &data, &mut SplitMix64::new(5));
    let b = Forest::fit(SHAPE, &data, &mut SplitMix64::new(5));
    let c = Forest::fit(SHAPE, &data, &mut SplitMix64::new(6));
    assert_eq!(a, b);
    assert_ne!(a.splits, c.splits);
    let probe = cluster(100, 3);
    let (sa, sb) = (scores(&a, &probe), scores(&b, &probe));
    assert!(sa.iter().zip(&sb).all(|(x, y)| x.to_bits() == y.to_bits()));
}

#[test]
fn serialised_forest_scores_bit_identically() {
    let data = cluster(800, 4);
    let forest = Forest::fit(SHAPE, &data, &mut SplitMix64::new(11));
    let bytes = postcard::to_stdvec(&forest).unwrap();
    let restored: Forest = postcard::from_bytes(&bytes).unwrap();
    restored.validate().unwrap();
    let probe = cluster(300, 5);
    let (before, after) = (scores(&forest, &probe), scores(&restored, &probe));
    assert!(before.iter().zip(&after).all(|(x, y)| x.to_bits() == y.to_bits()));
}

#[test]
fn scores_stay_in_the_unit_interval() {
    let data = cluster(600, 6);
    let forest = Forest::fit(SHAPE, &data, &mut SplitMix64::new(3));
    let mut rng = SplitMix64::new(8);
    let wild: Vec<Point> =
        (0..2000).map(|_| point(&[rng.next_f32() * 1e6 - 5e5, rng.next_f32(), -rng.next_f32() * 1e9])).collect();
    assert!(scores(&forest, &wild).iter().all(|s| (0.0..=1.0).contains(s)));
}

#[test]
fn tiny_training_sets_do_not_panic_or_produce_nan() {
    let probe = [point(&[0.0, 0.0, 0.0]), point(&[100.0, 1.0, 2.0])];
    for n in 0..=3 {
        let data: Vec<Point> = (0..n).map(|i| point(&[i as f32, 0.0, 0.0])).collect();
        let forest = Forest::fit(SHAPE, &data, &mut SplitMix64::new(1));
        forest.validate().unwrap();
        for s in scores(&forest, &probe) {
            assert!((0.0..=1.0).contains(&s), "{n} points gave {s}");
        }
    }
}

#[test]
fn batch_split_does_not_change_scores() {
    let data = cluster(1000, 7);
    let forest = Forest::fit(SHAPE, &data, &mut SplitMix64::new(2));
    let probe = cluster(700, 8);
    let whole = scores(&forest, &probe);
    let one_by_one: Vec<f32> = probe.iter().map(|p| scores(&forest, &[*p])[0]).collect();
    assert_eq!(whole, one_by_one);
}

#[test]
fn replacing_a_tree_changes_only_that_tree() {
    let data = cluster(1000, 9);
    let mut forest = Forest::fit(SHAPE, &data, &mut SplitMix64::new(4));
    let before = forest.clone();
    assert!(forest.accepts_replacement_from(data.len()));
    forest.replace_tree(3, &cluster(1000, 10), &mut SplitMix64::new(99));
    let internal = before.internal_nodes();
    let changed: Vec<usize> = (0..SHAPE.trees)
        .filter(|t| forest.splits[t * internal..][..internal] != before.splits[t * internal..][..internal])
        .collect();
    assert_eq!(changed, vec![3]);
    assert!(!forest.accepts_replacement_from(100), "a smaller sub-sample needs a full fit");
}

#[test]
fn path_lengths_match_the_paper_on_two_points() {
    // Two distinct points: the root separates them, each leaf is depth 1 + c(1) = 1, so
    // E(h) = c(2) = 1 and every score is exactly 0.5.
    let data = [point(&[0.0, 0.0, 0.0]), point(&[1.0, 1.0, 1.0])];
    let forest = Forest::fit(SHAPE, &data, &mut SplitMix64::new(1));
    assert_eq!(scores(&forest, &data), vec![0.5, 0.5]);
}

#[test]
fn corrupt_forest_is_rejected() {
    let data = cluster(300, 11);
    let mut forest = Forest::fit(SHAPE, &data, &mut SplitMix64::new(1));
    forest.splits[0].feature = 40;
    assert!(forest.validate().unwrap_err().contains("unknown feature"));
    let bytes = postcard::to_stdvec(&forest).unwrap();
    let decoded = postcard::from_bytes::<Forest>(&bytes);
    assert!(decoded.is_err(), "a forest that names a feature outside the point is never decoded (scoring trusts it)");
    let mut forest = Forest::fit(SHAPE, &data, &mut SplitMix64::new(1));
    forest.leaves.pop();
    assert!(forest.validate().is_err());
}

/// Forest-only throughput, for tuning the walk: `cargo test --release -p
/// vigil-isolation-forest forest_throughput -- --ignored --nocapture`.
#[test]
#[ignore = "timing, not a check"]
fn forest_throughput() {
    let shape = ForestShape { trees: 100, sample_size: 256, dims: 11 };
    let mut rng = SplitMix64::new(1);
    let data: Vec<Point> = (0..20_000)
        .map(|_| {
            let mut p = [0.0; POINT_WIDTH];
            p[..11].iter_mut().for_each(|v| *v = rng.next_f32());
            p
        })
        .collect();
    let forest = Forest::fit(shape, &data[..4096], &mut rng);
    let mut out = vec![0.0; data.len()];
    forest.score_into(&data, &mut out);
    let start = std::time::Instant::now();
    for _ in 0..10 {
        forest.score_into(std::hint::black_box(&data), &mut out);
    }
    let ns = start.elapsed().as_nanos() as f64 / (10 * data.len()) as f64;
    println!("forest: {ns:.0} ns/point, {:.2} ns/node visit", ns / (100.0 * 8.0));
}

/// The walk, however it is written for speed, goes right exactly when `value > threshold`:
/// both lockstep walks (the looped split walk run natively, the written-out state walk run in
/// wasm) are checked against a plain walk over the 0-based layout, on points that sit exactly
/// on thresholds, one step of f32 either side of them, at zero and far outside the data, at
/// depth 8 (the default sub-sample, 256) and 7 (128).
#[test]
fn walk_goes_right_exactly_when_the_value_exceeds_the_threshold() {
    walks_go_right_exactly_when_the_value_exceeds_the_threshold::<8>(SHAPE);
    walks_go_right_exactly_when_the_value_exceeds_the_threshold::<7>(ForestShape { sample_size: 128, ..SHAPE });
}

fn walks_go_right_exactly_when_the_value_exceeds_the_threshold<const DEPTH: u32>(shape: ForestShape) {
    let data = cluster(1000, 21);
    let forest = Forest::fit(shape, &data, &mut SplitMix64::new(5));
    assert_eq!(forest.depth, DEPTH);
    let mut probe = cluster(200, 22);
    let thresholds: Vec<(usize, f32)> = forest
        .splits
        .iter()
        .filter(|s| s.threshold.is_finite())
        .step_by(7)
        .map(|s| (s.feature as usize, s.threshold))
        .collect();
    for (i, &(feature, t)) in thresholds.iter().enumerate() {
        for value in [t, f32::from_bits(t.to_bits() + 1), f32::from_bits(t.to_bits() - 1)] {
            let mut p = probe[i % 200];
            p[feature] = value;
            probe.push(p);
        }
    }
    probe.extend([point(&[0.0, 0.0, 0.0]), point(&[1e30, -1e30, 0.5]), point(&[-0.0, 1e-40, 3e38])]);
    probe.truncate(probe.len() / LANES * LANES);
    assert!(probe.len() > 1000, "enough thresholds probed: {}", probe.len());

    let internal = forest.internal_nodes();
    // The state walk ends on a leaf's path length, and many leaves share one: walked over a
    // copy whose leaves hold their own index, it must end on the very leaf.
    let mut numbered = forest.clone();
    numbered.leaves.iter_mut().enumerate().for_each(|(i, h)| *h = (i % (internal + 1)) as f32);
    numbered.compile_all();
    let mut expected_sums = vec![0.0f32; probe.len()];
    for t in 0..shape.trees {
        let splits = &forest.splits[t * internal..][..internal];
        let steps = &numbered.steps[t * (internal + 1)..][..internal + 1];
        let leaves: Vec<usize> = probe
            .iter()
            .map(|p| {
                let mut i = 0;
                while i < internal {
                    let split = splits[i];
                    i = 2 * i + if p[split.feature as usize] > split.threshold { 2 } else { 1 };
                }
                i - internal
            })
            .collect();
        for (group, expected) in probe.chunks_exact(LANES).zip(leaves.chunks_exact(LANES)) {
            let first_leaf = internal + 1;
            let looped = walk_lanes_looped::<DEPTH>(splits, group).map(|m| m - first_leaf);
            let states = state_walk::lanes_unrolled::<DEPTH>(steps, group).map(|leaf| leaf as usize);
            assert_eq!(looped, expected, "tree {t}, looped walk");
            assert_eq!(states, expected, "tree {t}, written-out state walk");
        }
        for (sum, leaf) in expected_sums.iter_mut().zip(leaves) {
            *sum += forest.leaves[t * (internal + 1) + leaf];
        }
    }
    let mut sums = vec![0.0; probe.len()];
    forest.sum_path_lengths(&probe, &mut sums);
    assert_eq!(sums, expected_sums);
}

/// The steps the plugin walks in wasm are derived from the splits and leaves, which are what
/// growing, retraining and snapshots change: after each, the state walk must end on the path
/// length the split walk reaches, tree by tree (natively, scoring walks the splits, so scores
/// alone would not show steps left stale).
#[test]
fn the_state_walk_follows_the_splits_after_growing_retraining_and_decoding() {
    fn assert_walks_agree(forest: &Forest, probe: &[Point], when: &str) {
        let internal = forest.internal_nodes();
        for t in 0..forest.shape.trees {
            let splits = &forest.splits[t * internal..][..internal];
            let steps = &forest.steps[t * (internal + 1)..][..internal + 1];
            for group in probe.chunks_exact(LANES) {
                let by_state = state_walk::lanes_unrolled::<8>(steps, group);
                let leaves = &forest.leaves[t * (internal + 1)..][..internal + 1];
                let by_split: Vec<f32> = group.iter().map(|p| leaves[walk::<8>(splits, p)]).collect();
                assert_eq!(by_state.to_vec(), by_split, "{when}: tree {t}");
            }
        }
    }
    let data = cluster(1000, 31);
    let probe = cluster(64, 32);
    let mut forest = Forest::fit(SHAPE, &data, &mut SplitMix64::new(7));
    assert_walks_agree(&forest, &probe, "grown");
    let shifted: Vec<Point> = cluster(1000, 33).iter().map(|p| point(&[p[0] + 5.0, p[2], p[1]])).collect();
    let mut rng = SplitMix64::new(8);
    for t in [0, 41, 99] {
        forest.replace_tree(t, &shifted, &mut rng);
    }
    assert_walks_agree(&forest, &probe, "three trees regrown on other data");
    let decoded: Forest = postcard::from_bytes(&postcard::to_stdvec(&forest).unwrap()).unwrap();
    assert_walks_agree(&decoded, &probe, "decoded");
    assert_eq!(decoded, forest);
}
