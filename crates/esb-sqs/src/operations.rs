//! SQS's operations over the engine, protocol-neutral: each takes its input in the
//! JSON protocol's shape and returns its output in that shape (the query protocol
//! renders the same output as XML).

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use base64::Engine;
use serde_json::{Map, Value, json};

use crate::engine::{Existing, Sqs, check_redrive};
use crate::error::{ErrorKind, SqsError};
use crate::input::Input;
use crate::message_attributes::{self, MessageAttributes};
use crate::message_store::{self, Outgoing, ReceiveOutcome, Received, Sent};
use crate::names;
use crate::queue_attributes::{self, Settings};
use crate::queue_store;
use crate::store::now_ms;

/// Who is asking, and how they reached the box.
#[derive(Debug, Clone)]
pub struct Context {
    /// `<scheme>://<host>` of the request: queue URLs are built on it.
    pub base_url: String,
    /// `SenderId` of the messages this request sends.
    pub sender_id: String,
}

/// Every operation of the SQS API model.
pub const OPERATIONS: &[&str] = &[
    "AddPermission",
    "CancelMessageMoveTask",
    "ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch",
    "CreateQueue",
    "DeleteMessage",
    "DeleteMessageBatch",
    "DeleteQueue",
    "GetQueueAttributes",
    "GetQueueUrl",
    "ListDeadLetterSourceQueues",
    "ListMessageMoveTasks",
    "ListQueueTags",
    "ListQueues",
    "PurgeQueue",
    "ReceiveMessage",
    "RemovePermission",
    "SendMessage",
    "SendMessageBatch",
    "SetQueueAttributes",
    "StartMessageMoveTask",
    "TagQueue",
    "UntagQueue",
];

/// Runs `operation` (one of [`OPERATIONS`]).
pub async fn call(
    sqs: &Sqs,
    operation: &str,
    input: Input,
    ctx: &Context,
) -> Result<Value, SqsError> {
    match operation {
        "CreateQueue" => create_queue(sqs, &input, ctx).await,
        "GetQueueUrl" => get_queue_url(sqs, &input, ctx).await,
        "DeleteQueue" => delete_queue(sqs, &input).await,
        "ListQueues" => list_queues(sqs, &input, ctx).await,
        "GetQueueAttributes" => get_queue_attributes(sqs, &input).await,
        "SetQueueAttributes" => set_queue_attributes(sqs, &input).await,
        "TagQueue" => tag_queue(sqs, &input, true).await,
        "UntagQueue" => tag_queue(sqs, &input, false).await,
        "ListQueueTags" => list_queue_tags(sqs, &input).await,
        "PurgeQueue" => purge_queue(sqs, &input).await,
        "ListDeadLetterSourceQueues" => dead_letter_sources(sqs, &input, ctx).await,
        "SendMessage" => send_message(sqs, &input, ctx).await,
        "SendMessageBatch" => send_message_batch(sqs, &input, ctx).await,
        "ReceiveMessage" => receive_message(sqs, &input).await,
        "DeleteMessage" => delete_message(sqs, &input).await,
        "DeleteMessageBatch" => delete_message_batch(sqs, &input).await,
        "ChangeMessageVisibility" => change_visibility(sqs, &input).await,
        "ChangeMessageVisibilityBatch" => change_visibility_batch(sqs, &input).await,
        "AddPermission" => crate::permissions::add(sqs, &input).await,
        "RemovePermission" => crate::permissions::remove(sqs, &input).await,
        "StartMessageMoveTask" => crate::move_tasks::start(sqs, &input).await,
        "ListMessageMoveTasks" => crate::move_tasks::list(sqs, &input).await,
        "CancelMessageMoveTask" => crate::move_tasks::cancel(sqs, &input).await,
        _ => Err(SqsError::new(
            ErrorKind::UnsupportedOperation,
            format!("{operation} is not supported by this box's SQS service."),
        )),
    }
}

fn queue_name<'a>(sqs: &Sqs, input: &'a Input) -> Result<&'a str, SqsError> {
    names::queue_of_url(input.required("QueueUrl")?, sqs.account())
}

