//! A function's answer through a Lambda proxy integration, turned into the HTTP response
//! API Gateway (REST API) sends back, and API Gateway's answers when there is no usable
//! function answer.
//!
//! The function returns a JSON object: `statusCode` (a number, or a string holding one),
//! `headers`, `multiValueHeaders`, `body` (a string) and `isBase64Encoded`. API Gateway
//! is lenient where its JSON binding is (scalars where strings are expected, `null` for
//! absent), and strict where it cannot build a response: anything else (not JSON, not an
//! object, no status, a body that is not a string, a header it cannot send...) is the
//! log line "Malformed Lambda proxy response" and a 502 `{"message": "Internal server
//! error"}` to the client. The same 502 answers a function error; a timeout is 504 and
//! throttling 429. The reasons are kept as typed errors so the server can log why.

use base64::Engine;
use base64::alphabet::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use serde_json::{Map, Value};

use crate::gateway_response::GatewayResponse;

/// The Invoke API's marker of a failed invocation (`Unhandled`, `Handled`).
const FUNCTION_ERROR: &str = "x-amz-function-error";

/// Headers that describe the connection or the framing, which the server sets itself;
/// a function copying them from elsewhere must not corrupt the response.
const NOT_FORWARDED: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
    "content-length",
    "transfer-encoding",
];

/// Base64 as functions produce it: padded or not, possibly wrapped in lines.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a function's output is not a proxy response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MalformedProxyResponse {
    #[error("Malformed Lambda proxy response: output is not JSON: {0}")]
    NotJson(String),
    #[error("Malformed Lambda proxy response: output is a JSON {0}, not an object")]
    NotAnObject(&'static str),
    #[error("Malformed Lambda proxy response: statusCode is missing")]
    MissingStatusCode,
    #[error("Malformed Lambda proxy response: statusCode {0} is not an HTTP status (200-599)")]
    InvalidStatusCode(String),
    #[error("Malformed Lambda proxy response: {field} must be an object")]
    HeadersNotAnObject { field: &'static str },
    #[error("Malformed Lambda proxy response: multiValueHeaders.{name} must be a list")]
    ValuesNotAList { name: String },
    #[error("Malformed Lambda proxy response: header {name:?} cannot be sent: {reason}")]
    InvalidHeader { name: String, reason: String },
    #[error("Malformed Lambda proxy response: body must be a string, not a JSON {0}")]
    BodyNotString(&'static str),
    #[error("Malformed Lambda proxy response: isBase64Encoded must be a boolean")]
    InvalidIsBase64Encoded,
    #[error("Malformed Lambda proxy response: body is not valid base64: {0}")]
    InvalidBase64(String),
}

/// Why a request that reached the integration gets one of API Gateway's own answers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntegrationError {
    /// The invocation failed (`X-Amz-Function-Error: Unhandled`...): 502.
    #[error("function error ({0})")]
    FunctionError(String),
    /// The function's output is not a proxy response: 502.
    #[error(transparent)]
    Malformed(#[from] MalformedProxyResponse),
    /// No answer within the integration timeout: 504.
    #[error("the function did not answer within the integration timeout")]
    Timeout,
    /// No capacity to run the function: 429.
    #[error("the function is throttled")]
    Throttled,
    /// Lambda refused the invocation itself (an Invoke API error status): 500, as
    /// API Gateway answers when it cannot call the function.
    #[error("the Invoke API answered {0}")]
    InvokeFailed(StatusCode),
}

impl IntegrationError {
    pub fn gateway_response(&self) -> GatewayResponse {
        match self {
            Self::FunctionError(_) | Self::Malformed(_) => GatewayResponse::BadGateway,
            Self::Timeout => GatewayResponse::EndpointTimeout,
            Self::Throttled => GatewayResponse::Throttled,
            Self::InvokeFailed(_) => GatewayResponse::InternalServerError,
        }
    }

    pub fn to_response(&self) -> Response<Bytes> {
        self.gateway_response().to_response()
    }
}

/// 502 `{"message": "Internal server error"}`: the function failed.
pub fn function_error() -> Response<Bytes> {
    GatewayResponse::BadGateway.to_response()
}

/// 504 `{"message": "Endpoint request timed out"}`: no answer within the timeout.
pub fn timed_out() -> Response<Bytes> {
    GatewayResponse::EndpointTimeout.to_response()
}

/// 429 `{"message": "Too Many Requests"}`: the function is throttled.
pub fn throttled() -> Response<Bytes> {
    GatewayResponse::Throttled.to_response()
}

/// Maps the answer of a synchronous Invoke API call (its status, headers and payload)
/// to the client's response, or says why API Gateway would answer with its own error.
pub fn from_invoke(
    status: StatusCode,
    headers: &HeaderMap,
    payload: &[u8],
) -> Result<Response<Bytes>, IntegrationError> {
    if let Some(kind) = headers.get(FUNCTION_ERROR) {
        let kind = String::from_utf8_lossy(kind.as_bytes()).into_owned();
        return Err(IntegrationError::FunctionError(kind));
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        return Err(IntegrationError::Throttled);
    }
    if !status.is_success() {
        return Err(IntegrationError::InvokeFailed(status));
    }
    Ok(from_payload(payload)?)
}

/// Maps a function's output (the Invoke API payload) to the client's response.
pub fn from_payload(payload: &[u8]) -> Result<Response<Bytes>, MalformedProxyResponse> {
    let doc: Value = serde_json::from_slice(payload)
        .map_err(|e| MalformedProxyResponse::NotJson(e.to_string()))?;
    let Value::Object(doc) = doc else {
        return Err(MalformedProxyResponse::NotAnObject(json_type(&doc)));
    };
    let status = status_code(&doc)?;
    let headers = merged_headers(&doc)?;
    let body = body(&doc)?;
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    Ok(response)
}

fn status_code(doc: &Map<String, Value>) -> Result<StatusCode, MalformedProxyResponse> {
    let raw = match doc.get("statusCode") {
        None | Some(Value::Null) => return Err(MalformedProxyResponse::MissingStatusCode),
        Some(v) => v,
    };
    let code = match raw {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                .map(|f| f as u64)
        }),
        Value::String(s) => s.parse::<u64>().ok(),
        _ => None,
    };
    code.and_then(|c| u16::try_from(c).ok())
        .filter(|c| (200..=599).contains(c))
        .and_then(|c| StatusCode::from_u16(c).ok())
        .ok_or_else(|| MalformedProxyResponse::InvalidStatusCode(raw.to_string()))
}

