//! Conversions between the store's values and s3s's types (timestamps, ETags, owner,
//! version ids, HTTP dates) and the checks several operations share.

use s3s::S3Result;
use s3s::dto::*;

use crate::model::{ObjectMeta, Versioning};

/// The owner every bucket and object reports (one account per box).
pub(crate) fn owner() -> Owner {
    Owner {
        display_name: Some("esb".into()),
        id: Some("75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a".into()),
    }
}

pub(crate) fn timestamp(ms: i64) -> Timestamp {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .into()
}

pub(crate) fn etag_dto(quoted: &str) -> ETag {
    ETag::Strong(quoted.trim_matches('"').to_string())
}

/// The version id to report: S3 names versions only in buckets that have had
/// versioning (then unversioned writes are `null`).
pub(crate) fn versioned_id(v: Versioning, id: &str) -> Option<String> {
    (v != Versioning::Unversioned).then(|| id.to_string())
}

pub(crate) fn format_http_date(t: &Timestamp) -> Option<String> {
    let mut out = Vec::new();
    t.format(TimestampFormat::HttpDate, &mut out).ok()?;
    String::from_utf8(out).ok()
}

pub(crate) fn parse_http_date(s: &str) -> Option<Timestamp> {
    Timestamp::parse(TimestampFormat::HttpDate, s).ok()
}

/// S3's limit on user-defined metadata (names and values, in bytes).
const MAX_USER_METADATA_BYTES: usize = 2048;

/// The storage classes S3 knows (ESB keeps every object the same way, but names only
/// these).
const STORAGE_CLASSES: [&str; 13] = [
    "STANDARD",
    "REDUCED_REDUNDANCY",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER",
    "DEEP_ARCHIVE",
    "OUTPOSTS",
    "GLACIER_IR",
    "SNOW",
    "EXPRESS_ONEZONE",
    "FSX_OPENZFS",
    "FSX_ONTAP",
];

/// What S3 checks of a new object's metadata: user metadata within 2 KB, a storage class
/// it knows.
pub(crate) fn check_meta(meta: &ObjectMeta) -> S3Result<()> {
    let size: usize = meta.user.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > MAX_USER_METADATA_BYTES {
        return Err(s3s::S3Error::with_message(
            s3s::S3ErrorCode::MetadataTooLarge,
            "Your metadata headers exceed the maximum allowed metadata size.",
        ));
    }
    if let Some(class) = &meta.storage_class
        && !STORAGE_CLASSES.contains(&class.as_str())
    {
        return Err(s3s::S3Error::with_message(
            s3s::S3ErrorCode::InvalidStorageClass,
            "The storage class you specified is not valid",
        ));
    }
    Ok(())
}
