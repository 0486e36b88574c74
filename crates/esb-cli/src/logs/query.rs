//! The LogsQL `esb logs` asks: the filter of the records wanted (its query, function
//! and `--since`, anded) and the LogsQL spelling of times.

use anyhow::{Context, Result, bail};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// `_time:>=` the start `--since` names: a duration back from now, or a time.
pub(super) fn parse_since(text: &str, now_ns: i64) -> Result<i64> {
    let invalid = || {
        format!(
            "invalid --since {text:?}: expected a duration back from now (10m, 1h30m, 2d) or \
             a time (2026-11-29T08:00:00Z)"
        )
    };
    let text = text.trim();
    // One LogsQL time value, nothing that would turn it into more of a query.
    if text.is_empty()
        || text
            .chars()
            .any(|c| c.is_whitespace() || "()[]{}|,;#\"'`".contains(c))
    {
        bail!(invalid());
    }
    let query = esb_logs::logsql::parse(&format!("_time:{text}"), now_ns).with_context(invalid)?;
    match query.filter {
        esb_logs::logsql::Filter::Time {
            start: Some(start), ..
        } => Ok(start),
        _ => bail!(invalid()),
    }
}

/// The LogsQL filter of the records asked for (without pipes).
pub(super) fn base_filter(
    query: Option<&str>,
    function: Option<&str>,
    since: Option<i64>,
) -> String {
    let mut parts = Vec::new();
    if let Some(q) = query.filter(|q| !q.trim().is_empty()) {
        // Parenthesised so that its OR binds inside; a newline ends a `#` comment.
        let end = if q.contains('#') { "\n)" } else { ")" };
        parts.push(format!("({q}{end}"));
    }
    if let Some(f) = function {
        parts.push(format!("_stream:{{function={}}}", quote(f)));
    }
    if let Some(ns) = since {
        parts.push(format!("_time:>={}", rfc3339(ns)));
    }
    if parts.is_empty() {
        "*".into()
    } else {
        parts.join(" ")
    }
}

/// A LogsQL string literal (Go escapes, which JSON's are a subset of).
fn quote(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

pub(super) fn rfc3339(ns: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns))
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_anded_and_quoted() {
        assert_eq!(base_filter(None, None, None), "*");
        assert_eq!(
            base_filter(Some("a OR b"), Some("we\"ird"), Some(0)),
            "(a OR b) _stream:{function=\"we\\\"ird\"} _time:>=1970-01-01T00:00:00Z"
        );
        let q = base_filter(Some("x # comment"), Some("echo"), None);
        assert!(esb_logs::logsql::parse(&q, 0).is_ok(), "{q}");
    }

    #[test]
    fn since_takes_durations_and_times() {
        let now = 1_800_000_000_000_000_000;
        assert_eq!(parse_since("10m", now).ok(), Some(now - 600_000_000_000));
        assert_eq!(
            parse_since("2026-11-29T08:00:00Z", now).ok(),
            Some(1_795_939_200_000_000_000)
        );
        for bad in ["", "soon", "10m OR *", "1h)"] {
            assert!(parse_since(bad, now).is_err(), "{bad}");
        }
    }
}
