//! One batch, handled to the end as Lambda handles an SQS batch:
//! - messages no filter matches are deleted without invoking;
//! - the function is invoked synchronously with the rest;
//! - success deletes them all; a function error (or a timeout) leaves them all, to be
//!   delivered again after the queue's visibility timeout (and moved to the queue's
//!   dead-letter queue by its redrive policy after `maxReceiveCount` receives);
//! - with `ReportBatchItemFailures`, the messages the response names are left and the
//!   others deleted; a response that cannot be read fails the whole batch;
//! - a function that could not be invoked (throttled, no worker: it never ran) is
//!   invoked again with backoff while the messages are still invisible, and the
//!   messages are then made visible again at once (AWS: Lambda retries throttled
//!   messages until the visibility timeout, then returns them to the queue).

use std::collections::HashSet;
use std::time::Instant;

use serde_json::Value;
use tokio::sync::watch;

use esb_lambda::source_invoke::InvokeOutcome;

use super::context::{Ctx, or_stop, sleep};
use super::event::{self, Message};
use super::queue_api;
use super::status;

/// How a batch ended, for the poller's scaling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Handled {
    /// The function took the batch (some items may have failed).
    Done,
    /// The function failed the whole batch, or could not be invoked: Lambda backs off.
    Failed,
    Stopped,
}

/// What one invocation means for the batch.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    Success,
    /// The function reported these messages (by index in the batch) as failed.
    ItemsFailed(Vec<usize>),
    /// The batch failed as a whole: a function error, or a response
    /// `ReportBatchItemFailures` cannot read.
    Failed {
        function_error: bool,
    },
    /// The function could not be invoked.
    NotRun(String),
}

/// Handles `messages` to the end.
pub(super) async fn handle(
    ctx: &Ctx,
    messages: Vec<Message>,
    received_at: Instant,
    stop: &mut watch::Receiver<bool>,
) -> Handled {
    let spec = &ctx.spec;
    let (matched, unmatched): (Vec<Message>, Vec<Message>) =
        messages.into_iter().partition(|m| m.matched);
    if !unmatched.is_empty() {
        delete(ctx, &unmatched).await;
        status::update(&ctx.status, |s| s.filtered += unmatched.len() as u64);
    }
    if matched.is_empty() {
        return Handled::Done;
    }
    let payload = event::payload(&matched);
    let mut backoff = spec.timing.not_run_backoff;
    let verdict = loop {
        let Some(outcome) =
            or_stop(stop, ctx.invoker.invoke(&spec.function, payload.clone())).await
        else {
            return Handled::Stopped;
        };
        match judge(outcome, &matched, spec.report_batch_item_failures) {
            Verdict::NotRun(why) => {
                tracing::warn!(service = "sqs", function = %spec.function, event = %spec.event_name, "cannot invoke the function, retrying: {why}");
                report(ctx, format!("not invoked: {why}"));
                // Try again only while the messages are surely still invisible.
                let visible_at = received_at + ctx.queue.visibility_timeout;
                if Instant::now() + backoff * 2 >= visible_at {
                    release(ctx, &matched).await;
                    return Handled::Failed;
                }
                if sleep(stop, backoff).await {
                    return Handled::Stopped;
                }
                backoff = (backoff * 2).min(spec.timing.not_run_backoff_max);
            }
            verdict => {
                status::update(&ctx.status, |s| s.batches += 1);
                break verdict;
            }
        }
    };
    match verdict {
        Verdict::Success => {
            delete(ctx, &matched).await;
            status::update(&ctx.status, |s| {
                s.messages += matched.len() as u64;
                s.last_batch_result = Some("OK".into());
            });
            Handled::Done
        }
        Verdict::ItemsFailed(failed) => {
            let failed: HashSet<usize> = failed.into_iter().collect();
            let done: Vec<Message> = matched
                .iter()
                .enumerate()
                .filter(|(i, _)| !failed.contains(i))
                .map(|(_, m)| m.clone())
                .collect();
            delete(ctx, &done).await;
            status::update(&ctx.status, |s| {
                s.messages += done.len() as u64;
                s.failures += failed.len() as u64;
                s.last_batch_result = Some(format!(
                    "{} of {} messages failed",
                    failed.len(),
                    matched.len()
                ));
            });
            Handled::Done
        }
        Verdict::Failed { function_error } => {
            let what = if function_error {
                "FunctionError"
            } else {
                "unreadable batchItemFailures"
            };
            tracing::debug!(service = "sqs", function = %spec.function, event = %spec.event_name, messages = matched.len(), "{what}: the batch stays on the queue");
            status::update(&ctx.status, |s| {
                s.failures += matched.len() as u64;
                s.last_batch_result = Some(format!("{what}: {} messages", matched.len()));
            });
            if spec.report_batch_item_failures {
                // AWS: with ReportBatchItemFailures, Lambda does not scale down on
                // failed invocations.
                Handled::Done
            } else {
                Handled::Failed
            }
        }
        Verdict::NotRun(_) => Handled::Failed,
    }
}

/// What `outcome` means for `messages`.
pub(super) fn judge(
    outcome: InvokeOutcome,
    messages: &[Message],
    report_item_failures: bool,
) -> Verdict {
    match outcome {
        InvokeOutcome::Ok(_) if !report_item_failures => Verdict::Success,
        InvokeOutcome::Ok(body) => match failed_items(&body, messages) {
            Some(failed) if failed.is_empty() => Verdict::Success,
            Some(failed) => Verdict::ItemsFailed(failed),
            None => Verdict::Failed {
                function_error: false,
            },
        },
        InvokeOutcome::FunctionError(_) => Verdict::Failed {
            function_error: true,
        },
        InvokeOutcome::Failed(why) => Verdict::NotRun(why),
    }
}

