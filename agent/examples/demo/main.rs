//! The Vigil demo: a small web shop's traffic with incidents, to watch the dashboard work.
//!
//! ```sh
//! cargo run --release --example demo          # then open http://127.0.0.1:8420/ui/
//! ```
//!
//! It starts the agent in this process with `configs/demo.toml` (data in `target/vigil-demo/`),
//! then plays normal traffic and, once the detector has learned it, one incident after
//! another: a vulnerability scan, an error burst, a slow endpoint, credential stuffing and a
//! traffic spike. Pages and static files go to an nginx-style access log that the agent tails;
//! the JSON API's requests go to `/ws/application`, as an application backend would send them.
//! `--agent http://HOST:PORT` sends to an agent already running with the same config instead.

mod incidents;
mod outputs;
mod traffic;

use clap::Parser;
use incidents::{Incident, SCHEDULE};
use outputs::{AccessLog, Acks, AppSocket};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Plays a web shop's traffic, with incidents, into Vigil.
#[derive(Parser)]
struct Args {
    /// The agent's config; its first file source's file is where the access log is written.
    #[arg(long, default_value = "configs/demo.toml")]
    config: PathBuf,
    /// Send to an agent already running with that config (http://HOST:PORT) instead of
    /// starting one in this process.
    #[arg(long, value_name = "URL")]
    agent: Option<String>,
    /// The agent's API token, when its config sets one.
    #[arg(long)]
    token: Option<String>,
    /// Normal requests per second.
    #[arg(long, default_value_t = 40)]
    rate: u32,
    /// Seconds of normal traffic before the first incident (the detector learns meanwhile).
    #[arg(long, default_value_t = 30)]
    warmup: u64,
    /// Rounds of the five incidents; 0 plays until Ctrl-C.
    #[arg(long, default_value_t = 0)]
    rounds: u32,
    /// Keep the data and log of a previous run (by default each run starts fresh).
    #[arg(long)]
    keep_data: bool,
    /// Random seed, for traffic that is the same run after run.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

/// Time between two batches of requests.
const TICK: Duration = Duration::from_millis(250);
/// Normal traffic between two incidents.
const CALM: Duration = Duration::from_secs(10);

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("VIGIL_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    match run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    // The config's relative paths (data dir, log file) are relative to the repository root,
    // wherever cargo was started from.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::env::set_current_dir(&root).map_err(|e| format!("cannot enter {}: {e}", root.display()))?;
    let config = vigil::Config::load(&args.config).map_err(|e| e.to_string())?;
    let log_path = config.sources.first().and_then(|s| s.file.include.first()).map(PathBuf::from).ok_or_else(|| {
        format!("{}: the demo needs a [[sources]] file to write its access log to", args.config.display())
    })?;

    let (stop_agent, agent_stopped) = tokio::sync::oneshot::channel::<()>();
    let (base, served) = match &args.agent {
        Some(url) => (url.trim_end_matches('/').to_owned(), None),
        None => {
            if !args.keep_data {
                fresh_start(&config.data_dir, &log_path)?;
            }
            // The log exists before the agent starts, so it is tailed from its first line.
            AccessLog::open(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
            let agent = vigil::Agent::start(&config).await.map_err(|e| format!("cannot start the agent: {e}"))?;
            let base = format!("http://{}", agent.local_addr());
            let served = tokio::spawn(agent.serve(async move {
                let _ = agent_stopped.await;
            }));
            (base, Some(served))
        }
    };

    let mut log = AccessLog::open(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    let acks = Arc::new(Acks::default());
    let ws_base = base.replacen("http", "ws", 1);
    let query = args.token.as_deref().map(|t| format!("?token={t}")).unwrap_or_default();
    let mut socket = AppSocket::connect(&format!("{ws_base}/ws/application{query}"), acks.clone()).await?;

    println!("Vigil demo: a web shop's traffic with incidents, into the agent at {base}");
    println!(
        "  dashboard:  {base}/ui/{}",
        if args.token.is_some() { " (enter the token at the top right)" } else { "" }
    );
    println!("  access log: {} (tailed by the agent)", log.path().display());
    println!("  API logs:   {ws_base}/ws/application");
    println!(
        "  {} requests/s; the first incident in {} s, while the detector learns. Ctrl-C stops.",
        args.rate, args.warmup
    );

    let mut rng = fastrand::Rng::with_seed(args.seed);
    let clients = traffic::Clients::new(&mut rng, 400);
    let mut plan = Plan::new(Duration::from_secs(args.warmup), args.rounds);
    let mut ticker = tokio::time::interval(TICK);
    let mut sent = Sent::default();
    let mut last_report = Instant::now();
    let started = Instant::now();
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);

    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = &mut interrupted => break,
        }
        let Some(incident) = plan.step(started.elapsed()) else { break };
        let at = jiff::Timestamp::now();
        let count = normal_count(&mut rng, args.rate * incident.map_or(1, Incident::rate_factor));
        let mut requests: Vec<_> = (0..count).map(|_| traffic::normal(&mut rng, &clients)).collect();
        if let Some(incident) = incident {
            requests.extend(incident.extra(&mut rng, &clients, TICK));
            requests.iter_mut().for_each(|r| incident.bend(&mut rng, r));
        }
        let (api, web): (Vec<_>, Vec<_>) = requests.into_iter().partition(traffic::Request::is_api);
        log.write(at, &web).map_err(|e| format!("{}: {e}", log.path().display()))?;
        socket.send(at, &api).await.map_err(|e| format!("/ws/application: {e}"))?;
        sent.web += web.len() as u64;
        sent.api += api.len() as u64;
        if last_report.elapsed() >= Duration::from_secs(10) {
            last_report = Instant::now();
            println!(
                "  [{}] sent {} to the access log, {} over /ws/application ({} committed, {} anomalies)",
                clock(),
                sent.web,
                sent.api,
                acks.committed.load(Ordering::Relaxed),
                acks.anomalies.load(Ordering::Relaxed),
            );
        }
    }

