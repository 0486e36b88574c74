//! Multipart uploads: create, upload part, complete (ETag `md5-of-part-md5s-N`,
//! composite or full-object checksums, part-size rules), abort.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use md5::{Digest as _, Md5};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::body::{self, Declared};
use super::dto::{etag_dto, versioned_id};
use super::handle::EsbS3;
use super::objects::{etag_condition_text, meta_headers, parse_tagging_header};
use crate::model::{Checksums, Part, Upload};
use crate::store::{CompletedPart as Listed, WriteCondition};

/// S3's part numbers.
const PART_NUMBERS: std::ops::RangeInclusive<i32> = 1..=10_000;

pub async fn create(
    s3: &EsbS3,
    req: S3Request<CreateMultipartUploadInput>,
) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
    let i = req.input;
    super::names::check_key(&i.key)?;
    let mut meta = meta_headers!(i);
    super::dto::check_meta(&meta)?;
    meta.tags = parse_tagging_header(i.tagging.as_deref())?;
    let algorithm = i
        .checksum_algorithm
        .as_ref()
        .map(|a| a.as_str().to_ascii_uppercase());
    let kind = match (
        i.checksum_type.as_ref().map(|t| t.as_str()),
        algorithm.as_deref(),
    ) {
        (Some("FULL_OBJECT"), Some("SHA1" | "SHA256")) => {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidRequest,
                "The FULL_OBJECT checksum type cannot be used with the SHA1 or SHA256 algorithm.",
            ));
        }
        (Some("FULL_OBJECT"), _) => Some("FULL_OBJECT"),
        (_, Some("CRC64NVME")) => Some("FULL_OBJECT"),
        (_, Some(_)) => Some("COMPOSITE"),
        (_, None) => None,
    };
    meta.checksums.kind = kind.map(String::from);
    let id = s3
        .store
        .create_upload(i.bucket.clone(), i.key.clone(), meta, algorithm.clone())
        .await?;
    Ok(S3Response::new(CreateMultipartUploadOutput {
        bucket: Some(i.bucket),
        key: Some(i.key),
        upload_id: Some(id),
        checksum_algorithm: algorithm.map(ChecksumAlgorithm::from),
        checksum_type: kind.map(|k| ChecksumType::from(k.to_string())),
        ..CreateMultipartUploadOutput::default()
    }))
}

pub fn check_part_number(n: i32) -> S3Result<()> {
    if PART_NUMBERS.contains(&n) {
        Ok(())
    } else {
        Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "Part number must be an integer between 1 and 10000, inclusive",
        ))
    }
}

pub async fn upload_part(
    s3: &EsbS3,
    req: S3Request<UploadPartInput>,
) -> S3Result<S3Response<UploadPartOutput>> {
    let trailers = req.trailing_headers.clone();
    let i = req.input;
    check_part_number(i.part_number)?;
    let upload = s3
        .store
        .upload(i.bucket.clone(), i.key.clone(), i.upload_id.clone())
        .await?;
    let declared = Declared {
        content_md5: i.content_md5.clone(),
        // The upload's algorithm is computed for every part, sent or not.
        algorithm: i.checksum_algorithm.clone().or_else(|| {
            upload
                .checksum_algorithm
                .clone()
                .map(ChecksumAlgorithm::from)
        }),
        checksums: Checksums {
            crc32: i.checksum_crc32.clone(),
            crc32c: i.checksum_crc32c.clone(),
            crc64nvme: i.checksum_crc64nvme.clone(),
            sha1: i.checksum_sha1.clone(),
            sha256: i.checksum_sha256.clone(),
            kind: None,
        },
        trailers,
        default_crc64nvme: false,
    };
    let mut received =
        body::receive(s3.store.blobs(), i.body, declared, body::MAX_PUT_BYTES).await?;
    let part = Part {
        part_number: i.part_number,
        size: received.size,
        etag: received.etag.clone(),
        modified_ms: 0,
        checksums: received.checksums.clone(),
        segment: received.segment(),
    };
    s3.store
        .put_part(i.bucket, i.key, i.upload_id, part)
        .await?;
    received.keep();
    let c = &received.checksums;
    Ok(S3Response::new(UploadPartOutput {
        e_tag: Some(etag_dto(&received.etag)),
        checksum_crc32: c.crc32.clone(),
        checksum_crc32c: c.crc32c.clone(),
        checksum_crc64nvme: c.crc64nvme.clone(),
        checksum_sha1: c.sha1.clone(),
        checksum_sha256: c.sha256.clone(),
        ..UploadPartOutput::default()
    }))
}

