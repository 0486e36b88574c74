//! VictoriaLogs' HTTP API on the box: `POST /insert/jsonline` and
//! `GET|POST /select/logsql/query`, so anything that ships to or reads from VictoriaLogs
//! works against ESB.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value};

use crate::jsonline::{self, Params, Rejected};
use crate::record::Record;
use crate::store::Store;

/// Largest ingestion body (VictoriaLogs' default `-insert.maxRequestSize` is 64 MiB).
pub const MAX_BODY: usize = 64 * 1024 * 1024;

pub fn router(store: Arc<Store>) -> Router {
    Router::new()
        .route("/insert/jsonline", post(insert))
        .route("/select/logsql/query", get(select).post(select))
        .route("/health", get(|| async { "OK" }))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(store)
}

pub fn now_ns() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    )
    .unwrap_or(i64::MAX)
}

async fn insert(State(store): State<Arc<Store>>, RawQuery(q): RawQuery, body: Bytes) -> Response {
    let (records, rejected) = parse_body(&body, q.as_deref());
    match store_batch(store, records).await {
        Ok(()) => stored(rejected.len()),
        Err(resp) => resp,
    }
}

/// The records of a jsonline body with the query's parameters; rejected lines are
/// logged (the first ten) and handed back to be counted.
pub(crate) fn parse_body(body: &[u8], query: Option<&str>) -> (Vec<Record>, Vec<Rejected>) {
    let (records, rejected) = jsonline::parse(body, &Params::from_query(query), now_ns());
    for r in rejected.iter().take(10) {
        tracing::warn!(line = r.line, "log line rejected: {}", r.reason);
    }
    (records, rejected)
}

/// Commits a batch off the async runtime; `Err` is the answer to give instead.
pub(crate) async fn store_batch(store: Arc<Store>, records: Vec<Record>) -> Result<(), Response> {
    match tokio::task::spawn_blocking(move || store.insert(&records)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err((
            StatusCode::SERVICE_UNAVAILABLE,
            format!("cannot store the logs: {e}\n"),
        )
            .into_response()),
        Err(e) => Err((StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response()),
    }
}

/// 200, with how many lines were not stored: every line is accounted for.
pub(crate) fn stored(rejected: usize) -> Response {
    let mut resp = StatusCode::OK.into_response();
    if let Ok(v) = HeaderValue::from_str(&rejected.to_string()) {
        resp.headers_mut().insert("x-esb-rejected-lines", v);
    }
    resp
}

async fn select(State(store): State<Arc<Store>>, RawQuery(q): RawQuery, body: Bytes) -> Response {
    // Parameters come in the query string, or form-encoded in a POST body.
    let mut query = None;
    let mut limit = None;
    let form = String::from_utf8_lossy(&body).into_owned();
    for pair in q.as_deref().unwrap_or("").split('&').chain(form.split('&')) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = jsonline::decode(v);
        match k {
            "query" => query = Some(v),
            "limit" => limit = v.parse::<usize>().ok(),
            _ => {}
        }
    }
    let Some(text) = query else {
        return (StatusCode::BAD_REQUEST, "missing `query` arg\n").into_response();
    };
    let mut parsed = match crate::logsql::parse(&text, now_ns()) {
        Ok(q) => q,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("cannot parse query [{text}]: {e}\n"),
            )
                .into_response();
        }
    };
    if let Some(l) = limit {
        parsed.limit = Some(parsed.limit.map_or(l, |q| q.min(l)));
    }
    match tokio::task::spawn_blocking(move || store.query(&parsed)).await {
        Ok(Ok(records)) => {
            let mut out = String::new();
            for r in &records {
                out.push_str(&to_json(r).to_string());
                out.push('\n');
            }
            let mut resp = out.into_response();
            resp.headers_mut().insert(
                "content-type",
                HeaderValue::from_static("application/stream+json"),
            );
            resp
        }
        Ok(Err(e)) => (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}

/// A record as VictoriaLogs answers it: `_time`, `_stream`, `_msg`, then every field.
pub fn to_json(r: &Record) -> Value {
    let mut obj = Map::new();
    obj.insert("_time".into(), Value::String(r.time_text()));
    obj.insert("_stream".into(), Value::String(r.stream_text()));
    obj.insert("_msg".into(), Value::String(r.msg.clone()));
    for (k, v) in &r.stream {
        obj.insert(k.clone(), Value::String(v.clone()));
    }
    for (k, v) in &r.fields {
        obj.insert(k.clone(), v.clone());
    }
    Value::Object(obj)
}