async fn create_queue(sqs: &Sqs, input: &Input, ctx: &Context) -> Result<Value, SqsError> {
    let name = input.required("QueueName")?.to_string();
    let attributes = input.string_map("Attributes")?;
    let tags = input.string_map("tags")?;
    sqs.create_queue(name.clone(), attributes, tags, Existing::MustMatch)
        .await?;
    Ok(json!({"QueueUrl": names::url(&ctx.base_url, sqs.account(), &name)}))
}

async fn get_queue_url(sqs: &Sqs, input: &Input, ctx: &Context) -> Result<Value, SqsError> {
    let name = input.required("QueueName")?.to_string();
    if let Some(owner) = input.str("QueueOwnerAWSAccountId")?
        && owner != sqs.account()
    {
        return Err(SqsError::no_queue());
    }
    let n = name.clone();
    sqs.run(move |conn| queue_store::require(conn, &n).map(|_| ()))
        .await?;
    Ok(json!({"QueueUrl": names::url(&ctx.base_url, sqs.account(), &name)}))
}

async fn delete_queue(sqs: &Sqs, input: &Input) -> Result<Value, SqsError> {
    let name = queue_name(sqs, input)?.to_string();
    let n = name.clone();
    sqs.run(move |conn| {
        let q = queue_store::require(conn, &n)?;
        queue_store::delete(conn, q.id)
    })
    .await?;
    sqs.forget(&name);
    Ok(json!({}))
}

fn limit(input: &Input, key: &str) -> Result<Option<usize>, SqsError> {
    match input.int(key)? {
        None => Ok(None),
        Some(n) if (1..=1000).contains(&n) => Ok(Some(n as usize)),
        Some(n) => Err(SqsError::invalid(format!(
            "Value {n} for parameter {key} is invalid. Reason: {key} must be an integer between 1 and 1000."
        ))),
    }
}

fn token_after(input: &Input) -> Result<String, SqsError> {
    match input.str("NextToken")? {
        None | Some("") => Ok(String::new()),
        Some(t) => base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(t)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| SqsError::invalid("Invalid NextToken value.")),
    }
}

fn next_token(last: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(last)
}

async fn list_queues(sqs: &Sqs, input: &Input, ctx: &Context) -> Result<Value, SqsError> {
    let prefix = input.str("QueueNamePrefix")?.unwrap_or("").to_string();
    let max = limit(input, "MaxResults")?;
    let after = token_after(input)?;
    let want = max.unwrap_or(1000);
    let mut found = sqs
        .run(move |conn| queue_store::names(conn, &prefix, &after, want + 1))
        .await?;
    let more = found.len() > want;
    found.truncate(want);
    let mut out = Map::new();
    if !found.is_empty() {
        let urls: Vec<Value> = found
            .iter()
            .map(|n| Value::String(names::url(&ctx.base_url, sqs.account(), n)))
            .collect();
        out.insert("QueueUrls".into(), Value::Array(urls));
    }
    if more
        && max.is_some()
        && let Some(last) = found.last()
    {
        out.insert("NextToken".into(), Value::String(next_token(last)));
    }
    Ok(Value::Object(out))
}

