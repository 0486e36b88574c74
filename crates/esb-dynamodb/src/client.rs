//! A DynamoDB (and DynamoDB Streams) JSON client for what the box does itself:
//! creating template tables, polling streams for Lambda, reading `esb status`. It
//! speaks the public API, signed, so the same code drives the embedded engine,
//! ScyllaDB Alternator or AWS.

use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::operations::Operation;

/// The header by which the box's own calls (template tables, stream mappings) say
/// they are its own, to the box's front: its value is a secret of the running box.
pub const BOX_CALL: &str = "x-esb-box-call";

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The engine answered with an error; `error_type` is the short name
    /// (`ResourceNotFoundException`).
    #[error("{error_type}: {message}")]
    Api {
        status: u16,
        error_type: String,
        message: String,
    },
    #[error("{0}")]
    Transport(String),
}

impl CallError {
    /// Whether the engine said this error's name.
    pub fn is(&self, name: &str) -> bool {
        matches!(self, Self::Api { error_type, .. } if error_type == name)
    }
}

/// A signed client of one DynamoDB endpoint.
#[derive(Clone)]
pub struct DynamoClient {
    endpoint: String,
    host: String,
    credentials: esb_auth::BoxCredentials,
    region: String,
    http: reqwest::Client,
    /// The box's own calls say so (see [`BOX_CALL`]).
    box_call: Option<String>,
}

impl DynamoClient {
    /// A client of `endpoint` (`https://host:port/`), trusting `ca` (PEM) besides the
    /// public roots.
    pub fn new(
        endpoint: &str,
        credentials: esb_auth::BoxCredentials,
        region: &str,
        ca: Option<&[u8]>,
    ) -> Result<Self, CallError> {
        let url = reqwest::Url::parse(endpoint)
            .map_err(|e| CallError::Transport(format!("endpoint {endpoint}: {e}")))?;
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            (None, _) => {
                return Err(CallError::Transport(format!(
                    "endpoint {endpoint} has no host"
                )));
            }
        };
        let mut builder = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .pool_idle_timeout(Duration::from_secs(30));
        if let Some(pem) = ca {
            let cert = reqwest::Certificate::from_pem(pem)
                .map_err(|e| CallError::Transport(format!("CA certificate: {e}")))?;
            builder = builder.add_root_certificate(cert);
        }
        let http = builder
            .build()
            .map_err(|e| CallError::Transport(e.to_string()))?;
        Ok(Self {
            endpoint: url.to_string(),
            host,
            credentials,
            region: region.to_string(),
            http,
            box_call: None,
        })
    }

    /// Marks every call as the box's own with `token` (the front then writes no access
    /// line for it: a stream mapping polls a few times a second, forever).
    pub fn as_box(mut self, token: &str) -> Self {
        self.box_call = Some(token.to_string());
        self
    }

    /// The endpoint this client calls.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Calls `op` with `body`; the answer's JSON.
    pub async fn call(&self, op: Operation, body: &Value) -> Result<Value, CallError> {
        let body = serde_json::to_vec(body).map_err(|e| CallError::Transport(e.to_string()))?;
        let (status, answer) = self.send(op, body).await?;
        let value: Value = if answer.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&answer).map_err(|e| {
                CallError::Transport(format!(
                    "{} answered {status} with non-JSON: {e}",
                    op.name()
                ))
            })?
        };
        if status.is_success() {
            return Ok(value);
        }
        let error_type = value
            .get("__type")
            .and_then(Value::as_str)
            .unwrap_or("UnknownError");
        let error_type = error_type
            .rsplit('#')
            .next()
            .unwrap_or(error_type)
            .to_string();
        let message = value
            .get("message")
            .or_else(|| value.get("Message"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        Err(CallError::Api {
            status: status.as_u16(),
            error_type,
            message,
        })
    }

    /// Sends `body` for `op` signed; the raw status and body.
    pub async fn send(
        &self,
        op: Operation,
        body: Vec<u8>,
    ) -> Result<(reqwest::StatusCode, bytes::Bytes), CallError> {
        let headers = self.signed_headers(op, &body)?;
        let resp = self
            .http
            .post(&self.endpoint)
            .headers(headers)
            .body(body)
            .send()
            .await
            .map_err(|e| CallError::Transport(format!("{}: {}", self.endpoint, chain(&e))))?;
        let status = resp.status();
        let answer = resp
            .bytes()
            .await
            .map_err(|e| CallError::Transport(format!("{}: {e}", self.endpoint)))?;
        Ok((status, answer))
    }

    /// The headers of a signed call of `op` with `body`.
    fn signed_headers(&self, op: Operation, body: &[u8]) -> Result<http::HeaderMap, CallError> {
        let mut headers = http::HeaderMap::new();
        let value = |v: &str| {
            http::HeaderValue::from_str(v).map_err(|e| CallError::Transport(e.to_string()))
        };
        headers.insert(http::header::HOST, value(&self.host)?);
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/x-amz-json-1.0"),
        );
        headers.insert("x-amz-target", value(&op.target())?);
        if let Some(token) = &self.box_call {
            headers.insert(BOX_CALL, value(token)?);
        }
        let signed = esb_auth::sign_headers(
            &self.credentials,
            &self.region,
            "dynamodb",
            &esb_auth::SignedRequest {
                method: "POST",
                uri: &self.endpoint,
                headers: &headers,
                body,
            },
            SystemTime::now(),
        )
        .map_err(|e| CallError::Transport(e.to_string()))?;
        for (name, v) in signed {
            let name = http::HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| CallError::Transport(e.to_string()))?;
            headers.insert(name, value(&v)?);
        }
        // reqwest sets Host from the URL itself.
        headers.remove(http::header::HOST);
        Ok(headers)
    }
}

/// An error with its causes (reqwest's own message rarely says what failed).
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
