//! Object operations: PutObject (and browser POST), GetObject and HeadObject (ranges,
//! part numbers, conditions, response overrides), DeleteObject(s), object tagging.

use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::body::{self, Declared};
use super::conditions::{Conditions, evaluate};
use super::dto::{etag_dto, timestamp, versioned_id};
use super::handle::EsbS3;
use crate::model::{NewObject, ObjectMeta, Version};
use crate::store::{BlobPin, WriteCondition};
use futures::StreamExt;

/// The tags of `x-amz-tagging` (a URL query string).
pub fn parse_tagging_header(header: Option<&str>) -> S3Result<Vec<(String, String)>> {
    let Some(h) = header.filter(|h| !h.is_empty()) else {
        return Ok(Vec::new());
    };
    let tags: Vec<(String, String)> = url_pairs(h);
    check_tags(&tags)?;
    Ok(tags)
}

fn url_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (dec(k), dec(v))
        })
        .collect()
}

/// S3's object tag limits: at most 10, keys up to 128 and values up to 256 characters,
/// keys unique.
pub fn check_tags(tags: &[(String, String)]) -> S3Result<()> {
    let invalid = |m: &str| {
        Err(S3Error::with_message(
            S3ErrorCode::InvalidTag,
            m.to_string(),
        ))
    };
    if tags.len() > 10 {
        return invalid("Object tags cannot be greater than 10");
    }
    let mut seen = std::collections::HashSet::new();
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 {
            return invalid("The TagKey you have provided is invalid");
        }
        if v.chars().count() > 256 {
            return invalid("The TagValue you have provided is invalid");
        }
        if !seen.insert(k) {
            return invalid("Cannot provide multiple Tags with the same key");
        }
    }
    Ok(())
}

pub fn tags_dto(tags: &[(String, String)]) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag {
            key: Some(k.clone()),
            value: Some(v.clone()),
        })
        .collect()
}

pub fn tags_from_dto(tagging: Tagging) -> S3Result<Vec<(String, String)>> {
    let tags: Vec<(String, String)> = tagging
        .tag_set
        .into_iter()
        .map(|t| (t.key.unwrap_or_default(), t.value.unwrap_or_default()))
        .collect();
    check_tags(&tags)?;
    Ok(tags)
}

pub async fn put(
    s3: &EsbS3,
    req: S3Request<PutObjectInput>,
    event: &'static str,
) -> S3Result<S3Response<PutObjectOutput>> {
    let trailers = req.trailing_headers.clone();
    let input = req.input;
    super::names::check_key(&input.key)?;
    let bucket = s3.store.bucket(input.bucket.clone()).await?;
    if input
        .content_length
        .is_some_and(|l| l > body::MAX_PUT_BYTES as i64)
    {
        return Err(S3Error::with_message(
            S3ErrorCode::EntityTooLarge,
            "Your proposed upload exceeds the maximum allowed object size.",
        ));
    }
    if let Some(c) = &input.if_none_match
        && !c.is_any()
    {
        return Err(S3Error::with_message(
            S3ErrorCode::NotImplemented,
            "A header you provided implies functionality that is not implemented: If-None-Match accepts only *",
        ));
    }
    super::ownership::check_write_acl(
        input.acl.as_ref().map(|a| a.as_str()),
        input.grant_full_control.is_some()
            || input.grant_read.is_some()
            || input.grant_read_acp.is_some()
            || input.grant_write_acp.is_some(),
    )?;
    let mut meta = meta_headers!(input);
    super::dto::check_meta(&meta)?;
    meta.tags = parse_tagging_header(input.tagging.as_deref())?;
    let declared = Declared {
        content_md5: input.content_md5.clone(),
        algorithm: input.checksum_algorithm.clone(),
        checksums: crate::model::Checksums {
            crc32: input.checksum_crc32.clone(),
            crc32c: input.checksum_crc32c.clone(),
            crc64nvme: input.checksum_crc64nvme.clone(),
            sha1: input.checksum_sha1.clone(),
            sha256: input.checksum_sha256.clone(),
            kind: None,
        },
        trailers,
        default_crc64nvme: true,
    };
    let mut received =
        body::receive(s3.store.blobs(), input.body, declared, body::MAX_PUT_BYTES).await?;
    meta.checksums = received.checksums.clone();
    let condition = WriteCondition {
        if_none_match_any: input.if_none_match.as_ref().is_some_and(|c| c.is_any()),
        if_match: input.if_match.as_ref().map(etag_condition_text),
        shares_blobs: false,
    };
    let new = NewObject {
        size: received.size,
        etag: received.etag.clone(),
        meta,
        segments: received.segment().into_iter().collect(),
    };
    let out = s3
        .store
        .put_object(input.bucket, input.key, new, condition, event)
        .await?;
    received.keep();
    let c = &received.checksums;
    Ok(S3Response::new(PutObjectOutput {
        e_tag: Some(etag_dto(&received.etag)),
        version_id: versioned_id(bucket.versioning, &out.version_id),
        checksum_crc32: c.crc32.clone(),
        checksum_crc32c: c.crc32c.clone(),
        checksum_crc64nvme: c.crc64nvme.clone(),
        checksum_sha1: c.sha1.clone(),
        checksum_sha256: c.sha256.clone(),
        checksum_type: c.kind.clone().map(ChecksumType::from),
        size: i64::try_from(received.size).ok(),
        ..PutObjectOutput::default()
    }))
}

