//! Copies: CopyObject (metadata and tagging directives, copy-source conditions; the new
//! object shares the source's blobs) and UploadPartCopy (a byte range into a new part).

use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::conditions::{Conditions, evaluate};
use super::dto::{etag_dto, timestamp, versioned_id};
use super::handle::EsbS3;
use super::objects::{meta_headers, parse_tagging_header};
use crate::model::{Checksums, NewObject, Part, Version};
use crate::store::{BlobPin, WriteCondition};

/// S3's largest object CopyObject copies in one request.
const MAX_COPY_BYTES: u64 = 5 * 1024 * 1024 * 1024;

async fn source(
    s3: &EsbS3,
    src: &CopySource,
    conditions: Conditions<'_>,
) -> S3Result<(String, Version, BlobPin)> {
    let CopySource::Bucket {
        bucket,
        key,
        version_id,
    } = src
    else {
        return Err(S3Error::with_message(
            S3ErrorCode::NotImplemented,
            "Copying from an access point is not supported",
        ));
    };
    let ((v, _), pin) = s3
        .store
        .get_object_pinned(
            bucket.to_string(),
            key.to_string(),
            version_id.as_deref().map(String::from),
        )
        .await?;
    // A copy-source condition that fails is 412 (never 304) for copies.
    evaluate(&conditions, &v).map_err(|e| {
        if *e.code() == S3ErrorCode::NotModified {
            S3Error::with_message(
                S3ErrorCode::PreconditionFailed,
                "At least one of the pre-conditions you specified did not hold",
            )
        } else {
            e
        }
    })?;
    Ok((bucket.to_string(), v, pin))
}

/// How often a copy reads its source again when the source changed under it.
const COPY_ATTEMPTS: usize = 5;

pub async fn copy_object(
    s3: &EsbS3,
    req: S3Request<CopyObjectInput>,
) -> S3Result<S3Response<CopyObjectOutput>> {
    let i = req.input;
    super::names::check_key(&i.key)?;
    let dest = s3.store.bucket(i.bucket.clone()).await?;
    // The copy shares the source's blobs: if the source is overwritten or deleted
    // between reading it and committing the copy, its blobs may be gone, and the copy
    // reads the source again (the commit checks, so a copy never names lost bytes).
    for _ in 1..COPY_ATTEMPTS {
        match copy_once(s3, &i, dest.versioning).await {
            Err(CopyFailed::SourceChanged) => continue,
            Err(CopyFailed::S3(e)) => return Err(e),
            Ok(out) => return Ok(out),
        }
    }
    copy_once(s3, &i, dest.versioning)
        .await
        .map_err(|e| match e {
            CopyFailed::SourceChanged => crate::error::StoreError::SourceChanged.into(),
            CopyFailed::S3(e) => e,
        })
}

enum CopyFailed {
    SourceChanged,
    S3(S3Error),
}

impl From<S3Error> for CopyFailed {
    fn from(e: S3Error) -> Self {
        Self::S3(e)
    }
}

impl From<crate::error::StoreError> for CopyFailed {
    fn from(e: crate::error::StoreError) -> Self {
        match e {
            crate::error::StoreError::SourceChanged => Self::SourceChanged,
            e => Self::S3(e.into()),
        }
    }
}

/// The `x-amz-copy-source-if-*` conditions of CopyObject and UploadPartCopy inputs.
macro_rules! copy_source_conditions {
    ($i:expr) => {
        Conditions {
            if_match: $i.copy_source_if_match.as_ref(),
            if_none_match: $i.copy_source_if_none_match.as_ref(),
            if_modified_since: $i.copy_source_if_modified_since.as_ref(),
            if_unmodified_since: $i.copy_source_if_unmodified_since.as_ref(),
        }
    };
}

async fn copy_once(
    s3: &EsbS3,
    i: &CopyObjectInput,
    dest_versioning: crate::model::Versioning,
) -> Result<S3Response<CopyObjectOutput>, CopyFailed> {
    let (src_bucket, v, _pin) = source(s3, &i.copy_source, copy_source_conditions!(i)).await?;
    if v.size > MAX_COPY_BYTES {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidRequest,
            "The specified copy source is larger than the maximum allowable size for a copy source: 5368709120",
        )
        .into());
    }
    let replace_meta = i
        .metadata_directive
        .as_ref()
        .is_some_and(|d| d.as_str() == "REPLACE");
    let replace_tags = i
        .tagging_directive
        .as_ref()
        .is_some_and(|d| d.as_str() == "REPLACE");
    let same = src_bucket == i.bucket && v.key == i.key;
    if same && !replace_meta && i.storage_class.is_none() && !replace_tags {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidRequest,
            "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
        )
        .into());
    }
    let mut meta = if replace_meta {
        let mut m = meta_headers!(i);
        super::dto::check_meta(&m)?;
        m.checksums = v.meta.checksums.clone();
        m.parts_count = v.meta.parts_count;
        m
    } else {
        // COPY keeps the metadata; the storage class is the request's when it names one
        // (copying an object onto itself is how S3 users change it).
        let mut m = v.meta.clone();
        if let Some(class) = &i.storage_class {
            m.storage_class = Some(class.as_str().to_string()).filter(|c| c != "STANDARD");
            super::dto::check_meta(&m)?;
        }
        m
    };
    meta.tags = if replace_tags {
        parse_tagging_header(i.tagging.as_deref())?
    } else {
        v.meta.tags.clone()
    };
    let new = NewObject {
        size: v.size,
        etag: v.etag.clone(),
        meta,
        segments: v.segments.clone(),
    };
    let out = s3
        .store
        .put_object(
            i.bucket.clone(),
            i.key.clone(),
            new,
            WriteCondition {
                shares_blobs: true,
                ..WriteCondition::default()
            },
            "ObjectCreated:Copy",
        )
        .await?;
    let c = &v.meta.checksums;
    Ok(S3Response::new(CopyObjectOutput {
        copy_object_result: Some(CopyObjectResult {
            e_tag: Some(etag_dto(&v.etag)),
            last_modified: Some(timestamp(crate::store::now_ms())),
            checksum_crc32: c.crc32.clone(),
            checksum_crc32c: c.crc32c.clone(),
            checksum_crc64nvme: c.crc64nvme.clone(),
            checksum_sha1: c.sha1.clone(),
            checksum_sha256: c.sha256.clone(),
            checksum_type: c.kind.clone().map(ChecksumType::from),
        }),
        copy_source_version_id: (v.version_id != crate::model::NULL_VERSION)
            .then(|| v.version_id.clone()),
        version_id: versioned_id(dest_versioning, &out.version_id),
        ..CopyObjectOutput::default()
    }))
}

