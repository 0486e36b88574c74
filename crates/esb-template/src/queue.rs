//! `AWS::SQS::Queue` resources turned into [`QueueSpec`]s: the name (what `Ref` and
//! `Fn::GetAtt` give is in `resource_refs`), the `CreateQueue` attributes in SQS's
//! own spelling, and tags. Each attribute is checked against SQS's ranges and rules
//! (FIFO-only attributes, redrive policies, one encryption option), so a queue that
//! loads here does not fail when the engine creates it; a dead-letter queue of the
//! template must be of the same type as its source queue, as SQS requires.

use std::collections::BTreeMap;

use crate::error::{ErrorKind, TemplateError};
use crate::intrinsics::Resolver;
use crate::model::QueueSpec;
use crate::props::{property, tag_list, text};
use crate::resources::Resource;
use crate::spot::Spot;
use crate::value::Value;

/// Every `AWS::SQS::Queue` property CloudFormation defines; ESB reads them all.
const PROPERTIES: [&str; 16] = [
    "QueueName",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "RedrivePolicy",
    "RedriveAllowPolicy",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
    "Tags",
];
/// Whole-number attributes and SQS's ranges for them.
const NUMBERS: [(&str, u32, u32); 6] = [
    ("DelaySeconds", 0, 900),
    ("MaximumMessageSize", 1024, 1_048_576),
    ("MessageRetentionPeriod", 60, 1_209_600),
    ("ReceiveMessageWaitTimeSeconds", 0, 20),
    ("VisibilityTimeout", 0, 43_200),
    ("KmsDataKeyReusePeriodSeconds", 60, 86_400),
];
/// Attributes SQS accepts only on FIFO queues.
const FIFO_ONLY: [&str; 3] = [
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
];
/// SQS's default `VisibilityTimeout`, in seconds.
pub const DEFAULT_VISIBILITY_TIMEOUT: u32 = 30;
const MAX_NAME: usize = 80;
const FIFO_SUFFIX: &str = ".fifo";
/// SQS's limits on a redrive policy.
const MAX_RECEIVE_COUNT: u64 = 1000;
const MAX_SOURCE_QUEUES: usize = 10;

pub const NAME_HINT: &str = "a queue name is 1 to 80 letters, digits, - and _; a FIFO queue's ends in .fifo (which counts); leave QueueName out for one made from the logical id";
const REDRIVE_HINT: &str =
    "RedrivePolicy: {deadLetterTargetArn: !GetAtt DeadLetters.Arn, maxReceiveCount: 5}";
const ALLOW_HINT: &str = "RedriveAllowPolicy: {redrivePermission: byQueue, sourceQueueArns: [!GetAtt Orders.Arn]} (or allowAll, denyAll)";
const FIFO_HINT: &str = "FifoQueue: true (a FIFO queue's QueueName ends in .fifo)";

/// A queue with what the checks across queues need.
#[derive(Debug)]
pub struct LoadedQueue<'n> {
    pub spec: QueueSpec,
    /// Where the name is written (the resource when it is generated).
    name_spot: Spot<'n>,
    /// `RedrivePolicy.deadLetterTargetArn` and where the policy is written.
    redrive: Option<(String, Spot<'n>)>,
    /// `RedriveAllowPolicy`: None for allowAll (SQS's default).
    allow: Option<Allow>,
}

/// Which source queues may name a queue as their dead-letter queue.
#[derive(Debug)]
enum Allow {
    DenyAll,
    ByQueue(Vec<String>),
}

/// The parts of `arn:<partition>:sqs:<region>:<account>:<name>`.
#[derive(Debug, PartialEq, Eq)]
pub struct QueueArn<'a> {
    pub region: &'a str,
    pub account: &'a str,
    pub name: &'a str,
}

/// An SQS queue ARN's parts; `None` for anything else.
pub fn parse_arn(arn: &str) -> Option<QueueArn<'_>> {
    let mut parts = arn.splitn(6, ':');
    let (prefix, partition, service) = (parts.next()?, parts.next()?, parts.next()?);
    let (region, account, name) = (parts.next()?, parts.next()?, parts.next()?);
    let valid = prefix == "arn"
        && partition.starts_with("aws")
        && service == "sqs"
        && !region.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && !name.is_empty()
        && name.len() <= MAX_NAME
        && !name.contains(['/', ':']);
    valid.then_some(QueueArn {
        region,
        account,
        name,
    })
}

/// What SQS would object to in a queue name, if anything.
pub fn check_name(name: &str, fifo: bool) -> Result<(), String> {
    let base = match (fifo, name.strip_suffix(FIFO_SUFFIX)) {
        (true, Some(base)) => base,
        (true, None) => return Err("a FIFO queue's name must end in .fifo".into()),
        (false, Some(_)) => {
            return Err("only a FIFO queue's name ends in .fifo; set FifoQueue: true".into());
        }
        (false, None) => name,
    };
    if let Some(c) = base
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_')))
    {
        return Err(format!(
            "{c:?} is not allowed (letters, digits, - and _ only)"
        ));
    }
    // ASCII from here on: bytes are characters.
    if base.is_empty() || name.len() > MAX_NAME {
        return Err(format!(
            "it has {} characters; SQS allows 1 to {MAX_NAME}",
            name.len()
        ));
    }
    Ok(())
}

