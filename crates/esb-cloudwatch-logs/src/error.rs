//! CloudWatch Logs' errors, by the names its clients switch on
//! (`ResourceNotFoundException`, `InvalidParameterException`, …), answered as the JSON
//! protocol words them: `{"__type": name, "message": text}` with status 400 (500 for the
//! service's own failures).

use http::StatusCode;

#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct ApiError {
    pub kind: &'static str,
    pub message: String,
    pub status: StatusCode,
}

impl ApiError {
    fn new(kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            status: StatusCode::BAD_REQUEST,
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new("InvalidParameterException", message)
    }

    pub fn no_group() -> Self {
        Self::new(
            "ResourceNotFoundException",
            "The specified log group does not exist.",
        )
    }

    pub fn no_stream() -> Self {
        Self::new(
            "ResourceNotFoundException",
            "The specified log stream does not exist.",
        )
    }

    pub fn exists(message: impl Into<String>) -> Self {
        Self::new("ResourceAlreadyExistsException", message)
    }

    pub fn serialization(message: impl Into<String>) -> Self {
        Self::new("SerializationException", message)
    }

    pub fn unknown_operation() -> Self {
        Self::new("UnknownOperationException", "")
    }

    /// The box itself failed (its store or catalogue): the client may retry.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self {
            kind: "ServiceUnavailableException",
            message: message.into(),
            status: StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// AWS's wording of a parameter that breaks a model constraint.
    pub fn constraint(value: &str, member: &str, constraint: &str) -> Self {
        Self::invalid(format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"
        ))
    }
}
