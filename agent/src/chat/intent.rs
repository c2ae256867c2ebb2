//! Reading a question: what it asks for (the intent), about which events (status, IP, URL,
//! method) and how many rows (top N). The time window is read first, by `timerange`.
//!
//! Hand-written keyword rules rather than a model or an NLU crate: the questions are a small,
//! fixed family ("how many 500s", "which IP", "error rate by ..."), the rules are fast and
//! predictable, and every answer must come from SQL with exact numbers anyway. A question the
//! rules do not recognise gets the list of what can be asked.

pub use super::attack_filter::AttackMatch;
use regex::Regex;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{LazyLock, Mutex};

/// What a question asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// How many events match.
    Count,
    /// What share of events match a status (errors by default).
    Rate,
    /// Events per minute and per second.
    RequestRate,
    /// The N values of a dimension with the most events (or anomalies).
    Top(Dimension),
    /// Event counts for every value of a dimension.
    Breakdown(Dimension),
    /// How many distinct values of a dimension.
    Unique(Dimension),
    /// Bytes sent.
    Bytes,
    /// Response times.
    Latency,
    /// The busiest minute or hour.
    Peak(Bucket),
    /// How many anomalies.
    AnomalyCount,
    /// Which anomalies, highest score first.
    Anomalies,
    /// An overview of a window, from the numbers and the nearest summaries.
    Summary,
    /// An open question, answered from the nearest summaries and anomalies.
    Open,
    /// What can be asked.
    Help,
    /// Nothing the rules recognise.
    Unknown,
}

impl Intent {
    /// The name reported in the answer's `intent` field.
    pub fn name(self) -> &'static str {
        match self {
            Intent::Count => "count",
            Intent::Rate => "rate",
            Intent::RequestRate => "request_rate",
            Intent::Top(_) => "top",
            Intent::Breakdown(_) => "breakdown",
            Intent::Unique(_) => "unique",
            Intent::Bytes => "bytes",
            Intent::Latency => "latency",
            Intent::Peak(_) => "peak",
            Intent::AnomalyCount => "anomaly_count",
            Intent::Anomalies => "anomalies",
            Intent::Summary => "summary",
            Intent::Open => "open",
            Intent::Help => "help",
            Intent::Unknown => "unknown",
        }
    }
}

/// A field events are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    /// Client address.
    Ip,
    /// URL path (query string left out).
    Url,
    /// Status code.
    Status,
    /// Status class (2xx, 4xx, ...).
    StatusClass,
    /// HTTP method.
    Method,
    /// User agent.
    UserAgent,
    /// The program that wrote a system log line (`fields.app`: syslog's `sshd[42]`).
    Program,
    /// The machine that wrote a system log line (`fields.host`).
    Host,
}

impl Dimension {
    /// Singular and plural nouns for sentences.
    pub fn nouns(self) -> (&'static str, &'static str) {
        match self {
            Dimension::Ip => ("IP", "IPs"),
            Dimension::Url => ("URL path", "URL paths"),
            Dimension::Status => ("status", "statuses"),
            Dimension::StatusClass => ("status class", "status classes"),
            Dimension::Method => ("method", "methods"),
            Dimension::UserAgent => ("user agent", "user agents"),
            Dimension::Program => ("program", "programs"),
            Dimension::Host => ("host name", "host names"),
        }
    }

    /// The name reported in facts.
    pub fn name(self) -> &'static str {
        match self {
            Dimension::Ip => "ip",
            Dimension::Url => "url",
            Dimension::Status => "status",
            Dimension::StatusClass => "status_class",
            Dimension::Method => "method",
            Dimension::UserAgent => "user_agent",
            Dimension::Program => "program",
            Dimension::Host => "host",
        }
    }
}

/// Time buckets for the busiest-time question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    /// One minute.
    Minute,
    /// One hour.
    Hour,
}

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

