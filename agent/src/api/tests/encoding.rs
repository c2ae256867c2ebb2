//! Compressed request bodies (`Content-Encoding`) and a byte order mark before the JSON.

use super::{app, app_with, assert_error, log};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::io::Write;
use tower::ServiceExt;

async fn detect_encoded(app: axum::Router, encoding: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let request = Request::post("/anomaly_detection")
        .header("content-type", "application/json")
        .header("content-encoding", encoding)
        .body(Body::from(body))
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("not JSON ({e}): {bytes:?}")))
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn zlib(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn two_logs() -> Vec<u8> {
    json!({ "logs": [log(), log()] }).to_string().into_bytes()
}

#[tokio::test]
async fn a_gzip_or_deflate_body_is_decompressed_and_scored() {
    for (encoding, body) in [("gzip", gzip(&two_logs())), ("deflate", zlib(&two_logs())), ("GZIP", gzip(&two_logs()))] {
        let (status, answer) = detect_encoded(app(), encoding, body).await;
        assert_eq!(status, StatusCode::OK, "{encoding}: {answer}");
        assert_eq!(answer["total_logs"], 2, "{encoding}: {answer}");
    }
    let (status, answer) = detect_encoded(app(), "identity", two_logs()).await;
    assert_eq!((status, &answer["total_logs"]), (StatusCode::OK, &json!(2)), "{answer}");
}

#[tokio::test]
async fn the_byte_limit_applies_to_the_decompressed_body() {
    let logs: Vec<Value> = (0..200).map(|_| log()).collect();
    let plain = json!({ "logs": logs }).to_string();
    let compressed = gzip(plain.as_bytes());
    assert!(compressed.len() < 4096 && plain.len() > 4096, "{} / {}", compressed.len(), plain.len());
    let answer = detect_encoded(app_with(0.85, 0.5, 4096, 1000), "gzip", compressed).await;
    assert_error(answer, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "once decompressed");
}

#[tokio::test]
async fn a_body_that_is_not_what_its_encoding_says_is_400() {
    let answer = detect_encoded(app(), "gzip", two_logs()).await;
    assert_error(answer, StatusCode::BAD_REQUEST, "bad_encoding", "not valid gzip");
    let mut cut = gzip(&two_logs());
    cut.truncate(cut.len() / 2);
    let answer = detect_encoded(app(), "gzip", cut).await;
    assert_error(answer, StatusCode::BAD_REQUEST, "bad_encoding", "not valid gzip");
}

#[tokio::test]
async fn an_unknown_encoding_is_415_with_what_to_send() {
    for encoding in ["br", "zstd", "gzip, br"] {
        let answer = detect_encoded(app(), encoding, two_logs()).await;
        assert_error(answer, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_encoding", "gzip or deflate");
    }
}

#[tokio::test]
async fn a_byte_order_mark_before_the_json_is_ignored() {
    let mut body = b"\xEF\xBB\xBF".to_vec();
    body.extend(two_logs());
    let (status, answer) = super::detect(app(), body).await;
    assert_eq!((status, &answer["total_logs"]), (StatusCode::OK, &json!(2)), "{answer}");
}
