//! Listings: ListObjects (v1 markers), ListObjectsV2 (continuation tokens,
//! start-after), ListObjectVersions, ListMultipartUploads, ListParts, with
//! `encoding-type=url` encoding every key-like field as S3 does.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as TOKEN;
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::dto::{etag_dto, owner, timestamp};
use super::handle::EsbS3;
use crate::model::Version;
use crate::store::ListQuery;

/// S3 returns at most this many entries per page.
const MAX_KEYS: i32 = 1000;

fn max_keys(given: Option<i32>) -> S3Result<usize> {
    match given {
        Some(n) if n < 0 => Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "max-keys cannot be negative",
        )),
        Some(n) => Ok(usize::try_from(n.min(MAX_KEYS)).unwrap_or(0)),
        None => Ok(MAX_KEYS as usize),
    }
}

/// Encodes key-like fields when the client asked for `encoding-type=url`.
struct Encoder(bool);

impl Encoder {
    fn new(e: Option<&EncodingType>) -> S3Result<Self> {
        match e.map(|e| e.as_str()) {
            None => Ok(Self(false)),
            Some("url") => Ok(Self(true)),
            Some(_) => Err(S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                "Invalid Encoding Method specified in Request",
            )),
        }
    }

    fn enc(&self, s: String) -> String {
        if !self.0 {
            return s;
        }
        crate::key_encoding::encode_key(&s)
    }

    fn opt(&self, s: Option<String>) -> Option<String> {
        s.map(|s| self.enc(s))
    }
}

fn object_dto(v: Version, enc: &Encoder, with_owner: bool) -> Object {
    Object {
        key: Some(enc.enc(v.key)),
        e_tag: Some(etag_dto(&v.etag)),
        last_modified: Some(timestamp(v.modified_ms)),
        size: i64::try_from(v.size).ok(),
        storage_class: Some(ObjectStorageClass::from(
            v.meta.storage_class.unwrap_or_else(|| "STANDARD".into()),
        )),
        owner: with_owner.then(owner),
        checksum_algorithm: checksum_algorithms(&v.meta.checksums),
        checksum_type: v.meta.checksums.kind.clone().map(ChecksumType::from),
        ..Object::default()
    }
}

fn checksum_algorithms(c: &crate::model::Checksums) -> Option<Vec<ChecksumAlgorithm>> {
    let names: Vec<ChecksumAlgorithm> = [
        ("CRC32", &c.crc32),
        ("CRC32C", &c.crc32c),
        ("CRC64NVME", &c.crc64nvme),
        ("SHA1", &c.sha1),
        ("SHA256", &c.sha256),
    ]
    .into_iter()
    .filter(|(_, v)| v.is_some())
    .map(|(n, _)| ChecksumAlgorithm::from(n.to_string()))
    .collect();
    (!names.is_empty()).then_some(names)
}

fn prefixes_dto(prefixes: Vec<String>, enc: &Encoder) -> Option<Vec<CommonPrefix>> {
    (!prefixes.is_empty()).then(|| {
        prefixes
            .into_iter()
            .map(|p| CommonPrefix {
                prefix: Some(enc.enc(p)),
            })
            .collect()
    })
}

pub async fn list_v1(
    s3: &EsbS3,
    req: S3Request<ListObjectsInput>,
) -> S3Result<S3Response<ListObjectsOutput>> {
    let i = req.input;
    let enc = Encoder::new(i.encoding_type.as_ref())?;
    let query = ListQuery {
        prefix: i.prefix.clone().unwrap_or_default(),
        delimiter: i.delimiter.clone(),
        after: i.marker.clone().unwrap_or_default(),
        max_keys: max_keys(i.max_keys)?,
    };
    let page = s3.store.list_objects(i.bucket.clone(), query).await?;
    // NextMarker is given only with a delimiter; without one the last key serves.
    let next_marker = (page.truncated && i.delimiter.is_some())
        .then(|| page.last.clone())
        .flatten();
    Ok(S3Response::new(ListObjectsOutput {
        name: Some(i.bucket),
        prefix: Some(enc.enc(i.prefix.unwrap_or_default())),
        marker: Some(enc.enc(i.marker.unwrap_or_default())),
        max_keys: Some(i.max_keys.unwrap_or(MAX_KEYS)),
        is_truncated: Some(page.truncated),
        contents: Some(
            page.objects
                .into_iter()
                .map(|v| object_dto(v, &enc, true))
                .collect(),
        ),
        common_prefixes: prefixes_dto(page.prefixes, &enc),
        delimiter: enc.opt(i.delimiter),
        next_marker: enc.opt(next_marker),
        encoding_type: i.encoding_type,
        ..ListObjectsOutput::default()
    }))
}

