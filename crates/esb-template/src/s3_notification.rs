//! What a bucket's `LambdaConfigurations` and a function's `Type: S3` events have in
//! common: S3 event types, the `Filter.S3Key.Rules` on object keys, and S3's refusal
//! of configurations that could both fire for one event. Checked as S3 checks them
//! when CloudFormation writes the bucket's notification configuration, so a template
//! that runs here does not fail there.

use crate::error::{ErrorKind, TemplateError};
use crate::intrinsics::Resolver;
use crate::model::LambdaNotification;
use crate::spot::Spot;
use crate::value::Value;

/// The event types S3 can notify about.
const EVENT_TYPES: [&str; 27] = [
    "s3:ObjectCreated:*",
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
    "s3:ObjectRestore:*",
    "s3:ObjectRestore:Post",
    "s3:ObjectRestore:Completed",
    "s3:ObjectRestore:Delete",
    "s3:ReducedRedundancyLostObject",
    "s3:Replication:*",
    "s3:Replication:OperationFailedReplication",
    "s3:Replication:OperationNotTracked",
    "s3:Replication:OperationMissedThreshold",
    "s3:Replication:OperationReplicatedAfterThreshold",
    "s3:LifecycleTransition",
    "s3:IntelligentTiering",
    "s3:ObjectAcl:Put",
    "s3:LifecycleExpiration:*",
    "s3:LifecycleExpiration:Delete",
    "s3:LifecycleExpiration:DeleteMarkerCreated",
    "s3:ObjectTagging:*",
    "s3:ObjectTagging:Put",
    "s3:ObjectTagging:Delete",
];
const EVENT_HINT: &str = "e.g. s3:ObjectCreated:*, s3:ObjectCreated:Put, s3:ObjectRemoved:*, s3:ObjectRemoved:Delete, s3:ObjectRestore:*, s3:ObjectTagging:*, s3:ObjectAcl:Put, s3:LifecycleExpiration:*, s3:LifecycleTransition, s3:Replication:*, s3:IntelligentTiering, s3:ReducedRedundancyLostObject (names are case-sensitive)";
const FILTER_HINT: &str =
    "Filter: {S3Key: {Rules: [{Name: prefix, Value: uploads/}, {Name: suffix, Value: .jpg}]}}";

/// Event types: one string or a list of them, each one S3 knows.
pub fn event_types(
    r: &Resolver<'_>,
    value: &Value,
    spot: &Spot<'_>,
) -> Result<Vec<String>, TemplateError> {
    let items: Vec<(Value, Spot<'_>)> = match value {
        Value::List(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (v.clone(), spot.index(i)))
            .collect(),
        other => vec![(other.clone(), spot.clone())],
    };
    if items.is_empty() {
        return Err(r.error(
            spot.at,
            &spot.path,
            ErrorKind::InvalidValue("names no event type".into()),
            EVENT_HINT,
        ));
    }
    let mut out = Vec::with_capacity(items.len());
    for (v, at) in items {
        let name = v.as_text().ok_or_else(|| {
            r.error(
                at.at,
                &at.path,
                ErrorKind::InvalidValue(format!("an event type is a string, not {}", v.shape())),
                EVENT_HINT,
            )
        })?;
        if !EVENT_TYPES.contains(&name.as_str()) {
            return Err(r.error(at.at, &at.path, ErrorKind::UnknownS3Event(name), EVENT_HINT));
        }
        if !out.contains(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

/// `Filter: {S3Key: {Rules: [{Name, Value}]}}`: the prefix and suffix object keys must
/// have. `Name` is `prefix` or `suffix` in any case, as S3 takes it, each at most once.
pub fn key_filter(
    r: &Resolver<'_>,
    value: &Value,
    spot: &Spot<'_>,
) -> Result<(Option<String>, Option<String>), TemplateError> {
    let bad = |at: &Spot<'_>, what: String| {
        r.error(at.at, &at.path, ErrorKind::InvalidValue(what), FILTER_HINT)
    };
    let fields = |v: &Value, at: &Spot<'_>, allowed: &[&str]| -> Result<(), TemplateError> {
        let Value::Map(entries) = v else {
            return Err(bad(at, format!("must be a mapping, not {}", v.shape())));
        };
        match entries.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
            Some((k, _)) => Err(bad(
                &at.key(k),
                format!("is not one of {}", allowed.join(", ")),
            )),
            None => Ok(()),
        }
    };
    let required = |v: &Value, key: &str, at: &Spot<'_>| -> Result<Value, TemplateError> {
        v.get(key).cloned().ok_or_else(|| {
            r.error(
                at.at,
                &at.path,
                ErrorKind::MissingProperty(key.into()),
                FILTER_HINT,
            )
        })
    };
    fields(value, spot, &["S3Key"])?;
    let key_spot = spot.key("S3Key");
    let s3_key = required(value, "S3Key", spot)?;
    fields(&s3_key, &key_spot, &["Rules"])?;
    let rules_spot = key_spot.key("Rules");
    let Value::List(rules) = required(&s3_key, "Rules", &key_spot)? else {
        return Err(bad(&rules_spot, "Rules must be a list".into()));
    };
    let (mut prefix, mut suffix) = (None, None);
    for (i, rule) in rules.iter().enumerate() {
        let at = rules_spot.index(i);
        fields(rule, &at, &["Name", "Value"])?;
        let text = |key: &str| -> Result<String, TemplateError> {
            let v = required(rule, key, &at)?;
            v.as_text()
                .ok_or_else(|| bad(&at.key(key), format!("must be a string, not {}", v.shape())))
        };
        let name = text("Name")?;
        let slot = match name.to_ascii_lowercase().as_str() {
            "prefix" => &mut prefix,
            "suffix" => &mut suffix,
            _ => {
                return Err(bad(
                    &at.key("Name"),
                    format!("{name:?} is not prefix or suffix"),
                ));
            }
        };
        if slot.is_some() {
            return Err(r.error(
                at.at,
                &at.path,
                ErrorKind::BadNotification(format!(
                    "a filter has at most one {} rule",
                    name.to_ascii_lowercase()
                )),
                "S3 takes one prefix and one suffix per filter; add another notification for other keys",
            ));
        }
        *slot = Some(text("Value")?);
    }
    Ok((prefix, suffix))
}

