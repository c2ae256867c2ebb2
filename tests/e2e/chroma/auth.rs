//! `[chroma] token` against a real Chroma behind a proxy that checks a key: Chroma 1.x checks
//! none itself, so a server that wants one is Chroma Cloud or, as here, an authenticating
//! reverse proxy in front of Chroma. The proxy refuses any request without the key with 401
//! and passes the rest to the real server.

use super::{Chroma, agent_config, drained, ingest, run_until_exit, wait_until};
use crate::agent::Agent;
use axum::response::IntoResponse;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A reverse proxy on a loopback port that wants `header: value` on every request.
struct TokenProxy {
    addr: SocketAddr,
    refused: Arc<AtomicUsize>,
    passed: Arc<AtomicUsize>,
    _runtime: tokio::runtime::Runtime,
}

impl TokenProxy {
    fn start(upstream: SocketAddr, header: &'static str, value: &str) -> TokenProxy {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let (refused, passed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (refused_in, passed_in, value) = (refused.clone(), passed.clone(), value.to_owned());
        let client = reqwest::Client::new();
        let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
            let (refused, passed, value, client) =
                (refused_in.clone(), passed_in.clone(), value.clone(), client.clone());
            async move {
                if request.headers().get(header).and_then(|v| v.to_str().ok()) != Some(value.as_str()) {
                    refused.fetch_add(1, Ordering::SeqCst);
                    return (axum::http::StatusCode::UNAUTHORIZED, "{\"error\":\"Unauthorized\"}").into_response();
                }
                passed.fetch_add(1, Ordering::SeqCst);
                let (parts, body) = request.into_parts();
                let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
                let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
                // reqwest 0.11 is on http 0.2, axum on http 1: methods and statuses cross as text.
                let method = reqwest::Method::from_bytes(parts.method.as_str().as_bytes()).unwrap();
                let mut forwarded = client.request(method, format!("http://{upstream}{path}")).body(body.to_vec());
                if let Some(kind) = parts.headers.get("content-type").and_then(|v| v.to_str().ok()) {
                    forwarded = forwarded.header("content-type", kind);
                }
                let answer = forwarded.send().await.unwrap();
                let status = axum::http::StatusCode::from_u16(answer.status().as_u16()).unwrap();
                let body = answer.bytes().await.unwrap().to_vec();
                (status, [("content-type", "application/json")], body).into_response()
            }
        });
        runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
        TokenProxy { addr, refused, passed, _runtime: runtime }
    }
}

/// `agent_config` pointed at the proxy instead of Chroma itself.
fn config_via(proxy: &TokenProxy, chroma: &Chroma, prefix: &str, extra: &str) -> String {
    agent_config(chroma, prefix).replace(&chroma.url(), &format!("http://{}", proxy.addr)) + extra
}

#[test]
fn a_chroma_that_wants_a_token_gets_it_on_every_request_and_a_missing_or_wrong_one_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let chroma = Chroma::start(dir.path());
    let bearer = TokenProxy::start(chroma.addr, "authorization", "Bearer s3cret-key");

    let missing = dir.path().join("missing");
    std::fs::create_dir(&missing).unwrap();
    let (code, stderr) = run_until_exit(&missing, &config_via(&bearer, &chroma, "auth", ""));
    assert_ne!(code, Some(0), "{stderr}");
    assert!(stderr.contains("wants credentials") && stderr.contains("set [chroma] token"), "{stderr}");

    let wrong = dir.path().join("wrong");
    std::fs::create_dir(&wrong).unwrap();
    let (code, stderr) = run_until_exit(&wrong, &config_via(&bearer, &chroma, "auth", "token = \"not-the-key\"\n"));
    assert_ne!(code, Some(0), "{stderr}");
    assert!(stderr.contains("token was refused") && stderr.contains("token_header"), "{stderr}");
    assert!(!stderr.contains("not-the-key"), "the token is never printed: {stderr}");

    // The key, as `Authorization: Bearer` (the default header): every log reaches Chroma and
    // the proxy refuses nothing from this agent.
    let refused_before = bearer.refused.load(Ordering::SeqCst);
    let right = dir.path().join("right");
    std::fs::create_dir(&right).unwrap();
    let agent = Agent::start(&right, &config_via(&bearer, &chroma, "auth", "token = \"s3cret-key\"\n"));
    ingest(&agent, 0..300);
    wait_until("every log in Chroma through the proxy", || drained(&agent) && chroma.count("auth-logs") == 300);
    assert_eq!(bearer.refused.load(Ordering::SeqCst), refused_before, "a request went without the token");
    assert!(bearer.passed.load(Ordering::SeqCst) > 3, "the agent's requests went through the proxy");
    drop(agent);

    // Chroma Cloud's header.
    let cloud = TokenProxy::start(chroma.addr, "x-chroma-token", "cloud-key");
    let header = dir.path().join("header");
    std::fs::create_dir(&header).unwrap();
    let extra = "token = \"cloud-key\"\ntoken_header = \"x-chroma-token\"\n";
    let agent = Agent::start(&header, &config_via(&cloud, &chroma, "cloud", extra));
    ingest(&agent, 0..50);
    wait_until("every log in Chroma with X-Chroma-Token", || drained(&agent) && chroma.count("cloud-logs") == 50);
    assert_eq!(cloud.refused.load(Ordering::SeqCst), 0, "a request went without X-Chroma-Token");
}

/// `vigil validate FILE` with this `[chroma]` section: exit code, stdout, stderr.
fn validate(dir: &std::path::Path, chroma: &str) -> (Option<i32>, String, String) {
    let path = dir.join("validate.toml");
    let data = dir.join("validate-data");
    std::fs::write(
        &path,
        format!("data_dir = {:?}\n[store]\nkind = \"chroma\"\n[chroma]\n{chroma}", data.display().to_string()),
    )
    .unwrap();
    let out = std::process::Command::new(crate::agent::binary()).arg("validate").arg(&path).output().unwrap();
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

#[test]
fn validate_asks_chroma_refuses_a_token_it_refuses_and_only_warns_when_it_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let chroma = Chroma::start(dir.path());
    let proxy = TokenProxy::start(chroma.addr, "x-chroma-token", "cloud-key");
    let url = format!("url = \"http://{}\"\ntoken_header = \"x-chroma-token\"\n", proxy.addr);

    let (code, stdout, stderr) = validate(dir.path(), &format!("{url}token = \"cloud-key\"\n"));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains(&format!("chroma answers at http://{}", proxy.addr)), "{stdout}");

    let (code, _, stderr) = validate(dir.path(), &format!("{url}token = \"old-key\"\n"));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("token was refused") && stderr.contains("hint:"), "{stderr}");
    assert!(!stderr.contains("old-key"), "the token is never printed: {stderr}");

    // Nothing listens: a start would wait for Chroma with the writes in the outbox.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let (code, stdout, stderr) = validate(dir.path(), &format!("url = \"http://{closed}\"\n"));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("warning:") && stderr.contains("outbox"), "{stderr}");
    assert!(stdout.contains(": ok (") && !stdout.contains("chroma answers"), "{stdout}");
    assert!(!dir.path().join("validate-data").exists(), "validate creates nothing");
}
