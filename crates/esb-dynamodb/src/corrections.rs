//! Where the embedded engine's answers differ from DynamoDB's in ways the front can put
//! right, without touching what the engine stores:
//! - ARNs name the box's region and account, not `dynoxide:000000000000`;
//! - shard ids have DynamoDB's form, `shardId-<20 digits>-<8 hex>` (the engine's,
//!   `shardId-00000001-<table>`, are shorter than the 28 characters the Streams API
//!   requires, so the SDKs refuse to send them back);
//! - the only shard of an enabled stream is open: no `EndingSequenceNumber`;
//! - `DescribeStream` carries the table's `KeySchema`;
//! - stream labels (and the stream ARNs that end with them) are DynamoDB's ISO 8601
//!   timestamps (`2026-12-05T05:53:46.915`), not `<seconds>.<nanoseconds>`; a stream
//!   ARN whose label is not the table's current stream is refused as DynamoDB
//!   refuses a stream that does not exist (the engine reads only the table's name);
//! - a re-created table's stream does not show its predecessor's records (the engine
//!   keeps stream records by table name), nor a MODIFY that changed nothing (seen
//!   with both images only);
//! - a stream record's `awsRegion` is the box's, and its `userIdentity` is written
//!   `{"Type", "PrincipalId"}` as GetRecords answers it (the engine writes Lambda's
//!   lower-case event casing, which the SDKs do not read).
//!
//! The engine keeps one shard per table, `shardId-00000001-<table>`, so a shard id the
//! box gave out maps back through the table named in the request's stream ARN.

use bytes::Bytes;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::operations::Operation;

/// How the engine begins every ARN it writes (its own region and account).
const ENGINE_ARN_PREFIX: &str = "arn:aws:dynamodb:dynoxide:000000000000:";
/// The engine's region in a stream record.
const ENGINE_REGION: &str = "dynoxide";

/// The box's spelling of what the engine answers.
#[derive(Debug, Clone)]
pub struct Corrections {
    region: String,
    /// `arn:aws:dynamodb:<region>:<account>:`.
    arn_prefix: String,
}

impl Corrections {
    pub fn new(region: &str, account: &str) -> Self {
        Self {
            region: region.to_string(),
            arn_prefix: format!("arn:aws:dynamodb:{region}:{account}:"),
        }
    }

    /// The request as the engine must see it: the box's shard ids turned back into
    /// the engine's. `Ok(None)`: unchanged; `Err(message)`: a shard the stream does not
    /// have (DynamoDB's `ResourceNotFoundException`; the engine would make up an
    /// iterator for any shard id).
    pub fn request(&self, op: Operation, body: &[u8]) -> Result<Option<Bytes>, String> {
        let field = match op {
            Operation::GetShardIterator => "ShardId",
            Operation::DescribeStream => "ExclusiveStartShardId",
            _ => return Ok(None),
        };
        let Ok(mut v) = serde_json::from_slice::<Value>(body) else {
            return Ok(None);
        };
        let table = match v
            .get("StreamArn")
            .and_then(Value::as_str)
            .and_then(table_of_stream)
        {
            Some(t) => t.to_string(),
            None => return Ok(None),
        };
        let Some(given) = v.get(field).and_then(Value::as_str) else {
            return Ok(None);
        };
        if given != box_shard_id(&table) && given != engine_shard_id(&table) {
            return match op {
                Operation::GetShardIterator => Err(format!(
                    "Requested resource not found: Shard does not exist: {given}"
                )),
                _ => Ok(None),
            };
        }
        v[field] = Value::String(engine_shard_id(&table));
        Ok(serde_json::to_vec(&v).ok().map(Bytes::from))
    }

    /// The engine's answer (`body`) to `op` as DynamoDB would write it; `None`:
    /// unchanged. `table` is what the front knows of the table the request is about:
    /// for `DescribeStream` its key schema, for `GetRecords` its creation time.
    pub fn response(&self, op: Operation, body: &[u8], table: TableFacts) -> Option<Bytes> {
        match op {
            Operation::GetRecords => {
                // Items' images are the user's data: no text is rewritten in them.
                let mut v: Value = serde_json::from_slice(body).ok()?;
                self.records(&mut v, table.created_at);
                serde_json::to_vec(&v).ok().map(Bytes::from)
            }
            Operation::DescribeStream => {
                let text = std::str::from_utf8(body).ok()?;
                let mut v: Value = serde_json::from_str(&self.arns(text)).ok()?;
                describe_stream(&mut v, table.key_schema);
                serde_json::to_vec(&v).ok().map(Bytes::from)
            }
            _ if names_arns(op) => {
                let text = std::str::from_utf8(body).ok()?;
                (text.contains(ENGINE_ARN_PREFIX) || text.contains("StreamLabel"))
                    .then(|| Bytes::from(self.arns(text)))
            }
            // Item operations answer with the user's data (and cost nothing here).
            _ => None,
        }
    }

