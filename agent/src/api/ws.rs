//! The two WebSockets. `/ws/application` takes logs (an object or an array per text frame),
//! acknowledges each frame after its events are committed and then sends the anomalies among
//! them; a bad frame gets an error message and the connection stays open. `/ws` streams
//! anomalies from every source, ack summaries and stats to dashboards; a slow dashboard
//! misses messages (and is told how many) rather than slowing ingestion.

use super::request::{self, ValidLog};
use super::{ApiError, AppState};
use crate::pipeline::{Accepted, PipelineError, Published, Submission};
use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade, close_code};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde_json::json;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::{broadcast, mpsc, oneshot};

/// Frames of one connection waiting for their commit before the connection stops reading.
const MAX_IN_FLIGHT: usize = 64;
/// Most `/ws` messages written between two flushes.
const FLUSH_EVERY: usize = 256;

/// A request to a WebSocket endpoint that is not a WebSocket handshake gets a JSON error
/// saying so (axum's own answer is plain text), with its status (400, 405 or 426).
fn not_an_upgrade(rejection: WebSocketUpgradeRejection) -> ApiError {
    ApiError::new(
        rejection.status(),
        "not_a_websocket",
        format!(
            "{}: this endpoint speaks WebSocket only; connect with a WebSocket client (ws://...)",
            rejection.body_text()
        ),
    )
}

/// Browsers apply no CORS to WebSockets: any page a user visits may open one to the agent,
/// and the browser only tells which page in the handshake's `Origin`. So a handshake from a
/// browser is taken only from the agent's own origin (its `/ui/`: the same host and port as
/// the request's `Host`, whatever the scheme, as a TLS proxy in front may add one) or from an
/// origin of `[api] cors_origins` ("*": any); another is refused with 403 before the upgrade.
/// Without `Origin` the client is not a browser's page (an application, a CLI), and is let
/// in. The token, when set, is checked before this by the auth layer.
fn check_origin(headers: &HeaderMap, state: &AppState) -> Result<(), ApiError> {
    let Some(origin) = headers.get(header::ORIGIN) else { return Ok(()) };
    let origin = String::from_utf8_lossy(origin.as_bytes());
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    if same_origin(&origin, host) {
        return Ok(());
    }
    let listed = &state.settings.load().cors_origins;
    if listed.iter().any(|allowed| allowed == "*" || *allowed == origin) {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        "origin_not_allowed",
        format!(
            "WebSocket handshake from origin {origin:?} refused: it is neither this agent's own (host {host:?}) nor \
             listed in [api] cors_origins; to let that site's pages use the agent's WebSockets, add {origin:?} to \
             [api] cors_origins"
        ),
    ))
}

/// Whether `origin` (`scheme://host[:port]`, as browsers send it) names the host and port of
/// `host` (the request's `Host`), the scheme aside; a default port (80 for http, 443 for
/// https) may be written or left out on either side.
pub(super) fn same_origin(origin: &str, host: &str) -> bool {
    let Some((scheme, authority)) = origin.split_once("://") else { return false };
    if host.is_empty() || authority.is_empty() {
        return false;
    }
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "http" | "ws" => Some(":80"),
        "https" | "wss" => Some(":443"),
        _ => None,
    };
    fn bare<'a>(authority: &'a str, default_port: Option<&str>) -> &'a str {
        default_port.and_then(|port| authority.strip_suffix(port)).unwrap_or(authority)
    }
    bare(authority, default_port).eq_ignore_ascii_case(bare(host, default_port))
}

pub async fn application(
    State(state): State<AppState>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    check_origin(&headers, &state)?;
    let upgrade = upgrade.map_err(not_an_upgrade)?;
    let limit = state.settings.load().max_body_bytes;
    Ok(upgrade.max_message_size(limit).max_frame_size(limit).on_upgrade(move |socket| ingest(socket, state)))
}

pub async fn monitor(
    State(state): State<AppState>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    check_origin(&headers, &state)?;
    let upgrade = upgrade.map_err(not_an_upgrade)?;
    // Subscribed here, before the handshake is answered, not in the upgraded task: a dashboard
    // that has its connection gets everything that happens after, even what happens before
    // that task first runs (the end-to-end monitor test once waited forever for an ack sent
    // in that gap).
    let updates = state.pipeline.monitor().subscribe();
    Ok(upgrade.max_message_size(64 * 1024).on_upgrade(move |socket| stream_monitor(socket, updates, state)))
}

