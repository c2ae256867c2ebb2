//! The attack signatures (`vigil::attack`) over real requests: CSIC 2010's 36,000 normal
//! requests and 25,065 attacks, each with a browser's user agent and a referer, as `/chat`'s
//! SQL function sees them. Prints what they flag, and requests matched per second for one
//! kind, for any kind, and for the kinds of each request.
//! Run: `cargo bench -p vigil --bench attack` (`--repeat N` passes, 5 by default).

use std::path::PathBuf;
use std::time::Instant;
use vigil::attack::{AttackKind, Matcher};

const USER_AGENT: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
const REFERER: &str = "http://localhost:8080/tienda1/publico/productos.jsp";

fn requests(file: &str) -> Option<Vec<String>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/csic2010/oneline_full").join(file);
    let bytes = std::fs::read(&path).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    // `<method> <url>[?<post body>]`, lower case, URL-decoded once (the data's README).
    Some(text.split('\n').filter_map(|l| l.trim_end_matches('\r').split_once(' ').map(|(_, u)| u.to_owned())).collect())
}

fn main() {
    let repeat: usize =
        std::env::args().skip_while(|a| a != "--repeat").nth(1).map(|v| v.parse().expect("--repeat N")).unwrap_or(5);
    let (Some(normal), Some(attacks)) = (requests("normal.txt"), requests("anomalous.txt")) else {
        eprintln!("../shared/data/csic2010 is absent: nothing to measure (see the data README)");
        return;
    };
    let mut matcher = Matcher::default();
    for (name, set) in [("normal", &normal), ("attacks", &attacks)] {
        let mut by_kind = [0usize; 5];
        let mut any = 0;
        for url in set.iter() {
            let kinds = matcher.kinds(url, USER_AGENT, REFERER);
            any += usize::from(!kinds.is_empty());
            for kind in kinds {
                by_kind[kind as usize] += 1;
            }
        }
        let listed: Vec<String> =
            AttackKind::ALL.iter().map(|k| format!("{} {}", k.name(), by_kind[*k as usize])).collect();
        println!("{name}: {} requests, {any} flagged ({})", set.len(), listed.join(", "));
    }
    let all: Vec<&String> = normal.iter().chain(&attacks).collect();
    let mut measure = |label: &str, work: &mut dyn FnMut(&mut Matcher, &str) -> bool| {
        let started = Instant::now();
        let mut hits = 0usize;
        for _ in 0..repeat {
            for url in &all {
                hits += usize::from(work(&mut matcher, url));
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        let n = (all.len() * repeat) as f64;
        println!("{label:<28} {:>10.0} requests/s {:>8.0} ns each ({hits} hits)", n / seconds, seconds * 1e9 / n);
    };
    measure("one kind (SQL injection)", &mut |m, url| {
        m.looks_like(Some(AttackKind::SqlInjection), url, USER_AGENT, REFERER)
    });
    measure("any kind", &mut |m, url| m.looks_like(None, url, USER_AGENT, REFERER));
    measure("the kinds of each", &mut |m, url| !m.kinds(url, USER_AGENT, REFERER).is_empty());
}
