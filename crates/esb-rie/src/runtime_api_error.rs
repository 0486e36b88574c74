//! The Runtime API's error answers: `{"errorMessage","errorType"}`, the shape
//! runtime clients parse.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

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
