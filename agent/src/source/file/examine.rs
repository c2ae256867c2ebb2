//! Examining a path the globs listed: whether it can be followed and, when it cannot, why
//! (not a regular file, unreadable, compressed otherwise than gzip), and whether a new file is
//! a copy of one already followed (copytruncate) or only starts like one.

use super::tailed::TailedFile;
use std::collections::HashMap;
use std::fs::{File, Metadata};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a compressed file that does not decompress may be one gzip is still writing
/// (logrotate compresses a big log for seconds, and its stream is incomplete until the end):
/// such a file is tried again as it grows, and only reported (and counted in `errors`) once
/// it has not changed for this long.
pub(super) const ARCHIVE_SETTLE: Duration = Duration::from_secs(30);

/// Whether a compressed file has not changed for [`ARCHIVE_SETTLE`] (or its time is unknown,
/// or in the future).
pub(super) fn settled(meta: &Metadata) -> bool {
    meta.modified().ok().and_then(|m| m.elapsed().ok()).is_none_or(|age| age >= ARCHIVE_SETTLE)
}

/// Why a compressed file under the globs is not read.
pub(super) fn undecodable(e: std::io::Error) -> String {
    format!("is a compressed file that cannot be decompressed ({e})")
}

/// Why a path under the globs is not followed, and what the operator can do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Skip {
    pub why: String,
    pub fix: &'static str,
}

impl Skip {
    /// A path that should be a readable regular file and is not.
    pub fn file(why: String) -> Skip {
        Skip { why, fix: "make it a regular file the agent's user can read" }
    }
}

/// Open a file the glob listed; `None` when it cannot be, with the reason in `skipped`, or when
/// it is gone since the listing (a rotation: nothing to report).
pub(super) fn open_listed(path: &Path, skipped: &mut HashMap<PathBuf, Skip>) -> Option<(File, Metadata)> {
    match File::open(path).and_then(|f| f.metadata().map(|m| (f, m))) {
        Ok(opened) => Some(opened),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            skipped.insert(path.to_path_buf(), Skip::file(format!("cannot be opened ({e})")));
            None
        }
    }
}

/// The compression a file's first bytes announce, for a file not read as an archive.
pub(super) fn compression(start: &[u8]) -> Option<&'static str> {
    // bzip2's "BZh" is text, so its block size digit and the first block's (or the empty
    // stream's end) magic are checked too: a log line may begin with "BZh".
    if let [b'B', b'Z', b'h', b'1'..=b'9', rest @ ..] = start
        && (rest.starts_with(b"\x31\x41\x59\x26\x53\x59") || rest.starts_with(b"\x17\x72\x45\x38\x50\x90"))
    {
        return Some("bzip2");
    }
    const MAGIC: [(&[u8], &str); 6] = [
        (b"\x1f\x8b", "gzip"),
        (b"\xfd7zXZ\x00", "xz"),
        (b"\x28\xb5\x2f\xfd", "zstd"),
        (b"\x04\x22\x4d\x18", "lz4"),
        (b"PK\x03\x04", "zip"),
        (b"7z\xbc\xaf\x27\x1c", "7-Zip"),
    ];
    MAGIC.iter().find(|(magic, _)| start.starts_with(magic)).map(|(_, name)| *name)
}

/// What a path that is neither a regular file nor a directory is, for the operator.
pub(super) fn file_kind(meta: &Metadata) -> &'static str {
    let kind = meta.file_type();
    if kind.is_fifo() {
        "a named pipe (FIFO)"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else {
        "of an unknown kind"
    }
}

/// Why `path`, just listed by the glob, cannot be examined; `None` when it is simply gone
/// (deleted between the listing and the stat, as in a rotation: nothing to report).
pub(super) fn stat_failure(path: &Path, error: &std::io::Error) -> Option<String> {
    match std::fs::symlink_metadata(path) {
        Ok(link) if link.file_type().is_symlink() && error.kind() == std::io::ErrorKind::NotFound => {
            let target = std::fs::read_link(path).map_or_else(|_| "?".to_owned(), |t| t.display().to_string());
            Some(format!("is a symbolic link to {target}, which does not exist"))
        }
        Ok(_) => Some(format!("cannot be examined ({error})")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => Some(format!("cannot be examined ({e})")),
    }
}

/// Whether the first bytes of `copy` (`len` long) are those of the followed `original`, over
/// the length both have, up to [`COPY_CHECK_BYTES`]: a file that differs there is not a copy.
/// An original now shorter than what was read from it was truncated since (the copy was
/// taken, then the original truncated: copytruncate), and holds no longer what the copy
/// copied: then, and when a file cannot be read, the fingerprint decides, as before.
pub(super) fn starts_alike(copy: &File, len: u64, original: &TailedFile) -> bool {
    use std::os::unix::fs::FileExt;
    let Ok(original_len) = original.file.metadata().map(|m| m.len()) else { return true };
    if original_len < original.offset {
        return true;
    }
    let n = len.min(original_len).min(COPY_CHECK_BYTES) as usize;
    let (mut a, mut b) = (vec![0; n], vec![0; n]);
    match (copy.read_exact_at(&mut a, 0), original.file.read_exact_at(&mut b, 0)) {
        (Ok(()), Ok(())) => a == b,
        _ => true,
    }
}

/// Bytes compared to tell a copy from a file that only starts like one.
const COPY_CHECK_BYTES: u64 = 64 * 1024;
