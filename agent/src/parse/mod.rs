//! Parsing: turns one line of a file source into an [`Event`], by the source's `format`
//! (`combined | common | json | regex | syslog | raw`).
//!
//! Owns the line formats, their config ([`ParseConfig`], validated by
//! [`ParseConfig::build`] into a [`Parser`]) and the per-line [`ParseError`]. It must never
//! drop a line: a line that does not parse comes back as an event with `raw` and `source` set
//! and the error alongside, for the pipeline to count. It does no I/O and keeps no state
//! between lines, so one [`Parser`] is shared by every thread reading a source.

mod access_log;
mod config;
mod error;
mod json;
mod pattern;
mod syslog;
mod target;
#[cfg(test)]
mod tests;
mod timestamp;

pub use config::{Format, JsonFields, ParseConfig};
pub use error::{BuildError, ParseError};
pub use timestamp::named_time_zone;

use crate::event::Event;
use json::JsonParser;
use pattern::PatternParser;
use std::sync::Arc;
use syslog::SyslogParser;

/// A validated line parser for one source. Cloning is cheap (an `Arc` at most).
#[derive(Debug, Clone)]
pub struct Parser {
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    AccessLog(Format),
    Json(Arc<JsonParser>),
    Pattern(Arc<PatternParser>),
    Syslog(Arc<SyslogParser>),
    Raw,
}

/// One parsed line: always an event, and the first problem met if the line did not fit.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// The event; for a line that did not fit, only `raw` and `source` (and whatever fields
    /// were readable, for a bad timestamp or number) are set.
    pub event: Event,
    /// Why the line did not parse cleanly; `None` when it did.
    pub error: Option<ParseError>,
}

impl Parsed {
    /// True when the line parsed without any problem.
    pub fn is_ok(&self) -> bool {
        self.error.is_none()
    }

    /// A line kept as it is, with the reason it could not be parsed.
    fn failed(line: &str, source: &str, error: ParseError) -> Parsed {
        let event = Event { raw: line.to_owned(), source: source.to_owned(), ..Event::default() };
        Parsed { event, error: Some(error) }
    }
}

impl Parser {
    /// The nginx/Apache `combined` access-log parser.
    pub fn combined() -> Parser {
        Parser { kind: Kind::AccessLog(Format::Combined) }
    }

    /// The nginx/Apache `common` access-log parser (also reads combined lines).
    pub fn common() -> Parser {
        Parser { kind: Kind::AccessLog(Format::Common) }
    }

    /// The `raw` parser: the line is kept as `raw`, nothing else is read.
    pub fn raw() -> Parser {
        Parser { kind: Kind::Raw }
    }

    fn from_json(parser: JsonParser) -> Parser {
        Parser { kind: Kind::Json(Arc::new(parser)) }
    }

    fn from_pattern(parser: PatternParser) -> Parser {
        Parser { kind: Kind::Pattern(Arc::new(parser)) }
    }

    /// The `syslog` parser, reading BSD times (which have no offset) in `zone`.
    pub fn syslog(zone: jiff::tz::TimeZone) -> Parser {
        Parser { kind: Kind::Syslog(Arc::new(SyslogParser::new(zone))) }
    }

    /// The format this parser reads.
    pub fn format(&self) -> Format {
        match &self.kind {
            Kind::AccessLog(format) => *format,
            Kind::Json(_) => Format::Json,
            Kind::Pattern(_) => Format::Regex,
            Kind::Syslog(_) => Format::Syslog,
            Kind::Raw => Format::Raw,
        }
    }

    /// Parses one line (a trailing `\n` or `\r\n` is ignored; `raw` keeps the line as given)
    /// read from `source` (e.g. `file:/var/log/nginx/access.log`).
    pub fn parse(&self, line: &str, source: &str) -> Parsed {
        match &self.kind {
            Kind::AccessLog(format) => access_log::parse(*format, line, source),
            Kind::Json(parser) => parser.parse(line, source),
            Kind::Pattern(parser) => parser.parse(line, source),
            Kind::Syslog(parser) => parser.parse(line, source),
            Kind::Raw => {
                let event = Event { raw: line.to_owned(), source: source.to_owned(), ..Event::default() };
                Parsed { event, error: None }
            }
        }
    }
}
