//! The `regex` format: a user pattern whose named groups fill the event.
//!
//! Groups named after event fields fill them (numbers checked, see `target`); other named
//! groups go to `fields` as strings. Groups that did not take part in the match are skipped.
//! The pattern is used as written: anchor it (`^...$`) to require a whole-line match.

use super::Parsed;
use super::error::{BuildError, ParseError};
use super::target::{Target, assign_text};
use crate::event::Event;
use regex::Regex;
use serde_json::Value;

/// A validated `regex` parser.
#[derive(Debug)]
pub(super) struct PatternParser {
    regex: Regex,
    /// Capture index → what it fills: an event field, or a `fields` key.
    groups: Vec<(usize, Group)>,
    timestamp_format: Option<String>,
}

#[derive(Debug)]
enum Group {
    Field(Target, String),
    Extra(String),
}

impl PatternParser {
    /// Compiles `pattern`; it must be valid and name at least one group.
    pub(super) fn new(pattern: &str, timestamp_format: Option<String>) -> Result<Self, BuildError> {
        let regex = Regex::new(pattern)
            .map_err(|e| BuildError::InvalidPattern { pattern: pattern.to_owned(), error: e.to_string() })?;
        let mut groups: Vec<(usize, Group)> = regex
            .capture_names()
            .enumerate()
            .filter_map(|(index, name)| {
                let name = name?;
                let group = match Target::from_group_name(name) {
                    Some(target) => Group::Field(target, name.to_owned()),
                    None => Group::Extra(name.to_owned()),
                };
                Some((index, group))
            })
            .collect();
        if groups.is_empty() {
            return Err(BuildError::NoNamedGroups { pattern: pattern.to_owned() });
        }
        // A `request` group only fills method and url when they have no group of their own;
        // applying it last makes that independent of where it sits in the pattern.
        groups.sort_by_key(|(_, group)| matches!(group, Group::Field(Target::Request, _)));
        Ok(PatternParser { regex, groups, timestamp_format })
    }

    pub(super) fn parse(&self, line: &str, source: &str) -> Parsed {
        let text = line.trim_end_matches(['\n', '\r']);
        let mut locations = self.regex.capture_locations();
        if self.regex.captures_read(&mut locations, text).is_none() {
            return Parsed::failed(line, source, ParseError::NoMatch);
        }
        let mut event = Event { raw: line.to_owned(), source: source.to_owned(), ..Event::default() };
        let mut error = None;
        for (index, group) in &self.groups {
            let Some((start, end)) = locations.get(*index) else {
                continue;
            };
            let value = &text[start..end];
            match group {
                Group::Field(target, name) => {
                    let format = self.timestamp_format.as_deref();
                    if let Err(e) = assign_text(&mut event, *target, name, value, format) {
                        error.get_or_insert(e);
                    }
                }
                Group::Extra(name) => {
                    event.fields.insert(name.clone(), Value::String(value.to_owned()));
                }
            }
        }
        Parsed { event, error }
    }
}