/// S3 refuses a bucket's notifications when two of them could fire for the same
/// event on the same object: a shared event type (`s3:ObjectCreated:*` covers
/// `s3:ObjectCreated:Put`) with prefixes and suffixes that can both match one key.
/// `spots` says where each of `notifications` is written.
pub fn check_overlaps(
    r: &Resolver<'_>,
    notifications: &[LambdaNotification],
    spots: &[Spot<'_>],
) -> Result<(), TemplateError> {
    for (i, later) in notifications.iter().enumerate() {
        let Some(earlier) = notifications[..i].iter().position(|n| overlap(n, later)) else {
            continue;
        };
        let (Some(at), Some(other)) = (spots.get(i), spots.get(earlier)) else {
            continue;
        };
        return Err(r.error(
            at.at,
            &at.path,
            ErrorKind::BadNotification(format!(
                "overlaps {} (line {}): both would fire for the same event on the same object",
                other.path, other.at.line
            )),
            "S3 refuses notifications sharing an event type unless their prefixes or suffixes tell the keys apart (\"Configuration is ambiguously defined\"); give them distinct prefixes or suffixes, or merge them",
        ));
    }
    Ok(())
}

fn overlap(a: &LambdaNotification, b: &LambdaNotification) -> bool {
    let same_event = a
        .events
        .iter()
        .any(|x| b.events.iter().any(|y| covers(x, y) || covers(y, x)));
    let keys_overlap =
        |x: &Option<String>, y: &Option<String>, f: fn(&str, &str) -> bool| match (x, y) {
            (Some(x), Some(y)) => f(x, y) || f(y, x),
            _ => true,
        };
    same_event
        && keys_overlap(&a.prefix, &b.prefix, |x, y| x.starts_with(y))
        && keys_overlap(&a.suffix, &b.suffix, |x, y| x.ends_with(y))
}

/// Whether event type `wide` includes `narrow` (`s3:ObjectCreated:*` includes
/// `s3:ObjectCreated:Put`).
fn covers(wide: &str, narrow: &str) -> bool {
    wide == narrow
        || wide
            .strip_suffix('*')
            .is_some_and(|family| narrow.starts_with(family))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(events: &[&str], prefix: Option<&str>, suffix: Option<&str>) -> LambdaNotification {
        LambdaNotification {
            id: None,
            function_arn: "arn".into(),
            events: events.iter().map(|e| e.to_string()).collect(),
            prefix: prefix.map(str::to_string),
            suffix: suffix.map(str::to_string),
        }
    }

    #[test]
    fn overlapping_configurations() {
        let all = ["s3:ObjectCreated:*"];
        let put = ["s3:ObjectCreated:Put"];
        let removed = ["s3:ObjectRemoved:*"];
        for (a, b, want) in [
            (n(&all, None, None), n(&put, None, None), true),
            (n(&all, None, None), n(&removed, None, None), false),
            (n(&put, Some("a/"), None), n(&put, Some("b/"), None), false),
            (n(&put, Some("a/"), None), n(&put, Some("a/b/"), None), true),
            (
                n(&put, None, Some(".jpg")),
                n(&put, None, Some(".png")),
                false,
            ),
            (
                n(&put, None, Some(".jpg")),
                n(&put, None, Some("jpg")),
                true,
            ),
            (
                n(&put, Some("a/"), Some(".jpg")),
                n(&put, Some("a/"), Some(".png")),
                false,
            ),
            (n(&put, Some("a/"), None), n(&put, None, Some(".png")), true),
        ] {
            assert_eq!(overlap(&a, &b), want, "{a:?} / {b:?}");
            assert_eq!(overlap(&b, &a), want, "{b:?} / {a:?}");
        }
    }
}
