//! A queue's attributes: which are settable, AWS's ranges and defaults, and the typed
//! settings the engine works with. Attributes are stored as the strings SQS shows.

use std::collections::BTreeMap;

use crate::error::{ErrorKind, SqsError};

pub type Attributes = BTreeMap<String, String>;

/// The largest message SQS takes (and the default `MaximumMessageSize`).
pub const MAX_MESSAGE_BYTES: usize = 1_048_576;

/// The attributes a client may set, with their ranges where numeric.
const NUMERIC: &[(&str, i64, i64)] = &[
    ("DelaySeconds", 0, 900),
    ("MaximumMessageSize", 1024, MAX_MESSAGE_BYTES as i64),
    ("MessageRetentionPeriod", 60, 1_209_600),
    ("ReceiveMessageWaitTimeSeconds", 0, 20),
    ("VisibilityTimeout", 0, 43_200),
    ("KmsDataKeyReusePeriodSeconds", 60, 86_400),
];
const FIFO_ONLY: &[&str] = &[
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
];
const OTHER: &[&str] = &[
    "Policy",
    "RedrivePolicy",
    "RedriveAllowPolicy",
    "KmsMasterKeyId",
    "SqsManagedSseEnabled",
    "FifoQueue",
];
/// Attributes SQS computes; GetQueueAttributes takes their names.
pub const COMPUTED: &[&str] = &[
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
];

/// Whether `name` is an attribute GetQueueAttributes knows.
pub fn is_known(name: &str) -> bool {
    name == "All"
        || COMPUTED.contains(&name)
        || NUMERIC.iter().any(|(n, _, _)| *n == name)
        || FIFO_ONLY.contains(&name)
        || OTHER.contains(&name)
}

fn unknown(name: &str) -> SqsError {
    SqsError::new(
        ErrorKind::InvalidAttributeName,
        format!("Unknown Attribute {name}."),
    )
}

fn bad_value(name: &str) -> SqsError {
    SqsError::new(
        ErrorKind::InvalidAttributeValue,
        format!("Invalid value for the parameter {name}."),
    )
}

/// A queue's defaults, as GetQueueAttributes shows them for a new queue.
pub fn defaults(fifo: bool) -> Attributes {
    let mut a = Attributes::new();
    for (k, v) in [
        ("DelaySeconds", "0"),
        ("MaximumMessageSize", "1048576"),
        ("MessageRetentionPeriod", "345600"),
        ("ReceiveMessageWaitTimeSeconds", "0"),
        ("VisibilityTimeout", "30"),
        ("SqsManagedSseEnabled", "true"),
    ] {
        a.insert(k.into(), v.into());
    }
    if fifo {
        a.insert("FifoQueue".into(), "true".into());
        a.insert("ContentBasedDeduplication".into(), "false".into());
        a.insert("DeduplicationScope".into(), "queue".into());
        a.insert("FifoThroughputLimit".into(), "perQueue".into());
    }
    a
}

/// Whether the attributes given to CreateQueue ask for a FIFO queue.
pub fn wants_fifo(given: &Attributes) -> Result<bool, SqsError> {
    match given.get("FifoQueue").map(String::as_str) {
        None => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(_) => Err(bad_value("FifoQueue")),
    }
}

