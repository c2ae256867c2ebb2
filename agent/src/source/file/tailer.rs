//! The tailer: scans the globs, tells new files from renamed, copied and truncated ones by
//! inode and fingerprint, reads each followed file, and returns new lines with the position
//! that covers them.

use super::config::{FileSourceConfig, StartAt};
use super::examine::{Skip, compression, file_kind, open_listed, settled, starts_alike, stat_failure, undecodable};
use super::fingerprint::Fingerprint;
use super::gzip;
use super::resume::{longest_prefix, resumed_at, tail_before};
use super::tailed::{LineRead, TailedFile};
use std::collections::{HashMap, HashSet};
use std::fs::{self, File, Metadata};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a file whose path is gone is kept open after its last byte was read: a writer
/// that has not reopened its log yet (nginx before USR1) may still append to it.
const ROTATE_WAIT: Duration = Duration::from_secs(5);

/// How many positions of files no longer followed (truncated or gone) are remembered, so a
/// copy of one (copytruncate) or its return under the globs is not read twice.
const RETIRED_POSITIONS: usize = 256;

/// How far a file has been read: stored with the events it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// Stable name of the file (from its first fingerprint).
    pub key: String,
    /// The file's first bytes, as far as known.
    pub fingerprint: Vec<u8>,
    /// Bytes handed out as lines.
    pub offset: u64,
    /// The last bytes before `offset` (at most [`TAIL_BYTES`]); empty when not known (a
    /// compressed file, a checkpoint from before they were kept). On resuming, a file whose
    /// first bytes match must hold these bytes there too: two files that begin alike (a
    /// shared banner or header longer than the fingerprint) are told apart by them.
    pub tail: Vec<u8>,
}

/// Bytes of a file kept from just before a position's offset (see [`Position::tail`]).
pub const TAIL_BYTES: usize = 64;

/// New lines of one file and the position right after them.
#[derive(Debug, Clone, PartialEq)]
pub struct FileLines {
    /// The path the file had when read.
    pub path: PathBuf,
    /// The lines, in file order (may be empty: a position to record).
    pub lines: Vec<LineRead>,
    /// Where reading stands after these lines.
    pub position: Position,
}

/// Counters for `/api/v1/stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TailerStats {
    /// Files followed now.
    pub files: usize,
    /// Lines read.
    pub lines: u64,
    /// Lines cut at the length limit.
    pub truncated: u64,
    /// Truncations and rewrites noticed (copytruncate).
    pub truncations: u64,
    /// Read errors (the file is retried on the next poll).
    pub errors: u64,
    /// Paths under the globs not followed now: unreadable, not regular files, or compressed
    /// otherwise than gzip.
    pub skipped: usize,
}

/// A compressed file under the globs, as last seen, and where reading it stands.
struct Archive {
    /// Its length and modification time when reading last began: a change means another try.
    version: (u64, Option<std::time::SystemTime>),
    state: ArchiveState,
}

enum ArchiveState {
    /// Being read, a chunk per poll.
    Reading { reader: Box<gzip::ArchiveReader>, path: PathBuf, key: String, fingerprint: Vec<u8> },
    /// Read to its end, or nothing in it to read.
    Done,
    /// It did not decompress; `at` is how far reading got, where the next try starts.
    /// `reported`: counted in `errors` and reported as skipped (not while it may still be
    /// being written, see [`settled`]).
    Failed { why: String, at: Option<Position>, reported: bool },
}

impl Archive {
    fn reading(&self) -> bool {
        matches!(self.state, ArchiveState::Reading { .. })
    }
}