pub fn etag_condition_text(c: &ETagCondition) -> String {
    match c {
        ETagCondition::Any => "*".to_string(),
        ETagCondition::ETag(e) => e.value().to_string(),
    }
}

/// The byte range a GET or HEAD answers: a `Range`, a `partNumber`, or everything.
/// Returns (range, Content-Range, parts count to report).
fn select(
    v: &Version,
    range: Option<&Range>,
    part_number: Option<i32>,
) -> S3Result<(std::ops::Range<u64>, Option<String>, Option<i32>)> {
    if range.is_some() && part_number.is_some() {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidRequest,
            "Cannot specify both Range header and partNumber query parameter",
        ));
    }
    if let Some(n) = part_number {
        let count = v.meta.parts_count.map_or(1, |c| c as i32);
        if n < 1 || n > count {
            let mut e = S3Error::with_message(
                S3ErrorCode::Custom("InvalidPartNumber".into()),
                "The requested partnumber is not satisfiable",
            );
            e.set_status_code(http::StatusCode::RANGE_NOT_SATISFIABLE);
            return Err(e);
        }
        let (start, len) = if v.meta.parts_count.is_some() {
            let idx = usize::try_from(n - 1).unwrap_or(0);
            let start: u64 = v.segments.iter().take(idx).map(|s| s.len).sum();
            (start, v.segments.get(idx).map_or(0, |s| s.len))
        } else {
            (0, v.size)
        };
        let cr = (len > 0).then(|| format!("bytes {}-{}/{}", start, start + len - 1, v.size));
        return Ok((start..start + len, cr, v.meta.parts_count.map(|c| c as i32)));
    }
    match range {
        None => Ok((0..v.size, None, None)),
        Some(r) => {
            let r = r.check(v.size).map_err(|_| {
                S3Error::with_message(
                    S3ErrorCode::InvalidRange,
                    "The requested range is not satisfiable",
                )
            })?;
            let cr = format!("bytes {}-{}/{}", r.start, r.end.saturating_sub(1), v.size);
            Ok((r, Some(cr), None))
        }
    }
}

/// The version a GET/HEAD reads, after its conditions.
async fn read_version(
    s3: &EsbS3,
    bucket: &str,
    key: &str,
    version_id: Option<String>,
    conditions: Conditions<'_>,
) -> S3Result<(Version, crate::model::Versioning, BlobPin)> {
    let ((v, versioning), pin) = s3
        .store
        .get_object_pinned(bucket.to_string(), key.to_string(), version_id)
        .await?;
    evaluate(&conditions, &v)?;
    Ok((v, versioning, pin))
}

/// What GET and HEAD answer with besides the bytes.
struct Read {
    v: Version,
    versioning: crate::model::Versioning,
    range: std::ops::Range<u64>,
    content_range: Option<String>,
    parts_count: Option<i32>,
    checksums: crate::model::Checksums,
}

