//! The tailer against real files on disk, rotated the ways logrotate and friends do it.

use super::*;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

mod archives;

/// The text of every line handed out.
fn texts(batches: &[FileLines]) -> Vec<String> {
    batches.iter().flat_map(|b| b.lines.iter().map(|l| l.text.clone())).collect()
}

fn config(dir: &Path, start_at: StartAt) -> FileSourceConfig {
    FileSourceConfig {
        include: vec![format!("{}/access.log*", dir.display())],
        start_at,
        fingerprint_bytes: 64,
        ..FileSourceConfig::default()
    }
}

fn append(path: &Path, text: &str) {
    OpenOptions::new().create(true).append(true).open(path).unwrap().write_all(text.as_bytes()).unwrap();
}

fn poll(t: &mut Tailer) -> Vec<String> {
    texts(&t.poll(Instant::now()))
}

fn lines(range: std::ops::Range<usize>) -> String {
    range.map(|i| format!("line number {i:05}\n")).collect()
}

fn expected(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("line number {i:05}")).collect()
}

#[test]
fn existing_file_starts_at_the_end_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    append(&log, &lines(0..3));
    let mut t = Tailer::new(config(dir.path(), StartAt::End), vec![]).unwrap();
    assert!(poll(&mut t).is_empty());
    append(&log, &lines(3..5));
    assert_eq!(poll(&mut t), expected(3..5));
}

#[test]
fn start_at_beginning_reads_existing_lines() {
    let dir = tempfile::tempdir().unwrap();
    append(&dir.path().join("access.log"), &lines(0..3));
    let mut t = Tailer::new(config(dir.path(), StartAt::Beginning), vec![]).unwrap();
    assert_eq!(poll(&mut t), expected(0..3));
}

#[test]
fn late_appearing_file_is_read_from_its_beginning() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = Tailer::new(config(dir.path(), StartAt::End), vec![]).unwrap();
    assert!(poll(&mut t).is_empty());
    append(&dir.path().join("access.log"), &lines(0..4));
    assert_eq!(poll(&mut t), expected(0..4));
}

#[test]
fn a_line_split_across_two_writes_is_read_once_whole() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let mut t = Tailer::new(config(dir.path(), StartAt::Beginning), vec![]).unwrap();
    append(&log, "first line\nsecond ha");
    assert_eq!(poll(&mut t), ["first line"]);
    append(&log, "lf of the line\n");
    assert_eq!(poll(&mut t), ["second half of the line"]);
}

#[test]
fn a_partial_last_line_is_flushed_after_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let mut t = Tailer::new(config(dir.path(), StartAt::Beginning), vec![]).unwrap();
    append(&log, "no newline yet");
    let now = Instant::now();
    assert!(texts(&t.poll(now)).is_empty());
    let later = now + Duration::from_secs(2);
    let batches = t.poll(later);
    assert_eq!(texts(&batches), ["no newline yet"]);
    assert_eq!(batches.last().unwrap().position.offset, 14);
}

#[test]
fn overlong_lines_are_truncated_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), StartAt::Beginning);
    c.max_line_bytes = 10;
    let mut t = Tailer::new(c, vec![]).unwrap();
    append(&dir.path().join("access.log"), &format!("{}\nshort\n", "x".repeat(100)));
    let batches = t.poll(Instant::now());
    let lines: Vec<_> = batches.iter().flat_map(|b| b.lines.clone()).collect();
    assert_eq!(lines[0], LineRead { text: "x".repeat(10), truncated: true });
    assert_eq!(lines[1], LineRead { text: "short".into(), truncated: false });
    assert_eq!(t.stats().truncated, 1);
    assert_eq!(batches.last().unwrap().position.offset, 107);
}

