//! Reading a question: what it asks for (the intent), about which events (status, IP, URL,
//! method) and how many rows (top N). The time window is read first, by `timerange`.
//!
//! Hand-written keyword rules rather than a model or an NLU crate: the questions are a small,
//! fixed family ("how many 500s", "which IP", "error rate by ..."), the rules are fast and
//! predictable, and every answer must come from SQL with exact numbers anyway. A question the
//! rules do not recognise gets the list of what can be asked.

pub use super::attack_filter::AttackMatch;
pub use super::names::Named;
use super::names::named;
pub use super::question::{Bucket, Dimension, Filters, Intent, Reading};
pub use super::status_filter::StatusMatch;
use super::status_filter::negated_before;
use regex::Regex;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{LazyLock, Mutex};

/// Most rows a top-N answer lists.
pub const MAX_TOP: usize = 50;

pub(super) fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("valid regex")
}

static METHOD_UPPER: LazyLock<Regex> = LazyLock::new(|| re(r"\b(GET|POST|PUT|DELETE|PATCH|HEAD|OPTIONS)\b"));
static METHOD_LOWER: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b(get|post|put|delete|patch|head|options)\s+(?:requests?|calls?|hits?)\b"));
static TOP_N: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?:top|first)\s+(\d+|two|three|four|five|six|seven|eight|nine|ten|twenty)\b|\b(\d+)\s+(?:most|busiest|biggest|noisiest|top)\b|\bwhich\s+(\d{1,2}|two|three|four|five|six|seven|eight|nine|ten|twenty)\b",
    )
});

/// An IP range: "192.168.4.*", "192.168.4.0/24", "192.168.4.x".
static IP_RANGE: LazyLock<Regex> = LazyLock::new(|| re(r"^\d{1,3}(?:\.(?:\d{1,3}|\*|x)){1,3}(?:/\d{1,3})?\.?$"));
/// Two methods joined, in lower case: "get or head requests".
static METHOD_LIST: LazyLock<Regex> = LazyLock::new(|| {
    re(r"\b(get|post|put|delete|patch|head|options)\s*(?:,|or|and|/)\s*(get|post|put|delete|patch|head|options)\b")
});
/// A response size: "larger than 1mb", "more than 10000 bytes", "over 5 kb".
static SIZE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?:larger|bigger|smaller|greater|more|less|fewer|over|under|above|below|at least|at most)\s+(?:than\s+)?\d+(?:\.\d+)?\s*(?:bytes?|b|kb|kib|mb|mib|gb|gib|k|m)\b|\b\d+(?:\.\d+)?\s*(?:kb|kib|mb|mib|gb|gib)\b",
    )
});
/// "when did it start", "when was the first request": the time of a first or last event.
/// Also "what time range do the logs cover?", "the oldest log", "how far back do they go?".
const FIRST_OR_LAST: &str = r"\bwhen\b.*\b(?:start|started|begin|began|stop|stopped|end|ended|first|last)\b|\b(?:time ?(?:range|span|period|frame)|dates?|period|range)\b.*\bcover|\b(?:oldest|newest|earliest|latest) (?:log|request|event|line|entry|entries|record|message)s?\b|\bhow far back\b";
/// "when was the first request?", "what time range do the logs cover?": the first and last
/// event times (of events, not anomalies or a spike: those are refused by `FIRST_OR_LAST`).
const SPAN: &str = r"\b(?:first|last|oldest|newest|earliest|latest|most recent)\s+(?:\w+\s+)?(?:requests?|logs?|log lines?|lines?|events?|entr(?:y|ies)|records?|messages?|errors?|hits?|calls?|attacks?|attempts?)\b|\b(?:time ?(?:range|span|period|frame)|dates?|period|range)\b.*\bcover|\bhow far back\b|\bwhen\b.*\b(?:logs?|requests|events|lines|data|errors)\b.*\b(?:start|started|begin|began|end|ended|stop|stopped)\b";
/// Words asking for the fewest rather than the most.
const FEWEST: &str = r"\bfewest\b|\bleast\s+(?:common|frequent|frequently|active|busy|requested|used|visited|requests|traffic|lines|events|errors|hits)\b|\bquietest\b|\brarest\b";

