//! Reading a question: what it asks for (the intent), about which events (status, IP, URL,
//! method) and how many rows (top N). The time window is read first, by `timerange`.
//!
//! Hand-written keyword rules rather than a model or an NLU crate: the questions are a small,
//! fixed family ("how many 500s", "which IP", "error rate by ..."), the rules are fast and
//! predictable, and every answer must come from SQL with exact numbers anyway. A question the
//! rules do not recognise gets the list of what can be asked.

pub use super::attack_filter::AttackMatch;
pub use super::status_filter::StatusMatch;
use super::status_filter::negated_before;
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
    /// What share of events were flagged as anomalies.
    AnomalyRate,
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
            Intent::AnomalyRate => "anomaly_rate",
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

    /// Whether only HTTP requests have a value of this dimension (a system log line has a
    /// program and a host, but no IP, URL, status, method or user agent).
    pub fn of_requests(self) -> bool {
        !matches!(self, Dimension::Program | Dimension::Host)
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

/// Which events a question is about, besides the time window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    /// Client address, exactly.
    pub ip: Option<String>,
    /// URL path: matches itself, with any query string, and its sub-paths.
    pub url: Option<String>,
    /// Statuses.
    pub status: Option<StatusMatch>,
    /// More statuses asked about with `status` ("404 or 500"): a request with any of them.
    pub status_or: Vec<StatusMatch>,
    /// Statuses left out ("not 200", "excluding 404s", "non-404 errors").
    pub not_status: Vec<StatusMatch>,
    /// HTTP method, upper case.
    pub method: Option<String>,
    /// Requests that look like an attack (see [`crate::attack`]).
    pub attack: Option<AttackMatch>,
    /// Text the URL, user agent or line holds, in ASCII lower case (see `text_filter`).
    pub text: Option<String>,
    /// The program that wrote a system log line (`fields.app`), in lower case.
    pub program: Option<String>,
    /// The machine that wrote a system log line (`fields.host`), in lower case.
    pub host: Option<String>,
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
        if let Some(statuses) = super::status_filter::describe(self.status, &self.status_or, &self.not_status) {
            parts.push(format!("with {statuses}"));
        }
        if let Some(url) = &self.url {
            parts.push(format!("to {url}"));
        }
        if let Some(ip) = &self.ip {
            parts.push(format!("from {ip}"));
        }
        if let Some(program) = &self.program {
            parts.push(format!("from program {program}"));
        }
        if let Some(host) = &self.host {
            parts.push(format!("from host {host}"));
        }
        parts.join(" ")
    }

    /// Whether any filter is set.
    pub fn is_empty(&self) -> bool {
        self.ip.is_none()
            && self.url.is_none()
            && self.status.is_none()
            && self.not_status.is_empty()
            && self.method.is_none()
            && self.attack.is_none()
            && self.text.is_none()
            && self.program.is_none()
            && self.host.is_none()
    }

    /// The filters only an HTTP request can match, in words for a reply over lines that are
    /// not requests ("an HTTP status", "a client IP").
    pub fn of_requests(&self) -> Vec<&'static str> {
        let mut what = Vec::new();
        if self.status.is_some() || !self.not_status.is_empty() {
            what.push("an HTTP status");
        }
        if self.ip.is_some() {
            what.push("a client IP");
        }
        if self.url.is_some() {
            what.push("a URL");
        }
        if self.method.is_some() {
            what.push("an HTTP method");
        }
        if self.attack.is_some() {
            what.push("a URL, user agent or referer (what attack signatures read)");
        }
        what
    }

    /// These filters without those only an HTTP request can match.
    pub fn without_request_fields(&self) -> Filters {
        Filters {
            text: self.text.clone(),
            program: self.program.clone(),
            host: self.host.clone(),
            ..Filters::default()
        }
    }

    /// These filters without their statuses (asked about or left out).
    pub fn without_status(&self) -> Filters {
        Filters { status: None, status_or: Vec::new(), not_status: Vec::new(), ..self.clone() }
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
    /// What the answer calls the events, singular and plural, when the question says it
    /// ("lines", "events", "logs", "messages", "entries"); `None` leaves it to the data (see
    /// `answer::noun`).
    pub noun: Option<(&'static str, &'static str)>,
    /// Misspelt filter words read as the word they are close to (as written, as read).
    pub corrected: Vec<(String, &'static str)>,
    /// Why the question cannot be answered as read (it leaves out what no filter can leave
    /// out), said to the user instead of an answer to the opposite question.
    pub unreadable: Option<String>,
    /// A name the question counts the lines of ("lines from sshd", "kernel lines"), and
    /// whether it said a program or a host; resolved against the stored names before answering
    /// (see `Chat::answer_from_data`).
    pub named: Option<(String, Named)>,
    /// Whether the dimension asked about came from "host(s)": an IP for requests, a host name
    /// for system log lines, resolved against the data.
    pub host_word: bool,
    /// Whether a ranking asks for the fewest ("which IP sent the fewest requests?").
    pub fewest: bool,
    /// What the answer must say about how the question was read.
    pub notes: Vec<String>,
}

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

/// Most rows a top-N answer lists.
pub const MAX_TOP: usize = 50;

fn re(pattern: &str) -> Regex {
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
fn named(text: &str) -> Option<((String, Named), std::ops::Range<usize>)> {
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
const FIRST_OR_LAST: &str = r"\bwhen\b.*\b(?:start|started|begin|began|stop|stopped|end|ended|first|last)\b";
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
    if unreadable.is_none() && has(&text, FIRST_OR_LAST) {
        unreadable = Some(
            "I cannot give the time of a first or last event yet; ask for a count in a window (\"how many requests \
             from 10.0.0.1 between 13:00 and 14:00?\") or \"when was the busiest minute?\""
                .to_owned(),
        );
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