    fn arns(&self, text: &str) -> String {
        let text = text.replace(ENGINE_ARN_PREFIX, &self.arn_prefix);
        if !text.contains("/stream/") && !text.contains("StreamLabel") {
            return text;
        }
        engine_labels()
            .replace_all(&text, |c: &regex::Captures<'_>| {
                let iso = iso_label(&c[2], &c[3]).unwrap_or_else(|| format!("{}.{}", &c[2], &c[3]));
                format!("{}{iso}", &c[1])
            })
            .into_owned()
    }

    fn records(&self, v: &mut Value, table_created_at: Option<f64>) {
        let Some(records) = v.get_mut("Records").and_then(Value::as_array_mut) else {
            return;
        };
        // The engine keeps stream records by table name: a table deleted and created
        // again would show its predecessor's. Records are stamped in whole seconds.
        if let Some(created) = table_created_at {
            records.retain(|r| {
                r["dynamodb"]["ApproximateCreationDateTime"]
                    .as_f64()
                    .is_none_or(|t| t >= created.floor())
            });
        }
        // DynamoDB streams no record for a write that changes nothing; the engine writes
        // a MODIFY with equal images. Only a stream with both images shows it (the
        // other view types cannot tell such a record from a real change).
        records.retain(|r| {
            let d = &r["dynamodb"];
            !(r["eventName"] == "MODIFY"
                && d.get("OldImage").is_some()
                && d.get("OldImage") == d.get("NewImage"))
        });
        for r in records {
            if r.get("awsRegion").and_then(Value::as_str) == Some(ENGINE_REGION) {
                r["awsRegion"] = Value::String(self.region.clone());
            }
            if let Some(Value::Object(who)) = r.get_mut("userIdentity") {
                for (from, to) in [("type", "Type"), ("principalId", "PrincipalId")] {
                    if let Some(x) = who.remove(from) {
                        who.insert(to.into(), x);
                    }
                }
            }
        }
    }
}

/// Where the engine writes a stream label: at the end of a stream ARN and in the
/// label fields.
fn engine_labels() -> &'static regex::Regex {
    static LABELS: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    LABELS.get_or_init(|| {
        regex::Regex::new(
            r#"(/stream/|"StreamLabel":"|"LatestStreamLabel":")(\d{1,12})\.(\d{1,9})"#,
        )
        .unwrap_or_else(|_| unreachable!("a constant pattern"))
    })
}

/// The engine's label `<seconds>.<nanoseconds>` as DynamoDB writes a label: the
/// stream's creation time, UTC, to the millisecond.
pub fn iso_label(seconds: &str, nanos: &str) -> Option<String> {
    let secs: i64 = seconds.parse().ok()?;
    // The fraction as written: `9` is 0.9 s, `915674686` is 0.915674686 s.
    let millis: u32 = format!("{nanos:0<3}").get(..3)?.parse().ok()?;
    let t = time::OffsetDateTime::from_unix_timestamp(secs).ok()?;
    Some(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{millis:03}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    ))
}

/// The label a stream ARN ends with.
pub fn label_of_stream(arn: &str) -> Option<&str> {
    arn.rsplit_once("/stream/").map(|(_, label)| label)
}

/// The engine's label written as the box writes it.
pub fn box_label(engine_label: &str) -> Option<String> {
    let (secs, nanos) = engine_label.split_once('.')?;
    iso_label(secs, nanos)
}

/// What the front looked up about the table a request is about.
#[derive(Debug, Default)]
pub struct TableFacts {
    pub key_schema: Option<Value>,
    /// `CreationDateTime`, seconds since the epoch.
    pub created_at: Option<f64>,
}

