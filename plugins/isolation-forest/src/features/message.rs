//! Events that are not access logs (system logs, HDFS block sessions): their message pattern.
//!
//! The forest's features describe HTTP requests; for an event without a status code they are
//! all constant and say nothing. What does separate such events is how common their message's
//! pattern is among what was learned: a kernel line, a session whose mix of events the
//! cluster rarely produces. A pattern is the multiset of the message's words with its
//! variables masked, hashed without regard to order (HDFS sessions interleave their events
//! in any order). Counts live in the extractor's count-min sketch, under their own domain.

use super::hash::{combine, hash_bytes};

/// Default share of the learned messages below which a pattern is rare (the config's
/// `rare_message_share`): at or above the threshold from there down to never seen. HDFS_100k's anomalous sessions sit at 0.1-0.8%, its
/// normal ones at 3% and more; a system log's error lines are rarer still.
pub const RARE_SHARE: f32 = 0.01;
/// Messages learned before a pattern's rarity means anything.
pub const MIN_MESSAGES_LEARNED: u32 = 500;

/// Domain of pattern keys in the sketch, and the key counting learned messages.
pub(super) const PATTERN_DOMAIN: u64 = 5;
pub(super) const MESSAGES_KEY: u64 = 0x6d65_7373_6167_6573;

/// Whether `status_code` says the event is not an access log (the WIT's convention: 0).
pub fn is_message(status_code: u16) -> bool {
    status_code == 0
}

/// Whether a token is a variable rather than a word: a number, a token longer than three
/// characters with a digit in it (`core.2275`, `blk_-1608`, `R02-M1-N0`, `2005.06.03`), or a
/// day or month name as dates write it (`Sun`, `Dec`). Short ones (`E5`, `E22`, `lo0`) are
/// words: event ids and the like are vocabulary.
///
/// Without the names, a syslog line's `Dec 10 06:55:46` or an Apache error log's `[Sun Dec 04
/// 04:47:44 2005]` gave every message a new pattern each day or month: on the first of a
/// month every line was "never seen" until relearned.
fn is_variable(token: &[u8]) -> bool {
    let digits = token.iter().filter(|b| b.is_ascii_digit()).count();
    digits == token.len() || (digits > 0 && token.len() > 3) || is_calendar_name(token)
}

/// `Mon`..`Sun` and `Jan`..`Dec`, as dates write them: the rule of the agent's template
/// miner (`templates/mask.rs`), which this crate, built for wasm on its own, cannot import.
fn is_calendar_name(token: &[u8]) -> bool {
    const NAMES: [&[u8; 3]; 19] = [
        b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun", b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul",
        b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
    ];
    token.len() == 3 && NAMES.iter().any(|name| name.as_slice() == token)
}

/// The words of `message` split as [`pattern`] splits them.
fn tokens(message: &str) -> impl Iterator<Item = &str> {
    message
        .split(|c: char| c.is_whitespace() || c == ',' || c == ';' || c == '=')
        .map(|t| t.trim_matches(|c: char| matches!(c, '(' | ')' | '[' | ']' | '"' | '\'' | ':' | '.')))
        .filter(|t| !t.is_empty())
}