/// Checks `given` for a queue (FIFO or not; `creating` allows `FifoQueue`) and returns
/// the values as stored (booleans and JSON policies normalised). Redrive targets are
/// checked by the caller, who knows the other queues.
pub fn validate(given: &Attributes, fifo: bool, creating: bool) -> Result<Attributes, SqsError> {
    let mut out = Attributes::new();
    for (name, value) in given {
        let stored = if let Some((_, lo, hi)) = NUMERIC.iter().find(|(n, _, _)| n == name) {
            let n: i64 = value.trim().parse().map_err(|_| bad_value(name))?;
            if n < *lo || n > *hi {
                return Err(bad_value(name));
            }
            n.to_string()
        } else if FIFO_ONLY.contains(&name.as_str()) {
            if !fifo {
                return Err(unknown(name));
            }
            match name.as_str() {
                "ContentBasedDeduplication" => boolean(name, value)?,
                "DeduplicationScope" if value == "queue" || value == "messageGroup" => {
                    value.clone()
                }
                "FifoThroughputLimit" if value == "perQueue" || value == "perMessageGroupId" => {
                    value.clone()
                }
                _ => return Err(bad_value(name)),
            }
        } else {
            match name.as_str() {
                "FifoQueue" if creating => {
                    if boolean(name, value)? == "true" {
                        "true".into()
                    } else {
                        continue;
                    }
                }
                "FifoQueue" => return Err(bad_value(name)),
                "SqsManagedSseEnabled" => boolean(name, value)?,
                "KmsMasterKeyId" => value.clone(),
                "Policy" => {
                    if !value.is_empty()
                        && serde_json::from_str::<serde_json::Value>(value).is_err()
                    {
                        return Err(bad_value(name));
                    }
                    value.clone()
                }
                "RedrivePolicy" => redrive_policy(value)?,
                "RedriveAllowPolicy" => redrive_allow_policy(value)?,
                _ => return Err(unknown(name)),
            }
        };
        out.insert(name.clone(), stored);
    }
    if out.get("DeduplicationScope").map(String::as_str) == Some("messageGroup")
        && out.get("FifoThroughputLimit").map(String::as_str) == Some("perQueue")
    {
        return Err(SqsError::invalid(
            "Invalid value for the parameter FifoThroughputLimit. Reason: To set FifoThroughputLimit to perQueue, DeduplicationScope must be set to queue.",
        ));
    }
    Ok(out)
}

fn boolean(name: &str, value: &str) -> Result<String, SqsError> {
    if value.eq_ignore_ascii_case("true") {
        Ok("true".into())
    } else if value.eq_ignore_ascii_case("false") {
        Ok("false".into())
    } else {
        Err(bad_value(name))
    }
}

/// `{"deadLetterTargetArn": "...", "maxReceiveCount": 1..1000}`, stored with the count
/// as a number as SQS shows it; an empty value removes the policy.
fn redrive_policy(value: &str) -> Result<String, SqsError> {
    if value.is_empty() {
        return Ok(String::new());
    }
    let reason = |why: &str| {
        SqsError::invalid(format!(
            "Value {value} for parameter RedrivePolicy is invalid. Reason: {why}"
        ))
    };
    let v: serde_json::Value = serde_json::from_str(value)
        .map_err(|_| reason("Redrive policy is not a valid JSON map."))?;
    let target = v
        .get("deadLetterTargetArn")
        .and_then(|t| t.as_str())
        .ok_or_else(|| {
            reason("Redrive policy does not contain mandatory attribute: deadLetterTargetArn.")
        })?;
    let count = match v.get("maxReceiveCount") {
        Some(serde_json::Value::Number(n)) => n.as_i64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        None => {
            return Err(reason(
                "Redrive policy does not contain mandatory attribute: maxReceiveCount.",
            ));
        }
        _ => None,
    }
    .filter(|n| (1..=1000).contains(n))
    .ok_or_else(|| {
        reason("Invalid value for maxReceiveCount: must be an integer from 1 to 1000.")
    })?;
    Ok(serde_json::json!({"deadLetterTargetArn": target, "maxReceiveCount": count}).to_string())
}

fn redrive_allow_policy(value: &str) -> Result<String, SqsError> {
    if value.is_empty() {
        return Ok(String::new());
    }
    let reason = |why: &str| {
        SqsError::invalid(format!(
            "Value {value} for parameter RedriveAllowPolicy is invalid. Reason: {why}"
        ))
    };
    let v: serde_json::Value = serde_json::from_str(value).map_err(|_| reason("Invalid JSON."))?;
    match v.get("redrivePermission").and_then(|p| p.as_str()) {
        Some("allowAll") | Some("denyAll") => {}
        Some("byQueue") => {
            let n = v
                .get("sourceQueueArns")
                .and_then(|a| a.as_array())
                .map_or(0, Vec::len);
            if n == 0 || n > 10 {
                return Err(reason(
                    "sourceQueueArns must list 1 to 10 queues when redrivePermission is byQueue.",
                ));
            }
        }
        _ => return Err(reason("Invalid value for redrivePermission.")),
    }
    Ok(value.to_string())
}

