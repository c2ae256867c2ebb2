//! The nginx/Apache access-log formats, `combined` and `common`:
//!
//! ```text
//! ip ident user [time] "request" status bytes ["referer" "user-agent"] [trailing fields...]
//! ```
//!
//! Hand-written byte scanner, no regex: this is the hot path of the agent (every line of every
//! access log passes here) and the target is at least a million lines per second per core. The
//! scanner only records slices of the line; strings are allocated once the line is known to
//! fit, and only for the event's own fields.
//!
//! Both formats share the scanner: a `common` line is a `combined` line without referer and user
//! agent, and a server switched from one to the other keeps parsing. Tolerated without error:
//! `-` for status, bytes, referer and user agent; status `000`; an empty or odd request line
//! (`""`, `GET  HTTP/1.1`, binary junk, shellshock payloads); IPv6 or host names as client;
//! any UTC offset; an unescaped quote inside a quoted field when it is not followed by a space.
//!
//! Trailing fields after the user agent (nginx `$request_time`, Apache `%D`, ...): the first
//! one that is a plain decimal number becomes `latency_ms`: with a decimal point it is read as
//! seconds (nginx `$request_time`, `0.123`), without one as microseconds (Apache `%D`). Other
//! trailing fields stay only in `raw`.

use super::error::ParseError;
use super::timestamp::access_log_millis;
use super::{Format, Parsed};
use crate::event::Event;
use memchr::{memchr, memchr2};
use serde_json::Value;

/// One line's fields as slices of it, still escaped.
struct Line<'a> {
    ip: &'a str,
    ident: &'a str,
    user: &'a str,
    time: &'a str,
    request: &'a str,
    status_code: u16,
    bytes_sent: u64,
    referer: Option<&'a str>,
    user_agent: Option<&'a str>,
    latency_ms: Option<f64>,
}

/// What the scanner was looking for, and where, when the line stopped fitting.
type Mismatch = (&'static str, usize);

/// Parses one access-log line; a line that does not fit keeps only `raw` and `source`.
pub(super) fn parse(format: Format, line: &str, source: &str) -> Parsed {
    let text = line.trim_end_matches(['\n', '\r']);
    // A line wrapped whole in double quotes, as some exports write each line (a CSV or JSON
    // string per line; the scanner logs of ../shared/data/apache_scan_logs): the line is what
    // is inside. A line as a server writes it starts with the client address, never a quote.
    let text = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')).unwrap_or(text);
    match scan(text) {
        Ok(fields) => build(fields, line, source),
        Err((expected, at)) => Parsed::failed(line, source, ParseError::Malformed { format, expected, at }),
    }
}

fn scan(text: &str) -> Result<Line<'_>, Mismatch> {
    let mut s = Scanner { text, pos: 0 };
    s.skip_spaces();
    let ip = s.bare().filter(|ip| !ip.starts_with('"')).ok_or(("the client address", s.pos))?;
    s.skip_spaces();
    let ident = s.bare().ok_or(("the ident field (`-` when empty)", s.pos))?;
    s.skip_spaces();
    let user = s.bare().ok_or(("the user field (`-` when empty)", s.pos))?;
    s.skip_spaces();
    let time = s.bracketed().ok_or(("the time in `[...]`", s.pos))?;
    s.skip_spaces();
    let request = s.quoted().ok_or(("the request line in `\"...\"`", s.pos))?;
    s.skip_spaces();
    let at = s.pos;
    let status_code = s.bare().and_then(status_code).ok_or(("a status code (3 digits or `-`)", at))?;
    s.skip_spaces();
    let at = s.pos;
    let bytes_sent = s.bare().and_then(byte_count).ok_or(("a response size (digits or `-`)", at))?;
    let mut line = Line {
        ip,
        ident,
        user,
        time,
        request,
        status_code,
        bytes_sent,
        referer: None,
        user_agent: None,
        latency_ms: None,
    };
    s.skip_spaces();
    if s.peek() == Some(b'"') {
        line.referer = Some(s.quoted().ok_or(("a closing `\"` after the referer", s.pos))?);
        s.skip_spaces();
        if s.peek() == Some(b'"') {
            line.user_agent = Some(s.quoted().ok_or(("a closing `\"` after the user agent", s.pos))?);
        }
    }
    loop {
        s.skip_spaces();
        let field = if s.peek() == Some(b'"') { s.quoted() } else { s.bare() };
        // The end, or an unclosed quote in a trailing field: the known fields are all read.
        let Some(field) = field else { break };
        if line.latency_ms.is_none() {
            line.latency_ms = latency_ms(field);
        }
    }
    Ok(line)
}

