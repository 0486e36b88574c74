//! Errors of the Lambda Invoke API, shaped exactly as AWS shapes them: status,
//! `x-amzn-ErrorType` and a `{"Type","message"}` body (what boto3 turns into
//! `Lambda.Client.exceptions.<name>`).

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error of the Lambda Invoke API (what boto3 raises as `Lambda.Client.exceptions.<name>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvokeApiError {
    pub status: StatusCode,
    pub error_type: &'static str,
    pub message: String,
    /// Extra `Reason` field Lambda adds to throttling errors.
    pub reason: Option<&'static str>,
}

impl InvokeApiError {
    pub fn new(status: StatusCode, error_type: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            error_type,
            message: message.into(),
            reason: None,
        }
    }

    pub fn invalid_content(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContentException",
            message,
        )
    }

    /// A request body that did not arrive in time (stalled, or too slow in total).
    pub fn body_timeout() -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "RequestTimeoutException",
            "The request body did not arrive in time.",
        )
    }

    pub fn too_large(limit: usize, operation: &str) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLargeException",
            format!("Request must be smaller than {limit} bytes for the {operation} operation"),
        )
    }
}

impl IntoResponse for InvokeApiError {
    fn into_response(self) -> Response {
        let mut body = json!({"Type": "User", "message": self.message});
        if let Some(reason) = self.reason {
            body["Reason"] = reason.into();
        }
        let mut resp = (self.status, axum::Json(body)).into_response();
        resp.headers_mut().insert(
            crate::headers::ERROR_TYPE,
            HeaderValue::from_static(self.error_type),
        );
        resp
    }
}
