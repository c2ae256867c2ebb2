//! The command line: `--help`, `validate`, start-up errors, and what start-up sets up.

use crate::agent::{Agent, binary, plugin_path};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;

fn vigil(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(binary()).args(args).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn help_describes_the_commands() {
    let (code, stdout, _) = vigil(&["--help"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("--config"), "{stdout}");
    assert!(stdout.contains("validate"), "{stdout}");
}

#[test]
fn validate_accepts_the_shipped_config() {
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/../configs/vigil.toml");
    let (code, stdout, stderr) = vigil(&["validate", shipped]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("ok") && stdout.contains("isolation-forest"), "{stdout}");
}

#[test]
fn validate_rejects_a_bad_config_with_file_line_column_and_hint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[api]\naddress = \"127.0.0.1:8420\"\nmax_batch_logz = 5\n").unwrap();
    let (code, _, stderr) = vigil(&["validate", path.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains(&format!("{}:3:1", path.display())), "{stderr}");
    assert!(stderr.contains("unknown field `max_batch_logz`"), "{stderr}");
    assert!(stderr.contains("hint:"), "{stderr}");
}

#[test]
fn validate_rejects_a_component_that_is_not_a_detector() {
    let dir = tempfile::tempdir().unwrap();
    let not_wasm = dir.path().join("junk.wasm");
    std::fs::write(&not_wasm, b"not a component").unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, "[[detectors]]\nplugin = \"junk.wasm\"\n").unwrap();
    let (code, _, stderr) = vigil(&["validate", path.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("junk.wasm") && stderr.contains("cannot load component"), "{stderr}");
}

#[test]
fn validate_reports_every_refused_detector_by_its_place_and_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    let detector = |name: &str, config: &str| {
        format!("[[detectors]]\nname = {name:?}\nplugin = \"builtin:isolation-forest\"\n[detectors.config]\n{config}\n")
    };
    let text = detector("web", "trees = 0") + &detector("edge", "sample_size = 0");
    std::fs::write(&path, text).unwrap();
    let (code, _, stderr) = vigil(&["validate", path.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("detectors[0] (web):") && stderr.contains("detectors[1] (edge):"), "{stderr}");
}

#[test]
fn validate_reports_every_problem_start_up_would_meet_data_dir_and_summarizers_included() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_dir = dir.path().join("data");
    std::fs::write(&not_a_dir, "a file").unwrap();
    std::fs::write(dir.path().join("junk.wasm"), b"not a component").unwrap();
    let path = dir.path().join("c.toml");
    let config = |data: &std::path::Path, summarizer: &str| {
        format!("data_dir = {:?}\n[[summarizers]]\nplugin = {summarizer:?}\n", data.display().to_string())
    };
    std::fs::write(&path, config(&not_a_dir, "junk.wasm")).unwrap();
    let (code, stdout, stderr) = vigil(&["validate", path.to_str().unwrap()]);
    assert_eq!(code, 2, "{stdout}");
    assert!(stderr.contains(&format!("data_dir {}: ", not_a_dir.display())), "{stderr}");
    assert!(stderr.contains("is not a directory"), "{stderr}");
    // Placed at its plugin (line 3, column 10), named by its place and plugin.
    assert!(stderr.contains("c.toml:3:10: summarizers[0] (") && stderr.contains("junk.wasm"), "{stderr}");

    // Fixed, it passes and names every plugin it loaded, without creating the data dir.
    std::fs::write(&path, config(&dir.path().join("later/data"), "builtin:window-summary")).unwrap();
    let (code, stdout, stderr) = vigil(&["validate", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("isolation-forest") && stdout.contains("window-summary"), "{stdout}");
    assert!(!dir.path().join("later").exists());
}

#[test]
fn validate_reports_a_plugin_that_refuses_its_config() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    let fixture = plugin_path("vigil-fixture-constant-score");
    std::fs::write(
        &path,
        format!("[[detectors]]\nplugin = {:?}\n[detectors.config]\nscor = 1\n", fixture.display().to_string()),
    )
    .unwrap();
    let (code, _, stderr) = vigil(&["validate", path.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("config refused") && stderr.contains("scor"), "{stderr}");
    // At its [detectors.config] (line 3), with a hint to fix the value, not the plugin.
    assert!(stderr.contains("c.toml:3:1: detectors[0] ("), "{stderr}");
    assert!(stderr.contains("fix the value in [detectors.config]") && !stderr.contains("rebuild"), "{stderr}");
}

#[test]
fn a_taken_port_is_a_clear_start_up_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    let data = dir.path().join("data");
    std::fs::write(
        &path,
        format!("data_dir = {:?}\n[api]\naddress = \"{}\"\n", data.display().to_string(), taken.local_addr().unwrap()),
    )
    .unwrap();
    let (code, _, stderr) = vigil(&["--config", path.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(stderr.contains("cannot listen") && stderr.contains("api.address"), "{stderr}");
    assert!(!data.exists(), "a start that cannot listen leaves no data_dir behind");
}

#[test]
fn a_data_dir_that_is_a_file_is_named_as_the_start_up_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    let data = dir.path().join("data");
    std::fs::write(&data, "not a directory").unwrap();
    std::fs::write(&path, format!("data_dir = {:?}\n[api]\naddress = \"127.0.0.1:0\"\n", data.display().to_string()))
        .unwrap();
    let (code, _, stderr) = vigil(&["--config", path.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(stderr.contains("data_dir") && stderr.contains("is not a directory"), "{stderr}");
}

#[test]
fn compile_plugin_fills_the_cache_and_refuses_what_is_not_a_component() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let cached = || {
        std::fs::read_dir(&cache)
            .map_or(0, |d| d.filter(|e| e.as_ref().unwrap().path().extension() == Some("cwasm".as_ref())).count())
    };
    let fixture = plugin_path("vigil-fixture-constant-score");
    let (code, _, stderr) = vigil(&["compile-plugin", "--cache", cache.to_str().unwrap(), fixture.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(cached(), 1);
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"not a component").unwrap();
    let (code, _, stderr) = vigil(&["compile-plugin", "--cache", cache.to_str().unwrap(), junk.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(stderr.starts_with("vigil compile-plugin: "), "{stderr}");
    assert_eq!(cached(), 1, "nothing cached for it");
}

#[test]
fn a_first_start_compiles_the_plugins_in_child_processes_and_later_starts_load_them() {
    let dir = tempfile::tempdir().unwrap();
    for (start, compiles) in [("first", 2), ("second", 0)] {
        let log = dir.path().join(format!("{start}.log"));
        let agent = crate::agent::Agent::start_logging_to(dir.path(), "", "", std::fs::File::create(&log).unwrap());
        let status = agent.terminate();
        assert!(status.success(), "{start} start: {status}");
        let log = std::fs::read_to_string(&log).unwrap();
        // The default config: the isolation forest and the window summary.
        assert_eq!(log.matches("compiled in a child process").count(), compiles, "{start} start:\n{log}");
        assert!(!log.contains("compiling here"), "{start} start: no fallback\n{log}");
        // Written to a file, not a terminal: plain text, no colour escape codes.
        assert!(!log.contains('\x1b'), "{start} start: escape codes in a log file\n{log:?}");
    }
}

#[test]
fn started_with_a_low_open_file_limit_the_agent_raises_it_and_serves_more_connections() {
    const SOFT: u64 = 64;
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start_command(dir.path(), "", "", |command| {
        // SAFETY: between fork and exec the closure only calls getrlimit and setrlimit, which
        // are async-signal-safe, and allocates nothing.
        unsafe {
            command.pre_exec(|| {
                let (_, hard) = rlimit::Resource::NOFILE.get()?;
                rlimit::Resource::NOFILE.set(SOFT, hard)
            });
        }
    });
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", agent.pid())).unwrap();
    let line = limits.lines().find(|l| l.starts_with("Max open files")).unwrap();
    let numbers: Vec<u64> = line.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    assert!(numbers[0] > SOFT && numbers[0] == numbers[1], "raised to the hard limit: {line}");

    // Three times as many connections open at once as the limit it was started with.
    let mut connections: Vec<TcpStream> = (0..3 * SOFT).map(|_| TcpStream::connect(agent.addr).unwrap()).collect();
    for connection in &mut connections {
        connection.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        connection.write_all(b"GET /health HTTP/1.1\r\nHost: vigil\r\n\r\n").unwrap();
    }
    for (i, connection) in connections.iter_mut().enumerate() {
        let mut head = [0u8; 12];
        connection.read_exact(&mut head).unwrap_or_else(|e| panic!("connection {i} got no answer: {e}"));
        assert_eq!(&head, b"HTTP/1.1 200", "connection {i}");
    }
}
