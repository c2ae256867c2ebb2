//! The WebSockets with a real client over a real socket.

use crate::agent::{Agent, plugin_path};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn constant_agent(dir: &std::path::Path, score: f32, extra: &str) -> Agent {
    let fixture = plugin_path("vigil-fixture-constant-score");
    Agent::start(
        dir,
        &format!(
            "{extra}\n[[detectors]]\nplugin = {:?}\nthreshold = 0.5\n[detectors.config]\nscore = {score}\n",
            fixture.display().to_string()
        ),
    )
}

async fn connect(agent: &Agent, path: &str) -> Socket {
    tokio_tungstenite::connect_async(format!("ws://{}{path}", agent.addr)).await.expect("websocket connects").0
}

async fn next_json(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a message within 10 s")
            .expect("socket open")
            .unwrap();
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

fn log(i: usize) -> Value {
    json!({ "ip": "198.51.100.7", "timestamp": "2025-04-01T12:34:56Z", "method": "GET", "url": format!("/item/{i}"),
            "status_code": 200, "bytes_sent": 10, "user_agent": "test" })
}

#[tokio::test]
async fn application_frames_are_acknowledged_after_commit_then_anomalies_follow() {
    let dir = tempfile::tempdir().unwrap();
    let agent = constant_agent(dir.path(), 0.9, "");
    let mut ws = connect(&agent, "/ws/application").await;
    ws.send(Message::text(json!([log(1), log(2)]).to_string())).await.unwrap();
    let ack = next_json(&mut ws).await;
    assert_eq!(ack["type"], "ack");
    assert_eq!((ack["count"].as_u64(), ack["first_id"].as_i64(), ack["last_id"].as_i64()), (Some(2), Some(1), Some(2)));
    let anomaly = next_json(&mut ws).await;
    assert_eq!(
        (anomaly["type"].as_str(), anomaly["id"].as_i64(), anomaly["url"].as_str()),
        (Some("anomaly"), Some(1), Some("/item/1"))
    );
    assert_eq!(anomaly["anomaly_score"].as_f64().map(|s| (s * 100.0).round()), Some(90.0));
    assert_eq!(next_json(&mut ws).await["url"], "/item/2");
    // The ack came after the commit: the events are queryable now.
    let (_, body) = crate::http::request(agent.addr, "GET", "/api/v1/logs?limit=10", None);
    assert_eq!(body["logs"].as_array().unwrap().len(), 2);
    // A single object per frame works too.
    ws.send(Message::text(log(3).to_string())).await.unwrap();
    assert_eq!(next_json(&mut ws).await["first_id"], 3);
}

#[tokio::test]
async fn bad_frames_get_an_error_and_the_connection_stays_open() {
    let dir = tempfile::tempdir().unwrap();
    let agent = constant_agent(dir.path(), 0.1, "");
    let mut ws = connect(&agent, "/ws/application").await;
    ws.send(Message::text("{not json")).await.unwrap();
    let e = next_json(&mut ws).await;
    assert_eq!((e["type"].as_str(), e["error"].as_str()), (Some("error"), Some("malformed_json")));
    let mut bad = log(1);
    bad["status_code"] = json!(999);
    ws.send(Message::text(json!([log(0), bad]).to_string())).await.unwrap();
    let e = next_json(&mut ws).await;
    assert_eq!(e["error"], "invalid_value");
    assert!(e["message"].as_str().unwrap().contains("[1].status_code"), "{e}");
    ws.send(Message::binary(vec![0u8, 159, 146, 150])).await.unwrap();
    assert_eq!(next_json(&mut ws).await["error"], "binary_frame");
    ws.send(Message::text("[]")).await.unwrap();
    assert_eq!(next_json(&mut ws).await["error"], "empty_batch");
    // Still open and working.
    ws.send(Message::text(log(5).to_string())).await.unwrap();
    let ack = next_json(&mut ws).await;
    assert_eq!((ack["type"].as_str(), ack["count"].as_u64()), (Some("ack"), Some(1)));
    // Every refused frame is counted.
    let (_, stats) = crate::http::request(agent.addr, "GET", "/api/v1/stats", None);
    assert_eq!(stats["rejected_total"], 4);
}

#[tokio::test]
async fn an_oversized_frame_is_refused_with_a_close_frame() {
    let dir = tempfile::tempdir().unwrap();
    let agent = constant_agent(dir.path(), 0.1, "");
    let mut ws = connect(&agent, "/ws/application").await;
    let huge = format!("[{}]", vec![log(0).to_string(); 200_000].join(","));
    assert!(huge.len() > 16 << 20);
    let _ = ws.send(Message::text(huge)).await;
    let closed = loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await.expect("an answer within 10 s") {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => break None,
        }
    };
    if let Some(frame) = closed {
        assert_eq!(u16::from(frame.code), 1009, "message too big");
    }
    // The agent is unharmed.
    let (status, _) = crate::http::request(agent.addr, "GET", "/health", None);
    assert_eq!(status, 200);
}

