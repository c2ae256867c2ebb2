//! Everything the detector has learned, and the schedule by which it keeps learning.
//!
//! Owns the feature state, the reservoir, the forest and the typical ranges, and decides
//! when the forest is regrown: during warm-up whenever enough new events have arrived, after
//! it every `retrain_every` events, one tree at a time so that no single call pays for a whole
//! forest (wasm has no threads to retrain in the background). It is the unit of snapshots:
//! its serialised form is exactly what `snapshot()` returns after the format header.

use serde::{Deserialize, Serialize};
use vigil_plugin_sdk::{Event, Verdict};

use crate::config::Params;
use crate::explain;
use crate::features::message::{PatternFacts, is_message};
use crate::features::{FEATURE_COUNT, FeatureExtractor, Novelty};
use crate::forest::{Forest, ForestShape, Point};
use crate::reservoir::Reservoir;
use crate::rng::SplitMix64;
use crate::typical::TypicalRanges;

/// The reason given while too few events have been seen to grow a forest.
pub const LEARNING_REASON: &str = "learning: not enough events yet";

/// During warm-up the forest is regrown once the reservoir has been offered this fraction
/// (1/8) more events than at the last growth: O(log warmup) regrows in total, however small
/// the batches, and no event waits long to be learned.
const WARMUP_GROWTH_DIVISOR: u64 = 8;

/// The learned state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Model {
    params: Params,
    extractor: FeatureExtractor,
    reservoir: Reservoir,
    forest: Option<Forest>,
    typical: TypicalRanges,
    rng: SplitMix64,
    /// Events ever turned into points, trained or scored.
    events_seen: u64,
    /// `reservoir.offered()` when the forest was last grown whole.
    grown_at: u64,
    /// Events scored since the last retrain began.
    since_retrain: u64,
    /// A retrain in progress, spread over the following calls.
    rolling: Option<RollingRetrain>,
}

/// Progress of a tree-by-tree retrain.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
struct RollingRetrain {
    /// Trees already regrown from the current reservoir.
    replaced: usize,
    /// Events scored since the retrain began; trees are replaced in proportion to them.
    credited: u64,
}

/// Buffers reused from call to call so scoring does not allocate per event.
#[derive(Default)]
pub struct Scratch {
    points: Vec<Point>,
    novelties: Vec<Novelty>,
    scores: Vec<f32>,
    /// Whether the forest alone scored each event under the threshold.
    ordinary: Vec<bool>,
    /// Each event's `request::path_key`, worked out once for extraction and learning.
    path_keys: Vec<u64>,
    /// What was learned of each message event's pattern when it was scored (default for
    /// access logs), for its reason.
    facts: Vec<PatternFacts>,
}

/// The score of an event for what was new about it, whatever the forest says: at or above
/// the threshold as soon as anything is new, higher the more is. A never-seen kind of
/// character in a well-known parameter or an unknown parameter on a well-known page counts
/// two points, a never-seen path one; four points reach 1.
pub fn novelty_score(novelty: &Novelty, threshold: f32) -> f32 {
    let points = 2 * novelty.new_classes.min(4) + 2 * novelty.unknown_params.min(4) + u32::from(novelty.unseen_path);
    if points == 0 {
        return 0.0;
    }
    let threshold = threshold.clamp(0.0, 1.0);
    threshold + (1.0 - threshold) * (points.min(4) as f32 / 4.0)
}

impl Model {
    /// A model that has learned nothing yet.
    pub fn new(params: Params) -> Self {
        Self {
            params,
            extractor: FeatureExtractor::new(params.ip_slots, params.window_secs),
            reservoir: Reservoir::new(params.reservoir),
            forest: None,
            typical: TypicalRanges::default(),
            rng: SplitMix64::new(params.seed),
            events_seen: 0,
            grown_at: 0,
            since_retrain: 0,
            rolling: None,
        }
    }

    /// Learn from a batch presumed normal: all of it enters the reservoir, and the forest is
    /// regrown whole.
    pub fn train(&mut self, batch: &[Event], scratch: &mut Scratch) {
        if batch.is_empty() {
            return;
        }
        self.extract(batch, scratch, true);
        for point in &scratch.points {
            self.reservoir.offer(*point, &mut self.rng);
        }
        if self.reservoir.points().len() >= 2 {
            self.regrow();
        }
    }