/// Which events a question is about, besides the time window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    /// Client address, exactly.
    pub ip: Option<String>,
    /// URL path: matches itself, with any query string, and its sub-paths.
    pub url: Option<String>,
    /// Statuses.
    pub status: Option<StatusMatch>,
    /// HTTP method, upper case.
    pub method: Option<String>,
    /// Requests that look like an attack (see [`crate::attack`]).
    pub attack: Option<AttackMatch>,
    /// Text the URL, user agent or line holds, in ASCII lower case (see `text_filter`).
    pub text: Option<String>,
}

impl Filters {
    /// "with status 500 to /login from 10.0.0.1" (empty when there is no such filter; the
    /// method goes before the noun, see `answer::what`).
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(text) = &self.text {
            parts.push(super::text_filter::describe(text));
        }
        if let Some(attack) = self.attack {
            parts.push(attack.describe());
        }
        if let Some(status) = self.status {
            parts.push(format!("with {}", status.describe()));
        }
        if let Some(url) = &self.url {
            parts.push(format!("to {url}"));
        }
        if let Some(ip) = &self.ip {
            parts.push(format!("from {ip}"));
        }
        parts.join(" ")
    }

    /// Whether any filter is set.
    pub fn is_empty(&self) -> bool {
        self.ip.is_none()
            && self.url.is_none()
            && self.status.is_none()
            && self.method.is_none()
            && self.attack.is_none()
            && self.text.is_none()
    }
}

/// A question, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    /// What it asks.
    pub intent: Intent,
    /// About which events.
    pub filters: Filters,
    /// How many rows for top-N and lists.
    pub top_n: usize,
    /// Words that may name what an open question is about ("login", "timeout").
    pub terms: Vec<String>,
    /// Whether counts are of anomalies rather than events ("which IP has the most anomalies").
    pub anomalies: bool,
    /// What the answer calls the events, singular and plural: the question's own word when it
    /// says "lines", "events", "logs", "messages" or "entries", else "request"s.
    pub noun: (&'static str, &'static str),
}

/// Most rows a top-N answer lists.
pub const MAX_TOP: usize = 50;

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("valid regex")
}

static METHOD_UPPER: LazyLock<Regex> = LazyLock::new(|| re(r"\b(GET|POST|PUT|DELETE|PATCH|HEAD|OPTIONS)\b"));
static METHOD_LOWER: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b(get|post|put|delete|patch|head|options)\s+(?:requests?|calls?|hits?)\b"));
static CLASS: LazyLock<Regex> = LazyLock::new(|| re(r"\b([1-5])xx(?:s|es)?\b"));
static CODE: LazyLock<Regex> = LazyLock::new(|| re(r"(?:\b(\w+)\s+)?\b([1-5]\d\d)(?:s|'s)?\b(?:\s+(\w+))?"));
static TOP_N: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?:top|first)\s+(\d+|two|three|four|five|six|seven|eight|nine|ten|twenty)\b|\b(\d+)\s+(?:most|busiest|biggest|noisiest|top)\b|\bwhich\s+(\d{1,2}|two|three|four|five|six|seven|eight|nine|ten|twenty)\b",
    )
});

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