/// What the writer half sends, in order.
enum Outgoing {
    /// A frame's commit to wait for, then acknowledge.
    Pending(oneshot::Receiver<Result<Accepted, PipelineError>>),
    /// Something to say right away (an error about a frame).
    Now(String),
    /// Close with a code and reason.
    Close(u16, String),
}

async fn ingest(socket: WebSocket, state: AppState) {
    let (sink, mut stream) = futures_split(socket);
    let (tx, rx) = mpsc::channel::<Outgoing>(MAX_IN_FLIGHT);
    let writer = tokio::spawn(write_acks(sink, rx));
    let max_logs = state.settings.load().max_batch_logs;
    let mut shutdown = state.shutdown.subscribe();
    let revoked = token_changed(&state, state.settings.load().token.clone());
    tokio::pin!(revoked);
    loop {
        let message = tokio::select! {
            message = stream.recv() => match message {
                Some(message) => message,
                None => break,
            },
            _ = closing(&mut shutdown) => {
                // Frames already read are acknowledged first: the writer works in order.
                let _ = tx.send(Outgoing::Close(close_code::AWAY, "the agent is shutting down".into())).await;
                break;
            }
            _ = &mut revoked => {
                let _ = tx.send(Outgoing::Close(close_code::POLICY, TOKEN_CHANGED.into())).await;
                break;
            }
        };
        let outgoing = match message {
            Ok(Message::Text(text)) => match request::decode_frame(&text, max_logs) {
                Ok(logs) => match submit(&state, logs).await {
                    Ok(pending) => Outgoing::Pending(pending),
                    Err(e) => Outgoing::Close(close_code::AWAY, e.to_string()),
                },
                Err(e) => Outgoing::Now(rejected(&state, &e)),
            },
            Ok(Message::Binary(_)) => Outgoing::Now(rejected(
                &state,
                &ApiError::new(
                    axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "binary_frame",
                    "binary frames are not accepted: send each log (or an array of logs) as JSON in a text frame",
                ),
            )),
            // The client is done: the writer answers its close frame (see `write_acks`).
            Ok(Message::Close(_)) => break,
            Ok(Message::Ping(_) | Message::Pong(_)) => continue,
            Err(e) => {
                // Oversized or broken frames end the connection, with a close frame that says why.
                if let Some((code, reason)) = refused_frame(&state, e) {
                    let _ = tx.send(Outgoing::Close(code, reason)).await;
                }
                break;
            }
        };
        let closing = matches!(outgoing, Outgoing::Close(..));
        // Waits while MAX_IN_FLIGHT frames are uncommitted: the connection stops reading.
        if tx.send(outgoing).await.is_err() || closing {
            break;
        }
    }
    drop(tx);
    let _ = writer.await;
}

async fn submit(
    state: &AppState,
    logs: Vec<ValidLog>,
) -> Result<oneshot::Receiver<Result<Accepted, PipelineError>>, PipelineError> {
    let events = logs
        .into_iter()
        .map(|l| {
            let mut event = l.event;
            event.source = "ws".to_owned();
            event
        })
        .collect();
    let (submission, reply) = Submission::events(events).with_reply();
    state.pipeline.submit(submission).await?;
    Ok(reply)
}

/// The close code for an error reading a frame, and the error's text; `None` when the
/// connection is gone and nothing can be sent.
fn close_code_for(e: axum::Error) -> Option<(u16, String)> {
    use tungstenite::Error;
    let inner = e.into_inner();
    let text = inner.to_string();
    match inner.downcast::<Error>().map(|e| *e) {
        Ok(Error::Utf8(_)) => Some((close_code::INVALID, text)),
        Ok(Error::Capacity(_)) => Some((close_code::SIZE, text)),
        Ok(Error::Protocol(_)) => Some((close_code::PROTOCOL, text)),
        Ok(Error::ConnectionClosed | Error::AlreadyClosed | Error::Io(_)) => None,
        _ => Some((close_code::ERROR, text)),
    }
}

