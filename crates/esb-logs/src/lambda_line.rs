//! One line a worker wrote, as a record: who wrote it (function, worker, invocation,
//! trace), which stream, and its level, read from a JSON log line (Lambda's
//! `AWS_LAMBDA_LOG_FORMAT=JSON` output included) or from a level word near the start of
//! a text line (`[INFO]`, `ERROR:root:`, `2024-… INFO lambda_runtime: …`).

use serde_json::{Map, Value};

use crate::record::Record;

/// `job` label of function output and platform lines (the original ESB's value).
pub const FUNCTION_JOB: &str = "lambda";
/// The original ESB's stream label naming whose line it is (the function, or
/// `esb-gateway`): the same value as ESB's `function`, so queries written for the
/// original (`container_name:"lambda-echo"`) work unchanged.
pub const CONTAINER_NAME: &str = "container_name";

/// The stream labels of a function's records, sorted by name as streams are.
pub fn function_stream(function: &str) -> Vec<(String, String)> {
    vec![
        (CONTAINER_NAME.into(), function.into()),
        ("function".into(), function.into()),
        ("job".into(), FUNCTION_JOB.into()),
    ]
}

/// Where a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineSource {
    Stdout,
    Stderr,
    /// START / END / REPORT, timeouts: written by the emulator, not the function.
    Platform,
}

/// What is fixed for every line of one worker.
#[derive(Debug, Clone)]
pub struct WorkerIdentity {
    pub function: String,
    pub worker: String,
    /// The node of the box the worker runs on (`ESB_NODE`), when not the box's own
    /// machine: a field, not a stream label, so streams stay per function.
    pub node: Option<String>,
}

/// The invocation a line belongs to, when one is in flight.
#[derive(Debug, Clone, Default)]
pub struct Attribution<'a> {
    pub request_id: Option<&'a str>,
    /// The X-Ray trace root (`1-5759e988-bd862e3fe1be46a994272793`).
    pub trace_id: Option<&'a str>,
}

/// Keys a JSON line may carry that hold its message or its level.
const MSG_KEYS: [&str; 3] = ["message", "msg", "_msg"];
const LEVEL_KEYS: [&str; 4] = ["level", "levelname", "severity", "log.level"];
/// Fields ESB sets itself; a JSON line's own keys of these names are kept under `log.`.
const RESERVED: [&str; 9] = [
    "aws_request_id",
    "trace_id",
    "worker",
    "node",
    "stream",
    "type",
    "function",
    "job",
    CONTAINER_NAME,
];

/// The record of one line.
pub fn record(
    who: &WorkerIdentity,
    source: LineSource,
    at: &Attribution<'_>,
    line: &[u8],
    time_ns: i64,
) -> Record {
    let text = String::from_utf8_lossy(line);
    let mut fields = Map::new();
    let mut msg = text.to_string();
    let mut level = None;
    if source != LineSource::Platform
        && text.trim_start().starts_with('{')
        && let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(text.trim())
    {
        let mut flat = Map::new();
        crate::jsonline::flatten("", obj, &mut flat);
        if let Some(m) = MSG_KEYS.iter().find_map(|k| flat.remove(*k)) {
            msg = value_text(&m);
        }
        level = LEVEL_KEYS
            .iter()
            .find_map(|k| flat.remove(*k))
            .and_then(|v| normalise_level(&value_text(&v)));
        for (k, v) in flat {
            let key = if RESERVED.contains(&k.as_str()) {
                format!("log.{k}")
            } else {
                k
            };
            fields.insert(key, v);
        }
    }
    let level = level
        .or_else(|| match source {
            LineSource::Platform => Some(platform_level(&text)),
            _ => level_in_text(&text),
        })
        .unwrap_or(match source {
            LineSource::Stderr => "ERROR",
            _ => "INFO",
        });
    fields.insert("level".into(), Value::String(level.into()));
    if let Some(id) = at.request_id {
        fields.insert("aws_request_id".into(), Value::String(id.into()));
    }
    if let Some(trace) = at.trace_id {
        fields.insert("trace_id".into(), Value::String(trace.into()));
    }
    fields.insert("worker".into(), Value::String(who.worker.clone()));
    if let Some(node) = &who.node {
        fields.insert("node".into(), Value::String(node.clone()));
    }
    match source {
        LineSource::Platform => {
            fields.insert("type".into(), Value::String("platform".into()));
        }
        LineSource::Stdout | LineSource::Stderr => {
            fields.insert("type".into(), Value::String("function".into()));
            let stream = if source == LineSource::Stdout {
                "stdout"
            } else {
                "stderr"
            };
            fields.insert("stream".into(), Value::String(stream.into()));
        }
    }
    Record {
        time_ns,
        msg,
        stream: function_stream(&who.function),
        fields,
    }
}

