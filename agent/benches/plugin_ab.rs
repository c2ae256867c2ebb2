//! Two builds of a detector plugin scored side by side, batch by batch, on the same traffic:
//! the comparison to use when this machine's speed drifts (by 20-50% within an hour, which
//! swamps a 5% change measured by two criterion runs one after the other).
//!
//! Run: `cargo bench -p vigil --bench plugin_ab -- --a OLD.wasm --b NEW.wasm`
//! (`builtin:isolation-forest` names the embedded plugin). Options: `--batch N` (1,000),
//! `--rounds N` (400), `--train N` (10,000 events first), `--config JSON` (the plugin's
//! config table, `{}`).
//!
//! Each round scores one fresh batch on each build, the order swapped every round, so both
//! see the same spells of the machine; the report gives each build's events/s over all
//! rounds and the per-round ratio B / A (median and quartiles), which drift cancels out of.

#[path = "common/traffic.rs"]
mod traffic;

use std::time::{Duration, Instant};
use traffic::{Record, Traffic};
use vigil::config::{DetectorSpec, Fallback, PluginLimits, PluginSource};
use vigil::detect::{DetectorHost, PluginEngine};
use vigil::event::Event;

struct Args {
    a: String,
    b: String,
    batch: usize,
    rounds: usize,
    train: usize,
    config: String,
}

fn parse_args() -> Result<Args, String> {
    let mut args =
        Args { a: String::new(), b: String::new(), batch: 1_000, rounds: 400, train: 10_000, config: "{}".into() };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        // `cargo bench` passes `--bench` to every bench binary.
        if flag == "--bench" {
            continue;
        }
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let number = |v: String| v.parse::<usize>().map_err(|e| format!("{flag} {v}: {e}"));
        match flag.as_str() {
            "--a" => args.a = value()?,
            "--b" => args.b = value()?,
            "--batch" => args.batch = number(value()?)?,
            "--rounds" => args.rounds = number(value()?)?,
            "--train" => args.train = number(value()?)?,
            "--config" => args.config = value()?,
            other => return Err(format!("unknown option {other}")),
        }
    }
    if args.a.is_empty() || args.b.is_empty() {
        return Err("both --a and --b are needed".into());
    }
    if args.batch == 0 || args.rounds < 4 {
        return Err("--batch must be at least 1 and --rounds at least 4".into());
    }
    Ok(args)
}

fn source(name: &str) -> PluginSource {
    match name.strip_prefix("builtin:") {
        Some("isolation-forest") => PluginSource::Builtin("isolation-forest"),
        Some("kmeans") => PluginSource::Builtin("kmeans"),
        Some(other) => panic!("no builtin plugin {other:?}"),
        None => PluginSource::File(name.into()),
    }
}

/// A started, trained detector and its own copy of the traffic (the same sequence for both).
struct Side {
    name: String,
    host: DetectorHost,
    traffic: Traffic,
    busy: Duration,
}

impl Side {
    fn start(engine: &PluginEngine, name: &str, args: &Args) -> Side {
        let spec = DetectorSpec {
            name: None,
            source: source(name),
            threshold: 0.6,
            limits: PluginLimits { max_memory_bytes: 512 << 20, call_timeout: Duration::from_secs(30), fuel: None },
            config_json: args.config.clone(),
            fallback: Fallback::None,
            snapshot_interval: None,
        };
        let mut host = DetectorHost::start(engine, &spec).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut traffic = Traffic::new(7);
        let training: Vec<Event> = traffic.records(args.train).iter().map(Record::host_event).collect();
        host.train(&training).unwrap_or_else(|e| panic!("{name}: train: {e}"));
        Side { name: name.to_owned(), host, traffic, busy: Duration::ZERO }
    }

    /// Score the next batch; its time in seconds.
    fn round(&mut self, n: usize) -> f64 {
        let batch: Vec<Event> = self.traffic.records(n).iter().map(Record::host_event).collect();
        let started = Instant::now();
        let verdicts = self.host.score(&batch).unwrap_or_else(|e| panic!("{}: score: {e}", self.name));
        let took = started.elapsed();
        assert_eq!(verdicts.len(), n, "{}: one verdict per event", self.name);
        self.busy += took;
        took.as_secs_f64()
    }
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn main() {
    let args = parse_args().unwrap_or_else(|e| {
        eprintln!("plugin_ab: {e}\nusage: plugin_ab --a OLD.wasm --b NEW.wasm [--batch N] [--rounds N] [--train N] [--config JSON]");
        std::process::exit(2)
    });
    let engine = PluginEngine::new(None).expect("engine");
    let mut a = Side::start(&engine, &args.a, &args);
    let mut b = Side::start(&engine, &args.b, &args);
    // A few rounds unmeasured, so both have compiled, faulted in and settled.
    for _ in 0..4 {
        a.round(args.batch);
        b.round(args.batch);
    }
    (a.busy, b.busy) = (Duration::ZERO, Duration::ZERO);

    let mut ratios = Vec::with_capacity(args.rounds);
    for round in 0..args.rounds {
        let (ta, tb) = if round % 2 == 0 {
            let ta = a.round(args.batch);
            (ta, b.round(args.batch))
        } else {
            let tb = b.round(args.batch);
            (a.round(args.batch), tb)
        };
        // Throughput ratio: B's events/s over A's.
        ratios.push(ta / tb);
    }
    ratios.sort_by(f64::total_cmp);
    let events = (args.batch * args.rounds) as f64;
    println!("batch {}, {} rounds of each, alternated", args.batch, args.rounds);
    println!("A {:>10.0} events/s  {}", events / a.busy.as_secs_f64(), a.name);
    println!("B {:>10.0} events/s  {}", events / b.busy.as_secs_f64(), b.name);
    println!(
        "B / A per round: median {:.3}, quartiles {:.3}-{:.3}",
        quantile(&ratios, 0.5),
        quantile(&ratios, 0.25),
        quantile(&ratios, 0.75)
    );
}
