//! Which statuses a question is about, and which it leaves out: "500s", "5xx", "not found",
//! "errors"; "not 200", "excluding 404s", "non-404 errors", "errors other than 401 or 404".
//!
//! A negation cue ([`negated_before`]) right before a status turns it into a status left out;
//! `intent` uses the same cue to refuse a negated IP, URL, method, attack or text, which the
//! filters cannot express: answering for them would answer the opposite of the question.

use regex::Regex;
use std::sync::LazyLock;

/// Which statuses a question is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusMatch {
    /// Exactly this code.
    Exact(u16),
    /// A class: 5 is 500-599.
    Class(u8),
    /// 400-599: "errors".
    Errors,
}

impl StatusMatch {
    /// Inclusive bounds of the codes matched.
    pub fn bounds(self) -> (u16, u16) {
        match self {
            StatusMatch::Exact(code) => (code, code),
            StatusMatch::Class(class) => (u16::from(class) * 100, u16::from(class) * 100 + 99),
            StatusMatch::Errors => (400, 599),
        }
    }

    /// "status 500", "status 5xx", "an error status (400-599)".
    pub fn describe(self) -> String {
        match self {
            StatusMatch::Exact(code) => format!("status {code}"),
            StatusMatch::Class(class) => format!("status {class}xx"),
            StatusMatch::Errors => "an error status (400-599)".to_owned(),
        }
    }

    /// As written in facts: `500`, `5xx`, `400-599`.
    pub fn code(self) -> String {
        match self {
            StatusMatch::Exact(code) => code.to_string(),
            StatusMatch::Class(class) => format!("{class}xx"),
            StatusMatch::Errors => "400-599".to_owned(),
        }
    }
}

/// "status 500", "a status other than 200", "an error status (400-599) other than 401 or
/// 404"; `None` when neither is set.
pub fn describe(status: Option<StatusMatch>, or: &[StatusMatch], left_out: &[StatusMatch]) -> Option<String> {
    let other_than = left_out.iter().map(|s| s.code()).collect::<Vec<_>>().join(" or ");
    match (status, left_out.is_empty()) {
        (None, true) => None,
        (Some(status), true) => Some(describe_any(status, or)),
        (Some(status), false) => Some(format!("{} other than {other_than}", describe_any(status, or))),
        (None, false) => Some(format!("a status other than {other_than}")),
    }
}

/// The statuses a question asks about and leaves out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Statuses {
    /// The status asked about: the first class named, else the first code, else the first word.
    pub status: Option<StatusMatch>,
    /// More statuses asked about with it: "404 or 500", "2xx and 3xx" (a request has one
    /// status, so either is counted).
    pub or: Vec<StatusMatch>,
    /// Statuses left out, in the order named.
    pub left_out: Vec<StatusMatch>,
}

static CLASS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b([1-5])xx(?:s|es)?\b").expect("valid regex"));
static CODE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:\b(\w+)\s+)?\b([1-5]\d\d)(?:s|'s)?\b(?:\s+(\w+))?").expect("valid regex"));
/// A negation right before what follows it: "not", "non-", "except (for)", "excluding",
/// "other than", "besides", "apart from", "without", "-n't", then up to three linking words
/// ("weren't a", "not from", "except those with status").
static NEGATED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?:\bnot|\bnon|n['’]t|\bexcept(?:\s+for)?|\bexcluding|\bexclude|\bother\s+than|\bbesides|\bapart\s+from|\bwithout)[\s-]*(?:(?:a|an|the|any|those|ones|that|which|with|status|statuses|code|codes|return|returned|returning|get|got|have|had|has|having|respond|responded|of|in|from|to|on|by|for|sent|requests?)\s+){0,3}$",
    )
    .expect("valid regex")
});
/// What joins two statuses of one list: "401 or 404", "401s, 403s and 404s".
static JOINED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?:s|'s|es)?\s*(?:,\s*(?:or|and|nor)?|or|and|nor)\s*$").expect("valid regex"));

/// Statuses named in words, most specific first.
const STATUS_WORDS: &[(&str, StatusMatch)] = &[
    ("internal server error", StatusMatch::Exact(500)),
    ("bad gateway", StatusMatch::Exact(502)),
    ("service unavailable", StatusMatch::Exact(503)),
    ("gateway timeout", StatusMatch::Exact(504)),
    ("not found", StatusMatch::Exact(404)),
    ("forbidden", StatusMatch::Exact(403)),
    ("unauthorized", StatusMatch::Exact(401)),
    ("unauthorised", StatusMatch::Exact(401)),
    ("bad request", StatusMatch::Exact(400)),
    ("too many requests", StatusMatch::Exact(429)),
    ("rate limited", StatusMatch::Exact(429)),
    ("server error", StatusMatch::Class(5)),
    ("client error", StatusMatch::Class(4)),
    ("redirect", StatusMatch::Class(3)),
    ("successful", StatusMatch::Class(2)),
    ("success", StatusMatch::Class(2)),
    ("error", StatusMatch::Errors),
    ("fail", StatusMatch::Errors),
];