/// Fields GET and HEAD outputs share (two types with the same field names).
macro_rules! object_output {
    ($ty:ident, $r:expr, $i:expr, { $($extra:tt)* }) => {{
        let r = $r;
        let m = &r.v.meta;
        let c = &r.checksums;
        let mut out = $ty {
            content_length: i64::try_from(r.range.end - r.range.start).ok(),
            content_range: r.content_range.clone(),
            accept_ranges: Some("bytes".into()),
            e_tag: Some(etag_dto(&r.v.etag)),
            last_modified: Some(timestamp(r.v.modified_ms)),
            metadata: (!m.user.is_empty()).then(|| m.user.clone().into_iter().collect()),
            content_type: Some(
                m.content_type
                    .clone()
                    .unwrap_or_else(|| "binary/octet-stream".into()),
            ),
            content_encoding: m.content_encoding.clone(),
            content_disposition: m.content_disposition.clone(),
            content_language: m.content_language.clone(),
            cache_control: m.cache_control.clone(),
            expires: m.expires.as_deref().and_then(super::dto::parse_http_date),
            website_redirect_location: m.website_redirect_location.clone(),
            storage_class: m.storage_class.clone().map(StorageClass::from),
            parts_count: r.parts_count,
            version_id: versioned_id(r.versioning, &r.v.version_id),
            checksum_crc32: c.crc32.clone(),
            checksum_crc32c: c.crc32c.clone(),
            checksum_crc64nvme: c.crc64nvme.clone(),
            checksum_sha1: c.sha1.clone(),
            checksum_sha256: c.sha256.clone(),
            checksum_type: c.kind.clone().map(ChecksumType::from),
            $($extra)*
            ..$ty::default()
        };
        let i = $i;
        // Response overrides (`response-content-type=...`).
        out.content_type = i.response_content_type.or(out.content_type);
        out.content_encoding = i.response_content_encoding.or(out.content_encoding);
        out.content_disposition = i.response_content_disposition.or(out.content_disposition);
        out.content_language = i.response_content_language.or(out.content_language);
        out.cache_control = i.response_cache_control.or(out.cache_control);
        out.expires = i.response_expires.or(out.expires);
        let status = if out.content_range.is_some() {
            http::StatusCode::PARTIAL_CONTENT
        } else {
            http::StatusCode::OK
        };
        S3Response::with_status(out, status)
    }};
}

#[allow(clippy::too_many_arguments)]
async fn read(
    s3: &EsbS3,
    bucket: &str,
    key: &str,
    version_id: Option<String>,
    conditions: Conditions<'_>,
    range: Option<&Range>,
    part_number: Option<i32>,
    checksum_mode: Option<&ChecksumMode>,
) -> S3Result<(Read, BlobPin)> {
    let (v, versioning, pin) = read_version(s3, bucket, key, version_id, conditions).await?;
    let (range, content_range, parts_count) = select(&v, range, part_number)?;
    // Checksums describe the whole object: S3 omits them for ranges and parts.
    let whole = content_range.is_none() && part_number.is_none();
    let checksums = if whole && checksum_mode.is_some_and(|m| m.as_str() == "ENABLED") {
        v.meta.checksums.clone()
    } else {
        crate::model::Checksums::default()
    };
    Ok((
        Read {
            v,
            versioning,
            range,
            content_range,
            parts_count,
            checksums,
        },
        pin,
    ))
}

/// [`read`] with the fields GetObject and HeadObject inputs share.
macro_rules! read_object {
    ($s3:expr, $i:expr) => {
        read(
            $s3,
            &$i.bucket,
            &$i.key,
            $i.version_id.clone(),
            Conditions {
                if_match: $i.if_match.as_ref(),
                if_none_match: $i.if_none_match.as_ref(),
                if_modified_since: $i.if_modified_since.as_ref(),
                if_unmodified_since: $i.if_unmodified_since.as_ref(),
            },
            $i.range.as_ref(),
            $i.part_number,
            $i.checksum_mode.as_ref(),
        )
    };
}

pub async fn get(
    s3: &EsbS3,
    req: S3Request<GetObjectInput>,
) -> S3Result<S3Response<GetObjectOutput>> {
    let i = req.input;
    let (r, pin) = read_object!(s3, i).await?;
    let stream = s3
        .store
        .blobs()
        .reader(r.v.segments.clone(), r.range.clone())
        .await
        .map_err(|e| match e.kind() {
            // Deleted between the catalogue read and opening its bytes.
            std::io::ErrorKind::NotFound => S3Error::from(crate::error::StoreError::NoSuchKey {
                delete_marker: None,
            }),
            _ => S3Error::internal_error(e),
        })?
        // The pin keeps the bytes on disk until the body is sent, even if the key is
        // overwritten or deleted meanwhile.
        .map(move |chunk| {
            let _reading = &pin;
            chunk
        });
    let tags = r.v.meta.tags.len();
    Ok(object_output!(GetObjectOutput, &r, i, {
        body: Some(StreamingBlob::wrap(stream)),
        tag_count: (tags > 0).then_some(i32::try_from(tags).unwrap_or(i32::MAX)),
    }))
}

