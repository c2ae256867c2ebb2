//! `/ws/application` throughput on one connection: 100 logs per text frame, sent as fast as
//! the agent reads them (it stops reading while 64 frames await their commit), counting logs
//! acknowledged. Run: `cargo bench -p vigil --bench ws_ingest -- --seconds 10`.

#[path = "common/agent.rs"]
mod agent;
#[path = "common/traffic.rs"]
mod traffic;

use futures_util::{SinkExt, StreamExt};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use traffic::Traffic;

const PER_MESSAGE: usize = 100;

fn frame(traffic: &mut Traffic) -> String {
    let logs: Vec<serde_json::Value> = traffic
        .records(PER_MESSAGE)
        .iter()
        .map(|r| {
            serde_json::json!({
                "ip": r.ip, "timestamp": jiff::Timestamp::from_millisecond(r.timestamp_ms).unwrap().to_string(),
                "method": r.method, "url": r.url, "status_code": r.status_code, "bytes_sent": r.bytes_sent, "user_agent": r.user_agent,
            })
        })
        .collect();
    serde_json::Value::Array(logs).to_string()
}

fn main() {
    let seconds = agent::arg("--seconds", 10);
    let dir = tempfile::tempdir().unwrap();
    let (server, addr) = agent::start_agent(dir.path(), "");
    // Idle before any load: first start (plugins compiled), nothing connected.
    std::thread::sleep(Duration::from_secs(2));
    let idle_at_start = server.memory_mib();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    runtime.block_on(async move {
        let (socket, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws/application")).await.unwrap();
        let (mut tx, mut rx) = socket.split();
        let now_ms = jiff::Timestamp::now().as_millisecond();
        // Frames are made ahead so the client measures the agent, not its own JSON writing.
        let mut traffic = Traffic::starting_at(5, now_ms);
        let frames: Vec<String> = (0..2_000).map(|_| frame(&mut traffic)).collect();
        let until = Instant::now() + Duration::from_secs(seconds);
        let sender = tokio::spawn(async move {
            let mut sent = 0u64;
            for f in frames.iter().cycle() {
                if Instant::now() >= until {
                    break;
                }
                tx.send(Message::text(f.clone())).await.unwrap();
                sent += 1;
            }
            (sent, tx)
        });
        let started = Instant::now();
        let mut acked = 0u64;
        let mut first_ack_at = None;
        while let Some(Ok(message)) = rx.next().await {
            if let Message::Text(text) = message {
                let v: serde_json::Value = serde_json::from_str(&text).unwrap();
                if v["type"] == "ack" {
                    first_ack_at.get_or_insert(started.elapsed());
                    acked += v["count"].as_u64().unwrap();
                }
                if sender.is_finished() && Instant::now() >= until + Duration::from_secs(2) {
                    break;
                }
            }
            if Instant::now() >= until {
                break;
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        let (sent, _tx) = sender.await.unwrap();
        println!(
            "/ws/application, one connection, {PER_MESSAGE} logs per message: {acked} logs acknowledged in {elapsed:.1} s: {:.0} logs/s ({sent} frames sent)",
            acked as f64 / elapsed
        );
    });
    let peak = server.memory_mib();
    // Idle after the load: the connection is closed and the queues are drained.
    std::thread::sleep(Duration::from_secs(agent::arg("--idle-seconds", 10)));
    let after = server.memory_mib();
    // A restart: the plugins' compiled code is cached in data_dir now, as on every start but
    // the first, and the store already holds the run's events.
    drop(server);
    let (server, _) = agent::start_agent(dir.path(), "");
    std::thread::sleep(Duration::from_secs(2));
    if let (Some((start, _)), Some((_, peak)), Some((after, _)), Some((restarted, _))) =
        (idle_at_start, peak, after, server.memory_mib())
    {
        println!(
            "agent RSS: idle at first start {start:.1} MiB, peak under load {peak:.1} MiB, idle afterwards \
             {after:.1} MiB, idle after a restart {restarted:.1} MiB"
        );
    }
}