fn build(l: Line<'_>, line: &str, source: &str) -> Parsed {
    let (method, url) = split_request(l.request);
    let mut event = Event {
        timestamp_ms: 0,
        ip: l.ip.to_owned(),
        method: method.to_owned(),
        url: unescape(url),
        status_code: l.status_code,
        bytes_sent: l.bytes_sent,
        user_agent: l.user_agent.filter(|ua| *ua != "-").map(unescape).unwrap_or_default(),
        raw: line.to_owned(),
        source: source.to_owned(),
        referer: l.referer.filter(|r| !r.is_empty() && *r != "-").map(unescape),
        latency_ms: l.latency_ms,
        fields: serde_json::Map::new(),
        template_id: None,
    };
    // Rare (authenticated requests, identd): kept in `fields` so they cost nothing otherwise.
    if l.user != "-" {
        event.fields.insert("user".into(), Value::String(unescape(l.user)));
    }
    if l.ident != "-" {
        event.fields.insert("ident".into(), Value::String(unescape(l.ident)));
    }
    let mut error = None;
    if !l.time.is_empty() {
        match access_log_millis(l.time) {
            Some(ms) => event.timestamp_ms = ms,
            None => {
                error = Some(ParseError::Timestamp {
                    field: "time".into(),
                    value: l.time.to_owned(),
                    reason: "expected dd/Mon/yyyy:HH:MM:SS ±hhmm".into(),
                })
            }
        }
    }
    Parsed { event, error }
}

/// Splits a request line into method and target, best effort and never failing: the method is
/// the first word when it is an HTTP token, the target the rest without a final `HTTP/x`. A
/// request line whose first word is not a method (binary junk, a shellshock payload) is kept
/// whole as the target, with no method.
pub(super) fn split_request(request: &str) -> (&str, &str) {
    if request.is_empty() || request == "-" {
        return ("", "");
    }
    let (first, rest) = match memchr(b' ', request.as_bytes()) {
        Some(i) => (&request[..i], request[i + 1..].trim_start_matches(' ')),
        None => (request, ""),
    };
    if !is_method(first) {
        return ("", request);
    }
    let url = match rest.rfind(' ') {
        Some(i) if rest[i + 1..].starts_with("HTTP/") => rest[..i].trim_end_matches(' '),
        None if rest.starts_with("HTTP/") => "",
        _ => rest,
    };
    (first, url)
}

/// An HTTP method is a token (RFC 9110 `tchar`s); 32 bytes is far beyond any real one.
fn is_method(word: &str) -> bool {
    !word.is_empty()
        && word.len() <= 32
        && word.bytes().all(|c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c))
}

/// `-` and `000` mean no response was sent: both read as 0.
fn status_code(field: &str) -> Option<u16> {
    if field == "-" {
        return Some(0);
    }
    if field.is_empty() || field.len() > 3 || !field.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    field.parse().ok()
}

fn byte_count(field: &str) -> Option<u64> {
    if field == "-" {
        return Some(0);
    }
    if !field.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    field.parse().ok()
}