pub async fn list_v2(
    s3: &EsbS3,
    req: S3Request<ListObjectsV2Input>,
) -> S3Result<S3Response<ListObjectsV2Output>> {
    let i = req.input;
    let enc = Encoder::new(i.encoding_type.as_ref())?;
    let after = match &i.continuation_token {
        Some(t) => TOKEN
            .decode(t)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| {
                S3Error::with_message(
                    S3ErrorCode::InvalidArgument,
                    "The continuation token provided is incorrect",
                )
            })?,
        None => i.start_after.clone().unwrap_or_default(),
    };
    let query = ListQuery {
        prefix: i.prefix.clone().unwrap_or_default(),
        delimiter: i.delimiter.clone(),
        after,
        max_keys: max_keys(i.max_keys)?,
    };
    let page = s3.store.list_objects(i.bucket.clone(), query).await?;
    let key_count = page.objects.len() + page.prefixes.len();
    let fetch_owner = i.fetch_owner.unwrap_or(false);
    Ok(S3Response::new(ListObjectsV2Output {
        name: Some(i.bucket),
        prefix: Some(enc.enc(i.prefix.unwrap_or_default())),
        max_keys: Some(i.max_keys.unwrap_or(MAX_KEYS)),
        key_count: Some(i32::try_from(key_count).unwrap_or(i32::MAX)),
        continuation_token: i.continuation_token,
        next_continuation_token: page
            .truncated
            .then(|| page.last.as_ref().map(|l| TOKEN.encode(l)))
            .flatten(),
        is_truncated: Some(page.truncated),
        contents: Some(
            page.objects
                .into_iter()
                .map(|v| object_dto(v, &enc, fetch_owner))
                .collect(),
        ),
        common_prefixes: prefixes_dto(page.prefixes, &enc),
        delimiter: enc.opt(i.delimiter),
        start_after: enc.opt(i.start_after),
        encoding_type: i.encoding_type,
        ..ListObjectsV2Output::default()
    }))
}

pub async fn list_versions(
    s3: &EsbS3,
    req: S3Request<ListObjectVersionsInput>,
) -> S3Result<S3Response<ListObjectVersionsOutput>> {
    let i = req.input;
    let enc = Encoder::new(i.encoding_type.as_ref())?;
    if i.version_id_marker.is_some() && i.key_marker.is_none() {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "A version-id marker cannot be specified without a key marker.",
        ));
    }
    let query = ListQuery {
        prefix: i.prefix.clone().unwrap_or_default(),
        delimiter: i.delimiter.clone(),
        after: i.key_marker.clone().unwrap_or_default(),
        max_keys: max_keys(i.max_keys)?,
    };
    let page = s3
        .store
        .list_versions(i.bucket.clone(), query, i.version_id_marker.clone())
        .await?;
    let mut versions = Vec::new();
    let mut markers = Vec::new();
    for v in page.versions {
        if v.delete_marker {
            markers.push(DeleteMarkerEntry {
                key: Some(enc.enc(v.key)),
                version_id: Some(v.version_id),
                is_latest: Some(v.latest),
                last_modified: Some(timestamp(v.modified_ms)),
                owner: Some(owner()),
            });
        } else {
            versions.push(ObjectVersion {
                e_tag: Some(etag_dto(&v.etag)),
                is_latest: Some(v.latest),
                key: Some(enc.enc(v.key)),
                last_modified: Some(timestamp(v.modified_ms)),
                owner: Some(owner()),
                size: i64::try_from(v.size).ok(),
                storage_class: Some(ObjectVersionStorageClass::from("STANDARD".to_string())),
                version_id: Some(v.version_id),
                checksum_algorithm: checksum_algorithms(&v.meta.checksums),
                checksum_type: v.meta.checksums.kind.clone().map(ChecksumType::from),
                ..ObjectVersion::default()
            });
        }
    }
    let (next_key, next_version) = match page.next.filter(|_| page.truncated) {
        Some((k, v)) => (Some(k), (!v.is_empty()).then_some(v)),
        None => (None, None),
    };
    Ok(S3Response::new(ListObjectVersionsOutput {
        name: Some(i.bucket),
        prefix: Some(enc.enc(i.prefix.unwrap_or_default())),
        key_marker: Some(enc.enc(i.key_marker.unwrap_or_default())),
        version_id_marker: Some(i.version_id_marker.unwrap_or_default()),
        max_keys: Some(i.max_keys.unwrap_or(MAX_KEYS)),
        delimiter: enc.opt(i.delimiter),
        is_truncated: Some(page.truncated),
        versions: (!versions.is_empty()).then_some(versions),
        delete_markers: (!markers.is_empty()).then_some(markers),
        common_prefixes: prefixes_dto(page.prefixes, &enc),
        next_key_marker: enc.opt(next_key),
        next_version_id_marker: next_version,
        encoding_type: i.encoding_type,
        ..ListObjectVersionsOutput::default()
    }))
}

