//! The SQS listener's front: one HTTP request to one answer. A request speaks the JSON
//! protocol (`X-Amz-Target: AmazonSQS.<Operation>`, current SDKs) or the query
//! protocol (a form with `Action=`, posted to `/` or to a queue's URL, or a GET),
//! is signed with Signature V4 (service `sqs`) by the box's key pair, and is answered
//! in the protocol it spoke. With an external engine ([`crate::forward`]), a request
//! that passes the box's signature check is forwarded to it instead.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use esb_listener::{AccessHook, AccessLine};
use http::{HeaderMap, Method, Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;

use crate::engine::Sqs;
use crate::error::{ErrorKind, SqsError};
use crate::forward::Engine;
use crate::input::Input;
use crate::operations::{self, Context, OPERATIONS};
use crate::query_protocol;
use crate::queue_attributes::MAX_MESSAGE_BYTES;
use crate::wire::{self, Protocol};

const TARGET_PREFIX: &str = "AmazonSQS.";
/// The largest message, encoded the costliest way (a form's `%XX` triples each byte),
/// plus room for the rest of a batch request.
pub const MAX_BODY_BYTES: usize = 3 * MAX_MESSAGE_BYTES + 256 * 1024;
/// A body larger than this (or of unknown length) is read only while fewer than
/// [`LARGE_BODIES`] others are: memory stays bounded however many clients send big
/// messages at once.
const LARGE_BODY_BYTES: u64 = 256 * 1024;
const LARGE_BODIES: usize = 4;

/// The SQS service of a box, ready to serve.
#[derive(Clone)]
pub struct SqsFront {
    inner: Arc<Inner>,
    /// Queue URLs say `https` when the listener has TLS.
    https: bool,
    /// The value of [`crate::queue_mapping::BOX_CALL`] on the box's own calls, which
    /// get no access line (a mapping's long polls would fill the log).
    box_token: Option<Arc<str>>,
}

struct Inner {
    backend: Backend,
    /// The box's region (what clients sign for) and account (in its queue URLs).
    region: String,
    account: String,
    credentials: esb_auth::BoxCredentials,
    access: Option<AccessHook>,
    large_bodies: tokio::sync::Semaphore,
}

impl SqsFront {
    /// A front for `sqs` accepting requests signed with `credentials`; every answered
    /// request is reported to `access`.
    pub fn new(
        sqs: Sqs,
        credentials: esb_auth::BoxCredentials,
        access: Option<AccessHook>,
    ) -> Self {
        let (region, account) = (sqs.region().to_string(), sqs.account().to_string());
        Self::with_backend(Backend::Embedded(sqs), region, account, credentials, access)
    }

    /// A front forwarding to the external `engine` what is signed with `credentials`
    /// for the box's `region`; its queue URLs name the box's `account`.
    pub fn forwarding(
        engine: Arc<Engine>,
        region: &str,
        account: &str,
        credentials: esb_auth::BoxCredentials,
        access: Option<AccessHook>,
    ) -> Self {
        Self::with_backend(
            Backend::External(engine),
            region.to_string(),
            account.to_string(),
            credentials,
            access,
        )
    }

    fn with_backend(
        backend: Backend,
        region: String,
        account: String,
        credentials: esb_auth::BoxCredentials,
        access: Option<AccessHook>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                backend,
                region,
                account,
                credentials,
                access,
                large_bodies: tokio::sync::Semaphore::new(LARGE_BODIES),
            }),
            https: false,
            box_token: None,
        }
    }

    /// The same front, leaving out of the access log the calls that carry `token`.
    pub fn with_box_token(mut self, token: &str) -> Self {
        self.box_token = Some(Arc::from(token));
        self
    }

    /// The same front, building `https://` (or `http://`) queue URLs.
    pub fn with_https(mut self, https: bool) -> Self {
        self.https = https;
        self
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
        let box_call = match (
            &self.box_token,
            req.headers().get(crate::queue_mapping::BOX_CALL),
        ) {
            (Some(token), Some(v)) => esb_auth::secret_eq(token.as_bytes(), v.as_bytes()),
            _ => false,
        };
        let request_id = wire::request_id();
        let resp = self.answer(req, &request_id).await;
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

    async fn answer(&self, req: Request<Incoming>, request_id: &str) -> Response<Full<Bytes>> {
        let (parts, body) = req.into_parts();
        let protocol = protocol_of(&parts.headers);
        if !matches!(parts.method, Method::POST | Method::GET) {
            let e = SqsError::new(
                ErrorKind::InvalidAction,
                format!("The HTTP method {} is not supported.", parts.method),
            );
            return wire::error(protocol, &e, request_id);
        }
        let body = match self.read_body(&parts.headers, body).await {
            Ok(b) => b,
            Err(e) => return wire::error(protocol, &e, request_id),
        };
        let ctx = Context {
            base_url: self.base_url(&parts.headers),
            sender_id: self.inner.account.clone(),
        };
        let sqs = match &self.inner.backend {
            Backend::Embedded(sqs) => sqs,
            Backend::External(engine) => {
                return match self.forward(engine, protocol, &parts, &body, &ctx).await {
                    Ok(resp) => resp,
                    Err(e) => wire::error(protocol, &e, request_id),
                };
            }
        };
        match protocol {
            Protocol::Json => match self.json(sqs, &parts, &body, &ctx).await {
                Ok(v) => wire::json_ok(&v, request_id),
                Err(e) => wire::error(protocol, &e, request_id),
            },
            Protocol::Query => match self.query(sqs, &parts, &body, &ctx).await {
                Ok((action, v)) => wire::xml_ok(&action, &v, request_id),
                Err(e) => wire::error(protocol, &e, request_id),
            },
        }
    }

    async fn read_body(&self, headers: &HeaderMap, body: Incoming) -> Result<Bytes, SqsError> {
        let too_large = || {
            SqsError::new(
                ErrorKind::RequestTooLarge,
                format!("The request body exceeds {MAX_BODY_BYTES} bytes."),
            )
        };
        let declared = headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
            return Err(too_large());
        }
        let _large = match declared {
            Some(n) if n <= LARGE_BODY_BYTES => None,
            _ => self.inner.large_bodies.acquire().await.ok(),
        };
        match Limited::new(body, MAX_BODY_BYTES).collect().await {
            Ok(b) => Ok(b.to_bytes()),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
            Err(_) => Err(SqsError::new(
                ErrorKind::Serialization,
                "The request body could not be read.",
            )),
        }
    }

    fn base_url(&self, headers: &HeaderMap) -> String {
        let host = headers
            .get(http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .filter(|h| !h.is_empty() && !h.contains(['/', ' ']))
            .unwrap_or("localhost");
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{host}")
    }

    fn authenticate(&self, parts: &http::request::Parts, body: &[u8]) -> Result<(), SqsError> {
        let signed = esb_auth::SignedRequest::of(parts, body);
        esb_auth::verify(
            &signed,
            &self.inner.credentials,
            &self.inner.region,
            "sqs",
            SystemTime::now(),
        )
        .map_err(|e| SqsError::from_auth(&e))
    }

    /// A request for the external engine: checked against the box's key, then
    /// forwarded.
    async fn forward(
        &self,
        engine: &Engine,
        protocol: Protocol,
        parts: &http::request::Parts,
        body: &[u8],
        ctx: &Context,
    ) -> Result<Response<Full<Bytes>>, SqsError> {
        let operation = parts
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .and_then(|t| t.strip_prefix(TARGET_PREFIX))
            .filter(|op| !op.is_empty() && op.chars().all(|c| c.is_ascii_alphanumeric()))
            .map(str::to_string);
        self.authenticate(parts, body)?;
        let box_base = format!("{}/{}", ctx.base_url, self.inner.account);
        match protocol {
            Protocol::Json => {
                let operation = operation.ok_or_else(|| {
                    SqsError::new(
                        ErrorKind::InvalidAction,
                        "The requested operation is not recognized.",
                    )
                })?;
                engine
                    .forward_json(&operation, &parts.headers, body, &box_base)
                    .await
            }
            Protocol::Query => {
                let mut pairs =
                    query_protocol::parse_form(parts.uri.query().unwrap_or("").as_bytes())?;
                if parts.method == Method::POST {
                    pairs.extend(query_protocol::parse_form(body)?);
                }
                let path = parts.uri.path().trim_matches('/');
                let path_queue = (!path.is_empty()).then_some(path);
                engine
                    .forward_query(pairs, path_queue, &parts.headers, &box_base)
                    .await
            }
        }
    }

    async fn json(
        &self,
        sqs: &Sqs,
        parts: &http::request::Parts,
        body: &[u8],
        ctx: &Context,
    ) -> Result<serde_json::Value, SqsError> {
        let operation = parts
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .and_then(|t| t.strip_prefix(TARGET_PREFIX))
            .filter(|op| OPERATIONS.contains(op))
            .map(str::to_string);
        self.authenticate(parts, body)?;
        let operation = operation.ok_or_else(|| {
            SqsError::new(
                ErrorKind::InvalidAction,
                "The requested operation is not recognized.",
            )
        })?;
        let input = Input::parse(body)?;
        operations::call(sqs, &operation, input, ctx).await
    }

    async fn query(
        &self,
        sqs: &Sqs,
        parts: &http::request::Parts,
        body: &[u8],
        ctx: &Context,
    ) -> Result<(String, serde_json::Value), SqsError> {
        self.authenticate(parts, body)?;
        let mut pairs = query_protocol::parse_form(parts.uri.query().unwrap_or("").as_bytes())?;
        if parts.method == Method::POST {
            pairs.extend(query_protocol::parse_form(body)?);
        }
        let path = parts.uri.path().trim_matches('/');
        let queue_url = (!path.is_empty()).then(|| format!("{}/{path}", ctx.base_url));
        let (action, input) = query_protocol::to_input(pairs, queue_url)?;
        if !OPERATIONS.contains(&action.as_str()) {
            return Err(SqsError::new(
                ErrorKind::InvalidAction,
                format!("The action {action} is not valid for this endpoint."),
            ));
        }
        let out = operations::call(sqs, &action, input, ctx).await?;
        Ok((action, out))
    }
}

/// What answers the requests: the embedded engine, or an external one.
enum Backend {
    Embedded(Sqs),
    External(Arc<Engine>),
}

/// JSON when the request says so (its target or its content type), else query.
fn protocol_of(headers: &HeaderMap) -> Protocol {
    let json_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.to_ascii_lowercase().starts_with("application/x-amz-json"));
    if headers.contains_key("x-amz-target") || json_type {
        Protocol::Json
    } else {
        Protocol::Query
    }
}

/// Serves `front` on `listener` (TLS when `tls` is given) until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    limits: esb_listener::Limits,
    front: SqsFront,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let front = front.with_https(tls.is_some());
    let handler = move |req: Request<Incoming>, remote: SocketAddr| {
        let front = front.clone();
        async move { front.handle(req, remote).await }
    };
    esb_listener::serve(listener, tls, limits, handler, shutdown).await;
}
