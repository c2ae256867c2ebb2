//! The dashboard at `GET /ui/`: static HTML, CSS and JavaScript modules compiled into the
//! binary, so running it needs no Node and no files beside the binary. The page itself is open
//! without a token (it asks for one); every data API it calls keeps requiring it. This module
//! only serves files: it must never read the store or answer with data.

use super::ApiError;
use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

/// One embedded file: its path under `/ui/`, MIME type and bytes.
struct Asset {
    path: &'static str,
    mime: &'static str,
    body: &'static str,
}

/// Every file of the dashboard; `agent/ui/` is the source, this list is what ships.
const ASSETS: &[Asset] = &[
    asset("index.html", "text/html; charset=utf-8", include_str!("../../ui/index.html")),
    asset("style.css", "text/css; charset=utf-8", include_str!("../../ui/style.css")),
    asset("favicon.svg", "image/svg+xml", include_str!("../../ui/favicon.svg")),
    asset("js/app.js", JS, include_str!("../../ui/js/app.js")),
    asset("js/api.js", JS, include_str!("../../ui/js/api.js")),
    asset("js/chart.js", JS, include_str!("../../ui/js/chart.js")),
    asset("js/feed.js", JS, include_str!("../../ui/js/feed.js")),
    asset("js/top.js", JS, include_str!("../../ui/js/top.js")),
    asset("js/search.js", JS, include_str!("../../ui/js/search.js")),
    asset("js/summaries.js", JS, include_str!("../../ui/js/summaries.js")),
    asset("js/chat.js", JS, include_str!("../../ui/js/chat.js")),
    asset("js/status.js", JS, include_str!("../../ui/js/status.js")),
    asset("js/dom.js", JS, include_str!("../../ui/js/dom.js")),
];

const JS: &str = "text/javascript; charset=utf-8";

const fn asset(path: &'static str, mime: &'static str, body: &'static str) -> Asset {
    Asset { path, mime, body }
}

/// Everything the page loads comes from the agent itself; it talks only to the agent's API
/// and WebSocket. No inline scripts or styles, no third-party origin.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The dashboard's routes, merged outside the auth layer: the page asks for the token itself.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/ui", get(|| async { Redirect::permanent("/ui/") }))
        .route("/ui/", get(|| async { serve("index.html") }))
        .route("/ui/{*path}", get(|Path(path): Path<String>| async move { serve(&path) }))
}

fn serve(path: &str) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.path == path) else {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("the dashboard has no file /ui/{path}; open /ui/ for the dashboard"),
        )
        .into_response();
    };
    let mut response = asset.body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.mime));
    // The files change with the binary: revalidate rather than keep a stale dashboard.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

#[cfg(test)]
mod tests {
    use crate::api::router;
    use crate::testing::{app_state, constant_detectors};
    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    fn app(token: Option<&str>) -> axum::Router {
        let settings = crate::config::ApiSettings {
            address: ([127, 0, 0, 1], 0).into(),
            max_body_bytes: 1 << 20,
            max_batch_logs: 100,
            token: token.map(str::to_owned),
            cors_origins: vec![],
        };
        router(app_state(constant_detectors(0.1, 0.5), settings))
    }

    async fn get(app: axum::Router, path: &str) -> (StatusCode, Option<String>, String) {
        let response = app.oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
        let status = response.status();
        let mime = response.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_owned());
        let location = response.headers().get(header::LOCATION).map(|v| v.to_str().unwrap().to_owned());
        let body = String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
        (status, mime.or(location), body)
    }

    #[tokio::test]
    async fn dashboard_page_is_served_as_html() {
        let (status, mime, body) = get(app(None), "/ui/").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(mime.as_deref(), Some("text/html; charset=utf-8"));
        assert!(body.contains("<title>Vigil</title>"), "{body}");
    }

    #[tokio::test]
    async fn ui_without_slash_redirects_to_the_page() {
        let (status, location, _) = get(app(None), "/ui").await;
        assert_eq!((status, location.as_deref()), (StatusCode::PERMANENT_REDIRECT, Some("/ui/")));
    }

    #[tokio::test]
    async fn every_file_the_page_references_is_served_with_its_type() {
        for asset in super::ASSETS {
            let (status, mime, body) = get(app(None), &format!("/ui/{}", asset.path)).await;
            assert_eq!((status, mime.as_deref()), (StatusCode::OK, Some(asset.mime)), "{}", asset.path);
            assert!(!body.is_empty(), "{} is empty", asset.path);
        }
        // Every module imported by another is in the list (a missing one breaks the page).
        for asset in super::ASSETS.iter().filter(|a| a.path.ends_with(".js")) {
            for import in asset.body.lines().filter_map(|l| l.split(" from './").nth(1)) {
                let name = format!("js/{}", import.trim_end_matches(['\'', ';']));
                assert!(super::ASSETS.iter().any(|a| a.path == name), "{} imports {name}, not embedded", asset.path);
            }
        }
    }

    #[tokio::test]
    async fn unknown_dashboard_files_are_a_json_404() {
        let (status, mime, body) = get(app(None), "/ui/nope.js").await;
        assert_eq!((status, mime.as_deref()), (StatusCode::NOT_FOUND, Some("application/json")));
        assert!(body.contains("\"not_found\"") && body.contains("/ui/nope.js"), "{body}");
    }

    #[tokio::test]
    async fn dashboard_is_open_without_the_token_but_data_apis_are_not() {
        let token = "a-long-enough-test-token";
        let (status, _, _) = get(app(Some(token)), "/ui/").await;
        assert_eq!(status, StatusCode::OK);
        let (status, _, _) = get(app(Some(token)), "/ui/js/app.js").await;
        assert_eq!(status, StatusCode::OK);
        let (status, _, body) = get(app(Some(token)), "/api/v1/logs").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    }
}
