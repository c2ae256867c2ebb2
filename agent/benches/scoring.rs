//! Isolation Forest scoring throughput: the default plugin as a .wasm component through the
//! agent's plugin host, and the same Rust code called natively, at batches of 1, 1,000 and
//! 10,000 events; the same for the k-means plugin at 1,000 and 10,000.
//! Run: `cargo bench -p vigil --bench scoring`.

#[path = "common/traffic.rs"]
mod traffic;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::time::Duration;
use traffic::{Record, Traffic};
use vigil::config::{DetectorSpec, PluginLimits, PluginSource};
use vigil::detect::{DetectorHost, PluginEngine};
use vigil::event::Event;
use vigil_isolation_forest::IsolationForestDetector;
use vigil_kmeans::KMeansDetector;
use vigil_plugin_sdk::{Detector, OwnedEvent, Settings, borrow_all};

const TRAINING: usize = 10_000;
const BATCHES: [usize; 3] = [1, 1_000, 10_000];

fn sdk_event(r: &Record) -> OwnedEvent {
    OwnedEvent {
        timestamp_ms: r.timestamp_ms,
        ip: r.ip.clone(),
        method: r.method.to_owned(),
        url: r.url.clone(),
        status_code: r.status_code,
        bytes_sent: r.bytes_sent,
        user_agent: r.user_agent.to_owned(),
        raw: String::new(),
    }
}

fn scoring(c: &mut Criterion) {
    let mut traffic = Traffic::new(7);
    let training = traffic.records(TRAINING);
    let scoring = traffic.records(*BATCHES.last().unwrap());

    let engine = PluginEngine::new(None).expect("engine");
    let spec = DetectorSpec {
        name: None,
        // VIGIL_BENCH_PLUGIN=path.wasm benchmarks another build of the plugin (an unstripped
        // one for `perf`, say) in place of the embedded one.
        source: std::env::var_os("VIGIL_BENCH_PLUGIN")
            .map_or(PluginSource::Builtin("isolation-forest"), |p| PluginSource::File(p.into())),
        threshold: 0.6,
        limits: PluginLimits { max_memory_bytes: 512 << 20, call_timeout: Duration::from_secs(30), fuel: None },
        config_json: "{}".into(),
        fallback: vigil::config::Fallback::None,
        snapshot_interval: None,
    };
    let mut wasm = DetectorHost::start(&engine, &spec.clone()).expect("builtin plugin starts");
    let host_training: Vec<Event> = training.iter().map(Record::host_event).collect();
    wasm.train(&host_training).expect("wasm train");

    let settings = Settings { threshold: 0.6 };
    let mut native =
        IsolationForestDetector::new(serde_json::from_str("{}").unwrap(), &settings).expect("native detector");
    let sdk_training: Vec<_> = training.iter().map(sdk_event).collect();
    native.train(&borrow_all(&sdk_training)).expect("native train");

    // Every iteration scores fresh events from the generator (made outside the timing), so
    // time moves forward and the detector sees traffic as it would live; replaying one batch
    // would pile the same clients into the same second and turn everything anomalous.
    // Both paths draw the same sequence.
    let mut wasm_traffic = Traffic::new(7);
    let mut native_traffic = Traffic::new(7);
    wasm_traffic.records(TRAINING);
    native_traffic.records(TRAINING);
    let mut group = c.benchmark_group("isolation_forest_score");
    for &n in &BATCHES {
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(BenchmarkId::new("wasm", n), |b| {
            b.iter_batched(
                || wasm_traffic.records(n).iter().map(Record::host_event).collect::<Vec<_>>(),
                |batch| wasm.score(&batch).expect("wasm score"),
                BatchSize::LargeInput,
            )
        });
        group.bench_function(BenchmarkId::new("native", n), |b| {
            b.iter_batched(
                || native_traffic.records(n).iter().map(sdk_event).collect::<Vec<_>>(),
                |batch| native.score(&borrow_all(&batch)).expect("native score"),
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();

    // The k-means detector (builtin:kmeans), trained on the same events, the same way.
    let kmeans_spec = DetectorSpec { source: PluginSource::Builtin("kmeans"), ..spec.clone() };
    let mut kmeans_wasm = DetectorHost::start(&engine, &kmeans_spec).expect("kmeans plugin starts");
    kmeans_wasm.train(&host_training).expect("kmeans wasm train");
    let mut kmeans_native = KMeansDetector::new(serde_json::from_str("{}").unwrap(), &settings).expect("kmeans");
    kmeans_native.train(&borrow_all(&sdk_training)).expect("kmeans native train");
    let mut group = c.benchmark_group("kmeans_score");
    for &n in &BATCHES[1..] {
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(BenchmarkId::new("wasm", n), |b| {
            b.iter_batched(
                || wasm_traffic.records(n).iter().map(Record::host_event).collect::<Vec<_>>(),
                |batch| kmeans_wasm.score(&batch).expect("kmeans wasm score"),
                BatchSize::LargeInput,
            )
        });
        group.bench_function(BenchmarkId::new("native", n), |b| {
            b.iter_batched(
                || native_traffic.records(n).iter().map(sdk_event).collect::<Vec<_>>(),
                |batch| kmeans_native.score(&borrow_all(&batch)).expect("kmeans native score"),
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();

    // The boundary alone: a component that only answers a constant score per event.
    let constant = DetectorSpec {
        source: PluginSource::File(
            format!("{}/vigil_fixture_constant_score.wasm", env!("VIGIL_TEST_PLUGIN_DIR")).into(),
        ),
        config_json: r#"{"score":0.5}"#.into(),
        fallback: vigil::config::Fallback::None,
        snapshot_interval: None,
        ..spec
    };
    let mut boundary = DetectorHost::start(&engine, &constant).expect("fixture starts");
    let mut group = c.benchmark_group("wasm_boundary");
    for &n in &BATCHES {
        group.throughput(Throughput::Elements(n as u64));
        let host_batch: Vec<Event> = scoring[..n].iter().map(Record::host_event).collect();
        group.bench_with_input(BenchmarkId::new("constant_score", n), &host_batch, |b, batch| {
            b.iter(|| boundary.score(batch).expect("fixture score"))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(2));
    targets = scoring
}
criterion_main!(benches);