/// The root of an `X-Amzn-Trace-Id` header (`Root=1-…;Parent=…;Sampled=0` → `1-…`).
pub fn trace_root(header: &str) -> &str {
    header
        .split(';')
        .find_map(|part| part.trim().strip_prefix("Root="))
        .unwrap_or(header)
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Lambda's level names: Python's WARNING is WARN and CRITICAL is FATAL, as in Lambda's
/// JSON logs.
pub fn normalise_level(word: &str) -> Option<&'static str> {
    Some(match word.trim().to_ascii_uppercase().as_str() {
        "TRACE" => "TRACE",
        "DEBUG" => "DEBUG",
        "INFO" | "NOTICE" => "INFO",
        "WARN" | "WARNING" => "WARN",
        "ERROR" | "ERR" => "ERROR",
        "FATAL" | "CRITICAL" | "PANIC" => "FATAL",
        _ => return None,
    })
}

/// Timeouts and failed invocations are errors; START, END and REPORT are information.
pub fn platform_level(line: &str) -> &'static str {
    if line.contains("Task timed out")
        || line.contains("Status: timeout")
        || line.contains("Status: error")
    {
        "ERROR"
    } else {
        "INFO"
    }
}

/// A level word among the first few words of a text line, in the forms runtimes and
/// logging libraries write: `[INFO]`, `INFO`, `ERROR:root:…`, `Error: …`, `level=warn`.
/// A plain word like "error" inside a sentence is not a level.
/// The level a text line names near its start (`[INFO]`, `ERROR:root:`, `level=warn`).
pub fn level_in_text(line: &str) -> Option<&'static str> {
    let clean = strip_ansi(line);
    for token in clean.split([' ', '\t']).filter(|t| !t.is_empty()).take(4) {
        if let Some(v) = token.strip_prefix("level=") {
            return normalise_level(v.trim_matches('"'));
        }
        let bracketed = token.starts_with('[') && token.ends_with(']');
        let word = token.trim_matches(|c: char| matches!(c, '[' | ']' | '(' | ')'));
        let (head, colon) = match word.split_once(':') {
            Some((h, _)) => (h, true),
            None => (word, false),
        };
        let upper = !head.is_empty() && head.bytes().all(|b| b.is_ascii_uppercase());
        let capitalised = head.len() > 1
            && head.as_bytes()[0].is_ascii_uppercase()
            && head[1..].bytes().all(|b| b.is_ascii_lowercase());
        if (bracketed || upper || (capitalised && colon))
            && let Some(level) = normalise_level(head)
        {
            return Some(level);
        }
    }
    None
}

