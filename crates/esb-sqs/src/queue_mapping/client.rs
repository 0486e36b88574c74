//! A signed SQS client speaking the public JSON protocol (`X-Amz-Target:
//! AmazonSQS.<Action>`, `application/x-amz-json-1.0`, Signature V4 for `sqs`), so the
//! same poller reads the box's own SQS, moto, ElasticMQ or AWS.

use std::time::{Duration, SystemTime};

use serde_json::Value;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The service answered with an error; `error_type` is the short name
    /// (`QueueDoesNotExist`).
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
    /// Whether the service said this error's name.
    pub fn is(&self, name: &str) -> bool {
        matches!(self, Self::Api { error_type, .. } if error_type == name)
    }
}

/// A signed client of one SQS endpoint.
#[derive(Clone)]
pub struct SqsClient {
    endpoint: String,
    host: String,
    credentials: esb_auth::BoxCredentials,
    region: String,
    http: reqwest::Client,
    /// The box's own calls say so (see [`BOX_CALL`]).
    box_call: Option<String>,
    /// Find queues by name alone, not by the account their ARN names (see
    /// [`SqsClient::by_queue_name`]).
    by_name: bool,
}

/// The header by which the box's own calls (its queue mappings, `esb status`) say they
/// are its own, to the box's front, which leaves them out of the access log: its value
/// is a secret of the running box. Not signed: it changes nothing of what is done.
pub const BOX_CALL: &str = "x-esb-box-call";

/// The JSON protocol's content type.
pub(crate) const JSON_CONTENT_TYPE: &str = "application/x-amz-json-1.0";

impl SqsClient {
    /// A client of `endpoint` (`https://host:port/`) signing for `region`, trusting
    /// `ca` (PEM) besides the public roots.
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
        // Above the longest long poll (20 s), so a receive is never cut short by us.
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
            by_name: false,
        })
    }

    /// The same client, finding a queue by its name alone (GetQueueUrl without an owner
    /// account): for an external engine, whose account is not the one the box's ARNs
    /// name.
    pub fn by_queue_name(mut self) -> Self {
        self.by_name = true;
        self
    }

    /// Whether queues are found by name alone (see [`SqsClient::by_queue_name`]).
    pub fn finds_by_name(&self) -> bool {
        self.by_name
    }

    /// The same client, marking its calls as the box's own with `token`.
    pub fn as_box(mut self, token: &str) -> Self {
        self.box_call = Some(token.to_string());
        self
    }

    /// The endpoint this client calls.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The region this client signs for.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Calls `action` (`ReceiveMessage`, `CreateQueue`...) with `body`; the answer's JSON
    /// (`Null` for an empty answer).
    pub async fn call(&self, action: &str, body: &Value) -> Result<Value, CallError> {
        let body = serde_json::to_vec(body).map_err(|e| CallError::Transport(e.to_string()))?;
        let resp = self
            .post(JSON_CONTENT_TYPE, Some(action), &[], body)
            .await?;
        let status = resp.status();
        let answer = resp
            .bytes()
            .await
            .map_err(|e| CallError::Transport(format!("{}: {e}", self.endpoint)))?;
        let value: Value = if answer.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&answer).map_err(|e| {
                CallError::Transport(format!("{action} answered {status} with non-JSON: {e}"))
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

    /// POSTs `body` to the endpoint, signed: a JSON call of `action` (`target`), or a
    /// query-protocol form (no target); `extra` headers go along, signed too.
    pub(crate) async fn post(
        &self,
        content_type: &str,
        target: Option<&str>,
        extra: &[(http::HeaderName, http::HeaderValue)],
        body: Vec<u8>,
    ) -> Result<reqwest::Response, CallError> {
        let headers = self.signed_headers(content_type, target, extra, &body)?;
        self.http
            .post(&self.endpoint)
            .headers(headers)
            .body(body)
            .send()
            .await
            .map_err(|e| CallError::Transport(format!("{}: {}", self.endpoint, chain(&e))))
    }

    /// The headers of a signed POST of `body`.
    fn signed_headers(
        &self,
        content_type: &str,
        target: Option<&str>,
        extra: &[(http::HeaderName, http::HeaderValue)],
        body: &[u8],
    ) -> Result<http::HeaderMap, CallError> {
        let mut headers = http::HeaderMap::new();
        let value = |v: &str| {
            http::HeaderValue::from_str(v).map_err(|e| CallError::Transport(e.to_string()))
        };
        headers.insert(http::header::HOST, value(&self.host)?);
        headers.insert(http::header::CONTENT_TYPE, value(content_type)?);
        if let Some(action) = target {
            headers.insert("x-amz-target", value(&format!("AmazonSQS.{action}"))?);
        }
        for (name, v) in extra {
            headers.insert(name.clone(), v.clone());
        }
        let signed = esb_auth::sign_headers(
            &self.credentials,
            &self.region,
            "sqs",
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
        if let Some(token) = &self.box_call {
            headers.insert(BOX_CALL, value(token)?);
        }
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
