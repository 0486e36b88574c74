//! A DynamoDB (and DynamoDB Streams) JSON client for what the box does itself:
//! creating template tables, polling streams for Lambda, reading `esb status`. It
//! speaks the public API, signed, so the same code drives the embedded engine,
//! ScyllaDB Alternator or AWS.

use serde_json::Value;

use crate::operations::Operation;

pub use esb_auth::CallError;
pub use esb_auth::signed_client::BOX_CALL;

/// A signed client of one DynamoDB endpoint: the box's signed client
/// ([`esb_auth::SignedClient`]) with DynamoDB's operations.
#[derive(Clone)]
pub struct DynamoClient {
    inner: esb_auth::SignedClient,
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
        Ok(Self {
            inner: esb_auth::SignedClient::new(endpoint, credentials, region, "dynamodb", ca)?,
        })
    }

    /// Marks every call as the box's own with `token` (see [`BOX_CALL`]).
    pub fn as_box(mut self, token: &str) -> Self {
        self.inner = self.inner.as_box(token);
        self
    }

    /// The endpoint this client calls.
    pub fn endpoint(&self) -> &str {
        self.inner.endpoint()
    }

    /// Calls `op` with `body`; the answer's JSON.
    pub async fn call(&self, op: Operation, body: &Value) -> Result<Value, CallError> {
        self.inner.call(&op.target(), body).await
    }

    /// Sends `body` for `op` signed; the raw status and body.
    pub async fn send(
        &self,
        op: Operation,
        body: Vec<u8>,
    ) -> Result<(reqwest::StatusCode, bytes::Bytes), CallError> {
        let resp = self
            .inner
            .post(
                esb_auth::signed_client::JSON_CONTENT_TYPE,
                Some(&op.target()),
                &[],
                body,
            )
            .await?;
        let status = resp.status();
        let answer = resp
            .bytes()
            .await
            .map_err(|e| CallError::Transport(format!("{}: {e}", self.endpoint())))?;
        Ok((status, answer))
    }
}
