//! Why a signed request is refused, named as AWS names it (each service then answers in
//! its own shape: Lambda's JSON, S3's XML, ...).

/// Why a request is refused; [`AuthError::error_type`] is the name AWS gives it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("Missing Authentication Token")]
    Missing,
    #[error("{0}")]
    Incomplete(String),
    #[error("The security token included in the request is invalid.")]
    UnknownKey,
    #[error("{0}")]
    BadScope(String),
    #[error("Signature expired: {date} is now earlier than {earliest} ({now} - 5 min.)")]
    Expired {
        date: String,
        earliest: String,
        now: String,
    },
    #[error("Signature not yet current: {date} is still later than {latest} ({now} + 5 min.)")]
    NotYetValid {
        date: String,
        latest: String,
        now: String,
    },
    #[error(
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
    )]
    Mismatch,
}

impl AuthError {
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Missing => "MissingAuthenticationTokenException",
            Self::Incomplete(_) => "IncompleteSignatureException",
            Self::UnknownKey => "UnrecognizedClientException",
            Self::BadScope(_)
            | Self::Expired { .. }
            | Self::NotYetValid { .. }
            | Self::Mismatch => "InvalidSignatureException",
        }
    }
}
