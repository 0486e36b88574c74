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

use crate::corrections::{Corrections, TableFacts};
use crate::external::External;
pub use crate::forward_error::ForwardError;
use crate::operations::Operation;

/// The engine behind the front.
#[derive(Clone)]
pub enum Backend {
    Embedded(Box<Embedded>),
    External(Arc<External>),
}

/// The embedded engine's loopback listener, reached over kept-alive connections.
#[derive(Clone)]
pub struct Embedded {
    url: http::Uri,
    http: Client<HttpConnector, Full<Bytes>>,
    /// The box's spelling of the engine's answers (ARNs, shard ids...).
    corrections: Corrections,
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
            corrections: Corrections::new(region, account),
        })
    }

    async fn forward(
        &self,
        op: Operation,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<Response<Full<Bytes>>, ForwardError> {
        let content_type =
            crate::wire::ContentType::of(headers).unwrap_or(crate::wire::ContentType::AmzJson);
        let body = match self.corrections.request(op, &body) {
            Ok(corrected) => corrected.unwrap_or(body),
            Err(message) => {
                return Ok(crate::wire::error(
                    content_type,
                    http::StatusCode::BAD_REQUEST,
                    "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",
                    Some(&message),
                ));
            }
        };
        let mut facts = TableFacts::default();
        if matches!(op, Operation::DescribeStream | Operation::GetShardIterator)
            && let Some((arn, mut table)) = self.stream_table(headers, &body).await
        {
            let current = table
                .get("LatestStreamLabel")
                .and_then(serde_json::Value::as_str)
                .and_then(crate::corrections::box_label);
            let asked = crate::corrections::label_of_stream(&arn);
            let asked = asked
                .and_then(crate::corrections::box_label)
                .or(asked.map(str::to_string));
            if let (Some(current), Some(asked)) = (current, asked)
                && current != asked
            {
                // The engine would answer with the table's current stream.
                return Ok(crate::wire::error(
                    crate::wire::ContentType::of(headers)
                        .unwrap_or(crate::wire::ContentType::AmzJson),
                    http::StatusCode::BAD_REQUEST,
                    "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",
                    Some(&format!("Requested resource not found: Stream: {arn}")),
                ));
            }
            facts.key_schema = table.get_mut("KeySchema").map(serde_json::Value::take);
        }
        if op == Operation::GetRecords
            && let Some(mut table) = self.iterator_table(headers, &body).await
        {
            facts.created_at = table.get_mut("CreationDateTime").and_then(|t| t.as_f64());
        }
        if op == Operation::UpdateTimeToLive
            && let Some(refusal) = self.ttl_refusal(headers, &body).await
        {
            return Ok(crate::wire::error(
                content_type,
                http::StatusCode::BAD_REQUEST,
                "com.amazon.coral.validate#ValidationException",
                Some(&refusal),
            ));
        }
        let (mut parts, body) = self.send(op, headers, body).await?;
        // hyper writes the length of what is sent; the engine's may be stale below.
        parts.headers.remove(http::header::CONTENT_LENGTH);
        let body = match self.corrections.response(op, &body, facts) {
            Some(corrected) => {
                crate::wire::set_crc(&mut parts.headers, &corrected);
                corrected
            }
            None => body,
        };
        Ok(Response::from_parts(parts, Full::new(body)))
    }

    /// One request to the engine, with the client's headers (the engine checks only
    /// that auth material is there; the front checked it).
    async fn send(
        &self,
        op: Operation,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<(http::response::Parts, Bytes), ForwardError> {
        let mut req = Request::post(self.url.clone()).header("x-amz-target", op.target());
        for name in ["content-type", "authorization", "x-amz-date"] {
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
        Ok((parts, body))
    }

    /// Why DynamoDB refuses an `UpdateTimeToLive` that changes nothing or names another
    /// attribute than the enabled one (the engine takes both).
    async fn ttl_refusal(&self, headers: &HeaderMap, body: &[u8]) -> Option<String> {
        let request: serde_json::Value = serde_json::from_slice(body).ok()?;
        let spec = request.get("TimeToLiveSpecification")?;
        let enable = spec.get("Enabled")?.as_bool()?;
        let attribute = spec.get("AttributeName")?.as_str()?;
        let describe = serde_json::json!({"TableName": request.get("TableName")?}).to_string();
        let (parts, answer) = self
            .send(
                Operation::DescribeTimeToLive,
                headers,
                Bytes::from(describe),
            )
            .await
            .ok()?;
        if !parts.status.is_success() {
            return None;
        }
        let answer: serde_json::Value = serde_json::from_slice(&answer).ok()?;
        let d = answer.get("TimeToLiveDescription")?;
        let on = matches!(
            d.get("TimeToLiveStatus")
                .and_then(serde_json::Value::as_str),
            Some("ENABLED" | "ENABLING")
        );
        let current = d.get("AttributeName").and_then(serde_json::Value::as_str);
        match (enable, on) {
            (true, true) => Some("TimeToLive is already enabled".into()),
            (false, false) => Some("TimeToLive is already disabled".into()),
            (false, true) if current.is_some_and(|c| c != attribute) => Some(format!(
                "TimeToLive is active on a different AttributeName: current AttributeName is {}",
                current.unwrap_or_default()
            )),
            _ => None,
        }
    }

    /// The description of the table a `GetRecords` iterator reads.
    async fn iterator_table(&self, headers: &HeaderMap, body: &[u8]) -> Option<serde_json::Value> {
        let request: serde_json::Value = serde_json::from_slice(body).ok()?;
        let table = crate::corrections::table_of_iterator(request.get("ShardIterator")?.as_str()?)?;
        self.describe_table(headers, &table).await
    }

    async fn describe_table(&self, headers: &HeaderMap, table: &str) -> Option<serde_json::Value> {
        let describe = serde_json::json!({"TableName": table}).to_string();
        let (parts, answer) = self
            .send(Operation::DescribeTable, headers, Bytes::from(describe))
            .await
            .ok()?;
        if !parts.status.is_success() {
            return None;
        }
        let mut table: serde_json::Value = serde_json::from_slice(&answer).ok()?;
        Some(table.get_mut("Table")?.take())
    }

    /// The stream ARN a request names and its table's description (`None` when there
    /// is no such table: the engine answers that).
    async fn stream_table(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Option<(String, serde_json::Value)> {
        let request: serde_json::Value = serde_json::from_slice(body).ok()?;
        let arn = request.get("StreamArn")?.as_str()?;
        let table = crate::corrections::table_of_stream(arn)?;
        Some((arn.to_string(), self.describe_table(headers, table).await?))
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
            Self::Embedded(e) => e.forward(op, headers, body).await?,
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
