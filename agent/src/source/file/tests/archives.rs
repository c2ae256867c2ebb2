//! Compressed files under the globs: rotations compressed at once or later, archives still being
//! written, cut short, replaced, and read a chunk at a time.

use super::*;
use crate::source::file::examine::ARCHIVE_SETTLE;

fn gzip_file(path: &Path, text: &str) {
    let mut encoder = flate2::write::GzEncoder::new(fs::File::create(path).unwrap(), flate2::Compression::fast());
    encoder.write_all(text.as_bytes()).unwrap();
    encoder.finish().unwrap();
}

#[test]
fn a_compressed_rotation_adds_only_what_was_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let mut c = config(dir.path(), StartAt::Beginning);
    c.gzip = true;
    let mut t = Tailer::new(c, vec![]).unwrap();
    append(&log, &lines(0..3));
    let mut seen = poll(&mut t);
    // Rotated and compressed before its last lines were read (no delaycompress).
    append(&log, &lines(3..5));
    let content = fs::read_to_string(&log).unwrap();
    fs::remove_file(&log).unwrap();
    gzip_file(&dir.path().join("access.log.1.gz"), &content);
    append(&log, &lines(5..6));
    seen.extend(poll(&mut t));
    seen.extend(poll(&mut t));
    seen.sort();
    assert_eq!(seen, expected(0..6));
}

#[test]
fn a_new_compressed_file_is_read_once_whole_and_gz_is_off_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), StartAt::Beginning);
    let mut off = Tailer::new(c.clone(), vec![]).unwrap();
    c.gzip = true;
    let mut on = Tailer::new(c, vec![]).unwrap();
    gzip_file(&dir.path().join("access.log.3.gz"), &lines(0..4));
    assert_eq!(poll(&mut on), expected(0..4));
    assert!(poll(&mut on).is_empty(), "read once");
    assert!(poll(&mut off).is_empty());
}

#[test]
fn archives_present_at_start_are_skipped_under_start_at_end() {
    let dir = tempfile::tempdir().unwrap();
    for n in 2..5 {
        gzip_file(&dir.path().join(format!("access.log.{n}.gz")), &lines(n * 10..n * 10 + 4));
    }
    let mut c = config(dir.path(), StartAt::End);
    c.gzip = true;
    let mut t = Tailer::new(c, vec![]).unwrap();
    // They are taken one at a time, a scan each: none of them is news.
    assert!(texts(&poll_until_quiet(&mut t)).is_empty());
    for _ in 0..3 {
        assert!(poll(&mut t).is_empty());
    }
    // One rotated in later is.
    gzip_file(&dir.path().join("access.log.5.gz"), &lines(50..54));
    assert_eq!(texts(&poll_until_quiet(&mut t)), expected(50..54));
}

/// [`config`] from the beginning, with `.gz` files read.
fn gzip_config(dir: &Path) -> FileSourceConfig {
    FileSourceConfig { gzip: true, ..config(dir, StartAt::Beginning) }
}

/// `text` gzip-compressed, as bytes.
fn gzipped(text: &str) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(text.as_bytes()).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn a_compressed_file_still_being_written_is_read_once_it_is_whole() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = Tailer::new(gzip_config(dir.path()), vec![]).unwrap();
    let archive = dir.path().join("access.log.2.gz");
    let bytes = gzipped(&lines(0..2_000));
    let (head, tail) = bytes.split_at(bytes.len() / 2);
    // logrotate's gzip has written half of the archive: what decompresses of it is read.
    fs::write(&archive, head).unwrap();
    let mut seen = Vec::new();
    // Scans while gzip pauses (the file unchanged) neither warn nor count an error: each
    // once told the operator to delete a healthy file, and raised `read_errors`.
    let early = logged(|| {
        for _ in 0..4 {
            seen.extend(poll(&mut t));
        }
    });
    assert!(!early.contains("WARN") && !early.contains("no longer skipped"), "an archive being written:\n{early}");
    assert!(seen.len() < 2_000, "{} lines from half an archive", seen.len());
    assert_eq!((t.stats().skipped, t.stats().errors), (0, 0));
    append_bytes(&archive, tail);
    seen.extend(poll(&mut t));
    assert_eq!(seen, expected(0..2_000), "every line once, in order");
    assert!(poll(&mut t).is_empty(), "read once");
    assert_eq!((t.stats().skipped, t.stats().errors), (0, 0));
}