#[test]
fn rename_and_create_rotation_loses_and_repeats_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let mut t = Tailer::new(config(dir.path(), StartAt::Beginning), vec![]).unwrap();
    append(&log, &lines(0..3));
    let mut seen = poll(&mut t);
    append(&log, &lines(3..5)); // written, not yet read
    fs::rename(&log, dir.path().join("access.log.1")).unwrap();
    append(&log, &lines(5..8));
    seen.extend(poll(&mut t));
    append(&dir.path().join("access.log.1"), &lines(8..9)); // a writer that has not reopened yet
    append(&log, &lines(9..10));
    seen.extend(poll(&mut t));
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(sorted, expected(0..10));
}

#[test]
fn rotated_file_is_read_to_the_end_even_when_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let mut c = config(dir.path(), StartAt::Beginning);
    c.include = vec![log.display().to_string()]; // no wildcard: the rotated name is not followed
    let mut t = Tailer::new(c, vec![]).unwrap();
    append(&log, &lines(0..2));
    let mut seen = poll(&mut t);
    append(&log, &lines(2..4));
    fs::rename(&log, dir.path().join("old.log")).unwrap();
    fs::remove_file(dir.path().join("old.log")).unwrap();
    append(&log, &lines(4..6));
    seen.extend(poll(&mut t));
    seen.sort();
    assert_eq!(seen, expected(0..6));
}

#[test]
fn copytruncate_rotation_restarts_at_zero_without_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let mut t = Tailer::new(config(dir.path(), StartAt::Beginning), vec![]).unwrap();
    append(&log, &lines(0..5));
    let mut seen = poll(&mut t);
    fs::copy(&log, dir.path().join("access.log.1")).unwrap();
    OpenOptions::new().write(true).open(&log).unwrap().set_len(0).unwrap();
    append(&log, "after truncation 1\n");
    seen.extend(poll(&mut t));
    append(&log, "after truncation 2\n");
    seen.extend(poll(&mut t));
    let mut want = expected(0..5);
    want.extend(["after truncation 1".to_owned(), "after truncation 2".to_owned()]);
    assert_eq!(seen, want, "the copy is not read again");
    assert_eq!(t.stats().truncations, 1);
}

#[test]
fn a_truncation_seen_empty_is_counted_once_and_the_lines_after_it_read_once() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let mut t = Tailer::new(config(dir.path(), StartAt::Beginning), vec![]).unwrap();
    append(&log, &lines(0..5));
    let mut seen = poll(&mut t);
    OpenOptions::new().write(true).open(&log).unwrap().set_len(0).unwrap();
    seen.extend(poll(&mut t)); // the truncation, seen while the file is empty
    append(&log, &lines(5..7));
    seen.extend(poll(&mut t));
    append(&log, &lines(7..8));
    seen.extend(poll(&mut t));
    assert_eq!(seen, expected(0..8));
    assert_eq!(t.stats().truncations, 1);
}

#[test]
fn a_file_compressed_otherwise_than_gzip_is_skipped_with_the_reason_not_read_as_text() {
    let dir = tempfile::tempdir().unwrap();
    append(&dir.path().join("access.log"), &lines(0..2));
    fs::write(dir.path().join("access.log.1.xz"), b"\xfd7zXZ\x00\x00\x04binary").unwrap();
    fs::write(dir.path().join("access.log.2.zst"), b"\x28\xb5\x2f\xfd\x04binary\n").unwrap();
    fs::write(dir.path().join("access.log.3.bz2"), b"BZh91AY&SY\x00binary\n").unwrap();
    // Text that starts like bzip2's magic is text.
    fs::write(dir.path().join("access.log.text"), b"BZh9 a line of text\n").unwrap();
    let mut t = Tailer::new(config(dir.path(), StartAt::Beginning), vec![]).unwrap();
    let mut seen = poll(&mut t);
    seen.sort();
    let mut want = expected(0..2);
    want.insert(0, "BZh9 a line of text".to_owned());
    assert_eq!(seen, want);
    assert_eq!(t.stats().skipped, 3);
}

#[test]
fn delete_and_recreate_is_followed_as_a_new_file() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let mut t = Tailer::new(config(dir.path(), StartAt::Beginning), vec![]).unwrap();
    append(&log, &lines(0..3));
    let mut seen = poll(&mut t);
    fs::remove_file(&log).unwrap();
    append(&log, &lines(3..6));
    seen.extend(poll(&mut t));
    assert_eq!(seen, expected(0..6));
}

