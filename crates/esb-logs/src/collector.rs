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
    let (mut records, rejected) = crate::http::parse_body(&body, q.as_deref());
    if let Some(first) = rejected.first() {
        // Accounted for where people look: in the store itself.
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
    if let Err(e) = collector.accept(records).await {
        return (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response();
    }
    crate::http::stored(rejected.len())
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

/// Stream labels of the box's own records (the original ESB's gateway container name).
pub fn box_stream() -> Vec<(String, String)> {
    vec![
        ("function".into(), "esb-gateway".into()),
        ("job".into(), "gateway".into()),
    ]
}

/// Compares without leaking where the first difference is.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