/// The multipart ETag: MD5 of the parts' binary MD5s, then `-<parts>`.
fn multipart_etag(parts: &[Part]) -> String {
    let mut md5 = Md5::new();
    for p in parts {
        if let Ok(raw) = hex::decode(p.etag.trim_matches('"')) {
            md5.update(raw);
        }
    }
    format!("\"{}-{}\"", hex::encode(md5.finalize()), parts.len())
}

fn part_checksum<'a>(c: &'a Checksums, algorithm: &str) -> Option<&'a String> {
    match algorithm {
        "CRC32" => c.crc32.as_ref(),
        "CRC32C" => c.crc32c.as_ref(),
        "CRC64NVME" => c.crc64nvme.as_ref(),
        "SHA1" => c.sha1.as_ref(),
        "SHA256" => c.sha256.as_ref(),
        _ => None,
    }
}

fn slot<'a>(c: &'a mut Checksums, algorithm: &str) -> Option<&'a mut Option<String>> {
    match algorithm {
        "CRC32" => Some(&mut c.crc32),
        "CRC32C" => Some(&mut c.crc32c),
        "CRC64NVME" => Some(&mut c.crc64nvme),
        "SHA1" => Some(&mut c.sha1),
        "SHA256" => Some(&mut c.sha256),
        _ => None,
    }
}

fn crc_algorithm(name: &str) -> Option<(crc_fast::CrcAlgorithm, usize)> {
    match name {
        "CRC32" => Some((crc_fast::CrcAlgorithm::Crc32IsoHdlc, 4)),
        "CRC32C" => Some((crc_fast::CrcAlgorithm::Crc32Iscsi, 4)),
        "CRC64NVME" => Some((crc_fast::CrcAlgorithm::Crc64Nvme, 8)),
        _ => None,
    }
}

fn be_value(raw: &[u8]) -> u64 {
    raw.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
}

/// The object's checksum from its parts': a CRC of the whole object by combining the
/// parts' CRCs (FULL_OBJECT), or the checksum of the concatenated part checksums with
/// `-N` (COMPOSITE).
fn combine(upload: &Upload, parts: &[Part]) -> Result<Checksums, S3Error> {
    let mut out = Checksums::default();
    let Some(alg) = upload.checksum_algorithm.as_deref() else {
        return Ok(out);
    };
    let kind = upload
        .meta
        .checksums
        .kind
        .clone()
        .unwrap_or_else(|| "COMPOSITE".into());
    let mut raws = Vec::with_capacity(parts.len());
    for p in parts {
        let raw = part_checksum(&p.checksums, alg)
            .and_then(|b| B64.decode(b).ok())
            .ok_or_else(|| {
                S3Error::with_message(
                    S3ErrorCode::InvalidPart,
                    format!("Part {} has no {alg} checksum", p.part_number),
                )
            })?;
        raws.push((raw, p.size));
    }
    let value = if kind == "FULL_OBJECT" {
        let (crc, width) = crc_algorithm(alg).ok_or_else(|| {
            S3Error::with_message(
                S3ErrorCode::InvalidRequest,
                "FULL_OBJECT needs a CRC algorithm",
            )
        })?;
        let mut acc: Option<u64> = None;
        for (raw, len) in &raws {
            let v = be_value(raw);
            acc = Some(match acc {
                None => v,
                Some(a) => crc_fast::checksum_combine(crc, a, v, *len),
            });
        }
        let bytes = acc.unwrap_or(0).to_be_bytes();
        B64.encode(&bytes[8 - width..])
    } else {
        let concat: Vec<u8> = raws.iter().flat_map(|(r, _)| r.iter().copied()).collect();
        let mut h = s3s::checksum::ChecksumHasher::default();
        match alg {
            "CRC32" => h.crc32 = Some(Default::default()),
            "CRC32C" => h.crc32c = Some(Default::default()),
            "SHA1" => h.sha1 = Some(Default::default()),
            "SHA256" => h.sha256 = Some(Default::default()),
            _ => {}
        }
        h.update(&concat);
        let c = h.finalize();
        let v = [
            c.checksum_crc32,
            c.checksum_crc32c,
            c.checksum_sha1,
            c.checksum_sha256,
        ]
        .into_iter()
        .flatten()
        .next()
        .unwrap_or_default();
        format!("{v}-{}", parts.len())
    };
    if let Some(s) = slot(&mut out, alg) {
        *s = Some(value);
    }
    out.kind = Some(kind);
    Ok(out)
}

