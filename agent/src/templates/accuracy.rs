//! Grouping accuracy, the loghub benchmark's "GA" (Zhu et al., "Tools and Benchmarks for
//! Automated Log Parsing", ICSE-SEIP 2019): a line is parsed correctly when the lines its
//! predicted template groups together are exactly the lines its true template groups.

use std::collections::HashMap;
use std::hash::Hash;

/// The share of lines whose predicted group equals their true group; `truth[i]` and
/// `predicted[i]` label line `i`. 1.0 for no lines.
///
/// # Panics
/// When the two slices differ in length.
pub fn grouping_accuracy<T: Eq + Hash, P: Eq + Hash>(truth: &[T], predicted: &[P]) -> f64 {
    assert_eq!(truth.len(), predicted.len(), "one predicted label per line");
    if truth.is_empty() {
        return 1.0;
    }
    // A predicted group is right when all its lines share one true label and that label has
    // no lines elsewhere: then both groups are the same set.
    let mut true_sizes: HashMap<&T, usize> = HashMap::new();
    for t in truth {
        *true_sizes.entry(t).or_default() += 1;
    }
    let mut groups: HashMap<&P, (&T, usize, bool)> = HashMap::new();
    for (t, p) in truth.iter().zip(predicted) {
        let group = groups.entry(p).or_insert((t, 0, true));
        group.1 += 1;
        if group.0 != t {
            group.2 = false;
        }
    }
    let correct: usize =
        groups.values().filter(|(t, size, pure)| *pure && true_sizes[t] == *size).map(|(_, size, _)| size).sum();
    correct as f64 / truth.len() as f64
}