/// Follows the files of one file source.
pub struct Tailer {
    config: FileSourceConfig,
    exclude: Vec<glob::Pattern>,
    files: Vec<TailedFile>,
    /// Checkpoints from the store not yet matched to a file.
    restored: Vec<Position>,
    /// Positions of content read earlier that no followed file holds any more.
    retired: Vec<Position>,
    first_scan: bool,
    /// `start_at = end` and no checkpoint: the source's first start, when the files already
    /// there are history. A source that resumes from checkpoints reads every file it has no
    /// checkpoint for from its start: it appeared while the agent was away (a rotation during
    /// a restart, a crash or an upgrade), and its lines are news.
    skip_existing: bool,
    gone_since: Vec<(String, Instant)>,
    /// Compressed files under the globs (by device and inode), read one at a time.
    archives: HashMap<(u64, u64), Archive>,
    /// Under `start_at = end`, the compressed files already there at the first scan: history,
    /// skipped when their turn comes (the first scan starts only one).
    archives_at_start: HashSet<(u64, u64)>,
    /// The read buffer, reused by every read.
    buf: Vec<u8>,
    /// Paths under the globs that are not followed, and why. Each is logged when it turns up
    /// (or its reason changes), and counted in the stats until it is mended or gone.
    skipped: HashMap<PathBuf, Skip>,
    stats: TailerStats,
}

impl Tailer {
    /// A tailer that resumes from `checkpoints` (positions committed earlier).
    pub fn new(config: FileSourceConfig, checkpoints: Vec<Position>) -> Result<Tailer, glob::PatternError> {
        for pattern in &config.include {
            glob::Pattern::new(pattern)?;
        }
        let exclude = config.exclude.iter().map(|p| glob::Pattern::new(p)).collect::<Result<_, _>>()?;
        Ok(Tailer {
            skip_existing: config.start_at == StartAt::End && checkpoints.is_empty(),
            config,
            exclude,
            files: Vec::new(),
            restored: checkpoints,
            retired: Vec::new(),
            first_scan: true,
            gone_since: Vec::new(),
            archives: HashMap::new(),
            archives_at_start: HashSet::new(),
            buf: Vec::new(),
            skipped: HashMap::new(),
            stats: TailerStats::default(),
        })
    }

    /// Counters so far.
    pub fn stats(&self) -> TailerStats {
        TailerStats { files: self.files.len(), skipped: self.skipped.len(), ..self.stats }
    }

    /// Scan for files, read what is new, and return it.
    pub fn poll(&mut self, now: Instant) -> Vec<FileLines> {
        self.poll_with(now, true)
    }

    /// Of `saved` (read positions other sources committed), those that belong to a file
    /// under this source's globs now, matched by fingerprint as a checkpoint is on resuming.
    /// Nothing is followed, and no file is read beyond its first bytes. This is how a renamed
    /// source finds the positions it takes over from its old name.
    pub fn claim(&self, mut saved: Vec<Position>) -> Vec<Position> {
        let mut claimed = Vec::new();
        for (path, _) in self.matching_paths(&mut HashMap::new()) {
            let compressed = path.extension().is_some_and(|e| e == "gz");
            if compressed && !self.config.gzip {
                continue;
            }
            let Ok(file) = File::open(&path) else { continue };
            let bytes = self.config.fingerprint_bytes;
            let fingerprint =
                if compressed { gzip::fingerprint(&file, bytes) } else { Fingerprint::read(&file, bytes) };
            if let Some(i) = fingerprint.ok().and_then(|f| resumed_at(&saved, &file, &f)) {
                claimed.push(saved.swap_remove(i));
            }
        }
        claimed
    }

    /// Like [`Tailer::poll`]; `scan = false` only reads the files already followed (cheap: no
    /// glob walk, no open of every match), for the rounds of a busy file between scans.
    pub fn poll_with(&mut self, now: Instant, scan: bool) -> Vec<FileLines> {
        let mut out = Vec::new();
        if scan {
            self.scan(&mut out);
        }
        self.read_all(now, &mut out);
        out
    }

