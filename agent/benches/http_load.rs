//! Load test of `POST /anomaly_detection` over loopback: starts the real `vigil` binary with
//! the default Isolation Forest and drives it with concurrent keep-alive HTTP/1.1 clients.
//! Reports logs/s at batch 1,000 (with the share of them answered as anomalies, each of which
//! costs an index entry) and requests/s with p50/p99 latency at batch 1.
//! Run: `cargo bench -p vigil --bench http_load` (options: `-- --seconds 10 --connections 4`).

#[path = "common/agent.rs"]
mod agent;
#[path = "common/traffic.rs"]
mod traffic;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use traffic::{Record, Traffic};

/// One log of the request body, borrowed from its record: serialising it directly (not
/// through `serde_json::Value`) keeps the load client's share of the two cores small.
#[derive(serde::Serialize)]
struct Log<'a> {
    ip: &'a str,
    timestamp: String,
    method: &'a str,
    url: &'a str,
    status_code: u16,
    bytes_sent: u64,
    user_agent: &'a str,
}

#[derive(serde::Serialize)]
struct Body<'a> {
    logs: Vec<Log<'a>>,
}

fn body(records: &[Record]) -> Bytes {
    let logs = records
        .iter()
        .map(|r| Log {
            ip: &r.ip,
            timestamp: jiff::Timestamp::from_millisecond(r.timestamp_ms).unwrap().to_string(),
            method: r.method,
            url: &r.url,
            status_code: r.status_code,
            bytes_sent: r.bytes_sent,
            user_agent: r.user_agent,
        })
        .collect();
    Bytes::from(serde_json::to_vec(&Body { logs }).unwrap())
}

/// One keep-alive connection sending batches of `batch` fresh events (time moving forward, as
/// in real traffic) until `until`; returns the latencies and the anomalies its answers counted.
async fn client(addr: SocketAddr, seed: u64, batch: usize, until: Instant) -> (Vec<Duration>, u64) {
    let now_ms = jiff::Timestamp::now().as_millisecond();
    let mut traffic = Traffic::starting_at(seed, now_ms);
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    let mut latencies = Vec::new();
    let mut anomalies = 0;
    while Instant::now() < until {
        let body = body(&traffic.records(batch));
        let request = Request::post("/anomaly_detection")
            .header("host", addr.to_string())
            .header("content-type", "application/json")
            .body(Full::new(body))
            .unwrap();
        let started = Instant::now();
        let response = sender.send_request(request).await.unwrap();
        let status = response.status();
        let answer = response.into_body().collect().await.unwrap().to_bytes();
        assert!(status.is_success(), "{status}: {}", String::from_utf8_lossy(&answer));
        latencies.push(started.elapsed());
        anomalies += anomalies_detected(&answer);
    }
    (latencies, anomalies)
}

/// `anomalies_detected` of an answer, read without decoding the whole body (which would take
/// CPU from the agent under test).
fn anomalies_detected(answer: &[u8]) -> u64 {
    const KEY: &[u8] = b"\"anomalies_detected\":";
    let at = answer.windows(KEY.len()).position(|w| w == KEY).expect("the answer counts its anomalies") + KEY.len();
    answer[at..].iter().take_while(|b| b.is_ascii_digit()).fold(0, |n, b| n * 10 + u64::from(b - b'0'))
}

/// What `connections` clients sent at batch `batch` for `seconds`: every request's latency,
/// the anomalies the answers counted, and the wall time.
async fn run(addr: SocketAddr, batch: usize, connections: usize, seconds: u64) -> (Vec<Duration>, u64, Duration) {
    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    let tasks: Vec<_> = (0..connections).map(|c| tokio::spawn(client(addr, 11 + c as u64, batch, until))).collect();
    let (mut all, mut anomalies) = (Vec::new(), 0);
    for t in tasks {
        let (latencies, found) = t.await.unwrap();
        all.extend(latencies);
        anomalies += found;
    }
    (all, anomalies, started.elapsed())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let seconds = agent::arg("--seconds", 10);
    let connections = agent::arg("--connections", 4) as usize;
    let dir = tempfile::tempdir().unwrap();
    let (server, addr) = agent::start_agent(dir.path(), "");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();

    // The agent's CPU per log or request: steadier than throughput on a machine the load
    // client shares.
    let cpu = || server.cpu_seconds().unwrap_or(f64::NAN);
    // The load client's own CPU: it shares the machine's cores with the agent.
    let client_cpu = || agent::process_cpu_seconds("self").unwrap_or(f64::NAN);
    runtime.block_on(async {
        run(addr, 5_000, 1, 1).await;
        let (before, client_before) = (cpu(), client_cpu());
        let (lat, anomalies, elapsed) = run(addr, 1_000, connections, seconds).await;
        let logs = lat.len() as f64 * 1000.0;
        println!(
            "batch 1000: {connections} connections, {} requests in {:.1} s: {:.0} logs/s, agent CPU {:.2} µs per log, \
             load client CPU {:.2} µs per log, {:.1}% anomalies",
            lat.len(),
            elapsed.as_secs_f64(),
            logs / elapsed.as_secs_f64(),
            (cpu() - before) * 1e6 / logs,
            (client_cpu() - client_before) * 1e6 / logs,
            anomalies as f64 * 100.0 / logs
        );

        let before = cpu();
        let (mut lat, _, elapsed) = run(addr, 1, connections, seconds).await;
        let requests = lat.len() as f64;
        lat.sort();
        println!(
            "batch 1:    {connections} connections, {} requests in {:.1} s: {:.0} req/s, p50 {:?}, p99 {:?}, agent CPU \
             {:.1} µs per request",
            lat.len(),
            elapsed.as_secs_f64(),
            requests / elapsed.as_secs_f64(),
            percentile(&lat, 0.50),
            percentile(&lat, 0.99),
            (cpu() - before) * 1e6 / requests
        );
    });
    if let Some((_, peak)) = server.memory_mib() {
        println!("agent peak RSS: {peak:.1} MiB");
    }
}
