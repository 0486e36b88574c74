//! The DynamoDB listener's front: what ESB does before a request reaches the engine.
//!
//! In DynamoDB's order: the operation is resolved from `X-Amz-Target`, then the
//! signature is checked (with the box's key pair: the engine only looks for a header),
//! then the request is held to DynamoDB's limits (crate::limits), and only then does the
//! engine see it. `DescribeEndpoints`, the health check and CORS preflights are
//! answered here, the same for the embedded engine and an external one.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use esb_listener::{AccessHook, AccessLine};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;

use crate::backend::Backend;
use crate::operations::Operation;
use crate::wire;

/// DynamoDB's limit on a request body.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// A body larger than this (or of unknown length) is read only while fewer than
/// [`LARGE_BODIES`] others are: the box's memory stays bounded however many clients
/// send 16 MB at once (DynamoDB's requests are mostly a few KB).
const LARGE_BODY_BYTES: u64 = 1024 * 1024;
const LARGE_BODIES: usize = 4;

/// The DynamoDB service of a box, ready to serve.
#[derive(Clone)]
pub struct DynamoFront {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    credentials: esb_auth::BoxCredentials,
    region: String,
    access: Option<AccessHook>,
    /// The value of [`crate::client::BOX_CALL`] on the box's own calls, which get no
    /// access line.
    box_token: Option<String>,
    large_bodies: tokio::sync::Semaphore,
}

