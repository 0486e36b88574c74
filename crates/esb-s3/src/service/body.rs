//! Receiving an object or part body: streamed to a synced blob while its MD5 (the
//! ETag) and the checksums the client asked for are computed, then checked against
//! `Content-MD5` and `x-amz-checksum-*` (headers or aws-chunked trailers). A body that
//! fails a check is discarded before anything names it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use md5::{Digest as _, Md5};
use s3s::checksum::ChecksumHasher;
use s3s::dto::{ChecksumAlgorithm, StreamingBlob};
use s3s::{S3Error, S3ErrorCode, S3Result, TrailingHeaders};

use crate::model::{Checksums, Segment};
use crate::store::{BlobDir, PendingBlob, WriteError};

/// S3's largest single PUT (and part).
pub const MAX_PUT_BYTES: u64 = 5 * 1024 * 1024 * 1024;

/// What the client declared about a body.
#[derive(Debug, Default)]
pub struct Declared {
    pub content_md5: Option<String>,
    pub algorithm: Option<ChecksumAlgorithm>,
    pub checksums: Checksums,
    pub trailers: Option<TrailingHeaders>,
    /// Compute CRC64NVME when the client named no checksum (S3 does for new objects).
    pub default_crc64nvme: bool,
}

/// A received body: its blob (none when empty) and its digests.
pub struct Received {
    pub blob: Option<PendingBlob>,
    pub size: u64,
    /// Quoted hex MD5.
    pub etag: String,
    pub checksums: Checksums,
}

impl Received {
    /// The segment a row will name; the blob stays removable until [`Received::keep`].
    pub fn segment(&self) -> Option<Segment> {
        self.blob.as_ref().map(|b| Segment {
            blob: b.id.clone(),
            len: self.size,
        })
    }

    /// The row naming the blob committed: the blob is the store's now. Until then a
    /// failed write (a precondition, a vanished bucket) drops it with `self`.
    pub fn keep(&mut self) {
        if let Some(b) = self.blob.take() {
            b.keep();
        }
    }
}

fn bad_digest(what: &str) -> S3Error {
    S3Error::with_message(
        S3ErrorCode::BadDigest,
        format!("The {what} you specified did not match the calculated checksum."),
    )
}

fn hasher_for(declared: &Declared) -> S3Result<ChecksumHasher> {
    let mut h = ChecksumHasher::default();
    let c = &declared.checksums;
    let trailer_names: Vec<String> = declared
        .trailers
        .as_ref()
        .and(declared.algorithm.as_ref())
        .map(|a| vec![a.as_str().to_ascii_lowercase()])
        .unwrap_or_default();
    let wants = |name: &str, given: &Option<String>| {
        given.is_some()
            || declared
                .algorithm
                .as_ref()
                .is_some_and(|a| a.as_str().eq_ignore_ascii_case(name))
            || trailer_names.iter().any(|t| t == name)
    };
    if let Some(a) = &declared.algorithm
        && ![
            ChecksumAlgorithm::CRC32,
            ChecksumAlgorithm::CRC32C,
            ChecksumAlgorithm::CRC64NVME,
            ChecksumAlgorithm::SHA1,
            ChecksumAlgorithm::SHA256,
        ]
        .iter()
        .any(|n| a.as_str().eq_ignore_ascii_case(n))
    {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidRequest,
            "Value for x-amz-checksum-algorithm header is invalid.",
        ));
    }
    if wants("crc32", &c.crc32) {
        h.crc32 = Some(Default::default());
    }
    if wants("crc32c", &c.crc32c) {
        h.crc32c = Some(Default::default());
    }
    if wants("crc64nvme", &c.crc64nvme) {
        h.crc64nvme = Some(Default::default());
    }
    if wants("sha1", &c.sha1) {
        h.sha1 = Some(Default::default());
    }
    if wants("sha256", &c.sha256) {
        h.sha256 = Some(Default::default());
    }
    let none = h.crc32.is_none()
        && h.crc32c.is_none()
        && h.crc64nvme.is_none()
        && h.sha1.is_none()
        && h.sha256.is_none();
    if none && declared.default_crc64nvme {
        h.crc64nvme = Some(Default::default());
    }
    Ok(h)
}

