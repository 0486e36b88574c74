//! Failures of the files and certificates behind joining (not of a join itself:
//! [`crate::join_error::JoinError`] says why a join was refused).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum NodesError {
    #[error("{path}: {reason}")]
    Io {
        path: PathBuf,
        reason: std::io::Error,
    },
    #[error("{path} is not valid: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("the box has no CA yet ({0} missing); start the box once with `esb up`")]
    NoCa(PathBuf),
    #[error("certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    #[error("certificate: {0}")]
    Pem(String),
    #[error("no randomness from the operating system: {0}")]
    Random(String),
}

impl NodesError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |reason| Self::Io { path, reason }
    }
}
