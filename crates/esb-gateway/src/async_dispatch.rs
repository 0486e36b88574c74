//! Delivery of queued asynchronous events, as Lambda delivers them: the event runs;
//! a function error is retried (`MaximumRetryAttempts`, default 2) after a back-off
//! that doubles; throttles and an unreachable agent are retried without counting; an
//! event older than `MaximumEventAgeInSeconds` stops. The outcome goes to the
//! function's `OnSuccess`/`OnFailure` destination (a function or an SQS queue) as
//! Lambda's destination record; a failed event's own payload also goes to its
//! `DeadLetterQueue`; a failure that reaches neither is kept in the dead-letter folder.
//! The queue file goes only once that is done, so a crash at any point loses nothing.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

use crate::async_config::Destination;
use crate::async_store::QueuedEvent;
use crate::call::{call, worker_bound};
use crate::gateway::Gateway;
use crate::queue_sink::QueueMessage;
use esb_lambda::headers::{FUNCTION_ERROR, TRACE_ID};

/// Re-dispatches the asynchronous events a previous gateway accepted and did not
/// finish (they were on disk all along).
pub fn resume_queued(gw: &Arc<Gateway>) {
    let queued = gw.async_store.load();
    if !queued.is_empty() {
        tracing::info!(
            events = queued.len(),
            "resuming queued asynchronous invocations"
        );
    }
    for event in queued {
        spawn(Arc::clone(gw), event);
    }
}

/// Runs `event` in the background until it is delivered or failed.
pub fn spawn(gw: Arc<Gateway>, event: QueuedEvent) {
    gw.events.accepted(&event.id, &event.function);
    tokio::spawn(async move {
        let id = event.id.clone();
        deliver(&gw, event).await;
        gw.events.finished(&id);
    });
}

async fn deliver(gw: &Arc<Gateway>, mut event: QueuedEvent) {
    let Some(pool) = gw.plan().pools.get(&event.function).cloned() else {
        let record = record(gw, &event, "FunctionNotFound", None);
        finish_failed(gw, &event, record).await;
        return;
    };
    let config = gw.async_config(&event.function);
    let mut headers = HeaderMap::new();
    if let Some(v) = event
        .trace_id
        .as_deref()
        .and_then(|t| HeaderValue::from_str(t).ok())
    {
        headers.insert(TRACE_ID, v);
    }
    let mut delay = gw.async_retry_delay;
    loop {
        let age_ms = crate::clock::now_ms().saturating_sub(event.accepted_at_ms);
        if u128::try_from(age_ms).unwrap_or(0) > config.max_age.as_millis() {
            let record = record(gw, &event, "EventAgeExceeded", None);
            finish_failed(gw, &event, record).await;
            return;
        }
        let payload = bytes::Bytes::from(event.payload.clone());
        match call(gw, &pool, payload, &headers, worker_bound(&pool)).await {
            Ok(answer) => {
                let function_error = answer.headers.contains_key(FUNCTION_ERROR);
                let answer: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
                event.attempts += 1;
                if !function_error {
                    tracing::info!(event_id = %event.id, function = %event.function, "asynchronous invocation done");
                    if let Some(target) = &config.on_success {
                        let rec = record(gw, &event, "Success", Some((answer, false)));
                        if !to_destination(gw, target, rec.clone(), &event).await {
                            keep_failed(gw, &event, &rec);
                            return;
                        }
                    }
                    gw.async_store.remove(&event.id);
                    return;
                }
                if event.attempts > config.max_retries {
                    tracing::warn!(event_id = %event.id, function = %event.function, attempts = event.attempts, "asynchronous invocation failed");
                    let record = record(gw, &event, "RetriesExhausted", Some((answer, true)));
                    finish_failed(gw, &event, record).await;
                    return;
                }
                if let Err(e) = gw.async_store.save(&event) {
                    tracing::error!(event_id = %event.id, "cannot record the attempt: {e}");
                }
                tracing::info!(event_id = %event.id, function = %event.function, attempt = event.attempts, "function error; retrying after {delay:?}");
            }
            Err(e) => {
                tracing::info!(event_id = %event.id, function = %event.function, "not run yet ({e}); retrying after {delay:?}");
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(300));
    }
}

/// Lambda's destination record.
fn record(
    gw: &Gateway,
    event: &QueuedEvent,
    condition: &str,
    answer: Option<(Value, bool)>,
) -> Value {
    let request_payload: Value = serde_json::from_str(&event.payload).unwrap_or(Value::Null);
    let mut rec = json!({
        "version": "1.0",
        "timestamp": time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        "requestContext": {
            "requestId": event.id,
            "functionArn": gw.function_arn(&event.function, Some("$LATEST")),
            "condition": condition,
            "approximateInvokeCount": event.attempts,
        },
        "requestPayload": request_payload,
    });
    if let (Some((payload, error)), Some(obj)) = (answer, rec.as_object_mut()) {
        let mut ctx = json!({"statusCode": 200, "executedVersion": "$LATEST"});
        if error {
            ctx["functionError"] = "Unhandled".into();
        }
        obj.insert("responseContext".into(), ctx);
        obj.insert("responsePayload".into(), payload);
    }
    rec
}

/// The failed event's payload goes to its `DeadLetterQueue` and its record to
/// `OnFailure`; what reaches neither (or when there is neither) is kept in the
/// dead-letter folder.
async fn finish_failed(gw: &Arc<Gateway>, event: &QueuedEvent, record: Value) {
    let config = gw.async_config(&event.function);
    let mut delivered = config.dead_letter_queue.is_some() || config.on_failure.is_some();
    if let Some(queue) = &config.dead_letter_queue {
        let message = dead_letter_message(event, &record);
        delivered &= to_queue(gw, queue, message, event).await;
    }
    if let Some(target) = &config.on_failure {
        delivered &= to_destination(gw, target, record.clone(), event).await;
    }
    if delivered {
        gw.async_store.remove(&event.id);
    } else {
        keep_failed(gw, event, &record);
    }
}

/// Keeps a failed event's record in the dead-letter folder (its queue file goes).
fn keep_failed(gw: &Gateway, event: &QueuedEvent, record: &Value) {
    match gw.async_store.dead_letter(&event.id, record) {
        Ok(path) => {
            tracing::warn!(event_id = %event.id, "failed event kept in {}", path.display())
        }
        Err(e) => {
            tracing::error!(event_id = %event.id, "cannot keep the failed event (it stays queued): {e}")
        }
    }
}

/// What Lambda sends a dead-letter queue: the event's own payload, with the request
/// id, error code and (at most 1 KB of the) error message as message attributes.
fn dead_letter_message(event: &QueuedEvent, record: &Value) -> QueueMessage {
    let condition = record["requestContext"]["condition"].as_str().unwrap_or("");
    let message = match record["responsePayload"]["errorMessage"].as_str() {
        Some(m) => m.to_string(),
        None => condition.to_string(),
    };
    let mut message: String = message.chars().take(1024).collect();
    if message.is_empty() {
        message = "Unhandled".into();
    }
    let code = if record.get("responseContext").is_some() {
        "200"
    } else {
        "500"
    };
    QueueMessage {
        body: event.payload.clone(),
        attributes: vec![
            ("RequestID".into(), "String".into(), event.id.clone()),
            ("ErrorCode".into(), "Number".into(), code.into()),
            ("ErrorMessage".into(), "String".into(), message),
        ],
    }
}

/// Hands a destination record to `target`; false when it could not be delivered.
async fn to_destination(
    gw: &Arc<Gateway>,
    target: &Destination,
    record: Value,
    event: &QueuedEvent,
) -> bool {
    match target {
        Destination::Function(name) => {
            enqueue(gw, name, record, event);
            true
        }
        Destination::Queue(arn) => {
            let message = QueueMessage {
                body: record.to_string(),
                attributes: Vec::new(),
            };
            to_queue(gw, arn, message, event).await
        }
    }
}

/// Sends `message` to the queue `arn`, retrying with back-off for about ten minutes
/// (the queue may be briefly unreachable); false when it never took it.
async fn to_queue(
    gw: &Arc<Gateway>,
    arn: &str,
    message: QueueMessage,
    event: &QueuedEvent,
) -> bool {
    const ATTEMPTS: u32 = 12;
    let mut delay = gw.async_retry_delay.max(Duration::from_millis(100));
    for attempt in 1..=ATTEMPTS {
        let outcome = match gw.queue_sink() {
            Some(sink) => sink.send(arn, message.clone()).await,
            None => Err("the box's SQS service is off (--sqs-port off)".to_string()),
        };
        match outcome {
            Ok(()) => return true,
            Err(e) if attempt == ATTEMPTS => {
                tracing::error!(event_id = %event.id, queue = %arn, "cannot send to the queue, giving up: {e}");
            }
            Err(e) => {
                tracing::warn!(event_id = %event.id, queue = %arn, "cannot send to the queue yet ({e}); retrying after {delay:?}");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(60));
            }
        }
    }
    false
}

