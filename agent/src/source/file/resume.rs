//! Matching a file to the position it was left at: by its first bytes (the fingerprint), and
//! for a resumed checkpoint also by the bytes just before the offset.

use super::fingerprint::Fingerprint;
use super::tailer::{Position, TAIL_BYTES};
use std::fs::File;

/// Index of the position `file` (whose first bytes are `fingerprint`) was left at: among
/// those whose fingerprint is a prefix of the file's, and whose last bytes before their
/// offset (when known) are the file's bytes there too, the one with the longest fingerprint.
/// A file that only starts like another is not resumed at the other's offset.
pub(super) fn resumed_at(positions: &[Position], file: &File, fingerprint: &Fingerprint) -> Option<usize> {
    longest_prefix_where(positions, fingerprint, |p| p.tail.is_empty() || tail_before(file, p.offset) == p.tail)
}

/// The last bytes of `file` before `offset` (at most [`TAIL_BYTES`]); empty when they cannot
/// be read (the file is shorter now).
pub(super) fn tail_before(file: &File, offset: u64) -> Vec<u8> {
    use std::os::unix::fs::FileExt;
    let len = TAIL_BYTES.min(usize::try_from(offset).unwrap_or(usize::MAX));
    let mut tail = vec![0; len];
    match file.read_exact_at(&mut tail, offset - len as u64) {
        Ok(()) => tail,
        Err(_) => Vec::new(),
    }
}

/// Index of the position whose fingerprint is the longest prefix of `fingerprint`.
pub(super) fn longest_prefix(positions: &[Position], fingerprint: &Fingerprint) -> Option<usize> {
    longest_prefix_where(positions, fingerprint, |_| true)
}

/// [`longest_prefix`] among the positions that also pass `also`.
fn longest_prefix_where(
    positions: &[Position],
    fingerprint: &Fingerprint,
    also: impl Fn(&Position) -> bool,
) -> Option<usize> {
    positions
        .iter()
        .enumerate()
        .filter(|(_, p)| !p.fingerprint.is_empty() && fingerprint.0.starts_with(&p.fingerprint) && also(p))
        .max_by_key(|(_, p)| p.fingerprint.len())
        .map(|(i, _)| i)
}
