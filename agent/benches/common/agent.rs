//! Starting the real `vigil` binary for a benchmark, on an ephemeral loopback port, and
//! reading the benchmark's own options.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The agent process; killed when dropped.
pub struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start the agent in `dir` with `extra` config appended (after `[api]`).
pub fn start_agent(dir: &Path, extra: &str) -> (Server, SocketAddr) {
    let config = dir.join("vigil.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\n[api]\naddress = \"127.0.0.1:0\"\nmax_batch_logs = 10000\n{extra}\n[[detectors]]\nplugin = \"builtin:isolation-forest\"\n",
            dir.join("data").display().to_string()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .arg("--config")
        .arg(&config)
        .env("VIGIL_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting vigil");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines.next().expect("vigil exited before listening").unwrap();
        if let Some(a) = line.split("listening on http://").nth(1) {
            break a.trim().parse().unwrap();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (Server(child), addr)
}

/// The number after `--name` on the command line, or `default`.
pub fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}
