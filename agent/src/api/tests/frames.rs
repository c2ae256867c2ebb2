//! `/ws/application` frames decoded: errors name fields as the frame has them, never as the
//! HTTP body would (`logs[0]`, "request body", `send {"logs": [...]}`).

use super::super::request::decode_frame;
use serde_json::json;

fn error(frame: &str) -> (String, String) {
    match decode_frame(frame, 100) {
        Ok(logs) => panic!("{frame} gave {} logs", logs.len()),
        Err(e) => (e.code.to_owned(), e.message),
    }
}

fn log(status_code: u16) -> serde_json::Value {
    json!({"ip": "192.0.2.1", "timestamp": "2025-04-01T12:34:56Z", "method": "GET", "url": "/",
           "status_code": status_code, "bytes_sent": 1, "user_agent": "x"})
}

#[test]
fn frame_errors_speak_of_the_frame_in_its_own_notation() {
    let (code, message) = error("{not json");
    assert_eq!(code, "malformed_json");
    assert!(message.contains("the frame is not valid JSON") && message.contains("send a log object"), "{message}");

    let (code, message) = error(r#"{"ip": "192.0.2.1"}"#);
    assert_eq!(code, "missing_field");
    assert!(message.starts_with("frame: missing field `timestamp`"), "{message}");

    let (code, message) = error(&json!([log(200), log(700)]).to_string());
    assert_eq!(code, "invalid_value");
    assert!(message.starts_with("[1].status_code: 700 is outside"), "{message}");

    let mut no_agent = log(200);
    no_agent.as_object_mut().unwrap().remove("user_agent");
    let (code, message) = error(&json!([log(200), no_agent]).to_string());
    assert_eq!(code, "missing_field");
    assert!(message.starts_with("[1]: missing field `user_agent`"), "{message}");

    let (code, message) = error(&json!(log(700)).to_string());
    assert_eq!(code, "invalid_value");
    assert!(message.starts_with("status_code: 700 is outside"), "{message}");

    let (code, message) = error("[]");
    assert_eq!(code, "empty_batch");
    assert!(message.contains("the frame's array is empty"), "{message}");
    for (_, message) in [error("{not json"), error(r#"{"ip": "x"}"#), error("[]")] {
        assert!(!message.contains("logs") && !message.contains("request body"), "{message}");
    }
}

#[test]
fn a_frame_in_the_http_bodys_shape_is_taken_too() {
    let logs = decode_frame(&json!({"logs": [log(200), log(404)]}).to_string(), 100).unwrap();
    assert_eq!(logs.iter().map(|l| l.event.status_code).collect::<Vec<_>>(), [200, 404]);
    let (code, message) = error(&json!({"logs": [log(200), log(700)]}).to_string());
    assert_eq!(code, "invalid_value");
    assert!(message.starts_with("logs[1].status_code"), "{message}");
}