/// The close code and reason for an error reading a frame; `None` when the connection is
/// gone. A frame refused as bad input (over the size limit, not UTF-8, breaking the protocol)
/// counts in `rejected_total`, as a refused request does.
fn refused_frame(state: &AppState, e: axum::Error) -> Option<(u16, String)> {
    let (code, text) = close_code_for(e)?;
    if matches!(code, close_code::SIZE | close_code::INVALID | close_code::PROTOCOL) {
        state.count_rejected();
    }
    Some((code, format!("frame refused: {text}")))
}

/// Sends what the reader queues, in order, and then closes: after a client's close frame
/// (when sending fails, as the socket no longer takes messages) closing flushes the answer to
/// it that the socket has queued, so the client sees a clean close, not a dropped connection.
async fn write_acks(mut sink: WsSink, rx: mpsc::Receiver<Outgoing>) {
    write_in_order(&mut sink, rx).await;
    sink.finish().await;
}

async fn write_in_order(sink: &mut WsSink, mut rx: mpsc::Receiver<Outgoing>) {
    while let Some(outgoing) = rx.recv().await {
        let sent = match outgoing {
            Outgoing::Now(text) => sink.send(text).await,
            Outgoing::Close(code, reason) => {
                let _ = sink.close(code, reason).await;
                return;
            }
            Outgoing::Pending(reply) => match reply.await {
                Ok(Ok(accepted)) => send_ack(sink, accepted).await,
                // Not committed (shutting down): say so; the client resends to the next agent.
                Ok(Err(_)) | Err(_) => {
                    let _ = sink.close(close_code::AWAY, PipelineError::Closed.to_string()).await;
                    return;
                }
            },
        };
        if sent.is_err() {
            return;
        }
    }
}

async fn send_ack(sink: &mut WsSink, accepted: Accepted) -> Result<(), axum::Error> {
    let (first_id, last_id) = accepted.ids.as_ref().map_or((None, None), |r| (Some(*r.start()), Some(*r.end())));
    let count = accepted.ids.as_ref().map_or(0, |r| (r.end() - r.start() + 1) as usize);
    let ack = json!({ "type": "ack", "count": count, "first_id": first_id, "last_id": last_id, "anomalies": accepted.anomalies.len() });
    sink.send(ack.to_string()).await?;
    /// The notice with its type, serialized directly (through a `Value` its `f32` score was
    /// written widened to `f64`, unlike on `/ws`).
    #[derive(serde::Serialize)]
    struct Tagged<'a> {
        r#type: &'static str,
        #[serde(flatten)]
        notice: &'a crate::pipeline::AnomalyNotice,
    }
    for anomaly in &accepted.anomalies {
        let message = serde_json::to_string(&Tagged { r#type: "anomaly", notice: anomaly }).expect("notices serialize");
        sink.send(message).await?;
    }
    Ok(())
}

/// Count a refused frame and word the error message for it.
fn rejected(state: &AppState, e: &ApiError) -> String {
    state.count_rejected();
    error_json(e)
}

fn error_json(e: &ApiError) -> String {
    json!({ "type": "error", "error": e.code, "message": e.message, "details": e.details }).to_string()
}

async fn stream_monitor(socket: WebSocket, mut updates: broadcast::Receiver<Published>, state: AppState) {
    let (mut sink, mut stream) = futures_split(socket);
    let mut shutdown = state.shutdown.subscribe();
    let revoked = token_changed(&state, state.settings.load().token.clone());
    tokio::pin!(revoked);
    let shutting_down = || Some((close_code::AWAY, "the agent is shutting down".to_owned()));
    // The last anomaly this client was sent: after a gap, what it missed is what came after.
    let mut last_anomaly: Option<i64> = None;
    // The close frame to send, if any; `finish` then also answers a client's own.
    let close = loop {
        tokio::select! {
            _ = closing(&mut shutdown) => break shutting_down(),
            _ = &mut revoked => break Some((close_code::POLICY, TOKEN_CHANGED.to_owned())),
            update = updates.recv() => {
                // What else is already waiting goes out with it, in one flush: a write (and
                // so a system call) per message fell behind a burst of anomalies even for a
                // client that read as fast as it could.
                let (mut next, mut fed, mut closed) = (Some(update), 0, false);
                while let Some(update) = next.take() {
                    let text = match update {
                        Ok((text, anomaly_id)) => {
                            last_anomaly = anomaly_id.or(last_anomaly);
                            text.to_string()
                        }
                        Err(RecvError::Lagged(missed)) => lagged(missed, last_anomaly),
                        Err(RecvError::Closed) => {
                            closed = true;
                            break;
                        }
                    };
                    if sink.feed(text).await.is_err() {
                        return;
                    }
                    fed += 1;
                    if fed < FLUSH_EVERY {
                        next = match updates.try_recv() {
                            Ok(text) => Some(Ok(text)),
                            Err(TryRecvError::Lagged(missed)) => Some(Err(RecvError::Lagged(missed))),
                            Err(TryRecvError::Closed) => Some(Err(RecvError::Closed)),
                            Err(TryRecvError::Empty) => None,
                        };
                    }
                }
                if sink.flush().await.is_err() {
                    return;
                }
                if closed {
                    break shutting_down();
                }
            }
            incoming = stream.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None => break None,
                Some(Err(e)) => break refused_frame(&state, e),
                Some(Ok(_)) => {} // dashboards have nothing to say; ignore
            }
        }
    };
    if let Some((code, reason)) = close {
        let _ = sink.close(code, reason).await;
    }
    sink.finish().await;
}