pub async fn complete(
    s3: &EsbS3,
    req: S3Request<CompleteMultipartUploadInput>,
) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
    let i = req.input;
    let listed = i
        .multipart_upload
        .and_then(|m| m.parts)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| {
            S3Error::with_message(
                S3ErrorCode::MalformedXML,
                "The XML you provided was not well-formed or did not validate against our published schema",
            )
        })?;
    if listed.len() > PART_NUMBERS.count() {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "A multipart upload has at most 10000 parts",
        ));
    }
    let mut wanted = Vec::with_capacity(listed.len());
    // Checksums the client listed for parts must match what was stored.
    let mut listed_checksums = Vec::with_capacity(listed.len());
    for p in listed {
        let n = p.part_number.ok_or_else(|| {
            S3Error::with_message(S3ErrorCode::InvalidPart, "A part number is missing")
        })?;
        wanted.push(Listed {
            part_number: n,
            etag: p
                .e_tag
                .as_ref()
                .map(|e| e.value().to_string())
                .unwrap_or_default(),
        });
        listed_checksums.push(Checksums {
            crc32: p.checksum_crc32,
            crc32c: p.checksum_crc32c,
            crc64nvme: p.checksum_crc64nvme,
            sha1: p.checksum_sha1,
            sha256: p.checksum_sha256,
            kind: None,
        });
    }
    let whole = Checksums {
        crc32: i.checksum_crc32.clone(),
        crc32c: i.checksum_crc32c.clone(),
        crc64nvme: i.checksum_crc64nvme.clone(),
        sha1: i.checksum_sha1.clone(),
        sha256: i.checksum_sha256.clone(),
        kind: None,
    };
    let bucket = s3.store.bucket(i.bucket.clone()).await?;
    let condition = WriteCondition {
        if_none_match_any: i.if_none_match.as_ref().is_some_and(|c| c.is_any()),
        if_match: i.if_match.as_ref().map(etag_condition_text),
        shares_blobs: false,
    };
    let (out, etag, _size) = s3
        .store
        .complete_upload(
            i.bucket.clone(),
            i.key.clone(),
            i.upload_id,
            wanted,
            condition,
            move |upload, parts| {
                for (p, given) in parts.iter().zip(&listed_checksums) {
                    for alg in ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"] {
                        if let Some(g) = part_checksum(given, alg)
                            && part_checksum(&p.checksums, alg) != Some(g)
                        {
                            return Err(crate::error::StoreError::InvalidPart);
                        }
                    }
                }
                let combined =
                    combine(upload, parts).map_err(|_| crate::error::StoreError::InvalidPart)?;
                for alg in ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"] {
                    if let Some(g) = part_checksum(&whole, alg)
                        && part_checksum(&combined, alg).is_some_and(|c| c != g)
                    {
                        return Err(crate::error::StoreError::InvalidPart);
                    }
                }
                Ok((multipart_etag(parts), combined))
            },
        )
        .await?;
    let v = s3
        .store
        .get_object(
            i.bucket.clone(),
            i.key.clone(),
            Some(out.version_id.clone()),
        )
        .await?;
    let c = v.meta.checksums;
    Ok(S3Response::new(CompleteMultipartUploadOutput {
        bucket: Some(i.bucket.clone()),
        key: Some(i.key.clone()),
        e_tag: Some(etag_dto(&etag)),
        location: Some(format!("/{}/{}", i.bucket, i.key)),
        version_id: versioned_id(bucket.versioning, &out.version_id),
        checksum_crc32: c.crc32,
        checksum_crc32c: c.crc32c,
        checksum_crc64nvme: c.crc64nvme,
        checksum_sha1: c.sha1,
        checksum_sha256: c.sha256,
        checksum_type: c.kind.map(ChecksumType::from),
        ..CompleteMultipartUploadOutput::default()
    }))
}

pub async fn abort(
    s3: &EsbS3,
    req: S3Request<AbortMultipartUploadInput>,
) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
    let i = req.input;
    s3.store.abort_upload(i.bucket, i.key, i.upload_id).await?;
    Ok(S3Response::with_status(
        AbortMultipartUploadOutput::default(),
        http::StatusCode::NO_CONTENT,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_object_crc32_of_parts_equals_the_crc_of_the_whole() {
        let whole = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32IsoHdlc, b"hello world");
        let a = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32IsoHdlc, b"hello ");
        let b = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32IsoHdlc, b"world");
        let part = |n, raw: u64, size| Part {
            part_number: n,
            size,
            etag: String::new(),
            modified_ms: 0,
            checksums: Checksums {
                crc32: Some(B64.encode(&raw.to_be_bytes()[4..])),
                ..Checksums::default()
            },
            segment: None,
        };
        let mut upload = Upload {
            upload_id: "u".into(),
            bucket: "b".into(),
            key: "k".into(),
            initiated_ms: 0,
            meta: Default::default(),
            checksum_algorithm: Some("CRC32".into()),
        };
        upload.meta.checksums.kind = Some("FULL_OBJECT".into());
        let c = combine(&upload, &[part(1, a, 6), part(2, b, 5)]).unwrap();
        assert_eq!(c.crc32.unwrap(), B64.encode(&whole.to_be_bytes()[4..]));
    }
}