/// `bytes=first-last` of x-amz-copy-source-range, within an object of `size` bytes.
fn copy_range(header: Option<&str>, size: u64) -> S3Result<std::ops::Range<u64>> {
    let Some(h) = header else {
        return Ok(0..size);
    };
    let invalid = || {
        S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy",
        )
    };
    let (a, b) = h
        .strip_prefix("bytes=")
        .and_then(|r| r.split_once('-'))
        .ok_or_else(invalid)?;
    let first: u64 = a.parse().map_err(|_| invalid())?;
    let last: u64 = b.parse().map_err(|_| invalid())?;
    if first > last {
        return Err(invalid());
    }
    if last >= size {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidRange,
            "The requested range is not satisfiable",
        ));
    }
    Ok(first..last + 1)
}

pub async fn upload_part_copy(
    s3: &EsbS3,
    req: S3Request<UploadPartCopyInput>,
) -> S3Result<S3Response<UploadPartCopyOutput>> {
    let i = req.input;
    super::multipart::check_part_number(i.part_number)?;
    let upload = s3
        .store
        .upload(i.bucket.clone(), i.key.clone(), i.upload_id.clone())
        .await?;
    // Pinned until the range is copied, even if the source changes meanwhile.
    let (_, v, _pin) = source(s3, &i.copy_source, copy_source_conditions!(i)).await?;
    let range = copy_range(i.copy_source_range.as_deref(), v.size)?;
    if range.end - range.start > MAX_COPY_BYTES {
        return Err(S3Error::with_message(
            S3ErrorCode::EntityTooLarge,
            "Your proposed upload exceeds the maximum allowed object size.",
        ));
    }
    let mut md5 = <md5::Md5 as md5::Digest>::new();
    let mut hasher = s3s::checksum::ChecksumHasher::default();
    match upload.checksum_algorithm.as_deref() {
        Some("CRC32") => hasher.crc32 = Some(Default::default()),
        Some("CRC32C") => hasher.crc32c = Some(Default::default()),
        Some("CRC64NVME") => hasher.crc64nvme = Some(Default::default()),
        Some("SHA1") => hasher.sha1 = Some(Default::default()),
        Some("SHA256") => hasher.sha256 = Some(Default::default()),
        _ => {}
    }
    let (pending, size) = s3
        .store
        .blobs()
        .copy_range(v.segments.clone(), range, |chunk| {
            md5::Digest::update(&mut md5, chunk);
            hasher.update(chunk);
        })
        .await
        .map_err(|e| S3Error::internal_error(std::io::Error::other(e.to_string())))?;
    let etag = format!("\"{}\"", hex::encode(md5::Digest::finalize(md5)));
    let c = hasher.finalize();
    let checksums = Checksums {
        crc32: c.checksum_crc32,
        crc32c: c.checksum_crc32c,
        crc64nvme: c.checksum_crc64nvme,
        sha1: c.checksum_sha1,
        sha256: c.checksum_sha256,
        kind: None,
    };
    let segment = (size > 0).then(|| crate::model::Segment {
        blob: pending.id.clone(),
        len: size,
    });
    s3.store
        .put_part(
            i.bucket,
            i.key,
            i.upload_id,
            Part {
                part_number: i.part_number,
                size,
                etag: etag.clone(),
                modified_ms: 0,
                checksums: checksums.clone(),
                segment,
            },
        )
        .await?;
    // Named by a committed part row now (an error above drops and removes it).
    pending.keep();
    Ok(S3Response::new(UploadPartCopyOutput {
        copy_part_result: Some(CopyPartResult {
            e_tag: Some(etag_dto(&etag)),
            last_modified: Some(timestamp(crate::store::now_ms())),
            checksum_crc32: checksums.crc32,
            checksum_crc32c: checksums.crc32c,
            checksum_crc64nvme: checksums.crc64nvme,
            checksum_sha1: checksums.sha1,
            checksum_sha256: checksums.sha256,
        }),
        copy_source_version_id: (v.version_id != crate::model::NULL_VERSION)
            .then(|| v.version_id.clone()),
        ..UploadPartCopyOutput::default()
    }))
}