    fn scan(&mut self, out: &mut Vec<FileLines>) {
        for file in &mut self.files {
            file.detached = true;
        }
        let mut skipped = HashMap::new();
        let mut archives = HashSet::new();
        for (path, listed) in self.matching_paths(&mut skipped) {
            let compressed = path.extension().is_some_and(|e| e == "gz");
            if compressed && !self.config.gzip {
                continue; // not even opened
            }
            // The listing's stat names the file: one already followed, or an archive already
            // read, needs no open at every scan.
            let ino = (listed.dev(), listed.ino());
            if compressed {
                archives.insert(ino);
                if self.first_scan && self.skip_existing {
                    self.archives_at_start.insert(ino);
                }
                self.scan_archive(path, &listed, &mut skipped);
                continue;
            }
            if self.found_again(ino, &path) {
                continue;
            }
            let Some((file, meta)) = open_listed(&path, &mut skipped) else { continue };
            // What was opened, in case the path changed hands since the listing (a rotation).
            let ino = (meta.dev(), meta.ino());
            if self.found_again(ino, &path) {
                continue;
            }
            let fingerprint = match Fingerprint::read(&file, self.config.fingerprint_bytes) {
                Ok(fingerprint) => fingerprint,
                Err(e) => {
                    skipped.insert(path, Skip::file(format!("cannot be read ({e})")));
                    continue;
                }
            };
            if fingerprint.is_empty() {
                continue; // nothing to identify it by yet
            }
            if let Some(format) = compression(&fingerprint.0) {
                // Read as text it would be stored as binary junk, line after line.
                let why = format!("is compressed with {format}, which is not read (only gzip, named *.gz)");
                skipped.insert(path, Skip { why, fix: "decompress it, or exclude it from the source" });
                continue;
            }
            // The same first bytes under another inode: a copy (copytruncate) of a file we
            // follow; its lines are read from the original. The fingerprint alone also took a
            // different file that starts the same (a shared header or banner, a short file
            // whose first line is another's) for a copy, and never read it: a copy is the
            // original's start byte for byte, so the bytes past the fingerprint decide.
            if self.files.iter().any(|f| {
                (f.fingerprint.is_prefix_of(&fingerprint) || fingerprint.is_prefix_of(&f.fingerprint))
                    && starts_alike(&file, meta.len(), f)
            }) {
                continue;
            }
            let tailed = self.start_following(path, file, ino, fingerprint, meta.len());
            out.push(FileLines { path: tailed.path.clone(), lines: Vec::new(), position: position(&tailed) });
            self.files.push(tailed);
        }
        // Archives no longer under the globs are forgotten (their inodes may be reused), but
        // one being read is read to its end through the open file.
        self.archives.retain(|ino, archive| archives.contains(ino) || archive.reading());
        self.archives_at_start.retain(|ino| archives.contains(ino));
        self.report_skipped(skipped);
        self.first_scan = false;
    }

    /// Whether `ino` is a file followed already; if so, it is under the globs at `path`.
    fn found_again(&mut self, ino: (u64, u64), path: &Path) -> bool {
        let Some(known) = self.files.iter_mut().find(|f| f.ino == ino) else { return false };
        if known.path != path {
            known.path = path.to_path_buf();
        }
        known.detached = false;
        true
    }

    /// Start reading a compressed file that is new or changed since reading it failed, when
    /// no other is being read (the scan lists the oldest first). One that failed to
    /// decompress is tried again from where it failed when it changes (logrotate's gzip may
    /// have been writing it: its stream ended early), and reported as skipped while it stays
    /// as it was (it is corrupt or was cut short).
    fn scan_archive(&mut self, path: PathBuf, meta: &Metadata, skipped: &mut HashMap<PathBuf, Skip>) {
        let ino = (meta.dev(), meta.ino());
        let version = (meta.len(), meta.modified().ok());
        match self.archives.get_mut(&ino) {
            Some(archive) if archive.reading() => return,
            Some(archive) if archive.version == version => {
                if let ArchiveState::Failed { why, reported, .. } = &mut archive.state
                    && settled(meta)
                {
                    if !*reported {
                        *reported = true;
                        self.stats.errors += 1;
                    }
                    let fix = "replace it with a whole gzip file, or delete it";
                    skipped.insert(path, Skip { why: why.clone(), fix });
                }
                return;
            }
            _ => {}
        }
        if self.archives.values().any(Archive::reading) {
            return;
        }
        let Some((file, _)) = open_listed(&path, skipped) else { return };
        let resume = match self.archives.remove(&ino) {
            Some(Archive { state: ArchiveState::Failed { at, .. }, .. }) => at,
            _ => None,
        };
        let state = self.open_archive(path, file, ino, resume).unwrap_or_else(|(why, at)| {
            let reported = settled(meta);
            self.stats.errors += u64::from(reported);
            ArchiveState::Failed { why, at, reported }
        });
        self.archives.insert(ino, Archive { version, state });
    }

