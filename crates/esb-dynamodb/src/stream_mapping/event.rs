//! Stream records as the function receives them: Lambda passes each `GetRecords`
//! record on with the stream's ARN (`eventSourceARN`) and the region added, in
//! `{"Records": [...]}`.

use serde_json::Value;

use esb_lambda::event_filter::{self as filter, FilterPattern};

/// Lambda's limit on a synchronous invocation's payload (6 MB): a batch is cut short
/// rather than sent over it.
pub(super) const MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;
/// `{"Records":[` and `]}`.
const ENVELOPE_BYTES: usize = 14;

/// One record read from a shard, ready to be sent (or skipped by the filters).
#[derive(Debug, Clone)]
pub(super) struct Entry {
    /// The record as JSON, in the event's shape.
    pub json: String,
    pub sequence_number: String,
    /// `ApproximateCreationDateTime`, seconds since the epoch.
    pub created_s: i64,
    /// Whether the mapping's filters let it through; a filtered record is only
    /// checkpointed past.
    pub matched: bool,
}

impl Entry {
    /// The Lambda-shaped entry for `raw` (one of `GetRecords`' `Records`), or why it
    /// cannot be one (no sequence number: nothing could checkpoint it).
    pub fn new(
        raw: Value,
        stream_arn: &str,
        region: &str,
        filters: &[FilterPattern],
    ) -> Result<Self, String> {
        let record = lambda_record(raw, stream_arn, region)?;
        let sequence_number = record
            .pointer("/dynamodb/SequenceNumber")
            .and_then(Value::as_str)
            .ok_or("a stream record without dynamodb.SequenceNumber")?
            .to_string();
        let created_s = record
            .pointer("/dynamodb/ApproximateCreationDateTime")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let matched = filter::passes(filters, &record);
        let json = serde_json::to_string(&record).map_err(|e| e.to_string())?;
        Ok(Self {
            json,
            sequence_number,
            created_s,
            matched,
        })
    }
}

/// The record as Lambda delivers it: the stream record's own fields, with
/// `eventSourceARN` and `awsRegion` set by the mapping (an engine may not know its
/// region: dynoxide says "dynoxide") and `ApproximateCreationDateTime` in whole
/// seconds as Lambda's events carry it.
fn lambda_record(raw: Value, stream_arn: &str, region: &str) -> Result<Value, String> {
    let Value::Object(mut record) = raw else {
        return Err("a stream record that is not a JSON object".into());
    };
    record.insert("eventSourceARN".into(), stream_arn.into());
    record.insert("awsRegion".into(), region.into());
    record
        .entry("eventSource")
        .or_insert_with(|| "aws:dynamodb".into());
    record.entry("eventVersion").or_insert_with(|| "1.1".into());
    // GetRecords writes the identity `{"Type", "PrincipalId"}`; Lambda's event
    // `{"type", "principalId"}`.
    if let Some(Value::Object(who)) = record.get_mut("userIdentity") {
        for (from, to) in [("Type", "type"), ("PrincipalId", "principalId")] {
            if let Some(x) = who.remove(from) {
                who.insert(to.into(), x);
            }
        }
    }
    if let Some(Value::Object(dynamodb)) = record.get_mut("dynamodb")
        && let Some(t) = dynamodb.get_mut("ApproximateCreationDateTime")
        && let Some(secs) = t.as_f64()
    {
        // Seconds since the epoch fit an i64 whole: the cast only drops the fraction
        // (and saturates on nonsense).
        *t = Value::from(secs.floor() as i64);
    }
    Ok(Value::Object(record))
}

/// The event of `entries`: `{"Records":[...]}`.
pub(super) fn payload(entries: &[Entry]) -> String {
    let mut out = String::with_capacity(
        ENVELOPE_BYTES + entries.iter().map(|e| e.json.len() + 1).sum::<usize>(),
    );
    out.push_str("{\"Records\":[");
    for (i, e) in entries.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&e.json);
    }
    out.push_str("]}");
    out
}

/// Bytes `entry` adds to a payload of `count` entries.
pub(super) fn added_bytes(entry: &Entry, count: usize) -> usize {
    entry.json.len() + usize::from(count > 0)
}

/// The size of an empty event.
pub(super) fn empty_payload_bytes() -> usize {
    ENVELOPE_BYTES
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_stream_record_gets_lambdas_fields() {
        let raw = json!({
            "eventID": "e1", "eventName": "INSERT", "eventVersion": "1.1",
            "eventSource": "aws:dynamodb", "awsRegion": "dynoxide",
            "dynamodb": {
                "ApproximateCreationDateTime": 1_700_000_000.0,
                "Keys": {"pk": {"S": "a"}}, "SequenceNumber": "100000000000000000001",
                "SizeBytes": 10, "StreamViewType": "NEW_AND_OLD_IMAGES"
            }
        });
        let e = Entry::new(raw, "arn:s", "eu-west-1", &[]).unwrap();
        let v: Value = serde_json::from_str(&e.json).unwrap();
        assert_eq!(v["eventSourceARN"], "arn:s");
        assert_eq!(v["awsRegion"], "eu-west-1");
        assert_eq!(
            v["dynamodb"]["ApproximateCreationDateTime"],
            json!(1_700_000_000)
        );
        assert_eq!(e.sequence_number, "100000000000000000001");
        assert_eq!(e.created_s, 1_700_000_000);
        assert!(e.matched);
        let p: Value = serde_json::from_str(&payload(&[e.clone(), e.clone()])).unwrap();
        assert_eq!(p["Records"].as_array().map(Vec::len), Some(2));
        assert_eq!(
            payload(&[e.clone(), e.clone()]).len(),
            empty_payload_bytes() + added_bytes(&e, 0) + added_bytes(&e, 1)
        );
    }

    #[test]
    fn a_record_without_a_sequence_number_is_refused() {
        assert!(Entry::new(json!({"dynamodb": {}}), "arn", "r", &[]).is_err());
        assert!(Entry::new(json!([]), "arn", "r", &[]).is_err());
    }
}
