//! Middleware around every route: gives each answer an `x-amzn-RequestId` (as AWS
//! does, errors included), times the request and writes its access log entry.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::access_log::AccessEntry;
use crate::gateway::Gateway;
use esb_lambda::headers::{REQUEST_ID, TRACE_ID};

pub async fn record(
    State(gw): State<Arc<Gateway>>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    if gw.access_log.is_off() {
        return with_request_id(next.run(req).await);
    }
    let started = Instant::now();
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let user_agent = header(&req, http::header::USER_AGENT.as_str());
    let trace_header = header(&req, TRACE_ID);
    let resp = with_request_id(next.run(req).await);
    gw.access_log.write(&AccessEntry {
        time: time::OffsetDateTime::now_utc(),
        request_id: resp.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()),
        source_ip: remote.ip(),
        method: &method,
        path: &path,
        status: resp.status().as_u16(),
        duration_ms: (started.elapsed().as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
        user_agent: user_agent.as_deref(),
        trace_header: trace_header.as_deref(),
        service: None,
    });
    resp
}

fn header(req: &Request, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn with_request_id(mut resp: Response) -> Response {
    if !resp.headers().contains_key(REQUEST_ID)
        && let Ok(v) = http::HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
    {
        resp.headers_mut().insert(REQUEST_ID, v);
    }
    resp
}