/// Streams `body` into a new blob and checks it; at most `max` bytes.
pub async fn receive(
    blobs: &BlobDir,
    body: Option<StreamingBlob>,
    mut declared: Declared,
    max: u64,
) -> S3Result<Received> {
    let expected_md5 = match declared.content_md5.as_deref() {
        Some(b64) => Some(
            B64.decode(b64.trim())
                .ok()
                .filter(|d| d.len() == 16)
                .ok_or_else(|| {
                    S3Error::with_message(
                        S3ErrorCode::InvalidDigest,
                        "The Content-MD5 you specified is not valid.",
                    )
                })?,
        ),
        None => None,
    };
    let mut hasher = hasher_for(&declared)?;
    let mut md5 = Md5::new();
    let (pending, size) = match body {
        Some(body) => {
            let written = blobs
                .write(body, max, |chunk| {
                    md5.update(chunk);
                    hasher.update(chunk);
                })
                .await;
            match written {
                Ok(w) => (Some(w.0), w.1),
                Err(WriteError::TooLarge) => {
                    return Err(S3Error::with_message(
                        S3ErrorCode::EntityTooLarge,
                        "Your proposed upload exceeds the maximum allowed object size.",
                    ));
                }
                Err(WriteError::Body(e)) => {
                    // s3s reports signature and chunk-format failures of aws-chunked
                    // bodies through the stream: pass its S3 error through.
                    return Err(match e.downcast::<S3Error>() {
                        Ok(s3) => *s3,
                        Err(e) => S3Error::with_message(
                            S3ErrorCode::IncompleteBody,
                            format!("The request body could not be read: {e}"),
                        ),
                    });
                }
                // A full disk is passing: the same 503 as the catalogue's (errors.rs).
                Err(WriteError::Io(e)) => return Err(crate::error::StoreError::Io(e).into()),
            }
        }
        None => (None, 0),
    };
    let digest: [u8; 16] = md5.finalize().into();
    if let Some(want) = expected_md5
        && want != digest
    {
        return Err(bad_digest("Content-MD5"));
    }
    // Trailing checksums arrive after the body (aws-chunked).
    if let Some(trailers) = declared.trailers.take().and_then(|t| t.take()) {
        let c = &mut declared.checksums;
        for (name, slot) in [
            ("x-amz-checksum-crc32", &mut c.crc32),
            ("x-amz-checksum-crc32c", &mut c.crc32c),
            ("x-amz-checksum-crc64nvme", &mut c.crc64nvme),
            ("x-amz-checksum-sha1", &mut c.sha1),
            ("x-amz-checksum-sha256", &mut c.sha256),
        ] {
            if let Some(v) = trailers.get(name).and_then(|v| v.to_str().ok()) {
                *slot = Some(v.to_string());
            }
        }
    }
    let computed = hasher.finalize();
    let mut checksums = Checksums {
        kind: Some("FULL_OBJECT".into()),
        ..Checksums::default()
    };
    for (what, given, got, slot) in [
        (
            "CRC32",
            &declared.checksums.crc32,
            computed.checksum_crc32,
            &mut checksums.crc32,
        ),
        (
            "CRC32C",
            &declared.checksums.crc32c,
            computed.checksum_crc32c,
            &mut checksums.crc32c,
        ),
        (
            "CRC64NVME",
            &declared.checksums.crc64nvme,
            computed.checksum_crc64nvme,
            &mut checksums.crc64nvme,
        ),
        (
            "SHA1",
            &declared.checksums.sha1,
            computed.checksum_sha1,
            &mut checksums.sha1,
        ),
        (
            "SHA256",
            &declared.checksums.sha256,
            computed.checksum_sha256,
            &mut checksums.sha256,
        ),
    ] {
        if let Some(given) = given
            && got.as_deref() != Some(given.as_str())
        {
            return Err(bad_digest(&format!(
                "x-amz-checksum-{}",
                what.to_ascii_lowercase()
            )));
        }
        *slot = got;
    }
    if checksums.is_empty() {
        checksums.kind = None;
    }
    // An empty body needs no file.
    let blob = pending.filter(|_| size > 0);
    Ok(Received {
        blob,
        size,
        etag: format!("\"{}\"", hex::encode(digest)),
        checksums,
    })
}
