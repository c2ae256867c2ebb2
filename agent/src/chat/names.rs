//! The program or host a question counts the lines of ("lines from sshd", "from host combo",
//! "how many kernel lines"): found by its place in the question, resolved against the stored
//! names before answering (see `Chat::answer_from_data`).

use super::intent::re;
use regex::Regex;
use std::sync::LazyLock;

/// What kind of name a question gave ("lines from program sshd", "from host combo", "lines
/// from sshd").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Named {
    /// A program.
    Program,
    /// A host.
    Host,
    /// Either: the stored names say which.
    Either,
}

/// "from host combo", "lines from program sshd": a name said to be a host or a program.
static KIND_NAMED: LazyLock<Regex> = LazyLock::new(|| {
    re(r"\b(?:from|on|by|of)\s+(?:the\s+)?(host|machine|server|node|program|app|process|daemon)\s+([a-z0-9][\w.-]*)")
});
/// "lines from sshd", "events from the kernel", "how many sshd lines": a name of either.
static LINES_FROM: LazyLock<Regex> = LazyLock::new(|| {
    re(r"\b(?:lines?|events?|logs?|messages?|entries|records?)\s+(?:from|by|of|written by)\s+(?:the\s+)?([a-z][\w.-]*)")
});
static NAME_LINES: LazyLock<Regex> = LazyLock::new(|| {
    re(r"\bhow many\s+([a-z][\w.-]*)\s+(?:log\s+)?(?:lines?|events?|logs?|messages?|entries|records?)\b")
});
/// Words in those places that are no program or host name.
const NOT_NAMES: &[&str] = &[
    "the",
    "a",
    "an",
    "all",
    "any",
    "each",
    "every",
    "them",
    "it",
    "there",
    "which",
    "what",
    "this",
    "these",
    "those",
    "that",
    "log",
    "logs",
    "line",
    "lines",
    "total",
    "new",
    "more",
    "other",
    "such",
    "unique",
    "distinct",
    "system",
    "syslog",
    "access",
    "web",
    "http",
    "ip",
    "ips",
    "address",
    "client",
    "clients",
    "error",
    "errors",
    "failed",
    "today",
    "yesterday",
    "now",
    "me",
    "us",
    "you",
    "we",
    "my",
    "our",
    "your",
    "different",
    "many",
    "much",
    "suspicious",
    "unusual",
    "anomalous",
    "request",
    "requests",
    "same",
    "last",
    "first",
    "recent",
    "of",
    "in",
    "on",
    "at",
    "and",
    "or",
    "not",
    "no",
    "between",
    "since",
    "before",
    "after",
    "during",
    "containing",
    "with",
    "mentioning",
    "matching",
    "name",
    "names",
    "status",
    "statuses",
    "code",
    "codes",
    "method",
    "methods",
    "url",
    "urls",
    "path",
    "paths",
    "hour",
    "minute",
    "day",
    "week",
    "month",
    "year",
    "program",
    "programs",
    "host",
    "hosts",
    "app",
    "apps",
    "process",
    "daemon",
    "machine",
    "server",
    "node",
    "user",
    "agent",
    "size",
    "type",
    "kind",
    "class",
    "level",
    "severity",
    "source",
    "sources",
    "time",
    "window",
    "period",
    "data",
    "stored",
];

/// A program or host the question counts the lines of, and the text with its words blanked.
pub(super) fn named(text: &str) -> Option<((String, Named), std::ops::Range<usize>)> {
    if let Some(caps) = KIND_NAMED.captures(text) {
        let kind = match &caps[1] {
            "host" | "machine" | "server" | "node" => Named::Host,
            _ => Named::Program,
        };
        let name = caps.get(2).expect("a name");
        let bare = name.as_str().trim_end_matches(['.', '-']);
        if !NOT_NAMES.contains(&bare) && !bare.chars().all(|c| c.is_ascii_digit()) {
            return Some(((bare.to_owned(), kind), caps.get(0).expect("match").range()));
        }
    }
    for pattern in [&*LINES_FROM, &*NAME_LINES] {
        for caps in pattern.captures_iter(text) {
            let name = caps.get(1).expect("a name");
            let bare = name.as_str().trim_end_matches(['.', '-']);
            if !NOT_NAMES.contains(&bare) {
                return Some(((bare.to_owned(), Named::Either), name.start()..name.start() + bare.len()));
            }
        }
    }
    None
}
