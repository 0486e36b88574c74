//! The S3 listener: HTTPS with the box's certificate (or plain HTTP), HTTP/1.1, and a
//! thin front around s3s that does what s3s leaves to its user: CORS (preflights answered
//! from the bucket's rules, headers on allowed requests), a request id on every answer
//! (`x-amz-request-id`, and `<RequestId>` in XML errors), and no body on a 304.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use s3s::Body;
use s3s::config::{S3Config, StaticConfigProvider};
use s3s::service::{S3Service, S3ServiceBuilder};
use tokio::net::TcpListener;

use crate::auth::BoxAuth;
use crate::host::{BoxHost, bucket_in_host};
use crate::service::EsbS3;
use crate::store::Store;

/// S3's limit on a request's header section: past it, `400 RequestHeaderSectionTooLarge`
/// (an XML body a client can read). Past the listener's own limits
/// ([`esb_listener::Limits`]), hyper closes with a bare 431 before S3 sees the request.
const MAX_HEADER_SECTION: usize = 8 * 1024;

pub use esb_listener::{AccessHook, AccessLine};

/// The S3 service of a box, ready to serve.
#[derive(Clone)]
pub struct S3Front {
    s3: S3Service,
    store: Store,
    access: Option<AccessHook>,
    functions: Arc<std::sync::OnceLock<crate::service::FunctionCheck>>,
}

impl S3Front {
    /// The embedded store's service, or with `engine` a forwarder to that engine.
    pub fn new(
        store: Store,
        credentials: esb_auth::BoxCredentials,
        engine: Option<Arc<crate::forward::Engine>>,
    ) -> Self {
        let functions = Arc::new(std::sync::OnceLock::new());
        let mut builder = S3ServiceBuilder::new(EsbS3::new(
            store.clone(),
            engine.is_some(),
            Arc::clone(&functions),
        ));
        builder.set_auth(BoxAuth::new(credentials));
        builder.set_host(BoxHost);
        builder.set_config(Arc::new(StaticConfigProvider::new(Arc::new(limits()))));
        if let Some(engine) = engine {
            builder.set_route(crate::forward::Forwarder::new(engine, store.clone()));
        }
        Self {
            s3: builder.build(),
            store,
            access: None,
            functions,
        }
    }

    /// From now on, PutBucketNotificationConfiguration refuses targets `check` does not
    /// know (S3's `InvalidArgument`, "Unable to validate ...").
    pub fn check_functions_with(&self, check: crate::service::FunctionCheck) {
        let _ = self.functions.set(check);
    }

    /// Reports every answered request to `hook`.
    pub fn with_access_log(mut self, hook: AccessHook) -> Self {
        self.access = Some(hook);
        self
    }

    /// Answers one request from `source`.
    pub async fn handle(&self, req: Request<Incoming>, source: SocketAddr) -> Response<Body> {
        let request_id = format!("{:016X}", rand_u64());
        let started = std::time::Instant::now();
        let origin = header(&req, "origin");
        let user_agent = header(&req, "user-agent");
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let bucket = bucket_of(&req);
        // S3 answers every OPTIONS as a CORS preflight (one without Origin is a 400).
        let mut resp = if let Some(refused) = refuse_early(&req).or_else(|| xml_too_large(&req)) {
            // Read what the client is still sending (within reason), so that it gets
            // to read the answer instead of a connection reset mid-upload.
            let declared = content_length(&req);
            drain(req.into_body(), declared).await;
            refused
        } else if method == Method::OPTIONS {
            self.preflight(&req, bucket.as_deref()).await
        } else {
            let call = self.s3.call(req.map(Body::from));
            let resp = match crate::request_id::scope(request_id.clone(), call).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(service = "s3", "request failed: {e:?}");
                    error_response(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "InternalError",
                        "We encountered an internal error. Please try again.",
                    )
                }
            };
            let mut resp = resp;
            if let (Some(o), Some(b)) = (&origin, &bucket) {
                self.add_cors(&mut resp, b, o, method.as_str()).await;
            }
            resp
        };
        finish(&mut resp, &request_id);
        if let Some(hook) = &self.access {
            hook(&AccessLine {
                request_id: &request_id,
                source,
                method: method.as_str(),
                path: &path,
                status: resp.status().as_u16(),
                duration_ms: (started.elapsed().as_secs_f64() * 1_000_000.0).round() / 1000.0,
                user_agent: user_agent.as_deref(),
            });
        }
        resp
    }

    async fn preflight(&self, req: &Request<Incoming>, bucket: Option<&str>) -> Response<Body> {
        let forbidden = || {
            error_response(
                StatusCode::FORBIDDEN,
                "AccessForbidden",
                "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
            )
        };
        let (Some(origin), Some(method), Some(bucket)) = (
            header(req, "origin"),
            header(req, "access-control-request-method"),
            bucket,
        ) else {
            return error_response(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Insufficient information. Origin request header needed.",
            );
        };
        let requested = header(req, "access-control-request-headers").unwrap_or_default();
        let requested: Vec<&str> = requested
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .collect();
        let Ok(b) = self.store.bucket(bucket.to_string()).await else {
            return forbidden();
        };
        let rules = b.cors.unwrap_or_default();
        match crate::cors::find(&rules, &origin, &method, &requested) {
            Some(rule) => {
                let mut resp = Response::new(Body::empty());
                *resp.headers_mut() = crate::cors::allow_headers(rule, &origin, &requested, true);
                resp
            }
            None => forbidden(),
        }
    }

    async fn add_cors(&self, resp: &mut Response<Body>, bucket: &str, origin: &str, method: &str) {
        let Ok(b) = self.store.bucket(bucket.to_string()).await else {
            return;
        };
        let rules = b.cors.unwrap_or_default();
        if let Some(rule) = crate::cors::find(&rules, origin, method, &[]) {
            resp.headers_mut()
                .extend(crate::cors::allow_headers(rule, origin, &[], false));
        }
    }
}