/// The sending half of a socket.
struct WsSink(futures_util::stream::SplitSink<WebSocket, Message>);
/// The receiving half of a socket.
struct WsStream(futures_util::stream::SplitStream<WebSocket>);

fn futures_split(socket: WebSocket) -> (WsSink, WsStream) {
    use futures_util::StreamExt;
    let (sink, stream) = socket.split();
    (WsSink(sink), WsStream(stream))
}

impl WsSink {
    async fn send(&mut self, text: String) -> Result<(), axum::Error> {
        use futures_util::SinkExt;
        self.0.send(Message::Text(Utf8Bytes::from(text))).await
    }

    /// Queue a message without flushing (see [`WsSink::flush`]).
    async fn feed(&mut self, text: String) -> Result<(), axum::Error> {
        use futures_util::SinkExt;
        self.0.feed(Message::Text(Utf8Bytes::from(text))).await
    }

    async fn flush(&mut self) -> Result<(), axum::Error> {
        use futures_util::SinkExt;
        self.0.flush().await
    }

    async fn close(&mut self, code: u16, reason: String) -> Result<(), axum::Error> {
        use futures_util::SinkExt;
        self.0.send(Message::Close(Some(CloseFrame { code, reason: Utf8Bytes::from(reason) }))).await
    }

    /// Flush and close the socket's sending side: this writes the answer to a client's close
    /// frame, which the socket queues on reading it but sends only on its next write or flush
    /// (dropped unflushed, the client saw its connection end without one: code 1006).
    async fn finish(&mut self) {
        use futures_util::SinkExt;
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), self.0.close()).await;
    }
}

impl WsStream {
    async fn recv(&mut self) -> Option<Result<Message, axum::Error>> {
        use futures_util::StreamExt;
        self.0.next().await
    }
}

/// What a client that fell behind is told: how many messages it missed, and the last anomaly
/// it was sent, from which `GET /api/v1/anomalies?after_id=` gives every anomaly after it
/// (null when none was sent yet: then by time, `?from=`).
fn lagged(missed: u64, after_id: Option<i64>) -> String {
    json!({ "type": "lagged", "missed": missed, "after_id": after_id }).to_string()
}

/// Why a socket let in with a token that is no longer the configured one is closed.
const TOKEN_CHANGED: &str = "the API token changed ([api] token); reconnect with the new one";
/// How often an open socket checks that its token is still the configured one.
const TOKEN_CHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// Resolves once a token is configured that is not `admitted`, the one in force when the
/// socket was let in (by the auth layer): a reload changed or set it, and the socket must
/// not go on with what no longer authenticates. Removing the token closes nothing.
async fn token_changed(state: &AppState, admitted: Option<String>) {
    let mut check = tokio::time::interval(TOKEN_CHECK);
    loop {
        check.tick().await;
        let settings = state.settings.load();
        if settings.token.is_some() && settings.token != admitted {
            return;
        }
    }
}

/// Resolves when the agent starts shutting down.
async fn closing(shutdown: &mut tokio::sync::watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`: drop it here, not across the caller's await.
    let _ = shutdown.wait_for(|closing| *closing).await.map(|_| ());
}
