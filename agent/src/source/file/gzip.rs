//! Rotated files that logrotate compressed (`access.log.2.gz`): read once, whole, from where
//! reading of the same content stopped before. A compressed file is identified like any other
//! by its first bytes, after decompression, so a `.gz` of a file already read adds nothing and
//! one compressed before it was fully read adds only its unread end.

use super::fingerprint::Fingerprint;
use super::tailed::LineRead;
use flate2::read::MultiGzDecoder;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

/// The first bytes of the decompressed content.
pub(super) fn fingerprint(path: &Path, len: usize) -> io::Result<Fingerprint> {
    let mut bytes = Vec::with_capacity(len);
    MultiGzDecoder::new(File::open(path)?).take(len as u64).read_to_end(&mut bytes)?;
    Ok(Fingerprint(bytes))
}

/// Every line after decompressed byte `from`, and the decompressed length.
pub(super) fn read_from(path: &Path, from: u64, max_line: usize) -> io::Result<(Vec<LineRead>, u64, u64)> {
    let mut reader = BufReader::new(MultiGzDecoder::new(File::open(path)?));
    io::copy(&mut (&mut reader).take(from), &mut io::sink())?;
    let mut offset = from;
    let (mut lines, mut truncated) = (Vec::new(), 0);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf)?;
        if n == 0 {
            break;
        }
        offset += n as u64;
        if buf.last() == Some(&b'\n') {
            buf.pop();
        }
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
        let cut = buf.len() > max_line;
        truncated += u64::from(cut);
        buf.truncate(max_line);
        lines.push(LineRead { text: String::from_utf8_lossy(&buf).into_owned(), truncated: cut });
    }
    Ok((lines, offset, truncated))
}
