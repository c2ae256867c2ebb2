//! Handler tests over the router, without a socket: every field of every response and every
//! error class of API.md.

use super::router;
use crate::config::ApiSettings;
use crate::testing::{app_state, constant_detectors};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

mod clients;
mod encoding;
mod frames;
mod health;
mod sockets;
mod summaries;

/// Settings on loopback with no token and no CORS origins.
fn settings(max_body_bytes: usize, max_batch_logs: usize) -> ApiSettings {
    ApiSettings {
        address: ([127, 0, 0, 1], 0).into(),
        max_body_bytes,
        max_batch_logs,
        token: None,
        cors_origins: vec![],
    }
}

fn app_with(score: f32, threshold: f64, max_body_bytes: usize, max_batch_logs: usize) -> axum::Router {
    router(app_state(constant_detectors(score, threshold), settings(max_body_bytes, max_batch_logs)))
}

fn app() -> axum::Router {
    app_with(0.85, 0.5, 1 << 20, 100)
}

async fn send(
    app: axum::Router,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: impl Into<Body>,
) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(ct) = content_type {
        request = request.header("content-type", ct);
    }
    let response = app.oneshot(request.body(body.into()).unwrap()).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)));
    (status, value)
}

async fn detect(app: axum::Router, body: impl Into<Body>) -> (StatusCode, Value) {
    send(app, "POST", "/anomaly_detection", Some("application/json"), body).await
}

fn log() -> Value {
    json!({
        "ip": "192.168.1.1",
        "timestamp": "2025-04-01T12:34:56Z",
        "method": "GET",
        "url": "/api/v1/data",
        "status_code": 200,
        "bytes_sent": 500,
        "user_agent": "Mozilla/5.0"
    })
}

fn with(field: &str, value: Value) -> Value {
    let mut log = log();
    log[field] = value;
    json!({ "logs": [log] })
}

/// Asserts an error answer: status, code, and that the message names `mentions`.
fn assert_error(answer: (StatusCode, Value), status: StatusCode, code: &str, mentions: &str) {
    let (got, body) = answer;
    assert_eq!(got, status, "{body}");
    assert_eq!(body["error"], code, "{body}");
    let message = body["message"].as_str().expect("message is a string");
    assert!(message.contains(mentions), "message {message:?} should mention {mentions:?}");
}

