//! One batch, handled to the end as Lambda handles a stream batch: invoked until the
//! function succeeds, retried on failure, split in two on a function error
//! (`BisectBatchOnFunctionError`), resumed from the first failed record the function
//! reports (`ReportBatchItemFailures`), and, once retries or record age run out,
//! described to the on-failure destination and skipped. The shard is blocked
//! meanwhile: records of a shard are handled in order.
//!
//! Choices where Lambda's documentation leaves room:
//! - A split is not a retry (AWS: "splitting a batch does not count towards the retry
//!   quota"): each half carries the retry count and invoke count of the batch it came
//!   from and has its own from there on. Since a failed batch of two or more records
//!   is split rather than retried, retries in effect happen on single records.
//! - `InvokeOutcome::Failed` (throttled, function missing: the function never ran)
//!   does not count against `MaximumRetryAttempts` and never splits, as AWS documents
//!   for errors before invocation: such a batch waits until it succeeds or its oldest
//!   record is older than `MaximumRecordAgeInSeconds` (-1: forever).
//! - Record age is checked before every attempt, on the batch's oldest record; an
//!   expired batch goes whole to the destination as `RecordAgeExceeded`.
//! - A batch is checkpointed only once its on-failure record was accepted: a failing
//!   destination is retried, not skipped.

use serde_json::{Value, json};
use tokio::sync::watch;

use super::context::{Backoff, StreamCtx, is_stopped, sleep, stopped};
use super::event::{self, Entry};
use super::status;
use esb_lambda::source_invoke::InvokeOutcome;

/// How handling a batch ended.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Handled {
    /// Every record succeeded or went to the on-failure destination (checkpointed).
    Done,
    /// Told to stop first; what was not handled is not checkpointed.
    Stopped,
}

/// What the last invocation of a batch said, for the on-failure record.
#[derive(Debug, Clone, PartialEq, Eq)]
enum LastResponse {
    /// Nothing was invoked (the records were too old already).
    None,
    /// The function returned, but reported failed items or answered malformed.
    Returned,
    FunctionError,
    NotInvoked,
}

/// What one invocation means for the batch.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Success,
    /// The function reported failed items: the records before index `0` succeeded.
    FailedFrom(usize),
    /// The batch failed as a whole: a function error, or a response
    /// `ReportBatchItemFailures` cannot read.
    Failed {
        function_error: bool,
    },
    /// The function could not be invoked.
    NotInvoked(String),
}

/// A batch, or a part of one after a split.
struct Part {
    records: Vec<Entry>,
    retries: i64,
    invokes: u64,
    last: LastResponse,
}