    /// Log the paths skipped for a new reason in this scan, and those no longer skipped.
    /// Once per change, not per scan: a scan runs every poll interval.
    fn report_skipped(&mut self, skipped: HashMap<PathBuf, Skip>) {
        for (path, skip) in &skipped {
            if self.skipped.get(path) != Some(skip) {
                let Skip { why, fix } = skip;
                tracing::warn!(
                    path = %path.display(),
                    "matches the source's include globs but {why}, so it is not tailed: {fix}, \
                     or add it to the source's `exclude`"
                );
            }
        }
        for path in self.skipped.keys().filter(|p| !skipped.contains_key(*p)) {
            tracing::info!(path = %path.display(), "no longer skipped: readable again, or gone");
        }
        self.skipped = skipped;
    }

    /// Open a compressed file at the end of what was read of the same content before: where
    /// its last try failed (`resume`), a checkpoint, or a file no longer followed. The error
    /// says why it did not decompress, and where the next try starts.
    fn open_archive(
        &mut self,
        path: PathBuf,
        file: File,
        ino: (u64, u64),
        resume: Option<Position>,
    ) -> Result<ArchiveState, (String, Option<Position>)> {
        let fingerprint =
            gzip::fingerprint(&file, self.config.fingerprint_bytes).map_err(|e| (undecodable(e), resume.clone()))?;
        // Empty, or the same content as a file still followed (compressed without delaycompress):
        // its lines come from the open file.
        if fingerprint.is_empty()
            || self
                .files
                .iter()
                .any(|f| f.fingerprint.is_prefix_of(&fingerprint) || fingerprint.is_prefix_of(&f.fingerprint))
        {
            return Ok(ArchiveState::Done);
        }
        let resume = resume.filter(|at| {
            let at = Fingerprint(at.fingerprint.clone());
            at.is_prefix_of(&fingerprint) || fingerprint.is_prefix_of(&at)
        });
        let (key, from) = match resume {
            Some(at) => (at.key, at.offset),
            None => match (longest_prefix(&self.restored, &fingerprint), longest_prefix(&self.retired, &fingerprint)) {
                (Some(i), _) => {
                    let checkpoint = self.restored.swap_remove(i);
                    (checkpoint.key, checkpoint.offset)
                }
                (None, Some(i)) => (self.unique_key(&fingerprint), self.retired[i].offset),
                // An archive already there at start, under start_at = end: history, not news.
                (None, None) if self.archives_at_start.contains(&ino) => (self.unique_key(&fingerprint), u64::MAX),
                (None, None) => (self.unique_key(&fingerprint), 0),
            },
        };
        match gzip::ArchiveReader::open(file, from) {
            Ok(reader) => Ok(ArchiveState::Reading { reader: Box::new(reader), path, key, fingerprint: fingerprint.0 }),
            Err(e) => {
                let at = Position { key, fingerprint: fingerprint.0, offset: from, tail: Vec::new() };
                retire(&mut self.retired, at.clone());
                Err((undecodable(e), Some(at)))
            }
        }
    }

