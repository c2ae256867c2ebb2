//! The WebSockets over a real socket: the handshake's checks, and what a connection refuses.

use super::*;
use crate::api::AppState;
use std::net::SocketAddr;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The API over `state`, served on a loopback port for the test's life.
async fn serve(state: AppState) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router(state)).await.unwrap() });
    address
}

/// A handshake to `path`, with an `Origin` when given (as a browser's page sends it): the
/// socket, or the refusal's status and JSON body.
async fn handshake(address: SocketAddr, path: &str, origin: Option<&str>) -> Result<Socket, (StatusCode, Value)> {
    let mut request = format!("ws://{address}{path}").into_client_request().unwrap();
    if let Some(origin) = origin {
        request.headers_mut().insert("origin", origin.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let body = response.body().clone().unwrap_or_default();
            let body = serde_json::from_slice(&body)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&body)));
            Err((response.status(), body))
        }
        Err(e) => panic!("{path}: {e}"),
    }
}

fn state_with(token: Option<&str>, cors_origins: &[&str]) -> AppState {
    let mut settings = settings(2048, 100);
    settings.token = token.map(str::to_owned);
    settings.cors_origins = cors_origins.iter().map(|o| (*o).to_owned()).collect();
    app_state(constant_detectors(0.3, 0.5), settings)
}

#[tokio::test]
async fn a_websocket_handshake_from_another_sites_page_is_refused_unless_its_origin_is_listed() {
    let address = serve(state_with(None, &["https://dash.example.com"])).await;
    let (own, own_behind_tls) = (format!("http://{address}"), format!("https://{address}"));
    for path in ["/ws", "/ws/application"] {
        // No Origin: not a browser's page. The agent's own /ui/ (any scheme, as behind a TLS
        // proxy) and a listed origin: let in.
        for origin in [None, Some(own.as_str()), Some(own_behind_tls.as_str()), Some("https://dash.example.com")] {
            assert!(handshake(address, path, origin).await.is_ok(), "{path} from {origin:?}");
        }
        // Any other page: refused before the upgrade, saying what to do.
        for origin in ["https://evil.example.com", "http://127.0.0.1:1", "null", "https://dash.example.com.evil.net"] {
            let (status, body) = handshake(address, path, Some(origin)).await.map(|_| ()).unwrap_err();
            assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("origin_not_allowed")), "{body}");
            let message = body["message"].as_str().unwrap();
            assert!(message.contains(&format!("{origin:?}")) && message.contains("[api] cors_origins"), "{message}");
        }
    }
    // "*" lets any page in; the token, when set, is still needed, and checked first.
    let token = "0123456789abcdef0123";
    let address = serve(state_with(Some(token), &["*"])).await;
    assert!(handshake(address, &format!("/ws?token={token}"), Some("https://any.example.org")).await.is_ok());
    let (status, _) = handshake(address, "/ws", Some("https://any.example.org")).await.map(|_| ()).unwrap_err();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let address = serve(state_with(Some(token), &[])).await;
    let path = format!("/ws/application?token={token}");
    let refused = handshake(address, &path, Some("https://evil.example.com")).await.map(|_| ());
    assert_eq!(refused.unwrap_err().0, StatusCode::FORBIDDEN);
}

#[test]
fn an_origin_is_the_agents_own_when_it_names_the_requests_host_and_port() {
    use crate::api::ws::same_origin;
    for (origin, host) in [
        ("http://127.0.0.1:8420", "127.0.0.1:8420"),
        ("https://Vigil.Example.com", "vigil.example.com"),
        ("http://vigil.example.com", "vigil.example.com:80"),
        ("https://vigil.example.com:443", "vigil.example.com"),
        ("http://[::1]:8420", "[::1]:8420"),
    ] {
        assert!(same_origin(origin, host), "{origin} on {host}");
    }
    for (origin, host) in [
        ("http://127.0.0.1:8421", "127.0.0.1:8420"),
        ("http://127.0.0.1", "127.0.0.1:8420"),
        ("https://vigil.example.com", "vigil.example.com:80"),
        ("http://evil.example.com", "vigil.example.com"),
        ("null", "vigil.example.com"),
        ("http://vigil.example.com", ""),
    ] {
        assert!(!same_origin(origin, host), "{origin} on {host}");
    }
}

#[tokio::test]
async fn a_websocket_frame_over_the_byte_limit_closes_with_1009_and_counts_as_rejected() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let state = state_with(None, &[]);
    let address = serve(state.clone()).await;
    let mut socket = handshake(address, "/ws/application", None).await.unwrap();
    socket.send(Message::text("x".repeat(5000))).await.unwrap();
    let closed = tokio::time::timeout(std::time::Duration::from_secs(10), socket.next()).await.unwrap();
    let Some(Ok(Message::Close(Some(frame)))) = closed else { panic!("{closed:?}") };
    assert_eq!(u16::from(frame.code), 1009, "{frame:?}");
    assert_eq!(state.rejected.load(std::sync::atomic::Ordering::Relaxed), 1);
    let (_, stats) = get(router(state), "/api/v1/stats", None).await;
    assert_eq!(stats["rejected_total"], 1);
}