/// Handles `records` (in order, all from `shard`), checkpointing as they are done.
pub(super) async fn handle(
    ctx: &StreamCtx,
    shard: &str,
    records: Vec<Entry>,
    stop: &mut watch::Receiver<bool>,
) -> Handled {
    let spec = &ctx.mapping.spec;
    let timing = &spec.timing;
    let mut parts = vec![Part {
        records,
        retries: 0,
        invokes: 0,
        last: LastResponse::None,
    }];
    while let Some(mut part) = parts.pop() {
        let mut backoff = Backoff::new(timing.retry_backoff, timing.retry_backoff_max);
        loop {
            if is_stopped(stop) {
                return Handled::Stopped;
            }
            if part.records.is_empty() {
                break;
            }
            if too_old(&part, spec.maximum_record_age_s) {
                if discard(ctx, shard, &part, "RecordAgeExceeded", stop).await == Handled::Stopped {
                    return Handled::Stopped;
                }
                break;
            }
            let payload = event::payload(&part.records);
            let outcome = tokio::select! {
                outcome = ctx.mapping.invoker.invoke(&spec.function, payload) => outcome,
                () = stopped(stop) => return Handled::Stopped,
            };
            part.invokes += 1;
            match judge(outcome, &part.records, spec.report_batch_item_failures) {
                Verdict::Success => {
                    succeeded(ctx, shard, &part.records).await;
                    report(ctx, "OK".into());
                    break;
                }
                Verdict::FailedFrom(first) => {
                    let (done, rest) = part.records.split_at(first);
                    succeeded(ctx, shard, done).await;
                    part.records = rest.to_vec();
                    part.last = LastResponse::Returned;
                    if exhausted(&part, spec.maximum_retry_attempts) {
                        if discard(ctx, shard, &part, "RetryAttemptsExhausted", stop).await
                            == Handled::Stopped
                        {
                            return Handled::Stopped;
                        }
                        break;
                    }
                    part.retries += 1;
                    report(
                        ctx,
                        format!(
                            "{} of {} records failed (retry {})",
                            part.records.len(),
                            part.records.len() + first,
                            part.retries
                        ),
                    );
                }
                Verdict::Failed { function_error } => {
                    part.last = if function_error {
                        LastResponse::FunctionError
                    } else {
                        LastResponse::Returned
                    };
                    let what = if function_error {
                        "FunctionError"
                    } else {
                        "unreadable batchItemFailures"
                    };
                    if spec.bisect_batch_on_function_error && part.records.len() > 1 {
                        let second = part.records.split_off(part.records.len() / 2);
                        report(
                            ctx,
                            format!(
                                "{what}: split into {} + {} records",
                                part.records.len(),
                                second.len()
                            ),
                        );
                        parts.push(Part {
                            records: second,
                            retries: part.retries,
                            invokes: part.invokes,
                            last: part.last.clone(),
                        });
                        parts.push(part);
                        break;
                    }
                    if exhausted(&part, spec.maximum_retry_attempts) {
                        if discard(ctx, shard, &part, "RetryAttemptsExhausted", stop).await
                            == Handled::Stopped
                        {
                            return Handled::Stopped;
                        }
                        break;
                    }
                    part.retries += 1;
                    report(ctx, format!("{what} (retry {})", part.retries));
                }
                Verdict::NotInvoked(why) => {
                    part.last = LastResponse::NotInvoked;
                    tracing::warn!(service = "dynamodb", function = %spec.function, event = %spec.event_name, "cannot invoke the function, retrying: {why}");
                    report(ctx, format!("not invoked: {why}"));
                }
            }
            if sleep(stop, backoff.next_wait()).await {
                return Handled::Stopped;
            }
        }
    }
    Handled::Done
}

/// What `outcome` means for `records`.
fn judge(outcome: InvokeOutcome, records: &[Entry], report_item_failures: bool) -> Verdict {
    match outcome {
        InvokeOutcome::Ok(_) if !report_item_failures => Verdict::Success,
        InvokeOutcome::Ok(body) => match first_failed(&body, records) {
            Some(None) => Verdict::Success,
            Some(Some(first)) => Verdict::FailedFrom(first),
            None => Verdict::Failed {
                function_error: false,
            },
        },
        InvokeOutcome::FunctionError(_) => Verdict::Failed {
            function_error: true,
        },
        InvokeOutcome::Failed(why) => Verdict::NotInvoked(why),
    }
}

/// Reads a `ReportBatchItemFailures` response: `Some(None)` for success (empty body,
/// null, no or an empty `batchItemFailures`), `Some(Some(i))` for the first failed
/// record's index (the lowest sequence number reported), `None` for a response Lambda
/// treats as the whole batch failing (not JSON, an identifier that is missing, empty
/// or not in the batch).
fn first_failed(body: &str, records: &[Entry]) -> Option<Option<usize>> {
    let body = body.trim();
    if body.is_empty() {
        return Some(None);
    }
    let failures = match serde_json::from_str::<Value>(body).ok()? {
        Value::Null => return Some(None),
        Value::Object(mut m) => match m.remove("batchItemFailures") {
            None | Some(Value::Null) => return Some(None),
            Some(Value::Array(a)) => a,
            Some(_) => return None,
        },
        _ => return None,
    };
    let mut first: Option<usize> = None;
    for failure in &failures {
        let id = failure
            .get("itemIdentifier")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())?;
        let index = records.iter().position(|r| r.sequence_number == id)?;
        first = Some(first.map_or(index, |f| f.min(index)));
    }
    Some(first)
}

fn exhausted(part: &Part, maximum_retry_attempts: i64) -> bool {
    maximum_retry_attempts >= 0 && part.retries >= maximum_retry_attempts
}

