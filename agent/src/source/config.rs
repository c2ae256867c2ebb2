//! `[[sources]]`: a source as users write it, and its validated form.

use super::file::{FileSourceConfig, StartAt};
use crate::parse::{Format, JsonFields, ParseConfig, Parser};
use serde::Deserialize;
use std::time::Duration;

/// One `[[sources]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// `file` (tail files), or `websocket`: WebSocket ingest, always on at `/ws/application`,
    /// which an entry may declare (DESIGN.md's config lists it) but takes no settings.
    #[serde(rename = "type")]
    pub kind: SourceKind,
    /// Name in stats and in each event's `source` (`file:<name>`); defaults to `file<N>`.
    #[serde(default)]
    pub name: Option<String>,
    /// Glob patterns of files to follow, e.g. `/var/log/nginx/access.log*`.
    #[serde(default)]
    pub include: Vec<String>,
    /// Glob patterns of files to skip, e.g. `*.gz`.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// `end` (default): pre-existing files are read from their end; `beginning`: whole.
    #[serde(default)]
    pub start_at: StartAt,
    /// Longest line kept, in bytes; longer lines are truncated and counted.
    #[serde(default = "default_max_line_bytes")]
    pub max_line_bytes: usize,
    /// How long an unterminated last line waits for its newline, in milliseconds.
    #[serde(default = "default_partial_line_timeout_ms")]
    pub partial_line_timeout_ms: u64,
    /// Read rotated files compressed with gzip (`*.gz` under the globs), once each, a chunk at
    /// a time like any file, skipping what was already read from them before they were
    /// compressed.
    #[serde(default)]
    pub gzip: bool,
    /// How often files are checked when no change notification arrives, in milliseconds.
    #[serde(default = "default_poll_interval_ms")]
    pub poll_interval_ms: u64,
    /// How each line is read: `combined` or `common` (nginx/Apache access logs), `json` (one
    /// object per line), `regex` (your `pattern`), `syslog` (system logs), or `raw` (kept as
    /// text only).
    #[serde(default = "default_format")]
    pub format: Format,
    /// For `format = "regex"`: a regex with named groups named after event fields.
    #[serde(default)]
    pub pattern: Option<String>,
    /// For `json` and `regex`: a strftime format for timestamps that are not RFC 3339,
    /// epoch numbers or the access-log form.
    #[serde(default)]
    pub timestamp_format: Option<String>,
    /// For `format = "json"`: which JSON keys fill which event field.
    #[serde(default)]
    pub json_fields: Option<JsonFields>,
    /// For `format = "syslog"`: the zone of times without an offset (default `"local"`).
    #[serde(default)]
    pub time_zone: Option<String>,
}

impl SourceConfig {
    /// The parsing part, as the parser takes it. (Copied field by field: serde cannot
    /// flatten a struct that denies unknown fields.)
    pub fn parse_config(&self) -> ParseConfig {
        ParseConfig {
            format: self.format,
            pattern: self.pattern.clone(),
            timestamp_format: self.timestamp_format.clone(),
            json_fields: self.json_fields.clone(),
            time_zone: self.time_zone.clone(),
        }
    }
}

/// Source types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// Tail files.
    File,
    /// WebSocket ingest at `/ws/application`: always on, so the entry changes nothing.
    Websocket,
}

/// A validated source.
#[derive(Clone)]
pub struct SourceSpec {
    /// Unique name.
    pub name: String,
    /// How files are read.
    pub file: FileSourceConfig,
    /// How lines are parsed.
    pub parser: Parser,
    /// Fallback poll period.
    pub poll_interval: Duration,
}

impl std::fmt::Debug for SourceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceSpec").field("name", &self.name).field("file", &self.file).finish_non_exhaustive()
    }
}

impl PartialEq for SourceSpec {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.file == other.file
            && self.poll_interval == other.poll_interval
            // Every parser option (a regex, a JSON field mapping), not just the format.
            && format!("{:?}", self.parser) == format!("{:?}", other.parser)
    }
}

fn default_format() -> Format {
    Format::Combined
}
fn default_max_line_bytes() -> usize {
    64 * 1024
}
fn default_partial_line_timeout_ms() -> u64 {
    1000
}
fn default_poll_interval_ms() -> u64 {
    250
}