#[test]
fn resuming_from_a_checkpoint_neither_repeats_nor_skips() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    append(&log, &lines(0..4));
    let mut first = Tailer::new(config(dir.path(), StartAt::Beginning), vec![]).unwrap();
    let batches = first.poll(Instant::now());
    assert_eq!(texts(&batches), expected(0..4));
    let checkpoint = batches.last().unwrap().position.clone();
    drop(first);

    append(&log, &lines(4..7));
    // start_at = end must not apply to a file a checkpoint covers.
    let mut second = Tailer::new(config(dir.path(), StartAt::End), vec![checkpoint.clone()]).unwrap();
    let batches = second.poll(Instant::now());
    assert_eq!(texts(&batches), expected(4..7));
    assert_eq!(batches[0].position.key, checkpoint.key, "the file keeps its key");
}

#[test]
fn a_file_renamed_while_the_agent_was_down_resumes_under_its_new_name() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    append(&log, &lines(0..2));
    let mut first = Tailer::new(config(dir.path(), StartAt::Beginning), vec![]).unwrap();
    let checkpoint = first.poll(Instant::now()).last().unwrap().position.clone();
    drop(first);
    append(&log, &lines(2..3));
    fs::rename(&log, dir.path().join("access.log.1")).unwrap();
    append(&log, &lines(3..4));
    let mut second = Tailer::new(config(dir.path(), StartAt::End), vec![checkpoint]).unwrap();
    let mut seen = poll(&mut second);
    seen.sort();
    // The new access.log appeared while the agent was down: start_at = end is for a source's
    // first start, and a resumed source reads it from its start, so the rotation loses
    // nothing. (The OpenTelemetry filelog receiver, Fluent Bit and Vector skip it.)
    assert_eq!(seen, expected(2..4));
}

#[test]
fn a_new_file_that_only_starts_like_a_followed_one_is_read() {
    // Both share a header longer than the fingerprint (64 bytes here): not a copy.
    let dir = tempfile::tempdir().unwrap();
    let header = lines(0..6);
    append(&dir.path().join("access.log"), &format!("{header}{}", lines(100..102)));
    let mut t = Tailer::new(config(dir.path(), StartAt::Beginning), vec![]).unwrap();
    assert_eq!(poll(&mut t).len(), 8);
    append(&dir.path().join("access.log.other"), &format!("{header}{}", lines(200..203)));
    let mut want = expected(0..6);
    want.extend(expected(200..203));
    assert_eq!(poll(&mut t), want);
}

/// The position each file was left at: the last batch's position per key.
fn last_positions(batches: &[FileLines]) -> Vec<Position> {
    let mut positions: Vec<Position> = Vec::new();
    for b in batches {
        positions.retain(|p| p.key != b.position.key);
        positions.push(b.position.clone());
    }
    positions
}

#[test]
fn files_that_begin_alike_each_resume_where_they_were_left() {
    // Two workers' logs under one source, opening with the same banner, longer than the
    // fingerprint: on a restart each must resume at its own offset, not the other's.
    let dir = tempfile::tempdir().unwrap();
    let banner = lines(0..6);
    append(&dir.path().join("access.log.a"), &format!("{banner}{}", lines(100..150)));
    append(&dir.path().join("access.log.b"), &format!("{banner}{}", lines(200..220)));
    let mut first = Tailer::new(config(dir.path(), StartAt::Beginning), vec![]).unwrap();
    let batches = first.poll(Instant::now());
    assert_eq!(texts(&batches).len(), 82);
    let checkpoints = last_positions(&batches);
    assert_eq!(checkpoints.len(), 2);
    drop(first);

    for order in [checkpoints.clone(), checkpoints.into_iter().rev().collect()] {
        let mut second = Tailer::new(config(dir.path(), StartAt::Beginning), order).unwrap();
        assert_eq!(poll(&mut second), Vec::<String>::new(), "nothing is read twice");
    }
}