pub async fn head(
    s3: &EsbS3,
    req: S3Request<HeadObjectInput>,
) -> S3Result<S3Response<HeadObjectOutput>> {
    let i = req.input;
    let (r, _pin) = read_object!(s3, i).await?;
    Ok(object_output!(HeadObjectOutput, &r, i, {}))
}

pub async fn delete(
    s3: &EsbS3,
    req: S3Request<DeleteObjectInput>,
) -> S3Result<S3Response<DeleteObjectOutput>> {
    let i = req.input;
    let out = s3
        .store
        .delete_object(
            i.bucket,
            i.key,
            i.version_id,
            i.if_match.as_ref().map(etag_condition_text),
        )
        .await?;
    Ok(S3Response::with_status(
        DeleteObjectOutput {
            delete_marker: out.delete_marker.then_some(true),
            version_id: out.version_id,
            ..DeleteObjectOutput::default()
        },
        http::StatusCode::NO_CONTENT,
    ))
}

/// GetObjectAttributes: the attributes asked for, of the current version or one by id.
pub async fn attributes(
    s3: &EsbS3,
    req: S3Request<GetObjectAttributesInput>,
) -> S3Result<S3Response<GetObjectAttributesOutput>> {
    let i = req.input;
    let b = s3.store.bucket(i.bucket.clone()).await?;
    let v = s3.store.get_object(i.bucket, i.key, i.version_id).await?;
    let wants = |name: &str| i.object_attributes.iter().any(|a| a.as_str() == name);
    let c = &v.meta.checksums;
    Ok(S3Response::new(GetObjectAttributesOutput {
        e_tag: wants("ETag").then(|| etag_dto(&v.etag)),
        object_size: wants("ObjectSize").then(|| i64::try_from(v.size).unwrap_or(i64::MAX)),
        storage_class: wants("StorageClass").then(|| {
            StorageClass::from(
                v.meta
                    .storage_class
                    .clone()
                    .unwrap_or_else(|| "STANDARD".into()),
            )
        }),
        checksum: (wants("Checksum") && !c.is_empty()).then(|| Checksum {
            checksum_crc32: c.crc32.clone(),
            checksum_crc32c: c.crc32c.clone(),
            checksum_crc64nvme: c.crc64nvme.clone(),
            checksum_sha1: c.sha1.clone(),
            checksum_sha256: c.sha256.clone(),
            checksum_type: c.kind.clone().map(ChecksumType::from),
        }),
        object_parts: (wants("ObjectParts") && v.meta.parts_count.is_some()).then(|| {
            GetObjectAttributesParts {
                total_parts_count: v.meta.parts_count.and_then(|n| i32::try_from(n).ok()),
                ..GetObjectAttributesParts::default()
            }
        }),
        last_modified: Some(timestamp(v.modified_ms)),
        version_id: versioned_id(b.versioning, &v.version_id),
        ..GetObjectAttributesOutput::default()
    }))
}

/// S3's limit on keys per DeleteObjects request.
const MAX_DELETE_KEYS: usize = 1000;

pub async fn delete_many(
    s3: &EsbS3,
    req: S3Request<DeleteObjectsInput>,
) -> S3Result<S3Response<DeleteObjectsOutput>> {
    let i = req.input;
    if i.delete.objects.len() > MAX_DELETE_KEYS {
        return Err(S3Error::with_message(
            S3ErrorCode::MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema",
        ));
    }
    s3.store.bucket(i.bucket.clone()).await?;
    let quiet = i.delete.quiet.unwrap_or(false);
    let mut deleted = Vec::new();
    let mut errors = Vec::new();
    for o in i.delete.objects {
        let etag = o.e_tag.as_ref().map(|e| e.value().to_string());
        match s3
            .store
            .delete_object(i.bucket.clone(), o.key.clone(), o.version_id.clone(), etag)
            .await
        {
            Ok(out) => {
                if !quiet {
                    deleted.push(DeletedObject {
                        key: Some(o.key),
                        version_id: o.version_id.clone(),
                        delete_marker: out.delete_marker.then_some(true),
                        delete_marker_version_id: out
                            .delete_marker
                            .then(|| out.version_id.clone())
                            .flatten(),
                    });
                }
            }
            Err(e) => {
                let e = S3Error::from(e);
                errors.push(Error {
                    code: Some(e.code().as_str().to_string()),
                    key: Some(o.key),
                    message: e.message().map(String::from),
                    version_id: o.version_id,
                });
            }
        }
    }
    Ok(S3Response::new(DeleteObjectsOutput {
        deleted: Some(deleted),
        errors: (!errors.is_empty()).then_some(errors),
        ..DeleteObjectsOutput::default()
    }))
}

