//! PutLogEvents' batch rules, as AWS applies them: the whole request is refused for a
//! malformed batch (empty, more than 10,000 events, over 1,048,576 bytes counting 26
//! per event, out of chronological order, valid events spanning more than 24 hours);
//! events too new (over 2 hours ahead), too old (over 14 days) or older than the
//! group's retention are left out and reported in `rejectedLogEventsInfo`.

use serde_json::{Value, json};

use crate::error::ApiError;
use crate::params::missing;

pub const MAX_EVENTS: usize = 10_000;
pub const MAX_BATCH_BYTES: usize = 1_048_576;
pub const EVENT_OVERHEAD: usize = 26;
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// One event as sent.
#[derive(Debug, Clone, PartialEq)]
pub struct InputEvent {
    pub timestamp_ms: i64,
    pub message: String,
}

/// What a valid batch becomes: the events to store and what was left out.
#[derive(Debug, Default, PartialEq)]
pub struct Accepted {
    pub events: Vec<InputEvent>,
    pub too_new_start: Option<usize>,
    pub too_old_end: Option<usize>,
    pub expired_end: Option<usize>,
}

impl Accepted {
    /// `rejectedLogEventsInfo`, when anything was left out.
    pub fn rejected_info(&self) -> Option<Value> {
        let mut info = serde_json::Map::new();
        if let Some(i) = self.too_new_start {
            info.insert("tooNewLogEventStartIndex".into(), json!(i));
        }
        if let Some(i) = self.too_old_end {
            info.insert("tooOldLogEventEndIndex".into(), json!(i));
        }
        if let Some(i) = self.expired_end {
            info.insert("expiredLogEventEndIndex".into(), json!(i));
        }
        (!info.is_empty()).then_some(Value::Object(info))
    }
}

/// Reads `logEvents` (the request's member).
pub fn read(events: Option<&Vec<Value>>) -> Result<Vec<InputEvent>, ApiError> {
    let events = events.ok_or_else(|| missing("logEvents"))?;
    events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let at = |m: &str| format!("logEvents.{}.member.{m}", i + 1);
            let timestamp_ms = match e.get("timestamp") {
                Some(Value::Number(n)) => n
                    .as_i64()
                    .ok_or_else(|| ApiError::serialization("`timestamp` must be an integer"))?,
                None | Some(Value::Null) => return Err(missing(&at("timestamp"))),
                Some(_) => return Err(ApiError::serialization("`timestamp` must be a number")),
            };
            let message = match e.get("message") {
                Some(Value::String(s)) => s.clone(),
                None | Some(Value::Null) => return Err(missing(&at("message"))),
                Some(_) => return Err(ApiError::serialization("`message` must be a string")),
            };
            if message.is_empty() {
                return Err(ApiError::constraint(
                    "",
                    &at("message"),
                    "Member must have length greater than or equal to 1",
                ));
            }
            Ok(InputEvent {
                timestamp_ms,
                message,
            })
        })
        .collect()
}