async fn get_queue_attributes(sqs: &Sqs, input: &Input) -> Result<Value, SqsError> {
    let name = queue_name(sqs, input)?.to_string();
    let wanted = input.strings("AttributeNames")?;
    for w in &wanted {
        if !queue_attributes::is_known(w) {
            return Err(SqsError::new(
                ErrorKind::InvalidAttributeName,
                format!("Unknown Attribute {w}."),
            ));
        }
    }
    let arn = sqs.arn(&name);
    let (q, counts) = sqs
        .run(move |conn| {
            let q = queue_store::require(conn, &name)?;
            let c = queue_store::counts(conn, q.id, now_ms())?;
            Ok((q, c))
        })
        .await?;
    let mut all: BTreeMap<String, String> = q.attributes.clone();
    all.insert("QueueArn".into(), arn);
    all.insert(
        "ApproximateNumberOfMessages".into(),
        counts.visible.to_string(),
    );
    all.insert(
        "ApproximateNumberOfMessagesNotVisible".into(),
        counts.in_flight.to_string(),
    );
    all.insert(
        "ApproximateNumberOfMessagesDelayed".into(),
        counts.delayed.to_string(),
    );
    all.insert("CreatedTimestamp".into(), (q.created_ms / 1000).to_string());
    all.insert(
        "LastModifiedTimestamp".into(),
        (q.modified_ms / 1000).to_string(),
    );
    let everything = wanted.iter().any(|w| w == "All");
    let chosen: Map<String, Value> = all
        .into_iter()
        .filter(|(k, _)| everything || wanted.contains(k))
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    if chosen.is_empty() {
        return Ok(json!({}));
    }
    Ok(json!({"Attributes": chosen}))
}

async fn set_queue_attributes(sqs: &Sqs, input: &Input) -> Result<Value, SqsError> {
    let name = queue_name(sqs, input)?.to_string();
    if input.get("Attributes").is_none() {
        return Err(SqsError::missing("Attributes"));
    }
    let given = input.string_map("Attributes")?;
    let account = sqs.account().to_string();
    let source_arn = sqs.arn(&name);
    sqs.run(move |conn| {
        let q = queue_store::require(conn, &name)?;
        let validated = queue_attributes::validate(&given, q.fifo, false)?;
        check_redrive(conn, &validated, q.fifo, &account, &source_arn)?;
        let mut attrs = q.attributes.clone();
        attrs.extend(validated);
        attrs.retain(|_, v| !v.is_empty());
        queue_store::set_attributes(conn, q.id, &attrs, now_ms())
    })
    .await?;
    Ok(json!({}))
}

async fn tag_queue(sqs: &Sqs, input: &Input, add: bool) -> Result<Value, SqsError> {
    let name = queue_name(sqs, input)?.to_string();
    let (tags, keys) = if add {
        let tags = input.string_map("Tags")?;
        if tags.is_empty() {
            return Err(SqsError::missing("Tags"));
        }
        (tags, Vec::new())
    } else {
        if input.get("TagKeys").is_none() {
            return Err(SqsError::missing("TagKeys"));
        }
        (BTreeMap::new(), input.strings("TagKeys")?)
    };
    sqs.run(move |conn| {
        let q = queue_store::require(conn, &name)?;
        let mut all = q.tags.clone();
        all.extend(tags);
        for k in &keys {
            all.remove(k);
        }
        crate::tags::check(&all)?;
        queue_store::set_tags(conn, q.id, &all)
    })
    .await?;
    Ok(json!({}))
}

async fn list_queue_tags(sqs: &Sqs, input: &Input) -> Result<Value, SqsError> {
    let name = queue_name(sqs, input)?.to_string();
    let q = sqs
        .run(move |conn| queue_store::require(conn, &name))
        .await?;
    if q.tags.is_empty() {
        return Ok(json!({}));
    }
    Ok(json!({"Tags": q.tags}))
}

async fn purge_queue(sqs: &Sqs, input: &Input) -> Result<Value, SqsError> {
    let name = queue_name(sqs, input)?.to_string();
    sqs.run(move |conn| {
        let q = queue_store::require(conn, &name)?;
        let now = now_ms();
        if q.purged_ms.is_some_and(|t| now - t < 60_000) {
            return Err(SqsError::new(
                ErrorKind::PurgeQueueInProgress,
                format!(
                    "Only one PurgeQueue operation on {} is allowed every 60 seconds.",
                    q.name
                ),
            ));
        }
        message_store::purge(conn, &q)?;
        queue_store::set_purged(conn, q.id, now)
    })
    .await?;
    Ok(json!({}))
}