/// The name of a queue without `QueueName`: its logical id (cut to fit 80 characters),
/// with `.fifo` for a FIFO queue.
///
/// CloudFormation would generate `<stack name>-<logical id>-<random>`, random on
/// every create. ESB creates the template's queues on every start and must find the
/// same queue, with the messages still in it, after a restart, so the name must not
/// change between runs; and a queue lives in the box's SQS, which one template owns,
/// so the stack name adds nothing but length. The logical id is what the template's
/// author wrote and sees in `esb` output. Code that uses `!Ref Queue` (its URL) or
/// `!GetAtt Queue.QueueName` gets this name, as it would CloudFormation's.
pub fn generated_name(logical_id: &str, fifo: bool) -> String {
    let room = if fifo {
        MAX_NAME - FIFO_SUFFIX.len()
    } else {
        MAX_NAME
    };
    // Logical ids are ASCII alphanumeric (checked in `resources`).
    let base: String = logical_id.chars().take(room).collect();
    if fifo {
        format!("{base}{FIFO_SUFFIX}")
    } else {
        base
    }
}

/// `FifoQueue`: false when absent or `AWS::NoValue`.
pub fn is_fifo(r: &Resolver<'_>, res: &Resource<'_>) -> Result<bool, TemplateError> {
    match property(r, res, "FifoQueue")? {
        None => Ok(false),
        Some((v, spot)) => boolean(r, &v, &spot, FIFO_HINT),
    }
}

pub fn read<'n>(r: &Resolver<'_>, res: &Resource<'n>) -> Result<LoadedQueue<'n>, TemplateError> {
    let base = format!("{}.Properties", res.path());
    for e in res.properties.map(|p| p.entries()).unwrap_or_default() {
        if !PROPERTIES.contains(&e.key.as_str()) {
            return Err(r.error(
                e.key_pos,
                &format!("{base}.{}", e.key),
                ErrorKind::Structure(format!("is not a property of {}", res.type_name)),
                format!("a queue has {}", PROPERTIES.join(", ")),
            ));
        }
    }
    let fifo = is_fifo(r, res)?;
    let name = r.queue_name(res)?;
    let name_spot = match res.property("QueueName") {
        Some((e, path)) => Spot::of(e, path),
        None => Spot::bare(res.key_pos, res.path()),
    };
    let mut attributes = BTreeMap::new();
    if fifo {
        attributes.insert("FifoQueue".to_string(), "true".to_string());
    }
    for (key, min, max) in NUMBERS {
        if let Some((v, spot)) = property(r, res, key)? {
            let n = number(r, &v, &spot, key, min, max)?;
            attributes.insert(key.to_string(), n.to_string());
        }
    }
    for key in ["ContentBasedDeduplication", "SqsManagedSseEnabled"] {
        if let Some((v, spot)) = property(r, res, key)? {
            let on = boolean(r, &v, &spot, &format!("{key}: true"))?;
            // `false` is SQS's default on either kind of queue; left out so a standard
            // queue is not sent a FIFO-only attribute.
            if on || key == "SqsManagedSseEnabled" {
                attributes.insert(key.to_string(), on.to_string());
            }
        }
    }
    for (key, allowed) in [
        ("DeduplicationScope", ["messageGroup", "queue"]),
        ("FifoThroughputLimit", ["perQueue", "perMessageGroupId"]),
    ] {
        if let Some((v, spot)) = property(r, res, key)? {
            let hint = format!("{key}: {} or {}", allowed[0], allowed[1]);
            let value = text(r, &v, &spot, &hint)?;
            if !allowed.contains(&value.as_str()) {
                return Err(r.error(
                    spot.at,
                    &spot.path,
                    ErrorKind::BadQueue(format!(
                        "Invalid value for the parameter {key}: {value:?} is not {} or {}",
                        allowed[0], allowed[1]
                    )),
                    hint,
                ));
            }
            attributes.insert(key.to_string(), value);
        }
    }
    if let Some((v, spot)) = property(r, res, "KmsMasterKeyId")? {
        let key = text(
            r,
            &v,
            &spot,
            "KmsMasterKeyId: alias/aws/sqs (or a key id or ARN)",
        )?;
        attributes.insert("KmsMasterKeyId".to_string(), key);
    }
    check_combinations(r, res, fifo, &attributes)?;
    let redrive = match property(r, res, "RedrivePolicy")? {
        Some((v, spot)) => {
            let (json, target) = redrive_policy(r, &v, &spot)?;
            attributes.insert("RedrivePolicy".to_string(), json);
            Some((target, spot))
        }
        None => None,
    };
    let allow = match property(r, res, "RedriveAllowPolicy")? {
        Some((v, spot)) => {
            let (json, allow) = redrive_allow_policy(r, &v, &spot)?;
            attributes.insert("RedriveAllowPolicy".to_string(), json);
            allow
        }
        None => None,
    };
    let tags = match property(r, res, "Tags")? {
        Some((v, spot)) => tag_list(r, &v, &spot, "SQS")?,
        None => Vec::new(),
    };
    Ok(LoadedQueue {
        spec: QueueSpec {
            logical_id: res.id.to_string(),
            name,
            fifo,
            attributes,
            tags,
        },
        name_spot,
        redrive,
        allow,
    })
}