/// The trailing-field rule of the module docs: `0.123` is seconds, `123456` microseconds.
fn latency_ms(field: &str) -> Option<f64> {
    let b = field.as_bytes();
    let dots = b.iter().filter(|&&c| c == b'.').count();
    if b.is_empty() || dots > 1 || !b.iter().any(u8::is_ascii_digit) {
        return None;
    }
    if !b.iter().all(|&c| c.is_ascii_digit() || c == b'.') {
        return None;
    }
    let value: f64 = field.parse().ok()?;
    Some(if dots == 1 { value * 1000.0 } else { value / 1000.0 })
}

/// Undoes the escaping servers apply inside quoted fields: `\"` and `\\` (Apache, nginx),
/// `\n \r \t \b \v` (Apache) and `\xhh` (both, for non-printable bytes). If the decoded
/// `\xhh` bytes are not UTF-8, those stay written as `\xhh` so the text is kept, not mangled.
pub(super) fn unescape(field: &str) -> String {
    if memchr(b'\\', field.as_bytes()).is_none() {
        return field.to_owned();
    }
    String::from_utf8(decode_escapes(field, true)).unwrap_or_else(|_| {
        String::from_utf8(decode_escapes(field, false))
            .expect("replacing ASCII escapes with ASCII keeps the text UTF-8")
    })
}

fn decode_escapes(field: &str, hex: bool) -> Vec<u8> {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' || i + 1 == b.len() {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let simple = match b[i + 1] {
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'b' => Some(0x08),
            b'v' => Some(0x0b),
            _ => None,
        };
        if let Some(byte) = simple {
            out.push(byte);
            i += 2;
        } else if let Some(byte) = hex.then(|| hex_byte(b, i + 1)).flatten() {
            out.push(byte);
            i += 4;
        } else {
            out.push(b'\\');
            i += 1;
        }
    }
    out
}

/// The byte of `xhh` at `b[at..at + 3]`, if it is one.
fn hex_byte(b: &[u8], at: usize) -> Option<u8> {
    if b.get(at) != Some(&b'x') {
        return None;
    }
    let hi = (*b.get(at + 1)? as char).to_digit(16)?;
    let lo = (*b.get(at + 2)? as char).to_digit(16)?;
    Some((hi * 16 + lo) as u8)
}

/// A cursor over one line. Fields are separated by runs of spaces; every position it stops at
/// is an ASCII delimiter, so slicing the `&str` there is always on a character boundary.
struct Scanner<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
    }

    /// An unquoted field: up to the next space or the end; `None` at the end.
    fn bare(&mut self) -> Option<&'a str> {
        let b = self.text.as_bytes();
        let start = self.pos;
        let end = memchr(b' ', &b[start..]).map_or(b.len(), |i| start + i);
        if end == start {
            return None;
        }
        self.pos = end;
        Some(&self.text[start..end])
    }

    /// `[...]`: the text between the brackets.
    fn bracketed(&mut self) -> Option<&'a str> {
        if self.peek() != Some(b'[') {
            return None;
        }
        let start = self.pos + 1;
        let end = start + memchr(b']', &self.text.as_bytes()[start..])?;
        self.pos = end + 1;
        Some(&self.text[start..end])
    }

    /// `"..."`: the text between the quotes, still escaped. A backslash escapes the next byte;
    /// a quote closes the field only when a space or the end of the line follows it, so a
    /// stray unescaped quote inside a user agent does not cut the line in two.
    fn quoted(&mut self) -> Option<&'a str> {
        if self.peek() != Some(b'"') {
            return None;
        }
        let b = self.text.as_bytes();
        let start = self.pos + 1;
        let mut i = start;
        loop {
            let found = i + memchr2(b'"', b'\\', &b[i..])?;
            if b[found] == b'\\' {
                i = found + 2;
                if i > b.len() {
                    return None;
                }
                continue;
            }
            if found + 1 == b.len() || b[found + 1] == b' ' {
                self.pos = found + 1;
                return Some(&self.text[start..found]);
            }
            i = found + 1;
        }
    }
}
