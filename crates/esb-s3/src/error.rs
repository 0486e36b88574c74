//! The store's failures. Each one the client caused carries the S3 error code it
//! becomes; the rest are internal errors (logged, answered `InternalError`).

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("The specified bucket does not exist")]
    NoSuchBucket,
    #[error("Your previous request to create the named bucket succeeded and you already own it.")]
    BucketAlreadyOwnedByYou,
    #[error("The bucket you tried to delete is not empty")]
    BucketNotEmpty,
    #[error("The specified key does not exist.")]
    NoSuchKey { delete_marker: Option<String> },
    #[error("The specified version does not exist.")]
    NoSuchVersion,
    #[error("Invalid version id specified")]
    InvalidVersionId,
    /// A copy's source was replaced or deleted between reading it and committing the
    /// copy (the copier reads it again).
    #[error("The copy source changed while it was being copied. Please try again.")]
    SourceChanged,
    #[error("The specified method is not allowed against this resource.")]
    MethodNotAllowed { delete_marker: String },
    #[error(
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."
    )]
    NoSuchUpload,
    #[error("At least one of the pre-conditions you specified did not hold")]
    PreconditionFailed,
    #[error(
        "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag."
    )]
    InvalidPart,
    #[error("The list of parts was not in ascending order. Parts must be ordered by part number.")]
    InvalidPartOrder,
    #[error("Your proposed upload is smaller than the minimum allowed object size.")]
    EntityTooSmall,
    #[error("the catalogue failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("a document in the catalogue is unreadable: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the store's files failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("a store task failed: {0}")]
    Task(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    /// The disk under the store is full (or the quota spent): passing, unlike the
    /// other internal failures.
    pub fn is_out_of_space(&self) -> bool {
        match self {
            Self::Io(e) => matches!(e.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT)),
            Self::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                e.code == rusqlite::ErrorCode::DiskFull
            }
            _ => false,
        }
    }
}
