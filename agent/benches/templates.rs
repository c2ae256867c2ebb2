//! Template mining on the 16 loghub 2k samples: grouping accuracy (the loghub benchmark's GA)
//! against each line's true template, and lines mined per second, with one miner config for
//! every system.
//! Run: `cargo bench -p vigil --bench templates` (`-- --input raw` mines whole log lines,
//! header stripped as for a `raw` source, instead of the messages the loghub benchmark uses;
//! `--repeat N` times N passes).

#[path = "../src/templates/loghub.rs"]
mod loghub;

use std::time::Instant;
use vigil::templates::{Miner, MinerConfig, grouping_accuracy};

fn arg<T: std::str::FromStr>(name: &str, default: T) -> T {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|at| args.get(at + 1))
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{name}: cannot read {v:?}")))
        .unwrap_or(default)
}

fn main() {
    let Some(root) = loghub::root() else {
        eprintln!("../shared/data/loghub is absent: nothing to measure (see the data README)");
        return;
    };
    let input: String = arg("--input", "content".to_owned());
    let repeat: usize = arg("--repeat", 20);
    let defaults = MinerConfig::default();
    let config = MinerConfig {
        depth: arg("--depth", defaults.depth),
        similarity: arg("--similarity", defaults.similarity),
        max_children: arg("--max-children", defaults.max_children),
        max_clusters: arg("--max-clusters", defaults.max_clusters),
        ..defaults
    };
    println!("input: {input}; {config:?}; throughput over {repeat} passes, a fresh miner each");
    println!("{:<12} {:>6} {:>10} {:>10} {:>12}", "system", "GA", "templates", "true", "lines/s");
    let (mut ga_sum, mut lines, mut seconds) = (0.0, 0usize, 0.0);
    for system in loghub::SYSTEMS {
        let sample = loghub::load(&root, system).unwrap_or_else(|e| panic!("{e}"));
        // `raw`: whole lines, read as the agent reads a `raw` source's lines (header stripped).
        let raw: Vec<String> = sample.raw.iter().map(|line| vigil::templates::strip_header(line).to_owned()).collect();
        let text = if input == "raw" { &raw } else { &sample.content };
        let mut miner = Miner::new(config.clone());
        let ids: Vec<i64> = text.iter().map(|line| miner.add(line).map_or(0, |m| m.id)).collect();
        let ga = grouping_accuracy(&sample.truth, &ids);
        let truth: std::collections::HashSet<&String> = sample.truth.iter().collect();
        let started = Instant::now();
        for _ in 0..repeat {
            let mut miner = Miner::new(config.clone());
            for line in text {
                std::hint::black_box(miner.add(line));
            }
        }
        let took = started.elapsed().as_secs_f64();
        let rate = (text.len() * repeat) as f64 / took;
        println!("{system:<12} {ga:>6.3} {:>10} {:>10} {rate:>12.0}", miner.len(), truth.len());
        ga_sum += ga;
        lines += text.len() * repeat;
        seconds += took;
    }
    println!("{:<12} {:>6.3} {:>10} {:>10} {:>12.0}", "mean", ga_sum / 16.0, "", "", lines as f64 / seconds);
}
