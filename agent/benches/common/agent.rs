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

impl Server {
    /// The agent's resident memory now and its peak so far, in MiB, from `/proc/PID/status`
    /// (`VmRSS`, `VmHWM`); `None` off Linux.
    #[allow(dead_code)]
    pub fn memory_mib(&self) -> Option<(f64, f64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.0.id())).ok()?;
        let kib = |key: &str| -> Option<f64> {
            let line = status.lines().find(|l| l.starts_with(key))?;
            line[key.len()..].trim().trim_end_matches("kB").trim().parse::<f64>().ok()
        };
        Some((kib("VmRSS:")? / 1024.0, kib("VmHWM:")? / 1024.0))
    }

    /// CPU time the agent has used so far (user + system, all threads), in seconds, from
    /// `/proc/PID/stat`; `None` off Linux.
    #[allow(dead_code)]
    pub fn cpu_seconds(&self) -> Option<f64> {
        process_cpu_seconds(&self.0.id().to_string())
    }
}

/// User + system CPU time of process `pid` (`self` for this one), from `/proc`.
pub fn process_cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces, so split after its ')').
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some(ticks / per_second)
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
    // `VIGIL_BENCH_BINARY` runs another build of the agent under the same load (A/B runs).
    let binary = std::env::var_os("VIGIL_BENCH_BINARY").unwrap_or_else(|| env!("CARGO_BIN_EXE_vigil").into());
    let mut child = Command::new(binary)
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
