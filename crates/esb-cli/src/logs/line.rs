//! One record as `esb logs` reads it: the store's JSON line as it came (printed as is
//! by `--json`), its fields, and its time.

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// One record: the store's JSON line as it came, and its fields.
pub(super) struct Line {
    pub(super) raw: String,
    fields: Map<String, Value>,
    pub(super) time_ns: Option<i64>,
}

/// What tells two records apart while following: time, stream, message.
pub(super) type Key = (i64, String, String);

impl Line {
    pub(super) fn from_json(raw: &str) -> Self {
        let fields = serde_json::from_str::<Map<String, Value>>(raw).unwrap_or_default();
        let time_ns = fields
            .get("_time")
            .and_then(Value::as_str)
            .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
            .and_then(|t| i64::try_from(t.unix_timestamp_nanos()).ok());
        Self {
            raw: raw.to_string(),
            fields,
            time_ns,
        }
    }

    pub(super) fn from_record(r: &esb_logs::Record) -> Self {
        let json = esb_logs::http::to_json(r);
        Self {
            raw: json.to_string(),
            fields: match json {
                Value::Object(map) => map,
                _ => Map::new(),
            },
            time_ns: Some(r.time_ns),
        }
    }

    pub(super) fn text(&self, name: &str) -> Option<String> {
        match self.fields.get(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }

    /// The `function` label (a field in the answer, else read from `_stream`).
    pub(super) fn function(&self) -> Option<String> {
        self.text("function")
            .or_else(|| stream_label(&self.text("_stream")?, "function"))
    }

    pub(super) fn key(&self) -> Option<Key> {
        Some((
            self.time_ns?,
            self.text("_stream").unwrap_or_default(),
            self.text("_msg").unwrap_or_default(),
        ))
    }
}

/// A label of a `_stream` value such as `{function="echo",job="lambda"}`.
fn stream_label(stream: &str, label: &str) -> Option<String> {
    let inner = stream.trim().strip_prefix('{')?;
    let mut rest = inner;
    loop {
        rest = rest.trim_start_matches([',', ' ']);
        let (name, after) = rest.split_once('=')?;
        let mut values = serde_json::Deserializer::from_str(after).into_iter::<String>();
        let value = values.next()?.ok()?;
        if name.trim() == label {
            return Some(value);
        }
        rest = after.get(values.byte_offset()..)?;
    }
}

/// A record with just a time, a stream and a message, for the module's tests.
#[cfg(test)]
pub(super) fn sample(time: &str, stream: &str, msg: &str) -> Line {
    Line::from_json(&serde_json::json!({"_time": time, "_stream": stream, "_msg": msg}).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_labels_are_read() {
        let s = r#"{function="a \"b\"",job="lambda"}"#;
        assert_eq!(stream_label(s, "function").as_deref(), Some("a \"b\""));
        assert_eq!(stream_label(s, "job").as_deref(), Some("lambda"));
        assert_eq!(stream_label(s, "x"), None);
    }
}