/// A three-digit number asked about as a status that no status is ("999s", "600 errors").
fn no_status(text: &str) -> Option<u16> {
    static NUMBER: LazyLock<Regex> = LazyLock::new(|| re(r"(?:\b(\w+)\s+)?\b(\d{3})(?:s|'s)?\b(?:\s+(\w+))?"));
    const NOT_AFTER: &[&str] = &[
        "seconds", "second", "secs", "minutes", "minute", "mins", "hours", "hour", "days", "bytes", "ms", "kb", "mb",
        "ips", "urls", "rows", "results", "times", "lines", "events", "entries", "messages", "logs",
    ];
    const NOT_BEFORE: &[&str] = &["top", "last", "first", "past", "than", "over", "under", "limit", "port"];
    NUMBER.captures_iter(text).find_map(|caps| {
        let before = caps.get(1).map_or("", |m| m.as_str());
        let after = caps.get(3).map_or("", |m| m.as_str());
        let code: u16 = caps[2].parse().ok()?;
        let quantity = NOT_BEFORE.contains(&before) || NOT_AFTER.contains(&after);
        (!(100..=599).contains(&code) && !quantity).then_some(code)
    })
}

/// "failed logins", "login failures": no filter says which events those are.
static FAILED_LOGINS: LazyLock<Regex> = LazyLock::new(|| {
    re(r"\bfail\w*\s+(?:log ?ins?|logons?|sign[- ]?ins?|auth\w*|attempts?)\b|\b(?:log ?in|logon|sign[- ]?in)\s+fail\w*")
});