/// The largest XML document a request may carry (s3s's `xml_max_body_size`, see `limits`).
const MAX_XML_BODY: u64 = 4 * 1024 * 1024;
/// At most this much of a refused request's body is read (and dropped).
const DRAIN_REFUSED_BODY: u64 = 64 * 1024 * 1024;

/// A request whose body is an XML (or JSON) document larger than S3 takes:
/// `400 MaxMessageLengthExceeded`, decided from its Content-Length (s3s would read 4 MiB
/// of it and answer 500). Object and part uploads are not documents and are not
/// concerned.
fn xml_too_large(req: &Request<Incoming>) -> Option<Response<Body>> {
    const DOCUMENT_QUERIES: [&str; 25] = [
        "delete",
        "uploadId",
        "restore",
        "select",
        "cors",
        "tagging",
        "versioning",
        "notification",
        "lifecycle",
        "acl",
        "policy",
        "encryption",
        "website",
        "logging",
        "replication",
        "ownershipControls",
        "publicAccessBlock",
        "object-lock",
        "legal-hold",
        "retention",
        "accelerate",
        "requestPayment",
        "intelligent-tiering",
        "analytics",
        "inventory",
    ];
    let query = req.uri().query().unwrap_or_default();
    let params: Vec<&str> = query
        .split('&')
        .map(|p| p.split_once('=').map_or(p, |(k, _)| k))
        .collect();
    let document = match *req.method() {
        // UploadPart has uploadId too, with partNumber: its body is object bytes.
        Method::PUT => {
            !params.contains(&"partNumber") && params.iter().any(|p| DOCUMENT_QUERIES.contains(p))
        }
        Method::POST => params.iter().any(|p| DOCUMENT_QUERIES.contains(p)),
        _ => false,
    };
    (document && content_length(req).is_some_and(|n| n > MAX_XML_BODY)).then(|| {
        error_response(
            StatusCode::BAD_REQUEST,
            "MaxMessageLengthExceeded",
            "Your request was too big.",
        )
    })
}

fn content_length(req: &Request<Incoming>) -> Option<u64> {
    header(req, "content-length")?.trim().parse().ok()
}

/// Reads and drops a refused request's body, up to [`DRAIN_REFUSED_BODY`] and for at
/// most 30 seconds: a client still sending then reads the answer rather than a reset.
async fn drain(mut body: Incoming, declared: Option<u64>) {
    use http_body_util::BodyExt as _;
    if declared.is_none_or(|n| n > DRAIN_REFUSED_BODY) {
        return;
    }
    let _ = tokio::time::timeout(Duration::from_secs(30), async {
        let mut read = 0u64;
        while let Some(Ok(frame)) = body.frame().await {
            read += frame.data_ref().map_or(0, |d| d.len() as u64);
            if read > DRAIN_REFUSED_BODY {
                return;
            }
        }
    })
    .await;
}

/// What S3 refuses before looking at the request any further: a header section over
/// 8 KB, a signature outside S3's time limits.
fn refuse_early(req: &Request<Incoming>) -> Option<Response<Body>> {
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if header_bytes > MAX_HEADER_SECTION {
        return Some(error_response_with(
            StatusCode::BAD_REQUEST,
            "RequestHeaderSectionTooLarge",
            "Your request header section exceeds the maximum allowed size.",
            &format!("<MaxSizeAllowed>{MAX_HEADER_SECTION}</MaxSizeAllowed>"),
        ));
    }
    signature_time_error(req)
}

