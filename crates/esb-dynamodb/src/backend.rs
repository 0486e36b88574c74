//! Where the front sends a request it accepted: the embedded engine on its loopback
//! port, or an external engine (ScyllaDB Alternator, AWS DynamoDB) re-signed with that
//! engine's key pair.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::external::External;
use crate::operations::Operation;

/// Why a request could not be handed on.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ForwardError(pub String);

/// The engine behind the front.
#[derive(Clone)]
pub enum Backend {
    Embedded(Box<Embedded>),
    External(Arc<External>),
}

/// How the embedded engine begins every ARN it writes (its own region and account).
const ENGINE_ARN_PREFIX: &str = "arn:aws:dynamodb:dynoxide:000000000000:";

/// The embedded engine's loopback listener, reached over kept-alive connections.
#[derive(Clone)]
pub struct Embedded {
    url: http::Uri,
    http: Client<HttpConnector, Full<Bytes>>,
    /// `arn:aws:dynamodb:<region>:<account>:`, the box's, for the engine's ARNs.
    arn_prefix: String,
}

impl Embedded {
    /// The engine at `addr`, answering with ARNs of the box's `region` and `account`
    /// (the engine reads any region and account in the ARNs it is sent).
    pub fn new(
        addr: std::net::SocketAddr,
        region: &str,
        account: &str,
    ) -> Result<Self, ForwardError> {
        let url = format!("http://{addr}/")
            .parse()
            .map_err(|e| ForwardError(format!("engine address {addr}: {e}")))?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(std::time::Duration::from_secs(30))
            .build(connector);
        Ok(Self {
            url,
            http,
            arn_prefix: format!("arn:aws:dynamodb:{region}:{account}:"),
        })
    }

    async fn forward(
        &self,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<Response<Full<Bytes>>, ForwardError> {
        let mut req = Request::post(self.url.clone());
        for (name, value) in crate::front::forwarded_headers(headers) {
            req = req.header(name, value);
        }
        // The engine checks only that auth material is there; the front checked it.
        for name in ["authorization", "x-amz-date"] {
            if let Some(v) = headers.get(name) {
                req = req.header(name, v);
            }
        }
        let req = req
            .body(Full::new(body))
            .map_err(|e| ForwardError(e.to_string()))?;
        let resp = self
            .http
            .request(req)
            .await
            .map_err(|e| ForwardError(format!("embedded engine: {e}")))?;
        let (parts, body) = resp.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| ForwardError(format!("embedded engine: {e}")))?
            .to_bytes();
        let mut parts = parts;
        // hyper writes the length of what is sent; the engine's may be stale below.
        parts.headers.remove(http::header::CONTENT_LENGTH);
        let body = match self.box_arns(&body) {
            Some(rewritten) => {
                crate::wire::set_crc(&mut parts.headers, &rewritten);
                rewritten
            }
            None => body,
        };
        Ok(Response::from_parts(parts, Full::new(body)))
    }

    /// `body` with the engine's ARNs written as the box's (what the template's
    /// `GetAtt Arn` and Lambda's `eventSourceARN` say).
    fn box_arns(&self, body: &[u8]) -> Option<Bytes> {
        match std::str::from_utf8(body) {
            Ok(text) if text.contains(ENGINE_ARN_PREFIX) => Some(Bytes::from(
                text.replace(ENGINE_ARN_PREFIX, &self.arn_prefix),
            )),
            _ => None,
        }
    }
}

impl Backend {
    /// Hands `body` (for `op`, as the client sent it) to the engine; its answer.
    pub async fn forward(
        &self,
        op: Operation,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<Response<Full<Bytes>>, ForwardError> {
        let mut resp = match self {
            Self::Embedded(e) => e.forward(headers, body).await?,
            Self::External(e) => e.forward(op, headers, body).await?,
        };
        // The engine's own identification stays behind the front.
        let h = resp.headers_mut();
        h.remove(http::header::SERVER);
        h.remove("x-dynoxide-version");
        h.remove(http::header::CONNECTION);
        h.remove("keep-alive");
        Ok(resp)
    }
}
