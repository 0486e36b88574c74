//! Delivery of queued asynchronous events, as Lambda delivers them: the event runs;
//! a function error is retried (`MaximumRetryAttempts`, default 2) after a back-off
//! that doubles; throttles and an unreachable agent are retried without counting; an
//! event older than `MaximumEventAgeInSeconds` stops. The outcome goes to the
//! function's `OnSuccess`/`OnFailure` destination as Lambda's destination record, and
//! a failure with no destination to the dead-letter folder. The queue file goes only
//! once that is done, so a crash at any point loses nothing.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

use crate::async_store::QueuedEvent;
use crate::call::{call, worker_bound};
use crate::gateway::Gateway;
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
        finish_failed(gw, &event, record);
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
            finish_failed(gw, &event, record);
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
                        enqueue(gw, target, rec, &event);
                    }
                    gw.async_store.remove(&event.id);
                    return;
                }
                if event.attempts > config.max_retries {
                    tracing::warn!(event_id = %event.id, function = %event.function, attempts = event.attempts, "asynchronous invocation failed");
                    let record = record(gw, &event, "RetriesExhausted", Some((answer, true)));
                    finish_failed(gw, &event, record);
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

/// The failure goes to `OnFailure`, else to the dead-letter folder.
fn finish_failed(gw: &Arc<Gateway>, event: &QueuedEvent, record: Value) {
    match gw.async_config(&event.function).on_failure {
        Some(target) => {
            enqueue(gw, &target, record, event);
            gw.async_store.remove(&event.id);
        }
        None => match gw.async_store.dead_letter(&event.id, &record) {
            Ok(path) => {
                tracing::warn!(event_id = %event.id, "failed event kept in {}", path.display())
            }
            Err(e) => {
                tracing::error!(event_id = %event.id, "cannot keep the failed event (it stays queued): {e}")
            }
        },
    }
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
