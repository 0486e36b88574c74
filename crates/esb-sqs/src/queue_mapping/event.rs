//! SQS messages as the function receives them: each `ReceiveMessage` message in the
//! shape of Lambda's SQS event record (`messageId`, `receiptHandle`, `body`,
//! `attributes`, `messageAttributes`, `md5OfBody`, `eventSource`, `eventSourceARN`,
//! `awsRegion`), in `{"Records": [...]}`.

use serde_json::{Map, Value};

use esb_lambda::event_filter::{self, FilterPattern};

/// Lambda's limit on a synchronous invocation's payload (6 MB): a batch is cut short
/// rather than sent over it.
pub(super) const MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;
/// `{"Records":[` and `]}`.
const ENVELOPE_BYTES: usize = 14;

/// The system attributes Lambda passes on, in its order; others a server may add are
/// not part of the event.
const SYSTEM_ATTRIBUTES: &[&str] = &[
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
    "AWSTraceHeader",
    "DeadLetterQueueSourceArn",
];

/// One received message, ready to be sent (or deleted unsent by the filters).
#[derive(Debug, Clone)]
pub(super) struct Message {
    pub id: String,
    pub receipt_handle: String,
    /// The record as JSON, in the event's shape.
    pub json: String,
    /// Whether the mapping's filters let it through.
    pub matched: bool,
}

impl Message {
    /// The Lambda-shaped record of `raw` (one of `ReceiveMessage`'s `Messages`), or why
    /// it cannot be one (no id or receipt handle: nothing could delete it).
    pub fn new(
        raw: &Value,
        queue_arn: &str,
        region: &str,
        filters: &[FilterPattern],
    ) -> Result<Self, String> {
        let text = |name: &str| raw.get(name).and_then(Value::as_str);
        let id = text("MessageId").ok_or("a message without MessageId")?;
        let receipt_handle = text("ReceiptHandle").ok_or("a message without ReceiptHandle")?;
        let record = lambda_record(raw, queue_arn, region);
        let matched = filters.is_empty() || event_filter::passes(filters, &filter_view(&record));
        let json = serde_json::to_string(&record).map_err(|e| e.to_string())?;
        Ok(Self {
            id: id.to_string(),
            receipt_handle: receipt_handle.to_string(),
            json,
            matched,
        })
    }
}

/// The record Lambda builds of a received message.
fn lambda_record(raw: &Value, queue_arn: &str, region: &str) -> Value {
    let text = |name: &str| raw.get(name).and_then(Value::as_str).unwrap_or_default();
    let mut attributes = Map::new();
    if let Some(Value::Object(given)) = raw.get("Attributes") {
        for name in SYSTEM_ATTRIBUTES {
            if let Some(v) = given.get(*name) {
                attributes.insert((*name).to_string(), v.clone());
            }
        }
    }
    let mut message_attributes = Map::new();
    if let Some(Value::Object(given)) = raw.get("MessageAttributes") {
        for (name, v) in given {
            message_attributes.insert(name.clone(), message_attribute(v));
        }
    }
    let mut record = Map::new();
    record.insert("messageId".into(), text("MessageId").into());
    record.insert("receiptHandle".into(), text("ReceiptHandle").into());
    record.insert("body".into(), text("Body").into());
    record.insert("attributes".into(), Value::Object(attributes));
    record.insert(
        "messageAttributes".into(),
        Value::Object(message_attributes),
    );
    record.insert("md5OfBody".into(), text("MD5OfBody").into());
    if let Some(md5) = raw.get("MD5OfMessageAttributes").and_then(Value::as_str) {
        record.insert("md5OfMessageAttributes".into(), md5.into());
    }
    record.insert("eventSource".into(), "aws:sqs".into());
    record.insert("eventSourceARN".into(), queue_arn.into());
    record.insert("awsRegion".into(), region.into());
    Value::Object(record)
}

/// One message attribute as Lambda writes it: camelCase, both list fields always
/// present (empty), `stringValue`/`binaryValue` only when set.
fn message_attribute(raw: &Value) -> Value {
    let mut out = Map::new();
    for (from, to) in [
        ("StringValue", "stringValue"),
        ("BinaryValue", "binaryValue"),
    ] {
        if let Some(v) = raw.get(from).filter(|v| !v.is_null()) {
            out.insert(to.into(), v.clone());
        }
    }
    for (from, to) in [
        ("StringListValues", "stringListValues"),
        ("BinaryListValues", "binaryListValues"),
    ] {
        let list = raw
            .get(from)
            .filter(|v| v.is_array())
            .cloned()
            .unwrap_or_else(|| Value::Array(Vec::new()));
        out.insert(to.into(), list);
    }
    out.insert(
        "dataType".into(),
        raw.get("DataType").cloned().unwrap_or(Value::Null),
    );
    Value::Object(out)
}

/// What the filters see: the record, with a body that is a JSON object parsed (so
/// `{"body": {"kind": ["order"]}}` matches it); any other body stays the plain string.
/// A JSON pattern therefore never matches a plain-text body, nor a plain-string
/// pattern a JSON body: Lambda drops such messages.
fn filter_view(record: &Value) -> Value {
    let mut view = record.clone();
    if let Some(body) = view.get_mut("body")
        && let Some(text) = body.as_str()
        && let Ok(parsed @ Value::Object(_)) = serde_json::from_str::<Value>(text)
    {
        *body = parsed;
    }
    view
}