    /// Read the next chunk of the compressed file being read, if one is.
    fn read_archive(&mut self, out: &mut Vec<FileLines>) {
        let Some(archive) = self.archives.values_mut().find(|a| a.reading()) else {
            return;
        };
        let ArchiveState::Reading { reader, path, key, fingerprint } = &mut archive.state else {
            return;
        };
        let mut lines = Vec::new();
        let read = reader.read(self.config.read_chunk_bytes, self.config.max_line_bytes, &mut lines);
        self.stats.lines += lines.len() as u64;
        self.stats.truncated += lines.iter().filter(|l| l.truncated).count() as u64;
        let position =
            Position { key: key.clone(), fingerprint: fingerprint.clone(), offset: reader.offset(), tail: Vec::new() };
        let path = path.clone();
        match read {
            Ok(false) => {}
            Ok(true) => {
                retire(&mut self.retired, position.clone());
                archive.state = ArchiveState::Done;
            }
            // What was read stays read, also for another file of the same content (the
            // archive compressed again): retired like a file no longer followed.
            Err(e) => {
                let reported = fs::metadata(&path).map_or(true, |meta| settled(&meta));
                self.stats.errors += u64::from(reported);
                retire(&mut self.retired, position.clone());
                archive.state = ArchiveState::Failed { why: undecodable(e), at: Some(position.clone()), reported };
            }
        }
        // At the end, a position even without lines: it records the archive as read.
        if !lines.is_empty() || matches!(archive.state, ArchiveState::Done) {
            out.push(FileLines { path, lines, position });
        }
    }

    fn start_following(
        &mut self,
        path: PathBuf,
        file: File,
        ino: (u64, u64),
        fingerprint: Fingerprint,
        len: u64,
    ) -> TailedFile {
        let restored = resumed_at(&self.restored, &file, &fingerprint);
        let retired = longest_prefix(&self.retired, &fingerprint);
        let (key, offset) = match (restored, retired) {
            (Some(i), _) => {
                let checkpoint = self.restored.swap_remove(i);
                // A checkpoint past the end means the file was truncated while we were away.
                (checkpoint.key, if checkpoint.offset <= len { checkpoint.offset } else { 0 })
            }
            // Content we read before under another file (a copytruncate copy): only what
            // goes beyond what was read is new. A copy shorter than what was read holds
            // nothing new: it was taken before the last lines we read from the original
            // (written between the copy and the truncation), and reading it from 0 stored it
            // all twice.
            (None, Some(i)) => {
                let seen = self.retired.swap_remove(i);
                (self.unique_key(&fingerprint), seen.offset.min(len))
            }
            (None, None) => {
                let offset = if self.first_scan && self.skip_existing { len } else { 0 };
                (self.unique_key(&fingerprint), offset)
            }
        };
        TailedFile::new(key, path, file, ino, fingerprint, offset)
    }

    fn unique_key(&self, fingerprint: &Fingerprint) -> String {
        let base = fingerprint.key();
        let taken = |k: &str| self.files.iter().any(|f| f.key == k) || self.restored.iter().any(|c| c.key == k);
        (0..)
            .map(|n| if n == 0 { base.clone() } else { format!("{base}-{n}") })
            .find(|k| !taken(k))
            .expect("an unused key")
    }

