//! A file's identity: its first bytes (up to a configured length). A file shorter than that
//! has a shorter fingerprint that grows with it, so "same file" means "one fingerprint is a
//! prefix of the other".

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// The first bytes of a file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fingerprint(pub Vec<u8>);

impl Fingerprint {
    /// Read the first `len` bytes (fewer if the file is shorter).
    pub fn read(file: &File, len: usize) -> io::Result<Fingerprint> {
        let mut buf = vec![0; len];
        let mut filled = 0;
        while filled < len {
            match file.read_at(&mut buf[filled..], filled as u64)? {
                0 => break,
                n => filled += n,
            }
        }
        buf.truncate(filled);
        Ok(Fingerprint(buf))
    }

    /// Whether this (earlier, possibly shorter) fingerprint identifies the file `later`
    /// was read from.
    pub fn is_prefix_of(&self, later: &Fingerprint) -> bool {
        !self.0.is_empty() && later.0.starts_with(&self.0)
    }

    /// Nothing read yet: an empty file cannot be identified.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A short hex key naming the file in checkpoints and logs (FNV-1a of the bytes seen
    /// when the file was first identified; stable for the file's life).
    pub fn key(&self) -> String {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for b in &self.0 {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{hash:016x}")
    }
}
