//! Runs a [`Tailer`] on its own thread: woken by file-system notifications (notify) with a
//! polling fallback, it parses what the tailer read and hands it to the pipeline with the
//! positions that cover it. `submit_blocking` waits while the pipeline is full, so a slow
//! store stops the reading rather than growing a queue.

use super::tailer::{FileLines, Position, Tailer};
use crate::event::Event;
use crate::parse::Parser;
use crate::pipeline::{Pipeline, Submission};
use crate::source::{SourceRegistry, SourceSpec};
use crate::store::Checkpoint;
use notify::Watcher;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// A running file source.
pub struct FileSource {
    stop: Arc<AtomicBool>,
    wake: mpsc::Sender<()>,
    thread: Option<JoinHandle<()>>,
    _watcher: Option<notify::RecommendedWatcher>,
}

impl FileSource {
    /// Start following `spec`'s files from `checkpoints` (this source's committed positions).
    pub fn start(
        spec: SourceSpec,
        checkpoints: Vec<Position>,
        pipeline: Pipeline,
        registry: SourceRegistry,
    ) -> Result<FileSource, glob::PatternError> {
        let tailer = Tailer::new(spec.file.clone(), checkpoints)?;
        let stop = Arc::new(AtomicBool::new(false));
        let (wake, woken) = mpsc::channel();
        let watcher = watch(&spec.file.include, wake.clone());
        let thread_stop = stop.clone();
        let thread = std::thread::Builder::new()
            .name(format!("vigil-source-{}", spec.name))
            .spawn(move || run(spec, tailer, pipeline, registry, thread_stop, woken))
            .expect("spawning a source thread");
        Ok(FileSource { stop, wake, thread: Some(thread), _watcher: watcher })
    }

    /// Stop after the current poll; everything read so far is submitted first.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.wake.send(());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Watch the directories the globs start in; any change wakes the source. Without a
/// watcher (unsupported file system, too many watches) polling alone still works.
fn watch(include: &[String], wake: mpsc::Sender<()>) -> Option<notify::RecommendedWatcher> {
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        // Our own opens and reads raise access events: waking on them would loop.
        if event.is_ok_and(|e| !matches!(e.kind, notify::EventKind::Access(_))) {
            let _ = wake.send(());
        }
    })
    .ok()?;
    for pattern in include {
        let dir = glob_root(pattern);
        if let Err(e) = watcher.watch(&dir, notify::RecursiveMode::NonRecursive) {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot watch; polling only");
        }
    }
    Some(watcher)
}

/// The directory part of a glob before its first wildcard.
fn glob_root(pattern: &str) -> PathBuf {
    let literal: PathBuf = Path::new(pattern)
        .components()
        .take_while(|c| !c.as_os_str().to_string_lossy().contains(['*', '?', '[']))
        .collect();
    if literal.as_os_str() == pattern { literal.parent().map(Path::to_path_buf).unwrap_or_default() } else { literal }
}

fn run(
    spec: SourceSpec,
    mut tailer: Tailer,
    pipeline: Pipeline,
    registry: SourceRegistry,
    stop: Arc<AtomicBool>,
    wake_ups: mpsc::Receiver<()>,
) {
    // The tailer's warnings (a file it cannot read) then name the source.
    let _span = tracing::info_span!("source", name = %spec.name).entered();
    let mut counts = LineCounts::default();
    let mut last_scan: Option<Instant> = None;
    let mut woken = true;
    loop {
        // Scan the globs (a walk, and an open of every match) when something changed or the
        // poll interval passed; between scans, a busy file is just read on.
        let now = Instant::now();
        let scan = woken || last_scan.is_none_or(|t| now.duration_since(t) >= spec.poll_interval);
        if scan {
            last_scan = Some(now);
        }
        let batches = tailer.poll_with(now, scan);
        let busy = batches.iter().any(|b| !b.lines.is_empty());
        for batch in batches {
            let submission = submission(&spec.name, &spec.parser, batch, &mut counts);
            if pipeline.submit_blocking(submission).is_err() {
                return; // the pipeline is gone: shutting down
            }
        }
        let stats = tailer.stats();
        registry.set(
            &spec.name,
            json!({ "type": "file", "files": stats.files, "lines": stats.lines, "truncated_lines": stats.truncated,
                    "parse_errors": counts.parse_errors, "empty_lines": counts.empty, "truncations": stats.truncations,
                    "read_errors": stats.errors,
                    "skipped_files": stats.skipped }),
        );
        if stop.load(Ordering::Relaxed) {
            return;
        }
        woken = if busy {
            wake_ups.try_recv().is_ok()
        } else {
            // Sleep until a notification or the poll interval.
            wake_ups.recv_timeout(spec.poll_interval).is_ok()
        };
        while wake_ups.try_recv().is_ok() {}
    }
}

/// What a source counted of the lines it read, besides the tailer's own counts.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct LineCounts {
    /// Lines the parser could not read as the source's format (stored as raw events).
    parse_errors: u64,
    /// Empty or whitespace-only lines: skipped, as they say nothing (stored, each became an
    /// event without fields, and a message pattern never seen before, so an anomaly).
    empty: u64,
}

fn submission(source: &str, parser: &Parser, batch: FileLines, counts: &mut LineCounts) -> Submission {
    let name = format!("file:{source}");
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    let events: Vec<Event> = batch
        .lines
        .iter()
        .filter(|line| {
            let blank = line.text.trim().is_empty();
            counts.empty += u64::from(blank);
            !blank
        })
        .map(|line| {
            let parsed = parser.parse(&line.text, &name);
            counts.parse_errors += u64::from(parsed.error.is_some());
            let mut event = parsed.event;
            if event.timestamp_ms == 0 {
                event.timestamp_ms = now_ms; // no time in the line: arrival time
            }
            event
        })
        .collect();
    let checkpoint = Checkpoint {
        key: checkpoint_key(source, &batch.position.key),
        fingerprint: batch.position.fingerprint,
        offset: batch.position.offset,
        tail: batch.position.tail,
    };
    Submission { events, scored: None, checkpoints: vec![checkpoint], reply: None }
}

/// The store key of a file of a source.
pub fn checkpoint_key(source: &str, file_key: &str) -> String {
    format!("{source}/{file_key}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::file::LineRead;

    #[test]
    fn empty_and_blank_lines_are_counted_not_stored_and_the_checkpoint_still_covers_them() {
        let text =
            ["", "  \t", "10.0.0.1 - - [22/Dec/2016:16:19:05 +0300] \"GET / HTTP/1.1\" 200 5 \"-\" \"x\"", "not a log"];
        let lines = text.iter().map(|t| LineRead { text: (*t).to_owned(), truncated: false }).collect();
        let position = Position { key: "abc".into(), fingerprint: b"10.0".to_vec(), offset: 99, tail: b"x\n".to_vec() };
        let batch = FileLines { path: "/var/log/x.log".into(), lines, position };
        let mut counts = LineCounts::default();
        let submission = submission("web", &Parser::combined(), batch, &mut counts);
        assert_eq!(counts, LineCounts { parse_errors: 1, empty: 2 });
        let urls: Vec<&str> = submission.events.iter().map(|e| e.url.as_str()).collect();
        assert_eq!(urls.len(), 2, "{urls:?}");
        assert_eq!(urls[0], "/");
        assert_eq!(submission.checkpoints[0].offset, 99);
        assert_eq!(submission.checkpoints[0].key, "web/abc");
    }
}
