//! What a question was read as: the intent, the dimension and bucket of a breakdown, the
//! filters, and the whole reading `intent::read` gives the answerer.

use super::attack_filter::AttackMatch;
use super::names::Named;
use super::status_filter::StatusMatch;

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
    /// When the first and last events were logged.
    Span,
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
            Intent::Span => "span",
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

    /// What a breakdown calls the requests without a value of this dimension.
    pub fn no_value(self) -> &'static str {
        match self {
            Dimension::Ip => "(no IP)",
            Dimension::Url => "(empty URL)",
            Dimension::Status | Dimension::StatusClass => "(no status)",
            Dimension::Method => "(no method)",
            Dimension::UserAgent => "(no user agent)",
            Dimension::Program => "(no program)",
            Dimension::Host => "(no host name)",
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
