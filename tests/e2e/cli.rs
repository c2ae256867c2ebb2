//! The command line: `--help`, `validate`, and start-up errors.

use crate::agent::{binary, plugin_path};
use std::process::Command;

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
    }
}
