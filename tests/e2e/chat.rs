//! `/chat` through the real binary: logs go in over `POST /anomaly_detection`, questions come
//! back with exact numbers, rephrased by a fake OpenAI-compatible server on 127.0.0.1 (the
//! only stand-in: a remote LLM), and bad requests get JSON errors.

use crate::agent::{Agent, plugin_path};
use crate::http::request;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};

fn log(ip: &str, timestamp: String, method: &str, url: &str, status: u16) -> Value {
    json!({
        "ip": ip, "timestamp": timestamp, "method": method, "url": url,
        "status_code": status, "bytes_sent": 100, "user_agent": "curl/8.5"
    })
}

/// A fake `/v1/chat/completions` that prefixes the answer it is sent with "In short: ".
/// Returns its address and the request bodies it saw.
fn fake_llm() -> (SocketAddr, Arc<Mutex<Vec<Value>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let user = body["messages"][1]["content"].as_str().unwrap_or("").to_owned();
            log.lock().unwrap().push(body);
            let plain = user.split("Answer to rephrase: ").nth(1).unwrap_or("");
            let reply =
                json!({ "choices": [{ "message": { "role": "assistant", "content": format!("In short: {plain}") } }] })
                    .to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                reply.len()
            );
        }
    });
    (addr, seen)
}

fn ask(agent: &Agent, question: &str) -> Value {
    let (status, body) = request(agent.addr, "POST", "/chat", Some(&json!({ "query": question })));
    assert_eq!(status, 200, "{question}: {body}");
    body
}

