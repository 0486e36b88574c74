//! A Lambda proxy-integration answer turned into the HTTP response API Gateway sends:
//! `statusCode`, `headers`, `multiValueHeaders` (payload 1.0) or `cookies` (2.0),
//! `body`, `isBase64Encoded`. Payload 2.0 also takes any other JSON as a 200 JSON body.
//! Anything malformed is REST's 502 `{"message": "Internal server error"}` or an HTTP
//! API's 500 `{"message":"Internal Server Error"}`, as AWS answers.

use axum::response::{IntoResponse, Response};
use base64::Engine;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode, header};
use serde_json::Value;

use crate::routes::{ApiSettings, EventFormat};
use esb_lambda::headers::ERROR_TYPE;

/// API Gateway's own error answers.
pub fn message(status: StatusCode, message: &str) -> Response {
    gateway_error(
        status,
        &serde_json::json!({ "message": message }),
        error_type(status),
    )
}

/// An error answer of API Gateway with its own body and `x-amzn-ErrorType`.
pub fn gateway_error(status: StatusCode, body: &Value, error_type: &'static str) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp.headers_mut()
        .insert(ERROR_TYPE, HeaderValue::from_static(error_type));
    resp
}

fn error_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "BadRequestException",
        403 => "MissingAuthenticationTokenException",
        408 => "RequestTimeoutException",
        413 => "RequestTooLargeException",
        404 => "NotFoundException",
        429 => "TooManyRequestsException",
        504 => "IntegrationTimeout",
        _ => "InternalServerErrorException",
    }
}

/// The integration failed (function error, malformed answer, no worker).
pub fn internal_error(format: EventFormat) -> Response {
    match format {
        EventFormat::Rest => message(StatusCode::BAD_GATEWAY, "Internal server error"),
        EventFormat::HttpV1 | EventFormat::HttpV2 => {
            message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        }
        EventFormat::FunctionUrl => message(StatusCode::BAD_GATEWAY, "Internal Server Error"),
    }
}

/// A REST API's say on base64 answers: decoded only when the answer's `Content-Type`
/// or the request's `Accept` is one of its `BinaryMediaTypes`, else sent as the text.
pub struct RestBinary<'a> {
    pub api: &'a ApiSettings,
    pub accept: Option<&'a str>,
}

/// Maps the function's answer; `function_error` is the worker's `X-Amz-Function-Error`.
/// `rest_binary`: `None` decodes every base64 answer, as HTTP APIs and URLs do.
pub fn from_lambda(
    body: &Bytes,
    function_error: bool,
    format: EventFormat,
    rest_binary: Option<RestBinary<'_>>,
) -> Response {
    if function_error {
        return internal_error(format);
    }
    match build(body, format, rest_binary) {
        Some(resp) => resp,
        None => {
            tracing::warn!(
                "malformed Lambda proxy response: {}",
                String::from_utf8_lossy(&body[..body.len().min(200)])
            );
            internal_error(format)
        }
    }
}

fn build(
    body: &Bytes,
    format: EventFormat,
    rest_binary: Option<RestBinary<'_>>,
) -> Option<Response> {
    let doc: Value = serde_json::from_slice(body).ok()?;
    let structured = doc
        .as_object()
        .is_some_and(|o| o.contains_key("statusCode"));
    if format.is_v2() && !structured {
        // Payload 2.0's shortcut: any other JSON is the body of a 200 JSON answer.
        let mut resp = Response::new(axum::body::Body::from(body.clone()));
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        return Some(resp);
    }
    let obj = doc.as_object()?;
    let status = match obj.get("statusCode")? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
    .and_then(|n| u16::try_from(n).ok())
    .and_then(|n| StatusCode::from_u16(n).ok())?;
    let encoded = matches!(obj.get("isBase64Encoded"), Some(Value::Bool(true)));
    let body_text = match obj.get("body") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => return None,
    };
    let mut resp = Response::new(axum::body::Body::empty());
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
    if let Some(cookies) = obj
        .get("cookies")
        .filter(|v| format.is_v2() && !v.is_null())
    {
        for c in cookies.as_array()? {
            h.append(header::SET_COOKIE, HeaderValue::from_str(&text(c)?).ok()?);
        }
    }
    if let Some(map) = obj
        .get("multiValueHeaders")
        .filter(|v| !format.is_v2() && !v.is_null())
    {
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
    let decode = encoded
        && rest_binary.is_none_or(|b| {
            let content_type = h.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
            b.api.is_binary(content_type) || b.api.is_binary(b.accept)
        });
    let payload = match body_text {
        None => Bytes::new(),
        Some(s) if decode => Bytes::from(base64::engine::general_purpose::STANDARD.decode(s).ok()?),
        Some(s) => Bytes::from(s.clone()),
    };
    *resp.body_mut() = axum::body::Body::from(payload);
    Some(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(doc: &str) -> Response {
        from_lambda(
            &Bytes::from(doc.to_string()),
            false,
            EventFormat::Rest,
            None,
        )
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
            from_lambda(
                &Bytes::from_static(b"{\"statusCode\":200}"),
                true,
                EventFormat::Rest,
                None,
            )
            .status(),
            502
        );
    }
}

#[cfg(test)]
mod payload_v2_tests {
    use super::*;

    async fn read(resp: Response) -> (StatusCode, http::HeaderMap, String) {
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("body");
        (status, headers, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn payload_2_maps_cookies_and_takes_plain_json_as_a_200_body() {
        let doc = serde_json::json!({
            "statusCode": 201,
            "headers": {"X-A": "1"},
            "cookies": ["a=1; Path=/", "b=2"],
            "body": "made",
        });
        let (status, headers, body) = read(from_lambda(
            &Bytes::from(doc.to_string()),
            false,
            EventFormat::HttpV2,
            None,
        ))
        .await;
        assert_eq!((status.as_u16(), body.as_str()), (201, "made"));
        assert_eq!(headers["x-a"], "1");
        let cookies: Vec<_> = headers.get_all(header::SET_COOKIE).iter().collect();
        assert_eq!(cookies, ["a=1; Path=/", "b=2"]);

        let (status, headers, body) = read(from_lambda(
            &Bytes::from_static(br#"{"hello": "world"}"#),
            false,
            EventFormat::HttpV2,
            None,
        ))
        .await;
        assert_eq!(
            (status.as_u16(), body.as_str()),
            (200, r#"{"hello": "world"}"#)
        );
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        let (status, _, body) = read(from_lambda(
            &Bytes::from_static(b"\"text\""),
            false,
            EventFormat::HttpV2,
            None,
        ))
        .await;
        assert_eq!((status.as_u16(), body.as_str()), (200, "\"text\""));

        let (status, _, body) = read(from_lambda(
            &Bytes::from_static(b"{}"),
            true,
            EventFormat::HttpV2,
            None,
        ))
        .await;
        assert_eq!(
            (status.as_u16(), body.as_str()),
            (500, r#"{"message":"Internal Server Error"}"#)
        );
        let (status, _, _) = read(from_lambda(
            &Bytes::from_static(br#"{"statusCode": "x"}"#),
            false,
            EventFormat::HttpV2,
            None,
        ))
        .await;
        assert_eq!(status.as_u16(), 500, "a malformed structured answer");
    }
}
