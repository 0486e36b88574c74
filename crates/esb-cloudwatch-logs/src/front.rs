//! The CloudWatch Logs listener's front: the JSON protocol's envelope around the
//! operations. A request is `POST /` with `X-Amz-Target: Logs_20140328.<Operation>`
//! and a JSON body, signed with Signature V4 (service `logs`) by the box's key pair;
//! answers are JSON with `x-amzn-RequestId`, errors `{"__type", "message"}`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use esb_listener::{AccessHook, AccessLine};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::params::Params;
use crate::service::{Caller, Service};

const TARGET_PREFIX: &str = "Logs_20140328.";
const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
/// A PutLogEvents batch is at most 1 MiB of messages; its JSON (escapes, 10,000
/// timestamps) fits in a few more.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// A body larger than this (or of unknown length) is read only while fewer than
/// [`LARGE_BODIES`] others are, so the box's memory stays bounded however many clients
/// send big batches at once.
const LARGE_BODY_BYTES: u64 = 256 * 1024;
const LARGE_BODIES: usize = 4;

#[derive(Clone)]
pub struct LogsFront {
    inner: Arc<Inner>,
}

struct Inner {
    service: Arc<Service>,
    credentials: esb_auth::BoxCredentials,
    access: Option<AccessHook>,
    large_bodies: tokio::sync::Semaphore,
}

impl LogsFront {
    pub fn new(
        service: Service,
        credentials: esb_auth::BoxCredentials,
        access: Option<AccessHook>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                service: Arc::new(service),
                credentials,
                access,
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
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let user_agent = req
            .headers()
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut resp = match (&method, path.as_str()) {
            (&Method::POST, "/") => match self.api(req).await {
                Ok(v) => json_response(StatusCode::OK, &v),
                Err(e) => error_response(&e),
            },
            (&Method::GET, "/") => json_response(StatusCode::OK, &json!({"status": "healthy"})),
            _ => error_response(&ApiError::unknown_operation()),
        };
        let request_id = uuid::Uuid::new_v4().to_string();
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            resp.headers_mut().insert("x-amzn-requestid", v);
        }
        if let Some(hook) = &self.inner.access {
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

    async fn api(&self, req: Request<Incoming>) -> Result<Value, ApiError> {
        let (parts, body) = req.into_parts();
        let declared = parts
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let _large = match declared {
            Some(n) if n <= LARGE_BODY_BYTES => None,
            _ => self.inner.large_bodies.acquire().await.ok(),
        };
        let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                return Err(ApiError::invalid(format!(
                    "Upload too large: the request body exceeds {MAX_BODY_BYTES} bytes"
                )));
            }
            Err(_) => {
                return Err(ApiError::serialization(
                    "The request body could not be read.",
                ));
            }
        };
        let operation = parts
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .and_then(|t| t.strip_prefix(TARGET_PREFIX))
            .ok_or_else(ApiError::unknown_operation)?
            .to_string();
        self.authenticate(&parts, &body)?;
        let params = Params::parse(&body)?;
        let caller = caller(&parts.headers);
        self.inner.service.call(&operation, params, caller).await
    }

    fn authenticate(&self, parts: &http::request::Parts, body: &[u8]) -> Result<(), ApiError> {
        let signed = esb_auth::SignedRequest::of(parts, body);
        esb_auth::verify(
            &signed,
            &self.inner.credentials,
            &self.inner.service.region,
            "logs",
            SystemTime::now(),
        )
        .map_err(|e| ApiError {
            kind: e.error_type(),
            message: e.to_string(),
            status: StatusCode::BAD_REQUEST,
        })
    }
}

/// The function (session token) and trace (`X-Amzn-Trace-Id`, which the SDKs send from
/// inside a function) of a request.
fn caller(headers: &HeaderMap) -> Caller {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    Caller {
        function: text("x-amz-security-token")
            .and_then(esb_auth::session_token::function_of)
            .map(str::to_string),
        trace_id: text("x-amzn-trace-id").and_then(|t| {
            t.split(';')
                .find_map(|part| part.trim().strip_prefix("Root="))
                .map(str::to_string)
        }),
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(CONTENT_TYPE),
    );
    resp
}

fn error_response(e: &ApiError) -> Response<Full<Bytes>> {
    let mut resp = json_response(e.status, &json!({"__type": e.kind, "message": e.message}));
    if let Ok(v) = HeaderValue::from_str(e.kind) {
        resp.headers_mut().insert("x-amzn-errortype", v);
    }
    resp
}

/// Serves `front` on `listener` (TLS when `tls` is given) until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    limits: esb_listener::Limits,
    front: LogsFront,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let handler = move |req: Request<Incoming>, remote: SocketAddr| {
        let front = front.clone();
        async move { front.handle(req, remote).await }
    };
    esb_listener::serve(listener, tls, limits, handler, shutdown).await;
}