/// Read `rest` (the question in lower case with its time window blanked); `original` is the
/// question as written, for case-sensitive cues such as `GET`.
pub fn read(rest: &str, original: &str) -> Reading {
    let mut text = format!(" {rest} ");
    let mut filters = Filters::default();
    // What the question leaves out that no filter can leave out, in its words.
    let mut negated: Option<String> = None;
    // The asked-for text first: its words are the lines', not the question's.
    if let Some((wanted, rest)) = super::text_filter::read(&text) {
        let at = text.bytes().zip(rest.bytes()).position(|(a, b)| a != b).unwrap_or(0);
        note_negation(&mut negated, &text[..at], &format!("lines containing \"{wanted}\""));
        filters.text = Some(wanted);
        text = rest;
    }

    // Addresses and paths first, so their digits are not read as statuses or counts.
    let tokens: Vec<String> = text.split_whitespace().map(str::to_owned).collect();
    // What the filters cannot say, in the question's words: a second IP or URL, an IP range.
    let mut too_many: Option<String> = None;
    for token in &tokens {
        let bare = token.trim_matches(|c: char| matches!(c, '?' | ',' | '!' | '"' | '\'' | '(' | ')' | ';'));
        let bare_ip = bare.trim_end_matches('.');
        if let Some(ip) = &filters.ip
            && bare_ip.parse::<IpAddr>().is_ok()
        {
            too_many.get_or_insert(format!(
                "I can count one IP at a time, and {ip} and {bare_ip} are two; ask about each, or \
                 \"requests by IP\" for every IP's count"
            ));
            text = text.replacen(bare_ip, " ", 1);
            continue;
        }
        if bare_ip.parse::<IpAddr>().is_err() && IP_RANGE.is_match(bare_ip) {
            too_many.get_or_insert(format!(
                "I cannot match an IP range ({bare_ip:?}) yet, only one whole address; ask \"requests by IP\" for \
                 every IP's count"
            ));
            text = text.replacen(bare_ip, " ", 1);
            continue;
        }
        if let Some(url) = &filters.url
            && let Some(path) = url_path(bare)
        {
            too_many.get_or_insert(format!(
                "I can count one URL path at a time, and {url} and {path} are two; ask about each, or \
                 \"requests by URL\" for every path's count"
            ));
            text = text.replacen(bare, " ", 1);
            continue;
        }
        if filters.ip.is_none()
            && let Ok(ip) = bare_ip.parse::<IpAddr>()
        {
            filters.ip = Some(ip.to_string());
            note_negation(&mut negated, &text[..text.find(bare_ip).unwrap_or(0)], &format!("requests from {bare_ip}"));
            text = text.replacen(bare_ip, " ", 1);
            continue;
        }
        if filters.url.is_none()
            && let Some(path) = url_path(bare)
        {
            // Paths are case-sensitive: the path as the question writes it, not lower-cased.
            let path = as_written(original, &path).unwrap_or(path);
            note_negation(&mut negated, &text[..text.find(bare).unwrap_or(0)], &path);
            filters.url = Some(path);
            text = text.replacen(bare, " ", 1);
        }
    }
    let mut failed_logins = None;
    if filters.text.is_none()
        && let Some(m) = FAILED_LOGINS.find(&text)
    {
        failed_logins = Some(m.as_str().trim().to_owned());
    }
    let named = named(&text).map(|(named, range)| {
        super::timerange::blank(&mut text, range);
        named
    });
    let (spelt, corrected) = super::spelling::correct(&text);
    text = spelt;
    let methods: Vec<String> = METHOD_UPPER
        .captures_iter(original)
        .map(|c| c[1].to_owned())
        .chain(METHOD_LIST.captures_iter(&text).flat_map(|c| [c[1].to_uppercase(), c[2].to_uppercase()]))
        .collect();
    if let Some(other) = methods.iter().find(|m| **m != methods[0]) {
        too_many.get_or_insert(format!(
            "I can count one method at a time, and {} and {other} are two; ask about each, or \
             \"requests by method\" for every method's count",
            methods[0]
        ));
    }
    if let Some(m) = METHOD_UPPER.captures(original) {
        let before = original[..m.get(0).expect("match").start()].to_lowercase();
        note_negation(&mut negated, &before, &format!("{} requests", &m[1]));
        filters.method = Some(m[1].to_owned());
    } else if let Some(m) = METHOD_LOWER.captures(&text) {
        note_negation(&mut negated, &text[..m.get(0).expect("match").start()], &m[0]);
        filters.method = Some(m[1].to_uppercase());
    }

    // The N stays in the text: a status is never read right after "top" or "first".
    let top_n = TOP_N
        .captures(&text)
        .and_then(|caps| small_number(caps.get(1).or_else(|| caps.get(2)).or_else(|| caps.get(3))?.as_str()))
        .map(|n| n.clamp(1, MAX_TOP));

    if TOP_N
        .captures(&text)
        .and_then(|caps| small_number(caps.get(1).or_else(|| caps.get(2)).or_else(|| caps.get(3))?.as_str()))
        == Some(0)
    {
        too_many.get_or_insert("a top 0 lists nothing; ask for the top 1 or more (at most 50)".to_owned());
    }
    if let Some(m) = SIZE.find(&text) {
        too_many.get_or_insert(format!(
            "I cannot count by response size ({:?}) yet; ask \"how many bytes were sent?\" for the total, mean \
             and largest response",
            m.as_str().trim()
        ));
    }
    if let Some(code) = no_status(&text) {
        too_many.get_or_insert(format!(
            "{code} is not an HTTP status (they run from 100 to 599), so I did not count other requests instead"
        ));
    }
    let statuses = super::status_filter::read(&text);
    filters.status = statuses.status;
    filters.status_or = statuses.or;
    filters.not_status = statuses.left_out;
    let mut notes = Vec::new();
    if let Some((attack, at, words)) = AttackMatch::find(&text) {
        note_negation(&mut negated, &text[..at], words);
        if has(words, r"log4|shellshock") {
            notes.push(format!(
                "I cannot tell {words} from other command injection: this counts every request that looks like \
                 command injection"
            ));
        }
        filters.attack = Some(attack);
    }
    let mut intent = intent(&text, &filters);
    if filters.attack.is_some() && matches!(intent, Intent::Open | Intent::Unknown) {
        // "Any SQL injection attempts?", "were we attacked?": the count of such requests
        // (with its kinds), not an open answer about everything.
        intent = Intent::Count;
    }
    let listed = super::not_asked::listing(&text, &filters, top_n);
    let plural = has(
        &text,
        r"\b(?:ips|addresses|clients|hosts|visitors|urls|paths|endpoints|pages|routes|agents|browsers|top|methods|codes|statuses|programs|apps|applications|processes|daemons|machines|servers|nodes)\b",
    );
    let top_n = top_n.unwrap_or(if plural { 5 } else { 1 });
    let terms = terms(&text);
    let anomalies = has(&text, r"\banomal");
    let mut unreadable = negated.map(|what| {
        format!(
            "I cannot leave out {what} yet: only a status can be left out (\"not 200\", \"excluding 404s\", \
             \"errors other than 404\"), and answering for {what} would answer the opposite question"
        )
    });
    if unreadable.is_none() {
        unreadable = too_many;
    }
    let fewest = has(&text, FEWEST);
    if fewest && anomalies && unreadable.is_none() {
        unreadable = Some(
            "I cannot rank by the fewest anomalies yet (what has none is not listed); ask which has the most"
                .to_owned(),
        );
    }
    if has(&text, SPAN) && !anomalies && !has(&text, r"\bspike|\bpeak|\bbusiest|\bburst|\boutage|\bincident") {
        intent = Intent::Span;
    } else if unreadable.is_none() && has(&text, FIRST_OR_LAST) {
        unreadable = Some(
            "I cannot give the time of a first or last event of this kind (an anomaly, a spike, a scan) yet, only \
             of requests or lines (\"when was the first request?\", \"when was the last request with status 500 today?\"); ask for a \
             count in a window (\"how many requests from 10.0.0.1 between 13:00 and 14:00?\") or \"when was the \
             busiest minute?\""
                .to_owned(),
        );
    }
    if unreadable.is_none() {
        unreadable = listed.or_else(|| super::not_asked::buckets(&text));
    }
    if let Some(write) = super::not_asked::write(&text, original) {
        unreadable = Some(write);
    }
    if unreadable.is_none()
        && let Some(words) = failed_logins
    {
        unreadable = Some(format!(
            "I cannot tell which events are {words:?}: in an access log a failed login is a status on some URL, in \
             a system log a line's words. Ask for a status (\"how many 401s to /login?\") or for the words of the \
             lines (\"how many failed password lines?\", \"how many authentication failures?\")"
        ));
    }
    let host_word =
        matches!(intent, Intent::Top(Dimension::Ip) | Intent::Breakdown(Dimension::Ip) | Intent::Unique(Dimension::Ip))
            && has(&text, r"\bhosts?\b")
            && !has(&text, r"\bips?\b|\baddress(?:es)?\b|\bclients?\b|\bvisitors?\b|\bcallers?\b");
    Reading {
        intent,
        filters,
        top_n,
        terms,
        anomalies,
        noun: noun(&text),
        corrected,
        unreadable,
        named,
        host_word,
        fewest,
        notes,
    }
}

