//! `[[sources]] type = "file"`: which files to follow and how to read them.

use serde::Deserialize;
use std::time::Duration;

/// Where to start reading a file that was already there when the agent started and that no
/// checkpoint covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StartAt {
    /// Only what is written from now on (like the OpenTelemetry filelog receiver).
    #[default]
    End,
    /// The whole file.
    Beginning,
}

/// How the file source reads (the `format` and globs are resolved by the source config).
#[derive(Debug, Clone, PartialEq)]
pub struct FileSourceConfig {
    /// Glob patterns of files to follow.
    pub include: Vec<String>,
    /// Glob patterns of files to skip even when included.
    pub exclude: Vec<String>,
    /// Start position of the files already there at the source's first start (no checkpoint
    /// yet); a resumed source reads every file it has no checkpoint for from its start.
    pub start_at: StartAt,
    /// Longest line kept, in bytes; longer lines are truncated and counted.
    pub max_line_bytes: usize,
    /// How long an unterminated last line waits for its newline before it is emitted.
    pub partial_line_timeout: Duration,
    /// Bytes at the start of a file that identify it.
    pub fingerprint_bytes: usize,
    /// Most bytes read from one file in one poll, so one busy file cannot starve the others.
    pub read_chunk_bytes: usize,
    /// Whether `.gz` files matching the globs (rotated and compressed) are read.
    pub gzip: bool,
}

impl Default for FileSourceConfig {
    fn default() -> Self {
        FileSourceConfig {
            include: Vec::new(),
            exclude: Vec::new(),
            start_at: StartAt::End,
            max_line_bytes: 64 * 1024,
            partial_line_timeout: Duration::from_secs(1),
            fingerprint_bytes: 1000,
            read_chunk_bytes: 1 << 20,
            gzip: false,
        }
    }
}