/// `headers` and `multiValueHeaders` together. API Gateway documents that when both
/// give a header, only the `multiValueHeaders` values appear: a name present there (in
/// any case) takes its values from there only; other names keep their `headers` value.
fn merged_headers(doc: &Map<String, Value>) -> Result<HeaderMap, MalformedProxyResponse> {
    let empty = Map::new();
    let single = object(doc, "headers")?.unwrap_or(&empty);
    let multi = object(doc, "multiValueHeaders")?.unwrap_or(&empty);
    let mut out = HeaderMap::new();
    for (name, value) in single {
        if multi
            .iter()
            .any(|(m, values)| !values.is_null() && m.eq_ignore_ascii_case(name))
        {
            continue;
        }
        if let Some(value) = scalar_text(value, name)? {
            append(&mut out, name, &value)?;
        }
    }
    for (name, values) in multi {
        let values = match values {
            Value::Null => continue,
            Value::Array(values) => values,
            _ => return Err(MalformedProxyResponse::ValuesNotAList { name: name.clone() }),
        };
        for value in values {
            if let Some(value) = scalar_text(value, name)? {
                append(&mut out, name, &value)?;
            }
        }
    }
    if !out.contains_key(CONTENT_TYPE) {
        out.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    Ok(out)
}

/// An optional object field: absent and `null` are `None`.
fn object<'d>(
    doc: &'d Map<String, Value>,
    field: &'static str,
) -> Result<Option<&'d Map<String, Value>>, MalformedProxyResponse> {
    match doc.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map)),
        Some(_) => Err(MalformedProxyResponse::HeadersNotAnObject { field }),
    }
}

/// A header value as text: strings as they are, numbers and booleans written out,
/// `null` skipped.
fn scalar_text(value: &Value, name: &str) -> Result<Option<String>, MalformedProxyResponse> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Number(_) | Value::Bool(_) => Ok(Some(value.to_string())),
        other => Err(MalformedProxyResponse::InvalidHeader {
            name: name.to_string(),
            reason: format!("its value is a JSON {}", json_type(other)),
        }),
    }
}

