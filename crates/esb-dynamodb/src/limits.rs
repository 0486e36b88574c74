//! DynamoDB's request limits that the engine does not hold requests to, checked
//! before it sees them and answered with DynamoDB's error.

use crate::operations::Operation;

/// A request DynamoDB would refuse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LimitError {
    #[error("{0}")]
    Validation(String),
}

impl LimitError {
    /// The `__type` DynamoDB answers with.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Validation(_) => "com.amazon.coral.validate#ValidationException",
        }
    }
}

/// Checks `body` (the request for `op`, as sent) against the limits.
pub fn check(_op: Operation, _body: &[u8]) -> Result<(), LimitError> {
    Ok(())
}