/// Keep `what` as the first thing the question leaves out when `before` ends with a negation.
fn note_negation(negated: &mut Option<String>, before: &str, what: &str) {
    if negated.is_none() && negated_before(before) {
        *negated = Some(what.trim().to_owned());
    }
}

/// `path` (read from the lower-cased question) as `original` writes it.
fn as_written(original: &str, path: &str) -> Option<String> {
    original
        .split_whitespace()
        .map(|t| t.trim_matches(|c: char| matches!(c, '?' | ',' | '!' | '"' | '\'' | '(' | ')' | ';')))
        .filter_map(url_path)
        .find(|written| written.to_lowercase() == path)
}

/// The question's word for the events it counts, when it has one (see [`Reading::noun`]).
fn noun(text: &str) -> Option<(&'static str, &'static str)> {
    const NOUNS: &[(&str, (&str, &str))] = &[
        (r"\blog lines?\b|\blines?\b", ("line", "lines")),
        (r"\bevents?\b", ("event", "events")),
        (r"\blog entr(?:y|ies)\b|\bentr(?:y|ies)\b|\brecords?\b", ("entry", "entries")),
        (r"\bmessages?\b", ("message", "messages")),
        (r"\blogs?\b", ("log", "logs")),
    ];
    NOUNS.iter().find(|&&(pattern, _)| has(text, pattern)).map(|&(_, noun)| noun)
}

