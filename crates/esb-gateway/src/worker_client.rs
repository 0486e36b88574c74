//! Sends one invocation straight to a worker's Invoke API (`esb rie` on worker:port),
//! over kept-alive HTTP/1 connections.

use bytes::Bytes;
use esb_lambda::headers::WORKER_TOKEN as WORKER_TOKEN_HEADER;
use esb_lambda::headers::{CLIENT_CONTEXT, LOG_TYPE, TRACE_ID};
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// Request headers the worker understands and the caller may set.
const FORWARDED: [&str; 5] = [
    CLIENT_CONTEXT,
    TRACE_ID,
    LOG_TYPE,
    "x-amz-cognito-identity",
    "x-amz-tenant-id",
];

/// How long connecting to a worker may take before it counts as unreachable.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
#[error("worker {address} did not answer: {reason}")]
pub struct WorkerUnreachable {
    pub address: String,
    pub reason: String,
    /// No connection was made: the event was not delivered and can go elsewhere.
    pub not_delivered: bool,
}

pub struct WorkerAnswer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

#[derive(Clone)]
pub struct WorkerClient {
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Default for WorkerClient {
    fn default() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        // Workers are on this host or its bridge: a connection takes microseconds. A
        // container that died leaves an address nobody answers (no refusal), so give up
        // quickly and let the call go to a fresh worker.
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
        }
    }
}

impl WorkerClient {
    /// Sends one invocation to the worker at `address` known by `token` (empty: any).
    pub async fn invoke(
        &self,
        address: &str,
        token: &str,
        payload: Bytes,
        headers: &HeaderMap,
        qualifier: Option<&str>,
    ) -> Result<WorkerAnswer, WorkerUnreachable> {
        let unreachable = |reason: String| WorkerUnreachable {
            address: address.to_string(),
            reason,
            not_delivered: false,
        };
        let query = qualifier
            .map(|q| format!("?Qualifier={q}"))
            .unwrap_or_default();
        let mut req = Request::post(format!(
            "http://{address}/2015-03-31/functions/function/invocations{query}"
        ));
        for name in FORWARDED {
            if let Some(v) = headers.get(name) {
                req = req.header(name, v);
            }
        }
        if !token.is_empty() {
            req = req.header(WORKER_TOKEN_HEADER, token);
        }
        let req = req
            .body(Full::new(payload))
            .map_err(|e| unreachable(e.to_string()))?;
        let resp = self
            .client
            .request(req)
            .await
            .map_err(|e| WorkerUnreachable {
                not_delivered: e.is_connect(),
                ..unreachable(e.to_string())
            })?;
        if resp.status() == StatusCode::MISDIRECTED_REQUEST {
            // Another worker lives at this address now (the one we meant died): it
            // refused the event without running it.
            return Err(WorkerUnreachable {
                not_delivered: true,
                ..unreachable("another worker answers at this address".into())
            });
        }
        let (parts, body) = resp.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| unreachable(e.to_string()))?
            .to_bytes();
        Ok(WorkerAnswer {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}