/// Applies the batch rules at `now_ms` for a group keeping `retention_days`.
pub fn check(
    events: Vec<InputEvent>,
    now_ms: i64,
    retention_days: Option<i64>,
) -> Result<Accepted, ApiError> {
    if events.is_empty() {
        return Err(ApiError::constraint(
            "[]",
            "logEvents",
            "Member must have length greater than or equal to 1",
        ));
    }
    if events.len() > MAX_EVENTS {
        return Err(ApiError::constraint(
            "[...]",
            "logEvents",
            &format!("Member must have length less than or equal to {MAX_EVENTS}"),
        ));
    }
    let size: usize = events
        .iter()
        .map(|e| e.message.len() + EVENT_OVERHEAD)
        .sum();
    if size > MAX_BATCH_BYTES {
        return Err(ApiError::invalid(format!(
            "Upload too large: {size} bytes exceeds limit of {MAX_BATCH_BYTES}"
        )));
    }
    if events
        .windows(2)
        .any(|w| w[1].timestamp_ms < w[0].timestamp_ms)
    {
        return Err(ApiError::invalid(
            "Log events in a single PutLogEvents request must be in chronological order.",
        ));
    }
    // Chronological: the too old are a prefix, the too new a suffix.
    let too_old = events
        .iter()
        .take_while(|e| e.timestamp_ms < now_ms - 14 * DAY_MS)
        .count();
    let retention_floor = retention_days.map(|d| now_ms - d.saturating_mul(DAY_MS));
    let expired = retention_floor.map_or(0, |floor| {
        events.iter().take_while(|e| e.timestamp_ms < floor).count()
    });
    let too_new_start = events
        .iter()
        .position(|e| e.timestamp_ms > now_ms + 2 * HOUR_MS);
    let first_valid = too_old.max(expired);
    let end_valid = too_new_start.unwrap_or(events.len()).max(first_valid);
    let valid = &events[first_valid..end_valid];
    if let (Some(first), Some(last)) = (valid.first(), valid.last())
        && last.timestamp_ms - first.timestamp_ms > DAY_MS
    {
        return Err(ApiError::invalid(
            "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.",
        ));
    }
    Ok(Accepted {
        too_new_start,
        too_old_end: (too_old > 0).then_some(too_old),
        expired_end: (expired > 0).then_some(expired),
        events: valid.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000;

    fn ev(t: i64, m: &str) -> InputEvent {
        InputEvent {
            timestamp_ms: t,
            message: m.into(),
        }
    }

    #[test]
    fn a_good_batch_is_kept_whole() {
        let a = check(vec![ev(NOW - 5, "a"), ev(NOW, "b")], NOW, None).unwrap();
        assert_eq!(a.events.len(), 2);
        assert_eq!(a.rejected_info(), None);
    }

    #[test]
    fn malformed_batches_are_refused_whole() {
        assert!(check(vec![], NOW, None).is_err());
        let e = check(vec![ev(NOW, "b"), ev(NOW - 1, "a")], NOW, None).unwrap_err();
        assert!(e.message.contains("chronological order"), "{}", e.message);
        let span = check(vec![ev(NOW - 2 * DAY_MS, "a"), ev(NOW, "b")], NOW, None).unwrap_err();
        assert!(span.message.contains("24 hours"), "{}", span.message);
        let big = "x".repeat(MAX_BATCH_BYTES - EVENT_OVERHEAD + 1);
        let e = check(vec![ev(NOW, &big)], NOW, None).unwrap_err();
        assert!(e.message.starts_with("Upload too large"), "{}", e.message);
        let exact = "x".repeat(MAX_BATCH_BYTES - EVENT_OVERHEAD);
        assert!(check(vec![ev(NOW, &exact)], NOW, None).is_ok());
        let many = (0..=MAX_EVENTS as i64)
            .map(|i| ev(NOW, &i.to_string()))
            .collect();
        assert!(check(many, NOW, None).is_err());
    }

    #[test]
    fn too_old_too_new_and_expired_events_are_left_out_and_reported() {
        let a = check(
            vec![
                ev(NOW - 15 * DAY_MS, "old"),
                ev(NOW - 2 * DAY_MS, "expired"),
                ev(NOW, "ok"),
                ev(NOW + 3 * HOUR_MS, "new"),
            ],
            NOW,
            Some(1),
        )
        .unwrap();
        assert_eq!(a.events, vec![ev(NOW, "ok")]);
        assert_eq!(
            a.rejected_info().unwrap(),
            json!({"tooOldLogEventEndIndex": 1, "expiredLogEventEndIndex": 2,
                   "tooNewLogEventStartIndex": 3})
        );
    }

    #[test]
    fn events_are_read_with_the_models_errors() {
        let e = read(Some(&vec![json!({"timestamp": 1, "message": ""})])).unwrap_err();
        assert!(
            e.message.contains("logEvents.1.member.message"),
            "{}",
            e.message
        );
        let e = read(Some(&vec![json!({"message": "x"})])).unwrap_err();
        assert!(
            e.message.contains("Member must not be null"),
            "{}",
            e.message
        );
        assert!(read(None).is_err());
    }
}
