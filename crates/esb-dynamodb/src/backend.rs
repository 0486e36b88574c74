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

use crate::client::DynamoClient;
use crate::external::External;
use crate::operations::Operation;

/// Why a request could not be handed on.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ForwardError(pub String);

/// The engine behind the front.
#[derive(Clone)]
pub enum Backend {
    Embedded(Embedded),
    External(Arc<External>),
}

/// The embedded engine's loopback listener, reached over kept-alive connections.
#[derive(Clone)]
pub struct Embedded {
    url: http::Uri,
    http: Client<HttpConnector, Full<Bytes>>,
}

impl Embedded {
    pub fn new(addr: std::net::SocketAddr) -> Result<Self, ForwardError> {
        let url = format!("http://{addr}/")
            .parse()
            .map_err(|e| ForwardError(format!("engine address {addr}: {e}")))?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(std::time::Duration::from_secs(30))
            .build(connector);
        Ok(Self { url, http })
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
        Ok(Response::from_parts(parts, Full::new(body)))
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

    /// A client of the engine itself, for what the box does on its own behalf
    /// (creating template tables, polling streams): signed with `credentials` for the
    /// embedded engine (which needs no more than a signature's presence), with the
    /// external engine's own key pair otherwise.
    pub fn client(
        &self,
        credentials: &esb_auth::BoxCredentials,
        region: &str,
    ) -> Result<DynamoClient, ForwardError> {
        match self {
            Self::Embedded(e) => {
                DynamoClient::new(&e.url.to_string(), credentials.clone(), region, None)
                    .map_err(|e| ForwardError(e.to_string()))
            }
            Self::External(e) => e.client().map_err(|e| ForwardError(e.to_string())),
        }
    }
}
