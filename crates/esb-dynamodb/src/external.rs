//! An external engine (ScyllaDB Alternator, AWS DynamoDB, any DynamoDB-compatible
//! server) behind the box's front: requests signed with the box's key are re-signed
//! with the engine's key pair and sent on as they came.

use bytes::Bytes;
use http::{HeaderMap, Response};
use http_body_util::Full;

use crate::client::{CallError, DynamoClient};
use crate::forward_error::ForwardError;
use crate::operations::Operation;

/// The engine's address and key pair.
pub struct External {
    client: DynamoClient,
}

impl External {
    /// `endpoint` with its key pair and region; `ca` (PEM) when its certificate does
    /// not chain to a public root.
    pub fn new(
        endpoint: &str,
        credentials: esb_auth::BoxCredentials,
        region: &str,
        ca: Option<&[u8]>,
    ) -> Result<Self, CallError> {
        Ok(Self {
            client: DynamoClient::new(endpoint, credentials, region, ca)?,
        })
    }

    /// A client of the engine with its own key pair.
    pub fn client(&self) -> DynamoClient {
        self.client.clone()
    }

    pub(crate) async fn forward(
        &self,
        op: Operation,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<Response<Full<Bytes>>, ForwardError> {
        let (status, answer) = self
            .client
            .send(op, body.to_vec())
            .await
            .map_err(|e| ForwardError(e.to_string()))?;
        let status =
            http::StatusCode::from_u16(status.as_u16()).map_err(|e| ForwardError(e.to_string()))?;
        let content_type =
            crate::wire::ContentType::of(headers).unwrap_or(crate::wire::ContentType::AmzJson);
        let resp = crate::wire::json(
            content_type,
            status,
            String::from_utf8_lossy(&answer).into_owned(),
        );
        Ok(resp)
    }
}