pub async fn list_uploads(
    s3: &EsbS3,
    req: S3Request<ListMultipartUploadsInput>,
) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
    let i = req.input;
    let enc = Encoder::new(i.encoding_type.as_ref())?;
    let max = max_keys(i.max_uploads)?;
    let prefix = i.prefix.clone().unwrap_or_default();
    let all = s3
        .store
        .list_uploads(i.bucket.clone(), prefix.clone())
        .await?;
    let key_marker = i.key_marker.clone().unwrap_or_default();
    let id_marker = i.upload_id_marker.clone();
    let mut uploads = Vec::new();
    let mut prefixes: Vec<String> = Vec::new();
    let mut truncated = false;
    let mut next = None;
    // The marker key's uploads come in initiation order, which is not the order of
    // their ids: the page after (key-marker, upload-id-marker) starts past that upload
    // in this order. An id that is not among them compares as S3 documents it: only
    // greater ids follow.
    let marker_listed = id_marker.as_ref().is_some_and(|id| {
        all.iter()
            .any(|u| u.key == key_marker && &u.upload_id == id)
    });
    let mut passed_marker = false;
    for u in all {
        // After (key-marker, upload-id-marker): later keys, or the same key's later uploads.
        let after_marker = match &id_marker {
            Some(id) if !key_marker.is_empty() && u.key == key_marker => {
                if marker_listed {
                    let after = passed_marker;
                    passed_marker |= &u.upload_id == id;
                    after
                } else {
                    u.upload_id.as_str() > id.as_str()
                }
            }
            _ => u.key.as_bytes() > key_marker.as_bytes(),
        };
        if !after_marker {
            continue;
        }
        if let Some(d) = i.delimiter.as_deref().filter(|d| !d.is_empty())
            && let Some(pos) = u.key[prefix.len()..].find(d)
        {
            let cp = u.key[..prefix.len() + pos + d.len()].to_string();
            if prefixes.last() != Some(&cp) {
                if uploads.len() + prefixes.len() == max {
                    truncated = true;
                    break;
                }
                prefixes.push(cp);
            }
            continue;
        }
        if uploads.len() + prefixes.len() == max {
            truncated = true;
            break;
        }
        next = Some((u.key.clone(), u.upload_id.clone()));
        uploads.push(MultipartUpload {
            key: Some(enc.enc(u.key)),
            upload_id: Some(u.upload_id),
            initiated: Some(timestamp(u.initiated_ms)),
            initiator: Some(Initiator {
                display_name: Some("esb".into()),
                id: owner().id,
            }),
            owner: Some(owner()),
            storage_class: Some(StorageClass::from("STANDARD".to_string())),
            checksum_algorithm: u.checksum_algorithm.map(ChecksumAlgorithm::from),
            ..MultipartUpload::default()
        });
    }
    let (next_key, next_id) = next.filter(|_| truncated).unzip();
    Ok(S3Response::new(ListMultipartUploadsOutput {
        bucket: Some(i.bucket),
        prefix: Some(enc.enc(prefix)),
        key_marker: Some(enc.enc(key_marker)),
        upload_id_marker: Some(id_marker.unwrap_or_default()),
        max_uploads: Some(i.max_uploads.unwrap_or(MAX_KEYS)),
        delimiter: enc.opt(i.delimiter),
        is_truncated: Some(truncated),
        uploads: Some(uploads),
        common_prefixes: prefixes_dto(prefixes, &enc),
        next_key_marker: enc.opt(next_key),
        next_upload_id_marker: next_id,
        encoding_type: i.encoding_type,
        ..ListMultipartUploadsOutput::default()
    }))
}

pub async fn list_parts(
    s3: &EsbS3,
    req: S3Request<ListPartsInput>,
) -> S3Result<S3Response<ListPartsOutput>> {
    let i = req.input;
    let max = max_keys(i.max_parts)?;
    let marker: i32 = i.part_number_marker.unwrap_or(0);
    let (upload, parts) = s3
        .store
        .parts(i.bucket.clone(), i.key.clone(), i.upload_id.clone())
        .await?;
    let after: Vec<_> = parts
        .into_iter()
        .filter(|p| p.part_number > marker)
        .collect();
    let truncated = after.len() > max;
    let page: Vec<_> = after.into_iter().take(max).collect();
    let next = page.last().map(|p| p.part_number);
    Ok(S3Response::new(ListPartsOutput {
        bucket: Some(i.bucket),
        key: Some(i.key),
        upload_id: Some(i.upload_id),
        part_number_marker: i.part_number_marker,
        next_part_number_marker: next.filter(|_| truncated),
        max_parts: Some(i.max_parts.unwrap_or(MAX_KEYS)),
        is_truncated: Some(truncated),
        checksum_algorithm: upload.checksum_algorithm.map(ChecksumAlgorithm::from),
        initiator: Some(Initiator {
            display_name: Some("esb".into()),
            id: owner().id,
        }),
        owner: Some(owner()),
        storage_class: Some(StorageClass::from("STANDARD".to_string())),
        parts: Some(
            page.into_iter()
                .map(|p| Part {
                    part_number: Some(p.part_number),
                    e_tag: Some(etag_dto(&p.etag)),
                    size: i64::try_from(p.size).ok(),
                    last_modified: Some(timestamp(p.modified_ms)),
                    checksum_crc32: p.checksums.crc32,
                    checksum_crc32c: p.checksums.crc32c,
                    checksum_crc64nvme: p.checksums.crc64nvme,
                    checksum_sha1: p.checksums.sha1,
                    checksum_sha256: p.checksums.sha256,
                })
                .collect(),
        ),
        ..ListPartsOutput::default()
    }))
}
