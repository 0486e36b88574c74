//! ESB's own signed client of an AWS JSON-protocol endpoint (DynamoDB, SQS), for what
//! the box does itself (template tables and queues, stream and queue mappings,
//! `esb status`): requests signed with Signature V4 for one service and region, so the
//! same code drives the box's embedded services, an external engine or AWS.

use std::time::{Duration, SystemTime};

use serde_json::Value;

/// The header by which the box's own calls say they are its own, to the box's front,
/// which leaves them out of the access log: its value is a secret of the running box.
/// Not signed: it changes nothing of what is done.
pub const BOX_CALL: &str = "x-esb-box-call";

/// The JSON protocol's content type.
pub const JSON_CONTENT_TYPE: &str = "application/x-amz-json-1.0";

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The service answered with an error; `error_type` is the short name
    /// (`ResourceNotFoundException`, `QueueDoesNotExist`).
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

/// A signed client of one endpoint of one service.
#[derive(Clone)]
pub struct SignedClient {
    endpoint: String,
    host: String,
    credentials: crate::credentials::BoxCredentials,
    region: String,
    service: &'static str,
    http: reqwest::Client,
    /// The box's own calls say so (see [`BOX_CALL`]).
    box_call: Option<String>,
}

impl SignedClient {
    /// A client of `endpoint` (`https://host:port/`) signing for `service` in `region`,
    /// trusting `ca` (PEM) besides the public roots.
    pub fn new(
        endpoint: &str,
        credentials: crate::credentials::BoxCredentials,
        region: &str,
        service: &'static str,
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
        // Above the longest SQS long poll (20 s), so a receive is never cut short by us.
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
            service,
            http,
            box_call: None,
        })
    }

    /// Marks every call as the box's own with `token` (the front then writes no access
    /// line for it: a mapping polls a few times a second, forever).
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

    /// Calls `target` (`DynamoDB_20120810.GetItem`, `AmazonSQS.ReceiveMessage`) with
    /// `body`; the answer's JSON (`Null` for an empty answer), or the service's error
    /// (`__type`, `message`).
    pub async fn call(&self, target: &str, body: &Value) -> Result<Value, CallError> {
        let body = serde_json::to_vec(body).map_err(|e| CallError::Transport(e.to_string()))?;
        let resp = self
            .post(JSON_CONTENT_TYPE, Some(target), &[], body)
            .await?;
        let status = resp.status();
        let answer = resp
            .bytes()
            .await
            .map_err(|e| CallError::Transport(format!("{}: {e}", self.endpoint)))?;
        json_answer(target, status, &answer)
    }

    /// POSTs `body` signed: a JSON call of `target`, or a form (no target); `extra`
    /// headers go along, signed too.
    pub async fn post(
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
        if let Some(target) = target {
            headers.insert("x-amz-target", value(target)?);
        }
        for (name, v) in extra {
            headers.insert(name.clone(), v.clone());
        }
        let signed = crate::sign::sign_headers(
            &self.credentials,
            &self.region,
            self.service,
            &crate::request::SignedRequest {
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

/// A JSON-protocol answer: its JSON on success, else the error it names.
fn json_answer(target: &str, status: http::StatusCode, answer: &[u8]) -> Result<Value, CallError> {
    let value: Value = if answer.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(answer).map_err(|e| {
            CallError::Transport(format!("{target} answered {status} with non-JSON: {e}"))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_read_by_their_short_name() {
        let err = json_answer(
            "AmazonSQS.GetQueueUrl",
            http::StatusCode::BAD_REQUEST,
            br#"{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"no such queue"}"#,
        )
        .expect_err("an error");
        assert!(err.is("QueueDoesNotExist"), "{err}");
        assert_eq!(err.to_string(), "QueueDoesNotExist: no such queue");
        assert_eq!(
            json_answer("x", http::StatusCode::OK, b"").expect("empty"),
            Value::Null
        );
        assert!(matches!(
            json_answer("x", http::StatusCode::BAD_GATEWAY, b"<html>"),
            Err(CallError::Transport(_))
        ));
    }
}