/// `message` as a person reads its pattern: variables as `<*>`, runs of them as one, so a
/// reason shows the words rather than a line's leading timestamps and host names.
pub fn masked(message: &str) -> String {
    let mut out = String::new();
    for token in tokens(message) {
        let word = if is_variable(token.as_bytes()) { "<*>" } else { token };
        if word == "<*>" && out.ends_with("<*>") {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// The pattern of `message`: an order-insensitive hash of its words' multiset, variables
/// masked, in the pattern domain. Hashing the sum of the words' mixed hashes is commutative
/// and still counts repeats, so "E5 E5 E22" and "E22 E5 E5" agree and "E5 E22" does not.
pub fn pattern(message: &str) -> u64 {
    let mut sum = 0u64;
    let mut words = 0u64;
    for token in tokens(message) {
        let word = if is_variable(token.as_bytes()) { b"<*>".as_slice() } else { token.as_bytes() };
        sum = sum.wrapping_add(combine(hash_bytes(word), 0x9e37_79b9));
        words += 1;
    }
    combine(PATTERN_DOMAIN, combine(sum, words))
}

/// How often a message's pattern was learned, among how many learned messages.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PatternFacts {
    /// Learned messages with this pattern.
    pub seen: u32,
    /// Learned messages in all.
    pub learned: u32,
}

impl PatternFacts {
    /// The pattern's share of the learned messages.
    pub fn share(&self) -> f32 {
        if self.learned == 0 { 0.0 } else { self.seen as f32 / self.learned as f32 }
    }

    /// The event's score from its pattern's rarity, or `None` while too little is learned:
    /// from the threshold (a share just under `rare`) up to 1 (never seen); under the
    /// threshold, falling with the square root of the share, for common patterns.
    pub fn score(&self, threshold: f32, rare: f32) -> Option<f32> {
        if self.learned < MIN_MESSAGES_LEARNED {
            return None;
        }
        let threshold = threshold.clamp(0.0, 1.0);
        let share = self.share();
        Some(if share < rare {
            threshold + (1.0 - threshold) * (1.0 - share / rare)
        } else {
            0.99 * threshold * (rare / share).sqrt()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_ignore_order_and_variables_but_count_repeats() {
        assert_eq!(pattern("E5 E22 E5 E11"), pattern("E11 E5 E5 E22"));
        assert_ne!(pattern("E5 E22 E11"), pattern("E5 E5 E22 E11"));
        assert_eq!(
            pattern("1117838570 2005.06.03 R02-M1-N0-C:J12-U11 RAS KERNEL INFO generating core.2275"),
            pattern("1117838999 2005.06.04 R17-M0-N3-C:J02-U01 RAS KERNEL INFO generating core.18")
        );
        assert_ne!(pattern("RAS KERNEL INFO generating core.1"), pattern("RAS KERNEL FATAL generating core.1"));
        assert_ne!(pattern("E5 done"), pattern("E7 done"), "short ids are words");
        // A date's day and month names are variables, so a pattern does not change with them.
        assert_eq!(
            pattern("Dec 31 23:59:59 LabSZ sshd[24200]: Invalid user admin from 173.234.31.186"),
            pattern("Jan  1 00:00:01 LabSZ sshd[1]: Invalid user admin from 10.0.0.1")
        );
        assert_eq!(
            pattern("[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state 6"),
            pattern("[Mon Jan 05 04:47:44 2006] [error] mod_jk child workerEnv in error state 7")
        );
        assert_ne!(pattern("you may retry"), pattern("you can retry"), "lower-case words stay words");
        assert_eq!(
            masked("1117838570 2005.06.03 R02-M1-N0-C:J12-U11 RAS KERNEL INFO generating core.2275"),
            "<*> RAS KERNEL INFO generating <*>"
        );
    }

    #[test]
    fn rare_patterns_score_at_or_above_the_threshold_and_common_ones_below() {
        let facts = |seen, learned| PatternFacts { seen, learned };
        assert_eq!(facts(0, 100).score(0.6, RARE_SHARE), None, "too little learned");
        assert_eq!(facts(0, 4_000).score(0.6, RARE_SHARE), Some(1.0));
        let rare = facts(30, 4_000).score(0.6, RARE_SHARE).unwrap();
        assert!((0.6..1.0).contains(&rare), "{rare}");
        let common = facts(125, 4_000).score(0.6, RARE_SHARE).unwrap();
        assert!(common < 0.6, "{common}");
        assert!(facts(3_000, 4_000).score(0.6, RARE_SHARE).unwrap() < common, "commoner scores lower");
        assert!(facts(30, 4_000).score(0.6, 0.001).unwrap() < 0.6, "rare only below the configured share");
    }
}