/// Fails on a name two queues share, and on a redrive policy whose dead-letter queue
/// (a queue of this template) is of the other type or does not allow this source;
/// warns about dead-letter queues declared elsewhere.
pub fn finish(
    r: &Resolver<'_>,
    queues: Vec<LoadedQueue<'_>>,
) -> Result<Vec<QueueSpec>, TemplateError> {
    for (i, q) in queues.iter().enumerate() {
        if let Some(other) = queues[..i].iter().find(|o| o.spec.name == q.spec.name) {
            return Err(r.error(
                q.name_spot.at,
                &q.name_spot.path,
                ErrorKind::DuplicateQueueName {
                    name: q.spec.name.clone(),
                    other: other.spec.logical_id.clone(),
                },
                "give each queue its own QueueName",
            ));
        }
    }
    for q in &queues {
        let Some((target, spot)) = &q.redrive else {
            continue;
        };
        let Some(dlq) = template_queue(r, &queues, target) else {
            r.warn_once(
                &format!("dead-letter queue {target}"),
                spot.at,
                &spot.path,
                format!("{target} is not a queue of this template; ESB moves messages there only if it exists in ESB's SQS"),
            );
            continue;
        };
        let kind = |fifo: bool| if fifo { "a FIFO" } else { "a standard" };
        if dlq.spec.fifo != q.spec.fifo {
            return Err(r.error(
                spot.at,
                &spot.path,
                ErrorKind::BadQueue(format!(
                    "the dead-letter queue of {} queue must be {} queue too, and {} is {} queue",
                    kind(q.spec.fifo),
                    kind(q.spec.fifo).trim_start_matches("a "),
                    dlq.spec.logical_id,
                    kind(dlq.spec.fifo)
                )),
                if q.spec.fifo {
                    "point deadLetterTargetArn at a queue with FifoQueue: true"
                } else {
                    "point deadLetterTargetArn at a standard queue (without FifoQueue: true)"
                },
            ));
        }
        let source = r.queue_arn_of(&q.spec.name);
        let refused = match &dlq.allow {
            None => false,
            Some(Allow::DenyAll) => true,
            Some(Allow::ByQueue(sources)) => !sources.contains(&source),
        };
        if refused {
            return Err(r.error(
                spot.at,
                &spot.path,
                ErrorKind::BadQueue(format!(
                    "the RedriveAllowPolicy of {} does not allow {} to use it as a dead-letter queue",
                    dlq.spec.logical_id, q.spec.logical_id
                )),
                format!(
                    "allow it in {}'s RedriveAllowPolicy (redrivePermission: allowAll, or byQueue with sourceQueueArns: [!GetAtt {}.Arn])",
                    dlq.spec.logical_id, q.spec.logical_id
                ),
            ));
        }
    }
    Ok(queues.into_iter().map(|q| q.spec).collect())
}

/// The queue of `queues` that `arn` names in this template's region and account.
fn template_queue<'q, 'n>(
    r: &Resolver<'_>,
    queues: &'q [LoadedQueue<'n>],
    arn: &str,
) -> Option<&'q LoadedQueue<'n>> {
    let parts = parse_arn(arn)?;
    if parts.region != r.pseudo.region || parts.account != r.pseudo.account_id {
        return None;
    }
    queues.iter().find(|q| q.spec.name == parts.name)
}

/// What SQS refuses across attributes: FIFO-only attributes on a standard queue,
/// per-message-group throughput without per-message-group deduplication, and both
/// kinds of server-side encryption at once.
fn check_combinations(
    r: &Resolver<'_>,
    res: &Resource<'_>,
    fifo: bool,
    attributes: &BTreeMap<String, String>,
) -> Result<(), TemplateError> {
    let at = |key: &str| {
        res.property(key)
            .map_or((res.key_pos, res.path()), |(e, path)| (e.key_pos, path))
    };
    if !fifo && let Some(key) = FIFO_ONLY.iter().find(|k| attributes.contains_key(**k)) {
        let (pos, path) = at(key);
        return Err(r.error(
            pos,
            &path,
            ErrorKind::BadQueue(format!("{key} is only for FIFO queues")),
            "set FifoQueue: true (and a QueueName ending in .fifo, if any), or remove it",
        ));
    }
    if attributes.get("FifoThroughputLimit").map(String::as_str) == Some("perMessageGroupId")
        && attributes.get("DeduplicationScope").map(String::as_str) != Some("messageGroup")
    {
        let (pos, path) = at("FifoThroughputLimit");
        return Err(r.error(
            pos,
            &path,
            ErrorKind::BadQueue(
                "FifoThroughputLimit perMessageGroupId is allowed only when DeduplicationScope is messageGroup (SQS's default is queue)".into(),
            ),
            "for high throughput set DeduplicationScope: messageGroup and FifoThroughputLimit: perMessageGroupId",
        ));
    }
    if attributes.contains_key("KmsMasterKeyId")
        && attributes.get("SqsManagedSseEnabled").map(String::as_str) == Some("true")
    {
        let (pos, path) = at("SqsManagedSseEnabled");
        return Err(r.error(
            pos,
            &path,
            ErrorKind::BadQueue(
                "a queue has one server-side encryption option: SSE-KMS (KmsMasterKeyId) or SSE-SQS (SqsManagedSseEnabled), not both".into(),
            ),
            "remove one of them",
        ));
    }
    Ok(())
}

