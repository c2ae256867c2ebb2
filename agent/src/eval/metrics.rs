//! Detection-quality metrics over scored, labeled events: ROC-AUC from the scores alone, and
//! precision, recall and F1 of the verdicts at a threshold.

/// Precision, recall and F1 of verdicts against labels (positive = anomalous).
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct Confusion {
    /// Anomalies flagged.
    pub true_positives: u64,
    /// Normal events flagged.
    pub false_positives: u64,
    /// Anomalies missed.
    pub false_negatives: u64,
    /// Normal events left alone.
    pub true_negatives: u64,
}

impl Confusion {
    /// Count `flagged` against `labels` (same length).
    pub fn count(flagged: impl IntoIterator<Item = bool>, labels: &[bool]) -> Self {
        let mut c = Confusion::default();
        for (flag, &label) in flagged.into_iter().zip(labels) {
            match (flag, label) {
                (true, true) => c.true_positives += 1,
                (true, false) => c.false_positives += 1,
                (false, true) => c.false_negatives += 1,
                (false, false) => c.true_negatives += 1,
            }
        }
        c
    }

    /// Share of flagged events that are anomalies (0 when nothing is flagged).
    pub fn precision(&self) -> f64 {
        ratio(self.true_positives, self.true_positives + self.false_positives)
    }

    /// Share of anomalies flagged.
    pub fn recall(&self) -> f64 {
        ratio(self.true_positives, self.true_positives + self.false_negatives)
    }

    /// Harmonic mean of precision and recall.
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 { 0.0 } else { 2.0 * p * r / (p + r) }
    }

    /// Share of normal events flagged.
    pub fn false_positive_rate(&self) -> f64 {
        ratio(self.false_positives, self.false_positives + self.true_negatives)
    }
}

fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 { 0.0 } else { num as f64 / den as f64 }
}

/// Area under the ROC curve: the probability that a random anomaly scores above a random
/// normal event, ties counting one half (the Mann-Whitney U statistic). `None` when either
/// class is empty.
pub fn roc_auc(scores: &[f32], labels: &[bool]) -> Option<f64> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let positives = labels.iter().filter(|&&l| l).count() as f64;
    let negatives = labels.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return None;
    }
    // Sum of the positives' ranks, tied scores sharing their average rank.
    let mut rank_sum = 0.0;
    let mut start = 0;
    while start < order.len() {
        let mut end = start;
        while end + 1 < order.len() && scores[order[end + 1]] == scores[order[start]] {
            end += 1;
        }
        let average_rank = (start + end) as f64 / 2.0 + 1.0;
        rank_sum += average_rank * order[start..=end].iter().filter(|&&i| labels[i]).count() as f64;
        start = end + 1;
    }
    Some((rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives))
}

/// The best F1 over every threshold, and the threshold reaching it: what the detector could
/// do with a threshold tuned on the labels (reported beside, never instead of, the F1 at the
/// configured threshold).
pub fn best_f1(scores: &[f32], labels: &[bool]) -> (f64, f32) {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let positives = labels.iter().filter(|&&l| l).count() as f64;
    let (mut tp, mut flagged) = (0.0, 0.0);
    let (mut best, mut at) = (0.0, 1.0);
    for (k, &i) in order.iter().enumerate() {
        tp += f64::from(u8::from(labels[i]));
        flagged += 1.0;
        // Only between distinct scores can a threshold fall.
        if order.get(k + 1).is_some_and(|&j| scores[j] == scores[i]) {
            continue;
        }
        let f1 = if tp == 0.0 { 0.0 } else { 2.0 * tp / (flagged + positives) };
        if f1 > best {
            (best, at) = (f1, scores[i]);
        }
    }
    (best, at)
}
