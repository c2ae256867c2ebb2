//! The file source end to end: a real file written while the real agent tails it, rotated,
//! and the agent killed with SIGKILL at random moments; in the end every line is stored
//! exactly once.

use crate::agent::Agent;
use crate::http::request;
use std::collections::BTreeSet;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn line(n: usize) -> String {
    static TODAY: std::sync::LazyLock<String> = std::sync::LazyLock::new(crate::agent::clf_today);
    format!(
        "10.1.{}.{} - - [{}:00:00:{:02} +0000] \"GET /line/{n} HTTP/1.1\" 200 {} \"-\" \"kill-test\"\n",
        n / 250 % 250,
        n % 250,
        *TODAY,
        n % 60,
        100 + n % 900
    )
}

fn source_config(dir: &Path) -> String {
    format!(
        "[[sources]]\ntype = \"file\"\nname = \"web\"\ninclude = [\"{}/logs/access.log*\"]\nformat = \"combined\"\nstart_at = \"beginning\"\npoll_interval_ms = 50\n",
        dir.display()
    )
}

/// Every line number stored, through the API's paging.
fn stored_lines(agent: &Agent) -> Vec<usize> {
    let mut lines = Vec::new();
    let mut before = String::new();
    loop {
        let (status, body) = request(agent.addr, "GET", &format!("/api/v1/logs?limit=10000{before}"), None);
        assert_eq!(status, 200, "{body}");
        let page = body["logs"].as_array().unwrap();
        if page.is_empty() {
            return lines;
        }
        for log in page {
            let url = log["url"].as_str().unwrap();
            lines.push(url.strip_prefix("/line/").unwrap_or_else(|| panic!("unexpected url {url}")).parse().unwrap());
        }
        before = format!("&before_id={}", body["next_before_id"]);
    }
}

fn stored_count(agent: &Agent) -> u64 {
    let (_, body) = request(agent.addr, "GET", "/api/v1/stats", None);
    body["store"]["events"].as_u64().unwrap()
}

fn wait_for_count(agent: &Agent, want: u64) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while stored_count(agent) < want {
        assert!(Instant::now() < deadline, "only {} of {want} lines stored after 120 s", stored_count(agent));
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Lines 0 to `lines - 1` are all stored, each once, and nothing more arrives.
fn assert_every_line_stored_once(agent: &Agent, lines: usize, seed: u64) {
    wait_for_count(agent, lines as u64);
    std::thread::sleep(Duration::from_millis(500)); // nothing more may arrive
    let mut stored = stored_lines(agent);
    assert_eq!(stored.len(), lines, "every line stored once (seed {seed})");
    stored.sort_unstable();
    let distinct: BTreeSet<_> = stored.iter().copied().collect();
    assert_eq!(distinct.len(), lines, "no line stored twice (seed {seed})");
    assert_eq!((stored[0], stored[lines - 1]), (0, lines - 1));
}

/// A small deterministic generator for the kill moments; the seed is printed on failure.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn sigkill_at_random_moments_loses_and_repeats_no_line_even_across_rotation() {
    const LINES: usize = 200_000;
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let mut seed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    eprintln!("kill test seed: {seed}");
    let config = source_config(dir.path());

    let written = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let progress = written.clone();
    let writer_logs = logs.clone();
    let writer = std::thread::spawn(move || {
        let path = writer_logs.join("access.log");
        let mut file = OpenOptions::new().create(true).append(true).open(&path).unwrap();
        for chunk in (0..LINES).collect::<Vec<_>>().chunks(500) {
            if chunk[0] == LINES / 2 {
                // Rename + create rotation halfway, like logrotate without copytruncate.
                std::fs::rename(&path, writer_logs.join("access.log.1")).unwrap();
                file = OpenOptions::new().create(true).append(true).open(&path).unwrap();
            }
            let text: String = chunk.iter().map(|&n| line(n)).collect();
            file.write_all(text.as_bytes()).unwrap();
            progress.store(chunk[chunk.len() - 1] + 1, std::sync::atomic::Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(5));
        }
    });

    let mut agent = Agent::start(dir.path(), &config);
    // One kill at a random point of each third of the writing, so every kill hits a running
    // ingest (the rotation happens halfway, between the second and third).
    for kill in 0..3 {
        let target = kill * LINES / 3 + (next(&mut seed) as usize % (LINES / 3));
        while written.load(std::sync::atomic::Ordering::Relaxed) < target {
            std::thread::sleep(Duration::from_millis(5));
        }
        eprintln!("kill {kill}: {target} lines written, {} stored", stored_count(&agent));
        drop(agent); // SIGKILL, by PID
        agent = Agent::start(dir.path(), &config);
    }
    writer.join().unwrap();
    assert_every_line_stored_once(&agent, LINES, seed);
}

