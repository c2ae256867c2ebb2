//! The whole ingest path on a generated combined-format log of 5,000,000 lines: the real
//! agent tails the file, parses, scores with the default Isolation Forest (wasm) and commits
//! to SQLite; measured from start until the store holds every line.
//! Run: `cargo bench -p vigil --bench file_pipeline -- --lines 5000000`. With `--syslog`, the
//! lines are an auth.log's instead (`Dec 10 06:55:46 web01 sshd[4711]: Failed password for
//! ...`, read by a `syslog` source in UTC): system log lines, scored on their message pattern.
//! The floor (a raw batched SQLite insert of the same rows) is `--bench store_insert`.

#[path = "common/agent.rs"]
mod agent;
#[path = "common/traffic.rs"]
mod traffic;

use std::io::{BufWriter, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};
use traffic::Traffic;

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

fn stats(addr: SocketAddr) -> serde_json::Value {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(stream, "GET /api/v1/stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    let body = text.split_once("\r\n\r\n").unwrap().1;
    serde_json::from_str(body).unwrap()
}

/// Time spent per stage, from the `*_seconds_sum` histograms of `/metrics`: divided by the
/// run's wall time, how busy each stage was.
fn stage_seconds(addr: SocketAddr) -> Vec<(String, f64)> {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(stream, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(' '))
        .filter(|(name, _)| name.contains("_seconds_sum"))
        .filter_map(|(name, value)| Some((name.to_owned(), value.trim().parse().ok()?)))
        .collect()
}

fn stored(addr: SocketAddr) -> u64 {
    stats(addr)["store"]["events"].as_u64().unwrap()
}

fn main() {
    let lines = agent::arg("--lines", 5_000_000);
    let syslog = std::env::args().any(|a| a == "--syslog");
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let path = logs.join("access.log");

    let started = Instant::now();
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&path).unwrap());
    let mut traffic = Traffic::new(3);
    for _ in 0..lines {
        let r = traffic.record();
        let t = jiff::Timestamp::from_millisecond(r.timestamp_ms).unwrap().to_zoned(jiff::tz::TimeZone::UTC);
        if syslog {
            let pid = 1000 + r.bytes_sent % 30_000;
            let user = r.url.trim_start_matches('/').split(['/', '?']).next().unwrap_or("root");
            let message = match r.status_code {
                200..=299 => format!("Accepted password for {user} from {} port {} ssh2", r.ip, 1024 + pid),
                300..=399 => format!("pam_unix(sshd:session): session opened for user {user} by (uid=0)"),
                400..=499 => format!("Failed password for invalid user {user} from {} port {} ssh2", r.ip, 1024 + pid),
                _ => format!("error: maximum authentication attempts exceeded for {user} from {} [preauth]", r.ip),
            };
            writeln!(out, "{} web01 sshd[{pid}]: {message}", t.strftime("%b %e %H:%M:%S")).unwrap();
            continue;
        }
        writeln!(
            out,
            "{} - - [{:02}/{}/{}:{:02}:{:02}:{:02} +0000] \"{} {} HTTP/1.1\" {} {} \"-\" \"{}\"",
            r.ip,
            t.day(),
            MONTHS[t.month() as usize - 1],
            t.year(),
            t.hour(),
            t.minute(),
            t.second(),
            r.method,
            r.url,
            r.status_code,
            r.bytes_sent,
            r.user_agent
        )
        .unwrap();
    }
    out.flush().unwrap();
    drop(out);
    let bytes = std::fs::metadata(&path).unwrap().len();
    println!(
        "generated {lines} lines ({:.0} MiB) in {:.1} s",
        bytes as f64 / 1048576.0,
        started.elapsed().as_secs_f64()
    );

    let source = format!(
        "[[sources]]\ntype = \"file\"\nname = \"bench\"\ninclude = [\"{}\"]\nformat = \"{}\"\nstart_at = \"beginning\"\n{}",
        path.display(),
        if syslog { "syslog" } else { "combined" },
        if syslog { "time_zone = \"UTC\"\n" } else { "" },
    );
    let started = Instant::now();
    let (server, addr) = agent::start_agent(dir.path(), &source);
    let mut last = (Instant::now(), 0);
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let n = stored(addr);
        if last.0.elapsed() >= Duration::from_secs(5) {
            println!("  {n} stored after {:.0} s", started.elapsed().as_secs_f64());
            last = (Instant::now(), n);
        }
        if n >= lines {
            break;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let anomalies = stats(addr)["store"]["anomalies"].as_u64().unwrap();
    println!("  {anomalies} anomalies ({:.2}% of lines)", anomalies as f64 * 100.0 / lines as f64);
    println!(
        "file -> parse -> score (wasm IF) -> commit: {lines} lines in {secs:.1} s: {:.0} lines/s, {:.1} MiB/s",
        lines as f64 / secs,
        bytes as f64 / 1048576.0 / secs
    );
    for (stage, busy) in stage_seconds(addr) {
        println!("  {stage}: {busy:.1} s ({:.0}% of the run)", busy * 100.0 / secs);
    }
    if let Some(cpu) = server.cpu_seconds() {
        println!("  agent CPU: {cpu:.1} s over {secs:.1} s, {:.2} cores busy on average", cpu / secs);
    }
    if let Some((_, peak)) = server.memory_mib() {
        println!("  agent peak RSS during the run: {peak:.1} MiB");
    }
    // Idle: the file is read to its end and nothing new arrives.
    std::thread::sleep(Duration::from_secs(agent::arg("--idle-seconds", 10)));
    if let Some((now, _)) = server.memory_mib() {
        println!("  agent RSS idle afterwards: {now:.1} MiB");
    }
}