/// `RedrivePolicy` (an object, or the same as JSON text): its JSON text for SQS and
/// the dead-letter queue's ARN.
fn redrive_policy(
    r: &Resolver<'_>,
    v: &Value,
    spot: &Spot<'_>,
) -> Result<(String, String), TemplateError> {
    let policy = json_object(r, v, spot, "RedrivePolicy", REDRIVE_HINT)?;
    let bad = |at: &Spot<'_>, why: String| {
        r.error(
            at.at,
            &at.path,
            ErrorKind::BadQueue(format!(
                "Value for parameter RedrivePolicy is invalid. Reason: {why}"
            )),
            REDRIVE_HINT,
        )
    };
    if let Some(key) = policy
        .keys()
        .find(|k| !["deadLetterTargetArn", "maxReceiveCount"].contains(&k.as_str()))
    {
        return Err(bad(
            &spot.key(key),
            format!("{key} is not deadLetterTargetArn or maxReceiveCount"),
        ));
    }
    let target_spot = spot.key("deadLetterTargetArn");
    let target = match policy.get("deadLetterTargetArn") {
        None => {
            return Err(bad(
                spot,
                "Redrive policy does not contain mandatory attribute: deadLetterTargetArn.".into(),
            ));
        }
        Some(serde_json::Value::String(arn)) => arn.clone(),
        Some(other) => {
            return Err(bad(
                &target_spot,
                format!("deadLetterTargetArn must be a queue ARN, not {other}"),
            ));
        }
    };
    if parse_arn(&target).is_none() {
        return Err(bad(
            &target_spot,
            format!(
                "{target:?} is not an SQS queue ARN (use !GetAtt Queue.Arn; !Ref gives its URL)"
            ),
        ));
    }
    let count_spot = spot.key("maxReceiveCount");
    let count = match policy.get("maxReceiveCount") {
        None => {
            return Err(bad(
                spot,
                "Redrive policy does not contain mandatory attribute: maxReceiveCount.".into(),
            ));
        }
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.parse::<u64>().ok(),
        Some(_) => None,
    };
    let Some(count) = count.filter(|n| (1..=MAX_RECEIVE_COUNT).contains(n)) else {
        return Err(bad(
            &count_spot,
            format!("maxReceiveCount must be a whole number from 1 to {MAX_RECEIVE_COUNT}"),
        ));
    };
    let json = serde_json::json!({"deadLetterTargetArn": target, "maxReceiveCount": count});
    Ok((json.to_string(), target))
}

/// `RedriveAllowPolicy` (an object or JSON text): its JSON text for SQS and what it
/// allows (None for allowAll).
fn redrive_allow_policy(
    r: &Resolver<'_>,
    v: &Value,
    spot: &Spot<'_>,
) -> Result<(String, Option<Allow>), TemplateError> {
    let policy = json_object(r, v, spot, "RedriveAllowPolicy", ALLOW_HINT)?;
    let bad = |at: &Spot<'_>, why: String| {
        r.error(
            at.at,
            &at.path,
            ErrorKind::BadQueue(format!(
                "Value for parameter RedriveAllowPolicy is invalid. Reason: {why}"
            )),
            ALLOW_HINT,
        )
    };
    if let Some(key) = policy
        .keys()
        .find(|k| !["redrivePermission", "sourceQueueArns"].contains(&k.as_str()))
    {
        return Err(bad(
            &spot.key(key),
            format!("{key} is not redrivePermission or sourceQueueArns"),
        ));
    }
    let permission_spot = spot.key("redrivePermission");
    let permission = match policy.get("redrivePermission") {
        Some(serde_json::Value::String(p))
            if ["allowAll", "denyAll", "byQueue"].contains(&p.as_str()) =>
        {
            p.clone()
        }
        Some(other) => {
            return Err(bad(
                &permission_spot,
                format!("redrivePermission {other} is not allowAll, denyAll or byQueue"),
            ));
        }
        None => {
            return Err(bad(
                spot,
                "Redrive allow policy does not contain mandatory attribute: redrivePermission."
                    .into(),
            ));
        }
    };
    let sources_spot = spot.key("sourceQueueArns");
    let sources = match policy.get("sourceQueueArns") {
        None => None,
        Some(serde_json::Value::Array(items)) => {
            let mut arns = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                match item.as_str() {
                    Some(arn) if parse_arn(arn).is_some() => arns.push(arn.to_string()),
                    _ => {
                        return Err(bad(
                            &sources_spot.index(i),
                            format!("{item} is not an SQS queue ARN"),
                        ));
                    }
                }
            }
            Some(arns)
        }
        Some(other) => {
            return Err(bad(
                &sources_spot,
                format!("sourceQueueArns must be a list of queue ARNs, not {other}"),
            ));
        }
    };
    let allow = match (permission.as_str(), sources) {
        ("byQueue", Some(arns)) if (1..=MAX_SOURCE_QUEUES).contains(&arns.len()) => {
            Some(Allow::ByQueue(arns))
        }
        ("byQueue", _) => {
            return Err(bad(
                &sources_spot,
                format!(
                    "redrivePermission byQueue needs sourceQueueArns: 1 to {MAX_SOURCE_QUEUES} queue ARNs"
                ),
            ));
        }
        (_, Some(_)) => {
            return Err(bad(
                &sources_spot,
                "sourceQueueArns may be set only when redrivePermission is byQueue".into(),
            ));
        }
        ("denyAll", None) => Some(Allow::DenyAll),
        _ => None,
    };
    let json = match &allow {
        Some(Allow::ByQueue(arns)) => {
            serde_json::json!({"redrivePermission": permission, "sourceQueueArns": arns})
        }
        _ => serde_json::json!({ "redrivePermission": permission }),
    };
    Ok((json.to_string(), allow))
}