#[test]
fn sigkill_while_a_compressed_archive_is_read_loses_and_repeats_no_line() {
    const LINES: usize = 150_000;
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let mut seed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    eprintln!("archive kill test seed: {seed}");
    // An archive rotated while the agent was away: ~16 MB of lines, read a chunk at a time.
    let archive = std::fs::File::create(logs.join("access.log.1.gz")).unwrap();
    let mut encoder = flate2::write::GzEncoder::new(archive, flate2::Compression::fast());
    encoder.write_all((0..LINES).map(line).collect::<String>().as_bytes()).unwrap();
    encoder.finish().unwrap();
    let config = format!("{}gzip = true\n", source_config(dir.path()));

    let mut agent = Agent::start(dir.path(), &config);
    for kill in 0..3 {
        let target = (kill * LINES / 4 + (next(&mut seed) as usize % (LINES / 4))) as u64;
        let deadline = Instant::now() + Duration::from_secs(120);
        while stored_count(&agent) < target {
            assert!(Instant::now() < deadline, "{} of {target} lines stored after 120 s", stored_count(&agent));
            std::thread::sleep(Duration::from_millis(2));
        }
        let stored = stored_count(&agent);
        eprintln!("kill {kill}: {stored} stored");
        assert!(stored < LINES as u64, "the kill must come while the archive is read (seed {seed})");
        drop(agent); // SIGKILL, by PID
        agent = Agent::start(dir.path(), &config);
    }
    assert_every_line_stored_once(&agent, LINES, seed);
}

#[test]
fn rotations_under_the_real_tailer_keep_every_line() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let path = logs.join("access.log");
    let append = |n: std::ops::Range<usize>| {
        let mut f = OpenOptions::new().create(true).append(true).open(&path).unwrap();
        f.write_all(n.map(line).collect::<String>().as_bytes()).unwrap();
    };
    let agent = Agent::start(dir.path(), &source_config(dir.path()));
    append(0..100);
    wait_for_count(&agent, 100);
    // rename + create
    std::fs::rename(&path, logs.join("access.log.1")).unwrap();
    append(100..200);
    wait_for_count(&agent, 200);
    // copytruncate: copy, then truncate in place
    std::fs::copy(&path, logs.join("access.log.2")).unwrap();
    OpenOptions::new().write(true).open(&path).unwrap().set_len(0).unwrap();
    append(200..300);
    wait_for_count(&agent, 300);
    // delete + re-create
    std::fs::remove_file(&path).unwrap();
    append(300..400);
    wait_for_count(&agent, 400);
    // a line split across two writes
    let mut f = OpenOptions::new().append(true).open(&path).unwrap();
    let whole = line(400);
    f.write_all(&whole.as_bytes()[..20]).unwrap();
    f.flush().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    f.write_all(&whole.as_bytes()[20..]).unwrap();
    // a file appearing later under the glob
    std::fs::write(logs.join("access.log.new"), line(401)).unwrap();
    wait_for_count(&agent, 402);
    std::thread::sleep(Duration::from_millis(500));

    let mut lines = stored_lines(&agent);
    lines.sort_unstable();
    assert_eq!(lines, (0..402).collect::<Vec<_>>());
}

