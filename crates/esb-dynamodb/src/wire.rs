//! DynamoDB's wire shapes for the answers the front gives itself: JSON errors
//! (`__type` and `message`), the raw bodies of its health check and 404s, CORS
//! preflights, `DescribeEndpoints`, and the headers every answer carries.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use http_body_util::Full;

/// The two JSON media types DynamoDB accepts; an answer echoes the request's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentType {
    AmzJson,
    Json,
}

impl ContentType {
    /// The request's type; `None` when it is neither JSON type. A request with no body
    /// and no Content-Type is read as JSON, as DynamoDB does.
    pub fn of(headers: &HeaderMap) -> Option<Self> {
        let raw = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let Some(raw) = raw else {
            return Some(Self::AmzJson);
        };
        let base = raw.split(';').next().unwrap_or("").trim();
        if base.eq_ignore_ascii_case("application/x-amz-json-1.0") {
            Some(Self::AmzJson)
        } else if base.eq_ignore_ascii_case("application/json") {
            Some(Self::Json)
        } else {
            None
        }
    }

    fn header(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Self::AmzJson => "application/x-amz-json-1.0",
            Self::Json => "application/json",
        })
    }
}

/// A body with no content type (DynamoDB's health check and 404s).
pub fn raw(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    with_crc(status, None, Bytes::from(body))
}

/// A JSON answer.
pub fn json(content_type: ContentType, status: StatusCode, body: String) -> Response<Full<Bytes>> {
    with_crc(status, Some(content_type), Bytes::from(body))
}

/// An error: `type_name` is the full `__type` (`com.amazon.coral.validate#ValidationException`).
pub fn error(
    content_type: ContentType,
    status: StatusCode,
    type_name: &str,
    message: Option<&str>,
) -> Response<Full<Bytes>> {
    let mut body = serde_json::Map::new();
    body.insert("__type".into(), type_name.into());
    if let Some(m) = message {
        body.insert("message".into(), m.into());
    }
    json(
        content_type,
        status,
        serde_json::Value::Object(body).to_string(),
    )
}

/// A body over DynamoDB's 16 MB: its front end answers 413 before reading it.
pub fn too_large() -> Response<Full<Bytes>> {
    error(
        ContentType::AmzJson,
        StatusCode::PAYLOAD_TOO_LARGE,
        "com.amazon.coral.service#RequestEntityTooLargeException",
        Some("Request entity too large"),
    )
}

/// `DescribeEndpoints`: the endpoint the client is talking to, cached for a day as
/// DynamoDB answers it.
pub fn describe_endpoints(
    content_type: ContentType,
    headers: &HeaderMap,
    region: &str,
) -> Response<Full<Bytes>> {
    let address = headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .map_or_else(
            || format!("dynamodb.{region}.amazonaws.com"),
            str::to_string,
        );
    let body = serde_json::json!({
        "Endpoints": [{"Address": address, "CachePeriodInMinutes": 1440}]
    });
    json(content_type, StatusCode::OK, body.to_string())
}

/// `DescribeLimits`: DynamoDB's default quotas (the box enforces no capacity).
pub fn describe_limits(content_type: ContentType) -> Response<Full<Bytes>> {
    let body = serde_json::json!({
        "AccountMaxReadCapacityUnits": 80000,
        "AccountMaxWriteCapacityUnits": 80000,
        "TableMaxReadCapacityUnits": 40000,
        "TableMaxWriteCapacityUnits": 40000,
    });
    json(content_type, StatusCode::OK, body.to_string())
}

/// A CORS preflight: DynamoDB allows any origin, and echoes what was asked for.
pub fn preflight(headers: &HeaderMap) -> Response<Full<Bytes>> {
    let mut resp = with_crc(StatusCode::OK, None, Bytes::new());
    let h = resp.headers_mut();
    h.insert(
        http::header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("172800"),
    );
    for (asked, allowed) in [
        (
            http::header::ACCESS_CONTROL_REQUEST_HEADERS,
            http::header::ACCESS_CONTROL_ALLOW_HEADERS,
        ),
        (
            http::header::ACCESS_CONTROL_REQUEST_METHOD,
            http::header::ACCESS_CONTROL_ALLOW_METHODS,
        ),
    ] {
        if let Some(v) = headers.get(&asked) {
            h.insert(allowed, v.clone());
        }
    }
    resp
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-amzn-requestid");

/// The answer's request id, given one if it has none (the engine gives its own).
pub fn ensure_request_id(resp: &mut Response<Full<Bytes>>) -> String {
    if let Some(id) = resp
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
    {
        return id.to_string();
    }
    let id = request_id();
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(REQUEST_ID, v);
    }
    id
}

/// 52 upper-case alphanumerics, as DynamoDB's request ids are.
fn request_id() -> String {
    let hex = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    hex[..52].to_ascii_uppercase()
}

/// Every DynamoDB answer carries the CRC32 of its body (the SDKs check it).
fn with_crc(
    status: StatusCode,
    content_type: Option<ContentType>,
    body: Bytes,
) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body.clone()));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    if let Some(ct) = content_type {
        h.insert(http::header::CONTENT_TYPE, ct.header());
    }
    set_crc(h, &body);
    resp
}

/// Sets `x-amz-crc32` for `body`.
pub fn set_crc(headers: &mut HeaderMap, body: &[u8]) {
    headers.insert(
        HeaderName::from_static("x-amz-crc32"),
        HeaderValue::from(crc32(body)),
    );
}

/// CRC-32 (IEEE), the checksum DynamoDB puts in `x-amz-crc32`.
fn crc32(data: &[u8]) -> u32 {
    crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32IsoHdlc, data) as u32
}
