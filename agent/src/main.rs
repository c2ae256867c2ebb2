//! The `vigil` command: parse the command line, set up logging, and call the library.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use vigil::Config;
use vigil::config::plugin_refusal;
use vigil::detect::PluginEngine;
use vigil::telemetry::Telemetry;

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
    /// Check a config file, load its plugins and check its data_dir without starting the
    /// agent; exits non-zero with every problem found.
    Validate {
        /// The config file to check.
        file: PathBuf,
    },
    /// Measure detection quality on the public labeled data sets (CSIC 2010, scanner logs,
    /// HDFS, BGL) with the configured detectors, and print the results table.
    Eval(EvalArgs),
    /// Compile a plugin component into a compiled-plugin cache and exit. The agent runs this
    /// in a child process on a first start, so the compiler's memory never becomes its own.
    #[command(hide = true)]
    CompilePlugin {
        /// The cache directory (data_dir/plugin-cache).
        #[arg(long, value_name = "DIR")]
        cache: PathBuf,
        /// Compile for an engine that meters fuel.
        #[arg(long)]
        fuel: bool,
        /// The component to compile.
        file: PathBuf,
    },
}

#[derive(clap::Args)]
struct EvalArgs {
    /// The folder holding the labeled data (its README lists the data sets).
    #[arg(long, value_name = "DIR", default_value = "../shared/data")]
    data: PathBuf,
    /// Data sets to run, comma-separated: csic, scanners, hdfs, bgl.
    #[arg(long, value_delimiter = ',', default_value = "csic,scanners,hdfs,bgl")]
    sets: Vec<String>,
    /// Events per detector call.
    #[arg(long, default_value_t = 256)]
    batch: usize,
    /// Also write each data set's replayed events as JSON lines into this folder.
    #[arg(long, value_name = "DIR")]
    export: Option<PathBuf>,
    /// Also write the results as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

fn main() -> ExitCode {
    vigil::memory::limit_malloc_arenas();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new().expect("starting the tokio runtime");
    match cli.command {
        Some(Command::Validate { file }) => {
            Telemetry::logging_only();
            validate(&file, &runtime)
        }
        Some(Command::Eval(args)) => {
            Telemetry::logging_only();
            eval(cli.config.as_ref(), args)
        }
        Some(Command::CompilePlugin { cache, fuel, file }) => compile_plugin(&cache, fuel, &file),
        None => {
            // Plugins missing from the compiled-plugin cache are compiled by `vigil
            // compile-plugin` in a child process (see `compile_in_child_processes`).
            if let Ok(exe) = std::env::current_exe() {
                vigil::detect::compile_in_child_processes(exe, vec!["compile-plugin".to_owned()]);
            }
            runtime.block_on(run(cli.config))
        }
    }
}

/// `vigil compile-plugin`: compile one component into the cache.
fn compile_plugin(cache: &std::path::Path, fuel: bool, file: &std::path::Path) -> ExitCode {
    let compiled = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display())).and_then(|bytes| {
        let engine = PluginEngine::with_fuel(Some(cache), fuel).map_err(|e| e.to_string())?;
        engine.compile_into_cache(&bytes).map_err(|e| e.to_string())
    });
    match compiled {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vigil compile-plugin: {e}");
            ExitCode::FAILURE
        }
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