    /// The regular files under the globs with their stat, oldest first; the other matches that
    /// are not followed go to `skipped` with the reason.
    fn matching_paths(&self, skipped: &mut HashMap<PathBuf, Skip>) -> Vec<(PathBuf, Metadata)> {
        // One stat per path: it says whether it is a file and when it last changed. Paths
        // matched by several globs are kept once.
        let mut seen = HashSet::new();
        let listed: Vec<PathBuf> = self
            .config
            .include
            .iter()
            .filter_map(|p| glob::glob(p).ok())
            .flatten()
            .filter_map(|listed| {
                listed
                    .inspect_err(|e| {
                        // A directory on the way that cannot be read: its files are never seen.
                        let why = format!("is a directory the agent cannot list ({})", e.error());
                        let fix = "let the agent's user read and enter it (none of its files is read until then)";
                        skipped.insert(e.path().to_path_buf(), Skip { why, fix });
                    })
                    .ok()
            })
            .collect();
        let mut paths: Vec<(Option<std::time::SystemTime>, PathBuf, Metadata)> = listed
            .into_iter()
            .filter(|p| !self.exclude.iter().any(|x| excludes(x, p)) && seen.insert(p.clone()))
            .filter_map(|p| match std::fs::metadata(&p) {
                Ok(meta) if meta.is_file() => Some((meta.modified().ok(), p, meta)),
                // A `*` glob often matches subdirectories: not files to tail, nor a mistake.
                Ok(meta) if meta.is_dir() => None,
                Ok(meta) => {
                    skipped.insert(p, Skip::file(format!("is {}, not a regular file", file_kind(&meta))));
                    None
                }
                Err(e) => {
                    if let Some(why) = stat_failure(&p, &e) {
                        skipped.insert(p, Skip::file(why));
                    }
                    None
                }
            })
            .collect();
        // Oldest rotated files first, so their remaining lines come before the new file's.
        paths.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        paths.into_iter().map(|(_, p, meta)| (p, meta)).collect()
    }

    fn read_all(&mut self, now: Instant, out: &mut Vec<FileLines>) {
        // Rotated archives first, so their lines come before the new file's.
        self.read_archive(out);
        let config = &self.config;
        let mut finished = Vec::new();
        for (i, file) in self.files.iter_mut().enumerate() {
            match file.check_truncation(config.fingerprint_bytes) {
                Ok(Some((fingerprint, offset))) => {
                    self.stats.truncations += 1;
                    // The bytes before the offset are gone with the old content.
                    let old = Position { key: file.key.clone(), fingerprint: fingerprint.0, offset, tail: Vec::new() };
                    retire(&mut self.retired, old);
                }
                Ok(None) => {}
                Err(_) => {
                    self.stats.errors += 1;
                    continue;
                }
            }
            let read = match file.read(
                config.read_chunk_bytes,
                config.max_line_bytes,
                config.partial_line_timeout,
                now,
                &mut self.buf,
            ) {
                Ok(read) => read,
                Err(_) => {
                    self.stats.errors += 1;
                    continue;
                }
            };
            self.stats.lines += read.lines.len() as u64;
            self.stats.truncated += read.truncated;
            if !read.lines.is_empty() {
                out.push(FileLines { path: file.path.clone(), lines: read.lines, position: position(file) });
            }
            let drained = file.detached && read.at_eof && !file.has_pending();
            let gone = self.gone_since.iter().position(|(k, _)| *k == file.key);
            match (drained, gone) {
                (true, None) => self.gone_since.push((file.key.clone(), now)),
                (true, Some(g)) if now.duration_since(self.gone_since[g].1) >= ROTATE_WAIT => finished.push(i),
                (false, Some(g)) => {
                    self.gone_since.swap_remove(g);
                }
                _ => {}
            }
        }
        for i in finished.into_iter().rev() {
            let file = self.files.swap_remove(i);
            self.gone_since.retain(|(k, _)| *k != file.key);
            retire(&mut self.retired, position(&file));
        }
    }
}

/// Whether exclude pattern `x` covers `path`: a pattern with a `/` is matched against the
/// whole path, one without (`access.log.2`, `*.gz`) also against the file's name, as one
/// writes it. Matched against the path alone, a bare name excluded nothing, silently.
fn excludes(x: &glob::Pattern, path: &Path) -> bool {
    x.matches_path(path)
        || (!x.as_str().contains('/') && path.file_name().is_some_and(|name| x.matches_path(Path::new(name))))
}

fn retire(retired: &mut Vec<Position>, position: Position) {
    if retired.len() == RETIRED_POSITIONS {
        retired.remove(0);
    }
    retired.push(position);
}

fn position(file: &TailedFile) -> Position {
    Position {
        key: file.key.clone(),
        fingerprint: file.fingerprint.0.clone(),
        offset: file.offset,
        tail: tail_before(&file.file, file.offset),
    }
}