/// How far a header-signed request's `X-Amz-Date` may be from now (S3: 15 minutes).
const MAX_CLOCK_SKEW_S: i64 = 15 * 60;
/// The longest a presigned URL may be valid (S3: a week).
const MAX_PRESIGNED_EXPIRES_S: i64 = 7 * 24 * 3600;

/// S3's time limits on signatures, which s3s leaves unchecked: a request signed (SigV4
/// headers) more than 15 minutes from now is `403 RequestTimeTooSkewed` (a captured
/// request cannot be replayed later), a presigned URL valid for more than a week is
/// `400 AuthorizationQueryParametersError`. Anything malformed is left to s3s.
fn signature_time_error(req: &Request<Incoming>) -> Option<Response<Body>> {
    let v4_header = header(req, "authorization")
        .is_some_and(|a| a.trim_start().starts_with("AWS4-HMAC-SHA256"));
    if v4_header {
        let date = header(req, "x-amz-date")?;
        let signed_at = parse_amz_date(&date)?;
        let now = time::OffsetDateTime::now_utc().replace_nanosecond(0).ok()?;
        if (now.unix_timestamp() - signed_at).abs() > MAX_CLOCK_SKEW_S {
            let server_time = now
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default();
            return Some(error_response_with(
                StatusCode::FORBIDDEN,
                "RequestTimeTooSkewed",
                "The difference between the request time and the current time is too large.",
                &format!(
                    "<RequestTime>{date}</RequestTime><ServerTime>{server_time}</ServerTime><MaxAllowedSkewMilliseconds>{}</MaxAllowedSkewMilliseconds>",
                    MAX_CLOCK_SKEW_S * 1000
                ),
            ));
        }
    }
    let expires = req
        .uri()
        .query()?
        .split('&')
        .find_map(|p| p.strip_prefix("X-Amz-Expires="))?
        .parse::<i64>()
        .ok()?;
    (expires > MAX_PRESIGNED_EXPIRES_S).then(|| {
        error_response(
            StatusCode::BAD_REQUEST,
            "AuthorizationQueryParametersError",
            "X-Amz-Expires must be less than a week (in seconds) that is 604800",
        )
    })
}

/// `20261205T024400Z` (SigV4's `X-Amz-Date`) as Unix seconds.
fn parse_amz_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<u16>().ok();
    let date = time::Date::from_calendar_date(
        i32::from(num(0..4)?),
        time::Month::try_from(u8::try_from(num(4..6)?).ok()?).ok()?,
        u8::try_from(num(6..8)?).ok()?,
    )
    .ok()?;
    let clock = time::Time::from_hms(
        u8::try_from(num(9..11)?).ok()?,
        u8::try_from(num(11..13)?).ok()?,
        u8::try_from(num(13..15)?).ok()?,
    )
    .ok()?;
    Some(
        time::PrimitiveDateTime::new(date, clock)
            .assume_utc()
            .unix_timestamp(),
    )
}

/// What one request may make the service hold in memory. XML bodies: the largest S3
/// takes (10,000 parts, 1,000 keys) fit in 4 MiB. Browser POST uploads are the one
/// body s3s buffers whole, so they are capped (S3 allows 5 GB; larger files go through
/// PUT or multipart, which stream).
fn limits() -> S3Config {
    let mut c = S3Config::default();
    c.xml_max_body_size = MAX_XML_BODY as usize;
    c.post_object_max_file_size = POST_OBJECT_MAX_BYTES;
    c.form_max_fields_size = 1024 * 1024;
    c.form_max_field_size = 64 * 1024;
    c
}

/// The largest browser POST upload.
pub const POST_OBJECT_MAX_BYTES: u64 = 64 * 1024 * 1024;

fn header(req: &Request<Incoming>, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(String::from)
}

/// The bucket a request addresses (virtual host first, then the first path segment).
fn bucket_of(req: &Request<Incoming>) -> Option<String> {
    if let Some(host) = req
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        && let Some(b) = bucket_in_host(host)
    {
        return Some(b.to_string());
    }
    let first = req.uri().path().trim_start_matches('/').split('/').next()?;
    (!first.is_empty()).then(|| {
        percent_encoding::percent_decode_str(first)
            .decode_utf8_lossy()
            .into_owned()
    })
}

fn rand_u64() -> u64 {
    let id = uuid::Uuid::new_v4();
    let b = id.as_bytes();
    u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

fn error_response(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    error_response_with(status, code, message, "")
}

/// An S3 error document; `extra` is XML after the message (fields some errors add).
fn error_response_with(
    status: StatusCode,
    code: &str,
    message: &str,
    extra: &str,
) -> Response<Body> {
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message>{extra}</Error>"
    );
    let mut resp = Response::new(Body::from(xml));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    resp
}

