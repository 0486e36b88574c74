//! Store failures as S3 errors: the codes and messages S3 answers with, and the headers
//! some of them carry (`x-amz-delete-marker`, `x-amz-version-id`).

use http::{HeaderMap, HeaderValue};
use s3s::{S3Error, S3ErrorCode};

use crate::error::StoreError;

impl From<StoreError> for S3Error {
    fn from(e: StoreError) -> Self {
        let code = match &e {
            StoreError::NoSuchBucket => S3ErrorCode::NoSuchBucket,
            StoreError::BucketAlreadyOwnedByYou => S3ErrorCode::BucketAlreadyOwnedByYou,
            StoreError::BucketNotEmpty => S3ErrorCode::BucketNotEmpty,
            StoreError::NoSuchKey { .. } => S3ErrorCode::NoSuchKey,
            StoreError::NoSuchVersion => S3ErrorCode::NoSuchVersion,
            StoreError::InvalidVersionId => S3ErrorCode::InvalidArgument,
            StoreError::SourceChanged => S3ErrorCode::SlowDown,
            StoreError::MethodNotAllowed { .. } => S3ErrorCode::MethodNotAllowed,
            StoreError::NoSuchUpload => S3ErrorCode::NoSuchUpload,
            StoreError::PreconditionFailed => S3ErrorCode::PreconditionFailed,
            StoreError::InvalidPart => S3ErrorCode::InvalidPart,
            StoreError::InvalidPartOrder => S3ErrorCode::InvalidPartOrder,
            StoreError::EntityTooSmall => S3ErrorCode::EntityTooSmall,
            _ if e.is_out_of_space() => {
                // Passing (space can be freed): 503, which the SDKs retry with backoff.
                // The box says once which disk is full (disk_watch).
                tracing::debug!(service = "s3", "cannot write: {e}");
                return S3Error::with_message(
                    S3ErrorCode::ServiceUnavailable,
                    "The box's storage is full; please try again once space is freed.",
                );
            }
            StoreError::Sqlite(_)
            | StoreError::Json(_)
            | StoreError::Io(_)
            | StoreError::Task(_) => {
                tracing::error!(service = "s3", "internal error: {e}");
                return S3Error::with_message(
                    S3ErrorCode::InternalError,
                    "We encountered an internal error. Please try again.",
                );
            }
        };
        let marker = match &e {
            StoreError::NoSuchKey {
                delete_marker: Some(v),
            }
            | StoreError::MethodNotAllowed { delete_marker: v } => Some(v.clone()),
            _ => None,
        };
        let mut err = S3Error::with_message(code, e.to_string());
        if let Some(v) = marker {
            let mut headers = HeaderMap::new();
            headers.insert("x-amz-delete-marker", HeaderValue::from_static("true"));
            if let Ok(v) = HeaderValue::from_str(&v) {
                headers.insert("x-amz-version-id", v);
            }
            err.set_headers(headers);
        }
        err
    }
}
