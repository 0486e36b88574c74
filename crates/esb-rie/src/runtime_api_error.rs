//! Error answers, shaped exactly as AWS shapes them: the Invoke API's
//! `x-amzn-ErrorType` + `{"Type","message"}` and the Runtime API's `{"errorMessage","errorType"}`.

use axum::http::{HeaderValue, StatusCode, header};
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
            "x-amzn-ErrorType",
            HeaderValue::from_static(self.error_type),
        );
        resp
    }
}

/// An error answered to the language runtime on the Runtime API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeApiError {
    pub status: StatusCode,
    pub error_type: &'static str,
    pub message: String,
}

impl RuntimeApiError {
    pub fn invalid_request_id() -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error_type: "InvalidRequestID",
            message: "Invalid request ID".into(),
        }
    }

    /// Same wording as AWS's RIE so runtime clients log the same thing under both.
    pub fn invalid_transition(from: &str, to: &str) -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            error_type: "InvalidStateTransition",
            message: format!(
                "State transition from {from} to {to} failed for runtime. Error: State transition is not allowed"
            ),
        }
    }

    pub fn too_large(limit: usize) -> Self {
        Self {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            error_type: "RequestEntityTooLarge",
            message: format!("Exceeded maximum allowed payload size ({limit} bytes)."),
        }
    }

    pub fn bad_request(error_type: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error_type,
            message: message.into(),
        }
    }
}

impl IntoResponse for RuntimeApiError {
    fn into_response(self) -> Response {
        let body = json!({"errorMessage": self.message, "errorType": self.error_type});
        let mut resp = (self.status, body.to_string()).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        resp
    }
}