#[tokio::test]
async fn root_says_the_server_is_running() {
    let (status, body) = send(app(), "GET", "/", None, Body::empty()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["message"], "Vigil log management server is running");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn anomaly_detection_answers_every_field_of_the_contract() {
    let mut second = log();
    second["ip"] = json!("2001:db8::7");
    second["method"] = json!("POST");
    second["url"] = json!("/login?next=/");
    second["status_code"] = json!(503);
    second["timestamp"] = json!("2025-04-01T14:34:56+02:00");
    let (status, body) = detect(app(), json!({ "logs": [log(), second] }).to_string()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["total_logs"], 2);
    assert_eq!(body["anomalies_detected"], 2);
    let details = body["anomaly_details"].as_array().unwrap();
    assert_eq!(details.len(), 2);
    let d = &details[1];
    assert_eq!(d["timestamp"], "2025-04-01T14:34:56+02:00");
    assert_eq!(d["ip"], "2001:db8::7");
    assert_eq!(d["method"], "POST");
    assert_eq!(d["url"], "/login?next=/");
    assert_eq!(d["status_code"], 503);
    assert_eq!(d["anomaly_score"], 0.85);
    assert_eq!(d["index"], 1);
    assert_eq!(d["detector"], "constant-score");
    assert_eq!(d["reason"], "constant-score fixture");
    let time = body["prediction_time"].as_str().expect("prediction_time is a string");
    let seconds: f64 = time.parse().expect("prediction_time holds a decimal number");
    assert!((0.0..10.0).contains(&seconds), "{time}");
}

#[tokio::test]
async fn logs_under_the_threshold_are_counted_but_not_listed() {
    let app = app_with(0.3, 0.5, 1 << 20, 100);
    let (status, body) = detect(app, json!({ "logs": [log(), log(), log()] }).to_string()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["total_logs"], 3);
    assert_eq!(body["anomalies_detected"], 0);
    assert_eq!(body["anomaly_details"], json!([]));
}

#[tokio::test]
async fn a_score_equal_to_the_threshold_is_an_anomaly() {
    let (_, body) = detect(app_with(0.5, 0.5, 1 << 20, 100), json!({ "logs": [log()] }).to_string()).await;
    assert_eq!(body["anomalies_detected"], 1);
}

#[tokio::test]
async fn malformed_json_is_400() {
    assert_error(detect(app(), "{\"logs\": [").await, StatusCode::BAD_REQUEST, "malformed_json", "not valid JSON");
    assert_error(detect(app(), "logs=1").await, StatusCode::BAD_REQUEST, "malformed_json", "line 1");
    assert_error(detect(app(), "").await, StatusCode::BAD_REQUEST, "malformed_json", "not valid JSON");
    let trailing = format!("{} x", json!({ "logs": [log()] }));
    assert_error(detect(app(), trailing).await, StatusCode::BAD_REQUEST, "malformed_json", "trailing");
}

#[tokio::test]
async fn invalid_utf8_is_400() {
    assert_error(detect(app(), &b"{\"logs\": \"\xff\"}"[..]).await, StatusCode::BAD_REQUEST, "malformed_json", "JSON");
}

#[tokio::test]
async fn wrong_types_are_422_naming_index_and_field() {
    let cases = [
        ("status_code", json!("200"), "logs[0].status_code"),
        ("status_code", json!(200.5), "100-599"),
        ("bytes_sent", json!("500"), "logs[0].bytes_sent"),
        ("ip", json!(192), "logs[0].ip"),
        ("user_agent", json!(null), "logs[0].user_agent"),
        ("url", json!(["/"]), "logs[0].url"),
    ];
    for (field, value, mentions) in cases {
        assert_error(
            detect(app(), with(field, value).to_string()).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "wrong_type",
            mentions,
        );
    }
    assert_error(detect(app(), r#"{"logs": {}}"#).await, StatusCode::UNPROCESSABLE_ENTITY, "wrong_type", "logs");
    assert_error(detect(app(), r#"[1, 2]"#).await, StatusCode::UNPROCESSABLE_ENTITY, "wrong_type", "request body");
    assert_error(detect(app(), r#"{"logs": [7]}"#).await, StatusCode::UNPROCESSABLE_ENTITY, "wrong_type", "logs[0]");
}

#[tokio::test]
async fn missing_fields_are_422_naming_the_field() {
    for field in ["ip", "timestamp", "method", "url", "status_code", "bytes_sent", "user_agent"] {
        let mut log = log();
        log.as_object_mut().unwrap().remove(field);
        let answer = detect(app(), json!({ "logs": [log] }).to_string()).await;
        assert_error(answer, StatusCode::UNPROCESSABLE_ENTITY, "missing_field", field);
    }
    assert_error(detect(app(), "{}").await, StatusCode::UNPROCESSABLE_ENTITY, "missing_field", "logs");
}

#[tokio::test]
async fn negative_and_absurd_numbers_are_422() {
    let cases = [
        ("bytes_sent", json!(-1), "logs[0].bytes_sent"),
        ("bytes_sent", json!(1_u64 << 50), "1 TiB"),
        ("bytes_sent", json!(1e300), "logs[0].bytes_sent"),
        ("status_code", json!(-200), "outside 100-599"),
        ("status_code", json!(u64::MAX), "logs[0].status_code"),
        // Quoted as sent, not as a clamped value the client never wrote.
        ("bytes_sent", json!(u64::MAX), "18446744073709551615 is outside 0-1099511627776"),
    ];
    for (field, value, mentions) in cases {
        let (status, body) = detect(app(), with(field, value).to_string()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(body["message"].as_str().unwrap().contains(mentions), "{body}");
    }
    // An integer past u64, which serde_json reads as a float, is out of range, not a float.
    let body =
        with("bytes_sent", json!(0)).to_string().replace("\"bytes_sent\":0", "\"bytes_sent\":99999999999999999999999");
    let (status, answer) = detect(app(), body).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_value")),
        "{answer}"
    );
    // A hint is not said twice.
    let (_, answer) = detect(app(), with("timestamp", json!(1_712_000_000)).to_string()).await;
    let message = answer["message"].as_str().unwrap();
    assert_eq!(message.matches("expected a string").count(), 1, "{message}");
}

/// JSON Schema counts `200.0` as an integer, so the OpenAPI document's `integer` does too:
/// whole numbers written as floats are taken; any other fraction is a type error.
#[tokio::test]
async fn whole_numbers_written_as_floats_are_taken_and_fractions_are_422() {
    let mut log = log();
    log["status_code"] = json!(404.0);
    log["bytes_sent"] = json!(1_712_959.0);
    let body = json!({ "logs": [log] }).to_string();
    let decoded = super::request::decode(body.as_bytes(), 10).unwrap_or_else(|e| panic!("{}", e.message));
    assert_eq!((decoded[0].event.status_code, decoded[0].event.bytes_sent), (404, 1_712_959));
    let (status, body) = detect(app(), body).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["total_logs"], 1, "{body}");
    for (field, value) in [("status_code", json!(404.5)), ("bytes_sent", json!(12.25)), ("bytes_sent", json!(-0.5))] {
        assert_error(
            detect(app(), with(field, value).to_string()).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "wrong_type",
            &format!("logs[0].{field}"),
        );
    }
}

#[tokio::test]
async fn status_codes_outside_100_to_599_are_422() {
    for code in [0, 99, 600, 1000] {
        assert_error(
            detect(app(), with("status_code", json!(code)).to_string()).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
            "outside 100-599",
        );
    }
    for code in [100, 599] {
        assert_eq!(detect(app(), with("status_code", json!(code)).to_string()).await.0, StatusCode::OK);
    }
}

#[tokio::test]
async fn control_characters_are_422_naming_the_field() {
    for field in ["url", "user_agent", "method", "ip", "timestamp"] {
        let mut log = log();
        let text = log[field].as_str().unwrap().to_owned();
        log[field] = json!(format!("{text}\u{0}x"));
        let answer = detect(app(), json!({ "logs": [log] }).to_string()).await;
        assert_error(answer, StatusCode::UNPROCESSABLE_ENTITY, "control_character", &format!("logs[0].{field}"));
    }
    let answer = detect(app(), with("user_agent", json!("evil\r\nX-Injected: 1")).to_string()).await;
    assert_error(answer, StatusCode::UNPROCESSABLE_ENTITY, "control_character", "'\\r'");
}

#[tokio::test]
async fn invalid_values_are_422_with_the_expected_form() {
    let cases = [
        ("ip", json!("not-an-ip"), "not an IP address"),
        ("ip", json!(""), "not an IP address"),
        ("timestamp", json!("yesterday"), "RFC 3339"),
        ("timestamp", json!("2025-04-01 12:34:56"), "RFC 3339"),
        ("timestamp", json!("0001-01-01T00:00:00Z"), "before 1970"),
        ("timestamp", json!("1969-12-31T23:59:59.999Z"), "before 1970"),
        ("timestamp", json!("9998-01-01T00:00:00Z"), "more than a day ahead"),
        ("method", json!(""), "HTTP method"),
        ("method", json!("GE T"), "HTTP method"),
        ("url", json!(""), "logs[0].url"),
        ("url", json!("/".repeat(20_000)), "logs[0].url"),
        ("user_agent", json!("a".repeat(10_000)), "logs[0].user_agent"),
    ];
    for (field, value, mentions) in cases {
        assert_error(
            detect(app(), with(field, value).to_string()).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
            mentions,
        );
    }
}

#[tokio::test]
async fn offsets_beyond_23_59_and_leap_seconds_are_refused_not_changed() {
    for (timestamp, mentions) in [
        ("2025-04-01T12:34:56+24:00", "beyond RFC 3339's -23:59 to +23:59"),
        ("2025-04-01T12:34:56-25:00", "beyond RFC 3339's -23:59 to +23:59"),
        ("2025-04-01T12:34:60Z", "second 60 (a leap second)"),
        ("2025-04-01T12:34:60.5+02:00", "second 60 (a leap second)"),
    ] {
        let answer = detect(app(), with("timestamp", json!(timestamp)).to_string()).await;
        assert_error(answer.clone(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_value", mentions);
        assert!(answer.1["message"].as_str().unwrap().starts_with("logs[0].timestamp:"), "{}", answer.1);
    }
    // The largest offsets RFC 3339 has are taken, and stored as the time they mean.
    let app = app();
    for timestamp in ["2025-04-01T23:59:59+23:59", "2025-04-01T00:00:00-23:59"] {
        assert_eq!(detect(app.clone(), with("timestamp", json!(timestamp)).to_string()).await.0, StatusCode::OK);
    }
    let (_, body) = get(app, "/api/v1/logs", None).await;
    let stored: Vec<&str> = body["logs"].as_array().unwrap().iter().map(|l| l["timestamp"].as_str().unwrap()).collect();
    assert_eq!(stored, ["2025-04-01T23:59:00Z", "2025-04-01T00:00:59Z"]);
}

#[tokio::test]
async fn a_valid_time_far_ahead_or_far_back_is_called_so_not_malformed() {
    for (timestamp, mentions) in [
        ("9999-12-31T23:59:59Z", "is more than a day ahead of the agent's clock"),
        ("9999-12-31T23:59:59.999+01:00", "is more than a day ahead of the agent's clock"),
        ("-009999-01-01T00:00:00Z", "is before 1970"),
    ] {
        let answer = detect(app(), with("timestamp", json!(timestamp)).to_string()).await;
        assert_error(answer, StatusCode::UNPROCESSABLE_ENTITY, "invalid_value", mentions);
    }
}

#[tokio::test]
async fn every_bad_log_is_listed_with_its_index() {
    let mut bad = log();
    bad["status_code"] = json!(700);
    let (status, body) = detect(app(), json!({ "logs": [log(), bad.clone(), log(), bad] }).to_string()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["message"].as_str().unwrap().contains("logs[1].status_code"));
    assert!(body["message"].as_str().unwrap().contains("1 more"));
    let details: Vec<&str> = body["details"].as_array().unwrap().iter().map(|d| d.as_str().unwrap()).collect();
    assert_eq!(details.len(), 2);
    assert!(details[1].starts_with("logs[3].status_code"));
}

#[tokio::test]
async fn empty_batch_is_422() {
    assert_error(
        detect(app(), r#"{"logs": []}"#).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "empty_batch",
        "at least one log",
    );
}

#[tokio::test]
async fn too_many_logs_is_413_naming_the_limit() {
    let app = app_with(0.85, 0.5, 1 << 20, 3);
    let body = json!({ "logs": [log(), log(), log(), log()] }).to_string();
    assert_error(detect(app, body).await, StatusCode::PAYLOAD_TOO_LARGE, "too_many_logs", "api.max_batch_logs");
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let app = app_with(0.85, 0.5, 2048, 1000);
    let logs: Vec<Value> = (0..40).map(|_| log()).collect();
    let body = json!({ "logs": logs }).to_string();
    assert!(body.len() > 2048);
    assert_error(detect(app, body).await, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "api.max_body_bytes");
}

#[tokio::test]
async fn a_body_that_is_not_declared_json_is_415() {
    let body = json!({ "logs": [log()] }).to_string();
    let answer = send(app(), "POST", "/anomaly_detection", Some("text/plain"), body.clone()).await;
    assert_error(answer, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "application/json");
    let answer = send(app(), "POST", "/anomaly_detection", None, body.clone()).await;
    assert_error(answer, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "none");
    let answer = send(app(), "POST", "/anomaly_detection", Some("application/json; charset=utf-8"), body).await;
    assert_eq!(answer.0, StatusCode::OK);
}

#[tokio::test]
async fn unknown_fields_in_a_log_are_ignored() {
    let mut log = log();
    log["referer"] = json!("https://example.com/");
    let (status, body) = detect(app(), json!({ "logs": [log] }).to_string()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_json() {
    assert_error(send(app(), "GET", "/nope", None, Body::empty()).await, StatusCode::NOT_FOUND, "not_found", "/nope");
    assert_error(
        send(app(), "GET", "/anomaly_detection", None, Body::empty()).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "GET",
    );
}

#[tokio::test]
async fn the_agent_keeps_answering_after_bad_input() {
    let app = app();
    assert_eq!(detect(app.clone(), "{").await.0, StatusCode::BAD_REQUEST);
    assert_eq!(
        detect(app.clone(), with("status_code", json!(9999)).to_string()).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let (status, body) = detect(app, json!({ "logs": [log()] }).to_string()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["anomalies_detected"], 1);
}

async fn get(app: axum::Router, path: &str, token: Option<&str>) -> (StatusCode, Value) {
    let mut request = Request::builder().method("GET").uri(path);
    if let Some(t) = token {
        request = request.header("authorization", format!("Bearer {t}"));
    }
    let response = app.oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

fn logs_with(specs: &[(&str, i64)]) -> String {
    let logs: Vec<Value> = specs
        .iter()
        .map(|(ip, status)| {
            let mut l = log();
            l["ip"] = json!(ip);
            l["status_code"] = json!(status);
            l
        })
        .collect();
    json!({ "logs": logs }).to_string()
}

#[tokio::test]
async fn stats_count_what_was_ingested_and_rejected() {
    let app = app_with(0.3, 0.5, 1 << 20, 100);
    detect(app.clone(), logs_with(&[("10.0.0.1", 200), ("10.0.0.2", 500), ("10.0.0.3", 404)])).await;
    detect(app.clone(), "{").await;
    let (status, body) = get(app, "/api/v1/stats", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["events_total"], 3);
    assert_eq!(body["anomalies_total"], 0);
    assert_eq!(body["rejected_total"], 1);
    assert_eq!(body["store"]["events"], 3);
    assert_eq!(body["store"]["per_source"][0], json!({ "source": "api", "events": 3 }));
    // The pages in use, which max_size_mib limits, and the files, which hold more.
    let used = body["store"]["bytes_used"].as_u64().expect("bytes_used");
    let on_disk = body["store"]["bytes_on_disk"].as_u64().expect("bytes_on_disk");
    assert!(used > 0 && used <= on_disk, "used {used}, on disk {on_disk}");
    // HTTP and WebSocket ingest are sources too, with what they brought since start.
    assert_eq!(body["sources"]["api"], json!({ "type": "http", "events": 3 }));
    assert_eq!(body["sources"]["ws"], json!({ "type": "websocket", "events": 0 }));
    assert!(body["queues"]["pipeline"].is_u64());
}

#[tokio::test]
async fn every_refused_body_counts_once_in_rejected_total() {
    let app = app_with(0.3, 0.5, 2048, 100);
    let post = |content_type: &str, encoding: Option<&str>, body: Vec<u8>| {
        let mut request = Request::post("/anomaly_detection").header("content-type", content_type);
        if let Some(encoding) = encoding {
            request = request.header("content-encoding", encoding);
        }
        let response = app.clone().oneshot(request.body(Body::from(body)).unwrap());
        async move {
            let response = response.await.unwrap();
            let status = response.status();
            let body: Value =
                serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
            (status, body["error"].as_str().unwrap_or_default().to_owned())
        }
    };
    let json = "application/json";
    let mut too_big = log();
    too_big["url"] = json!(format!("/{}", "a".repeat(3000)));
    let too_big = json!({ "logs": [too_big] }).to_string().into_bytes();
    let mut gzipped = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gzipped, &too_big).unwrap();
    let gzipped = gzipped.finish().unwrap();
    let one = json!({ "logs": [log()] }).to_string().into_bytes();
    let refusals = [
        (json, None, too_big, (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large")),
        (json, Some("gzip"), gzipped, (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large")),
        ("text/plain", None, one.clone(), (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")),
        (json, Some("gzip"), one.clone(), (StatusCode::BAD_REQUEST, "bad_encoding")),
        (json, Some("br"), one.clone(), (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_encoding")),
        (json, None, b"{\"logs\": []}".to_vec(), (StatusCode::UNPROCESSABLE_ENTITY, "empty_batch")),
    ];
    for (i, (content_type, encoding, body, refused)) in refusals.into_iter().enumerate() {
        let (status, code) = post(content_type, encoding, body).await;
        assert_eq!((status, code.as_str()), refused);
        let (_, stats) = get(app.clone(), "/api/v1/stats", None).await;
        assert_eq!(stats["rejected_total"], i + 1, "after {refused:?}");
    }
    // An accepted body counts nothing.
    assert_eq!(post(json, None, one).await.0, StatusCode::OK);
    let (_, stats) = get(app.clone(), "/api/v1/stats", None).await;
    assert_eq!((stats["rejected_total"].as_u64(), stats["since_start"]["rejected"].as_u64()), (Some(6), Some(6)));
    let metrics = app.oneshot(Request::get("/metrics").body(Body::empty()).unwrap()).await.unwrap();
    let text = String::from_utf8(metrics.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    assert!(text.lines().any(|l| l == "vigil_rejected_total 6"), "{text}");
}

#[tokio::test]
async fn refused_query_parameters_count_in_rejected_total_and_good_ones_do_not() {
    // A 400 for a query's parameters was not counted, unlike every refused body.
    let app = app();
    let rejected = |app: axum::Router| async move { get(app, "/api/v1/stats", None).await.1["rejected_total"].clone() };
    for (n, path) in ["/api/v1/logs?limit=0", "/api/v1/anomalies?colour=red", "/api/v1/summaries?from=yesterday"]
        .into_iter()
        .enumerate()
    {
        let (status, body) = get(app.clone(), path, None).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_parameter")), "{path}");
        assert_eq!(rejected(app.clone()).await, n + 1, "after {path}");
    }
    for path in ["/api/v1/logs?limit=5", "/api/v1/anomalies", "/api/v1/summaries?limit=3"] {
        assert_eq!(get(app.clone(), path, None).await.0, StatusCode::OK, "{path}");
    }
    assert_eq!(rejected(app).await, 3);
}

#[tokio::test]
async fn logs_are_filtered_newest_first_and_paged() {
    let app = app_with(0.3, 0.5, 1 << 20, 100);
    detect(app.clone(), logs_with(&[("10.0.0.1", 200), ("10.0.0.2", 500), ("10.0.0.1", 503), ("10.0.0.3", 404)])).await;
    let (_, body) = get(app.clone(), "/api/v1/logs?status=5xx", None).await;
    let ips: Vec<&str> = body["logs"].as_array().unwrap().iter().map(|l| l["ip"].as_str().unwrap()).collect();
    assert_eq!(ips, ["10.0.0.1", "10.0.0.2"], "5xx only, newest first");
    let (_, body) = get(app.clone(), "/api/v1/logs?ip=10.0.0.1&status=200", None).await;
    assert_eq!(body["logs"].as_array().unwrap().len(), 1);
    let first = &body["logs"][0];
    assert_eq!(
        (first["id"].as_i64(), first["anomaly_score"].as_f64().map(|s| (s * 10.0).round())),
        (Some(1), Some(3.0))
    );
    let (_, page) = get(app.clone(), "/api/v1/logs?limit=3", None).await;
    assert_eq!(page["logs"].as_array().unwrap().len(), 3);
    let (_, rest) = get(app.clone(), &format!("/api/v1/logs?limit=3&before_id={}", page["next_before_id"]), None).await;
    assert_eq!(rest["logs"].as_array().unwrap().len(), 1);
    assert_eq!(rest["logs"][0]["id"], 1);
}

#[tokio::test]
async fn q_ignores_the_case_of_letters_beyond_ascii_too() {
    let app = app();
    let mut log = log();
    log["user_agent"] = json!("ÉCOLE-Browser");
    log["url"] = json!("/ÜBER/straße");
    assert_eq!(detect(app.clone(), json!({ "logs": [log] }).to_string()).await.0, StatusCode::OK);
    for (q, found) in [("%C3%A9cole", 1), ("%C3%89COLE", 1), ("BROWSER", 1), ("%C3%BCber", 1), ("STRASSE", 0)] {
        let (status, body) = get(app.clone(), &format!("/api/v1/logs?q={q}"), None).await;
        assert_eq!((status, body["logs"].as_array().unwrap().len()), (StatusCode::OK, found), "q={q}: {body}");
    }
}

#[tokio::test]
async fn a_window_with_finer_digits_than_milliseconds_keeps_the_events_listed_in_it() {
    let app = app();
    let log = with("timestamp", json!("2024-06-01T00:00:00.999999Z")).to_string();
    assert_eq!(detect(app.clone(), log).await.0, StatusCode::OK);
    let (_, body) = get(app.clone(), "/api/v1/logs", None).await;
    assert_eq!(body["logs"][0]["timestamp"], "2024-06-01T00:00:00.999Z", "stored to the millisecond");
    for (window, found) in [
        // `to` is rounded up to the next millisecond: .999 is before .9995.
        ("to=2024-06-01T00:00:00.9995Z", 1),
        ("to=2024-06-01T00:00:00.999000001Z", 1),
        ("to=2024-06-01T00:00:00.999Z", 0),
        // `from` is rounded down.
        ("from=2024-06-01T00:00:00.9995Z", 1),
        ("from=2024-06-01T00:00:01Z", 0),
        ("from=2024-06-01T00:00:00.9991Z&to=2024-06-01T00:00:00.9992Z", 1),
    ] {
        for path in ["/api/v1/logs", "/api/v1/anomalies"] {
            let (status, body) = get(app.clone(), &format!("{path}?{window}"), None).await;
            let rows = body.as_object().and_then(|o| o.values().find_map(Value::as_array)).map(Vec::len);
            assert_eq!((status, rows), (StatusCode::OK, Some(found)), "{path}?{window}: {body}");
        }
    }
    // The same instant twice is still an empty window, refused.
    let (status, _) = get(app, "/api/v1/logs?from=2024-06-01T00:00:00.9995Z&to=2024-06-01T00:00:00.9995Z", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn bad_query_parameters_are_400_naming_the_parameter() {
    for (query, mentions) in [
        ("status=6xx", "status"),
        ("status=abc", "status"),
        ("limit=0", "limit"),
        ("from=yesterday", "from"),
        ("colour=red", "colour"),
        // The window is from <= time < to, on every query endpoint alike.
        ("from=2025-04-01T00:10:00Z&to=2025-04-01T00:10:00Z", "to: must be later than from"),
        ("from=2025-04-02T00:00:00Z&to=2025-04-01T00:00:00Z", "to: must be later than from"),
        // An offset's unencoded `+` arrives as a space.
        ("from=2025-04-01T00:00:00+02:00", "write an offset's + as %2B"),
        ("to=9999-12-31T23:59:59Z", "not a time the agent can use"),
    ] {
        let (status, body) = get(app(), &format!("/api/v1/logs?{query}"), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["error"], "invalid_parameter");
        assert!(body["message"].as_str().unwrap().contains(mentions), "{body}");
    }
}

#[tokio::test]
async fn anomalies_lists_only_the_anomalous_with_detector_and_reason() {
    let app = app_with(0.85, 0.5, 1 << 20, 100);
    detect(app.clone(), logs_with(&[("10.0.0.1", 200), ("10.0.0.2", 500)])).await;
    let (status, body) = get(app, "/api/v1/anomalies?status=500", None).await;
    assert_eq!(status, StatusCode::OK);
    let list = body["anomalies"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!((list[0]["ip"].as_str(), list[0]["detector"].as_str()), (Some("10.0.0.2"), Some("constant-score")));
    assert_eq!(list[0]["reason"], "constant-score fixture");
    // The score as the POST's answer writes it (the f32's shortest decimal), not widened.
    assert_eq!(list[0]["anomaly_score"].to_string(), "0.85");
}

/// The API with `[api] token` set.
fn app_with_token(token: &str) -> axum::Router {
    let settings = ApiSettings {
        address: ([127, 0, 0, 1], 0).into(),
        max_body_bytes: 1 << 20,
        max_batch_logs: 100,
        token: Some(token.into()),
        cors_origins: vec![],
    };
    router(app_state(constant_detectors(0.3, 0.5), settings))
}

#[tokio::test]
async fn a_token_guards_everything_but_root_and_health() {
    let token = "0123456789abcdef0123";
    let app = app_with_token(token);
    let (status, body) = get(app.clone(), "/api/v1/stats", None).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthorized")));
    let (status, _) = get(app.clone(), "/api/v1/stats", Some("wrong-token-wrong-token")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(get(app.clone(), "/api/v1/stats", Some(token)).await.0, StatusCode::OK);
    assert_eq!(get(app.clone(), &format!("/api/v1/logs?token={token}"), None).await.0, StatusCode::OK);
    assert_eq!(get(app.clone(), "/", None).await.0, StatusCode::OK);
    assert_eq!(get(app.clone(), "/health", None).await.0, StatusCode::OK);
    let answer =
        send(app, "POST", "/anomaly_detection", Some("application/json"), json!({ "logs": [log()] }).to_string()).await;
    assert_eq!(answer.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_token_is_read_percent_decoded_from_the_query_and_with_any_case_of_bearer() {
    // A base64 token, as `openssl rand -base64` makes them: the dashboard sends it through
    // `encodeURIComponent`, so `+`, `/` and `=` arrive as %2B, %2F and %3D.
    let token = "s3cret+token/0123456789==";
    let app = app_with_token(token);
    let answer = |uri: &str, authorization: Option<&str>| {
        let mut request = Request::builder().method("GET").uri(uri);
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let response = app.clone().oneshot(request.body(Body::empty()).unwrap());
        async move {
            let response = response.await.unwrap();
            let challenge = response.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned());
            let status = response.status();
            let body: Value =
                serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
            (status, challenge, body["message"].as_str().map(str::to_owned))
        }
    };
    let ok = (StatusCode::OK, None, None);
    assert_eq!(answer("/api/v1/stats?token=s3cret%2Btoken%2F0123456789%3D%3D", None).await, ok);
    assert_eq!(answer("/api/v1/logs?limit=1&token=s3cret+token/0123456789==", None).await.0, StatusCode::OK);
    assert_eq!(answer("/api/v1/stats", Some(&format!("bearer {token}"))).await, ok);
    assert_eq!(answer("/api/v1/stats", Some(&format!("BEARER  {token} "))).await, ok);
    // A proxy's Basic auth passed on does not hide a token in the query.
    let basic = Some("Basic dXNlcjpwYXNz");
    assert_eq!(answer("/api/v1/stats?token=s3cret%2Btoken%2F0123456789%3D%3D", basic).await, ok);

    let challenge = Some("Bearer realm=\"vigil\"".to_owned());
    let refused = answer("/api/v1/stats?token=s3cret%2Btoken", None).await;
    let message = Some("the token is not valid; check [api] token".to_owned());
    assert_eq!(refused, (StatusCode::UNAUTHORIZED, challenge.clone(), message));
    let (status, header, message) = answer("/api/v1/stats", basic).await;
    assert_eq!((status, header), (StatusCode::UNAUTHORIZED, challenge));
    assert!(message.unwrap().contains("not a bearer token"));
}

#[tokio::test]
async fn an_ipv6_address_is_one_client_however_it_is_written() {
    let app = app();
    let written = ["2001:DB8:0:0::7", "2001:db8::7", "2001:0db8:0000::0007", "192.0.2.1"];
    let logs: Vec<Value> = written
        .iter()
        .map(|ip| {
            let mut l = log();
            l["ip"] = json!(ip);
            l
        })
        .collect();
    assert_eq!(detect(app.clone(), json!({ "logs": logs }).to_string()).await.0, StatusCode::OK);
    let (_, body) = get(app.clone(), "/api/v1/logs?limit=10", None).await;
    let mut stored: Vec<&str> = body["logs"].as_array().unwrap().iter().map(|l| l["ip"].as_str().unwrap()).collect();
    stored.sort();
    assert_eq!(stored, ["192.0.2.1", "2001:db8::7", "2001:db8::7", "2001:db8::7"]);
    // Searched for in any spelling.
    let (_, body) = get(app, "/api/v1/logs?ip=2001:DB8::0:7", None).await;
    assert_eq!(body["logs"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn a_log_is_an_object_not_an_array_of_its_values() {
    let positional = json!(["1.2.3.4", "2025-04-01T12:34:56Z", "GET", "/", 200, 1, "ua"]);
    let mut one_too_many = positional.clone();
    one_too_many.as_array_mut().unwrap().push(json!("extra"));
    for log in [positional, one_too_many, json!(1)] {
        let (status, body) = detect(app(), json!({ "logs": [log] }).to_string()).await;
        assert_eq!((status, body["error"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("wrong_type")), "{body}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains("logs[0]") && message.contains("expected a log object"), "{message}");
    }
}

#[tokio::test]
async fn anomaly_details_carry_the_stored_event_id() {
    let (_, body) = detect(app(), json!({ "logs": [log(), log()] }).to_string()).await;
    assert_eq!(body["anomaly_details"][0]["id"], 1);
    assert_eq!(body["anomaly_details"][1]["id"], 2);
}

#[tokio::test]
async fn a_plain_request_to_a_websocket_endpoint_is_a_json_error() {
    for path in ["/ws", "/ws/application"] {
        let answer = send(app(), "GET", path, None, Body::empty()).await;
        assert_error(answer, StatusCode::BAD_REQUEST, "not_a_websocket", "connect with a WebSocket client");
    }
}
