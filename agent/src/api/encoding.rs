//! Request bodies sent compressed (`Content-Encoding: gzip` or `deflate`), as log shippers
//! do, decompressed under the same byte limit as a plain body; any other coding is refused
//! with 415 and what to send instead. tower-http's `RequestDecompressionLayer` does the
//! decompressing for a whole router, but answers an unknown coding with an empty 415 where
//! API.md wants every error a JSON object, and its limit would be the raw body's.

use super::error::ApiError;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use std::io::Read;

/// `body` as sent, decompressed when `headers` say it is compressed; at most `limit` bytes
/// once decompressed.
pub fn decoded_body(headers: &HeaderMap, body: Bytes, limit: usize) -> Result<Bytes, ApiError> {
    let codings: Vec<String> = headers
        .get_all(header::CONTENT_ENCODING)
        .iter()
        .flat_map(|v| v.to_str().unwrap_or("\u{fffd}").split(','))
        .map(|c| c.trim().to_ascii_lowercase())
        .filter(|c| !c.is_empty() && c != "identity")
        .collect();
    let coding = match codings.as_slice() {
        [] => return Ok(body),
        [one] => one.as_str(),
        more => return Err(unsupported(&more.join(", "))),
    };
    let mut decoded = Vec::new();
    let read = match coding {
        "gzip" | "x-gzip" => {
            flate2::read::MultiGzDecoder::new(&body[..]).take(limit as u64 + 1).read_to_end(&mut decoded)
        }
        // HTTP's `deflate` is the zlib format (RFC 9110, 8.4.1.2).
        "deflate" => flate2::read::ZlibDecoder::new(&body[..]).take(limit as u64 + 1).read_to_end(&mut decoded),
        other => return Err(unsupported(other)),
    };
    if let Err(e) = read {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_encoding",
            format!(
                "the body is not valid {coding} (Content-Encoding: {coding}): {e}; send it compressed whole, or uncompressed"
            ),
        ));
    }
    if decoded.len() > limit {
        return Err(ApiError::too_large(
            "body_too_large",
            format!("the body is over the {limit} byte limit (api.max_body_bytes) once decompressed: split the batch"),
        ));
    }
    Ok(Bytes::from(decoded))
}

fn unsupported(coding: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_encoding",
        format!("Content-Encoding {coding:?} is not supported; send the body uncompressed, or with gzip or deflate"),
    )
}
