//! Reading events out of the log store in CloudWatch Logs' order (by timestamp), a page
//! at a time, with positions that pagination tokens carry: a position is a time and how
//! many records at exactly that time were already returned, so a page never repeats or
//! skips a record even when several share a timestamp.

use std::sync::Arc;

use esb_logs::{Record, Store};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// Where a walk through the records stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub time_ns: i64,
    /// Records at exactly `time_ns` already returned (forward), or 0.
    pub skip: usize,
}

impl Position {
    pub fn at(time_ns: i64) -> Self {
        Self { time_ns, skip: 0 }
    }

    /// The position just after `r`, walking forward from `self`.
    pub fn after(self, r: &Record) -> Self {
        if r.time_ns == self.time_ns {
            Self {
                time_ns: r.time_ns,
                skip: self.skip + 1,
            }
        } else {
            Self {
                time_ns: r.time_ns,
                skip: 1,
            }
        }
    }

    /// `<kind>/<time_ns>/<skip>`: `f` forward, `b` backward, `n` FilterLogEvents.
    pub fn token(self, kind: char) -> String {
        format!("{kind}/{}/{}", self.time_ns, self.skip)
    }

    pub fn from_token(token: &str) -> Result<(char, Self), ApiError> {
        let bad = || ApiError::invalid("The specified nextToken is invalid.");
        let mut parts = token.splitn(3, '/');
        let kind = parts
            .next()
            .and_then(|k| k.chars().next())
            .ok_or_else(bad)?;
        let time_ns = parts.next().and_then(|t| t.parse().ok()).ok_or_else(bad)?;
        let skip = parts.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
        Ok((kind, Self { time_ns, skip }))
    }
}

/// A value quoted for LogsQL.
pub fn quote(value: &str) -> String {
    serde_json::Value::String(value.to_string()).to_string()
}

fn run(store: &Store, text: &str) -> Result<Vec<Record>, ApiError> {
    let query = esb_logs::logsql::parse(text, esb_logs::http::now_ns())
        .map_err(|e| ApiError::unavailable(format!("query [{text}]: {e}")))?;
    store
        .query(&query)
        .map_err(|e| ApiError::unavailable(e.to_string()))
}

/// A `_time` bound (`op` `>=`, `<`, `<=`) at `ns`, in RFC 3339 with nanoseconds; no
/// bound at all for times before 1970 or at the end of time.
fn bound(op: &str, ns: i64) -> String {
    if ns <= 0 || ns == i64::MAX {
        return String::new();
    }
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns))
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .map_or_else(String::new, |t| format!(" _time:{op}{t}"))
}

/// At most `n` records of `filter` after `from`, before `end_ns`, oldest first.
pub fn forward(
    store: &Arc<Store>,
    filter: &str,
    from: Position,
    end_ns: Option<i64>,
    n: usize,
) -> Result<Vec<Record>, ApiError> {
    let text = format!(
        "({filter}){}{} | sort by (_time) | limit {}",
        bound(">=", from.time_ns),
        end_ns.map_or_else(String::new, |e| bound("<", e)),
        n + from.skip
    );
    let mut records = run(store, &text)?;
    let already = records
        .iter()
        .take(from.skip)
        .take_while(|r| r.time_ns == from.time_ns)
        .count();
    records.drain(..already);
    records.truncate(n);
    Ok(records)
}

/// The newest `n` records of `filter` at or before `upto_ns` (and at or after
/// `start_ns`), oldest first.
pub fn backward(
    store: &Arc<Store>,
    filter: &str,
    start_ns: i64,
    upto_ns: i64,
    n: usize,
) -> Result<Vec<Record>, ApiError> {
    let text = format!(
        "({filter}){}{} | sort by (_time desc) | limit {n}",
        bound(">=", start_ns),
        bound("<=", upto_ns)
    );
    let mut records = run(store, &text)?;
    records.reverse();
    Ok(records)
}

/// A stable id of a record: 56 digits, the millisecond first, as CloudWatch's look.
pub fn event_id(r: &Record) -> String {
    let mut h = Sha256::new();
    h.update(r.stream_text().as_bytes());
    h.update(r.time_ns.to_be_bytes());
    h.update(r.msg.as_bytes());
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    let n = u128::from_be_bytes(bytes) % 10u128.pow(36);
    format!("{:020}{n:036}", r.time_ns.div_euclid(1_000_000).max(0))
}

/// Milliseconds of a record's time (CloudWatch's `timestamp`).
pub fn millis(time_ns: i64) -> i64 {
    time_ns.div_euclid(1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_bad_ones_are_refused() {
        let p = Position {
            time_ns: 1_700_000_000_000_000_123,
            skip: 2,
        };
        assert_eq!(Position::from_token(&p.token('f')).unwrap(), ('f', p));
        for bad in ["", "f", "f/x/1", "f/1", "f/1/-1"] {
            assert!(Position::from_token(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn event_ids_are_56_digits_and_stable() {
        let r = Record {
            time_ns: 1_700_000_000_123_456_789,
            msg: "hello".into(),
            stream: vec![("log_group".into(), "/g".into())],
            fields: serde_json::Map::new(),
        };
        let id = event_id(&r);
        assert_eq!(id.len(), 56);
        assert!(id.chars().all(|c| c.is_ascii_digit()));
        assert!(id.starts_with("00000001700000000123"));
        assert_eq!(id, event_id(&r.clone()));
    }
}
