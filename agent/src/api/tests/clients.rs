//! What API clients beyond the seed contract rely on: CORS for dashboards served elsewhere,
//! gzipped query answers, and paging forward from a known row (`after_id`).

use super::*;

#[tokio::test]
async fn configured_origins_get_cors_answers_and_preflights_need_no_token() {
    let settings = ApiSettings {
        address: ([127, 0, 0, 1], 0).into(),
        max_body_bytes: 1 << 20,
        max_batch_logs: 100,
        token: Some("0123456789abcdef0123".into()),
        cors_origins: vec!["https://dash.example.com".into()],
    };
    let app = router(app_state(constant_detectors(0.3, 0.5), settings));
    let call = |method: &str, origin: &str, token: bool| {
        let mut request = Request::builder()
            .method(method)
            .uri("/api/v1/logs")
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization");
        if token {
            request = request.header("authorization", "Bearer 0123456789abcdef0123");
        }
        app.clone().oneshot(request.body(Body::empty()).unwrap())
    };
    let allowed = |r: &axum::response::Response| {
        r.headers().get("access-control-allow-origin").map(|v| v.to_str().unwrap().to_owned())
    };
    // The browser's preflight carries no token, and is answered.
    let preflight = call("OPTIONS", "https://dash.example.com", false).await.unwrap();
    assert!(preflight.status().is_success(), "{:?}", preflight.status());
    assert_eq!(allowed(&preflight).as_deref(), Some("https://dash.example.com"));
    let methods = preflight.headers()["access-control-allow-methods"].to_str().unwrap().to_owned();
    assert!(methods.contains("GET") && methods.contains("POST"), "{methods}");
    assert!(preflight.headers()["access-control-allow-headers"].to_str().unwrap().contains("authorization"));
    // The real request still needs the token, and its answer may be read by the page.
    let get = call("GET", "https://dash.example.com", true).await.unwrap();
    assert_eq!(get.status(), StatusCode::OK);
    assert_eq!(allowed(&get).as_deref(), Some("https://dash.example.com"));
    assert_eq!(call("GET", "https://dash.example.com", false).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    // Another origin gets no CORS headers: its page cannot read the answer.
    let other = call("GET", "https://evil.example.net", true).await.unwrap();
    assert_eq!(allowed(&other), None);
}

#[tokio::test]
async fn large_query_answers_are_gzipped_for_clients_that_accept_it_small_and_ingest_ones_not() {
    let app = app_with(0.3, 0.5, 1 << 20, 100);
    let many: Vec<(&str, i64)> = (0..50).map(|_| ("10.0.0.1", 200)).collect();
    detect(app.clone(), logs_with(&many)).await;
    let call = |path: &str| {
        let request = Request::get(path).header("accept-encoding", "gzip").body(Body::empty()).unwrap();
        app.clone().oneshot(request)
    };
    let page = call("/api/v1/logs").await.unwrap();
    assert_eq!(page.headers().get("content-encoding").map(|v| v.to_str().unwrap()), Some("gzip"));
    let zipped = page.into_body().collect().await.unwrap().to_bytes();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&zipped[..]), &mut text).unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["logs"].as_array().unwrap().len(), 50);
    assert!(zipped.len() * 4 < text.len(), "{} bytes gzipped from {}", zipped.len(), text.len());
    let small = call("/").await.unwrap();
    assert_eq!(small.headers().get("content-encoding"), None);
    // Ingest answers are not: an application on the same machine gains nothing from them.
    let request = Request::post("/anomaly_detection")
        .header("content-type", "application/json")
        .header("accept-encoding", "gzip")
        .body(Body::from(logs_with(&many)))
        .unwrap();
    let answer = app.clone().oneshot(request).await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.headers().get("content-encoding"), None);
}

#[tokio::test]
async fn after_id_pages_oldest_first_from_a_known_row_to_the_newest() {
    let app = app_with(0.85, 0.5, 1 << 20, 100);
    detect(app.clone(), logs_with(&[("10.0.0.1", 200), ("10.0.0.2", 200), ("10.0.0.3", 200)])).await;
    detect(app.clone(), logs_with(&[("10.0.0.4", 200), ("10.0.0.5", 200)])).await;
    for (path, key, id) in [("/api/v1/logs", "logs", "id"), ("/api/v1/anomalies", "anomalies", "anomaly_id")] {
        let (status, page) = get(app.clone(), &format!("{path}?after_id=1&limit=3"), None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let ids: Vec<i64> = page[key].as_array().unwrap().iter().map(|r| r[id].as_i64().unwrap()).collect();
        assert_eq!(ids, [2, 3, 4], "{path}");
        assert_eq!((page["next_after_id"].as_i64(), page["next_before_id"].is_null()), (Some(4), true));
        let (_, rest) = get(app.clone(), &format!("{path}?after_id=4"), None).await;
        assert_eq!(rest[key].as_array().unwrap().len(), 1);
        let (_, none) = get(app.clone(), &format!("{path}?after_id=5"), None).await;
        assert_eq!((none[key].as_array().unwrap().len(), none["next_after_id"].as_i64()), (0, Some(5)), "poll on");
        let (status, both) = get(app.clone(), &format!("{path}?after_id=1&before_id=5"), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(both["message"].as_str().unwrap().starts_with("after_id: not with before_id"), "{both}");
    }
}
