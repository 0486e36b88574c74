//! SQS's errors, in the names both protocols give them: the JSON protocol's `__type`
//! (the model's shape name, `com.amazonaws.sqs#QueueDoesNotExist`) and the query
//! protocol's code (`AWS.SimpleQueueService.NonExistentQueue`), which JSON answers
//! also carry in `x-amzn-query-error` so that SDKs report the code users know.

use http::StatusCode;

/// What went wrong, one variant per error SQS answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    QueueDoesNotExist,
    QueueNameExists,
    QueueDeletedRecently,
    PurgeQueueInProgress,
    MessageNotInflight,
    ReceiptHandleIsInvalid,
    BatchEntryIdsNotDistinct,
    BatchRequestTooLong,
    EmptyBatchRequest,
    InvalidBatchEntryId,
    TooManyEntriesInBatchRequest,
    UnsupportedOperation,
    InvalidAttributeName,
    InvalidAttributeValue,
    InvalidMessageContents,
    InvalidIdFormat,
    OverLimit,
    ResourceNotFound,
    InvalidParameterValue,
    MissingParameter,
    InvalidAction,
    Serialization,
    RequestTooLarge,
    InvalidClientTokenId,
    SignatureDoesNotMatch,
    MissingAuthenticationToken,
    IncompleteSignature,
    AccessDenied,
    Internal,
    /// An external engine (`--sqs-endpoint`) did not answer.
    ServiceUnavailable,
}

impl ErrorKind {
    /// The JSON protocol's `__type`.
    pub fn json_type(self) -> &'static str {
        use ErrorKind::*;
        match self {
            QueueDoesNotExist => "com.amazonaws.sqs#QueueDoesNotExist",
            QueueNameExists => "com.amazonaws.sqs#QueueNameExists",
            QueueDeletedRecently => "com.amazonaws.sqs#QueueDeletedRecently",
            PurgeQueueInProgress => "com.amazonaws.sqs#PurgeQueueInProgress",
            MessageNotInflight => "com.amazonaws.sqs#MessageNotInflight",
            ReceiptHandleIsInvalid => "com.amazonaws.sqs#ReceiptHandleIsInvalid",
            BatchEntryIdsNotDistinct => "com.amazonaws.sqs#BatchEntryIdsNotDistinct",
            BatchRequestTooLong => "com.amazonaws.sqs#BatchRequestTooLong",
            EmptyBatchRequest => "com.amazonaws.sqs#EmptyBatchRequest",
            InvalidBatchEntryId => "com.amazonaws.sqs#InvalidBatchEntryId",
            TooManyEntriesInBatchRequest => "com.amazonaws.sqs#TooManyEntriesInBatchRequest",
            UnsupportedOperation => "com.amazonaws.sqs#UnsupportedOperation",
            InvalidAttributeName => "com.amazonaws.sqs#InvalidAttributeName",
            InvalidAttributeValue => "com.amazonaws.sqs#InvalidAttributeValue",
            InvalidMessageContents => "com.amazonaws.sqs#InvalidMessageContents",
            InvalidIdFormat => "com.amazonaws.sqs#InvalidIdFormat",
            OverLimit => "com.amazonaws.sqs#OverLimit",
            ResourceNotFound => "com.amazonaws.sqs#ResourceNotFoundException",
            InvalidParameterValue => "com.amazonaws.sqs#InvalidParameterValueException",
            MissingParameter => "com.amazonaws.sqs#MissingRequiredParameterException",
            InvalidAction => "com.amazon.coral.service#UnknownOperationException",
            Serialization => "com.amazon.coral.service#SerializationException",
            RequestTooLarge => "com.amazon.coral.service#RequestEntityTooLargeException",
            InvalidClientTokenId => "com.amazon.coral.service#UnrecognizedClientException",
            SignatureDoesNotMatch => "com.amazon.coral.service#InvalidSignatureException",
            MissingAuthenticationToken => {
                "com.amazon.coral.service#MissingAuthenticationTokenException"
            }
            IncompleteSignature => "com.amazon.coral.service#IncompleteSignatureException",
            AccessDenied => "com.amazon.coral.service#AccessDeniedException",
            Internal => "com.amazon.coral.service#InternalFailure",
            ServiceUnavailable => "com.amazon.coral.service#ServiceUnavailableException",
        }
    }

    /// The query protocol's code (also `x-amzn-query-error` on JSON answers).
    pub fn query_code(self) -> &'static str {
        use ErrorKind::*;
        match self {
            QueueDoesNotExist => "AWS.SimpleQueueService.NonExistentQueue",
            QueueNameExists => "QueueAlreadyExists",
            QueueDeletedRecently => "AWS.SimpleQueueService.QueueDeletedRecently",
            PurgeQueueInProgress => "AWS.SimpleQueueService.PurgeQueueInProgress",
            MessageNotInflight => "AWS.SimpleQueueService.MessageNotInflight",
            ReceiptHandleIsInvalid => "ReceiptHandleIsInvalid",
            BatchEntryIdsNotDistinct => "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
            BatchRequestTooLong => "AWS.SimpleQueueService.BatchRequestTooLong",
            EmptyBatchRequest => "AWS.SimpleQueueService.EmptyBatchRequest",
            InvalidBatchEntryId => "AWS.SimpleQueueService.InvalidBatchEntryId",
            TooManyEntriesInBatchRequest => "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
            UnsupportedOperation => "AWS.SimpleQueueService.UnsupportedOperation",
            InvalidAttributeName => "InvalidAttributeName",
            InvalidAttributeValue => "InvalidAttributeValue",
            InvalidMessageContents => "InvalidMessageContents",
            InvalidIdFormat => "InvalidIdFormat",
            OverLimit => "OverLimit",
            ResourceNotFound => "ResourceNotFoundException",
            InvalidParameterValue => "InvalidParameterValue",
            MissingParameter => "MissingParameter",
            InvalidAction => "InvalidAction",
            Serialization => "MalformedQueryString",
            RequestTooLarge => "RequestEntityTooLarge",
            InvalidClientTokenId => "InvalidClientTokenId",
            SignatureDoesNotMatch => "SignatureDoesNotMatch",
            MissingAuthenticationToken => "MissingAuthenticationToken",
            IncompleteSignature => "IncompleteSignature",
            AccessDenied => "AccessDenied",
            Internal => "InternalError",
            ServiceUnavailable => "ServiceUnavailable",
        }
    }

    pub fn status(self) -> StatusCode {
        use ErrorKind::*;
        match self {
            PurgeQueueInProgress
            | OverLimit
            | InvalidClientTokenId
            | SignatureDoesNotMatch
            | MissingAuthenticationToken
            | AccessDenied => StatusCode::FORBIDDEN,
            ResourceNotFound => StatusCode::NOT_FOUND,
            RequestTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// `Sender` (the caller's fault) or `Receiver`.
    pub fn fault(self) -> &'static str {
        if matches!(self, ErrorKind::Internal | ErrorKind::ServiceUnavailable) {
            "Receiver"
        } else {
            "Sender"
        }
    }
}

