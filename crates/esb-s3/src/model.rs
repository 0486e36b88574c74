//! What the store keeps about buckets and objects, as plain data: the rows the SQLite
//! catalogue holds and the JSON documents inside them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The version id S3 gives objects written while versioning is off or suspended.
pub const NULL_VERSION: &str = "null";

/// A bucket's versioning state, as `GetBucketVersioning` reports it ("" = never enabled).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Versioning {
    #[default]
    Unversioned,
    Enabled,
    Suspended,
}

impl Versioning {
    pub fn as_str(self) -> &'static str {
        match self {
            Versioning::Unversioned => "",
            Versioning::Enabled => "Enabled",
            Versioning::Suspended => "Suspended",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "Enabled" => Versioning::Enabled,
            "Suspended" => Versioning::Suspended,
            _ => Versioning::Unversioned,
        }
    }
}

/// One bucket and its configuration documents (JSON, absent when never set).
#[derive(Debug, Clone)]
pub struct Bucket {
    pub name: String,
    pub created_ms: i64,
    pub versioning: Versioning,
    pub tags: Option<Vec<(String, String)>>,
    pub cors: Option<Vec<CorsRule>>,
    pub notifications: Vec<LambdaTarget>,
}

/// One `LambdaFunctionConfiguration` of a bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LambdaTarget {
    pub id: Option<String>,
    pub function_arn: String,
    /// e.g. `s3:ObjectCreated:*`.
    pub events: Vec<String>,
    pub prefix: Option<String>,
    pub suffix: Option<String>,
}

/// A CORS rule as `PutBucketCors` gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorsRule {
    pub id: Option<String>,
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Vec<String>,
    pub allowed_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age_seconds: Option<i32>,
}

/// A run of bytes of an object: a whole blob file. An object is its segments in order
/// (none when empty, one when put whole, one per part when assembled by multipart), so
/// completing a multipart upload and copying an object move no bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// The blob file's id.
    pub blob: String,
    pub len: u64,
}

/// Checksums of an object or part (base64, as S3's headers carry them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checksums {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub crc32: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub crc32c: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub crc64nvme: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sha1: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sha256: Option<String>,
    /// `FULL_OBJECT` or `COMPOSITE` (multipart).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub kind: Option<String>,
}

impl Checksums {
    pub fn is_empty(&self) -> bool {
        self.crc32.is_none()
            && self.crc32c.is_none()
            && self.crc64nvme.is_none()
            && self.sha1.is_none()
            && self.sha256.is_none()
    }
}

/// What S3 returns with an object besides its bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMeta {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub content_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub content_encoding: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub content_disposition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub content_language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cache_control: Option<String>,
    /// The `Expires` header, as an HTTP date.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub expires: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub website_redirect_location: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub storage_class: Option<String>,
    /// `x-amz-meta-*`, names lower-cased.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub user: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Checksums::is_empty", default)]
    pub checksums: Checksums,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub tags: Vec<(String, String)>,
    /// Parts of a multipart object (ETag `…-N`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub parts_count: Option<u32>,
}

/// One version of an object (the current one, an older one, or a delete marker).
#[derive(Debug, Clone)]
pub struct Version {
    pub key: String,
    pub version_id: String,
    /// Store-wide write order: newer versions have larger values; also the event
    /// `sequencer`.
    pub seq: i64,
    pub latest: bool,
    pub delete_marker: bool,
    pub size: u64,
    /// Quoted, as the `ETag` header carries it.
    pub etag: String,
    pub modified_ms: i64,
    pub meta: ObjectMeta,
    pub segments: Vec<Segment>,
}

/// A new object version about to be committed (its bytes already durable).
#[derive(Debug, Clone)]
pub struct NewObject {
    pub size: u64,
    pub etag: String,
    pub meta: ObjectMeta,
    pub segments: Vec<Segment>,
}

/// An in-progress multipart upload.
#[derive(Debug, Clone)]
pub struct Upload {
    pub upload_id: String,
    pub bucket: String,
    pub key: String,
    pub initiated_ms: i64,
    pub meta: ObjectMeta,
    /// `x-amz-checksum-algorithm` given at creation, upper case.
    pub checksum_algorithm: Option<String>,
}

/// One uploaded part.
#[derive(Debug, Clone)]
pub struct Part {
    pub part_number: i32,
    pub size: u64,
    pub etag: String,
    pub modified_ms: i64,
    pub checksums: Checksums,
    pub segment: Option<Segment>,
}
