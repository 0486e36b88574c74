//! A Lambda proxy-integration answer turned into the HTTP response API Gateway sends:
//! `statusCode`, `headers`, `multiValueHeaders`, `body`, `isBase64Encoded`; anything
//! malformed is a 502 `{"message": "Internal server error"}`, as AWS answers.

use axum::response::{IntoResponse, Response};
use base64::Engine;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode, header};
use serde_json::Value;

/// API Gateway's own error answers.
pub fn message(status: StatusCode, message: &str) -> Response {
    let mut resp = (
        status,
        serde_json::json!({ "message": message }).to_string(),
    )
        .into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp.headers_mut().insert(
        "x-amzn-errortype",
        HeaderValue::from_static(error_type(status)),
    );
    resp
}

fn error_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        403 => "MissingAuthenticationTokenException",
        404 => "NotFoundException",
        429 => "TooManyRequestsException",
        504 => "IntegrationTimeout",
        _ => "InternalServerErrorException",
    }
}

pub fn internal_error() -> Response {
    message(StatusCode::BAD_GATEWAY, "Internal server error")
}

/// Maps the function's answer; `function_error` is the worker's `X-Amz-Function-Error`.
pub fn from_lambda(body: &Bytes, function_error: bool) -> Response {
    if function_error {
        return internal_error();
    }
    match build(body) {
        Some(resp) => resp,
        None => {
            tracing::warn!(
                "malformed Lambda proxy response: {}",
                String::from_utf8_lossy(&body[..body.len().min(200)])
            );
            internal_error()
        }
    }
}

fn build(body: &Bytes) -> Option<Response> {
    let doc: Value = serde_json::from_slice(body).ok()?;
    let obj = doc.as_object()?;
    let status = match obj.get("statusCode")? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
    .and_then(|n| u16::try_from(n).ok())
    .and_then(|n| StatusCode::from_u16(n).ok())?;
    let encoded = matches!(obj.get("isBase64Encoded"), Some(Value::Bool(true)));
    let payload = match obj.get("body") {
        None | Some(Value::Null) => Bytes::new(),
        Some(Value::String(s)) if encoded => {
            Bytes::from(base64::engine::general_purpose::STANDARD.decode(s).ok()?)
        }
        Some(Value::String(s)) => Bytes::from(s.clone()),
        Some(_) => return None,
    };
    let mut resp = Response::new(axum::body::Body::from(payload));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(_) | Value::Bool(_) => Some(v.to_string()),
        _ => None,
    };
    if let Some(map) = obj.get("headers").filter(|v| !v.is_null()) {
        for (k, v) in map.as_object()? {
            let name = HeaderName::from_bytes(k.as_bytes()).ok()?;
            h.insert(name, HeaderValue::from_str(&text(v)?).ok()?);
        }
    }
    if let Some(map) = obj.get("multiValueHeaders").filter(|v| !v.is_null()) {
        for (k, values) in map.as_object()? {
            let name = HeaderName::from_bytes(k.as_bytes()).ok()?;
            h.remove(&name);
            for v in values.as_array()? {
                h.append(name.clone(), HeaderValue::from_str(&text(v)?).ok()?);
            }
        }
    }
    if !h.contains_key(header::CONTENT_TYPE) {
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    Some(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(doc: &str) -> Response {
        from_lambda(&Bytes::from(doc.to_string()), false)
    }

    #[test]
    fn proxy_answers_are_mapped() {
        let r = map(
            r#"{"statusCode": 201, "headers": {"X-A": "1", "Content-Type": "text/plain"}, "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]}, "body": "made"}"#,
        );
        assert_eq!(r.status(), 201);
        assert_eq!(r.headers()["x-a"], "1");
        assert_eq!(r.headers()["content-type"], "text/plain");
        assert_eq!(r.headers().get_all("set-cookie").iter().count(), 2);
        let bin = map(r#"{"statusCode": "200", "body": "/wAB", "isBase64Encoded": true}"#);
        assert_eq!(bin.status(), 200);
        assert_eq!(bin.headers()["content-type"], "application/json");
    }

    #[test]
    fn malformed_answers_are_502() {
        for doc in [
            "not json",
            "[1]",
            r#"{"body": "no status"}"#,
            r#"{"statusCode": 200, "body": {"an": "object"}}"#,
            r#"{"statusCode": 200, "body": "!!", "isBase64Encoded": true}"#,
            r#"{"statusCode": 99999}"#,
        ] {
            assert_eq!(map(doc).status(), 502, "{doc}");
        }
        assert_eq!(
            from_lambda(&Bytes::from_static(b"{\"statusCode\":200}"), true).status(),
            502
        );
    }
}