/// An SQS error: what the engine's callers and the API's clients get.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", kind.query_code())]
pub struct SqsError {
    pub kind: ErrorKind,
    pub message: String,
}

impl SqsError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub fn no_queue() -> Self {
        Self::new(
            ErrorKind::QueueDoesNotExist,
            "The specified queue does not exist.",
        )
    }

    pub fn missing(parameter: &str) -> Self {
        Self::new(
            ErrorKind::MissingParameter,
            format!("The request must contain the parameter {parameter}."),
        )
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidParameterValue, message)
    }

    pub fn internal(message: impl std::fmt::Display) -> Self {
        Self::new(ErrorKind::Internal, format!("Internal error: {message}"))
    }

    /// The box's own signature check, in SQS's names.
    pub fn from_auth(e: &esb_auth::AuthError) -> Self {
        use esb_auth::AuthError;
        let kind = match e {
            AuthError::Missing => ErrorKind::MissingAuthenticationToken,
            AuthError::Incomplete(_) => ErrorKind::IncompleteSignature,
            AuthError::UnknownKey => ErrorKind::InvalidClientTokenId,
            AuthError::BadScope(_)
            | AuthError::Expired { .. }
            | AuthError::NotYetValid { .. }
            | AuthError::Mismatch => ErrorKind::SignatureDoesNotMatch,
        };
        Self::new(kind, e.to_string())
    }
}

impl From<rusqlite::Error> for SqsError {
    fn from(e: rusqlite::Error) -> Self {
        tracing::error!(service = "sqs", "storage error: {e}");
        Self::internal(e)
    }
}