/// A URL path named in a question: `/login`, or the path of `http://host/login?x=1`.
fn url_path(token: &str) -> Option<String> {
    let path = match token.find("://") {
        Some(at) => {
            let after = &token[at + 3..];
            &after[after.find('/')?..]
        }
        None => token,
    };
    let path = path.trim_end_matches(['.', ':']);
    (path.starts_with('/') && path.len() > 1 && !path.starts_with("//")).then(|| path.to_owned())
}

fn small_number(word: &str) -> Option<usize> {
    Some(match word {
        "two" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        "ten" => 10,
        "twenty" => 20,
        digits => digits.parse().ok()?,
    })
}

/// Whether `pattern` (a literal of this file) matches; each pattern is compiled once.
fn has(text: &str, pattern: &'static str) -> bool {
    static COMPILED: LazyLock<Mutex<HashMap<&'static str, Regex>>> = LazyLock::new(Default::default);
    let mut compiled = COMPILED.lock().unwrap_or_else(|p| p.into_inner());
    compiled.entry(pattern).or_insert_with(|| re(pattern)).is_match(text)
}

fn dimension(text: &str) -> Option<Dimension> {
    if has(text, r"\buser[- ]?agents?\b|\bbrowsers?\b|\bclients? software\b") {
        Some(Dimension::UserAgent)
    } else if has(text, r"\bstatus class(?:es)?\b|\bclass(?:es)?\b") {
        Some(Dimension::StatusClass)
    } else if has(text, r"\bmethods?\b|\bverbs?\b") {
        Some(Dimension::Method)
    } else if has(text, r"\bprograms?\b|\bapps?\b|\bapplications?\b|\bprocess(?:es)?\b|\bdaemons?\b") {
        Some(Dimension::Program)
    } else if has(text, r"\bhost ?names?\b|\bmachines?\b|\bservers?\b|\bnodes?\b") {
        Some(Dimension::Host)
    } else if has(
        text,
        r"\bips?\b|\baddress(?:es)?\b|\bclients?\b|\bhosts?\b|\bvisitors?\b|\bcallers?\b|\bwho\b|\btalkers?\b",
    ) {
        Some(Dimension::Ip)
    } else if has(text, r"\burls?\b|\bpaths?\b|\bendpoints?\b|\bpages?\b|\broutes?\b|\buris?\b|\bresources?\b") {
        Some(Dimension::Url)
    } else if has(text, r"\bstatus(?:es)?\b|\bstatus codes?\b|\bcodes?\b|\bresponse codes?\b") {
        Some(Dimension::Status)
    } else {
        None
    }
}

/// Words that ask for a share.
const RATE_WORDS: &str = r"\brate\b|\bpercent|\bratio\b|\bproportion\b|\bshare\b|\bfraction\b|%";