/// The invocation payload of `messages`.
pub(super) fn payload(messages: &[Message]) -> String {
    let mut out = String::with_capacity(payload_bytes(messages));
    out.push_str("{\"Records\":[");
    for (i, m) in messages.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&m.json);
    }
    out.push_str("]}");
    out
}

/// The size of `payload(messages)`.
pub(super) fn payload_bytes(messages: &[Message]) -> usize {
    ENVELOPE_BYTES + messages.iter().map(|m| m.json.len() + 1).sum::<usize>()
}

/// Whether `next` still fits in a payload that already holds `current` bytes.
pub(super) fn fits(current: usize, next: &Message) -> bool {
    current + next.json.len() < MAX_PAYLOAD_BYTES
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ARN: &str = "arn:aws:sqs:us-east-2:123456789012:my-queue";

    fn raw() -> Value {
        json!({
            "MessageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
            "ReceiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a",
            "MD5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
            "Body": "{\"foo\": 2, \"kind\": \"order\"}",
            "Attributes": {
                "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                "ApproximateFirstReceiveTimestamp": "1545082649185",
                "ApproximateReceiveCount": "1",
                "SentTimestamp": "1545082649183",
                "SqsManagedSseEnabled": "true"
            },
            "MD5OfMessageAttributes": "582c92c5c5b6ac403040a4f3ab3115c9",
            "MessageAttributes": {
                "req-id": {"StringValue": "24479a02", "DataType": "String"},
                "blob": {"BinaryValue": "AAE=", "DataType": "Binary"}
            }
        })
    }

    #[test]
    fn records_have_lambdas_shape() {
        let m = Message::new(&raw(), ARN, "us-east-2", &[]).unwrap();
        let record: Value = serde_json::from_str(&m.json).unwrap();
        assert_eq!(
            record,
            json!({
                "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
                "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a",
                "body": "{\"foo\": 2, \"kind\": \"order\"}",
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1545082649183",
                    "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                    "ApproximateFirstReceiveTimestamp": "1545082649185"
                },
                "messageAttributes": {
                    "req-id": {"stringValue": "24479a02", "stringListValues": [],
                               "binaryListValues": [], "dataType": "String"},
                    "blob": {"binaryValue": "AAE=", "stringListValues": [],
                             "binaryListValues": [], "dataType": "Binary"}
                },
                "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
                "md5OfMessageAttributes": "582c92c5c5b6ac403040a4f3ab3115c9",
                "eventSource": "aws:sqs",
                "eventSourceARN": ARN,
                "awsRegion": "us-east-2"
            })
        );
        assert_eq!(m.id, "059f36b4-87a3-44ab-83d2-661975830a7d");
        let payload: Value = serde_json::from_str(&payload(&[m.clone(), m.clone()])).unwrap();
        assert_eq!(payload["Records"].as_array().map(Vec::len), Some(2));
        assert_eq!(
            payload_bytes(&[m.clone(), m.clone()]),
            super::payload(&[m.clone(), m]).len() + 1
        );
    }

    #[test]
    fn a_message_without_attributes_has_no_md5_of_them() {
        let mut r = raw();
        r.as_object_mut().unwrap().remove("MD5OfMessageAttributes");
        r.as_object_mut().unwrap().remove("MessageAttributes");
        let m = Message::new(&r, ARN, "us-east-2", &[]).unwrap();
        let record: Value = serde_json::from_str(&m.json).unwrap();
        assert!(record.get("md5OfMessageAttributes").is_none());
        assert_eq!(record["messageAttributes"], json!({}));
        assert!(Message::new(&json!({"Body": "x"}), ARN, "r", &[]).is_err());
    }

    fn matched(pattern: &str, body: &str) -> bool {
        let mut r = raw();
        r["Body"] = body.into();
        let filters = [FilterPattern::parse(pattern).unwrap()];
        Message::new(&r, ARN, "us-east-2", &filters)
            .unwrap()
            .matched
    }

    #[test]
    fn filters_see_a_json_body_parsed_and_a_plain_body_as_text() {
        let json_body = r#"{"kind": "order", "total": 42}"#;
        assert!(matched(r#"{"body": {"kind": ["order"]}}"#, json_body));
        assert!(matched(
            r#"{"body": {"total": [{"numeric": [">", 10]}]}}"#,
            json_body
        ));
        assert!(!matched(r#"{"body": {"kind": ["refund"]}}"#, json_body));
        // A plain-string pattern never matches a JSON body, and the reverse.
        assert!(!matched(r#"{"body": ["order"]}"#, json_body));
        assert!(matched(r#"{"body": ["hello"]}"#, "hello"));
        assert!(matched(r#"{"body": [{"prefix": "hel"}]}"#, "hello"));
        assert!(!matched(r#"{"body": {"kind": ["order"]}}"#, "hello"));
        // The record's other fields.
        assert!(matched(
            r#"{"messageAttributes": {"req-id": {"stringValue": ["24479a02"]}}}"#,
            "x"
        ));
        assert!(matched(
            r#"{"attributes": {"ApproximateReceiveCount": ["1"]}}"#,
            "x"
        ));
    }
}