/// Set `path`'s modification time `ago` in the past.
fn age(path: &Path, ago: Duration) {
    let file = fs::File::options().write(true).open(path).unwrap();
    file.set_modified(std::time::SystemTime::now() - ago).unwrap();
}

#[test]
fn an_archive_cut_short_then_compressed_again_whole_adds_only_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = Tailer::new(gzip_config(dir.path()), vec![]).unwrap();
    let archive = dir.path().join("access.log.2.gz");
    let bytes = gzipped(&lines(0..2_000));
    fs::write(&archive, &bytes[..bytes.len() / 2]).unwrap();
    let mut seen = poll(&mut t);
    seen.extend(poll(&mut t));
    assert!(!seen.is_empty() && seen.len() < 2_000, "{} lines", seen.len());
    // The operator compresses the original again and moves it over the cut one: another
    // inode, the same content.
    fs::write(dir.path().join("access.log.2.gz.tmp"), &bytes).unwrap();
    fs::rename(dir.path().join("access.log.2.gz.tmp"), &archive).unwrap();
    seen.extend(texts(&poll_until_quiet(&mut t)));
    assert_eq!(seen, expected(0..2_000), "every line once, in order");
}

/// Poll until `t` hands out nothing twice in a row; every batch.
fn poll_until_quiet(t: &mut Tailer) -> Vec<FileLines> {
    let mut batches = Vec::new();
    let mut quiet = 0;
    while quiet < 2 {
        let got: Vec<FileLines> = t.poll(Instant::now()).into_iter().filter(|b| !b.lines.is_empty()).collect();
        quiet = if got.is_empty() { quiet + 1 } else { 0 };
        batches.extend(got);
    }
    batches
}

#[test]
fn archives_are_read_a_chunk_at_a_time_one_after_another_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let c = FileSourceConfig { read_chunk_bytes: 4096, ..gzip_config(dir.path()) };
    let (older, newer) = (dir.path().join("access.log.3.gz"), dir.path().join("access.log.2.gz"));
    fs::write(&older, gzipped(&lines(0..1_000))).unwrap();
    fs::write(&newer, gzipped(&lines(1_000..2_000))).unwrap();
    let hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
    fs::File::options().write(true).open(&older).unwrap().set_modified(hour_ago).unwrap();
    let mut t = Tailer::new(c, vec![]).unwrap();
    let batches = poll_until_quiet(&mut t);
    let line_bytes = "line number 00000\n".len();
    for batch in &batches {
        let bytes: usize = batch.lines.iter().map(|l| l.text.len() + 1).sum();
        assert!(bytes < 4096 + line_bytes, "a chunk of {bytes} bytes");
    }
    let paths: Vec<&Path> = batches.iter().map(|b| b.path.as_path()).collect();
    let switch = paths.iter().position(|p| *p == newer).expect("the newer archive was read");
    assert!(switch >= 4 && paths[..switch].iter().all(|p| *p == older), "{paths:?}");
    assert!(paths[switch..].iter().all(|p| *p == newer), "one archive at a time: {paths:?}");
    assert_eq!(texts(&batches), expected(0..2_000));
}

#[test]
fn reading_an_archive_resumes_after_its_last_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let c = FileSourceConfig { read_chunk_bytes: 4096, ..gzip_config(dir.path()) };
    fs::write(dir.path().join("access.log.2.gz"), gzipped(&lines(0..1_000))).unwrap();
    let mut first = Tailer::new(c.clone(), vec![]).unwrap();
    let batch = first.poll(Instant::now()).into_iter().find(|b| !b.lines.is_empty()).unwrap();
    let read = batch.lines.len();
    assert!((100..1_000).contains(&read), "{read} lines in the first chunk");
    // The agent stopped with that chunk committed; a new one resumes from its checkpoint.
    let mut second = Tailer::new(c, vec![batch.position]).unwrap();
    assert_eq!(texts(&poll_until_quiet(&mut second)), expected(read..1_000));
}

