//! The access log: one entry per request the gateway answers — when, who, what (method
//! and path, never the query string or headers, which may carry secrets), the status
//! and how long it took — as a JSON line appended to a file and as a record shipped to
//! the box's log store. The middleware that writes the entries is `request_log.rs`.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::json;

/// Where access entries go; either, both or neither.
pub struct AccessLog {
    file: Option<FileSink>,
    records: Option<Arc<esb_logs::Shipper>>,
}

/// The access log file, and how many entries could not be written (a full disk): said
/// once in a while, not once per request.
struct FileSink {
    path: PathBuf,
    file: Mutex<std::fs::File>,
    unwritten: AtomicU64,
    warning: esb_logs::warn_every::WarnEvery,
}

/// One answered request.
pub struct AccessEntry<'a> {
    pub time: time::OffsetDateTime,
    pub request_id: Option<&'a str>,
    pub source_ip: IpAddr,
    pub method: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub duration_ms: f64,
    pub user_agent: Option<&'a str>,
    /// The request's `X-Amzn-Trace-Id`, as sent.
    pub trace_header: Option<&'a str>,
    /// The data service that answered (`s3`); None for the gateway's own routes.
    pub service: Option<&'a str>,
}

impl AccessLog {
    /// Appends to `file` (created with its folder; without it when that fails, saying
    /// why) and ships to `records`.
    pub fn new(file: Option<&Path>, records: Option<Arc<esb_logs::Shipper>>) -> Self {
        let file = file.and_then(|path| match open(path) {
            Ok(f) => Some(FileSink {
                path: path.to_path_buf(),
                file: Mutex::new(f),
                unwritten: AtomicU64::new(0),
                warning: Default::default(),
            }),
            Err(e) => {
                tracing::warn!("no access log: cannot open {}: {e}", path.display());
                None
            }
        });
        Self { file, records }
    }

    /// Nothing is logged: requests need not be timed.
    pub fn is_off(&self) -> bool {
        self.file.is_none() && self.records.is_none()
    }

    pub fn write(&self, entry: &AccessEntry<'_>) {
        if let Some(file) = &self.file {
            append(file, entry);
        }
        if let Some(shipper) = &self.records {
            shipper.push(record(entry));
        }
    }
}

fn open(path: &Path) -> std::io::Result<std::fs::File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

fn append(sink: &FileSink, e: &AccessEntry<'_>) {
    let line = json!({
        "time": e.time
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        "requestId": e.request_id,
        "sourceIp": e.source_ip.to_string(),
        "method": e.method,
        "path": e.path,
        "status": e.status,
        "durationMs": e.duration_ms,
        "userAgent": e.user_agent,
    });
    let mut line = line;
    if let Some(service) = e.service {
        line["service"] = json!(service);
    }
    let mut text = line.to_string();
    text.push('\n');
    // One write(2) per line with O_APPEND: lines never interleave.
    let Ok(mut f) = sink.file.lock() else {
        return;
    };
    let before = f.metadata().map(|m| m.len());
    if let Err(e) = f.write_all(text.as_bytes()) {
        // No torn line for the next entry to be glued to.
        if let Ok(len) = before {
            let _ = f.set_len(len);
        }
        let missed = sink.unwritten.fetch_add(1, Ordering::Relaxed) + 1;
        if sink.warning.now(std::time::Duration::from_secs(10)) {
            tracing::warn!(
                "cannot write the access log {}: {e} ({missed} entries left out so far)",
                sink.path.display()
            );
        }
    }
}

/// The entry as a record of the box's stream in the log store.
fn record(e: &AccessEntry<'_>) -> esb_logs::Record {
    let mut fields = serde_json::Map::new();
    let mut put = |k: &str, v: String| {
        fields.insert(k.to_string(), serde_json::Value::String(v));
    };
    put("type", "access".into());
    put(
        "level",
        match e.status {
            500.. => "ERROR",
            400.. => "WARN",
            _ => "INFO",
        }
        .into(),
    );
    if let Some(id) = e.request_id {
        put("aws_request_id", id.to_string());
    }
    if let Some(trace) = e.trace_header {
        put(
            "trace_id",
            esb_logs::lambda_line::trace_root(trace).to_string(),
        );
    }
    if let Some(service) = e.service {
        put("service", service.to_string());
    }
    put("source_ip", e.source_ip.to_string());
    put("method", e.method.to_string());
    put("path", e.path.to_string());
    put("status", e.status.to_string());
    put("duration_ms", e.duration_ms.to_string());
    // The original ESB's names of the same two, so its queries and dashboards work.
    put("client_ip", e.source_ip.to_string());
    put("latency_ms", format!("{:.2}", e.duration_ms));
    if let Some(ua) = e.user_agent {
        put("user_agent", ua.to_string());
    }
    esb_logs::Record {
        time_ns: i64::try_from(e.time.unix_timestamp_nanos()).unwrap_or(i64::MAX),
        msg: format!("{} {} {} {}ms", e.method, e.path, e.status, e.duration_ms),
        stream: esb_logs::collector::box_stream(),
        fields,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_records_carry_the_original_esbs_field_names_too() {
        let r = record(&AccessEntry {
            time: time::OffsetDateTime::UNIX_EPOCH,
            request_id: Some("r-1"),
            source_ip: IpAddr::from([10, 0, 0, 7]),
            method: "POST",
            path: "/api/echo",
            status: 200,
            duration_ms: 12.3456,
            user_agent: Some("curl/8"),
            trace_header: Some("Root=1-67891233-abcdef012345678912345678;Sampled=1"),
            service: None,
        });
        let field = |k: &str| r.field(k).map(|v| v.into_owned());
        assert_eq!(field("container_name").as_deref(), Some("esb-gateway"));
        assert_eq!(field("function").as_deref(), Some("esb-gateway"));
        assert_eq!(
            field("trace_id").as_deref(),
            Some("1-67891233-abcdef012345678912345678")
        );
        assert_eq!(field("aws_request_id").as_deref(), Some("r-1"));
        assert_eq!(field("client_ip").as_deref(), Some("10.0.0.7"));
        assert_eq!(field("source_ip").as_deref(), Some("10.0.0.7"));
        assert_eq!(field("latency_ms").as_deref(), Some("12.35"));
        assert_eq!(field("duration_ms").as_deref(), Some("12.3456"));
        assert_eq!(field("user_agent").as_deref(), Some("curl/8"));
        assert_eq!(r.msg, "POST /api/echo 200 12.3456ms");
    }
}