/// A policy written as a mapping, or as JSON text (CloudFormation takes both).
fn json_object(
    r: &Resolver<'_>,
    v: &Value,
    spot: &Spot<'_>,
    name: &str,
    hint: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, TemplateError> {
    let json = match v {
        Value::String(s) => serde_json::from_str(s).map_err(|e| {
            r.error(
                spot.at,
                &spot.path,
                ErrorKind::BadQueue(format!(
                    "Value for parameter {name} is invalid. Reason: not JSON: {e}"
                )),
                hint,
            )
        })?,
        other => to_json(other),
    };
    match json {
        serde_json::Value::Object(map) => Ok(map),
        other => Err(r.error(
            spot.at,
            &spot.path,
            ErrorKind::Structure(format!("must be a mapping or a JSON object, not {other}")),
            hint,
        )),
    }
}

/// A resolved value as JSON; numbers stay numbers when they read as one.
fn to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Number(n) => serde_json::from_str::<serde_json::Number>(n)
            .map_or_else(|_| serde_json::Value::String(n.clone()), Into::into),
        Value::String(s) => serde_json::Value::String(s.clone()),
        Value::List(items) => items.iter().map(to_json).collect(),
        Value::Map(fields) => fields
            .iter()
            .map(|(k, v)| (k.clone(), to_json(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
    }
}

/// A whole number within SQS's range for the attribute `key`.
fn number(
    r: &Resolver<'_>,
    v: &Value,
    spot: &Spot<'_>,
    key: &str,
    min: u32,
    max: u32,
) -> Result<u32, TemplateError> {
    let written = v.as_text().unwrap_or_else(|| v.shape().to_string());
    let n = match v {
        Value::Number(t) | Value::String(t) => t.parse::<u32>().ok(),
        _ => None,
    };
    n.filter(|n| (min..=max).contains(n)).ok_or_else(|| {
        r.error(
            spot.at,
            &spot.path,
            ErrorKind::BadQueue(format!(
                "Invalid value for the parameter {key}: {written} (SQS allows a whole number from {min} to {max})"
            )),
            format!("{key}: {min} to {max}"),
        )
    })
}

fn boolean(
    r: &Resolver<'_>,
    v: &Value,
    spot: &Spot<'_>,
    hint: &str,
) -> Result<bool, TemplateError> {
    v.as_bool().ok_or_else(|| {
        r.error(
            spot.at,
            &spot.path,
            ErrorKind::InvalidValue(format!(
                "must be true or false, not {}",
                v.as_text().unwrap_or_else(|| v.shape().to_string())
            )),
            hint,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Template;
    use crate::testing::load_with_function;
    use crate::{LoadOptions, TemplateError};

    fn load(function_props: &str, resources: &str) -> Result<Template, TemplateError> {
        load_with_function(function_props, resources, &LoadOptions::default())
    }

    /// A queue `Q` with `props` (at property indentation, 6 spaces; the first is at
    /// line 14).
    fn with_queue(props: &str) -> Result<Template, TemplateError> {
        load(
            "",
            &format!("  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n{props}"),
        )
    }

    fn error(props: &str) -> String {
        with_queue(props).expect_err(props).to_string()
    }

    fn queue<'t>(t: &'t Template, id: &str) -> &'t QueueSpec {
        t.queues
            .iter()
            .find(|q| q.logical_id == id)
            .unwrap_or_else(|| panic!("no queue {id}: {:?}", t.queues))
    }

    fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_full_queue() {
        let t = with_queue(
            "      QueueName: !Sub '${AWS::StackName}-orders.fifo'\n      FifoQueue: true\n      ContentBasedDeduplication: 'true'\n      DeduplicationScope: messageGroup\n      FifoThroughputLimit: perMessageGroupId\n      DelaySeconds: 5\n      MaximumMessageSize: 1048576\n      MessageRetentionPeriod: '1209600'\n      ReceiveMessageWaitTimeSeconds: 20\n      VisibilityTimeout: 43200\n      KmsMasterKeyId: alias/aws/sqs\n      KmsDataKeyReusePeriodSeconds: 86400\n      SqsManagedSseEnabled: false\n      RedriveAllowPolicy: {redrivePermission: denyAll}\n      Tags:\n        - {Key: team, Value: shop}\n",
        )
        .expect("valid");
        assert_eq!(
            queue(&t, "Q"),
            &QueueSpec {
                logical_id: "Q".into(),
                name: "esb-orders.fifo".into(),
                fifo: true,
                attributes: attrs(&[
                    ("FifoQueue", "true"),
                    ("ContentBasedDeduplication", "true"),
                    ("DeduplicationScope", "messageGroup"),
                    ("FifoThroughputLimit", "perMessageGroupId"),
                    ("DelaySeconds", "5"),
                    ("MaximumMessageSize", "1048576"),
                    ("MessageRetentionPeriod", "1209600"),
                    ("ReceiveMessageWaitTimeSeconds", "20"),
                    ("VisibilityTimeout", "43200"),
                    ("KmsMasterKeyId", "alias/aws/sqs"),
                    ("KmsDataKeyReusePeriodSeconds", "86400"),
                    ("SqsManagedSseEnabled", "false"),
                    ("RedriveAllowPolicy", r#"{"redrivePermission":"denyAll"}"#),
                ]),
                tags: vec![("team".into(), "shop".into())],
            }
        );
        assert!(t.warnings.is_empty(), "{:?}", t.warnings);
    }

    #[test]
    fn names() {
        let t = load(
            "",
            "  Plain:\n    Type: AWS::SQS::Queue\n  Ordered:\n    Type: AWS::SQS::Queue\n    Properties: {FifoQueue: true}\n  Standard:\n    Type: AWS::SQS::Queue\n    Properties: {FifoQueue: false, QueueName: jobs_v-2}\n  Skipped:\n    Type: AWS::SQS::Queue\n    Condition: Never\n",
        )
        .expect("valid");
        let names: Vec<(&str, &str, bool)> = t
            .queues
            .iter()
            .map(|q| (q.logical_id.as_str(), q.name.as_str(), q.fifo))
            .collect();
        assert_eq!(
            names,
            [
                ("Plain", "Plain", false),
                ("Ordered", "Ordered.fifo", true),
                ("Standard", "jobs_v-2", false)
            ]
        );
        assert!(queue(&t, "Plain").attributes.is_empty());
        assert_eq!(
            queue(&t, "Ordered").attributes,
            attrs(&[("FifoQueue", "true")])
        );
        let long = "Q".repeat(100);
        assert_eq!(generated_name(&long, false), "Q".repeat(80));
        assert_eq!(
            generated_name(&long, true),
            format!("{}.fifo", "Q".repeat(75))
        );
        assert_eq!(check_name(&generated_name(&long, true), true), Ok(()));
    }

    #[test]
    fn names_sqs_refuses() {
        let at = "unit.yaml:14:7: Resources.Q.Properties.QueueName: ";
        for (props, want) in [
            (
                "      QueueName: 'has space'\n",
                format!("{at}\"has space\" is not a valid SQS queue name: ' ' is not allowed (letters, digits, - and _ only) (hint: a queue name is 1 to 80"),
            ),
            (
                "      QueueName: jobs.fifo\n",
                format!("{at}\"jobs.fifo\" is not a valid SQS queue name: only a FIFO queue's name ends in .fifo; set FifoQueue: true"),
            ),
            (
                "      QueueName: jobs\n      FifoQueue: true\n",
                format!("{at}\"jobs\" is not a valid SQS queue name: a FIFO queue's name must end in .fifo"),
            ),
            (
                "      QueueName: .fifo\n      FifoQueue: true\n",
                "it has 5 characters; SQS allows 1 to 80".into(),
            ),
            (
                &format!("      QueueName: {}\n", "q".repeat(81)),
                "it has 81 characters; SQS allows 1 to 80".into(),
            ),
            (
                "      FifoQueue: maybe\n",
                "unit.yaml:14:7: Resources.Q.Properties.FifoQueue: must be true or false, not maybe".into(),
            ),
        ] {
            let e = error(props);
            assert!(e.contains(&want), "{props}: {e}");
        }
        let e = load(
            "",
            "  A:\n    Type: AWS::SQS::Queue\n    Properties: {QueueName: jobs}\n  B:\n    Type: AWS::SQS::Queue\n    Properties: {QueueName: jobs}\n",
        )
        .expect_err("duplicate")
        .to_string();
        assert!(
            e.contains("unit.yaml:16:18: Resources.B.Properties.QueueName: queue name \"jobs\" is also used by A"),
            "{e}"
        );
    }

    #[test]
    fn attributes_sqs_refuses() {
        let at = "unit.yaml:14:7: Resources.Q.Properties.";
        for (props, want) in [
            (
                "      DelaySeconds: 901\n",
                format!("{at}DelaySeconds: Invalid value for the parameter DelaySeconds: 901 (SQS allows a whole number from 0 to 900) (hint: DelaySeconds: 0 to 900)"),
            ),
            (
                "      MaximumMessageSize: 1023\n",
                "Invalid value for the parameter MaximumMessageSize: 1023 (SQS allows a whole number from 1024 to 1048576)".into(),
            ),
            (
                "      MessageRetentionPeriod: 59\n",
                "Invalid value for the parameter MessageRetentionPeriod: 59".into(),
            ),
            (
                "      ReceiveMessageWaitTimeSeconds: 21\n",
                "Invalid value for the parameter ReceiveMessageWaitTimeSeconds: 21".into(),
            ),
            (
                "      VisibilityTimeout: -1\n",
                "Invalid value for the parameter VisibilityTimeout: -1".into(),
            ),
            (
                "      VisibilityTimeout: 1.5\n",
                "Invalid value for the parameter VisibilityTimeout: 1.5".into(),
            ),
            (
                "      KmsDataKeyReusePeriodSeconds: 86401\n",
                "Invalid value for the parameter KmsDataKeyReusePeriodSeconds: 86401".into(),
            ),
            (
                "      ContentBasedDeduplication: true\n",
                format!("{at}ContentBasedDeduplication: ContentBasedDeduplication is only for FIFO queues"),
            ),
            (
                "      DeduplicationScope: queue\n",
                "DeduplicationScope is only for FIFO queues".into(),
            ),
            (
                "      FifoQueue: true\n      DeduplicationScope: group\n",
                "unit.yaml:15:7: Resources.Q.Properties.DeduplicationScope: Invalid value for the parameter DeduplicationScope: \"group\" is not messageGroup or queue".into(),
            ),
            (
                "      FifoQueue: true\n      FifoThroughputLimit: perMessageGroupId\n",
                "unit.yaml:15:7: Resources.Q.Properties.FifoThroughputLimit: FifoThroughputLimit perMessageGroupId is allowed only when DeduplicationScope is messageGroup".into(),
            ),
            (
                "      KmsMasterKeyId: alias/aws/sqs\n      SqsManagedSseEnabled: true\n",
                "unit.yaml:15:7: Resources.Q.Properties.SqsManagedSseEnabled: a queue has one server-side encryption option".into(),
            ),
            (
                "      Tags: [{Key: 'aws:x', Value: y}]\n",
                "the aws: prefix is reserved".into(),
            ),
            (
                "      VisibilityTimout: 30\n",
                format!("{at}VisibilityTimout: is not a property of AWS::SQS::Queue"),
            ),
        ] {
            let e = error(props);
            assert!(e.contains(&want), "{props}: {e}");
        }
        // `false` is the default on any queue: not sent, not refused.
        let t = with_queue("      ContentBasedDeduplication: false\n").expect("valid");
        assert!(t.queues[0].attributes.is_empty());
    }

    /// `Jobs` (standard) and `Ordered` (FIFO) with the given redrive properties, and
    /// their dead-letter queues `Dead` and `DeadFifo`.
    fn redrive(jobs: &str, dead: &str) -> Result<Template, TemplateError> {
        load(
            "",
            &format!(
                "  Jobs:\n    Type: AWS::SQS::Queue\n    Properties:\n{jobs}  Dead:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: dead\n{dead}  DeadFifo:\n    Type: AWS::SQS::Queue\n    Properties: {{FifoQueue: true}}\n"
            ),
        )
    }

    #[test]
    fn redrive_policies() {
        let t = redrive(
            "      RedrivePolicy: {deadLetterTargetArn: !GetAtt Dead.Arn, maxReceiveCount: 5}\n",
            // !GetAtt Jobs.Arn would be a cycle (Jobs needs Dead's ARN), which
            // CloudFormation refuses: the source's ARN is written out.
            "      RedriveAllowPolicy:\n        redrivePermission: byQueue\n        sourceQueueArns: [!Sub 'arn:aws:sqs:${AWS::Region}:${AWS::AccountId}:Jobs']\n",
        )
        .expect("valid");
        assert_eq!(
            queue(&t, "Jobs").attributes,
            attrs(&[(
                "RedrivePolicy",
                r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:dead","maxReceiveCount":5}"#
            )])
        );
        assert_eq!(
            queue(&t, "Dead").attributes,
            attrs(&[(
                "RedriveAllowPolicy",
                r#"{"redrivePermission":"byQueue","sourceQueueArns":["arn:aws:sqs:us-east-1:123456789012:Jobs"]}"#
            )])
        );
        assert!(t.warnings.is_empty(), "{:?}", t.warnings);

        // JSON text, as CloudFormation also takes it; a string count is a number.
        let t = redrive(
            "      RedrivePolicy: !Sub '{\"deadLetterTargetArn\": \"${Dead.Arn}\", \"maxReceiveCount\": \"1000\"}'\n",
            "      RedriveAllowPolicy: '{\"redrivePermission\": \"allowAll\"}'\n",
        )
        .expect("valid");
        assert_eq!(
            queue(&t, "Jobs").attributes["RedrivePolicy"],
            r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:dead","maxReceiveCount":1000}"#
        );

        // A dead-letter queue declared elsewhere is kept, and warned about.
        let t = redrive(
            "      RedrivePolicy: {deadLetterTargetArn: 'arn:aws:sqs:eu-west-1:123456789012:dead', maxReceiveCount: 1}\n",
            "",
        )
        .expect("valid");
        let w: Vec<String> = t.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].ends_with("unit.yaml:14:7: Resources.Jobs.Properties.RedrivePolicy: arn:aws:sqs:eu-west-1:123456789012:dead is not a queue of this template; ESB moves messages there only if it exists in ESB's SQS"),
            "{w:?}"
        );
    }

    #[test]
    fn redrive_policies_sqs_refuses() {
        let at = "unit.yaml:14:7: Resources.Jobs.Properties.RedrivePolicy";
        for (jobs, dead, want) in [
            (
                "      RedrivePolicy: {deadLetterTargetArn: !GetAtt DeadFifo.Arn, maxReceiveCount: 5}\n",
                "",
                format!("{at}: the dead-letter queue of a standard queue must be standard queue too, and DeadFifo is a FIFO queue (hint: point deadLetterTargetArn at a standard queue"),
            ),
            (
                "      FifoQueue: true\n      RedrivePolicy: {deadLetterTargetArn: !GetAtt Dead.Arn, maxReceiveCount: 5}\n",
                "",
                "the dead-letter queue of a FIFO queue must be FIFO queue too, and Dead is a standard queue (hint: point deadLetterTargetArn at a queue with FifoQueue: true)".into(),
            ),
            (
                "      RedrivePolicy: {deadLetterTargetArn: !GetAtt Dead.Arn, maxReceiveCount: 5}\n",
                "      RedriveAllowPolicy: {redrivePermission: denyAll}\n",
                format!("{at}: the RedriveAllowPolicy of Dead does not allow Jobs to use it as a dead-letter queue"),
            ),
            (
                "      RedrivePolicy: {deadLetterTargetArn: !GetAtt Dead.Arn, maxReceiveCount: 5}\n",
                "      RedriveAllowPolicy: {redrivePermission: byQueue, sourceQueueArns: [!GetAtt DeadFifo.Arn]}\n",
                "the RedriveAllowPolicy of Dead does not allow Jobs".into(),
            ),
            (
                "      RedrivePolicy: {deadLetterTargetArn: !Ref Dead, maxReceiveCount: 5}\n",
                "",
                "unit.yaml:14:23: Resources.Jobs.Properties.RedrivePolicy.deadLetterTargetArn: Value for parameter RedrivePolicy is invalid. Reason: \"https://sqs.us-east-1.amazonaws.com/123456789012/dead\" is not an SQS queue ARN (use !GetAtt Queue.Arn; !Ref gives its URL)".into(),
            ),
            (
                "      RedrivePolicy: {deadLetterTargetArn: !GetAtt Dead.Arn}\n",
                "",
                "Redrive policy does not contain mandatory attribute: maxReceiveCount.".into(),
            ),
            (
                "      RedrivePolicy: {maxReceiveCount: 5}\n",
                "",
                "Redrive policy does not contain mandatory attribute: deadLetterTargetArn.".into(),
            ),
            (
                "      RedrivePolicy: {deadLetterTargetArn: !GetAtt Dead.Arn, maxReceiveCount: 1001}\n",
                "",
                "RedrivePolicy.maxReceiveCount: Value for parameter RedrivePolicy is invalid. Reason: maxReceiveCount must be a whole number from 1 to 1000".into(),
            ),
            (
                "      RedrivePolicy: {deadLetterTargetArn: !GetAtt Dead.Arn, maxReceiveCount: 0}\n",
                "",
                "maxReceiveCount must be a whole number from 1 to 1000".into(),
            ),
            (
                "      RedrivePolicy: {deadLetterTargetArn: !GetAtt Dead.Arn, maxReceiveCount: 5, extra: 1}\n",
                "",
                "extra is not deadLetterTargetArn or maxReceiveCount".into(),
            ),
            (
                "      RedrivePolicy: '{not json'\n",
                "",
                format!("{at}: Value for parameter RedrivePolicy is invalid. Reason: not JSON"),
            ),
            (
                "      RedrivePolicy: [1]\n",
                "",
                "RedrivePolicy: must be a mapping or a JSON object, not [1]".into(),
            ),
            (
                "",
                "      RedriveAllowPolicy: {redrivePermission: byQueue}\n",
                "Resources.Dead.Properties.RedriveAllowPolicy.sourceQueueArns: Value for parameter RedriveAllowPolicy is invalid. Reason: redrivePermission byQueue needs sourceQueueArns: 1 to 10 queue ARNs".into(),
            ),
            (
                "",
                "      RedriveAllowPolicy: {redrivePermission: allowAll, sourceQueueArns: [!GetAtt Jobs.Arn]}\n",
                "sourceQueueArns may be set only when redrivePermission is byQueue".into(),
            ),
            (
                "",
                "      RedriveAllowPolicy: {redrivePermission: some}\n",
                "redrivePermission \"some\" is not allowAll, denyAll or byQueue".into(),
            ),
            (
                "",
                "      RedriveAllowPolicy: {redrivePermission: byQueue, sourceQueueArns: [jobs]}\n",
                "RedriveAllowPolicy.sourceQueueArns[0]: Value for parameter RedriveAllowPolicy is invalid. Reason: \"jobs\" is not an SQS queue ARN".into(),
            ),
        ] {
            let jobs = if jobs.is_empty() { "      DelaySeconds: 0\n" } else { jobs };
            let e = redrive(jobs, dead).expect_err(jobs).to_string();
            assert!(e.contains(&want), "{jobs}{dead}: {e}");
        }
    }

    #[test]
    fn refs_and_attributes() {
        let resources = "  Jobs:\n    Type: AWS::SQS::Queue\n    Properties: {QueueName: jobs}\n  Ordered:\n    Type: AWS::SQS::Queue\n    Properties: {FifoQueue: true}\n";
        let env = "      Environment:\n        Variables:\n          URL: !Ref Jobs\n          ARN: !GetAtt Jobs.Arn\n          NAME: !GetAtt Ordered.QueueName\n          QURL: !GetAtt Ordered.QueueUrl\n          SUB: !Sub '${Jobs.QueueName} at ${Jobs}'\n";
        let t = load(env, resources).expect("valid");
        let vars = &t.functions[0].environment;
        assert_eq!(
            vars["URL"],
            "https://sqs.us-east-1.amazonaws.com/123456789012/jobs"
        );
        assert_eq!(vars["ARN"], "arn:aws:sqs:us-east-1:123456789012:jobs");
        assert_eq!(vars["NAME"], "Ordered.fifo");
        assert_eq!(
            vars["QURL"],
            "https://sqs.us-east-1.amazonaws.com/123456789012/Ordered.fifo"
        );
        assert_eq!(
            vars["SUB"],
            "jobs at https://sqs.us-east-1.amazonaws.com/123456789012/jobs"
        );

        let opts = LoadOptions {
            sqs_url: Some("https://127.0.0.1:9324/".into()),
            account_id: "000000000000".into(),
            region: "eu-west-1".into(),
            ..LoadOptions::default()
        };
        let t = load_with_function(env, resources, &opts).expect("valid");
        let vars = &t.functions[0].environment;
        assert_eq!(vars["URL"], "https://127.0.0.1:9324/000000000000/jobs");
        assert_eq!(vars["ARN"], "arn:aws:sqs:eu-west-1:000000000000:jobs");
        assert_eq!(
            vars["QURL"],
            "https://127.0.0.1:9324/000000000000/Ordered.fifo"
        );

        let e = load(
            "      Environment: {Variables: {X: !GetAtt Jobs.Name}}\n",
            resources,
        )
        .expect_err("unknown attribute")
        .to_string();
        assert!(
            e.contains("Jobs (AWS::SQS::Queue) has no attribute \"Name\" that ESB can resolve (hint: available: Arn, QueueName, QueueUrl)"),
            "{e}"
        );
    }

    #[test]
    fn queue_policies_are_accepted_and_warned_about_once() {
        let t = load(
            "",
            "  Q:\n    Type: AWS::SQS::Queue\n  P:\n    Type: AWS::SQS::QueuePolicy\n    Properties: {Queues: [!Ref Q], PolicyDocument: {}}\n  I:\n    Type: AWS::SQS::QueueInlinePolicy\n    Properties: {Queue: !Ref Q, PolicyDocument: {}}\n",
        )
        .expect("valid");
        let w: Vec<String> = t.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].ends_with("unit.yaml:13:3: Resources.P: AWS::SQS::QueuePolicy is not enforced by ESB (any caller with the box's keys may use its queues); ignored"),
            "{w:?}"
        );
    }

    #[test]
    fn queue_arns() {
        assert_eq!(
            parse_arn("arn:aws:sqs:eu-west-1:123456789012:jobs.fifo"),
            Some(QueueArn {
                region: "eu-west-1",
                account: "123456789012",
                name: "jobs.fifo",
            })
        );
        for bad in [
            "arn:aws:sns:eu-west-1:123456789012:jobs",
            "arn:aws:sqs:eu-west-1:1234:jobs",
            "arn:aws:sqs::123456789012:jobs",
            "arn:aws:sqs:eu-west-1:123456789012:",
            "arn:aws:sqs:eu-west-1:123456789012:a:b",
            "https://sqs.eu-west-1.amazonaws.com/123456789012/jobs",
        ] {
            assert_eq!(parse_arn(bad), None, "{bad}");
        }
    }
}
