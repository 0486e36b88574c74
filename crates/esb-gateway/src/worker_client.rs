//! Sends one invocation straight to a worker's Invoke API (`esb rie` on worker:port),
//! over kept-alive HTTP/1 connections.

use bytes::Bytes;
use esb_lambda::headers::WORKER_TOKEN as WORKER_TOKEN_HEADER;
use esb_lambda::headers::{CLIENT_CONTEXT, FUNCTION_ERROR, LOG_TYPE, TRACE_ID};
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use std::sync::Arc;

use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
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

/// The largest error document read for its `errorType`. The worker's own documents
/// (`Runtime.ExitError`, `Sandbox.Timedout`) are a few hundred bytes; a larger one is
/// the function's own error (a stack trace, say), never one of them, and is not parsed.
const SHORT_ERROR_MAX_BYTES: usize = 4096;

impl WorkerAnswer {
    /// The `errorType` of a function error whose document is small enough to be one the
    /// worker wrote itself (the runtime exited, timed out...); None for answers without
    /// `X-Amz-Function-Error` and for larger documents, which are not parsed.
    pub fn short_error_type(&self) -> Option<String> {
        #[derive(serde::Deserialize)]
        struct ErrorDoc {
            #[serde(rename = "errorType")]
            error_type: Option<String>,
        }
        if !self.headers.contains_key(FUNCTION_ERROR) || self.body.len() > SHORT_ERROR_MAX_BYTES {
            return None;
        }
        serde_json::from_slice::<ErrorDoc>(&self.body)
            .ok()?
            .error_type
    }
}

#[derive(Clone)]
pub struct WorkerClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl Default for WorkerClient {
    fn default() -> Self {
        Self::new(None)
    }
}

impl WorkerClient {
    /// Plain HTTP to workers on this machine; `tls` (the gateway's certificate, the box
    /// CA) for workers on other nodes, whose addresses are `https://`. Without it, such
    /// a worker is refused.
    pub fn new(tls: Option<Arc<rustls::ClientConfig>>) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.enforce_http(false);
        // Workers are on this host or its bridge: a connection takes microseconds. A
        // container that died leaves an address nobody answers (no refusal), so give up
        // quickly and let the call go to a fresh worker.
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let tls = tls.map_or_else(no_https, |c| (*c).clone());
        let connector = HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(connector);
        Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
        }
    }
}

/// A TLS client that trusts nothing: with no node identity, no `https://` worker.
fn no_https() -> rustls::ClientConfig {
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map(|b| {
            b.with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth()
        })
        .unwrap_or_else(|_| {
            rustls::ClientConfig::builder()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth()
        })
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
        // A worker on another node says `https://` (mutual TLS); local ones are host:port.
        let base = if address.starts_with("https://") {
            address.to_string()
        } else {
            format!("http://{address}")
        };
        let mut req = Request::post(format!(
            "{base}/2015-03-31/functions/function/invocations{query}"
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

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(function_error: bool, body: &str) -> WorkerAnswer {
        let mut headers = HeaderMap::new();
        if function_error {
            headers.insert(FUNCTION_ERROR, http::HeaderValue::from_static("Unhandled"));
        }
        WorkerAnswer {
            status: StatusCode::OK,
            headers,
            body: Bytes::from(body.to_string()),
        }
    }

    #[test]
    fn only_small_function_error_documents_are_read() {
        let exit = r#"{"errorType":"Runtime.ExitError","errorMessage":"RequestId: r Error: Runtime exited with error: exit status 1"}"#;
        assert_eq!(
            answer(true, exit).short_error_type().as_deref(),
            Some("Runtime.ExitError")
        );
        assert_eq!(
            answer(false, exit).short_error_type(),
            None,
            "a successful answer that looks like an error is the function's data"
        );
        let big = format!(
            r#"{{"errorType":"Runtime.ExitError","errorMessage":"{}"}}"#,
            "x".repeat(SHORT_ERROR_MAX_BYTES)
        );
        assert_eq!(answer(true, &big).short_error_type(), None);
        assert_eq!(answer(true, "not json").short_error_type(), None);
        assert_eq!(
            answer(true, r#"{"errorMessage":"m"}"#).short_error_type(),
            None
        );
    }
}