#[test]
fn chat_answers_with_exact_numbers_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let (llm, seen) = fake_llm();
    let fixture = plugin_path("vigil-fixture-constant-score");
    // Retention off: the data set's 2025 timestamps are older than the default 7 days.
    let config = format!(
        "[[detectors]]\nplugin = {:?}\nthreshold = 0.5\n[detectors.config]\nscore = 0.2\n\
         [chat]\nllm_endpoint = \"http://{llm}/v1\"\nmodel = \"fake-model\"\n\
         [store]\nretention_days = 0\n",
        fixture.display().to_string()
    );
    // Retention off: the data set is older than the default 7 days.
    let agent = Agent::start(dir.path(), &config);

    // 2025-04-01: 10× 200 from 10.1.1.1 from 09:00, 4× 500 from 10.1.1.2 from 10:00,
    // 3× 401 on /login from 10.1.1.3 from 12:00 (one a minute); and 6× 404 on /recent from
    // 10.1.1.4 five minutes ago.
    let mut logs = Vec::new();
    for i in 0..10 {
        logs.push(log("10.1.1.1", format!("2025-04-01T09:{i:02}:00Z"), "GET", "/index.html", 200));
    }
    for i in 0..4 {
        logs.push(log("10.1.1.2", format!("2025-04-01T10:{i:02}:00Z"), "GET", "/api", 500));
    }
    for i in 0..3 {
        logs.push(log("10.1.1.3", format!("2025-04-01T12:{i:02}:00Z"), "POST", "/login", 401));
    }
    let recent = jiff::Timestamp::now() - jiff::SignedDuration::from_mins(5);
    for i in 0..6 {
        let at = (recent + jiff::SignedDuration::from_secs(i)).round(jiff::Unit::Second).unwrap();
        logs.push(log("10.1.1.4", at.to_string(), "GET", "/recent", 404));
    }
    let (status, body) = request(agent.addr, "POST", "/anomaly_detection", Some(&json!({ "logs": logs })));
    assert_eq!((status, body["total_logs"].as_u64()), (200, Some(23)), "{body}");

    let a = ask(&agent, "How many 500s on 2025-04-01?");
    assert_eq!((a["intent"].as_str(), a["facts"]["count"].as_u64()), (Some("count"), Some(4)), "{a}");
    assert_eq!(a["range"]["from"], "2025-04-01T00:00:00Z");
    assert_eq!(a["phrased_by"], "llm", "{a}");
    assert!(a["response"].as_str().unwrap().starts_with("In short: There were 4 requests with status 500"), "{a}");

    let a = ask(&agent, "which IP sent the most requests on 2025-04-01?");
    assert_eq!(a["facts"]["top"][0], json!({ "ip": "10.1.1.1", "count": 10 }), "{a}");
    let a = ask(&agent, "how many requests between 9 and 11 on 2025-04-01?");
    assert_eq!(a["facts"]["count"], 14, "{a}");
    let a = ask(&agent, "what was the error rate on 2025-04-01?");
    assert_eq!((a["facts"]["matching"].as_u64(), a["facts"]["total"].as_u64()), (Some(7), Some(17)), "{a}");
    assert!(a["response"].as_str().unwrap().contains("41.18%"), "{a}");
    let a = ask(&agent, "how many 404s in the last hour?");
    assert_eq!(a["facts"]["count"], 6, "{a}");
    let a = ask(&agent, "most requested url in the last hour");
    assert_eq!(a["facts"]["top"][0]["url"], "/recent", "{a}");
    let a = ask(&agent, "what is going on with /login?");
    assert_eq!((a["intent"].as_str(), a["facts"]["requests"].as_u64()), (Some("open"), Some(3)), "{a}");
    let a = ask(&agent, "what's the weather like in Paris?");
    assert_eq!(a["intent"], "unknown");
    assert!(a["response"].as_str().unwrap().contains("You can ask"), "{a}");

    let sent = seen.lock().unwrap();
    assert_eq!(sent[0]["model"], "fake-model");
    assert!(sent[0]["messages"][1]["content"].as_str().unwrap().contains(r#"{"count":4}"#), "{}", sent[0]);
    drop(sent);

    let (status, body) = request(agent.addr, "POST", "/chat", Some(&json!({ "query": "" })));
    assert_eq!((status, body["error"].as_str()), (422, Some("empty_query")), "{body}");
    let (status, body) = request(agent.addr, "POST", "/chat", Some(&json!({ "question": "how many?" })));
    assert_eq!((status, body["error"].as_str()), (422, Some("missing_field")), "{body}");
    let (status, _) = request(agent.addr, "GET", "/health", None);
    assert_eq!(status, 200);
}

/// Poll `/api/v1/summaries` until it holds `n` summaries (one per closed one-second window).
fn wait_for_summaries(agent: &Agent, n: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (status, body) = request(agent.addr, "GET", "/api/v1/summaries", None);
        assert_eq!(status, 200, "{body}");
        let summaries = body["summaries"].as_array().unwrap().clone();
        if summaries.len() >= n {
            return summaries;
        }
        assert!(std::time::Instant::now() < deadline, "{n} summaries not stored within 30 s: {body}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn open_question_cites_the_summary_found_by_vector_search() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = plugin_path("vigil-fixture-constant-score");
    let config = format!(
        "[[detectors]]\nplugin = {:?}\nthreshold = 0.5\n[detectors.config]\nscore = 0.2\n\
         [[summarizers]]\nplugin = \"builtin:window-summary\"\nwindow = \"1s\"\n\
         [store]\nretention_days = 0\n",
        fixture.display().to_string()
    );
    let agent = Agent::start(dir.path(), &config);
    let post = |logs: Vec<Value>| {
        let (status, body) = request(agent.addr, "POST", "/anomaly_detection", Some(&json!({ "logs": logs })));
        assert_eq!(status, 200, "{body}");
    };
    // One window of checkout traffic, then a later one of page views: each request is one
    // commit, and a commit lands in one window.
    let mut checkout = Vec::new();
    for (i, url) in ["/checkout/pay", "/checkout/cart", "/checkout/confirm"].iter().cycle().take(9).enumerate() {
        let mut l = log("10.2.2.2", format!("2025-04-01T12:00:{i:02}Z"), "POST", url, 502);
        l["user_agent"] = json!("checkout-client/2.1");
        checkout.push(l);
    }
    post(checkout);
    wait_for_summaries(&agent, 1);
    post((0..9).map(|i| log("10.3.3.3", format!("2025-04-01T12:01:{i:02}Z"), "GET", "/index.html", 200)).collect());
    let summaries = wait_for_summaries(&agent, 2);
    let about_checkout = summaries.iter().find(|s| s["text"].as_str().unwrap().contains("/checkout/pay")).unwrap();

    // "checkouts" is in neither summary, so words alone would cite the newest first; its
    // trigrams put the checkout window nearest.
    let a = ask(&agent, "what is going on with checkouts?");
    assert_eq!((a["intent"].as_str(), a["facts"]["retrieval"].as_str()), (Some("open"), Some("vector")), "{a}");
    let cited: Vec<&Value> = a["sources"].as_array().unwrap().iter().filter(|s| s["type"] == "summary").collect();
    assert_eq!(cited[0]["id"], about_checkout["id"], "{a}");
    assert!(cited[0]["distance"].as_f64().is_some_and(|d| d < 0.95), "{a}");
    assert!(a["response"].as_str().unwrap().contains(&format!("summary {} (", about_checkout["id"])), "{a}");
}

#[test]
fn chat_config_without_a_model_is_refused_by_validate() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, "[chat]\nllm_endpoint = \"http://127.0.0.1:11434/v1\"\n").unwrap();
    let out = std::process::Command::new(crate::agent::binary()).arg("validate").arg(&path).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("chat.model") && stderr.contains("llama3.2"), "{stderr}");
}
