//! Requests `/chat` does not do, read so they are refused in their own words rather than
//! answered as another question: changing the store ("delete all logs"), listing rows ("show
//! me the last 5 errors", "list the 500s") and counts per time bucket ("requests by hour").
//!
//! Each reader returns the reply's first sentence: what could not be done and what to ask (or
//! call) instead. They never answer anything themselves.

use super::intent::re;
use super::question::Filters;
use super::status_filter::StatusMatch;
use regex::Regex;
use std::sync::LazyLock;

/// A request to change the store or the traffic, first word of the question.
static WRITE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^\s*(?:please\s+|can you\s+|could you\s+)?(delete|remove|drop|purge|clear|erase|wipe|truncate|insert|update|edit|modify|reset|block|ban|unblock)\b(\s+(?:requests?|calls?|hits?)\b)?",
    )
});

/// What the events are called when a question asks for them as rows.
const ROWS: &str = r"(?:requests?|errors?|failures?|logs?|log lines?|lines?|log entr(?:y|ies)|entr(?:y|ies)|events?|records?|messages?|hits?|calls?|responses?|\d{3}s|\d{3} (?:errors?|requests?|responses?)|[1-5]xx(?:s|\s+errors?|\s+requests?)?)";

/// What may follow the rows asked for: the end, or a filter ("from 10.0.0.1", "to /login"), not
/// another noun ("show me the error rate" is a rate).
const END: &str =
    r"(?:\s*[?.!]?\s*$|\s+(?:from|to|with|in|on|at|for|since|between|of|that|which|where|whose|please)\b)";

/// "show me the last 5 errors", "list the 500s", "give me all requests from ...".
static LIST: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"^\s*((?:please\s+|can you\s+|could you\s+)?(?:show|list|display|print|dump|fetch|give me|tail)\s+(?:me\s+)?(?:(?:all|the|every|each|of)\s+)*(?:(?:last|latest|newest|most recent|recent|first|oldest|earliest)\s+)?(?:\d+\s+|(?:two|three|four|five|six|seven|eight|nine|ten|twenty)\s+)?(?:\w+\s+)?{ROWS}\b){END}"
    ))
});

/// "the last 5 errors", "the 10 most recent requests": rows, whatever the verb.
static LAST_N: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"\b(?:last|latest|newest|first|oldest|earliest)\s+(?:\d+|two|three|four|five|six|seven|eight|nine|ten|twenty)\s+(?:\w+\s+)?{ROWS}\b|\b(?:\d+|two|three|four|five|six|seven|eight|nine|ten|twenty)\s+(?:most recent|latest|newest|oldest|earliest)\s+{ROWS}\b"
    ))
});

/// "by hour", "per day" as a grouping, "hourly", "over time": counts per time bucket.
static BUCKETS: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?:by|each|every|for each|grouped by|broken down by|split by|bucketed by)\s+(?:the\s+)?(second|minute|hour|day|week|month|year)s?\b|\b(hourly|daily|weekly|monthly|minutely)\b|\b(over time|time series|timeline|histogram)\b",
    )
});

/// Why `text` (the question in lower case, its window blanked) cannot be done by `/chat`, when
/// it asks to change the store; `original` is the question as written (`DELETE` is a method).
pub fn write(text: &str, original: &str) -> Option<String> {
    let caps = WRITE.captures(text)?;
    let verb = &caps[1];
    // "delete requests to /admin", "DELETE calls": the HTTP method, not an order.
    if caps.get(2).is_some() || original.contains(&verb.to_uppercase()) {
        return None;
    }
    Some(format!(
        "I only read the stored logs, so I cannot {verb} anything: /chat never changes the store (how long logs are \
         kept is [store] retention in the config)"
    ))
}

/// Why `text` cannot be answered, when it asks for the rows themselves: `/chat` counts and
/// ranks, `GET /api/v1/logs` lists (its query built from what the question names).
pub fn listing(text: &str, filters: &Filters, count: Option<usize>) -> Option<String> {
    let caps = LIST.captures(text).or_else(|| LAST_N.captures(text))?;
    let words = caps.get(1).or_else(|| caps.get(0)).expect("match").as_str().trim();
    // "the last 5 errors": as many rows as the question asks for.
    let status_code = match filters.status {
        Some(StatusMatch::Exact(code)) => Some(usize::from(code)),
        _ => None,
    };
    let limit = words.split_whitespace().filter_map(number).find(|&n| Some(n) != status_code).or(count).unwrap_or(100);
    let mut query = Vec::new();
    if let Some(ip) = &filters.ip {
        query.push(format!("ip={ip}"));
    }
    if let Some(text) = &filters.text {
        query.push(format!("q={text}"));
    }
    query.push(format!("limit={limit}"));
    let query = query.join("&");
    let status = filters.status.filter(|_| filters.status_or.is_empty() && filters.not_status.is_empty());
    let calls = match status {
        Some(StatusMatch::Exact(_) | StatusMatch::Class(_)) => {
            format!("GET /api/v1/logs?status={}&{query}", status.expect("a status").code())
        }
        // The API takes one status or class: errors are two calls.
        Some(StatusMatch::Errors) => format!("GET /api/v1/logs?status=4xx&{query} and ?status=5xx&{query}"),
        None => format!("GET /api/v1/logs?{query}"),
    };
    Some(format!(
        "I do not list log lines ({words:?}): /chat answers with counts, rankings and summaries. For the lines \
         themselves, newest first, use {calls} (it also takes from, to and q); here ask \"how many ...?\" or \"which URLs \
         had the most ...?\""
    ))
}

/// Why `text` cannot be answered, when it asks for counts per time bucket ("requests by
/// hour"): only one window is counted at a time.
pub fn buckets(text: &str) -> Option<String> {
    let caps = BUCKETS.captures(text)?;
    let words = caps.get(0).expect("match").as_str().trim();
    Some(format!(
        "I cannot break counts down by time ({words:?}) yet: I count one window at a time. Ask for a count in a \
         window (\"how many requests between 9 and 10?\"), \"requests per minute in the last hour\" for a rate, or \
         \"when was the busiest hour?\""
    ))
}

fn number(word: &str) -> Option<usize> {
    const WORDS: &[(&str, usize)] = &[
        ("two", 2),
        ("three", 3),
        ("four", 4),
        ("five", 5),
        ("six", 6),
        ("seven", 7),
        ("eight", 8),
        ("nine", 9),
        ("ten", 10),
        ("twenty", 20),
    ];
    word.parse().ok().or_else(|| WORDS.iter().find(|(w, _)| *w == word).map(|&(_, n)| n))
}
