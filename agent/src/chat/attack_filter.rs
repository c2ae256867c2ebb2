//! Which attacks a question is about, read from its words ("SQL injection", "XSS",
//! "shellshock", "scanners", "attacks"), and how answers name them. The requests that look
//! like an attack are found by [`crate::attack`]'s signatures.

use crate::attack::AttackKind;
use regex::Regex;
use std::sync::LazyLock;

/// Which attacks a question is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttackMatch {
    /// One kind: "SQL injection attempts".
    Kind(AttackKind),
    /// Any kind: "attacks".
    Any,
}

impl AttackMatch {
    /// The code `vigil_attack` takes.
    pub fn code(self) -> i64 {
        match self {
            AttackMatch::Kind(kind) => kind.code(),
            AttackMatch::Any => crate::attack::ANY_CODE,
        }
    }

    /// As reported in filters: `sql_injection`, ..., `any`.
    pub fn name(self) -> &'static str {
        match self {
            AttackMatch::Kind(kind) => kind.name(),
            AttackMatch::Any => "any",
        }
    }

    /// "that look like SQL injection" / "that look like an attack".
    pub fn describe(self) -> String {
        match self {
            AttackMatch::Kind(AttackKind::Scanner) => "that look like a vulnerability scanner's".to_owned(),
            AttackMatch::Kind(kind) => format!("that look like {}", kind.describe()),
            AttackMatch::Any => "that look like an attack".to_owned(),
        }
    }
}

/// Words that name attacks, most specific first.
const ATTACK_WORDS: &[(&str, AttackMatch)] = &[
    (r"\bsql[ -]?injections?\b|\bsqli\b", AttackMatch::Kind(AttackKind::SqlInjection)),
    (
        r"\bxss\b|\bcross[- ]site[- ]scripting\b|\bscript injections?\b",
        AttackMatch::Kind(AttackKind::CrossSiteScripting),
    ),
    (
        r"\b(?:path|directory|dir) traversals?\b|\btraversals?\b|\bfile (?:disclosure|inclusion)s?\b|\b[lr]fi\b",
        AttackMatch::Kind(AttackKind::PathTraversal),
    ),
    (
        r"\b(?:command|code|shell|os) injections?\b|\bshellshock\b|\blog4(?:shell|j)\b|\brce\b|\bremote code execution\b",
        AttackMatch::Kind(AttackKind::CommandInjection),
    ),
    (r"\b(?:vulnerability )?scanners?\b|\bscanning\b|\bvulnerability scans?\b", AttackMatch::Kind(AttackKind::Scanner)),
    (r"\battack|\bmalicious\b|\bexploit|\bhack|\bintrusions?\b|\binjections?\b", AttackMatch::Any),
];

impl AttackMatch {
    /// The attacks `text` (a question in lower case) names, if any.
    pub fn read(text: &str) -> Option<AttackMatch> {
        Self::find(text).map(|(attack, _, _)| attack)
    }

    /// The attacks `text` names, where its words start, and the words.
    pub fn find(text: &str) -> Option<(AttackMatch, usize, &str)> {
        static COMPILED: LazyLock<Vec<(Regex, AttackMatch)>> = LazyLock::new(|| {
            ATTACK_WORDS.iter().map(|(pattern, attack)| (Regex::new(pattern).expect("valid regex"), *attack)).collect()
        });
        COMPILED.iter().find_map(|(pattern, attack)| {
            let m = pattern.find(text)?;
            // The whole word: "attacks", not the pattern's stem "attack".
            let end = text[m.end()..].find(|c: char| !c.is_alphanumeric()).map_or(text.len(), |n| m.end() + n);
            Some((*attack, m.start(), &text[m.start()..end]))
        })
    }
}