/// Words after a 3-digit number that make it a quantity, not a status.
const NOT_STATUS_AFTER: &[&str] = &[
    "seconds", "second", "secs", "minutes", "minute", "mins", "hours", "hour", "days", "bytes", "ms", "kb", "mb",
    "ips", "urls", "rows", "results",
];
/// Words before a 3-digit number that make it a quantity, not a status.
const NOT_STATUS_BEFORE: &[&str] = &["top", "last", "first", "past", "than", "over", "under", "limit"];

/// Whether `before` (the question up to something it names) ends with a negation of it.
pub fn negated_before(before: &str) -> bool {
    NEGATED.is_match(before)
}

/// How a status was named: by class, by code or in words (the order in which one is chosen).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Named {
    Class,
    Code,
    Word,
}

/// The statuses `text` (a question in lower case) asks about and leaves out.
pub fn read(text: &str) -> Statuses {
    let mut named: Vec<(std::ops::Range<usize>, Named, StatusMatch)> = Vec::new();
    for caps in CLASS.captures_iter(text) {
        if let Ok(class) = caps[1].parse() {
            named.push((caps.get(0).expect("match").range(), Named::Class, StatusMatch::Class(class)));
        }
    }
    for caps in CODE.captures_iter(text) {
        let before = caps.get(1).map_or("", |m| m.as_str());
        let after = caps.get(3).map_or("", |m| m.as_str());
        // "other than 404" is a negation; "more than 100" a quantity.
        let negation = before == "than" && text[..caps.get(1).expect("before").start()].ends_with("other ");
        if !negation && NOT_STATUS_BEFORE.contains(&before) || NOT_STATUS_AFTER.contains(&after) {
            continue;
        }
        if let Ok(code) = caps[2].parse::<u16>() {
            named.push((caps.get(2).expect("code").range(), Named::Code, StatusMatch::Exact(code)));
        }
    }
    for (word, status) in STATUS_WORDS {
        for (at, _) in text.match_indices(word) {
            let range = at..at + word.len();
            if !named.iter().any(|(r, _, _)| r.start < range.end && range.start < r.end) {
                named.push((range, Named::Word, *status));
            }
        }
    }
    named.sort_by_key(|(range, _, _)| range.start);

    let mut out = Statuses::default();
    let mut asked: Option<(Named, StatusMatch)> = None;
    let mut previous: Option<(usize, bool)> = None;
    let (mut joined_to_asked, mut joined_end) = (false, 0);
    for (range, how, status) in named {
        let negated = negated_before(&text[..range.start])
            || previous.is_some_and(|(end, negated)| negated && JOINED.is_match(&text[end..range.start]));
        previous = Some((range.end, negated));
        if negated {
            out.left_out.push(status);
        } else if let Some((first, _)) = asked
            && how == first
            && joined_to_asked
            && JOINED.is_match(&text[joined_end..range.start])
        {
            out.or.push(status);
        } else if asked.is_none_or(|(first, _)| how < first) {
            asked = Some((how, status));
            out.or.clear();
        }
        joined_to_asked = !negated;
        joined_end = range.end;
    }
    out.status = asked.map(|(_, status)| status);
    out.or.retain(|s| Some(*s) != out.status);
    out.or.dedup();
    out
}

/// "status 404 or 500", "status 2xx or 3xx": the status asked about and those asked with it.
pub fn describe_any(status: StatusMatch, or: &[StatusMatch]) -> String {
    match or {
        [] => status.describe(),
        _ => {
            let codes: Vec<String> = std::iter::once(status).chain(or.iter().copied()).map(StatusMatch::code).collect();
            format!("status {}", codes.join(" or "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_asked_about_or_left_out() {
        let read = |text: &str| {
            let s = super::read(text);
            (s.status.map(StatusMatch::code), s.left_out.iter().map(|s| s.code()).collect::<Vec<_>>())
        };
        assert_eq!(read(" how many 500 errors "), (Some("500".into()), vec![]));
        assert_eq!(read(" errors with status 503 "), (Some("503".into()), vec![]));
        assert_eq!(read(" requests that were not 200 "), (None, vec!["200".into()]));
        assert_eq!(read(" non-404 errors "), (Some("400-599".into()), vec!["404".into()]));
        assert_eq!(
            read(" errors except 401s, 403s and 404s "),
            (Some("400-599".into()), vec!["401".into(), "403".into(), "404".into()])
        );
        assert_eq!(read(" not found "), (Some("404".into()), vec![]));
        assert_eq!(read(" more than 100 requests "), (None, vec![]));
        assert_eq!(read(" requests without errors "), (None, vec!["400-599".into()]));
        let or = |text: &str| {
            let s = super::read(text);
            std::iter::once(s.status).flatten().chain(s.or).map(StatusMatch::code).collect::<Vec<_>>()
        };
        assert_eq!(or(" how many 404 or 500? "), ["404", "500"]);
        assert_eq!(or(" how many 2xx and 3xx? "), ["2xx", "3xx"]);
        assert_eq!(or(" how many 200, 301 and 404 responses? "), ["200", "301", "404"]);
        assert_eq!(or(" errors with status 503 "), ["503"]);
        assert_eq!(or(" errors other than 401 or 404 "), ["400-599"]);
    }
}
