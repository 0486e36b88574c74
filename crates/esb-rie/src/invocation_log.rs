//! Attribution of log lines to the invocation in flight, Lambda's platform lines
//! (START / END / REPORT), and the 4 KB tail returned for `X-Amz-Log-Type: Tail`.
//! Each line is also a record for the box's log store when the worker ships logs.

use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use esb_lambda::limits::LOG_TAIL_BYTES;

/// How lines are written to the RIE's stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Raw lines, exactly what a CloudWatch log stream shows (AWS RIE's output).
    #[default]
    Text,
    /// One JSON object per line with time, request id and stream, for log shippers.
    Json,
}

/// Where a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Stdout,
    Stderr,
    Platform,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Stdout => "stdout",
            Source::Stderr => "stderr",
            Source::Platform => "platform",
        }
    }
}

/// Figures of one invocation, printed on its REPORT line.
#[derive(Debug, Clone)]
pub struct Report {
    pub duration: Duration,
    pub memory_size_mb: u32,
    pub max_memory_used_mb: u64,
    pub init_duration: Option<Duration>,
    /// `Status: timeout` / `Status: error` and the error type, as Lambda adds on failure.
    pub status: Option<(String, Option<String>)>,
}

impl Report {
    pub fn line(&self, request_id: &str) -> String {
        let ms = self.duration.as_secs_f64() * 1000.0;
        let billed = ms.ceil().max(1.0) as u64;
        let mut line = format!(
            "REPORT RequestId: {request_id}\tDuration: {ms:.2} ms\tBilled Duration: {billed} ms\tMemory Size: {} MB\tMax Memory Used: {} MB\t",
            self.memory_size_mb, self.max_memory_used_mb
        );
        if let Some(init) = self.init_duration {
            line.push_str(&format!(
                "Init Duration: {:.2} ms\t",
                init.as_secs_f64() * 1000.0
            ));
        }
        if let Some((status, error_type)) = &self.status {
            line.push_str(&format!("Status: {status}\t"));
            if let Some(t) = error_type {
                line.push_str(&format!("Error Type: {t}\t"));
            }
        }
        line
    }
}

struct Current {
    request_id: String,
    /// The X-Ray trace root of the invocation.
    trace_id: Option<String>,
    tail: Vec<u8>,
}

/// Where records go besides stdout: the box's log store, through a shipper.
pub struct Shipping {
    pub shipper: esb_logs::Shipper,
    pub who: esb_logs::lambda_line::WorkerIdentity,
}

/// Receives every line (runtime output and platform lines), writes it to stdout,
/// ships it as a record and keeps the tail of the invocation it belongs to.
pub struct LogSink {
    format: LogFormat,
    current: Mutex<Option<Current>>,
    shipping: Option<Shipping>,
    /// `SystemLogLevel: WARN`: START, END and REPORT (INFO) are not written.
    quiet_platform: bool,
}

impl LogSink {
    pub fn new(format: LogFormat, shipping: Option<Shipping>) -> Self {
        Self {
            format,
            current: Mutex::new(None),
            shipping,
            quiet_platform: false,
        }
    }

    /// Applies `LoggingConfig.SystemLogLevel` (DEBUG, INFO or WARN).
    pub fn with_system_level(mut self, level: Option<&str>) -> Self {
        self.quiet_platform = level.is_some_and(|l| l.eq_ignore_ascii_case("WARN"));
        self
    }

    /// Sends what is queued for the store (spooling what it does not take in `grace`).
    pub async fn close(&self, grace: Duration) {
        if let Some(s) = &self.shipping {
            s.shipper.close(grace).await;
        }
    }

    /// The invocation lines are attributed to. Each change replaces it whole, so a lock
    /// poisoned by a panic elsewhere still guards a valid value: take it rather than
    /// lose a line's attribution.
    fn current(&self) -> std::sync::MutexGuard<'_, Option<Current>> {
        self.current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts attributing lines to `request_id` (and its trace) and prints its START line.
    pub fn begin(&self, request_id: &str, version: &str, trace_header: Option<&str>) {
        *self.current() = Some(Current {
            request_id: request_id.to_string(),
            trace_id: trace_header.map(|h| esb_logs::lambda_line::trace_root(h).to_string()),
            tail: Vec::new(),
        });
        self.line(
            Source::Platform,
            format!("START RequestId: {request_id} Version: {version}").as_bytes(),
        );
    }