/// What the agent sent after the client's close frame: its own close frame's code, or `None`
/// when the connection ended without one.
async fn close_answer(ws: &mut Socket) -> Option<u16> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await.expect("an answer within 10 s") {
            Some(Ok(Message::Close(frame))) => return Some(frame.map_or(1005, |f| u16::from(f.code))),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return None,
        }
    }
}

#[tokio::test]
async fn a_clients_close_frame_is_answered_with_one_on_both_sockets() {
    use tokio_tungstenite::tungstenite::protocol::{CloseFrame, frame::coding::CloseCode};
    let dir = tempfile::tempdir().unwrap();
    let agent = constant_agent(dir.path(), 0.9, "");
    for path in ["/ws/application", "/ws"] {
        let mut ws = connect(&agent, path).await;
        if path == "/ws/application" {
            // With a frame still to acknowledge when the client closes.
            ws.send(Message::text(log(1).to_string())).await.unwrap();
        }
        ws.send(Message::Close(Some(CloseFrame { code: CloseCode::Normal, reason: "bye".into() }))).await.unwrap();
        assert_eq!(close_answer(&mut ws).await, Some(1000), "{path}: the close frame is echoed");
    }
    // The frame sent before the close was committed all the same.
    let (_, stats) = crate::http::request(agent.addr, "GET", "/api/v1/stats", None);
    assert_eq!(stats["events_total"], 1);
}

#[tokio::test]
async fn a_text_frame_that_is_not_utf8_is_closed_with_1007() {
    use tokio_tungstenite::tungstenite::protocol::frame::{
        Frame,
        coding::{Data, OpCode},
    };
    let dir = tempfile::tempdir().unwrap();
    let agent = constant_agent(dir.path(), 0.1, "");
    for path in ["/ws/application", "/ws"] {
        let mut ws = connect(&agent, path).await;
        let frame = Frame::message(vec![b'[', 0xff, 0xfe, b']'], OpCode::Data(Data::Text), true);
        ws.send(Message::Frame(frame)).await.unwrap();
        assert_eq!(close_answer(&mut ws).await, Some(1007), "{path}: invalid frame payload data");
    }
}

#[tokio::test]
async fn the_monitor_gets_anomalies_and_acks_from_every_source() {
    let dir = tempfile::tempdir().unwrap();
    let agent = constant_agent(dir.path(), 0.9, "");
    let mut monitor_a = connect(&agent, "/ws").await;
    let mut monitor_b = connect(&agent, "/ws").await;
    let mut app = connect(&agent, "/ws/application").await;
    app.send(Message::text(log(1).to_string())).await.unwrap();
    let _ = next_json(&mut app).await;
    let body = json!({ "logs": [log(2)] });
    let (status, _) = crate::http::request(agent.addr, "POST", "/anomaly_detection", Some(&body));
    assert_eq!(status, 200);
    for monitor in [&mut monitor_a, &mut monitor_b] {
        let mut seen = Vec::new();
        // Stats keep coming, so a missed message must fail the test rather than leave it
        // waiting for ever.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while seen.len() < 4 {
            assert!(tokio::time::Instant::now() < deadline, "the monitor got only {seen:?} in 30 s");
            let m = next_json(monitor).await;
            if m["type"] != "stats" {
                seen.push((
                    m["type"].as_str().unwrap().to_owned(),
                    m["source"].as_str().unwrap_or_default().to_owned(),
                ));
            }
        }
        assert_eq!(
            seen,
            [
                ("anomaly".into(), "ws".into()),
                ("ack".into(), "ws".into()),
                ("anomaly".into(), "api".into()),
                ("ack".into(), "api".into())
            ]
        );
    }
}

