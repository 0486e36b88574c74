//! The answers of both protocols: JSON (`application/x-amz-json-1.0`, errors with
//! `__type` and `x-amzn-query-error`) and XML (`text/xml`), each with its request id.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;
use serde_json::{Value, json};

use crate::error::{ErrorKind, SqsError};
use crate::query_protocol;

/// Which protocol a request spoke, so its answer speaks it too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Json,
    Query,
}

pub fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn response(
    status: StatusCode,
    content_type: &'static str,
    body: String,
    request_id: &str,
) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-requestid", v);
    }
    resp
}

pub fn json_ok(output: &Value, request_id: &str) -> Response<Full<Bytes>> {
    response(
        StatusCode::OK,
        "application/x-amz-json-1.0",
        output.to_string(),
        request_id,
    )
}

pub fn xml_ok(action: &str, output: &Value, request_id: &str) -> Response<Full<Bytes>> {
    response(
        StatusCode::OK,
        "text/xml",
        query_protocol::render(action, output, request_id),
        request_id,
    )
}

pub fn error(protocol: Protocol, e: &SqsError, request_id: &str) -> Response<Full<Bytes>> {
    match protocol {
        Protocol::Json => {
            let body = json!({"__type": e.kind.json_type(), "message": e.message});
            let mut resp = response(
                e.kind.status(),
                "application/x-amz-json-1.0",
                body.to_string(),
                request_id,
            );
            // The envelope's own errors (a body that is not JSON, an unknown target)
            // have no query-protocol code: the SDKs name them by `__type`.
            if !matches!(e.kind, ErrorKind::Serialization | ErrorKind::InvalidAction) {
                let query = format!("{};{}", e.kind.query_code(), e.kind.fault());
                if let Ok(v) = HeaderValue::from_str(&query) {
                    resp.headers_mut().insert("x-amzn-query-error", v);
                }
            }
            resp
        }
        Protocol::Query => response(
            e.kind.status(),
            "text/xml",
            query_protocol::render_error(e, request_id),
            request_id,
        ),
    }
}