impl DynamoFront {
    /// A front for `backend`, accepting requests signed with `credentials` for
    /// `region`; every answered request is reported to `access`, but for the box's own
    /// (those with `box_token` in [`crate::client::BOX_CALL`]).
    pub fn new(
        backend: Backend,
        credentials: esb_auth::BoxCredentials,
        region: &str,
        access: Option<AccessHook>,
        box_token: Option<String>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                backend,
                credentials,
                region: region.to_string(),
                access,
                box_token,
                large_bodies: tokio::sync::Semaphore::new(LARGE_BODIES),
            }),
        }
    }

    /// Answers one request from `source`.
    pub async fn handle(
        &self,
        req: Request<Incoming>,
        source: SocketAddr,
    ) -> Response<Full<Bytes>> {
        let started = Instant::now();
        let origin = req.headers().contains_key(http::header::ORIGIN);
        let box_call = match (
            &self.inner.box_token,
            req.headers().get(crate::client::BOX_CALL),
        ) {
            (Some(token), Some(given)) => esb_auth::secret_eq(token.as_bytes(), given.as_bytes()),
            _ => false,
        };
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let user_agent = req
            .headers()
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut resp = match (&method, path.as_str()) {
            (&Method::POST, "/") => self.api(req).await,
            (&Method::GET, "/") => wire::raw(
                StatusCode::OK,
                format!("healthy: dynamodb.{}.amazonaws.com ", self.inner.region),
            ),
            (&Method::OPTIONS, _) if origin => wire::preflight(req.headers()),
            // DynamoDB answers every other method and path with this body.
            _ => wire::raw(
                StatusCode::NOT_FOUND,
                "<UnknownOperationException/>\n".into(),
            ),
        };
        if origin {
            let h = resp.headers_mut();
            h.insert(
                http::header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
            // What a browser client (the JS SDK) must be able to read.
            h.insert(
                http::header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(
                    "x-amzn-RequestId,x-amzn-ErrorType,x-amzn-ErrorMessage,x-amz-crc32,Date",
                ),
            );
        }
        let request_id = wire::ensure_request_id(&mut resp);
        if let Some(hook) = self.inner.access.as_ref().filter(|_| !box_call) {
            hook(&AccessLine {
                request_id: &request_id,
                source,
                method: method.as_str(),
                path: &path,
                status: resp.status().as_u16(),
                duration_ms: started.elapsed().as_secs_f64() * 1000.0,
                user_agent: user_agent.as_deref(),
            });
        }
        resp
    }

    async fn api(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let (parts, body) = req.into_parts();
        let declared = parts
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
            return wire::too_large();
        }
        let _large = match declared {
            Some(n) if n <= LARGE_BODY_BYTES => None,
            _ => self.inner.large_bodies.acquire().await.ok(),
        };
        let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => return wire::too_large(),
            Err(e) => {
                tracing::debug!(service = "dynamodb", "request body not read: {e}");
                return wire::raw(StatusCode::BAD_REQUEST, String::new());
            }
        };
        let content_type = wire::ContentType::of(&parts.headers);
        let Some(content_type) = content_type else {
            // Neither JSON type, and something was sent: DynamoDB's 404.
            return wire::raw(
                StatusCode::NOT_FOUND,
                "<UnknownOperationException/>\n".into(),
            );
        };
        let Some(op) = parts
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .and_then(Operation::from_target)
        else {
            return wire::error(
                content_type,
                StatusCode::BAD_REQUEST,
                "com.amazon.coral.service#UnknownOperationException",
                None,
            );
        };
        if let Some(refused) = self.authenticate(&parts, &body, content_type) {
            return refused;
        }
        if std::str::from_utf8(&body).is_err() {
            // DynamoDB reads the body as JSON text: invalid UTF-8 cannot be JSON.
            return wire::error(
                content_type,
                StatusCode::BAD_REQUEST,
                "com.amazon.coral.service#SerializationException",
                None,
            );
        }
        if op == Operation::DescribeEndpoints {
            return wire::describe_endpoints(content_type, &parts.headers, &self.inner.region);
        }
        if op == Operation::DescribeLimits && matches!(self.inner.backend, Backend::Embedded(_)) {
            // The embedded engine does not know the operation; an external one answers
            // with its own (AWS: the account's) limits.
            return wire::describe_limits(content_type);
        }
        if let Err(e) = crate::limits::check(op, &body) {
            return wire::error(
                content_type,
                StatusCode::BAD_REQUEST,
                e.error_type(),
                Some(&e.to_string()),
            );
        }
        match self.inner.backend.forward(op, &parts.headers, body).await {
            Ok(resp) => resp,
            Err(e) => {
                tracing::error!(
                    service = "dynamodb",
                    operation = op.name(),
                    "engine unreachable: {e}"
                );
                wire::error(
                    content_type,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "com.amazonaws.dynamodb.v20120810#InternalServerError",
                    Some("Internal server error"),
                )
            }
        }
    }

    /// `Some(answer)` when the request is not signed with the box's key pair.
    fn authenticate(
        &self,
        parts: &http::request::Parts,
        body: &[u8],
        content_type: wire::ContentType,
    ) -> Option<Response<Full<Bytes>>> {
        let headers = &parts.headers;
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        // Missing or incomplete material: dynoxide words these exactly as DynamoDB.
        let material = dynoxide::auth_material::AuthMaterial {
            authorization: text("authorization"),
            query: parts.uri.query().unwrap_or(""),
            has_date_header: headers.contains_key("x-amz-date") || headers.contains_key("date"),
        };
        if let Some(body) = dynoxide::auth_material::validate(material) {
            return Some(wire::json(content_type, StatusCode::BAD_REQUEST, body));
        }
        if text("authorization").is_none() {
            // Complete query-string (presigned) material: the box takes header auth only.
            return Some(wire::error(
                content_type,
                StatusCode::BAD_REQUEST,
                "com.amazon.coral.service#MissingAuthenticationTokenException",
                Some("Request is missing Authentication Token"),
            ));
        }
        let signed = esb_auth::SignedRequest::of(parts, body);
        let verdict = esb_auth::verify(
            &signed,
            &self.inner.credentials,
            &self.inner.region,
            "dynamodb",
            SystemTime::now(),
        );
        verdict.err().map(|e| {
            wire::error(
                content_type,
                StatusCode::BAD_REQUEST,
                &format!("com.amazon.coral.service#{}", e.error_type()),
                Some(&e.to_string()),
            )
        })
    }
}

/// Serves `front` on `listener` (TLS when `tls` is given) until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    limits: esb_listener::Limits,
    front: DynamoFront,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let handler = move |req: Request<Incoming>, remote: SocketAddr| {
        let front = front.clone();
        async move { front.handle(req, remote).await }
    };
    esb_listener::serve(listener, tls, limits, handler, shutdown).await;
}