async fn dead_letter_sources(sqs: &Sqs, input: &Input, ctx: &Context) -> Result<Value, SqsError> {
    let name = queue_name(sqs, input)?.to_string();
    let max = limit(input, "MaxResults")?;
    let after = token_after(input)?;
    let arn = sqs.arn(&name);
    let sources = sqs
        .run(move |conn| {
            queue_store::require(conn, &name)?;
            Ok(queue_store::all(conn)?
                .into_iter()
                .filter(|q| {
                    queue_attributes::redrive_target(&q.attributes).as_deref() == Some(&arn)
                })
                .map(|q| q.name)
                .filter(|n| n.as_str() > after.as_str())
                .collect::<Vec<_>>())
        })
        .await?;
    let want = max.unwrap_or(1000);
    let more = sources.len() > want;
    let shown = &sources[..sources.len().min(want)];
    let urls: Vec<Value> = shown
        .iter()
        .map(|n| Value::String(names::url(&ctx.base_url, sqs.account(), n)))
        .collect();
    let mut out = json!({"queueUrls": urls});
    if more
        && max.is_some()
        && let Some(last) = shown.last()
    {
        out["NextToken"] = Value::String(next_token(last));
    }
    Ok(out)
}

/// A message's members (SendMessage, or one batch entry), checked against the rules
/// that hold for any queue.
fn outgoing(input: &Input) -> Result<Outgoing, SqsError> {
    let body = match input.str("MessageBody")? {
        Some(b) if !b.is_empty() => b.to_string(),
        _ => return Err(SqsError::missing("MessageBody")),
    };
    if !message_attributes::valid_text(&body) {
        return Err(message_attributes::invalid_contents());
    }
    Ok(Outgoing {
        body,
        attributes: message_attributes::parse(input.get("MessageAttributes"), false)?,
        system: message_attributes::parse(input.get("MessageSystemAttributes"), true)?,
        delay_seconds: input.int("DelaySeconds")?,
        group_id: input.str("MessageGroupId")?.map(str::to_string),
        dedup_id: input.str("MessageDeduplicationId")?.map(str::to_string),
    })
}

fn sent_json(sent: &Sent, id: Option<&str>) -> Value {
    let mut out = Map::new();
    if let Some(id) = id {
        out.insert("Id".into(), id.into());
    }
    out.insert("MessageId".into(), sent.message_id.clone().into());
    out.insert("MD5OfMessageBody".into(), sent.md5_body.clone().into());
    if let Some(m) = &sent.md5_attributes {
        out.insert("MD5OfMessageAttributes".into(), m.clone().into());
    }
    if let Some(m) = &sent.md5_system {
        out.insert("MD5OfMessageSystemAttributes".into(), m.clone().into());
    }
    if let Some(s) = &sent.sequence_number {
        out.insert("SequenceNumber".into(), s.clone().into());
    }
    Value::Object(out)
}

async fn send_message(sqs: &Sqs, input: &Input, ctx: &Context) -> Result<Value, SqsError> {
    let name = queue_name(sqs, input)?.to_string();
    let m = outgoing(input)?;
    let sent = sqs.send_message(&name, m, ctx.sender_id.clone()).await?;
    Ok(sent_json(&sent, None))
}

fn failed(id: &str, e: &SqsError) -> Value {
    json!({
        "Id": id,
        "SenderFault": e.kind != ErrorKind::Internal,
        "Code": e.kind.query_code(),
        "Message": e.message,
    })
}

/// A batch's entries, with SQS's checks of the batch as a whole.
fn batch_entries(input: &Input, kind: &str) -> Result<Vec<Input>, SqsError> {
    let entries = input.entries("Entries")?;
    if entries.is_empty() {
        return Err(SqsError::new(
            ErrorKind::EmptyBatchRequest,
            format!("There should be at least one {kind}RequestEntry in the request."),
        ));
    }
    if entries.len() > 10 {
        return Err(SqsError::new(
            ErrorKind::TooManyEntriesInBatchRequest,
            format!(
                "Maximum number of entries per request are 10. You have sent {}.",
                entries.len()
            ),
        ));
    }
    let mut seen = HashSet::new();
    for e in &entries {
        let id = e.required("Id")?;
        names::check_batch_id(id)?;
        if !seen.insert(id.to_string()) {
            return Err(SqsError::new(
                ErrorKind::BatchEntryIdsNotDistinct,
                format!("Id {id} repeated."),
            ));
        }
    }
    Ok(entries)
}

