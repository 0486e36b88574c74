//! Why a join failed, on the box's side (with the HTTP status and code it answers
//! with) or the node's.

use crate::error::NodesError;

/// Why a join failed, on either side. The box answers with [`JoinError::status`] and
/// `{"error": code, "message": ...}`.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error("malformed join token: {0}")]
    MalformedToken(String),
    #[error("unknown join token (a typo, or made for another box)")]
    UnknownToken,
    #[error("the join token has expired; make a new one with `esb node add`")]
    ExpiredToken,
    #[error("the join token was revoked")]
    RevokedToken,
    #[error("the join token was already used (by node {0}); each token joins one node")]
    UsedToken(String),
    #[error(
        "the join token was issued under another CA than the box's current one; make a new one with `esb node add`"
    )]
    WrongCa,
    #[error(
        "invalid node name {0:?}: lowercase letters, digits and '-', at most 63, not starting with '-'"
    )]
    InvalidName(String),
    #[error("invalid node address {0:?}: host:port or ip:port, port not 0")]
    InvalidAddress(String),
    #[error("invalid labels: {0}")]
    InvalidLabels(String),
    #[error("invalid certificate request: {0}")]
    InvalidCsr(String),
    #[error("invalid join request: {0}")]
    InvalidRequest(String),
    #[error(
        "a node named {0} is already registered; remove it first, or join with a token made by `esb node add --name {0}`"
    )]
    NameTaken(String),
    #[error("the box cannot complete the join: {0}")]
    Box(#[from] NodesError),
    #[error("the box cannot complete the join: {0}")]
    Internal(String),
    /// Node side: the CA the box presents is not the one the token names.
    #[error("the box at {0} is not the one that issued this token (its CA differs)")]
    WrongBox(String),
    /// Node side: no answer, or not one of ESB's.
    #[error("cannot reach the box at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    /// Node side: the box refused (its code and message).
    #[error("the box refused the join ({code}): {message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
}

impl JoinError {
    /// The HTTP status the box answers with.
    pub fn status(&self) -> u16 {
        match self {
            JoinError::MalformedToken(_)
            | JoinError::InvalidName(_)
            | JoinError::InvalidAddress(_)
            | JoinError::InvalidLabels(_)
            | JoinError::InvalidCsr(_)
            | JoinError::InvalidRequest(_) => 400,
            JoinError::UnknownToken
            | JoinError::ExpiredToken
            | JoinError::RevokedToken
            | JoinError::UsedToken(_)
            | JoinError::WrongCa => 401,
            JoinError::NameTaken(_) => 409,
            JoinError::Refused { status, .. } => *status,
            JoinError::Box(_)
            | JoinError::Internal(_)
            | JoinError::WrongBox(_)
            | JoinError::Unreachable { .. } => 500,
        }
    }

    /// The `error` field of the box's answer.
    pub fn code(&self) -> &str {
        match self {
            JoinError::MalformedToken(_) => "MalformedToken",
            JoinError::UnknownToken => "UnknownToken",
            JoinError::ExpiredToken => "ExpiredToken",
            JoinError::RevokedToken => "RevokedToken",
            JoinError::UsedToken(_) => "UsedToken",
            JoinError::WrongCa => "WrongCaFingerprint",
            JoinError::InvalidName(_) => "InvalidName",
            JoinError::InvalidAddress(_) => "InvalidAddress",
            JoinError::InvalidLabels(_) => "InvalidLabels",
            JoinError::InvalidCsr(_) => "InvalidCsr",
            JoinError::InvalidRequest(_) => "InvalidRequest",
            JoinError::NameTaken(_) => "NameTaken",
            JoinError::Box(_) | JoinError::Internal(_) => "InternalError",
            JoinError::WrongBox(_) => "WrongBox",
            JoinError::Unreachable { .. } => "Unreachable",
            JoinError::Refused { code, .. } => code,
        }
    }
}