#[tokio::test]
async fn a_slow_monitor_is_told_what_it_missed_and_ingestion_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let agent = constant_agent(dir.path(), 0.9, "");
    // 50,000 anomalies: more than the monitor's 16,384-message buffer plus whatever the
    // kernel's socket buffers absorb for a client that does not read.
    const FRAMES: u64 = 100;
    let mut slow = connect(&agent, "/ws").await; // reads the first anomaly, then not while we ingest
    let (mut sender, mut app) = connect(&agent, "/ws/application").await.split();
    sender.send(Message::text(log(0).to_string())).await.unwrap();
    let first = loop {
        let m = next_json(&mut slow).await;
        if m["type"] == "anomaly" {
            break m;
        }
    };
    let batch = json!((0..500).map(log).collect::<Vec<_>>()).to_string();
    // Send while reading: a client that floods without reading its acks is (rightly) held back.
    let flood = tokio::spawn(async move {
        for _ in 0..FRAMES {
            sender.send(Message::text(batch.clone())).await.unwrap();
        }
        sender
    });
    let mut acked = 0;
    while acked < FRAMES {
        let message = tokio::time::timeout(Duration::from_secs(30), app.next())
            .await
            .expect("acks keep coming")
            .unwrap()
            .unwrap();
        if let Message::Text(text) = message {
            acked += u64::from(serde_json::from_str::<Value>(&text).unwrap()["type"] == "ack");
        }
    }
    let _sender = flood.await.unwrap();
    let mut last_anomaly = first["anomaly_id"].as_i64();
    let lagged = loop {
        let m = next_json(&mut slow).await;
        match m["type"].as_str() {
            Some("lagged") => break m,
            Some("anomaly") => last_anomaly = m["anomaly_id"].as_i64(),
            _ => {}
        }
    };
    assert!(lagged["missed"].as_u64().is_some_and(|n| n > 0), "{lagged}");
    // It says from where to fetch what was missed: after the last anomaly it was sent.
    assert_eq!(lagged["after_id"].as_i64(), last_anomaly, "{lagged}");
    let after = last_anomaly.unwrap();
    let (status, page) =
        crate::http::request(agent.addr, "GET", &format!("/api/v1/anomalies?after_id={after}&limit=3"), None);
    assert_eq!(status, 200, "{page}");
    let ids: Vec<i64> =
        page["anomalies"].as_array().unwrap().iter().map(|a| a["anomaly_id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [after + 1, after + 2, after + 3], "oldest first, from the first one missed");
    assert_eq!(page["next_after_id"], after + 3);
}

#[tokio::test]
async fn with_a_token_the_sockets_and_queries_need_it() {
    let dir = tempfile::tempdir().unwrap();
    let agent = constant_agent(dir.path(), 0.1, "");
    drop(agent);
    let token = "0123456789abcdef0123";
    let dir = tempfile::tempdir().unwrap();
    let fixture = plugin_path("vigil-fixture-constant-score");
    let agent = Agent::start_with_api(
        dir.path(),
        &format!("token = \"{token}\"\n"),
        &format!("[[detectors]]\nplugin = {:?}\n[detectors.config]\nscore = 0.1\n", fixture.display().to_string()),
    );
    assert!(
        tokio_tungstenite::connect_async(format!("ws://{}/ws", agent.addr)).await.is_err(),
        "refused without a token"
    );
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/ws/application?token={token}", agent.addr)).await.unwrap();
    ws.send(Message::text(log(1).to_string())).await.unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "ack");
    let (status, body) = crate::http::request(agent.addr, "GET", "/api/v1/stats", None);
    assert_eq!((status, body["error"].as_str()), (401, Some("unauthorized")));
    let (status, _) = crate::http::request(agent.addr, "GET", "/health", None);
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_changed_token_closes_the_sockets_opened_with_the_old_one() {
    let (old, new) = ("old-token-0123456789", "new-token-9876543210");
    let dir = tempfile::tempdir().unwrap();
    let fixture = plugin_path("vigil-fixture-constant-score");
    let agent = Agent::start_with_api(
        dir.path(),
        &format!("token = \"{old}\"\n"),
        &format!("[[detectors]]\nplugin = {:?}\n[detectors.config]\nscore = 0.1\n", fixture.display().to_string()),
    );
    let open = |path: &str, token: &str| format!("ws://{}{path}?token={token}", agent.addr);
    let (mut monitor, _) = tokio_tungstenite::connect_async(open("/ws", old)).await.unwrap();
    let (mut app, _) = tokio_tungstenite::connect_async(open("/ws/application", old)).await.unwrap();
    app.send(Message::text(log(1).to_string())).await.unwrap();
    assert_eq!(next_json(&mut app).await["type"], "ack");

    // The token is changed in the config file, as an operator rotates it.
    let config = dir.path().join("vigil.toml");
    let text = std::fs::read_to_string(&config).unwrap().replace(old, new);
    std::fs::write(dir.path().join("next.toml"), text).unwrap();
    std::fs::rename(dir.path().join("next.toml"), &config).unwrap();
    for socket in [&mut monitor, &mut app] {
        let close = tokio::time::timeout(Duration::from_secs(15), async {
            while let Some(Ok(m)) = socket.next().await {
                if let Message::Close(frame) = m {
                    return frame;
                }
            }
            None
        })
        .await
        .expect("the socket is closed within 15 s of the change")
        .expect("with a close frame");
        assert_eq!(u16::from(close.code), 1008, "{close:?}");
        assert!(close.reason.contains("token changed"), "{close:?}");
    }
    assert!(tokio_tungstenite::connect_async(open("/ws/application", old)).await.is_err(), "the old token is refused");
    let (mut app, _) = tokio_tungstenite::connect_async(open("/ws/application", new)).await.unwrap();
    app.send(Message::text(log(2).to_string())).await.unwrap();
    assert_eq!(next_json(&mut app).await["type"], "ack");
}

#[tokio::test]
async fn sigterm_with_open_sockets_drains_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let agent = constant_agent(dir.path(), 0.1, "");
    let mut monitor = connect(&agent, "/ws").await;
    let mut app = connect(&agent, "/ws/application").await;
    app.send(Message::text(log(1).to_string())).await.unwrap();
    assert_eq!(next_json(&mut app).await["type"], "ack");
    let status = tokio::task::spawn_blocking(move || agent.terminate()).await.unwrap();
    assert!(status.success(), "{status:?}");
    // Both sockets were closed by the agent, not left hanging.
    for socket in [&mut monitor, &mut app] {
        let end = tokio::time::timeout(Duration::from_secs(5), async {
            while let Some(Ok(m)) = socket.next().await {
                if matches!(m, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
        assert!(end.is_ok(), "socket still open after the agent exited");
    }
}