/// A destination invocation: itself a durable asynchronous event.
fn enqueue(gw: &Arc<Gateway>, target: &str, record: Value, source: &QueuedEvent) {
    let event = QueuedEvent {
        id: uuid::Uuid::new_v4().to_string(),
        function: target.to_string(),
        payload: record.to_string(),
        trace_id: source.trace_id.clone(),
        accepted_at_ms: crate::clock::now_ms(),
        attempts: 0,
    };
    match gw.async_store.save(&event) {
        Ok(()) => spawn(Arc::clone(gw), event),
        Err(e) => {
            tracing::error!(event_id = %source.id, "cannot queue the destination invocation to {target}: {e}")
        }
    }
}

/// Queues an asynchronous invocation for an event source inside the box (S3 bucket
/// notifications): on disk before this returns, then delivered like an `Event` invoke
/// (retries, destinations). `function` is a name or ARN; the event id is returned.
pub fn accept_event(
    gw: &Arc<Gateway>,
    function: &str,
    payload: String,
) -> Result<String, esb_lambda::InvokeApiError> {
    let (name, _qualifier) = crate::function_ref::parse(function, gw)?;
    if !gw.plan().pools.contains_key(&name) {
        return Err(esb_lambda::InvokeApiError::new(
            http::StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            format!("Function not found: {}", gw.function_arn(&name, None)),
        ));
    }
    let event = QueuedEvent {
        id: uuid::Uuid::new_v4().to_string(),
        function: name,
        payload,
        trace_id: None,
        accepted_at_ms: crate::clock::now_ms(),
        attempts: 0,
    };
    gw.async_store.save(&event).map_err(|e| {
        esb_lambda::InvokeApiError::new(
            http::StatusCode::INTERNAL_SERVER_ERROR,
            "ServiceException",
            format!("The event could not be queued: {e}"),
        )
    })?;
    let id = event.id.clone();
    spawn(Arc::clone(gw), event);
    Ok(id)
}