async fn send_message_batch(sqs: &Sqs, input: &Input, ctx: &Context) -> Result<Value, SqsError> {
    let name = queue_name(sqs, input)?.to_string();
    let entries = batch_entries(input, "SendMessageBatch")?;
    let mut parsed: Vec<(String, Result<Outgoing, SqsError>)> = Vec::new();
    let mut total = 0;
    for e in &entries {
        let id = e.required("Id")?.to_string();
        let m = outgoing(e);
        if let Ok(m) = &m {
            total += message_store::message_size(m);
        }
        parsed.push((id, m));
    }
    if total > queue_attributes::MAX_MESSAGE_BYTES {
        return Err(SqsError::new(
            ErrorKind::BatchRequestTooLong,
            format!(
                "Batch requests cannot be longer than {} bytes. You have sent {total} bytes.",
                queue_attributes::MAX_MESSAGE_BYTES
            ),
        ));
    }
    let account = sqs.account().to_string();
    let sender = ctx.sender_id.clone();
    let queue = name.clone();
    let results = sqs
        .run(move |conn| {
            let q = queue_store::require(conn, &queue)?;
            let s = Settings::of(&q.attributes, &account);
            let now = now_ms();
            let mut out = Vec::new();
            for (id, m) in parsed {
                let r = m.and_then(|m| {
                    message_store::check_for_queue(&m, &s)?;
                    message_store::send(conn, &q, &s, &m, &sender, now)
                });
                out.push((id, r));
            }
            Ok(out)
        })
        .await?;
    sqs.wake(&name);
    let mut successful = Vec::new();
    let mut failures = Vec::new();
    for (id, r) in results {
        match r {
            Ok(sent) => successful.push(sent_json(&sent, Some(&id))),
            Err(e) => failures.push(failed(&id, &e)),
        }
    }
    Ok(json!({"Successful": successful, "Failed": failures}))
}

fn range(input: &Input, key: &str, lo: i64, hi: i64, why: &str) -> Result<Option<i64>, SqsError> {
    match input.int(key)? {
        Some(n) if n < lo || n > hi => Err(SqsError::invalid(format!(
            "Value {n} for parameter {key} is invalid. Reason: {why}"
        ))),
        other => Ok(other),
    }
}

/// The system attributes a receive asked for (`AttributeNames`, deprecated, and
/// `MessageSystemAttributeNames`).
fn system_attributes(m: &Received, wanted: &[String]) -> Map<String, Value> {
    let all = wanted.iter().any(|w| w == "All");
    let want = |n: &str| all || wanted.iter().any(|w| w == n);
    let mut out = Map::new();
    let mut put = |k: &str, v: String| {
        if want(k) {
            out.insert(k.into(), Value::String(v));
        }
    };
    put("SenderId", m.sender_id.clone());
    put("SentTimestamp", m.sent_ms.to_string());
    put("ApproximateReceiveCount", m.receive_count.to_string());
    put(
        "ApproximateFirstReceiveTimestamp",
        m.first_receive_ms.to_string(),
    );
    if let Some(v) = &m.sequence_number {
        put("SequenceNumber", v.clone());
    }
    if let Some(v) = &m.dedup_id {
        put("MessageDeduplicationId", v.clone());
    }
    if let Some(v) = &m.group_id {
        put("MessageGroupId", v.clone());
    }
    if let Some(v) = &m.trace_header {
        put("AWSTraceHeader", v.clone());
    }
    if let Some(v) = &m.dead_letter_source {
        put("DeadLetterQueueSourceArn", v.clone());
    }
    out
}