fn validate(file: &PathBuf, runtime: &tokio::runtime::Runtime) -> ExitCode {
    let config = match load(Some(file)) {
        Ok(c) => c,
        Err(code) => return code,
    };
    // What start-up would trip on beyond the file itself: the data directory, and every
    // plugin (a config that names a broken component, or one that refuses its config, is not
    // valid). Each problem is reported, not only the first; a plugin's at its entry's place.
    let name = file.display().to_string();
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let mut problems = Vec::new();
    if let Err(e) = vigil::store::check_data_dir(&config.data_dir) {
        problems.push(format!("{name}: {e}"));
    }
    let mut loaded = Vec::new();
    match PluginEngine::with_fuel(None, config.meters_fuel()) {
        Err(e) => problems.push(format!("{name}: {e}")),
        Ok(engine) => {
            let (started, refused) = vigil::detect::refusals(&engine, &config.detectors);
            loaded.extend(started);
            let detectors = refused.into_iter().map(|(at, error)| ("detectors", at, error));
            let (started, refused) = vigil::summarize::validate(&engine, &config.summarizers);
            loaded.extend(started);
            let summarizers = refused.into_iter().map(|(at, error)| ("summarizers", at, error));
            for (kind, at, error) in detectors.chain(summarizers) {
                problems.push(plugin_refusal(&name, &text, &config, kind, Some(at), &error, false).to_string());
            }
        }
    }
    // With Chroma, what a start would refuse (not Chroma at that URL, credentials missing or
    // refused); Chroma down is only a warning, as a start keeps writes in the outbox meanwhile.
    let mut reached = String::new();
    if config.store.kind == vigil::store::StoreKind::Chroma {
        let client = vigil::vector::ChromaClient::new(&config.chroma);
        match runtime.block_on(vigil::vector::probe_chroma(&client)) {
            Ok(None) => reached = format!("; chroma answers at {}", config.chroma.base_url()),
            Ok(Some(why)) => {
                eprintln!("{name}: warning: {why}; a start would keep writes in the outbox until Chroma answers")
            }
            Err(e) => problems.push(format!("{name}: {e}")),
        }
    }
    if problems.is_empty() {
        println!("{}: ok ({} plugin(s): {}{reached})", file.display(), loaded.len(), loaded.join(", "));
        return ExitCode::SUCCESS;
    }
    for problem in &problems {
        eprintln!("{problem}");
    }
    ExitCode::from(2)
}

