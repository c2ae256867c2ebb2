//! One followed file: an open handle (so a renamed or deleted file is still read to its end),
//! the offset up to which lines were handed out, and the unterminated line being assembled.

use super::fingerprint::Fingerprint;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A line as read from a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineRead {
    /// The text, without its newline (invalid UTF-8 replaced).
    pub text: String,
    /// Whether the line was longer than the limit and cut.
    pub truncated: bool,
}

/// A file being followed.
pub(super) struct TailedFile {
    pub key: String,
    pub path: PathBuf,
    pub file: File,
    pub ino: (u64, u64),
    pub fingerprint: Fingerprint,
    /// Bytes before this offset were handed out as lines (or skipped by `start_at = end`).
    pub offset: u64,
    /// Kept bytes of the line being assembled (at most the line limit).
    partial: Vec<u8>,
    /// Bytes of the line being assembled that were over the limit and dropped.
    dropped: u64,
    /// When the line being assembled last grew.
    partial_since: Option<Instant>,
    /// Whether the path no longer leads to this file (rotated away or deleted).
    pub detached: bool,
}

/// What one read of a file produced.
pub(super) struct ReadOutcome {
    pub lines: Vec<LineRead>,
    pub truncated: u64,
    pub at_eof: bool,
}

impl TailedFile {
    pub fn new(key: String, path: PathBuf, file: File, ino: (u64, u64), fingerprint: Fingerprint, offset: u64) -> Self {
        TailedFile {
            key,
            path,
            file,
            ino,
            fingerprint,
            offset,
            partial: Vec::new(),
            dropped: 0,
            partial_since: None,
            detached: false,
        }
    }

    /// Bytes after `offset` already read into the line being assembled.
    fn pending_len(&self) -> u64 {
        self.partial.len() as u64 + self.dropped
    }

    /// Whether a read-but-unemitted partial line is pending.
    pub fn has_pending(&self) -> bool {
        self.pending_len() > 0
    }

    /// Notice copytruncate or an in-place rewrite: the file shrank below what was read, or
    /// its first bytes changed. Then start over from the beginning, and return the fingerprint
    /// and offset the old content had.
    pub fn check_truncation(&mut self, fingerprint_bytes: usize) -> io::Result<Option<(Fingerprint, u64)>> {
        let len = self.file.metadata()?.len();
        let now = Fingerprint::read(&self.file, fingerprint_bytes)?;
        // A file seen empty (just truncated) has no first bytes yet to be rewritten: whatever
        // comes first is its content. Taken for a rewrite, the truncation was counted twice,
        // and lines read between the two checks were read again.
        let rewritten = !self.fingerprint.is_empty()
            && !self.fingerprint.is_prefix_of(&now)
            && !now.is_prefix_of(&self.fingerprint);
        if len < self.offset + self.pending_len() || (rewritten && !now.is_empty()) {
            let old = (std::mem::replace(&mut self.fingerprint, now), self.offset);
            self.offset = 0;
            self.partial.clear();
            self.dropped = 0;
            self.partial_since = None;
            return Ok(Some(old));
        }
        if now.0.len() > self.fingerprint.0.len() {
            self.fingerprint = now;
        }
        Ok(None)
    }

    /// Read up to `chunk` new bytes and split them into lines. A trailing partial line is
    /// kept until its newline arrives or it has waited `partial_timeout` at end of file.
    pub fn read(
        &mut self,
        chunk: usize,
        max_line: usize,
        partial_timeout: Duration,
        now: Instant,
        buf: &mut Vec<u8>,
    ) -> io::Result<ReadOutcome> {
        // One buffer for every read of the tailer: allocating and zeroing a chunk per read
        // cost ~9% of a busy source thread.
        buf.resize(chunk, 0);
        let mut got = 0;
        let start = self.offset + self.pending_len();
        while got < chunk {
            match self.file.read_at(&mut buf[got..], start + got as u64)? {
                0 => break,
                n => got += n,
            }
        }
        let mut out = ReadOutcome { lines: Vec::new(), truncated: 0, at_eof: got < chunk };
        let mut rest: &[u8] = &buf[..got];
        while let Some(nl) = rest.iter().position(|b| *b == b'\n') {
            self.push(&rest[..nl], max_line);
            let consumed = self.pending_len() + 1;
            self.emit(&mut out, consumed);
            rest = &rest[nl + 1..];
        }
        if !rest.is_empty() {
            self.push(rest, max_line);
            self.partial_since = Some(now);
        }
        let waited = self.partial_since.is_some_and(|t| now.duration_since(t) >= partial_timeout);
        if out.at_eof && self.has_pending() && waited {
            let consumed = self.pending_len();
            self.emit(&mut out, consumed);
        }
        Ok(out)
    }

    fn push(&mut self, bytes: &[u8], max_line: usize) {
        let room = max_line.saturating_sub(self.partial.len()).min(bytes.len());
        self.partial.extend_from_slice(&bytes[..room]);
        self.dropped += (bytes.len() - room) as u64;
    }

    /// Hand out the assembled line, which covers `consumed` bytes from `offset`.
    fn emit(&mut self, out: &mut ReadOutcome, consumed: u64) {
        let mut bytes = std::mem::take(&mut self.partial);
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
        let truncated = self.dropped > 0;
        out.truncated += u64::from(truncated);
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        out.lines.push(LineRead { text, truncated });
        self.offset += consumed;
        self.dropped = 0;
        self.partial_since = None;
    }
}