fn received_json(m: &Received, system: &[String], user: &[String]) -> Value {
    let mut out = Map::new();
    out.insert("MessageId".into(), m.message_id.clone().into());
    out.insert("ReceiptHandle".into(), m.receipt_handle.clone().into());
    out.insert("MD5OfBody".into(), m.md5_body.clone().into());
    out.insert("Body".into(), m.body.clone().into());
    let attrs = system_attributes(m, system);
    if !attrs.is_empty() {
        out.insert("Attributes".into(), Value::Object(attrs));
    }
    if !user.is_empty() {
        let stored: Option<Value> = m
            .attributes
            .as_deref()
            .and_then(|a| serde_json::from_str(a).ok());
        let parsed: MessageAttributes =
            message_attributes::parse(stored.as_ref(), false).unwrap_or_default();
        let chosen = message_attributes::select(&parsed, user);
        if !chosen.is_empty() {
            out.insert(
                "MD5OfMessageAttributes".into(),
                message_attributes::md5(&chosen).into(),
            );
            out.insert(
                "MessageAttributes".into(),
                message_attributes::to_json(&chosen),
            );
        }
    }
    Value::Object(out)
}

async fn receive_message(sqs: &Sqs, input: &Input) -> Result<Value, SqsError> {
    let name = queue_name(sqs, input)?.to_string();
    let max = range(
        input,
        "MaxNumberOfMessages",
        1,
        10,
        "Must be between 1 and 10, if provided.",
    )?
    .unwrap_or(1) as usize;
    let visibility = range(
        input,
        "VisibilityTimeout",
        0,
        43_200,
        "Must be between 0 and 43200, if provided.",
    )?;
    let wait = range(
        input,
        "WaitTimeSeconds",
        0,
        20,
        "Must be >= 0 and <= 20, if provided.",
    )?;
    let mut system = input.strings("AttributeNames")?;
    system.extend(input.strings("MessageSystemAttributeNames")?);
    let user = input.strings("MessageAttributeNames")?;
    let attempt = input.str("ReceiveRequestAttemptId")?.map(str::to_string);
    if let Some(a) = &attempt
        && (a.is_empty() || a.len() > 128)
    {
        return Err(SqsError::invalid(format!(
            "Value {a} for parameter ReceiveRequestAttemptId is invalid."
        )));
    }
    let started = tokio::time::Instant::now();
    let mut deadline = None;
    loop {
        let waiters = sqs.waiters(&name);
        let notified = waiters.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let (outcome, wait_default) =
            match receive_pass(sqs, &name, max, visibility, attempt.clone()).await {
                Ok(found) => found,
                Err(e) => {
                    // No waiter entry stays behind for a queue that does not exist.
                    sqs.forget(&name);
                    return Err(e);
                }
            };
        for dlq in &outcome.moved_to {
            sqs.wake(dlq);
        }
        let deadline = *deadline.get_or_insert_with(|| {
            started + Duration::from_secs(wait.unwrap_or(wait_default).max(0) as u64)
        });
        let now = tokio::time::Instant::now();
        if !outcome.messages.is_empty() || now >= deadline {
            let messages: Vec<Value> = outcome
                .messages
                .iter()
                .map(|m| received_json(m, &system, &user))
                .collect();
            if messages.is_empty() {
                return Ok(json!({}));
            }
            return Ok(json!({"Messages": messages}));
        }
        let mut until = deadline;
        if let Some(next) = outcome.next_visible_ms {
            let in_ms = (next - now_ms()).max(1) as u64;
            until = until.min(now + Duration::from_millis(in_ms));
        }
        tokio::select! {
            () = &mut notified => {}
            () = tokio::time::sleep_until(until) => {}
        }
    }
}

/// One look at the queue; also its default wait.
async fn receive_pass(
    sqs: &Sqs,
    name: &str,
    max: usize,
    visibility: Option<i64>,
    attempt: Option<String>,
) -> Result<(ReceiveOutcome, i64), SqsError> {
    let account = sqs.account().to_string();
    let queue = name.to_string();
    let source_arn = sqs.arn(name);
    sqs.run_relaxed(move |conn| {
        let q = queue_store::require(conn, &queue)?;
        let s = Settings::of(&q.attributes, &account);
        let req = message_store::ReceiveRequest {
            max,
            visibility: visibility.unwrap_or(s.visibility_timeout),
            attempt_id: attempt,
            source_arn,
        };
        let outcome = message_store::receive(conn, &q, &s, &req, now_ms())?;
        Ok((outcome, s.wait_seconds))
    })
    .await
}