fn eval(config_path: Option<&PathBuf>, args: EvalArgs) -> ExitCode {
    let config = match load(config_path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let options = vigil::eval::EvalOptions { data: args.data, sets: args.sets, batch: args.batch, export: args.export };
    let results = PluginEngine::new(None)
        .map_err(vigil::eval::EvalError::from)
        .and_then(|engine| vigil::eval::run(&engine, &config.detectors, &options));
    match results {
        Ok(results) => {
            print!("{}", vigil::eval::render(&results));
            if let Some(path) = args.json {
                let json = serde_json::to_string_pretty(&results).expect("results serialise");
                if let Err(e) = std::fs::write(&path, json) {
                    eprintln!("{}: {e}", path.display());
                    return ExitCode::FAILURE;
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("vigil eval: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run(config_path: Option<PathBuf>) -> ExitCode {
    let config = match load(config_path.as_ref()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    // The log, and OTLP export when [telemetry] asks for it.
    let telemetry = match Telemetry::start(&config.telemetry) {
        Ok(telemetry) => telemetry,
        Err(e) => {
            eprintln!("vigil: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = serve(config_path, config).await;
    // Export what is still queued; blocking, so off the runtime's workers.
    let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
    code
}

async fn serve(config_path: Option<PathBuf>, config: Config) -> ExitCode {
    raise_open_file_limit();
    let shutdown = shutdown_signal();
    let agent = match vigil::Agent::start(&config).await {
        // A config file is watched: changes to it and SIGHUP reload it.
        Ok(agent) => match &config_path {
            Some(path) => agent.watch_config(path.clone()),
            None => agent,
        },
        Err(e) => {
            eprintln!("vigil: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let source = config_path.map_or_else(|| vigil::config::DEFAULT_CONFIG_NAME.to_owned(), |p| p.display().to_string());
    print_summary(&agent, &config, &source);
    // Compiling the plugins with Cranelift (on a first start, before their code is cached in
    // data_dir) and the start-up reads leave tens of MiB freed or cached.
    agent.shrink_store_caches();
    vigil::memory::release_free_heap();
    match agent.serve(shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vigil: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Raise the soft limit on open files to the hard limit, as Go programs do at start and
/// nginx's `worker_rlimit_nofile` is for: every followed file, HTTP connection, WebSocket and
/// SQLite reader holds a descriptor, and at the usual soft limit of 1,024 the next connection
/// is left waiting unanswered. The hard limit stays the operator's (systemd's `LimitNOFILE=`).
fn raise_open_file_limit() {
    #[cfg(unix)]
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open-file limit"),
        Err(e) => tracing::warn!(
            error = %e,
            "cannot raise the open-file limit: connections beyond it wait unanswered; raise it with \
             `ulimit -n` or systemd's LimitNOFILE="
        ),
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

/// What the agent runs with, in a few lines a newcomer can act on. The first line is what
/// scripts wait for: `listening on http://ADDR`.
fn print_summary(agent: &vigil::Agent, config: &Config, source: &str) {
    let addr = agent.local_addr();
    println!("vigil {} listening on http://{addr}", env!("CARGO_PKG_VERSION"));
    // A wildcard address is not one to type into a browser: the same port on loopback is.
    let local =
        if addr.ip().is_unspecified() { std::net::SocketAddr::from(([127, 0, 0, 1], addr.port())) } else { addr };
    println!("  dashboard: http://{local}/ui/");
    println!("  config:    {source}");
    println!("  data dir:  {}", config.data_dir.display());
    let store = &config.store;
    let age = match store.retention_days {
        0 => "no age limit".to_owned(),
        1 => "1 day".to_owned(),
        days => format!("{days} days"),
    };
    let size = match store.max_size_mib {
        0 => "no size limit".to_owned(),
        mib => format!("at most {mib} MiB"),
    };
    let kind = format!("{:?}", store.kind).to_lowercase();
    println!("  store:     {kind} (keeps {age}, {size})");
    for s in &config.sources {
        let format = format!("{:?}", s.parser.format()).to_lowercase();
        println!("  source:    file:{} {} ({format})", s.name, s.file.include.join(", "));
    }
    println!("  source:    ws /ws/application, POST /anomaly_detection (always on)");
    for d in agent.detectors().status() {
        println!("  detector:  {} {} ({}, threshold {})", d.name, d.version, d.source, d.threshold);
    }
    for s in agent.summarizers() {
        println!(
            "  summary:   {} {} ({}, every {:?})",
            s.name,
            s.version,
            s.source,
            std::time::Duration::from_millis(s.window_ms as u64)
        );
    }
    let token = if config.api.token.is_some() {
        "required: Authorization: Bearer <token> (the dashboard asks for it)"
    } else {
        "none: anyone who reaches the address can use the API"
    };
    println!("  token:     {token}");
    let telemetry = match &config.telemetry.otlp {
        None => "off (set [telemetry] otlp_endpoint to export over OTLP)".to_owned(),
        Some(otlp) => {
            let anomalies = if otlp.export_anomalies { ", anomalies as logs" } else { "" };
            let traces = if otlp.export_traces { "traces, " } else { "" };
            format!("OTLP/HTTP to {} ({traces}metrics{anomalies})", otlp.endpoint)
        }
    };
    println!("  telemetry: {telemetry}");
}

/// jemalloc for every Rust allocation: events are allocated by the thread that reads them and
/// freed by the ones that commit and summarize them, which glibc's arenas handle badly (see
/// `vigil::memory`).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read at its first allocation (its `malloc_conf` symbol, with the
/// `_rjem_` prefix of tikv-jemalloc-sys): two arenas instead of four per core. Threads keep
/// their hot sizes in their own caches either way, and fewer arenas hold fewer half-empty
/// pages: `--bench ws_ingest` peak 78.0 -> 73.2-74.4 MiB, idle after the load 40.0 -> 37.9-39.0.
#[cfg(not(target_env = "msvc"))]
#[allow(non_upper_case_globals)]
#[unsafe(export_name = "_rjem_malloc_conf")]
static malloc_conf: &[u8; 10] = b"narenas:2\0";
