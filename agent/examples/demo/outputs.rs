//! Where the demo's requests go: the front server's access log (nginx `combined` plus
//! `$request_time`), which Vigil tails, and the application backend's WebSocket,
//! `/ws/application`, which acknowledges each frame once its logs are committed.

use crate::traffic::Request;
use futures_util::{SinkExt, StreamExt};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio_tungstenite::tungstenite::Message;

/// The front server's access log, appended to like nginx does.
pub struct AccessLog {
    path: PathBuf,
    file: std::fs::File,
}

impl AccessLog {
    pub fn open(path: &Path) -> std::io::Result<AccessLog> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        Ok(AccessLog { path: path.to_owned(), file })
    }

    /// Append one tick's lines in one write, as a busy server's buffered log would.
    pub fn write(&mut self, at: Timestamp, requests: &[Request]) -> std::io::Result<()> {
        let time = at.to_zoned(TimeZone::UTC).strftime("%d/%b/%Y:%H:%M:%S %z").to_string();
        let mut text = String::new();
        for r in requests {
            text.push_str(&format!(
                "{} - - [{time}] \"{} {} HTTP/1.1\" {} {} \"{}\" \"{}\" {:.3}\n",
                r.ip, r.method, r.url, r.status, r.bytes, r.referer, r.user_agent, r.latency_s
            ));
        }
        self.file.write_all(text.as_bytes())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// What the agent said about the frames sent on `/ws/application`.
#[derive(Default)]
pub struct Acks {
    /// Logs acknowledged as committed.
    pub committed: AtomicU64,
    /// Anomalies among them.
    pub anomalies: AtomicU64,
    /// Frames the agent refused (with its message on the terminal).
    pub refused: AtomicU64,
}

/// The application backend's connection to `/ws/application`.
pub struct AppSocket {
    sink: futures_util::stream::SplitSink<
        tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
        Message,
    >,
}

impl AppSocket {
    /// Connect, and count acknowledgments in the background.
    pub async fn connect(url: &str, acks: Arc<Acks>) -> Result<AppSocket, String> {
        let (socket, _) =
            tokio_tungstenite::connect_async(url).await.map_err(|e| format!("cannot connect to {url}: {e}"))?;
        let (sink, mut stream) = socket.split();
        tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                let Message::Text(text) = message else { continue };
                let Ok(reply) = serde_json::from_str::<Value>(&text) else { continue };
                match reply["type"].as_str() {
                    Some("ack") => {
                        acks.committed.fetch_add(reply["count"].as_u64().unwrap_or(0), Ordering::Relaxed);
                        acks.anomalies.fetch_add(reply["anomalies"].as_u64().unwrap_or(0), Ordering::Relaxed);
                    }
                    Some("error") => {
                        acks.refused.fetch_add(1, Ordering::Relaxed);
                        eprintln!("demo: the agent refused a frame: {}", reply["message"]);
                    }
                    _ => {}
                }
            }
        });
        Ok(AppSocket { sink })
    }

    /// Send one tick's API requests as one frame, in the shape of `POST /anomaly_detection`.
    pub async fn send(&mut self, at: Timestamp, requests: &[Request]) -> Result<(), String> {
        if requests.is_empty() {
            return Ok(());
        }
        let timestamp = at.to_string();
        let logs: Vec<Value> = requests
            .iter()
            .map(|r| {
                json!({ "ip": r.ip, "timestamp": timestamp, "method": r.method, "url": r.url,
                        "status_code": r.status, "bytes_sent": r.bytes, "user_agent": r.user_agent })
            })
            .collect();
        self.sink.send(Message::text(Value::Array(logs).to_string())).await.map_err(|e| e.to_string())
    }
}
