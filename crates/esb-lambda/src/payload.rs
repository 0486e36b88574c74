//! An invocation's payload as Lambda accepts it: within the operation's size limit,
//! JSON, an empty body standing for `{}`.

use axum::body::Body;
use bytes::Bytes;

use crate::body::{BodyError, read_limited};
use crate::error::InvokeApiError;

/// Reads the body within Lambda's limit and checks it is JSON (an empty body is `{}`).
pub async fn read_payload(
    body: Body,
    limit: usize,
    operation: &str,
) -> Result<Bytes, InvokeApiError> {
    json_payload(read_body(body, limit, operation).await?)
}

/// The request body as sent, within Lambda's size limit for `operation`.
pub async fn read_body(body: Body, limit: usize, operation: &str) -> Result<Bytes, InvokeApiError> {
    match read_limited(body, limit).await {
        Ok(collected) => Ok(collected.bytes),
        Err(BodyError::TooLarge { .. }) => Err(InvokeApiError::too_large(limit, operation)),
        Err(BodyError::Stalled) => Err(InvokeApiError::body_timeout()),
        Err(e) => Err(InvokeApiError::invalid_content(e.to_string())),
    }
}

/// The payload a function receives: the body if it is JSON, `{}` if it is empty.
pub fn json_payload(payload: Bytes) -> Result<Bytes, InvokeApiError> {
    if payload.iter().all(u8::is_ascii_whitespace) {
        return Ok(Bytes::from_static(b"{}"));
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(&payload).map_err(|e| {
        InvokeApiError::invalid_content(format!(
            "Could not parse request body into json: Could not parse payload into json: {e}"
        ))
    })?;
    Ok(payload)
}