fn append(out: &mut HeaderMap, name: &str, value: &str) -> Result<(), MalformedProxyResponse> {
    let invalid = |reason: String| MalformedProxyResponse::InvalidHeader {
        name: name.to_string(),
        reason,
    };
    let header = HeaderName::from_bytes(name.as_bytes()).map_err(|e| invalid(e.to_string()))?;
    if NOT_FORWARDED.contains(&header.as_str()) {
        return Ok(());
    }
    let value = HeaderValue::from_bytes(value.as_bytes()).map_err(|e| invalid(e.to_string()))?;
    out.append(header, value);
    Ok(())
}

fn body(doc: &Map<String, Value>) -> Result<Bytes, MalformedProxyResponse> {
    let encoded = match doc.get("isBase64Encoded") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => true,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => false,
        Some(_) => return Err(MalformedProxyResponse::InvalidIsBase64Encoded),
    };
    let text = match doc.get("body") {
        None | Some(Value::Null) => return Ok(Bytes::new()),
        Some(Value::String(s)) => s,
        Some(other) => return Err(MalformedProxyResponse::BodyNotString(json_type(other))),
    };
    if !encoded {
        return Ok(Bytes::from(text.clone()));
    }
    let compact: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    LENIENT_BASE64
        .decode(compact)
        .map(Bytes::from)
        .map_err(|e| MalformedProxyResponse::InvalidBase64(e.to_string()))
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(doc: &str) -> Response<Bytes> {
        from_payload(doc.as_bytes()).unwrap_or_else(|e| panic!("{doc}: {e}"))
    }

    fn malformed(doc: &[u8]) -> MalformedProxyResponse {
        match from_payload(doc) {
            Err(e) => e,
            Ok(r) => panic!(
                "{:?} must be malformed, got {r:?}",
                String::from_utf8_lossy(doc)
            ),
        }
    }

    fn values(r: &Response<Bytes>, name: &str) -> Vec<String> {
        r.headers()
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect()
    }

    fn is_internal_server_error(r: &Response<Bytes>, status: u16) {
        assert_eq!(r.status().as_u16(), status);
        assert_eq!(r.body().as_ref(), br#"{"message":"Internal server error"}"#);
        assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
    }

    #[test]
    fn a_full_proxy_response() {
        let r = ok(r#"{
            "statusCode": 201,
            "headers": {"Content-Type": "text/plain", "X-One": "1"},
            "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
            "body": "created",
            "isBase64Encoded": false
        }"#);
        assert_eq!(r.status(), 201);
        assert_eq!(values(&r, "content-type"), ["text/plain"]);
        assert_eq!(values(&r, "x-one"), ["1"]);
        assert_eq!(values(&r, "set-cookie"), ["a=1", "b=2"]);
        assert_eq!(r.body().as_ref(), b"created");
    }

    #[test]
    fn status_code_as_number_or_numeric_string() {
        assert_eq!(ok(r#"{"statusCode": "404"}"#).status(), 404);
        assert_eq!(ok(r#"{"statusCode": 302}"#).status(), 302);
        assert_eq!(ok(r#"{"statusCode": 200.0}"#).status(), 200);
    }

    #[test]
    fn minimal_response_defaults_to_json_and_empty_body() {
        let r = ok(r#"{"statusCode": 200}"#);
        assert_eq!(values(&r, "content-type"), ["application/json"]);
        assert!(r.body().is_empty());
        let r = ok(
            r#"{"statusCode": 204, "headers": null, "multiValueHeaders": null, "body": null, "isBase64Encoded": null}"#,
        );
        assert_eq!(r.status(), 204);
        assert!(r.body().is_empty());
    }

    #[test]
    fn content_type_set_in_any_case_is_kept() {
        let r = ok(r#"{"statusCode": 200, "headers": {"content-TYPE": "text/html"}}"#);
        assert_eq!(values(&r, "content-type"), ["text/html"]);
        let r = ok(r#"{"statusCode": 200, "multiValueHeaders": {"Content-Type": ["text/csv"]}}"#);
        assert_eq!(values(&r, "content-type"), ["text/csv"]);
    }

    #[test]
    fn multi_value_headers_replace_same_named_headers() {
        let r = ok(r#"{
            "statusCode": 200,
            "headers": {"X-A": "single", "x-b": "kept"},
            "multiValueHeaders": {"x-a": ["m1", "m2"], "X-C": ["c"]}
        }"#);
        assert_eq!(values(&r, "x-a"), ["m1", "m2"]);
        assert_eq!(values(&r, "x-b"), ["kept"]);
        assert_eq!(values(&r, "x-c"), ["c"]);
    }

    #[test]
    fn scalar_header_values_are_written_out_and_nulls_skipped() {
        let r = ok(r#"{
            "statusCode": 200,
            "headers": {"X-Num": 5, "X-Bool": true, "X-Null": null},
            "multiValueHeaders": {"X-List": [1, "two", null, false], "X-Gone": null}
        }"#);
        assert_eq!(values(&r, "x-num"), ["5"]);
        assert_eq!(values(&r, "x-bool"), ["true"]);
        assert!(values(&r, "x-null").is_empty());
        assert_eq!(values(&r, "x-list"), ["1", "two", "false"]);
        assert!(values(&r, "x-gone").is_empty());
    }

    #[test]
    fn framing_headers_from_the_function_are_dropped() {
        let r = ok(r#"{
            "statusCode": 200,
            "headers": {"Content-Length": "999", "Transfer-Encoding": "chunked", "Connection": "close", "X-Keep": "1"},
            "body": "abc"
        }"#);
        assert!(r.headers().get("content-length").is_none());
        assert!(r.headers().get("transfer-encoding").is_none());
        assert!(r.headers().get("connection").is_none());
        assert_eq!(values(&r, "x-keep"), ["1"]);
    }

    #[test]
    fn base64_bodies_are_decoded() {
        let r = ok(r#"{"statusCode": 200, "body": "/wAB", "isBase64Encoded": true}"#);
        assert_eq!(r.body().as_ref(), [0xff, 0x00, 0x01]);
        let r = ok(r#"{"statusCode": 200, "body": "aGk", "isBase64Encoded": "true"}"#);
        assert_eq!(r.body().as_ref(), b"hi");
        let r =
            ok("{\"statusCode\": 200, \"body\": \"aGVs\\nbG8=\\n\", \"isBase64Encoded\": true}");
        assert_eq!(r.body().as_ref(), b"hello");
        let r = ok(r#"{"statusCode": 200, "body": "/wAB", "isBase64Encoded": "false"}"#);
        assert_eq!(r.body().as_ref(), b"/wAB");
    }

    #[test]
    fn unknown_keys_are_ignored() {
        let r = ok(r#"{"statusCode": 200, "cookies": ["a=b"], "extra": {"x": 1}}"#);
        assert_eq!(r.status(), 200);
    }

    #[test]
    fn malformed_outputs() {
        assert!(matches!(
            malformed(b"not json"),
            MalformedProxyResponse::NotJson(_)
        ));
        assert!(matches!(malformed(b""), MalformedProxyResponse::NotJson(_)));
        assert!(matches!(
            malformed(b"\xff\xfe"),
            MalformedProxyResponse::NotJson(_)
        ));
        assert_eq!(
            malformed(b"null"),
            MalformedProxyResponse::NotAnObject("null")
        );
        assert_eq!(
            malformed(b"[1]"),
            MalformedProxyResponse::NotAnObject("array")
        );
        assert_eq!(
            malformed(b"\"hello\""),
            MalformedProxyResponse::NotAnObject("string")
        );
        assert_eq!(
            malformed(br#"{"body": "x"}"#),
            MalformedProxyResponse::MissingStatusCode
        );
        assert_eq!(
            malformed(br#"{"statusCode": null}"#),
            MalformedProxyResponse::MissingStatusCode
        );
        for status in [
            r#""abc""#,
            r#""""#,
            "99",
            "600",
            "99999",
            "-1",
            "200.5",
            "true",
            "[200]",
            r#"" 200""#,
            "1e400",
        ] {
            let doc = format!(r#"{{"statusCode": {status}}}"#);
            assert!(
                matches!(
                    from_payload(doc.as_bytes()),
                    Err(MalformedProxyResponse::InvalidStatusCode(_)
                        | MalformedProxyResponse::NotJson(_))
                ),
                "{doc}"
            );
        }
        assert_eq!(
            malformed(br#"{"statusCode": 200, "body": {"a": 1}}"#),
            MalformedProxyResponse::BodyNotString("object")
        );
        assert_eq!(
            malformed(br#"{"statusCode": 200, "body": 5}"#),
            MalformedProxyResponse::BodyNotString("number")
        );
        assert_eq!(
            malformed(br#"{"statusCode": 200, "headers": ["a"]}"#),
            MalformedProxyResponse::HeadersNotAnObject { field: "headers" }
        );
        assert_eq!(
            malformed(br#"{"statusCode": 200, "multiValueHeaders": "x"}"#),
            MalformedProxyResponse::HeadersNotAnObject {
                field: "multiValueHeaders"
            }
        );
        assert_eq!(
            malformed(br#"{"statusCode": 200, "multiValueHeaders": {"X": "single"}}"#),
            MalformedProxyResponse::ValuesNotAList { name: "X".into() }
        );
        assert!(matches!(
            malformed(br#"{"statusCode": 200, "headers": {"X": {"nested": 1}}}"#),
            MalformedProxyResponse::InvalidHeader { .. }
        ));
        assert!(matches!(
            malformed(br#"{"statusCode": 200, "headers": {"Bad Name": "v"}}"#),
            MalformedProxyResponse::InvalidHeader { .. }
        ));
        assert!(matches!(
            malformed(br#"{"statusCode": 200, "headers": {"": "v"}}"#),
            MalformedProxyResponse::InvalidHeader { .. }
        ));
        assert!(matches!(
            malformed(br#"{"statusCode": 200, "headers": {"X": "line\nbreak"}}"#),
            MalformedProxyResponse::InvalidHeader { .. }
        ));
        assert_eq!(
            malformed(br#"{"statusCode": 200, "isBase64Encoded": 1}"#),
            MalformedProxyResponse::InvalidIsBase64Encoded
        );
        assert!(matches!(
            malformed(br#"{"statusCode": 200, "body": "!!", "isBase64Encoded": true}"#),
            MalformedProxyResponse::InvalidBase64(_)
        ));
    }

    #[test]
    fn utf8_header_values_are_sent_as_bytes() {
        let r = ok(r#"{"statusCode": 200, "headers": {"X-Name": "café"}}"#);
        assert_eq!(r.headers()["x-name"].as_bytes(), "café".as_bytes());
    }

    #[test]
    fn invoke_results_map_to_gateway_answers() {
        let ok_headers = HeaderMap::new();
        let r = from_invoke(
            StatusCode::OK,
            &ok_headers,
            br#"{"statusCode": 418, "body": "tea"}"#,
        )
        .expect("proxy response");
        assert_eq!(r.status(), 418);

        let mut failed = HeaderMap::new();
        failed.insert(
            "X-Amz-Function-Error",
            HeaderValue::from_static("Unhandled"),
        );
        let e = from_invoke(
            StatusCode::OK,
            &failed,
            br#"{"errorMessage": "boom", "errorType": "Exception"}"#,
        )
        .expect_err("function error");
        assert_eq!(e, IntegrationError::FunctionError("Unhandled".into()));
        is_internal_server_error(&e.to_response(), 502);

        let e = from_invoke(StatusCode::OK, &ok_headers, b"null").expect_err("malformed");
        assert!(matches!(e, IntegrationError::Malformed(_)));
        assert!(e.to_string().starts_with("Malformed Lambda proxy response"));
        is_internal_server_error(&e.to_response(), 502);

        let e =
            from_invoke(StatusCode::TOO_MANY_REQUESTS, &ok_headers, b"{}").expect_err("throttled");
        assert_eq!(e, IntegrationError::Throttled);
        assert_eq!(e.to_response().status(), 429);

        let e = from_invoke(StatusCode::NOT_FOUND, &ok_headers, b"{}").expect_err("refused");
        assert_eq!(e, IntegrationError::InvokeFailed(StatusCode::NOT_FOUND));
        is_internal_server_error(&e.to_response(), 500);

        assert_eq!(IntegrationError::Timeout.to_response().status(), 504);
    }

    #[test]
    fn constructors_for_gateway_answers() {
        is_internal_server_error(&function_error(), 502);
        let r = timed_out();
        assert_eq!(r.status(), 504);
        assert_eq!(
            r.body().as_ref(),
            br#"{"message":"Endpoint request timed out"}"#
        );
        assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
        let r = throttled();
        assert_eq!(r.status(), 429);
        assert_eq!(r.body().as_ref(), br#"{"message":"Too Many Requests"}"#);
        assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
    }

    #[test]
    fn deeply_nested_or_huge_outputs_do_not_panic() {
        let deep = "[".repeat(100_000);
        assert!(matches!(
            malformed(deep.as_bytes()),
            MalformedProxyResponse::NotJson(_)
        ));
        let big = format!(
            r#"{{"statusCode": 200, "body": "{}"}}"#,
            "x".repeat(1 << 20)
        );
        assert_eq!(ok(&big).body().len(), 1 << 20);
    }
}