fn too_old(part: &Part, maximum_record_age_s: i64) -> bool {
    let Some(oldest) = part.records.first() else {
        return false;
    };
    maximum_record_age_s >= 0
        && (status::now_ms() / 1000).saturating_sub(u64::try_from(oldest.created_s).unwrap_or(0))
            > u64::try_from(maximum_record_age_s).unwrap_or(u64::MAX)
}

/// `records` were handled: checkpoint after the last one.
async fn succeeded(ctx: &StreamCtx, shard: &str, records: &[Entry]) {
    let Some(last) = records.last() else {
        return;
    };
    checkpoint(ctx, shard, &last.sequence_number).await;
    status::update(&ctx.mapping.status, |s| {
        s.records_processed += records.len() as u64;
    });
}

/// Moves the shard's checkpoint. A checkpoint that cannot be written is logged, not
/// fatal: the records are then read again after a restart (at least once).
pub(super) async fn checkpoint(ctx: &StreamCtx, shard: &str, sequence_number: &str) {
    if let Err(e) = ctx.checkpoints.advance(shard, sequence_number).await {
        tracing::error!(service = "dynamodb", event = %ctx.mapping.spec.event_name, "{e}");
        status::update(&ctx.mapping.status, |s| s.last_error = Some(e.to_string()));
    }
}

fn report(ctx: &StreamCtx, result: String) {
    status::update(&ctx.mapping.status, |s| s.last_batch_result = Some(result));
}

/// Gives up on `part`: its invocation record goes to the on-failure destination (or,
/// with none, a warning says the records were dropped), then the shard moves past it.
async fn discard(
    ctx: &StreamCtx,
    shard: &str,
    part: &Part,
    condition: &str,
    stop: &mut watch::Receiver<bool>,
) -> Handled {
    let spec = &ctx.mapping.spec;
    let Some(last) = part.records.last() else {
        return Handled::Done;
    };
    let record = invocation_record(ctx, shard, part, condition);
    match &spec.on_failure {
        Some(destination) => {
            let timing = &spec.timing;
            let mut backoff = Backoff::new(timing.retry_backoff, timing.retry_backoff_max);
            loop {
                let sent = tokio::select! {
                    sent = ctx.mapping.failures.send(destination, record.clone()) => sent,
                    () = stopped(stop) => return Handled::Stopped,
                };
                match sent {
                    Ok(()) => break,
                    Err(e) => {
                        tracing::warn!(service = "dynamodb", event = %spec.event_name, %destination, "cannot send a discarded batch's record to its destination, retrying: {e}");
                        if sleep(stop, backoff.next_wait()).await {
                            return Handled::Stopped;
                        }
                    }
                }
            }
            tracing::warn!(service = "dynamodb", function = %spec.function, event = %spec.event_name, %destination, records = part.records.len(), "{condition}: batch sent to the on-failure destination");
            report(
                ctx,
                format!(
                    "{condition}: {} records sent to {destination}",
                    part.records.len()
                ),
            );
        }
        None => {
            tracing::warn!(service = "dynamodb", function = %spec.function, event = %spec.event_name, records = part.records.len(), first = %part.records.first().map(|r| r.sequence_number.as_str()).unwrap_or(""), last = %last.sequence_number, "{condition}: batch dropped (no on-failure destination)");
            report(
                ctx,
                format!("{condition}: {} records dropped", part.records.len()),
            );
        }
    }
    checkpoint(ctx, shard, &last.sequence_number).await;
    Handled::Done
}

