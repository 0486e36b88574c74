//! A signed SQS client speaking the public JSON protocol (`X-Amz-Target:
//! AmazonSQS.<Action>`, `application/x-amz-json-1.0`, Signature V4 for `sqs`), so the
//! same poller reads the box's own SQS, moto, ElasticMQ or AWS: the box's signed
//! client ([`esb_auth::SignedClient`]) with SQS's targets and how it finds queues.

use serde_json::Value;

pub use esb_auth::CallError;
pub use esb_auth::signed_client::BOX_CALL;

/// A signed client of one SQS endpoint.
#[derive(Clone)]
pub struct SqsClient {
    inner: esb_auth::SignedClient,
    /// Find queues by name alone, not by the account their ARN names (see
    /// [`SqsClient::by_queue_name`]).
    by_name: bool,
}

impl SqsClient {
    /// A client of `endpoint` (`https://host:port/`) signing for `region`, trusting
    /// `ca` (PEM) besides the public roots.
    pub fn new(
        endpoint: &str,
        credentials: esb_auth::BoxCredentials,
        region: &str,
        ca: Option<&[u8]>,
    ) -> Result<Self, CallError> {
        Ok(Self {
            inner: esb_auth::SignedClient::new(endpoint, credentials, region, "sqs", ca)?,
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

    /// The same client, marking its calls as the box's own with `token` (see
    /// [`BOX_CALL`]).
    pub fn as_box(mut self, token: &str) -> Self {
        self.inner = self.inner.as_box(token);
        self
    }

    /// The endpoint this client calls.
    pub fn endpoint(&self) -> &str {
        self.inner.endpoint()
    }

    /// The region this client signs for.
    pub fn region(&self) -> &str {
        self.inner.region()
    }

    /// Calls `action` (`ReceiveMessage`, `CreateQueue`...) with `body`; the answer's JSON
    /// (`Null` for an empty answer).
    pub async fn call(&self, action: &str, body: &Value) -> Result<Value, CallError> {
        self.inner.call(&format!("AmazonSQS.{action}"), body).await
    }

    /// POSTs `body` to the endpoint, signed: a JSON call of `action`, or a
    /// query-protocol form (no action); `extra` headers go along, signed too.
    pub(crate) async fn post(
        &self,
        content_type: &str,
        action: Option<&str>,
        extra: &[(http::HeaderName, http::HeaderValue)],
        body: Vec<u8>,
    ) -> Result<reqwest::Response, CallError> {
        let target = action.map(|a| format!("AmazonSQS.{a}"));
        self.inner
            .post(content_type, target.as_deref(), extra, body)
            .await
    }
}