#[test]
fn an_archive_line_over_the_limit_is_cut_and_the_next_line_kept() {
    let dir = tempfile::tempdir().unwrap();
    let c = FileSourceConfig { max_line_bytes: 10, ..gzip_config(dir.path()) };
    let long = "x".repeat(100_000);
    let text = format!("short\n{long}\n0123456789\r\nlast line without newline");
    fs::write(dir.path().join("access.log.2.gz"), gzipped(&text)).unwrap();
    let mut t = Tailer::new(c, vec![]).unwrap();
    let batches = poll_until_quiet(&mut t);
    let read: Vec<(String, bool)> =
        batches.iter().flat_map(|b| b.lines.iter().map(|l| (l.text.clone(), l.truncated))).collect();
    let want = [("short", false), ("xxxxxxxxxx", true), ("0123456789", false), ("last line ", true)];
    assert_eq!(read, want.map(|(t, cut)| (t.to_string(), cut)));
    assert_eq!(t.stats().truncated, 2);
    assert_eq!(batches.last().unwrap().position.offset, text.len() as u64);
}

#[test]
fn an_archive_cut_short_gives_its_lines_is_reported_once_and_its_replacement_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = Tailer::new(gzip_config(dir.path()), vec![]).unwrap();
    let archive = dir.path().join("access.log.2.gz");
    // Compression that never finished (a full disk, a crash during logrotate), a while ago:
    // one that changed in the last ARCHIVE_SETTLE may still be being written.
    let bytes = gzipped(&lines(0..2_000));
    fs::write(&archive, &bytes[..bytes.len() / 2]).unwrap();
    age(&archive, ARCHIVE_SETTLE);
    append(&dir.path().join("access.log"), &lines(9_000..9_001));
    let mut seen = Vec::new();
    let first = logged(|| {
        for _ in 0..4 {
            seen.extend(poll(&mut t));
        }
    });
    assert_eq!(first.matches("WARN").count(), 1, "one warning for four scans:\n{first}");
    assert!(
        first.contains(&archive.display().to_string())
            && first.contains("cannot be decompressed")
            && first.contains("delete it"),
        "the warning says which file, why, and what to do:\n{first}"
    );
    assert_eq!((t.stats().files, t.stats().skipped, t.stats().errors), (1, 1, 1));
    // What decompressed before the cut is kept: every line of it, once, in order.
    let from_archive: Vec<String> = seen.into_iter().filter(|l| l != "line number 09000").collect();
    assert!(!from_archive.is_empty() && from_archive.len() < 2_000, "{} lines", from_archive.len());
    assert_eq!(from_archive, expected(0..from_archive.len()));

    // Replaced with another, whole archive under the same name (perhaps the same inode).
    fs::remove_file(&archive).unwrap();
    fs::write(&archive, gzipped(&lines(5_000..5_050))).unwrap();
    let mended = logged(|| assert_eq!(poll(&mut t), expected(5_000..5_050)));
    assert_eq!(mended.matches("no longer skipped").count(), 1, "{mended}");
    assert_eq!(t.stats().skipped, 0);
}

#[test]
fn an_archive_deleted_and_another_created_in_its_place_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = Tailer::new(gzip_config(dir.path()), vec![]).unwrap();
    let archive = dir.path().join("access.log.2.gz");
    fs::write(&archive, gzipped(&lines(0..40))).unwrap();
    assert_eq!(poll(&mut t), expected(0..40));
    // The next rotation: the old archive deleted, a new one in its place (the file system may
    // give it the freed inode).
    fs::remove_file(&archive).unwrap();
    fs::write(&archive, gzipped(&lines(40..80))).unwrap();
    assert_eq!(poll(&mut t), expected(40..80));
}