/// The record Lambda writes to a stream mapping's on-failure destination: where the
/// discarded records are in the stream (not the records themselves), why, and what
/// the last invocation answered.
fn invocation_record(ctx: &StreamCtx, shard: &str, part: &Part, condition: &str) -> Value {
    let first = part.records.first();
    let last = part.records.last();
    let seq = |e: Option<&Entry>| e.map(|e| e.sequence_number.clone()).unwrap_or_default();
    let arrival = |e: Option<&Entry>| iso_seconds(e.map_or(0, |e| e.created_s));
    let response = match part.last {
        LastResponse::FunctionError => json!({
            "statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"
        }),
        LastResponse::Returned => json!({ "statusCode": 200, "executedVersion": "$LATEST" }),
        LastResponse::NotInvoked => json!({ "statusCode": 500, "executedVersion": "$LATEST" }),
        LastResponse::None => json!({ "statusCode": 0, "executedVersion": "$LATEST" }),
    };
    json!({
        "requestContext": {
            "requestId": uuid::Uuid::new_v4().to_string(),
            "functionArn": ctx.function_arn,
            "condition": condition,
            "approximateInvokeCount": part.invokes,
        },
        "responseContext": response,
        "version": "1.0",
        "timestamp": iso_millis_now(),
        "DDBStreamBatchInfo": {
            "shardId": shard,
            "startSequenceNumber": seq(first),
            "endSequenceNumber": seq(last),
            "approximateArrivalOfFirstRecord": arrival(first),
            "approximateArrivalOfLastRecord": arrival(last),
            "batchSize": part.records.len(),
            "streamArn": ctx.stream_arn,
        }
    })
}

/// `2025-06-05T18:21:49Z`, as the record's arrival times are written.
fn iso_seconds(secs: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_default()
}

/// `2025-06-05T18:22:26.479Z`, as the record's own timestamp is written.
fn iso_millis_now() -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::now_utc()
        .format(format)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: &str) -> Entry {
        Entry {
            json: "{}".into(),
            sequence_number: seq.into(),
            created_s: 0,
            matched: true,
        }
    }

    #[test]
    fn item_failures_are_read_as_lambda_reads_them() {
        let records = [entry("1"), entry("2"), entry("3")];
        for success in [
            "",
            "  ",
            "null",
            "{}",
            r#"{"batchItemFailures":[]}"#,
            r#"{"batchItemFailures":null}"#,
        ] {
            assert_eq!(first_failed(success, &records), Some(None), "{success}");
        }
        assert_eq!(
            first_failed(
                r#"{"batchItemFailures":[{"itemIdentifier":"3"},{"itemIdentifier":"2"}]}"#,
                &records
            ),
            Some(Some(1))
        );
        for failure in [
            "not json",
            r#""ok""#,
            r#"{"batchItemFailures":{}}"#,
            r#"{"batchItemFailures":[{"itemIdentifier":"9"}]}"#,
            r#"{"batchItemFailures":[{"itemIdentifier":""}]}"#,
            r#"{"batchItemFailures":[{"itemIdentifier":null}]}"#,
            r#"{"batchItemFailures":[{"id":"2"}]}"#,
        ] {
            assert_eq!(first_failed(failure, &records), None, "{failure}");
        }
    }

    #[test]
    fn outcomes_are_judged() {
        let records = [entry("1"), entry("2")];
        assert_eq!(
            judge(InvokeOutcome::Ok("junk".into()), &records, false),
            Verdict::Success
        );
        assert_eq!(
            judge(InvokeOutcome::Ok("junk".into()), &records, true),
            Verdict::Failed {
                function_error: false
            }
        );
        assert_eq!(
            judge(InvokeOutcome::FunctionError("{}".into()), &records, true),
            Verdict::Failed {
                function_error: true
            }
        );
        assert_eq!(
            judge(InvokeOutcome::Failed("throttled".into()), &records, false),
            Verdict::NotInvoked("throttled".into())
        );
    }

    #[test]
    fn timestamps_are_written_as_lambda_writes_them() {
        assert_eq!(iso_seconds(1_749_147_709), "2025-06-05T18:21:49Z");
        let now = iso_millis_now();
        assert_eq!(now.len(), "2025-06-05T18:22:26.479Z".len(), "{now}");
    }

    #[test]
    fn retries_and_age_run_out() {
        let mut part = Part {
            records: vec![entry("1")],
            retries: 2,
            invokes: 3,
            last: LastResponse::None,
        };
        assert!(exhausted(&part, 2));
        assert!(!exhausted(&part, 3));
        assert!(!exhausted(&part, -1));
        assert!(too_old(&part, 60), "a record from 1970 is old");
        assert!(!too_old(&part, -1));
        part.records[0].created_s = i64::try_from(status::now_ms() / 1000).unwrap();
        assert!(!too_old(&part, 60));
    }
}
