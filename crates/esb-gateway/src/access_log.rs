//! One JSON line per request the gateway answers, appended to the access log: when,
//! who, what (method and path, never the query string or headers, which may carry
//! secrets), the status and how long it took.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::json;

use crate::Gateway;
use esb_lambda::headers::{REQUEST_ID, TRACE_ID};

pub struct AccessLog {
    file: Mutex<std::fs::File>,
}

impl AccessLog {
    pub fn open(path: &Path) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(Self {
            file: Mutex::new(file),
        })
    }

    fn write(&self, line: &serde_json::Value) {
        let mut text = line.to_string();
        text.push('\n');
        // One write(2) per line with O_APPEND: lines never interleave.
        if let Ok(mut f) = self.file.lock()
            && let Err(e) = f.write_all(text.as_bytes())
        {
            tracing::warn!("cannot write the access log: {e}");
        }
    }
}

/// Middleware: gives every answer an `x-amzn-RequestId` (as AWS does, errors
/// included), times the request and logs it once answered.
pub async fn record(
    State(gw): State<Arc<Gateway>>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    if gw.access_log.is_none() && gw.log_records.is_none() {
        return with_request_id(next.run(req).await);
    }
    let started = Instant::now();
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let user_agent = req
        .headers()
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let trace_header = req
        .headers()
        .get(TRACE_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let resp = with_request_id(next.run(req).await);
    let request_id = resp.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok());
    let now = time::OffsetDateTime::now_utc();
    let status = resp.status().as_u16();
    let duration_ms = (started.elapsed().as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0;
    if let Some(log) = &gw.access_log {
        log.write(&json!({
            "time": now
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            "requestId": request_id,
            "sourceIp": remote.ip().to_string(),
            "method": method,
            "path": path,
            "status": status,
            "durationMs": duration_ms,
            "userAgent": user_agent,
        }));
    }
    if let Some(shipper) = &gw.log_records {
        let mut fields = serde_json::Map::new();
        let mut put = |k: &str, v: String| {
            fields.insert(k.to_string(), serde_json::Value::String(v));
        };
        put("type", "access".into());
        put(
            "level",
            match status {
                500.. => "ERROR",
                400.. => "WARN",
                _ => "INFO",
            }
            .into(),
        );
        if let Some(id) = request_id {
            put("aws_request_id", id.to_string());
        }
        if let Some(trace) = &trace_header {
            put(
                "trace_id",
                esb_logs::lambda_line::trace_root(trace).to_string(),
            );
        }
        put("source_ip", remote.ip().to_string());
        put("method", method.clone());
        put("path", path.clone());
        put("status", status.to_string());
        put("duration_ms", duration_ms.to_string());
        if let Some(ua) = user_agent {
            put("user_agent", ua);
        }
        shipper.push(esb_logs::Record {
            time_ns: i64::try_from(now.unix_timestamp_nanos()).unwrap_or(i64::MAX),
            msg: format!("{method} {path} {status} {duration_ms}ms"),
            stream: esb_logs::collector::box_stream(),
            fields,
        });
    }
    resp
}

fn with_request_id(mut resp: Response) -> Response {
    if !resp.headers().contains_key(REQUEST_ID)
        && let Ok(v) = http::HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
    {
        resp.headers_mut().insert(REQUEST_ID, v);
    }
    resp
}