/// Reads a `ReportBatchItemFailures` response: the indexes of the failed messages
/// (none for an empty body, null, no or an empty or null `batchItemFailures`), or
/// `None` for a response AWS treats as the whole batch failing (not JSON, an
/// `itemIdentifier` that is missing, null, empty or not a message of the batch).
fn failed_items(body: &str, messages: &[Message]) -> Option<Vec<usize>> {
    let body = body.trim();
    if body.is_empty() {
        return Some(Vec::new());
    }
    let failures = match serde_json::from_str::<Value>(body).ok()? {
        Value::Null => return Some(Vec::new()),
        Value::Object(mut m) => match m.remove("batchItemFailures") {
            None | Some(Value::Null) => return Some(Vec::new()),
            Some(Value::Array(a)) => a,
            Some(_) => return None,
        },
        _ => return None,
    };
    let mut failed = Vec::new();
    for failure in &failures {
        let id = failure
            .get("itemIdentifier")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())?;
        let index = messages.iter().position(|m| m.id == id)?;
        if !failed.contains(&index) {
            failed.push(index);
        }
    }
    Some(failed)
}

fn report(ctx: &Ctx, result: String) {
    status::update(&ctx.status, |s| s.last_batch_result = Some(result));
}

/// Deletes `messages` from the queue. A receipt handle the queue no longer takes (the
/// visibility timeout passed: the message was delivered again) is logged; the message
/// is then handled again (at least once).
async fn delete(ctx: &Ctx, messages: &[Message]) {
    if messages.is_empty() {
        return;
    }
    let handles: Vec<&str> = messages.iter().map(|m| m.receipt_handle.as_str()).collect();
    match queue_api::delete(&ctx.client, &ctx.queue_url, &handles).await {
        Ok(0) => {}
        Ok(n) => {
            tracing::warn!(service = "sqs", event = %ctx.spec.event_name, "{n} handled messages could not be deleted (their visibility timeout passed): they will be delivered again");
        }
        Err(e) => {
            tracing::warn!(service = "sqs", event = %ctx.spec.event_name, "DeleteMessageBatch failed: {e}; the messages will be delivered again");
            status::update(&ctx.status, |s| {
                s.last_error = Some(format!("DeleteMessageBatch: {e}"))
            });
        }
    }
}

/// Makes `messages` visible again at once, for the next poll.
async fn release(ctx: &Ctx, messages: &[Message]) {
    let handles: Vec<&str> = messages.iter().map(|m| m.receipt_handle.as_str()).collect();
    if let Err(e) = queue_api::change_visibility(
        &ctx.client,
        &ctx.queue_url,
        &handles,
        std::time::Duration::ZERO,
    )
    .await
    {
        tracing::warn!(service = "sqs", event = %ctx.spec.event_name, "ChangeMessageVisibilityBatch failed: {e}; the messages return after their visibility timeout");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(ids: &[&str]) -> Vec<Message> {
        ids.iter()
            .map(|id| Message {
                id: (*id).to_string(),
                receipt_handle: format!("rh-{id}"),
                json: "{}".into(),
                matched: true,
            })
            .collect()
    }

    fn judged(body: &str) -> Verdict {
        judge(
            InvokeOutcome::Ok(body.into()),
            &messages(&["a", "b", "c"]),
            true,
        )
    }

    #[test]
    fn responses_that_mean_success() {
        for body in [
            "",
            "null",
            "{}",
            r#"{"batchItemFailures":[]}"#,
            r#"{"batchItemFailures":null}"#,
        ] {
            assert_eq!(judged(body), Verdict::Success, "{body}");
        }
        // Without ReportBatchItemFailures the response is not read.
        assert_eq!(
            judge(
                InvokeOutcome::Ok("garbage".into()),
                &messages(&["a"]),
                false
            ),
            Verdict::Success
        );
    }

    #[test]
    fn named_items_fail_alone() {
        assert_eq!(
            judged(
                r#"{"batchItemFailures":[{"itemIdentifier":"c"},{"itemIdentifier":"a"},{"itemIdentifier":"c"}]}"#
            ),
            Verdict::ItemsFailed(vec![2, 0])
        );
    }

    #[test]
    fn unreadable_responses_fail_the_whole_batch() {
        for body in [
            "not json",
            "\"ok\"",
            r#"{"batchItemFailures":"a"}"#,
            r#"{"batchItemFailures":[{"itemIdentifier":""}]}"#,
            r#"{"batchItemFailures":[{"itemIdentifier":null}]}"#,
            r#"{"batchItemFailures":[{"itemId":"a"}]}"#,
            r#"{"batchItemFailures":[{"itemIdentifier":"zzz"}]}"#,
        ] {
            assert_eq!(
                judged(body),
                Verdict::Failed {
                    function_error: false
                },
                "{body}"
            );
        }
    }

    #[test]
    fn errors_and_throttles() {
        assert_eq!(
            judge(
                InvokeOutcome::FunctionError("{}".into()),
                &messages(&["a"]),
                true
            ),
            Verdict::Failed {
                function_error: true
            }
        );
        assert_eq!(
            judge(
                InvokeOutcome::Failed("TooManyRequestsException".into()),
                &messages(&["a"]),
                true
            ),
            Verdict::NotRun("TooManyRequestsException".into())
        );
    }
}
