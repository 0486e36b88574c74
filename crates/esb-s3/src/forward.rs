//! An external S3 engine (RustFS, MinIO, Garage, Ceph RGW, AWS) behind the box's S3
//! listener. Functions keep one set of credentials, the box's: the listener verifies
//! the box's signature (header, presigned or aws-chunked, as for the embedded store),
//! then forwards the request to the engine, re-signed with the engine's own key
//! (`UNSIGNED-PAYLOAD`, so bodies stream), and streams the answer back. Writes that
//! succeed through the box queue the bucket notifications the box keeps (the engine's
//! own notifications cannot reach the box's functions).

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use esb_auth::BoxCredentials;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use s3s::route::S3Route;
use s3s::{Body, S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use crate::host::bucket_in_host;
use crate::store::Store;

/// Where the engine is and the key it knows.
#[derive(Clone)]
pub struct Engine {
    /// `https://host:port` (no trailing slash).
    pub endpoint: String,
    pub credentials: BoxCredentials,
    pub region: String,
    client: reqwest::Client,
}

impl Engine {
    pub fn new(
        endpoint: &str,
        credentials: BoxCredentials,
        region: &str,
        ca_pem: Option<&[u8]>,
    ) -> Result<Self, String> {
        let mut builder = reqwest::Client::builder().pool_max_idle_per_host(16);
        if let Some(pem) = ca_pem {
            let cert = reqwest::Certificate::from_pem(pem).map_err(|e| e.to_string())?;
            builder = builder.add_root_certificate(cert);
        }
        let endpoint = endpoint.trim_end_matches('/').to_string();
        Uri::try_from(endpoint.as_str())
            .ok()
            .filter(|u| u.scheme().is_some() && u.authority().is_some())
            .ok_or_else(|| format!("`{endpoint}` is not an http(s)://host[:port] URL"))?;
        Ok(Self {
            endpoint,
            credentials,
            region: region.to_string(),
            client: builder.build().map_err(|e| e.to_string())?,
        })
    }

    /// Sends one request to the engine, signed with its key.
    pub async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        mut headers: HeaderMap,
        body: Option<Body>,
        bytes: Option<Bytes>,
    ) -> Result<reqwest::Response, String> {
        let url = format!("{}{path_and_query}", self.endpoint);
        let authority = Uri::try_from(url.as_str())
            .ok()
            .and_then(|u| u.authority().map(|a| a.to_string()))
            .ok_or("bad engine URL")?;
        headers.insert(
            http::header::HOST,
            HeaderValue::from_str(&authority).map_err(|e| e.to_string())?,
        );
        let req = esb_auth::SignedRequest {
            method: method.as_str(),
            uri: &url,
            headers: &headers,
            body: bytes.as_deref().unwrap_or_default(),
        };
        let signed = if bytes.is_some() || body.is_none() {
            esb_auth::sign_headers(
                &self.credentials,
                &self.region,
                "s3",
                &req,
                SystemTime::now(),
            )
        } else {
            esb_auth::sign_headers_unsigned_payload(
                &self.credentials,
                &self.region,
                "s3",
                &req,
                SystemTime::now(),
            )
        }
        .map_err(|e| e.to_string())?;
        for (k, v) in signed {
            if let (Ok(k), Ok(v)) = (HeaderName::try_from(k), HeaderValue::try_from(v)) {
                headers.insert(k, v);
            }
        }
        headers.remove(http::header::HOST);
        let mut rb = self.client.request(method, &url).headers(headers);
        if let Some(b) = bytes {
            rb = rb.body(b);
        } else if let Some(b) = body {
            // Re-framed as a plain stream: s3s's decoding bodies report a length hint
            // of zero, which would make the client send nothing.
            use futures::StreamExt as _;
            use http_body_util::BodyExt as _;
            let frames = b.into_data_stream().map(|r| r.map(http_body::Frame::data));
            rb = rb.body(reqwest::Body::wrap(http_body_util::StreamBody::new(frames)));
        }
        rb.send().await.map_err(|e| e.to_string())
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// Bucket set-up on the engine (the template's buckets).
impl Engine {
    async fn expect_ok(
        &self,
        method: Method,
        path: &str,
        body: String,
        ok_codes: &[&str],
    ) -> Result<(), String> {
        let mut headers = HeaderMap::new();
        if !body.is_empty() {
            use base64::Engine as _;
            let md5 = <md5::Md5 as md5::Digest>::digest(body.as_bytes());
            let b64 = base64::engine::general_purpose::STANDARD.encode(md5);
            headers.insert(
                "content-md5",
                HeaderValue::from_str(&b64).map_err(|e| e.to_string())?,
            );
            headers.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/xml"),
            );
        }
        let resp = self
            .send(method, path, headers, None, Some(Bytes::from(body)))
            .await?;
        if resp.status().is_success() {
            return Ok(());
        }
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if ok_codes
            .iter()
            .any(|c| text.contains(&format!("<Code>{c}</Code>")))
        {
            return Ok(());
        }
        Err(format!(
            "the engine answered {status}: {}",
            text.chars().take(300).collect::<String>()
        ))
    }

    /// Creates `bucket` unless the box's key already owns it.
    pub async fn create_bucket(&self, bucket: &str) -> Result<(), String> {
        let body = if self.region == "us-east-1" {
            String::new()
        } else {
            format!(
                "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>{}</LocationConstraint></CreateBucketConfiguration>",
                xml_escape(&self.region)
            )
        };
        self.expect_ok(
            Method::PUT,
            &format!("/{bucket}"),
            body,
            &["BucketAlreadyOwnedByYou"],
        )
        .await
    }

    pub async fn put_versioning(&self, bucket: &str, status: &str) -> Result<(), String> {
        let body = format!(
            "<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Status>{}</Status></VersioningConfiguration>",
            xml_escape(status)
        );
        self.expect_ok(Method::PUT, &format!("/{bucket}?versioning"), body, &[])
            .await
    }

    pub async fn put_cors(
        &self,
        bucket: &str,
        rules: &[crate::model::CorsRule],
    ) -> Result<(), String> {
        let mut body =
            String::from("<CORSConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
        for r in rules {
            body.push_str("<CORSRule>");
            if let Some(id) = &r.id {
                body.push_str(&format!("<ID>{}</ID>", xml_escape(id)));
            }
            for (tag, values) in [
                ("AllowedOrigin", &r.allowed_origins),
                ("AllowedMethod", &r.allowed_methods),
                ("AllowedHeader", &r.allowed_headers),
                ("ExposeHeader", &r.expose_headers),
            ] {
                for v in values {
                    body.push_str(&format!("<{tag}>{}</{tag}>", xml_escape(v)));
                }
            }
            if let Some(age) = r.max_age_seconds {
                body.push_str(&format!("<MaxAgeSeconds>{age}</MaxAgeSeconds>"));
            }
            body.push_str("</CORSRule>");
        }
        body.push_str("</CORSConfiguration>");
        self.expect_ok(Method::PUT, &format!("/{bucket}?cors"), body, &[])
            .await
    }

    pub async fn put_tags(&self, bucket: &str, tags: &[(String, String)]) -> Result<(), String> {
        let mut body =
            String::from("<Tagging xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><TagSet>");
        for (k, v) in tags {
            body.push_str(&format!(
                "<Tag><Key>{}</Key><Value>{}</Value></Tag>",
                xml_escape(k),
                xml_escape(v)
            ));
        }
        body.push_str("</TagSet></Tagging>");
        self.expect_ok(Method::PUT, &format!("/{bucket}?tagging"), body, &[])
            .await
    }
}

/// Headers that describe the client's connection or signature, not the request.
const NOT_FORWARDED: [&str; 12] = [
    "host",
    "authorization",
    "x-amz-date",
    "x-amz-content-sha256",
    "x-amz-security-token",
    "x-amz-decoded-content-length",
    "x-amz-trailer",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "expect",
    "te",
];

/// Query parameters of a presigned URL (the box's signature, not the engine's).
fn is_presign_param(name: &str) -> bool {
    [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
        "X-Amz-Security-Token",
    ]
    .iter()
    .any(|p| p.eq_ignore_ascii_case(name))
}

/// The engine-side path (always path-style) and query of a request.
fn engine_path(uri: &Uri, headers: &HeaderMap) -> String {
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let path = match bucket_in_host(host) {
        Some(bucket) => format!("/{bucket}{}", uri.path()),
        None => uri.path().to_string(),
    };
    let query: Vec<&str> = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .filter(|p| !is_presign_param(p.split('=').next().unwrap_or_default()))
        .collect();
    if query.is_empty() {
        path
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

fn has_param(uri: &Uri, name: &str) -> bool {
    uri.query()
        .unwrap_or_default()
        .split('&')
        .any(|p| p.split('=').next() == Some(name))
}

/// Bucket and key of a path-style path.
fn bucket_and_key(path: &str) -> (String, Option<String>) {
    let path = path.split('?').next().unwrap_or_default();
    let trimmed = path.trim_start_matches('/');
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    match trimmed.split_once('/') {
        Some((b, k)) if !k.is_empty() => (decode(b), Some(decode(k))),
        Some((b, _)) => (decode(b), None),
        None => (decode(trimmed), None),
    }
}

/// Forwards every S3 request but bucket notification configuration (which the box
/// keeps) to the engine.
pub struct Forwarder {
    engine: Arc<Engine>,
    store: Store,
}

impl Forwarder {
    pub fn new(engine: Arc<Engine>, store: Store) -> Self {
        Self { engine, store }
    }

    /// Queues the notifications a successful write through the box triggers.
    async fn notify(
        &self,
        method: &Method,
        uri: &Uri,
        path: &str,
        headers: &HeaderMap,
        resp: &reqwest::Response,
    ) {
        let (bucket, key) = bucket_and_key(path);
        let Ok(b) = self.store.bucket(bucket.clone()).await else {
            return; // no configuration kept for this bucket
        };
        if b.notifications.is_empty() {
            return;
        }
        let version = resp
            .headers()
            .get("x-amz-version-id")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let events: Vec<(String, &'static str)> = match (method.as_str(), key) {
            ("PUT", Some(k))
                if !has_param(uri, "uploadId")
                    && uri
                        .query()
                        .is_none_or(|q| q.is_empty() || q.starts_with("x-id=")) =>
            {
                let name = if headers.contains_key("x-amz-copy-source") {
                    "ObjectCreated:Copy"
                } else {
                    "ObjectCreated:Put"
                };
                vec![(k, name)]
            }
            ("POST", Some(k)) if has_param(uri, "uploadId") => {
                vec![(k, "ObjectCreated:CompleteMultipartUpload")]
            }
            ("DELETE", Some(k)) if !has_param(uri, "uploadId") && !has_param(uri, "tagging") => {
                let marker = resp
                    .headers()
                    .get("x-amz-delete-marker")
                    .is_some_and(|v| v == "true");
                let name = if marker && !has_param(uri, "versionId") {
                    "ObjectRemoved:DeleteMarkerCreated"
                } else {
                    "ObjectRemoved:Delete"
                };
                vec![(k, name)]
            }
            _ => Vec::new(),
        };
        for (key, name) in events {
            let (size, etag) = if name.starts_with("ObjectCreated") {
                self.head(&bucket, &key).await
            } else {
                (None, None)
            };
            if let Err(e) = self
                .store
                .queue_event(bucket.clone(), key, name, size, etag, version.clone())
                .await
            {
                tracing::error!(service = "s3", "cannot queue a notification: {e}");
            }
        }
    }

    async fn head(&self, bucket: &str, key: &str) -> (Option<u64>, Option<String>) {
        let path = format!("/{}/{}", bucket, crate::key_encoding::encode_key(key));
        match self
            .engine
            .send(Method::HEAD, &path, HeaderMap::new(), None, None)
            .await
        {
            Ok(r) if r.status().is_success() => (
                r.headers()
                    .get(http::header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok()),
                r.headers()
                    .get(http::header::ETAG)
                    .and_then(|v| v.to_str().ok())
                    .map(|e| e.trim_matches('"').to_string()),
            ),
            _ => (None, None),
        }
    }
}

/// `?notification` requests stay with the box (see [`Forwarder`]).
fn is_notification_config(uri: &Uri) -> bool {
    has_param(uri, "notification")
}

#[async_trait::async_trait]
impl S3Route for Forwarder {
    fn is_match(&self, _m: &Method, uri: &Uri, _h: &HeaderMap, _e: &mut http::Extensions) -> bool {
        !is_notification_config(uri)
    }

    async fn check_access(&self, req: &mut S3Request<Body>) -> S3Result<()> {
        match req.credentials {
            Some(_) => Ok(()),
            None => Err(S3Error::with_message(
                S3ErrorCode::AccessDenied,
                "Access Denied",
            )),
        }
    }

    async fn call(&self, req: S3Request<Body>) -> S3Result<S3Response<Body>> {
        let path = engine_path(&req.uri, &req.headers);
        let is_form_post = req.method == Method::POST
            && req
                .headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("multipart/form-data"));
        if is_form_post {
            return Err(S3Error::with_message(
                S3ErrorCode::NotImplemented,
                "Browser POST uploads are served by the embedded store only, not through --s3-endpoint",
            ));
        }
        let mut headers = HeaderMap::new();
        for (k, v) in &req.headers {
            if NOT_FORWARDED.contains(&k.as_str()) {
                continue;
            }
            if k == http::header::CONTENT_ENCODING {
                let rest: Vec<&str> = v
                    .to_str()
                    .unwrap_or_default()
                    .split(',')
                    .map(str::trim)
                    .filter(|e| !e.is_empty() && *e != "aws-chunked")
                    .collect();
                if let Ok(v) = HeaderValue::from_str(&rest.join(", "))
                    && !rest.is_empty()
                {
                    headers.insert(k.clone(), v);
                }
                continue;
            }
            headers.append(k.clone(), v.clone());
        }
        // The body's length: Content-Length, or (aws-chunked, often sent with chunked
        // transfer encoding) the decoded length the client declared.
        let length = ["x-amz-decoded-content-length", "content-length"]
            .iter()
            .find_map(|h| req.headers.get(*h))
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let has_body = length.is_some_and(|l| l > 0)
            || req.headers.contains_key(http::header::TRANSFER_ENCODING);
        if let Some(l) = length {
            headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(l));
        }
        let method = req.method.clone();
        let resp = self
            .engine
            .send(
                method.clone(),
                &path,
                headers,
                has_body.then_some(req.input),
                (!has_body).then(Bytes::new),
            )
            .await
            .map_err(|e| {
                tracing::error!(service = "s3", engine = %self.engine.endpoint, "the S3 engine did not answer: {e}");
                S3Error::with_message(
                    S3ErrorCode::ServiceUnavailable,
                    "The external S3 engine did not answer; try again.",
                )
            })?;
        if resp.status().is_success() {
            self.notify(&method, &req.uri, &path, &req.headers, &resp)
                .await;
        }
        let status = resp.status();
        let mut out_headers = HeaderMap::new();
        for (k, v) in resp.headers() {
            if !["connection", "transfer-encoding", "keep-alive"].contains(&k.as_str()) {
                out_headers.append(k.clone(), v.clone());
            }
        }
        let body: http::Response<reqwest::Body> = resp.into();
        let mut out = S3Response::new(Body::http_body(body.into_body()));
        out.status = Some(status);
        out.headers = out_headers;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presign_params_go_and_virtual_hosts_become_paths() {
        let uri: Uri = "/k%20ey?X-Amz-Signature=abc&versionId=3&X-Amz-Date=1"
            .parse()
            .unwrap();
        let mut h = HeaderMap::new();
        h.insert(
            http::header::HOST,
            HeaderValue::from_static("photos.localhost:9000"),
        );
        assert_eq!(engine_path(&uri, &h), "/photos/k%20ey?versionId=3");
        h.insert(
            http::header::HOST,
            HeaderValue::from_static("127.0.0.1:9000"),
        );
        let uri: Uri = "/b/a/b.txt".parse().unwrap();
        assert_eq!(engine_path(&uri, &h), "/b/a/b.txt");
        assert_eq!(
            bucket_and_key("/b/a%20b/c"),
            ("b".into(), Some("a b/c".into()))
        );
        assert_eq!(bucket_and_key("/b"), ("b".into(), None));
    }
}