/// The settings the engine acts on, read from a queue's stored attributes.
#[derive(Debug, Clone)]
pub struct Settings {
    pub fifo: bool,
    pub delay_seconds: i64,
    pub max_message_size: usize,
    pub retention_seconds: i64,
    pub wait_seconds: i64,
    pub visibility_timeout: i64,
    pub content_based_dedup: bool,
    pub dedup_per_group: bool,
    /// The dead-letter queue's name and the receive count after which a message goes
    /// there.
    pub redrive: Option<(String, i64)>,
}

impl Settings {
    pub fn of(attrs: &Attributes, account: &str) -> Self {
        let num = |k: &str, d: i64| attrs.get(k).and_then(|v| v.parse().ok()).unwrap_or(d);
        let redrive = attrs
            .get("RedrivePolicy")
            .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
            .and_then(|v| {
                let arn = v.get("deadLetterTargetArn")?.as_str()?;
                let name = crate::names::queue_of_arn_str(arn, account)?;
                Some((name.to_string(), v.get("maxReceiveCount")?.as_i64()?))
            });
        Self {
            fifo: attrs.get("FifoQueue").is_some_and(|v| v == "true"),
            delay_seconds: num("DelaySeconds", 0),
            max_message_size: usize::try_from(num("MaximumMessageSize", MAX_MESSAGE_BYTES as i64))
                .unwrap_or(MAX_MESSAGE_BYTES),
            retention_seconds: num("MessageRetentionPeriod", 345_600),
            wait_seconds: num("ReceiveMessageWaitTimeSeconds", 0),
            visibility_timeout: num("VisibilityTimeout", 30),
            content_based_dedup: attrs
                .get("ContentBasedDeduplication")
                .is_some_and(|v| v == "true"),
            dedup_per_group: attrs
                .get("DeduplicationScope")
                .is_some_and(|v| v == "messageGroup"),
            redrive,
        }
    }
}

/// The dead-letter target ARN of a stored redrive policy.
pub fn redrive_target(attrs: &Attributes) -> Option<String> {
    let p = attrs.get("RedrivePolicy")?;
    let v: serde_json::Value = serde_json::from_str(p).ok()?;
    Some(v.get("deadLetterTargetArn")?.as_str()?.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &str)]) -> Attributes {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn ranges_are_aws_ranges() {
        for (name, ok, bad) in [
            ("DelaySeconds", "900", "901"),
            ("MaximumMessageSize", "1024", "1023"),
            ("MaximumMessageSize", "1048576", "1048577"),
            ("MessageRetentionPeriod", "60", "59"),
            ("MessageRetentionPeriod", "1209600", "1209601"),
            ("ReceiveMessageWaitTimeSeconds", "20", "21"),
            ("VisibilityTimeout", "43200", "43201"),
            ("VisibilityTimeout", "0", "-1"),
        ] {
            assert!(
                validate(&attrs(&[(name, ok)]), false, true).is_ok(),
                "{name}={ok}"
            );
            let e = validate(&attrs(&[(name, bad)]), false, true).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidAttributeValue, "{name}={bad}");
        }
        let e = validate(&attrs(&[("DelaySeconds", "soon")]), false, true).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidAttributeValue);
    }

    #[test]
    fn unknown_and_fifo_only_names() {
        let e = validate(&attrs(&[("Colour", "red")]), false, true).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidAttributeName);
        let e = validate(
            &attrs(&[("ContentBasedDeduplication", "true")]),
            false,
            true,
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidAttributeName);
        assert!(validate(&attrs(&[("ContentBasedDeduplication", "true")]), true, true).is_ok());
        let e = validate(&attrs(&[("FifoQueue", "true")]), true, false).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidAttributeValue);
    }

    #[test]
    fn redrive_policy_is_checked_and_normalised() {
        let v = validate(
            &attrs(&[(
                "RedrivePolicy",
                r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq","maxReceiveCount":"3"}"#,
            )]),
            false,
            true,
        )
        .unwrap();
        assert_eq!(
            v["RedrivePolicy"],
            r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq","maxReceiveCount":3}"#
        );
        let s = Settings::of(&v, "000000000000");
        assert_eq!(s.redrive, Some(("dlq".into(), 3)));
        for bad in [
            "nope",
            r#"{"maxReceiveCount":3}"#,
            r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq"}"#,
            r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq","maxReceiveCount":0}"#,
        ] {
            let e = validate(&attrs(&[("RedrivePolicy", bad)]), false, true).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidParameterValue, "{bad}");
        }
    }
}