    /// Prints END and REPORT, stops attribution and returns the invocation's log tail.
    pub fn finish(&self, request_id: &str, report: &Report) -> Vec<u8> {
        self.line(
            Source::Platform,
            format!("END RequestId: {request_id}").as_bytes(),
        );
        self.line(Source::Platform, report.line(request_id).as_bytes());
        // The invocation's lines go to disk now, not at the next batch: they outlive
        // a worker killed right after it.
        if let Some(s) = &self.shipping {
            s.shipper.checkpoint();
        }
        let cur = self.current().take();
        let mut tail = cur.map(|c| c.tail).unwrap_or_default();
        if tail.len() > LOG_TAIL_BYTES {
            tail.drain(..tail.len() - LOG_TAIL_BYTES);
        }
        tail
    }

    /// One line (without its newline) from `source`.
    pub fn line(&self, source: Source, line: &[u8]) {
        let mut cur = self.current();
        let request_id = cur.as_ref().map(|c| c.request_id.clone());
        let silenced = source == Source::Platform
            && self.quiet_platform
            && esb_logs::lambda_line::platform_level(&String::from_utf8_lossy(line)) == "INFO";
        if let Some(s) = self.shipping.as_ref().filter(|_| !silenced) {
            let at = esb_logs::lambda_line::Attribution {
                request_id: request_id.as_deref(),
                trace_id: cur.as_ref().and_then(|c| c.trace_id.as_deref()),
            };
            let from = match source {
                Source::Stdout => esb_logs::lambda_line::LineSource::Stdout,
                Source::Stderr => esb_logs::lambda_line::LineSource::Stderr,
                Source::Platform => esb_logs::lambda_line::LineSource::Platform,
            };
            let record =
                esb_logs::lambda_line::record(&s.who, from, &at, line, esb_logs::http::now_ns());
            s.shipper.push(record);
        }
        if let Some(c) = cur.as_mut() {
            c.tail.extend_from_slice(line);
            c.tail.push(b'\n');
            // Keep memory bounded for chatty functions; `finish` trims to the exact size.
            if c.tail.len() > 4 * LOG_TAIL_BYTES {
                c.tail.drain(..c.tail.len() - LOG_TAIL_BYTES);
            }
        }
        if silenced {
            return;
        }
        // Written while holding the lock so lines keep their order across streams.
        let mut out = std::io::stdout().lock();
        let _ = match self.format {
            LogFormat::Text => out.write_all(line).and_then(|_| out.write_all(b"\n")),
            LogFormat::Json => {
                let record = serde_json::json!({
                    "time": now_rfc3339(),
                    "type": if source == Source::Platform { "platform" } else { "function" },
                    "stream": source.as_str(),
                    "requestId": request_id,
                    "message": String::from_utf8_lossy(line),
                });
                writeln!(out, "{record}")
            }
        };
        let _ = out.flush();
    }
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_line_follows_lambda_layout() {
        let r = Report {
            duration: Duration::from_micros(12_341),
            memory_size_mb: 128,
            max_memory_used_mb: 40,
            init_duration: Some(Duration::from_micros(120_500)),
            status: None,
        };
        assert_eq!(
            r.line("id-1"),
            "REPORT RequestId: id-1\tDuration: 12.34 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\tInit Duration: 120.50 ms\t"
        );
        let t = Report {
            status: Some(("timeout".into(), None)),
            init_duration: None,
            ..r
        };
        assert!(
            t.line("x")
                .ends_with("Max Memory Used: 40 MB\tStatus: timeout\t")
        );
    }

    #[test]
    fn tail_is_attributed_and_bounded() {
        let sink = LogSink::new(LogFormat::Text, None);
        sink.line(Source::Stdout, b"before any invocation");
        sink.begin("req-1", "$LATEST", None);
        for i in 0..2000 {
            sink.line(Source::Stdout, format!("line {i}").as_bytes());
        }
        let report = Report {
            duration: Duration::from_millis(1),
            memory_size_mb: 128,
            max_memory_used_mb: 1,
            init_duration: None,
            status: None,
        };
        let tail = sink.finish("req-1", &report);
        assert_eq!(tail.len(), LOG_TAIL_BYTES);
        let text = String::from_utf8_lossy(&tail);
        assert!(text.contains("line 1999\nEND RequestId: req-1\nREPORT RequestId: req-1"));
        assert!(!text.contains("before any invocation"));
        sink.line(Source::Stdout, b"after");
        assert!(sink.finish("req-2", &report).starts_with(b""));
    }
}