    /// Score a batch, learning from it as the schedule says.
    /// `rare_share` is the config's `rare_message_share` (see `features::message`).
    pub fn score(&mut self, batch: &[Event], threshold: f32, rare_share: f32, scratch: &mut Scratch) -> Vec<Verdict> {
        let warming_up = self.forest.is_none() || self.events_seen < self.params.warmup;
        self.extract(batch, scratch, warming_up);
        if warming_up {
            // Learned before scoring, so the very first batch is judged against itself.
            for point in &scratch.points {
                self.reservoir.offer(*point, &mut self.rng);
            }
            if self.warmup_regrow_due() {
                self.regrow();
            }
        }
        let Some(forest) = &self.forest else {
            return batch.iter().map(|_| Verdict::new(0.0, LEARNING_REASON)).collect();
        };
        scratch.scores.clear();
        scratch.scores.resize(batch.len(), 0.0);
        forest.score_into(&scratch.points, &mut scratch.scores);
        scratch.ordinary.clear();
        scratch.ordinary.extend(scratch.scores.iter().map(|&score| score < threshold));
        for (score, novelty) in scratch.scores.iter_mut().zip(&scratch.novelties) {
            // A comparison, not `f32::max`: the scores are never NaN, and in wasm `max` is a
            // call to libm's `fmaxf` for every event.
            if novelty.any() && !warming_up {
                let novelty = novelty_score(novelty, threshold);
                if novelty > *score {
                    *score = novelty;
                }
            }
        }
        // Events that are not access logs: the forest's request features are constant for
        // them, so their message pattern's rarity is their score (see `features::message`).
        // Past warm-up each pattern is counted right after its event is scored (whatever the
        // verdict: a message's pattern is learned either way), so the repeats of a pattern in
        // one batch are judged as they would be arriving one by one. Scored all before any
        // was counted, a new pattern's every repeat in the batch was "never seen": verdicts
        // depended on how events were batched (a file's backfill comes in calls of 1,024, a
        // quiet tail in ones; BGL's ROC-AUC was 0.75 at batch 1 and 0.58 at 1,024).
        scratch.facts.clear();
        for (event, score) in batch.iter().zip(scratch.scores.iter_mut()) {
            if !is_message(event.status_code) {
                scratch.facts.push(PatternFacts::default());
                continue;
            }
            let facts = self.extractor.pattern_facts(event);
            if let Some(rarity) = facts.score(threshold, rare_share) {
                *score = rarity;
            }
            if !warming_up {
                self.extractor.learn_pattern(event);
            }
            scratch.facts.push(facts);
        }
        let verdicts = batch
            .iter()
            .zip(&scratch.scores)
            .zip(scratch.points.iter().zip(&scratch.novelties).zip(&scratch.facts))
            .map(|((event, &score), ((point, novelty), facts))| {
                // Reasons cost an allocation and a few lookups: only anomalies get one.
                let reason = if score >= threshold && is_message(event.status_code) {
                    explain::message_reason(facts, rare_share, event)
                } else if score >= threshold {
                    explain::reason(&self.extractor, &self.typical, event, point, novelty)
                } else {
                    String::new()
                };
                Verdict::new(score, reason)
            })
            .collect();
        if !warming_up {
            // Anomalies stay out of the sample and the per-path statistics, so an ongoing
            // attack does not teach the detector that it is normal; only what was new about
            // them is counted (see `FeatureExtractor::learn_news`).
            let judged = scratch.scores.iter().zip(&scratch.ordinary);
            let extracted = scratch.path_keys.iter().zip(&scratch.points);
            for ((event, (&path_key, point)), (&score, &ordinary)) in batch.iter().zip(extracted).zip(judged) {
                // A message's pattern was counted when it was scored.
                if score < threshold {
                    if is_message(event.status_code) {
                        self.extractor.learn_keyed_but_pattern(event, path_key);
                    } else {
                        self.extractor.learn_keyed(event, path_key);
                    }
                    self.reservoir.offer(*point, &mut self.rng);
                } else if !is_message(event.status_code) {
                    self.extractor.learn_news(event, path_key, point, ordinary);
                }
            }
            self.advance_retrain(batch.len() as u64);
        }
        verdicts
    }

    /// Points for a batch. With `learn`, each event is counted into the per-path statistics
    /// just before its point is taken (warm-up and training: everything is presumed normal,
    /// and the first requests of a path do not all look new); otherwise the model learns
    /// the events it judges normal after scoring them.
    fn extract(&mut self, batch: &[Event], scratch: &mut Scratch, learn: bool) {
        scratch.points.clear();
        scratch.novelties.clear();
        scratch.path_keys.clear();
        // In event order: each event sees the sliding windows including itself.
        for event in batch {
            let path_key = crate::features::request::path_key(event.url);
            if learn {
                self.extractor.learn_keyed(event, path_key);
            }
            let (point, novelty) = self.extractor.extract_keyed(event, path_key, self.params.new_path_alerts);
            scratch.points.push(point);
            scratch.novelties.push(novelty);
            scratch.path_keys.push(path_key);
        }
        self.events_seen += batch.len() as u64;
    }

