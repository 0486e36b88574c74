//! VictoriaLogs' jsonline ingestion format: one JSON object per line; the query string
//! names which fields form the stream (`_stream_fields`), hold the message
//! (`_msg_field`) and the time (`_time_field`), and which to drop (`ignore_fields`).
//! A bad line is rejected alone (and counted), never the whole batch.

use serde_json::{Map, Value};

use crate::record::Record;

/// Longest line accepted (VictoriaLogs' default `-insert.maxLineSizeBytes` is 256 KiB).
pub const MAX_LINE: usize = 256 * 1024;

/// The query-string parameters of `/insert/jsonline`.
#[derive(Debug, Clone, Default)]
pub struct Params {
    pub stream_fields: Vec<String>,
    pub msg_fields: Vec<String>,
    pub time_field: Option<String>,
    pub ignore_fields: Vec<String>,
}

impl Params {
    /// From `a=b&c=d` (comma-separated lists, as VictoriaLogs takes them).
    pub fn from_query(query: Option<&str>) -> Self {
        let mut p = Self::default();
        for pair in query.unwrap_or("").split('&').filter(|s| !s.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = decode(v);
            let list = || {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            };
            match k {
                "_stream_fields" => p.stream_fields = list(),
                "_msg_field" => p.msg_fields = list(),
                "_time_field" => p.time_field = Some(v.clone()).filter(|s| !s.is_empty()),
                "ignore_fields" => p.ignore_fields = list(),
                _ => {}
            }
        }
        p
    }
}

/// A form-encoded component (`+` is a space).
pub(crate) fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// Why one line was not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// 1-based line number.
    pub line: usize,
    pub reason: String,
}

/// The records of a jsonline body, and the lines that were rejected.
pub fn parse(body: &[u8], params: &Params, now_ns: i64) -> (Vec<Record>, Vec<Rejected>) {
    let mut records = Vec::new();
    let mut rejected = Vec::new();
    for (i, line) in body.split(|b| *b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let reject = |reason: String| Rejected {
            line: i + 1,
            reason,
        };
        if line.len() > MAX_LINE {
            rejected.push(reject(format!("longer than {MAX_LINE} bytes")));
            continue;
        }
        match serde_json::from_slice::<Value>(line) {
            Ok(Value::Object(obj)) => match record(obj, params, now_ns) {
                Ok(r) => records.push(r),
                Err(reason) => rejected.push(reject(reason)),
            },
            Ok(_) => rejected.push(reject("not a JSON object".into())),
            Err(e) => rejected.push(reject(format!("invalid JSON: {e}"))),
        }
    }
    (records, rejected)
}

fn record(obj: Map<String, Value>, params: &Params, now_ns: i64) -> Result<Record, String> {
    let mut fields = Map::new();
    flatten("", obj, &mut fields);
    for f in &params.ignore_fields {
        fields.remove(f);
    }
    let time_key = params.time_field.as_deref().unwrap_or("_time");
    let time_ns = match fields.remove(time_key) {
        None => now_ns,
        Some(v) => parse_time(&v).ok_or_else(|| format!("cannot parse {time_key} {v}"))?,
    };
    let msg_keys: Vec<&str> = if params.msg_fields.is_empty() {
        vec!["_msg"]
    } else {
        params.msg_fields.iter().map(String::as_str).collect()
    };
    let msg = msg_keys
        .iter()
        .find_map(|k| fields.remove(*k))
        .map(|v| text(&v))
        .unwrap_or_default();
    let mut stream: Vec<(String, String)> = params
        .stream_fields
        .iter()
        .filter_map(|k| fields.remove(k).map(|v| (k.clone(), text(&v))))
        .collect();
    stream.sort();
    Ok(Record {
        time_ns,
        msg,
        stream,
        fields,
    })
}

/// Nested objects become dotted field names, as VictoriaLogs stores them; values are text.
pub(crate) fn flatten(prefix: &str, obj: Map<String, Value>, out: &mut Map<String, Value>) {
    for (k, v) in obj {
        let key = if prefix.is_empty() {
            k
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            Value::Object(inner) => flatten(&key, inner, out),
            Value::Null => {}
            other => {
                out.insert(key, Value::String(text(&other)));
            }
        }
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// RFC 3339, or a Unix timestamp in seconds, milliseconds, microseconds or nanoseconds
/// (told apart by magnitude, as VictoriaLogs does).
pub fn parse_time(v: &Value) -> Option<i64> {
    let number = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => {
            match time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
                Ok(t) => return i64::try_from(t.unix_timestamp_nanos()).ok(),
                Err(_) => s.parse::<f64>().ok(),
            }
        }
        _ => None,
    }?;
    if !number.is_finite() || number < 0.0 {
        return None;
    }
    let ns = if number < 1e11 {
        number * 1e9
    } else if number < 1e14 {
        number * 1e6
    } else if number < 1e17 {
        number * 1e3
    } else {
        number
    };
    (ns < 9.2e18).then_some(ns as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_stream_message_and_time_as_victorialogs_reads_them() {
        let params = Params::from_query(Some(
            "_stream_fields=function,job&_msg_field=message&_time_field=ts&ignore_fields=secret",
        ));
        let body = br#"{"ts":"2024-01-02T03:04:05Z","message":"hello","function":"echo","job":"esb","secret":"x","nested":{"a":1}}
{"message":"no time","function":"echo"}

not json
[1,2]
{"ts":"yesterday","message":"bad time"}"#;
        let (records, rejected) = parse(body, &params, 42);
        assert_eq!(records.len(), 2);
        let r = &records[0];
        assert_eq!(r.msg, "hello");
        assert_eq!(r.time_ns, 1_704_164_645_000_000_000);
        assert_eq!(
            r.stream,
            vec![
                ("function".into(), "echo".into()),
                ("job".into(), "esb".into())
            ]
        );
        assert_eq!(r.fields.get("nested.a"), Some(&Value::String("1".into())));
        assert!(!r.fields.contains_key("secret"));
        assert_eq!(records[1].time_ns, 42);
        assert_eq!(
            rejected.iter().map(|r| r.line).collect::<Vec<_>>(),
            vec![4, 5, 6]
        );
    }

    #[test]
    fn unix_times_in_any_unit() {
        let s = 1_704_164_645_i64;
        for v in [
            serde_json::json!(s),
            serde_json::json!(s * 1000),
            serde_json::json!(s * 1_000_000),
            serde_json::json!(s * 1_000_000_000),
        ] {
            assert_eq!(parse_time(&v), Some(s * 1_000_000_000), "{v}");
        }
        assert_eq!(parse_time(&serde_json::json!(-1)), None);
    }

    #[test]
    fn huge_and_invalid_lines_are_rejected_alone() {
        let mut body = vec![b'"'; MAX_LINE + 10];
        body.extend_from_slice(b"\n{\"_msg\":\"ok\"}\n\xff\xfe\n");
        let (records, rejected) = parse(&body, &Params::default(), 0);
        assert_eq!(records.len(), 1);
        assert_eq!(rejected.len(), 2);
    }
}