pub async fn get_tagging(
    s3: &EsbS3,
    req: S3Request<GetObjectTaggingInput>,
) -> S3Result<S3Response<GetObjectTaggingOutput>> {
    let i = req.input;
    let v = s3.store.get_object(i.bucket, i.key, i.version_id).await?;
    Ok(S3Response::new(GetObjectTaggingOutput {
        tag_set: tags_dto(&v.meta.tags),
        version_id: Some(v.version_id),
    }))
}

pub async fn put_tagging(
    s3: &EsbS3,
    req: S3Request<PutObjectTaggingInput>,
) -> S3Result<S3Response<PutObjectTaggingOutput>> {
    let i = req.input;
    let tags = tags_from_dto(i.tagging)?;
    let version = s3
        .store
        .set_object_tags(i.bucket, i.key, i.version_id, tags, "ObjectTagging:Put")
        .await?;
    Ok(S3Response::new(PutObjectTaggingOutput {
        version_id: Some(version),
    }))
}

pub async fn delete_tagging(
    s3: &EsbS3,
    req: S3Request<DeleteObjectTaggingInput>,
) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
    let i = req.input;
    let version = s3
        .store
        .set_object_tags(
            i.bucket,
            i.key,
            i.version_id,
            Vec::new(),
            "ObjectTagging:Delete",
        )
        .await?;
    Ok(S3Response::with_status(
        DeleteObjectTaggingOutput {
            version_id: Some(version),
        },
        http::StatusCode::NO_CONTENT,
    ))
}

/// The `Content-Encoding` an object keeps: S3 drops `aws-chunked`, which tells how the
/// body travelled (SDKs add it to send trailing checksums), not what the object is.
fn stored_encoding(header: Option<&String>) -> Option<String> {
    let kept: Vec<&str> = header?
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty() && !e.eq_ignore_ascii_case("aws-chunked"))
        .collect();
    (!kept.is_empty()).then(|| kept.join(","))
}

/// The headers a new object keeps (PutObject, CreateMultipartUpload, CopyObject with
/// `REPLACE`).
#[derive(Default)]
pub struct MetaHeaders<'a> {
    pub content_type: Option<&'a String>,
    pub content_encoding: Option<&'a String>,
    pub content_disposition: Option<&'a String>,
    pub content_language: Option<&'a String>,
    pub cache_control: Option<&'a String>,
    pub expires: Option<&'a Timestamp>,
    pub website_redirect_location: Option<&'a String>,
    pub storage_class: Option<&'a StorageClass>,
    pub metadata: Option<&'a Metadata>,
}

/// Fills a [`MetaHeaders`] from an input type with those field names.
macro_rules! meta_headers {
    ($i:expr) => {
        $crate::service::objects::MetaHeaders {
            content_type: $i.content_type.as_ref(),
            content_encoding: $i.content_encoding.as_ref(),
            content_disposition: $i.content_disposition.as_ref(),
            content_language: $i.content_language.as_ref(),
            cache_control: $i.cache_control.as_ref(),
            expires: $i.expires.as_ref(),
            website_redirect_location: $i.website_redirect_location.as_ref(),
            storage_class: $i.storage_class.as_ref(),
            metadata: $i.metadata.as_ref(),
        }
        .meta()
    };
}
pub(crate) use meta_headers;

impl MetaHeaders<'_> {
    pub fn meta(&self) -> ObjectMeta {
        ObjectMeta {
            content_type: self.content_type.cloned(),
            content_encoding: stored_encoding(self.content_encoding),
            content_disposition: self.content_disposition.cloned(),
            content_language: self.content_language.cloned(),
            cache_control: self.cache_control.cloned(),
            expires: self.expires.and_then(super::dto::format_http_date),
            website_redirect_location: self.website_redirect_location.cloned(),
            storage_class: self
                .storage_class
                .map(|s| s.as_str().to_string())
                .filter(|s| s != "STANDARD"),
            user: self
                .metadata
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                        .collect()
                })
                .unwrap_or_default(),
            ..ObjectMeta::default()
        }
    }
}
