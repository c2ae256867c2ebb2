//! The `vigil` command: parse the command line, set up logging, and call the library.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use vigil::Config;
use vigil::detect::{DetectorSet, PluginEngine};

/// Vigil: a sidecar log agent that scores every event for anomalies with WebAssembly plugins.
///
/// With no arguments it runs with the embedded defaults (configs/vigil.toml).
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// The TOML config file to run with.
    #[arg(long, short, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Check a config file and load its plugins without starting the agent; exits non-zero
    /// with every problem found.
    Validate {
        /// The config file to check.
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("VIGIL_LOG").unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Runtime::new().expect("starting the tokio runtime");
    match cli.command {
        Some(Command::Validate { file }) => validate(&file),
        None => runtime.block_on(run(cli.config)),
    }
}

fn load(path: Option<&PathBuf>) -> Result<Config, ExitCode> {
    match path {
        None => Ok(Config::embedded_default()),
        Some(path) => Config::load(path).map_err(|errors| {
            eprintln!("{errors}");
            ExitCode::from(2)
        }),
    }
}

fn validate(file: &PathBuf) -> ExitCode {
    let config = match load(Some(file)) {
        Ok(c) => c,
        Err(code) => return code,
    };
    // Plugins are loaded too: a config that names a broken component is not valid.
    let checked = PluginEngine::new(None).and_then(|engine| DetectorSet::start(&engine, &config.detectors));
    match checked {
        Ok(detectors) => {
            let names: Vec<_> = detectors.status().into_iter().map(|d| format!("{} {}", d.name, d.version)).collect();
            println!("{}: ok ({} detector(s): {})", file.display(), names.len(), names.join(", "));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{}: {e}", file.display());
            ExitCode::from(2)
        }
    }
}

async fn run(config_path: Option<PathBuf>) -> ExitCode {
    let config = match load(config_path.as_ref()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let shutdown = shutdown_signal();
    let agent = match vigil::Agent::start(&config).await {
        Ok(agent) => agent,
        Err(e) => {
            eprintln!("vigil: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let source = config_path.map_or_else(|| vigil::config::DEFAULT_CONFIG_NAME.to_owned(), |p| p.display().to_string());
    println!("vigil {} listening on http://{}", env!("CARGO_PKG_VERSION"), agent.local_addr());
    println!("  config:   {source}");
    println!("  data dir: {}", config.data_dir.display());
    for d in agent.detectors().status() {
        println!("  detector: {} {} ({}, threshold {})", d.name, d.version, d.source, d.threshold);
    }
    match agent.serve(shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vigil: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A future that resolves on Ctrl-C or SIGTERM. The handlers are installed when this is
/// called, not when the future is first polled: a signal that arrives between start-up and
/// serving must not kill the process uncleanly.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing the SIGTERM handler");
    #[cfg(unix)]
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .expect("installing the SIGINT handler");
    async move {
        #[cfg(unix)]
        tokio::select! { _ = interrupt.recv() => {}, _ = term.recv() => {} }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        println!("vigil: shutting down");
    }
}