/// The table a shard iterator reads: the engine's iterators are base64 of
/// `{"table_name", "shard_id", "position"}` (dynoxide 3.2.0, pinned).
pub fn table_of_iterator(iterator: &str) -> Option<String> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(iterator)
        .ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v.get("table_name")?.as_str().map(str::to_string)
}

/// Whether `op`'s answers (or errors) can name an ARN or a stream label: the table,
/// stream and tag operations, never those that answer with items.
fn names_arns(op: Operation) -> bool {
    matches!(
        op,
        Operation::CreateTable
            | Operation::DeleteTable
            | Operation::DescribeTable
            | Operation::UpdateTable
            | Operation::ListStreams
            | Operation::TagResource
            | Operation::UntagResource
            | Operation::ListTagsOfResource
    )
}

/// The table a stream ARN (`...:table/<name>/stream/<label>`) belongs to.
pub fn table_of_stream(arn: &str) -> Option<&str> {
    arn.split_once(":table/")?.1.split('/').next()
}

fn engine_shard_id(table: &str) -> String {
    format!("shardId-00000001-{table}")
}

/// The shard id the box shows for the engine's only shard of `table`: DynamoDB's
/// form, the same on every start (checkpoints name it).
pub fn box_shard_id(table: &str) -> String {
    let digest = Sha256::digest(table.as_bytes());
    let mut number = [0u8; 8];
    let mut suffix = [0u8; 4];
    number.copy_from_slice(&digest[..8]);
    suffix.copy_from_slice(&digest[8..12]);
    format!(
        "shardId-{:020}-{:08x}",
        u64::from_be_bytes(number),
        u32::from_be_bytes(suffix)
    )
}

