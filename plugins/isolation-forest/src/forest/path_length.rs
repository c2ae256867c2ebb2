//! The average path length c(n) of an unsuccessful search in a binary search tree of n
//! points: the correction added at external nodes and the normaliser of the score.

/// Euler–Mascheroni constant, for the harmonic-number approximation H(i) ≈ ln(i) + γ.
const EULER_GAMMA: f64 = 0.577_215_664_9;

/// c(n) = 2H(n-1) - 2(n-1)/n, with c(0) = c(1) = 0 and c(2) = 1 (Liu, Ting, Zhou 2008).
pub fn average_path_length(n: usize) -> f64 {
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let n = n as f64;
            2.0 * ((n - 1.0).ln() + EULER_GAMMA) - 2.0 * (n - 1.0) / n
        }
    }
}

/// ceil(log2(n)): the height limit of a tree grown on n points (0 for n ≤ 1).
pub fn height_limit(n: usize) -> u32 {
    if n <= 1 { 0 } else { usize::BITS - (n - 1).leading_zeros() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_cases_follow_the_paper() {
        assert_eq!(average_path_length(0), 0.0);
        assert_eq!(average_path_length(1), 0.0);
        assert_eq!(average_path_length(2), 1.0);
        // c(256) ≈ 10.24, the usual normaliser for the default sub-sample.
        assert!((average_path_length(256) - 10.244).abs() < 0.01);
    }

    #[test]
    fn path_length_grows_with_n() {
        let values: Vec<f64> = (2..300).map(average_path_length).collect();
        assert!(values.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn height_limit_is_ceil_log2() {
        assert_eq!(height_limit(1), 0);
        assert_eq!(height_limit(2), 1);
        assert_eq!(height_limit(3), 2);
        assert_eq!(height_limit(256), 8);
        assert_eq!(height_limit(257), 9);
        assert_eq!(height_limit(4096), 12);
    }
}