/// Request id headers on every answer, the id inside XML errors, no body on a 304.
fn finish(resp: &mut Response<Body>, request_id: &str) {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        resp.headers_mut().insert("x-amz-request-id", v.clone());
        resp.headers_mut().insert("x-amz-id-2", v);
    }
    if resp.status() == StatusCode::NOT_MODIFIED {
        *resp.body_mut() = Body::empty();
        resp.headers_mut().remove(http::header::CONTENT_TYPE);
        resp.headers_mut().remove(http::header::CONTENT_LENGTH);
        return;
    }
    if resp.status().is_client_error() || resp.status().is_server_error() {
        // Only a body already in memory (s3s's own errors); a streamed one (an external
        // engine's answer) passes as it is.
        let Some(bytes) = resp.body().bytes() else {
            return;
        };
        let body = match std::str::from_utf8(&bytes) {
            Ok(text) if text.contains("</Error>") => {
                let mut text = text.to_string();
                if !text.contains("<Message>")
                    && let Some(code) = between(&text, "<Code>", "</Code>")
                {
                    let message = format!("<Message>{}</Message>", default_message(code));
                    text = text.replacen("</Code>", &format!("</Code>{message}"), 1);
                }
                if !text.contains("<RequestId>") {
                    text = text.replacen(
                        "</Error>",
                        &format!("<RequestId>{request_id}</RequestId></Error>"),
                        1,
                    );
                }
                Bytes::from(text)
            }
            _ => bytes,
        };
        resp.headers_mut().remove(http::header::CONTENT_LENGTH);
        *resp.body_mut() = Body::from(body);
    }
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let len = text[start..].find(close)?;
    Some(&text[start..start + len])
}

/// S3's message for an error s3s raised without one (every S3 error has a `Message`).
fn default_message(code: &str) -> String {
    match code {
        "SignatureDoesNotMatch" => "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
        "AccessDenied" => "Access Denied",
        "InvalidAccessKeyId" => "The AWS Access Key Id you provided does not exist in our records.",
        "AuthorizationHeaderMalformed" => "The authorization header is malformed.",
        "AuthorizationQueryParametersError" => "Error parsing the X-Amz-Credential parameter.",
        "RequestTimeTooSkewed" => "The difference between the request time and the current time is too large.",
        "MalformedXML" => "The XML you provided was not well-formed or did not validate against our published schema.",
        "InvalidRequest" => "Invalid Request",
        "InvalidArgument" => "Invalid Argument",
        "InvalidURI" => "Couldn't parse the specified URI.",
        "InvalidDigest" => "The Content-MD5 you specified was invalid.",
        "BadDigest" => "The Content-MD5 you specified did not match what we received.",
        "IncompleteBody" => "You did not provide the number of bytes specified by the Content-Length HTTP header.",
        "MissingContentLength" => "You must provide the Content-Length HTTP header.",
        "EntityTooLarge" => "Your proposed upload exceeds the maximum allowed size.",
        "MethodNotAllowed" => "The specified method is not allowed against this resource.",
        "NotImplemented" => "A header you provided implies functionality that is not implemented.",
        "InternalError" => "We encountered an internal error. Please try again.",
        "InvalidBucketName" => "The specified bucket is not valid.",
        "NoSuchBucket" => "The specified bucket does not exist",
        "NoSuchKey" => "The specified key does not exist.",
        "KeyTooLongError" => "Your key is too long",
        "InvalidRange" => "The requested range is not satisfiable",
        "PreconditionFailed" => "At least one of the pre-conditions you specified did not hold",
        "MetadataTooLarge" => "Your metadata headers exceed the maximum allowed metadata size.",
        "InvalidTag" => "The tag provided was not a valid tag.",
        other => return format!("The request failed: {other}."),
    }
    .to_string()
}

/// Serves `front` on `listener` (TLS when `tls` is given) until `shutdown` resolves;
/// open requests then get a few seconds to finish.
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    limits: esb_listener::Limits,
    front: S3Front,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let handler = move |req: Request<Incoming>, remote: SocketAddr| {
        let front = front.clone();
        async move { front.handle(req, remote).await }
    };
    esb_listener::serve(listener, tls, limits, handler, shutdown).await;
}

#[cfg(test)]
mod tests {
    use super::parse_amz_date;

    #[test]
    fn amz_dates_parse_as_utc() {
        assert_eq!(parse_amz_date("19700101T000000Z"), Some(0));
        assert_eq!(parse_amz_date("20240229T235959Z"), Some(1_709_251_199));
        for bad in [
            "20240230T000000Z",
            "2024-02-29T23:59:59Z",
            "20240229T2359Z",
            "",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
    }
}
