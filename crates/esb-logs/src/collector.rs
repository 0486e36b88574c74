//! The box's end of the pipeline. Workers (and the box itself) post jsonline batches to
//! the gateway's `POST /esb/v1/logs/insert/jsonline` with the box's log token; each
//! batch goes to the embedded store (answered only once committed, so the worker keeps
//! spooling until then) and to the external VictoriaLogs shipper when one is set.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use crate::lambda_line::CONTAINER_NAME;
use crate::shipper::Shipper;
use crate::store::Store;

/// Where workers post their batches on the gateway.
pub const INGEST_PATH: &str = "/esb/v1/logs/insert/jsonline";
/// The header carrying the box's log token.
pub const TOKEN_HEADER: &str = "x-esb-log-token";

pub struct Collector {
    pub store: Option<Arc<Store>>,
    pub external: Option<Shipper>,
    pub token: String,
    /// One batch is parsed and committed at a time: the store takes one writer anyway,
    /// and a flood of big batches from many workers must not hold them all parsed in
    /// memory at once.
    committing: tokio::sync::Semaphore,
}

impl Collector {
    pub fn new(store: Option<Arc<Store>>, external: Option<Shipper>, token: String) -> Self {
        Self {
            store,
            external,
            token,
            committing: tokio::sync::Semaphore::new(1),
        }
    }
}

impl Collector {
    /// `POST INGEST_PATH`, to be merged into the gateway's router.
    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route(INGEST_PATH, post(ingest))
            .layer(axum::extract::DefaultBodyLimit::max(crate::http::MAX_BODY))
            .with_state(self)
    }
}

async fn ingest(
    State(collector): State<Arc<Collector>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let given = headers
        .get(TOKEN_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !same_secret(given, collector.token.as_bytes()) {
        return (StatusCode::FORBIDDEN, "missing or wrong log token\n").into_response();
    }
    let Ok(_turn) = collector.committing.acquire().await else {
        return (StatusCode::SERVICE_UNAVAILABLE, "the box is stopping\n").into_response();
    };
    let (records, rejected) = batch_records(&body, q.as_deref());
    if let Err(e) = collector.accept(records).await {
        return (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response();
    }
    crate::http::stored(rejected)
}

/// The records of a writer's jsonline batch (posted, or left in a spool), with one
/// more saying how many lines could not be read, if any: accounted for where people
/// look, in the store itself. Also how many were rejected.
pub fn batch_records(body: &[u8], query: Option<&str>) -> (Vec<crate::Record>, usize) {
    let (mut records, rejected) = crate::http::parse_body(body, query);
    if let Some(first) = rejected.first() {
        let mut fields = serde_json::Map::new();
        fields.insert("level".into(), "WARN".into());
        fields.insert("type".into(), "error".into());
        fields.insert(
            "esb.rejected_lines".into(),
            rejected.len().to_string().into(),
        );
        records.push(crate::Record {
            time_ns: crate::http::now_ns(),
            msg: format!(
                "esb: {} log lines could not be stored (line {}: {})",
                rejected.len(),
                first.line,
                first.reason
            ),
            stream: box_stream(),
            fields,
        });
    }
    (records, rejected.len())
}

/// Why records could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    #[error("cannot store the logs: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("cannot store the logs: the writer stopped ({0})")]
    Stopped(String),
}

impl Collector {
    /// Stores `records` (returning only once committed) and hands them to the external
    /// shipper: what every writer of the box's records goes through, workers' batches
    /// and CloudWatch Logs' PutLogEvents alike.
    pub async fn accept(&self, mut records: Vec<crate::Record>) -> Result<(), AcceptError> {
        for r in &mut records {
            name_container(r);
        }
        if let Some(store) = &self.store {
            let batch = if self.external.is_some() {
                records.clone()
            } else {
                std::mem::take(&mut records)
            };
            let store = Arc::clone(store);
            tokio::task::spawn_blocking(move || store.insert(&batch))
                .await
                .map_err(|e| AcceptError::Stopped(e.to_string()))??;
        }
        if let Some(external) = &self.external {
            for r in records {
                external.push(r);
            }
        }
        Ok(())
    }
}

/// `function` (and the original ESB's `container_name`) of the box's own records: the
/// original's gateway container name.
pub const BOX_FUNCTION: &str = "esb-gateway";

/// Stream labels of the box's own records, sorted by name as streams are.
pub fn box_stream() -> Vec<(String, String)> {
    vec![
        (CONTAINER_NAME.into(), BOX_FUNCTION.into()),
        ("function".into(), BOX_FUNCTION.into()),
        ("job".into(), "gateway".into()),
    ]
}

/// Gives a record the original ESB's `container_name` label when its sender did not
/// (a batch spooled by an older worker): the same value as its `function`.
fn name_container(r: &mut crate::Record) {
    if r.stream.iter().any(|(k, _)| k == CONTAINER_NAME) {
        return;
    }
    if let Some(function) = r
        .stream
        .iter()
        .find(|(k, _)| k == "function")
        .map(|(_, v)| v.clone())
    {
        r.stream.push((CONTAINER_NAME.into(), function));
        r.stream.sort();
    }
}

/// Compares without leaking where the first difference is.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_record_names_its_container_as_the_original_esb_did() {
        let body = concat!(
            r#"{"_msg":"new","function":"echo","job":"lambda","container_name":"echo"}"#,
            "\n",
            r#"{"_msg":"old worker","function":"echo","job":"lambda"}"#,
            "\n",
            r#"{"_msg":"no function"}"#,
            "\n",
        );
        let (mut records, _) = crate::http::parse_body(
            body.as_bytes(),
            Some("_stream_fields=function,job,container_name"),
        );
        for r in &mut records {
            name_container(r);
        }
        let streams: Vec<String> = records.iter().map(crate::Record::stream_text).collect();
        assert_eq!(
            streams,
            [
                r#"{container_name="echo",function="echo",job="lambda"}"#,
                r#"{container_name="echo",function="echo",job="lambda"}"#,
                "{}",
            ]
        );
        let gateway = crate::Record {
            time_ns: 0,
            msg: String::new(),
            stream: box_stream(),
            fields: serde_json::Map::new(),
        };
        assert_eq!(
            gateway.stream_text(),
            r#"{container_name="esb-gateway",function="esb-gateway",job="gateway"}"#
        );
    }
}