    fn warmup_regrow_due(&self) -> bool {
        if self.reservoir.points().len() < 2 {
            return false;
        }
        let new_events = self.reservoir.offered() - self.grown_at;
        self.forest.is_none() || new_events >= (self.grown_at / WARMUP_GROWTH_DIVISOR).max(1)
    }

    fn shape(&self) -> ForestShape {
        ForestShape { trees: self.params.trees, sample_size: self.params.sample_size, dims: FEATURE_COUNT }
    }

    /// Grow the whole forest from the reservoir now.
    fn regrow(&mut self) {
        let points = self.reservoir.points();
        self.forest = Some(Forest::fit(self.shape(), points, &mut self.rng));
        self.typical = TypicalRanges::from_points(points);
        self.grown_at = self.reservoir.offered();
        self.since_retrain = 0;
        self.rolling = None;
    }

    /// Count `events` scored towards the next retrain, and regrow the trees now due. A retrain
    /// finishes within half a retrain period, in steps proportional to the events scored, so
    /// its cost is spread evenly over batches of any size.
    fn advance_retrain(&mut self, events: u64) {
        self.since_retrain += events;
        if self.rolling.is_none() && self.since_retrain >= self.params.retrain_every {
            self.rolling = Some(RollingRetrain { replaced: 0, credited: 0 });
            self.since_retrain = 0;
        }
        let (Some(mut rolling), Some(forest)) = (self.rolling, self.forest.as_mut()) else {
            return;
        };
        rolling.credited += events;
        let trees = self.params.trees as u128;
        let spread = u128::from((self.params.retrain_every / 2).max(1));
        let due = (u128::from(rolling.credited) * trees).div_ceil(spread).min(trees) as usize;
        let points = self.reservoir.points();
        if !forest.accepts_replacement_from(points.len()) {
            // The sub-sample size changed (the reservoir was still filling): trees of two
            // sizes cannot be averaged, so grow the forest whole, once.
            return self.regrow();
        }
        while rolling.replaced < due {
            forest.replace_tree(rolling.replaced, points, &mut self.rng);
            rolling.replaced += 1;
        }
        self.rolling = Some(rolling);
        if rolling.replaced == self.params.trees {
            self.typical = TypicalRanges::from_points(points);
            self.rolling = None;
        }
    }

    /// Trees replaced so far by the retrain in progress, if one is.
    #[cfg(test)]
    pub fn retrain_progress(&self) -> Option<usize> {
        self.rolling.map(|r| r.replaced)
    }

    /// Points in the reservoir sample, and points ever offered to it.
    #[cfg(test)]
    pub fn reservoir_fill(&self) -> (usize, u64) {
        (self.reservoir.points().len(), self.reservoir.offered())
    }

    /// Check a model decoded from a snapshot, and adopt the running config's schedule.
    ///
    /// The keys that size the state (trees, sample_size, reservoir, window_secs, ip_slots)
    /// must match; warmup, retrain_every, seed and new_path_alerts may differ and are taken
    /// from `current`.
    pub fn adopt(mut self, current: Params) -> Result<Self, String> {
        let saved = self.params;
        let sizes = |p: &Params| (p.trees, p.sample_size, p.reservoir, p.window_secs, p.ip_slots);
        if sizes(&saved) != sizes(&current) {
            return Err(format!(
                "snapshot was taken with trees={}, sample_size={}, reservoir={}, window_secs={}, \
                 ip_slots={} but the config says trees={}, sample_size={}, reservoir={}, \
                 window_secs={}, ip_slots={}; restore the old config or discard the snapshot",
                saved.trees,
                saved.sample_size,
                saved.reservoir,
                saved.window_secs,
                saved.ip_slots,
                current.trees,
                current.sample_size,
                current.reservoir,
                current.window_secs,
                current.ip_slots,
            ));
        }
        self.extractor.validate(current.ip_slots, current.window_secs)?;
        self.reservoir.validate(current.reservoir)?;
        if let Some(forest) = &self.forest {
            forest.validate()?;
            if forest.shape() != self.shape() {
                return Err(format!("snapshot forest has shape {:?}, expected {:?}", forest.shape(), self.shape()));
            }
        }
        if self.rolling.is_some_and(|r| r.replaced > current.trees) {
            return Err("snapshot retrain progress exceeds the tree count".to_owned());
        }
        self.params = current;
        Ok(self)
    }
}
