//! Starting and stopping the real binary for a test.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Path of the `vigil` binary under test.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_vigil")
}

/// Path of a plugin compiled by the agent's build script, by package name.
pub fn plugin_path(package: &str) -> PathBuf {
    PathBuf::from(env!("VIGIL_TEST_PLUGIN_DIR")).join(format!("{}.wasm", package.replace('-', "_")))
}

/// A running agent; killed (by its own PID) when dropped.
pub struct Agent {
    child: Child,
    pub addr: SocketAddr,
}

impl Agent {
    /// Write `config` (a TOML body without `data_dir` or `[api]`) into `dir` and start the
    /// agent on it, listening on an ephemeral loopback port.
    pub fn start(dir: &Path, config: &str) -> Agent {
        Agent::start_with_api(dir, "", config)
    }

    /// Like [`Agent::start`], with extra `[api]` lines.
    pub fn start_with_api(dir: &Path, api: &str, config: &str) -> Agent {
        Agent::start_logging_to(dir, api, config, Stdio::inherit())
    }

    /// Like [`Agent::start_with_api`], with the agent's log (stderr) going to `stderr`.
    pub fn start_logging_to(dir: &Path, api: &str, config: &str, stderr: impl Into<Stdio>) -> Agent {
        Agent::start_command(dir, api, config, |command| {
            command.stderr(stderr);
        })
    }

    /// Like [`Agent::start_with_api`], with the command changed by `adjust` before it runs.
    pub fn start_command(dir: &Path, api: &str, config: &str, adjust: impl FnOnce(&mut Command)) -> Agent {
        let path = dir.join("vigil.toml");
        let data_dir = dir.join("data");
        let text =
            format!("data_dir = {:?}\n[api]\naddress = \"127.0.0.1:0\"\n{api}{config}", data_dir.display().to_string());
        std::fs::write(&path, text).unwrap();
        let mut command = Command::new(binary());
        command.arg("--config").arg(&path).stdout(Stdio::piped());
        adjust(&mut command);
        let mut child = command.spawn().expect("starting vigil");
        let addr = read_address(&mut child);
        Agent { child, addr }
    }

    /// Start the agent on the config file at `path`, as it is (it must listen on port 0).
    pub fn start_on_file(path: &Path) -> Agent {
        let mut child =
            Command::new(binary()).arg("--config").arg(path).stdout(Stdio::piped()).spawn().expect("starting vigil");
        let addr = read_address(&mut child);
        Agent { child, addr }
    }

    /// The agent's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Send SIGTERM and wait for the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "vigil did not stop within 20 s of SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Read stdout until the "listening on http://ADDR" line; fail with what was printed.
fn read_address(child: &mut Child) -> SocketAddr {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut printed = String::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(addr) = line.split("listening on http://").nth(1) {
                let _ = tx.send(Ok(addr.trim().parse::<SocketAddr>().unwrap()));
            }
            printed.push_str(&line);
            printed.push('\n');
        }
        let _ = tx.send(Err(printed));
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(Ok(addr)) => addr,
        Ok(Err(printed)) => panic!("vigil exited before listening; stdout:\n{printed}"),
        Err(_) => panic!("vigil did not print its address within 60 s"),
    }
}

/// Today (UTC) as an access log writes it (`02/Dec/2026`): test lines dated today stay within
/// the default 7-day retention, which a fixed date would outlive.
pub fn clf_today() -> String {
    jiff::Timestamp::now().strftime("%d/%b/%Y").to_string()
}

/// Today (UTC) as an RFC 3339 date (`2026-12-02`), for JSON logs; see [`clf_today`].
pub fn iso_today() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%d").to_string()
}