fn intent(text: &str, filters: &Filters) -> Intent {
    let trimmed = text.trim().trim_end_matches(['?', '!', '.']).trim();
    if trimmed.is_empty()
        || matches!(trimmed, "help" | "hi" | "hello")
        || has(text, r"what (?:can|do) you (?:do|answer|know)|what (?:questions|can i ask)|how do i use|\bhelp\b")
    {
        return Intent::Help;
    }
    let counting = has(text, r"\bhow many\b|\bcount\b|\bnumber of\b|\btotal\b|\bamount of\b");
    let ranking =
        has(text, r"\btop\b|\bmost\b|\bbusiest\b|\bbiggest\b|\bheaviest\b|\bnoisiest\b|\blargest\b|\bwhich\b|\bwho\b")
            || has(text, FEWEST);
    let dim = dimension(text);
    if has(text, r"\bsummar|\boverview\b|\brecap\b|\breport\b|\bdigest\b") {
        return Intent::Summary;
    }
    if has(text, r"\banomal") {
        return match dim {
            Some(dim) if (ranking && dim != Dimension::Status) || has(text, r"\bby\b|\bper\b") => Intent::Top(dim),
            _ if has(text, RATE_WORDS) => Intent::AnomalyRate,
            _ if counting => Intent::AnomalyCount,
            _ => Intent::Anomalies,
        };
    }
    if has(
        text,
        r"\bper (?:second|sec|minute|min|hour)\b|\bthroughput\b|\brps\b|\brpm\b|\brequest rate\b|\btraffic rate\b",
    ) {
        return Intent::RequestRate;
    }
    if has(text, RATE_WORDS) {
        return Intent::Rate;
    }
    let time_word = has(text, r"\bminute\b|\bhour\b|\bwhen\b|\btime\b");
    if has(text, r"\bbusiest\b|\bpeak\b|\bspike\b|\bmost (?:traffic|requests|busy)\b") && time_word && dim.is_none() {
        let bucket = if has(text, r"\bhour\b") { Bucket::Hour } else { Bucket::Minute };
        return Intent::Peak(bucket);
    }
    if has(text, r"\bunique\b|\bdistinct\b|\bdifferent\b")
        || counting && has(text, r"\b(?:ips|addresses|clients|visitors|hosts|urls|paths|endpoints|pages|agents)\b")
    {
        return Intent::Unique(dim.unwrap_or(Dimension::Ip));
    }
    if ranking && let Some(dim) = dim {
        return Intent::Top(dim);
    }
    if has(text, r"\btop\b|\btalkers?\b") {
        return Intent::Top(Dimension::Ip);
    }
    if let Some(dim) = dim
        && has(text, r"\bby\b|\bper\b|\beach\b|breakdown|broken down|distribution|\bsplit\b|\bgroup")
    {
        return Intent::Breakdown(dim);
    }
    if has(text, r"\bwhat status(?:es)?\b|\bstatus codes\b|\bwhich codes\b") {
        return Intent::Breakdown(Dimension::Status);
    }
    if has(
        text,
        r"\bbytes\b|\bsizes?\b|\bbandwidth\b|\bdata (?:sent|transferred|served)\b|\bhow much data\b|\bvolume\b|\bpayload",
    ) {
        return Intent::Bytes;
    }
    if has(text, r"\blatency\b|\bresponse times?\b|\bslow|\bhow long\b|\bduration\b") {
        return Intent::Latency;
    }
    if counting {
        return Intent::Count;
    }
    if has(
        text,
        r"going on|happening|happened|unusual|\bwrong\b|strange|weird|\bodd\b|suspicious|problem|\bissues?\b|incident|attack|health|tell me|what about|how is|how are|how's|explain|\bwhy\b|look(?:s|ing)? like|\bnews\b",
    ) || filters.ip.is_some()
        || filters.url.is_some()
    {
        return Intent::Open;
    }
    if filters.status.is_some() && filters.status != Some(StatusMatch::Errors) || has(text, r"^\s*any\b") {
        return Intent::Count;
    }
    if has(text, r"\brequests?\b|\blogs?\b|\bevents?\b|\btraffic\b|\berrors?\b|\bhits?\b|\bcalls?\b|\bstatus\b") {
        return Intent::Open;
    }
    Intent::Unknown
}

/// Content words of an open question, to match against URLs, user agents and reasons.
fn terms(text: &str) -> Vec<String> {
    const STOP: &[&str] = &[
        "what",
        "whats",
        "with",
        "going",
        "anything",
        "unusual",
        "today",
        "yesterday",
        "about",
        "there",
        "have",
        "been",
        "were",
        "this",
        "that",
        "tell",
        "happening",
        "happened",
        "show",
        "from",
        "into",
        "than",
        "them",
        "they",
        "does",
        "doing",
        "which",
        "when",
        "where",
        "should",
        "could",
        "would",
        "wrong",
        "strange",
        "weird",
        "summarize",
        "summarise",
        "summary",
        "last",
        "hour",
        "hours",
        "minutes",
        "since",
        "between",
        "please",
        "give",
        "know",
        "look",
        "like",
        "looks",
        "anomalies",
        "anomaly",
        "requests",
        "request",
        "traffic",
        "logs",
        "events",
        "issues",
        "problem",
        "problems",
        "recently",
        "lately",
    ];
    text.split(|c: char| !c.is_alphanumeric() && c != '-' && c != '_')
        .filter(|w| w.len() >= 4 && !STOP.contains(w) && !w.chars().all(|c| c.is_ascii_digit()))
        .map(str::to_owned)
        .take(8)
        .collect()
}