/// Terminal colour codes (`ESC [ … m`) removed, so coloured logger output is recognised.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for n in chars.by_ref() {
                if n.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who() -> WorkerIdentity {
        WorkerIdentity {
            function: "orders".into(),
            worker: "w-1".into(),
            node: None,
        }
    }

    fn level_of(source: LineSource, line: &str) -> String {
        let r = record(&who(), source, &Attribution::default(), line.as_bytes(), 1);
        r.field("level").map(|l| l.to_string()).unwrap_or_default()
    }

    #[test]
    fn levels_come_from_the_forms_runtimes_write() {
        let out = LineSource::Stdout;
        for (line, level) in [
            ("[INFO]\t2024-01-01T00:00:00.000Z\tabc\thello", "INFO"),
            ("[WARNING]\t2024-01-01T00:00:00.000Z\tabc\tcareful", "WARN"),
            ("[ERROR] Runtime.ImportModuleError: no module", "ERROR"),
            ("ERROR:root:went wrong", "ERROR"),
            ("WARNING:app:hmm", "WARN"),
            ("2024-01-01T00:00:00.000Z\tabc\tINFO\tnode style", "INFO"),
            (
                "\u{1b}[2m2024-01-01T00:00:00Z\u{1b}[0m \u{1b}[33m WARN\u{1b}[0m lambda_runtime: x",
                "WARN",
            ),
            ("Error: ENOENT", "ERROR"),
            ("level=debug msg=x", "DEBUG"),
            ("an error happened in a sentence", "INFO"),
            ("Debugging is fun", "INFO"),
            ("plain print", "INFO"),
        ] {
            assert_eq!(level_of(out, line), level, "{line}");
        }
        assert_eq!(
            level_of(LineSource::Stderr, "Traceback (most recent call last):"),
            "ERROR"
        );
        assert_eq!(level_of(LineSource::Stderr, "INFO:root:to stderr"), "INFO");
        assert_eq!(
            level_of(
                LineSource::Platform,
                "REPORT RequestId: x\tStatus: timeout\t"
            ),
            "ERROR"
        );
        assert_eq!(
            level_of(LineSource::Platform, "START RequestId: x Version: $LATEST"),
            "INFO"
        );
    }

    #[test]
    fn lambda_json_lines_keep_their_fields_and_message() {
        let line = r#"{"timestamp":"2024-01-01T00:00:00Z","level":"WARNING","message":"low stock","logger":"root","requestId":"r-1","item":{"sku":"A1","n":2},"worker":"theirs","container_name":"UNKNOWN"}"#;
        let at = Attribution {
            request_id: Some("r-1"),
            trace_id: Some("1-abc-def"),
        };
        let r = record(&who(), LineSource::Stdout, &at, line.as_bytes(), 5);
        assert_eq!(r.msg, "low stock");
        assert_eq!(r.field("level").as_deref(), Some("WARN"));
        assert_eq!(r.field("item.sku").as_deref(), Some("A1"));
        assert_eq!(r.field("logger").as_deref(), Some("root"));
        assert_eq!(r.field("worker").as_deref(), Some("w-1"));
        assert_eq!(r.field("log.worker").as_deref(), Some("theirs"));
        assert_eq!(r.field("log.container_name").as_deref(), Some("UNKNOWN"));
        assert_eq!(r.field("aws_request_id").as_deref(), Some("r-1"));
        assert_eq!(r.field("trace_id").as_deref(), Some("1-abc-def"));
        assert_eq!(r.field("function").as_deref(), Some("orders"));
        assert_eq!(r.field("stream").as_deref(), Some("stdout"));
        assert_eq!(
            r.stream_text(),
            r#"{container_name="orders",function="orders",job="lambda"}"#,
            "the original ESB's stream label beside ESB's"
        );
        assert_eq!(r.field("container_name").as_deref(), Some("orders"));
        assert_eq!(r.field("type").as_deref(), Some("function"));
    }

    #[test]
    fn broken_json_and_invalid_utf8_are_kept_as_text() {
        let r = record(
            &who(),
            LineSource::Stdout,
            &Attribution::default(),
            b"{\"a\":",
            1,
        );
        assert_eq!(r.msg, "{\"a\":");
        let r = record(
            &who(),
            LineSource::Stderr,
            &Attribution::default(),
            b"bad \xff byte",
            1,
        );
        assert_eq!(r.msg, "bad \u{fffd} byte");
        assert_eq!(r.field("type").as_deref(), Some("function"));
    }

    #[test]
    fn trace_root_is_taken_from_the_header() {
        assert_eq!(
            trace_root(
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
            ),
            "1-5759e988-bd862e3fe1be46a994272793"
        );
        assert_eq!(trace_root("1-abc"), "1-abc");
    }
}