#[test]
fn a_file_rotated_in_while_away_that_begins_like_the_old_one_is_read_whole() {
    // The new file opens with the old one's banner (longer than the fingerprint) and is as
    // long as the old one was when the agent stopped: resumed at the old offset, its lines
    // were skipped.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let banner = lines(0..6);
    append(&log, &format!("{banner}{}", lines(100..120)));
    let mut first = Tailer::new(config(dir.path(), StartAt::Beginning), vec![]).unwrap();
    let checkpoint = first.poll(Instant::now()).last().unwrap().position.clone();
    drop(first);
    fs::rename(&log, dir.path().join("old.log")).unwrap(); // out of the globs
    append(&log, &format!("{banner}{}", lines(300..320)));
    let mut second = Tailer::new(config(dir.path(), StartAt::End), vec![checkpoint]).unwrap();
    let mut want = expected(0..6);
    want.extend(expected(300..320));
    assert_eq!(poll(&mut second), want);
}

#[test]
fn a_copy_shorter_than_what_was_read_from_the_original_adds_nothing() {
    // copytruncate under a live writer: lines written after the copy and before the
    // truncation were read from the original, so the copy is shorter than what was read.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let mut t = Tailer::new(config(dir.path(), StartAt::Beginning), vec![]).unwrap();
    append(&log, &lines(0..10));
    let mut seen = poll(&mut t);
    fs::copy(&log, dir.path().join("access.log.1")).unwrap();
    append(&log, &lines(10..12));
    seen.extend(poll(&mut t));
    OpenOptions::new().write(true).open(&log).unwrap().set_len(0).unwrap();
    seen.extend(poll(&mut t));
    append(&log, &lines(12..15));
    seen.extend(poll(&mut t));
    seen.extend(poll(&mut t));
    assert_eq!(seen, expected(0..15), "every line once");
}

#[test]
fn excluded_files_are_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), StartAt::Beginning);
    c.exclude = vec![format!("{}/*.gz", dir.path().display())];
    let mut t = Tailer::new(c, vec![]).unwrap();
    append(&dir.path().join("access.log.2.gz"), "compressed\n");
    append(&dir.path().join("access.log"), "plain\n");
    assert_eq!(poll(&mut t), ["plain"]);
}

#[test]
fn an_exclude_without_a_slash_matches_file_names() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), StartAt::Beginning);
    c.exclude = vec!["access.log.2".into(), "*.old".into()];
    let mut t = Tailer::new(c, vec![]).unwrap();
    append(&dir.path().join("access.log.2"), "second\n");
    append(&dir.path().join("access.log.3.old"), "old\n");
    append(&dir.path().join("access.log"), "plain\n");
    assert_eq!(poll(&mut t), ["plain"]);
}

#[test]
fn crlf_line_endings_are_stripped() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = Tailer::new(config(dir.path(), StartAt::Beginning), vec![]).unwrap();
    append(&dir.path().join("access.log"), "windows line\r\n");
    assert_eq!(poll(&mut t), ["windows line"]);
}

fn append_bytes(path: &Path, bytes: &[u8]) {
    OpenOptions::new().append(true).open(path).unwrap().write_all(bytes).unwrap();
}

/// Make a named pipe at `path`.
fn mkfifo(path: &Path) {
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o644) }, 0, "mkfifo {}", path.display());
}

/// What `f` logs at `warn` and `info`, as plain text.
fn logged(f: impl FnOnce()) -> String {
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, f);
    String::from_utf8(captured.0.lock().unwrap().clone()).unwrap()
}