/// A `syslog` source: every line keeps the time it was written (a BSD time read in the
/// source's `time_zone`, an RFC 5424 time with its own offset) and its header as fields; a line
/// that is not syslog is stored as it is and counted as a parse error.
#[test]
fn a_syslog_file_is_stored_with_each_lines_own_time_and_header() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let tokyo = jiff::tz::TimeZone::get("Asia/Tokyo").unwrap();
    let now = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second()).unwrap();
    let bsd_time = now - jiff::SignedDuration::from_hours(3);
    let rfc_time = now - jiff::SignedDuration::from_hours(2);
    let lines = [
        format!(
            "{} web01 sshd[24200]: Failed password for invalid user admin from 203.0.113.9 port 52144 ssh2\n",
            bsd_time.to_zoned(tokyo).strftime("%b %e %H:%M:%S")
        ),
        format!(
            "<38>1 {} web01 billing 4711 ID47 - charge failed\n",
            rfc_time.to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(1))).strftime("%Y-%m-%dT%H:%M:%S%:z")
        ),
        "not a syslog line\n".to_owned(),
    ];
    std::fs::write(logs.join("auth.log"), lines.concat()).unwrap();
    let config = format!(
        "[[sources]]\ntype = \"file\"\nname = \"auth\"\ninclude = [\"{}/logs/auth.log\"]\nformat = \"syslog\"\n\
         time_zone = \"Asia/Tokyo\"\nstart_at = \"beginning\"\npoll_interval_ms = 50\n",
        dir.path().display()
    );
    let agent = Agent::start(dir.path(), &config);
    wait_for_count(&agent, 3);

    let (status, body) = request(agent.addr, "GET", "/api/v1/logs?limit=10", None);
    assert_eq!(status, 200, "{body}");
    let stored = body["logs"].as_array().unwrap();
    let find = |raw: &str| {
        stored.iter().find(|log| log["raw"].as_str() == Some(raw)).unwrap_or_else(|| panic!("{raw:?} not in {body}"))
    };
    let time = |log: &serde_json::Value| log["timestamp"].as_str().unwrap().parse::<jiff::Timestamp>().unwrap();

    let sshd = find(lines[0].trim_end());
    assert_eq!(time(sshd), bsd_time, "the BSD time read in Tokyo: {sshd}");
    assert_eq!(sshd["source"], "file:auth");
    assert_eq!(sshd["fields"]["host"], "web01");
    assert_eq!(sshd["fields"]["app"], "sshd");
    assert_eq!(sshd["fields"]["pid"], 24200);
    assert_eq!(sshd["fields"]["message"], "Failed password for invalid user admin from 203.0.113.9 port 52144 ssh2");
    assert_eq!(
        sshd["template"], "Failed password for invalid user admin from <*> port <*> <*>",
        "mined from the message"
    );

    let billing = find(lines[1].trim_end());
    assert_eq!(time(billing), rfc_time, "the RFC 5424 time with its own offset: {billing}");
    assert_eq!(billing["fields"]["app"], "billing");
    assert_eq!(billing["fields"]["msgid"], "ID47");
    assert_eq!(billing["fields"]["severity"], "info");
    assert_eq!(billing["fields"]["facility"], "auth", "<38> is auth.info");
    assert_eq!(billing["fields"]["message"], "charge failed");

    let other = find("not a syslog line");
    assert!(time(other) > now - jiff::SignedDuration::from_mins(1), "a line without a time gets its arrival: {other}");
    let (_, stats) = request(agent.addr, "GET", "/api/v1/stats", None);
    assert_eq!(stats["sources"]["auth"]["parse_errors"], 1, "{stats}");
}