async fn delete_message(sqs: &Sqs, input: &Input) -> Result<Value, SqsError> {
    let name = queue_name(sqs, input)?.to_string();
    let handle = input.required("ReceiptHandle")?.to_string();
    sqs.run_relaxed(move |conn| {
        let q = queue_store::require(conn, &name)?;
        message_store::delete(conn, &q, &handle)
    })
    .await?;
    Ok(json!({}))
}

async fn delete_message_batch(sqs: &Sqs, input: &Input) -> Result<Value, SqsError> {
    let name = queue_name(sqs, input)?.to_string();
    let entries = batch_entries(input, "DeleteMessageBatch")?;
    let mut items = Vec::new();
    for e in &entries {
        items.push((
            e.required("Id")?.to_string(),
            e.required("ReceiptHandle").map(str::to_string),
        ));
    }
    let results = sqs
        .run_relaxed(move |conn| {
            let q = queue_store::require(conn, &name)?;
            Ok(items
                .into_iter()
                .map(|(id, h)| {
                    let r = h.and_then(|h| message_store::delete(conn, &q, &h));
                    (id, r)
                })
                .collect::<Vec<_>>())
        })
        .await?;
    Ok(batch_json(results))
}

fn batch_json(results: Vec<(String, Result<(), SqsError>)>) -> Value {
    let mut successful = Vec::new();
    let mut failures = Vec::new();
    for (id, r) in results {
        match r {
            Ok(()) => successful.push(json!({"Id": id})),
            Err(e) => failures.push(failed(&id, &e)),
        }
    }
    json!({"Successful": successful, "Failed": failures})
}

fn visibility_of(input: &Input) -> Result<i64, SqsError> {
    let vt = input
        .int("VisibilityTimeout")?
        .ok_or_else(|| SqsError::missing("VisibilityTimeout"))?;
    if !(0..=43_200).contains(&vt) {
        return Err(SqsError::invalid(format!(
            "Value {vt} for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200, if provided."
        )));
    }
    Ok(vt)
}

async fn change_visibility(sqs: &Sqs, input: &Input) -> Result<Value, SqsError> {
    let name = queue_name(sqs, input)?.to_string();
    let handle = input.required("ReceiptHandle")?.to_string();
    let vt = visibility_of(input)?;
    let n = name.clone();
    sqs.run_relaxed(move |conn| {
        let q = queue_store::require(conn, &n)?;
        message_store::change_visibility(conn, &q, &handle, vt, now_ms())
    })
    .await?;
    if vt == 0 {
        sqs.wake(&name);
    }
    Ok(json!({}))
}

async fn change_visibility_batch(sqs: &Sqs, input: &Input) -> Result<Value, SqsError> {
    let name = queue_name(sqs, input)?.to_string();
    let entries = batch_entries(input, "ChangeMessageVisibilityBatch")?;
    let mut items = Vec::new();
    for e in &entries {
        let id = e.required("Id")?.to_string();
        let item = e
            .required("ReceiptHandle")
            .map(str::to_string)
            .and_then(|h| Ok((h, visibility_of(e)?)));
        items.push((id, item));
    }
    let n = name.clone();
    let results = sqs
        .run_relaxed(move |conn| {
            let q = queue_store::require(conn, &n)?;
            let now = now_ms();
            Ok(items
                .into_iter()
                .map(|(id, item)| {
                    let r = item.and_then(|(h, vt)| {
                        message_store::change_visibility(conn, &q, &h, vt, now)
                    });
                    (id, r)
                })
                .collect::<Vec<_>>())
        })
        .await?;
    sqs.wake(&name);
    Ok(batch_json(results))
}