/// Shard ids as the box shows them; the open shard without an end; the key schema.
fn describe_stream(v: &mut Value, key_schema: Option<Value>) {
    let Some(d) = v.get_mut("StreamDescription") else {
        return;
    };
    let enabled = d.get("StreamStatus").and_then(Value::as_str) == Some("ENABLED");
    let table = d
        .get("TableName")
        .and_then(Value::as_str)
        .map(str::to_string);
    if let Some(shards) = d.get_mut("Shards").and_then(Value::as_array_mut) {
        for shard in shards {
            for field in ["ShardId", "ParentShardId"] {
                let engine_id = shard.get(field).and_then(Value::as_str);
                if let (Some(id), Some(t)) = (engine_id, &table)
                    && id == engine_shard_id(t)
                {
                    shard[field] = Value::String(box_shard_id(t));
                }
            }
            // The engine's one shard per table is never closed while the stream is on.
            if enabled
                && let Some(range) = shard
                    .get_mut("SequenceNumberRange")
                    .and_then(Value::as_object_mut)
            {
                range.remove("EndingSequenceNumber");
            }
        }
    }
    if let (Some(schema), Value::Object(d)) = (key_schema, d)
        && !d.contains_key("KeySchema")
    {
        d.insert("KeySchema".into(), schema);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn shard_ids_have_dynamodbs_form_and_map_back() {
        let id = box_shard_id("t");
        assert_eq!(id.len(), 37, "{id}");
        assert!(id.starts_with("shardId-"), "{id}");
        assert_eq!(id, box_shard_id("t"), "stable");
        assert_ne!(id, box_shard_id("u"));
        let c = Corrections::new("eu-west-1", "111122223333");
        let arn = "arn:aws:dynamodb:eu-west-1:111122223333:table/t/stream/1.2";
        let req = json!({"StreamArn": arn, "ShardId": id, "ShardIteratorType": "TRIM_HORIZON"});
        let sent = c
            .request(Operation::GetShardIterator, req.to_string().as_bytes())
            .expect("a shard of the stream")
            .expect("rewritten");
        let sent: Value = serde_json::from_slice(&sent).expect("json");
        assert_eq!(sent["ShardId"], "shardId-00000001-t");
        // Another stream's shard is refused.
        let other = json!({"StreamArn": arn, "ShardId": box_shard_id("u")});
        assert!(
            c.request(Operation::GetShardIterator, other.to_string().as_bytes())
                .is_err()
        );
    }

    #[test]
    fn stream_descriptions_and_records_read_as_dynamodbs() {
        let c = Corrections::new("eu-west-1", "111122223333");
        let described = json!({"StreamDescription": {
            "StreamArn": "arn:aws:dynamodb:dynoxide:000000000000:table/t/stream/1.2",
            "StreamStatus": "ENABLED", "TableName": "t",
            "Shards": [{"ShardId": "shardId-00000001-t",
                "SequenceNumberRange": {"StartingSequenceNumber": "100", "EndingSequenceNumber": "200"}}]}});
        let schema = json!([{"AttributeName": "id", "KeyType": "HASH"}]);
        let out = c
            .response(
                Operation::DescribeStream,
                described.to_string().as_bytes(),
                TableFacts {
                    key_schema: Some(schema.clone()),
                    created_at: None,
                },
            )
            .expect("rewritten");
        let out: Value = serde_json::from_slice(&out).expect("json");
        let d = &out["StreamDescription"];
        assert_eq!(
            d["StreamArn"],
            "arn:aws:dynamodb:eu-west-1:111122223333:table/t/stream/1970-01-01T00:00:01.200"
        );
        assert_eq!(d["Shards"][0]["ShardId"], box_shard_id("t"));
        assert!(d["Shards"][0]["SequenceNumberRange"]["EndingSequenceNumber"].is_null());
        assert_eq!(d["KeySchema"], schema);

        let records = json!({"Records": [
            {"awsRegion": "dynoxide", "eventName": "INSERT",
                "dynamodb": {"ApproximateCreationDateTime": 99.0}},
            {"awsRegion": "dynoxide", "eventName": "MODIFY",
                "dynamodb": {"ApproximateCreationDateTime": 101.0,
                    "OldImage": {"a": {"S": "1"}}, "NewImage": {"a": {"S": "1"}}}},
            {"awsRegion": "dynoxide", "eventName": "REMOVE",
                "dynamodb": {"ApproximateCreationDateTime": 100.0},
                "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"}}]});
        let facts = TableFacts {
            key_schema: None,
            created_at: Some(100.4),
        };
        let out = c
            .response(Operation::GetRecords, records.to_string().as_bytes(), facts)
            .expect("rewritten");
        let out: Value = serde_json::from_slice(&out).expect("json");
        // The record older than the table was its predecessor's; the MODIFY changed
        // nothing.
        assert_eq!(out["Records"].as_array().map(Vec::len), Some(1));
        assert_eq!(out["Records"][0]["awsRegion"], "eu-west-1");
        assert_eq!(
            out["Records"][0]["userIdentity"],
            json!({"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"})
        );
    }

    #[test]
    fn labels_are_iso_timestamps_to_the_millisecond() {
        assert_eq!(
            iso_label("1796450026", "915674686").as_deref(),
            Some("2026-12-05T05:53:46.915")
        );
        assert_eq!(
            iso_label("0", "9").as_deref(),
            Some("1970-01-01T00:00:00.900")
        );
        let c = Corrections::new("eu-west-1", "111122223333");
        let out = c
            .response(
                Operation::DescribeTable,
                br#"{"Table":{"LatestStreamArn":"arn:aws:dynamodb:dynoxide:000000000000:table/t/stream/1796450026.915674686","LatestStreamLabel":"1796450026.915674686"}}"#,
                TableFacts::default(),
            )
            .expect("rewritten");
        let out: Value = serde_json::from_slice(&out).expect("json");
        assert_eq!(
            out["Table"]["LatestStreamArn"],
            "arn:aws:dynamodb:eu-west-1:111122223333:table/t/stream/2026-12-05T05:53:46.915"
        );
        assert_eq!(out["Table"]["LatestStreamLabel"], "2026-12-05T05:53:46.915");
    }

    #[test]
    fn other_answers_are_left_alone_unless_they_name_an_arn() {
        let c = Corrections::new("eu-west-1", "111122223333");
        assert!(
            c.response(Operation::GetItem, br#"{"Item":{}}"#, TableFacts::default())
                .is_none()
        );
        let out = c
            .response(
                Operation::DescribeTable,
                br#"{"Table":{"TableArn":"arn:aws:dynamodb:dynoxide:000000000000:table/t"}}"#,
                TableFacts::default(),
            )
            .expect("rewritten");
        assert!(
            std::str::from_utf8(&out)
                .expect("utf-8")
                .contains("arn:aws:dynamodb:eu-west-1:111122223333:table/t")
        );
    }
}