    println!("demo: stopping");
    let _ = stop_agent.send(());
    if let Some(served) = served {
        served.await.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Requests sent so far, by destination.
#[derive(Default)]
struct Sent {
    web: u64,
    api: u64,
}

/// Which incident runs when: warm-up, then each incident followed by a calm spell.
struct Plan {
    warmup: Duration,
    rounds: u32,
    current: Option<(usize, Duration)>,
    announced: Option<usize>,
}

impl Plan {
    fn new(warmup: Duration, rounds: u32) -> Plan {
        Plan { warmup, rounds, current: None, announced: None }
    }

    /// The incident running at `elapsed` (announced when it starts); `None` inside means
    /// normal traffic; an outer `None` means the rounds are over.
    fn step(&mut self, elapsed: Duration) -> Option<Option<Incident>> {
        if elapsed < self.warmup {
            return Some(None);
        }
        let slot = |i: usize| SCHEDULE[i % SCHEDULE.len()].duration() + CALM;
        let (index, started) = self.current.get_or_insert((0, self.warmup));
        while elapsed >= *started + slot(*index) {
            *started += slot(*index);
            *index += 1;
        }
        if self.rounds > 0 && *index >= self.rounds as usize * SCHEDULE.len() {
            return None;
        }
        let incident = SCHEDULE[*index % SCHEDULE.len()];
        let into = elapsed - *started;
        if self.announced != Some(*index) {
            self.announced = Some(*index);
            println!("  [{}] incident: {}", clock(), incident.describe());
        }
        Some((into < incident.duration()).then_some(incident))
    }
}

/// Requests in one tick at `per_second`, with the tick's share rounded at random.
fn normal_count(rng: &mut fastrand::Rng, per_second: u32) -> usize {
    let exact = f64::from(per_second) * TICK.as_secs_f64();
    exact.floor() as usize + usize::from(rng.f64() < exact.fract())
}

/// The time now, UTC, for the terminal.
fn clock() -> String {
    jiff::Timestamp::now().strftime("%H:%M:%S UTC").to_string()
}

/// Remove the previous run's data dir and log, so the detector learns from this run.
fn fresh_start(data_dir: &Path, log: &Path) -> Result<(), String> {
    for path in [data_dir, log] {
        let removed = if path.is_dir() { std::fs::remove_dir_all(path) } else { std::fs::remove_file(path) };
        match removed {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(format!("cannot remove {} from the last run: {e}", path.display()));
            }
            _ => {}
        }
    }
    Ok(())
}
