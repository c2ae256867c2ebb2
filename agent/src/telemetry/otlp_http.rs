//! The HTTP client the OTLP exporters send with: the workspace's reqwest (rustls), driven on
//! the agent's tokio runtime, so OTLP needs no HTTP stack of its own.
//!
//! The SDK's batch processors export from their own threads with a plain executor, where a
//! tokio-based client cannot run. Each request is spawned onto the runtime and its handle
//! awaited from the exporter thread: the request runs on the runtime, the waiting happens on
//! the exporter's thread, and no runtime worker is ever blocked.

use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use std::time::Duration;
use tokio::runtime::Handle;

/// An [`HttpClient`] over reqwest that runs its requests on a tokio runtime.
#[derive(Debug, Clone)]
pub struct RuntimeHttpClient {
    client: reqwest::Client,
    runtime: Handle,
}

impl RuntimeHttpClient {
    /// A client whose requests run on `runtime` and give up after `timeout`.
    pub fn new(runtime: Handle, timeout: Duration) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder().timeout(timeout).build()?;
        Ok(RuntimeHttpClient { client, runtime })
    }
}

/// What came back, carried from the runtime to the exporter's thread.
struct Answer {
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    body: Bytes,
}

#[async_trait::async_trait]
impl HttpClient for RuntimeHttpClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let (parts, body) = request.into_parts();
        let method = reqwest::Method::from_bytes(parts.method.as_str().as_bytes())?;
        let mut outgoing = self.client.request(method, parts.uri.to_string()).body(body);
        for (name, value) in &parts.headers {
            outgoing = outgoing.header(name.as_str(), value.as_bytes());
        }
        let sent = self.runtime.spawn(async move {
            let response = outgoing.send().await?;
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
                .collect();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>(Answer { status, headers, body })
        });
        let answer = sent.await??;
        let mut response = Response::builder().status(answer.status);
        for (name, value) in answer.headers {
            response = response.header(name, value);
        }
        Ok(response.body(answer.body)?)
    }
}
