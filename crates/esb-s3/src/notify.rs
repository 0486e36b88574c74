//! Bucket notifications to Lambda: which configured targets a write matches, and the
//! event S3 sends (structure 2.1). Matching happens inside the write's transaction, so
//! an acknowledged write and its events commit together (the outbox).

use serde_json::{Value, json};

pub use crate::model::LambdaTarget;

/// The event names S3 accepts in a notification configuration.
pub const EVENT_NAMES: [&str; 12] = [
    "s3:ObjectCreated:*",
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
    "s3:ObjectTagging:*",
    "s3:ObjectTagging:Put",
    "s3:ObjectTagging:Delete",
    "s3:ObjectRestore:*",
];

/// Whether S3 would accept `name` in a configuration (the families ESB never emits,
/// such as restore or replication, are accepted and simply never fire).
pub fn is_known_event(name: &str) -> bool {
    EVENT_NAMES.contains(&name)
        || [
            "s3:ObjectRestore:Post",
            "s3:ObjectRestore:Completed",
            "s3:ObjectRestore:Delete",
            "s3:ObjectAcl:Put",
            "s3:ReducedRedundancyLostObject",
            "s3:Replication:*",
            "s3:LifecycleExpiration:*",
            "s3:LifecycleExpiration:Delete",
            "s3:LifecycleExpiration:DeleteMarkerCreated",
            "s3:LifecycleTransition",
            "s3:IntelligentTiering",
        ]
        .contains(&name)
}

impl LambdaTarget {
    /// Whether an event `name` (e.g. `ObjectCreated:Put`) on `key` fires this target.
    pub fn matches(&self, name: &str, key: &str) -> bool {
        let family = name.split(':').next().unwrap_or(name);
        let event_ok = self.events.iter().any(|e| {
            let e = e.strip_prefix("s3:").unwrap_or(e);
            e == name || e.strip_suffix(":*").is_some_and(|f| f == family)
        });
        event_ok
            && self.prefix.as_deref().is_none_or(|p| key.starts_with(p))
            && self.suffix.as_deref().is_none_or(|s| key.ends_with(s))
    }
}

/// What happened to an object, for its event record.
pub struct ObjectEvent<'a> {
    /// e.g. `ObjectCreated:Put`.
    pub name: &'a str,
    pub bucket: &'a str,
    pub key: &'a str,
    pub size: Option<u64>,
    /// Unquoted.
    pub etag: Option<&'a str>,
    pub version_id: Option<&'a str>,
    pub sequencer: i64,
    pub time_ms: i64,
    /// The S3 request that caused it (`x-amz-request-id`).
    pub request_id: Option<&'a str>,
}

/// The Lambda payload for one event: `{"Records": [ … ]}` as S3 sends it.
pub fn event_payload(
    event: &ObjectEvent<'_>,
    target: &LambdaTarget,
    region: &str,
    principal: &str,
) -> Value {
    let time =
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(event.time_ms) * 1_000_000)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    // S3 always gives milliseconds: 2026-01-01T00:00:00.000Z.
    let event_time = time
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        ))
        .unwrap_or_default();
    let mut object = json!({
        "key": encode_key(event.key),
        "sequencer": format!("{:016X}", event.sequencer),
    });
    if let Some(size) = event.size {
        object["size"] = json!(size);
    }
    if let Some(etag) = event.etag {
        object["eTag"] = json!(etag);
    }
    if let Some(v) = event
        .version_id
        .filter(|v| *v != crate::model::NULL_VERSION)
    {
        object["versionId"] = json!(v);
    }
    json!({"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": event_time,
        "eventName": event.name,
        "userIdentity": {"principalId": principal},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {
            "x-amz-request-id": event
                .request_id
                .map_or_else(|| format!("{:016X}", event.sequencer), String::from),
            "x-amz-id-2": event.request_id.unwrap_or("esb"),
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": target.id.clone().unwrap_or_else(|| "esb-notification".into()),
            "bucket": {
                "name": event.bucket,
                "ownerIdentity": {"principalId": principal},
                "arn": format!("arn:aws:s3:::{}", event.bucket),
            },
            "object": object,
        },
    }]})
}

/// Keys in S3 events are URL-encoded as in a form (space as `+`), slashes kept.
fn encode_key(key: &str) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const KEEP: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'*')
        .remove(b'/')
        .remove(b' ');
    utf8_percent_encode(key, KEEP).to_string().replace(' ', "+")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(events: &[&str], prefix: Option<&str>, suffix: Option<&str>) -> LambdaTarget {
        LambdaTarget {
            id: None,
            function_arn: "arn:aws:lambda:us-east-1:123456789012:function:f".into(),
            events: events.iter().map(|e| e.to_string()).collect(),
            prefix: prefix.map(String::from),
            suffix: suffix.map(String::from),
        }
    }

    #[test]
    fn wildcards_exact_names_and_key_filters_match_as_s3_does() {
        let t = target(&["s3:ObjectCreated:*"], Some("in/"), Some(".jpg"));
        assert!(t.matches("ObjectCreated:Put", "in/a.jpg"));
        assert!(t.matches("ObjectCreated:CompleteMultipartUpload", "in/b.jpg"));
        assert!(!t.matches("ObjectCreated:Put", "out/a.jpg"));
        assert!(!t.matches("ObjectCreated:Put", "in/a.png"));
        assert!(!t.matches("ObjectRemoved:Delete", "in/a.jpg"));
        let t = target(&["s3:ObjectRemoved:Delete"], None, None);
        assert!(t.matches("ObjectRemoved:Delete", "x"));
        assert!(!t.matches("ObjectRemoved:DeleteMarkerCreated", "x"));
    }

    #[test]
    fn the_event_has_s3s_shape_with_an_encoded_key() {
        let e = ObjectEvent {
            name: "ObjectCreated:Put",
            bucket: "b",
            key: "dir/a b+c.txt",
            size: Some(3),
            etag: Some("abc"),
            version_id: Some("null"),
            sequencer: 10,
            time_ms: 0,
            request_id: Some("4442587FB7D0A2F9"),
        };
        let v = event_payload(
            &e,
            &target(&["s3:ObjectCreated:*"], None, None),
            "us-east-1",
            "ESB",
        );
        let r = &v["Records"][0];
        assert_eq!(r["eventVersion"], "2.1");
        assert_eq!(r["eventName"], "ObjectCreated:Put");
        assert_eq!(r["eventTime"], "1970-01-01T00:00:00.000Z");
        assert_eq!(r["s3"]["object"]["key"], "dir/a+b%2Bc.txt");
        assert_eq!(r["s3"]["object"]["size"], 3);
        assert_eq!(r["s3"]["object"]["sequencer"], "000000000000000A");
        assert!(r["s3"]["object"].get("versionId").is_none());
        assert_eq!(r["s3"]["bucket"]["arn"], "arn:aws:s3:::b");
        assert_eq!(
            r["responseElements"]["x-amz-request-id"],
            "4442587FB7D0A2F9"
        );
    }
}