#[test]
fn paths_under_the_globs_that_cannot_be_tailed_are_counted_and_the_files_beside_them_read() {
    let dir = tempfile::tempdir().unwrap();
    append(&dir.path().join("access.log"), &lines(0..3));
    mkfifo(&dir.path().join("access.log.pipe"));
    let target = dir.path().join("elsewhere.log");
    std::os::unix::fs::symlink(&target, dir.path().join("access.log.link")).unwrap();
    // A directory under a `*` glob is not a mistake: neither followed nor counted.
    fs::create_dir(dir.path().join("access.log.d")).unwrap();
    let mut t = Tailer::new(config(dir.path(), StartAt::Beginning), vec![]).unwrap();
    assert_eq!(poll(&mut t), expected(0..3));
    assert_eq!((t.stats().files, t.stats().skipped), (1, 2));

    // Mended: the pipe removed, the link's target created. It is followed like any file.
    fs::remove_file(dir.path().join("access.log.pipe")).unwrap();
    append(&target, "through the link\n");
    assert_eq!(poll(&mut t), ["through the link"]);
    assert_eq!((t.stats().files, t.stats().skipped), (2, 0));
}

#[test]
fn a_skipped_path_is_logged_once_with_why_and_again_when_mended() {
    let dir = tempfile::tempdir().unwrap();
    let pipe = dir.path().join("access.log.pipe");
    mkfifo(&pipe);
    let mut t = Tailer::new(config(dir.path(), StartAt::Beginning), vec![]).unwrap();
    let first = logged(|| {
        for _ in 0..3 {
            poll(&mut t);
        }
    });
    assert_eq!(first.matches("WARN").count(), 1, "one warning for three scans:\n{first}");
    assert!(
        first.contains(&pipe.display().to_string())
            && first.contains("a named pipe (FIFO), not a regular file")
            && first.contains("`exclude`"),
        "the warning says which path, why, and what to do:\n{first}"
    );
    fs::remove_file(&pipe).unwrap();
    let mended = logged(|| {
        poll(&mut t);
        poll(&mut t);
    });
    assert_eq!(mended.matches("no longer skipped").count(), 1, "{mended}");
    assert!(!mended.contains("WARN"), "{mended}");
}

#[test]
fn files_in_a_directory_the_agent_cannot_list_are_reported_skipped() {
    // They were never read, and nothing said so: glob's error for the directory was dropped,
    // and the log said only "cannot watch; polling only".
    const CHILD: &str = "VIGIL_TEST_UNLISTABLE_DIR";
    if let Some(dir) = std::env::var_os(CHILD) {
        return unlistable_directory_is_reported(Path::new(&dir));
    }
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    for (sub, range) in [("public", 0..3), ("private", 3..5)] {
        fs::create_dir(dir.path().join(sub)).unwrap();
        append(&dir.path().join(sub).join("a.log"), &lines(range));
        fs::set_permissions(dir.path().join(sub), fs::Permissions::from_mode(0o755)).unwrap();
    }
    let private = dir.path().join("private");
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        fs::set_permissions(&private, fs::Permissions::from_mode(0o000)).unwrap();
        unlistable_directory_is_reported(dir.path());
        fs::set_permissions(&private, fs::Permissions::from_mode(0o755)).unwrap();
        return;
    }
    // Root lists any directory whatever its mode (and CI runs as root): this test runs again,
    // alone, in a child process of the same test binary as `nobody`.
    fs::set_permissions(&private, fs::Permissions::from_mode(0o700)).unwrap();
    let name = "source::file::tests::files_in_a_directory_the_agent_cannot_list_are_reported_skipped";
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--test-threads=1"])
        .env(CHILD, dir.path())
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success() && text.contains("1 passed"), "the child as nobody:\n{text}");
}

fn unlistable_directory_is_reported(dir: &Path) {
    let include = ["public", "private"].map(|sub| dir.join(sub).join("*.log").display().to_string()).to_vec();
    let mut t = Tailer::new(FileSourceConfig { include, ..config(dir, StartAt::Beginning) }, vec![]).unwrap();
    let mut read = Vec::new();
    let log = logged(|| read = poll(&mut t));
    assert_eq!(read, expected(0..3));
    assert_eq!((t.stats().files, t.stats().skipped), (1, 1));
    let private = dir.join("private").display().to_string();
    assert!(log.contains("cannot list") && log.contains(&private), "{log}");
}
