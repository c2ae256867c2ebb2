//! Plugin lifecycle and hot reload timings, on the real binary and the real host:
//! - config write → applied: a changed threshold written (rename, like an editor) until
//!   `/health` shows the new generation;
//! - how long past its deadline a looping plugin is stopped;
//! - a plugin restart after a trap (new instance + restore of its last snapshot);
//! - an agent restart: process start until `/health` answers, resuming a saved forest.
//!
//! `cargo bench -p vigil --bench lifecycle [-- --runs N]`

#[path = "common/agent.rs"]
#[allow(dead_code)]
mod agent;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use vigil::config::{DetectorSpec, Fallback, PluginLimits, PluginSource};
use vigil::detect::{DetectorHost, PluginEngine};
use vigil::event::Event;

fn plugin(package: &str) -> PathBuf {
    PathBuf::from(env!("VIGIL_TEST_PLUGIN_DIR")).join(format!("{}.wasm", package.replace('-', "_")))
}

fn get(addr: SocketAddr, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(addr).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.starts_with("HTTP/1.1 200").then(|| response.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned())
}

fn write_config(dir: &Path, threshold: f64) -> PathBuf {
    let path = dir.join("vigil.toml");
    let text = format!(
        "data_dir = {:?}\n[api]\naddress = \"127.0.0.1:0\"\n[[detectors]]\nplugin = \"builtin:isolation-forest\"\nthreshold = {threshold}\n",
        dir.join("data").display().to_string()
    );
    std::fs::write(dir.join("vigil.toml.tmp"), text).unwrap();
    std::fs::rename(dir.join("vigil.toml.tmp"), &path).unwrap();
    path
}

fn spawn(config: &Path) -> (Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .arg("--config")
        .arg(config)
        .env("VIGIL_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting vigil");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("vigil exited before listening").unwrap();
        if let Some(a) = line.split("listening on http://").nth(1) {
            break a.trim().parse().unwrap();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, addr)
}

fn stop(mut child: Child) {
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    child.wait().unwrap();
}

fn generation(addr: SocketAddr) -> u64 {
    let body: serde_json::Value = serde_json::from_str(&get(addr, "/health").unwrap()).unwrap();
    body["config"]["generation"].as_u64().unwrap()
}

fn report(what: &str, mut ms: Vec<f64>) {
    ms.sort_by(f64::total_cmp);
    let median = ms[ms.len() / 2];
    println!(
        "{what:<48} median {median:>8.2} ms   min {:>8.2}   max {:>8.2}   (n = {})",
        ms[0],
        ms[ms.len() - 1],
        ms.len()
    );
}

fn spec(source: PluginSource, config: &str, timeout: Duration) -> DetectorSpec {
    DetectorSpec {
        name: None,
        source,
        threshold: 0.5,
        limits: PluginLimits { max_memory_bytes: 256 << 20, call_timeout: timeout, fuel: None },
        config_json: config.into(),
        fallback: Fallback::None,
        snapshot_interval: None,
    }
}

fn events(n: usize, url: &str) -> Vec<Event> {
    (0..n)
        .map(|i| Event {
            ip: format!("10.0.{}.{}", i / 250, i % 250),
            url: url.into(),
            status_code: 200,
            ..Event::default()
        })
        .collect()
}

fn main() {
    let runs = agent::arg("--runs", 10) as usize;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), 0.6);
    let (child, addr) = spawn(&config);

    // Config write → applied, as an operator sees it in /health.
    let mut applied = Vec::new();
    for run in 0..runs {
        let before = generation(addr);
        let started = Instant::now();
        write_config(dir.path(), if run % 2 == 0 { 0.7 } else { 0.6 });
        while generation(addr) == before {
            std::thread::sleep(Duration::from_millis(2));
        }
        applied.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    report("config write -> applied (incl. 100 ms debounce)", applied);

    // Train the forest a little, so the restart below resumes a real snapshot.
    let body = serde_json::json!({ "logs": (0..2000).map(|i| serde_json::json!({
        "ip": format!("10.1.{}.{}", i / 250, i % 250), "timestamp": "2026-11-25T10:00:00Z", "method": "GET",
        "url": format!("/item/{}", i % 40), "status_code": 200, "bytes_sent": 500 + i % 100, "user_agent": "bench"})).collect::<Vec<_>>() });
    let text = body.to_string();
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(stream, "POST /anomaly_detection HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}", text.len()).unwrap();
    let mut sink = String::new();
    stream.read_to_string(&mut sink).unwrap();
    stop(child);

    // Agent restart: spawn until /health answers, resuming the saved forest.
    let mut restarts = Vec::new();
    for _ in 0..runs.min(5) {
        let started = Instant::now();
        let (child, addr) = spawn(&config);
        while get(addr, "/health").is_none() {
            std::thread::sleep(Duration::from_millis(1));
        }
        restarts.push(started.elapsed().as_secs_f64() * 1000.0);
        stop(child);
    }
    report("agent restart -> /health answers (snapshot restored)", restarts);

    // A looping plugin against its deadline.
    let engine = PluginEngine::new(Some(&dir.path().join("cache"))).unwrap();
    let deadline = Duration::from_millis(100);
    let mut host = DetectorHost::start(
        &engine,
        &spec(PluginSource::File(plugin("vigil-fixture-misbehave")), r#"{"mode":"loop"}"#, deadline),
    )
    .unwrap();
    let mut over = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        assert!(host.score(&events(10, "/")).is_err());
        // The call includes starting the replacement instance, as the set does.
        over.push((started.elapsed().saturating_sub(deadline)).as_secs_f64() * 1000.0);
    }
    report("looping plugin stopped after its 100 ms deadline, +", over);

    // Plugin restart after a trap: new instance + configure + restore of its last snapshot.
    let mut host =
        DetectorHost::start(&engine, &spec(PluginSource::Builtin("isolation-forest"), "{}", Duration::from_secs(5)))
            .unwrap();
    host.score(&events(2000, "/a")).unwrap();
    let state = host.snapshot().unwrap();
    let mut trap = DetectorHost::start(
        &engine,
        &spec(PluginSource::File(plugin("vigil-fixture-misbehave")), r#"{"mode":"behave"}"#, Duration::from_secs(5)),
    )
    .unwrap();
    trap.snapshot().unwrap();
    let mut plugin_restarts = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        assert!(trap.score(&events(1, "/panic")).is_err());
        plugin_restarts.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    report("plugin trap -> restarted from snapshot (fixture)", plugin_restarts);
    let mut restore = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        host.restore(&state).unwrap();
        restore.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    report(&format!("isolation-forest restore of a {} KiB snapshot", state.len() / 1024), restore);
}
