//! Rotated files that logrotate compressed (`access.log.2.gz`): read from where reading of the
//! same content stopped before, a chunk of lines per poll like a plain file, so an archive of
//! any size is never held whole in memory. A compressed file is identified like any other by
//! its first bytes, after decompression, so a `.gz` of a file already read adds nothing and one
//! compressed before it was fully read adds only its unread end.
//!
//! Like `zcat`, the lines before a point where decompression fails (a stream cut short, or
//! corrupt) are handed out; gzip's checksum is at the end of the stream, so a corruption that
//! still inflates can only be told at the end.

use super::fingerprint::Fingerprint;
use super::tailed::LineRead;
use flate2::read::MultiGzDecoder;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek};

/// The first bytes of the decompressed content of `file`, read from its start.
pub(super) fn fingerprint(mut file: &File, len: usize) -> io::Result<Fingerprint> {
    file.rewind()?;
    let mut bytes = Vec::with_capacity(len);
    MultiGzDecoder::new(file).take(len as u64).read_to_end(&mut bytes)?;
    Ok(Fingerprint(bytes))
}

/// An open compressed file and how far into its decompressed content reading stands.
pub(super) struct ArchiveReader {
    reader: BufReader<MultiGzDecoder<File>>,
    /// Decompressed bytes behind the reader: skipped at open, or handed out as lines.
    offset: u64,
}

impl ArchiveReader {
    /// Read `file` from its start, skipping its first `from` decompressed bytes, the content
    /// read before (all of it, to find the end, when `from` is past the end).
    pub(super) fn open(mut file: File, from: u64) -> io::Result<ArchiveReader> {
        file.rewind()?;
        let mut reader = BufReader::with_capacity(64 * 1024, MultiGzDecoder::new(file));
        let offset = io::copy(&mut (&mut reader).take(from), &mut io::sink())?;
        Ok(ArchiveReader { reader, offset })
    }

    /// Decompressed bytes skipped or handed out as lines so far.
    pub(super) fn offset(&self) -> u64 {
        self.offset
    }

    /// Append to `lines` the next lines, about `chunk` bytes of them, each cut at `max_line`
    /// bytes; `true` once the end of the archive is reached. Lines read before an error stay in
    /// `lines` and in the offset; the line the error cut short is in neither, so reading the
    /// archive again from [`ArchiveReader::offset`] repeats and skips nothing.
    pub(super) fn read(&mut self, chunk: usize, max_line: usize, lines: &mut Vec<LineRead>) -> io::Result<bool> {
        let start = self.offset;
        let mut buf = Vec::new();
        while self.offset - start < chunk as u64 {
            buf.clear();
            // At most a line that may be kept and its `\r\n`: an endless line is never held.
            let n = (&mut self.reader).take(max_line as u64 + 2).read_until(b'\n', &mut buf)?;
            if n == 0 {
                return Ok(true);
            }
            let mut consumed = n as u64;
            let mut cut = false;
            if buf.last() == Some(&b'\n') {
                buf.pop();
            } else if n > max_line + 1 {
                // The limit, not a newline, ended the read: drop the rest of the line.
                consumed += self.reader.skip_until(b'\n')? as u64;
                cut = true;
            }
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
            cut |= buf.len() > max_line;
            buf.truncate(max_line);
            lines.push(LineRead { text: String::from_utf8_lossy(&buf).into_owned(), truncated: cut });
            self.offset += consumed;
        }
        Ok(false)
    }
}