/// Read `rest` (the question in lower case with its time window blanked); `original` is the
/// question as written, for case-sensitive cues such as `GET`.
pub fn read(rest: &str, original: &str) -> Reading {
    let mut text = format!(" {rest} ");
    let mut filters = Filters::default();
    // The asked-for text first: its words are the lines', not the question's.
    if let Some((wanted, rest)) = super::text_filter::read(&text) {
        filters.text = Some(wanted);
        text = rest;
    }

    // Addresses and paths first, so their digits are not read as statuses or counts.
    let tokens: Vec<String> = text.split_whitespace().map(str::to_owned).collect();
    for token in &tokens {
        let bare = token.trim_matches(|c: char| matches!(c, '?' | ',' | '!' | '"' | '\'' | '(' | ')' | ';'));
        let bare_ip = bare.trim_end_matches('.');
        if filters.ip.is_none()
            && let Ok(ip) = bare_ip.parse::<IpAddr>()
        {
            filters.ip = Some(ip.to_string());
            text = text.replacen(bare_ip, " ", 1);
            continue;
        }
        if filters.url.is_none()
            && let Some(path) = url_path(bare)
        {
            filters.url = Some(path);
            text = text.replacen(bare, " ", 1);
        }
    }
    if let Some(m) = METHOD_UPPER.captures(original) {
        filters.method = Some(m[1].to_owned());
    } else if let Some(m) = METHOD_LOWER.captures(&text) {
        filters.method = Some(m[1].to_uppercase());
    }

    // The N stays in the text: a status is never read right after "top" or "first".
    let top_n = TOP_N
        .captures(&text)
        .and_then(|caps| small_number(caps.get(1).or_else(|| caps.get(2)).or_else(|| caps.get(3))?.as_str()))
        .map(|n| n.clamp(1, MAX_TOP));

    filters.status = status(&text);
    filters.attack = AttackMatch::read(&text);
    let mut intent = intent(&text, &filters);
    if filters.attack.is_some() && matches!(intent, Intent::Open | Intent::Unknown) {
        // "Any SQL injection attempts?", "were we attacked?": the count of such requests
        // (with its kinds), not an open answer about everything.
        intent = Intent::Count;
    }
    let plural = has(
        &text,
        r"\b(?:ips|addresses|clients|hosts|visitors|urls|paths|endpoints|pages|routes|agents|browsers|top|methods|codes|statuses|programs|apps|applications|processes|daemons|machines|servers|nodes)\b",
    );
    let top_n = top_n.unwrap_or(if plural { 5 } else { 1 });
    let terms = terms(&text);
    let anomalies = has(&text, r"\banomal");
    Reading { intent, filters, top_n, terms, anomalies, noun: noun(&text) }
}

/// The question's word for the events it counts (see [`Reading::noun`]).
fn noun(text: &str) -> (&'static str, &'static str) {
    const NOUNS: &[(&str, (&str, &str))] = &[
        (r"\blog lines?\b|\blines?\b", ("line", "lines")),
        (r"\bevents?\b", ("event", "events")),
        (r"\blog entr(?:y|ies)\b|\bentr(?:y|ies)\b|\brecords?\b", ("entry", "entries")),
        (r"\bmessages?\b", ("message", "messages")),
        (r"\blogs?\b", ("log", "logs")),
    ];
    NOUNS.iter().find(|&&(pattern, _)| has(text, pattern)).map_or(("request", "requests"), |&(_, noun)| noun)
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

fn status(text: &str) -> Option<StatusMatch> {
    if let Some(caps) = CLASS.captures(text) {
        return Some(StatusMatch::Class(caps[1].parse().ok()?));
    }
    for caps in CODE.captures_iter(text) {
        let before = caps.get(1).map_or("", |m| m.as_str());
        let after = caps.get(3).map_or("", |m| m.as_str());
        if NOT_STATUS_BEFORE.contains(&before) || NOT_STATUS_AFTER.contains(&after) {
            continue;
        }
        if let Ok(code) = caps[2].parse::<u16>() {
            return Some(StatusMatch::Exact(code));
        }
    }
    STATUS_WORDS.iter().find(|(word, _)| text.contains(word)).map(|(_, status)| *status)
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
        has(text, r"\btop\b|\bmost\b|\bbusiest\b|\bbiggest\b|\bheaviest\b|\bnoisiest\b|\blargest\b|\bwhich\b|\bwho\b");
    let dim = dimension(text);
    if has(text, r"\bsummar|\boverview\b|\brecap\b|\breport\b|\bdigest\b") {
        return Intent::Summary;
    }
    if has(text, r"\banomal") {
        return match dim {
            Some(dim) if (ranking && dim != Dimension::Status) || has(text, r"\bby\b|\bper\b") => Intent::Top(dim),
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
    if has(text, r"\brate\b|\bpercent|\bratio\b|\bproportion\b|\bshare\b|\bfraction\b|%") {
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
    if has(text, r"\bbytes\b|\bbandwidth\b|\bdata (?:sent|transferred|served)\b|\bhow much data\b|\bvolume\b|\bpayload")
    {
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
