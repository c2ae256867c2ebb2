//! Vigil with `[store] kind = "chroma"` against a real ChromaDB 1.5.9 server that each test
//! starts itself (`python -c 'import chromadb_rust_bindings ...'`, a free port, a fresh data
//! dir, stopped by PID). What Vigil wrote is read back through Chroma's own HTTP API, not
//! through the crate Vigil writes with.

mod auth;
mod refill;

use crate::agent::Agent;
use crate::http::request;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

const INSTALL: &str = "pip install --no-deps chromadb==1.5.9";

/// A Chroma server started by this test; stopped (SIGTERM by PID, then SIGKILL) when dropped.
struct Chroma {
    child: Option<Child>,
    addr: SocketAddr,
    dir: PathBuf,
}

fn python() -> String {
    std::env::var("VIGIL_TEST_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

impl Chroma {
    /// Start Chroma on a free loopback port with a fresh data dir under `dir`.
    fn start(dir: &Path) -> Chroma {
        let probe = Command::new(python()).args(["-c", "import chromadb_rust_bindings"]).output();
        match probe {
            Ok(out) if out.status.success() => {}
            Ok(out) => panic!(
                "ChromaDB is not installed for {}: {}\nInstall it with: {INSTALL}",
                python(),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            Err(e) => panic!("cannot run {} ({e}); ChromaDB's tests need Python with: {INSTALL}", python()),
        }
        let port = free_port();
        let mut chroma =
            Chroma { child: None, addr: SocketAddr::from(([127, 0, 0, 1], port)), dir: dir.join("chroma") };
        chroma.run();
        chroma
    }

    /// Start (again) on this server's port and data dir, and wait for its heartbeat.
    fn run(&mut self) {
        let script = format!(
            "import chromadb_rust_bindings as b; b.cli(['chroma','run','--path',{:?},'--host','127.0.0.1','--port','{}'])",
            self.dir.display().to_string(),
            self.addr.port()
        );
        let child = Command::new(python())
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start chroma: {e}; install it with: {INSTALL}"));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if TcpStream::connect(self.addr).is_ok() && request(self.addr, "GET", "/api/v2/heartbeat", None).0 == 200 {
                // The answer must come from our server, not from another process on the port.
                std::thread::sleep(Duration::from_millis(200));
                let exited = self.child.as_mut().unwrap().try_wait().unwrap();
                assert!(exited.is_none(), "chroma exited ({exited:?}): is port {} taken?", self.addr.port());
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("chroma exited with {status} before answering its heartbeat");
            }
            assert!(Instant::now() < deadline, "chroma did not answer /api/v2/heartbeat within 60 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM by PID and wait for the exit.
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.wait();
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn path(&self, collection: &str, op: &str) -> String {
        op_path(self.addr, collection, op)
    }

    /// Records in `collection`; 0 while it does not exist yet.
    fn count(&self, collection: &str) -> u64 {
        let base = "/api/v2/tenants/default_tenant/databases/default_database/collections";
        if request(self.addr, "GET", &format!("{base}/{collection}"), None).0 == 404 {
            return 0;
        }
        let (status, body) = request(self.addr, "GET", &self.path(collection, "count"), None);
        assert_eq!(status, 200, "{body}");
        body.as_u64().unwrap()
    }

    fn get(&self, collection: &str, body: Value) -> Value {
        let (status, body) = request(self.addr, "POST", &self.path(collection, "get"), Some(&body));
        assert_eq!(status, 200, "{body}");
        body
    }
}

/// A free loopback port below the kernel's ephemeral range (32768 and up here), so no port-0
/// bind of another test (an agent, another Chroma) can take it while a Chroma is stopped for
/// an outage and restarted on it.
fn free_port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = 20_000 + (std::process::id() % 500) as u16 * 20;
    loop {
        let port = base + NEXT.fetch_add(1, Ordering::Relaxed) % 2_000;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Chroma's v2 path of `collection`'s operation `op` (`count`, `get`, `query`, `upsert`).
fn op_path(addr: SocketAddr, collection: &str, op: &str) -> String {
    let base = "/api/v2/tenants/default_tenant/databases/default_database/collections";
    let (status, body) = request(addr, "GET", &format!("{base}/{collection}"), None);
    assert_eq!(status, 200, "collection {collection}: {body}");
    let id = body["id"].as_str().unwrap().to_owned();
    format!("{base}/{id}/{op}")
}

impl Drop for Chroma {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The test logs are of 2025: older than the default 7-day retention, which runs every second
/// here. Retention must hold each event until Chroma has it, then delete it.
fn agent_config(chroma: &Chroma, prefix: &str) -> String {
    format!(
        "[store]\nkind = \"chroma\"\nretention_interval_secs = 1\n[chroma]\nurl = \"{}\"\ncollection_prefix = \"{prefix}\"\n\
         retry_initial_ms = 50\nretry_max_ms = 400\ntimeout_ms = 5000\nbatch_size = 200\n",
        chroma.url()
    )
}

fn log(i: usize) -> Value {
    let (url, status) = if i % 10 == 3 { ("/api/checkout", 500) } else { ("/products/list", 200) };
    json!({
        "ip": format!("10.1.{}.{}", i / 250, i % 250 + 1),
        "timestamp": format!("2025-04-01T12:{:02}:{:02}Z", (i / 60) % 60, i % 60),
        "method": if status == 500 { "POST" } else { "GET" },
        "url": url,
        "status_code": status,
        "bytes_sent": 1000 + i,
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64)"
    })
}

fn ingest(agent: &Agent, range: std::ops::Range<usize>) {
    let logs: Vec<Value> = range.map(log).collect();
    let (status, body) = request(agent.addr, "POST", "/anomaly_detection", Some(&json!({ "logs": logs })));
    assert_eq!(status, 200, "{body}");
}

/// Wait (bounded) until the agent reports an empty outbox and `want` holds.
fn wait_until(what: &str, mut want: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while !want() {
        assert!(Instant::now() < deadline, "gave up waiting for: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn stats(agent: &Agent) -> Value {
    let (status, body) = request(agent.addr, "GET", "/api/v1/stats", None);
    assert_eq!(status, 200, "{body}");
    body
}

fn drained(agent: &Agent) -> bool {
    let s = stats(agent);
    s["chroma"]["outbox"]["rows"] == 0 && s["chroma"]["state"] == "up"
}

#[test]
fn logs_and_anomalies_reach_chroma_with_filterable_metadata_and_nearest_neighbours() {
    let dir = tempfile::tempdir().unwrap();
    let chroma = Chroma::start(dir.path());
    let config =
        agent_config(&chroma, "e2e") + "[[summarizers]]\nplugin = \"builtin:window-summary\"\nwindow = \"1s\"\n";
    let agent = Agent::start(dir.path(), &config);
    ingest(&agent, 0..300);
    wait_until("300 logs in chroma", || drained(&agent) && chroma.count("e2e-logs") == 300);

    // Counts: every log once, and as many anomalies as the agent committed.
    let committed_anomalies = stats(&agent)["anomalies_total"].as_u64().unwrap();
    assert_eq!(chroma.count("e2e-anomalies"), committed_anomalies);
    let all = chroma.get("e2e-logs", json!({ "include": [] }));
    let ids: BTreeSet<String> = all["ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().into()).collect();
    assert_eq!(ids, (1..=300).map(|i| format!("log-{i}")).collect());

    // A metadata filter: the 30 answers with status 500, each with its document and fields.
    let errors = chroma.get(
        "e2e-logs",
        json!({ "where": { "status_code": 500 }, "include": ["metadatas", "documents"], "limit": 1000 }),
    );
    let metadatas = errors["metadatas"].as_array().unwrap();
    assert_eq!(metadatas.len(), 30);
    for (m, doc) in metadatas.iter().zip(errors["documents"].as_array().unwrap()) {
        assert_eq!(
            (m["status_code"].as_i64(), m["method"].as_str(), m["path"].as_str()),
            (Some(500), Some("POST"), Some("/api/checkout"))
        );
        assert_eq!(m["timestamp"].as_i64().unwrap() / 86_400, 20_179, "timestamp in integer seconds: {m}");
        assert!(m["ip"].as_str().unwrap().starts_with("10.1."), "{m}");
        assert!(m["anomaly_score"].is_number() && m["source"].is_string(), "{m}");
        assert!(doc.as_str().unwrap().contains("/api/checkout"), "{doc}");
    }

    // Nearest neighbours, by a vector from the agent's own embedder: checkout errors.
    let embedder = vigil::embed::default_embedder();
    let query = json!({
        "query_embeddings": [embedder.embed("POST /api/checkout 500")],
        "n_results": 5,
        "include": ["metadatas", "distances"],
    });
    let (status, found) = request(chroma.addr, "POST", &chroma.path("e2e-logs", "query"), Some(&query));
    assert_eq!(status, 200, "{found}");
    let nearest = found["metadatas"][0].as_array().unwrap();
    assert_eq!(nearest.len(), 5);
    assert!(nearest.iter().all(|m| m["status_code"] == 500), "{found}");
    // Cosine distances, nearest first, all nearer than the nearest successful GET.
    let distances: Vec<f64> = found["distances"][0].as_array().unwrap().iter().map(|d| d.as_f64().unwrap()).collect();
    assert!(distances.windows(2).all(|w| w[0] <= w[1]), "{distances:?}");
    let mut query = query;
    query["where"] = json!({ "status_code": 200 });
    query["n_results"] = json!(1);
    let (_, ok) = request(chroma.addr, "POST", &chroma.path("e2e-logs", "query"), Some(&query));
    let nearest_ok = ok["distances"][0][0].as_f64().unwrap();
    assert!(distances.iter().all(|d| *d < nearest_ok), "{distances:?} vs a 200 at {nearest_ok}");

    // The collections use cosine distance.
    let (_, collection) = request(
        chroma.addr,
        "GET",
        "/api/v2/tenants/default_tenant/databases/default_database/collections/e2e-logs",
        None,
    );
    assert!(collection.to_string().contains("cosine"), "{collection}");

    // The summary of the window the 300 logs fell in, with its text and window metadata.
    wait_until("a summary in chroma", || drained(&agent) && chroma.count("e2e-summaries") >= 1);
    let (status, served) = request(agent.addr, "GET", "/api/v1/summaries", None);
    assert_eq!(status, 200, "{served}");
    let served = &served["summaries"].as_array().unwrap()[0];
    let got = chroma.get(
        "e2e-summaries",
        json!({ "ids": [format!("summary-{}", served["id"])], "include": ["metadatas", "documents"] }),
    );
    assert_eq!(got["documents"][0], served["text"], "{got}");
    let m = &got["metadatas"][0];
    assert_eq!((m["summarizer"].as_str(), m["events"].as_u64()), (Some("window-summary"), served["events"].as_u64()));
    assert!(m["timestamp"].as_i64().unwrap() < m["window_end"].as_i64().unwrap(), "{m}");
    assert!(served["text"].as_str().unwrap().contains("/api/checkout"), "{served}");

    let (_, health) = request(agent.addr, "GET", "/health", None);
    assert_eq!(
        (health["status"].as_str(), health["chroma"]["state"].as_str()),
        (Some("healthy"), Some("up")),
        "{health}"
    );
}

/// Run the agent on `config` until it exits by itself (bounded); its exit code and stderr.
fn run_until_exit(dir: &Path, config: &str) -> (Option<i32>, String) {
    let path = dir.join("vigil.toml");
    let text =
        format!("data_dir = {:?}\n[api]\naddress = \"127.0.0.1:0\"\n{config}", dir.join("data").display().to_string());
    std::fs::write(&path, text).unwrap();
    let mut child = Command::new(crate::agent::binary())
        .arg("--config")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting vigil");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the agent did not exit within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn an_embedder_of_another_dimension_than_the_collections_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let chroma = Chroma::start(dir.path());
    // Collections another tool made and filled with 384-dimension vectors (an agent's own
    // collections are marked as its, and refused to any other agent before their dimension).
    let base = "/api/v2/tenants/default_tenant/databases/default_database/collections";
    for collection in ["logs", "anomalies", "summaries"] {
        let create = json!({ "name": format!("dims-{collection}"), "metadata": { "hnsw:space": "cosine" } });
        let (status, body) = request(chroma.addr, "POST", base, Some(&create));
        assert_eq!(status, 200, "{body}");
        let mut vector = vec![0f32; 384];
        vector[0] = 1.0;
        let upsert = json!({ "ids": ["foreign-1"], "embeddings": [vector], "metadatas": [{ "timestamp": 7 }] });
        let (status, body) =
            request(chroma.addr, "POST", &op_path(chroma.addr, &format!("dims-{collection}"), "upsert"), Some(&upsert));
        assert_eq!(status, 200, "{body}");
    }

    let config = agent_config(&chroma, "dims") + "[embedding]\ndimensions = 512\n";
    let (code, stderr) = run_until_exit(dir.path(), &config);
    assert_ne!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("chroma collection") && stderr.contains("dimension") && stderr.contains("hint:"),
        "{stderr}"
    );
    assert_eq!(chroma.count("dims-logs"), 1, "nothing was written with the wrong dimension");
}

#[test]
fn chroma_stopped_during_ingest_gets_every_record_exactly_once_after_it_returns() {
    let dir = tempfile::tempdir().unwrap();
    let mut chroma = Chroma::start(dir.path());
    let agent = Agent::start(dir.path(), &agent_config(&chroma, "outage"));
    ingest(&agent, 0..200);
    wait_until("the first logs in chroma", || drained(&agent));

    chroma.stop();
    for chunk in 0..5 {
        ingest(&agent, 200 + chunk * 100..300 + chunk * 100);
    }
    wait_until("/health to report chroma down", || {
        let (_, health) = request(agent.addr, "GET", "/health", None);
        health["status"] == "degraded" && health["chroma"]["state"] == "down"
    });
    let waiting = stats(&agent)["chroma"]["outbox"]["events"].as_u64().unwrap();
    assert!(waiting > 0, "the logs sent during the outage wait in the outbox");
    let metric = |text: &str, name: &str| {
        text.lines().find_map(|l| l.strip_prefix(&format!("{name} "))).and_then(|v| v.trim().parse::<f64>().ok())
    };
    let down = crate::metrics::get_text(agent.addr, "/metrics").2;
    assert_eq!(metric(&down, "vigil_chroma_up"), Some(0.0), "{down}");
    assert!(metric(&down, "vigil_chroma_failures_total").unwrap() >= 1.0, "{down}");
    assert!(metric(&down, "vigil_chroma_outbox_events").unwrap() >= 1.0, "{down}");

    chroma.run();
    ingest(&agent, 700..800);
    wait_until("the outbox to drain into the restarted chroma", || drained(&agent));

    let all = chroma.get("outage-logs", json!({ "include": [] }));
    let ids: Vec<String> = all["ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().into()).collect();
    assert_eq!(chroma.count("outage-logs"), 800);
    let unique: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(ids.len(), unique.len(), "an id came twice");
    assert_eq!(unique, (1..=800).map(|i| format!("log-{i}")).collect());
    let committed_anomalies = stats(&agent)["anomalies_total"].as_u64().unwrap();
    assert_eq!(chroma.count("outage-anomalies"), committed_anomalies);
    // Retention held the expired events only until Chroma had them.
    wait_until("retention to delete the sent events", || stats(&agent)["store"]["events"] == 0);
    let (_, health) = request(agent.addr, "GET", "/health", None);
    assert_eq!(health["chroma"]["state"], "up", "{health}");
    assert!(health["chroma"]["last_error"].is_string(), "the outage is remembered: {health}");
    let up = crate::metrics::get_text(agent.addr, "/metrics").2;
    assert_eq!(metric(&up, "vigil_chroma_up"), Some(1.0), "{up}");
    assert_eq!(metric(&up, "vigil_chroma_outbox_events"), Some(0.0), "{up}");
    assert!(metric(&up, "vigil_chroma_records_sent_total").unwrap() >= 800.0, "every log was sent: {up}");
}

#[tokio::test]
async fn the_client_reads_hits_without_a_document_and_heartbeats_on_api_v2() {
    let dir = tempfile::tempdir().unwrap();
    let chroma = Chroma::start(dir.path());
    let config: vigil::vector::ChromaConfig =
        toml::from_str(&format!("url = \"{}\"\ncollection_prefix = \"gap\"", chroma.url())).unwrap();
    let client = vigil::vector::ChromaClient::new(&config);
    client.heartbeat().await.expect("heartbeat on /api/v2");
    let collection = vigil::vector::Collection::Summaries;
    assert_eq!(client.count(collection).await.unwrap(), 0, "the collections are created on first use");

    // Another tool writes a record without a document, straight through the HTTP API.
    let embedder = vigil::embed::default_embedder();
    let upsert = json!({ "ids": ["foreign-1"], "embeddings": [embedder.embed("disk full on db-1")], "metadatas": [{ "timestamp": 7 }] });
    let addr = chroma.addr;
    let status = tokio::task::spawn_blocking(move || {
        request(addr, "POST", &op_path(addr, "gap-summaries", "upsert"), Some(&upsert)).0
    })
    .await
    .unwrap();
    assert_eq!(status, 200);

    let hits = client
        .query(collection, &embedder.embed("disk full"), 3, &vigil::vector::Filter::none().eq("timestamp", 7))
        .await
        .expect("a hit without a document is read, not an error");
    assert_eq!(hits.len(), 1);
    assert_eq!((hits[0].id.as_str(), hits[0].document.as_str()), ("foreign-1", ""));
    assert!(hits[0].distance < 0.5, "{hits:?}");
}

#[test]
fn a_chroma_url_that_is_not_chroma_or_a_database_chroma_lacks_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    // Something else on the port: an HTTP server that answers 404 with a page, as a web
    // server or another service would.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let other = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let mut buf = [0u8; 4096];
            let _ = std::io::Read::read(&mut stream, &mut buf);
            let page = "<html><body>Not Found</body></html>";
            let answer = format!(
                "HTTP/1.1 404 Not Found\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
                page.len()
            );
            let _ = std::io::Write::write_all(&mut stream, answer.as_bytes());
        }
    });
    let config = format!("[store]\nkind = \"chroma\"\n[chroma]\nurl = \"http://{other}\"\n");
    let (code, stderr) = run_until_exit(dir.path(), &config);
    assert_ne!(code, Some(0), "{stderr}");
    assert!(stderr.contains("not a Chroma 1.x server") && stderr.contains("hint:"), "{stderr}");

    let chroma = Chroma::start(dir.path());
    let lacking = format!("{}database = \"nosuchdb\"\n", agent_config(&chroma, "nodb"));
    let fresh = dir.path().join("fresh");
    std::fs::create_dir(&fresh).unwrap();
    let (code, stderr) = run_until_exit(&fresh, &lacking);
    assert_ne!(code, Some(0), "{stderr}");
    assert!(stderr.contains("nosuchdb") && stderr.contains("set [chroma] database"), "{stderr}");
}

#[test]
fn chroma_retention_deletes_records_older_than_its_days_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let chroma = Chroma::start(dir.path());
    // The store keeps everything; Chroma keeps 30 days.
    let config = agent_config(&chroma, "aged")
        .replace("retention_interval_secs = 1\n", "retention_interval_secs = 1\nretention_days = 0\n")
        + "retention_days = 30\n";
    let agent = Agent::start(dir.path(), &config);
    let at = |days_ago: i64, i: usize| {
        let time = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * days_ago);
        let mut log = log(i);
        log["timestamp"] = json!(time.strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
        log
    };
    let logs: Vec<Value> = (0..30).map(|i| at(if i < 20 { 40 } else { 1 }, i)).collect();
    let (status, body) = request(agent.addr, "POST", "/anomaly_detection", Some(&json!({ "logs": logs })));
    assert_eq!(status, 200, "{body}");
    wait_until("only the 10 recent logs left in chroma", || drained(&agent) && chroma.count("aged-logs") == 10);
    let (status, page) = request(agent.addr, "GET", "/api/v1/logs?limit=100", None);
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["logs"].as_array().unwrap().len(), 30, "the store keeps all 30 (its retention_days = 0)");
    assert!(agent.terminate().success());
}

#[test]
fn a_second_agent_on_the_same_collections_is_refused_instead_of_overwriting_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let chroma = Chroma::start(dir.path());
    let first = Agent::start(dir.path(), &agent_config(&chroma, "shared"));
    ingest(&first, 0..10);
    wait_until("the first agent's logs in chroma", || drained(&first) && chroma.count("shared-logs") == 10);
    let before = chroma.get("shared-logs", json!({ "ids": ["log-1"], "include": ["metadatas"] }));

    // Another data_dir (another host, or this one's reset), the same prefix: its ids would
    // start at log-1 again.
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    let (code, stderr) = run_until_exit(&other, &agent_config(&chroma, "shared"));
    assert_ne!(code, Some(0), "{stderr}");
    assert!(stderr.contains("written by another Vigil agent") && stderr.contains("collection_prefix"), "{stderr}");
    let after = chroma.get("shared-logs", json!({ "ids": ["log-1"], "include": ["metadatas"] }));
    assert_eq!(before, after, "the first agent's record is as it wrote it");

    // The first agent, restarted on its own data_dir, is still the owner.
    assert!(first.terminate().success());
    let again = Agent::start(dir.path(), &agent_config(&chroma, "shared"));
    ingest(&again, 10..20);
    wait_until("the restarted agent's logs in chroma", || drained(&again) && chroma.count("shared-logs") == 20);
    assert!(again.terminate().success());
}
