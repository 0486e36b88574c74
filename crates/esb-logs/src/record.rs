//! One log record, as VictoriaLogs models it: a time, a message, the stream it belongs
//! to (a set of labels such as `function` and `job`) and any other fields.

use std::borrow::Cow;

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Nanoseconds since the Unix epoch (`_time`).
    pub time_ns: i64,
    /// `_msg`.
    pub msg: String,
    /// The stream's labels, sorted by name (`_stream` is `{a="1",b="2"}`).
    pub stream: Vec<(String, String)>,
    /// Every other field, with its value as text (as VictoriaLogs stores them).
    pub fields: Map<String, Value>,
}

impl Record {
    /// `_stream` as VictoriaLogs writes it: `{function="echo",job="esb"}`.
    pub fn stream_text(&self) -> String {
        let labels: Vec<String> = self
            .stream
            .iter()
            .map(|(k, v)| format!("{k}={}", serde_json::Value::String(v.clone())))
            .collect();
        format!("{{{}}}", labels.join(","))
    }

    /// `_time` as RFC 3339 with nanoseconds (UTC).
    pub fn time_text(&self) -> String {
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.time_ns))
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_default()
    }

    /// A field's value as text: `_msg`, `_time`, `_stream`, a stream label, or a field.
    pub fn field(&self, name: &str) -> Option<Cow<'_, str>> {
        match name {
            "_msg" | "" => Some(Cow::Borrowed(&self.msg)),
            "_time" => Some(Cow::Owned(self.time_text())),
            "_stream" => Some(Cow::Owned(self.stream_text())),
            _ => {
                if let Some((_, v)) = self.stream.iter().find(|(k, _)| k == name) {
                    return Some(Cow::Borrowed(v));
                }
                match self.fields.get(name)? {
                    Value::String(s) => Some(Cow::Borrowed(s)),
                    Value::Null => None,
                    other => Some(Cow::Owned(other.to_string())),
                }
            }
        }
    }
}
