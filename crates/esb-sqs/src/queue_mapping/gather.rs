//! Gathering one batch as Lambda does: long polls until the queue has something, then
//! (with a batching window) more receives until `BatchSize` messages, the window's end,
//! or 6 MB of payload, whichever comes first. Receives are made one after the other by
//! one poller, so a FIFO queue's order is kept within the batch.

use std::sync::atomic::Ordering;
use std::time::Instant;

use tokio::sync::watch;

use super::client::CallError;
use super::context::{Ctx, or_stop};
use super::event::{self, Message};
use super::queue_api::{self, MAX_PER_CALL, MAX_WAIT_S};
use super::status;

/// What one gathering ended with.
pub(super) enum Gathered {
    /// Messages for one invocation (filtered ones included, to be deleted), and when
    /// the first of them were received (their visibility timeout runs from there).
    Batch(Vec<Message>, Instant),
    /// A long poll came back empty: the queue is quiet.
    Idle,
    /// Told to stop (what was received is left to its visibility timeout).
    Stopped,
}

/// Gathers the next batch. `carry` holds messages received earlier that did not fit
/// in the last payload: they start this batch, in order.
pub(super) async fn next_batch(
    ctx: &Ctx,
    carry: &mut Vec<Message>,
    stop: &mut watch::Receiver<bool>,
) -> Result<Gathered, CallError> {
    let spec = &ctx.spec;
    let mut batch: Vec<Message> = std::mem::take(carry);
    let mut bytes = event::payload_bytes(&batch);
    let mut received_at = Instant::now();
    let mut window_end: Option<Instant> =
        (!batch.is_empty()).then(|| received_at + spec.maximum_batching_window);
    while batch.len() < spec.batch_size && carry.is_empty() {
        let wait_s = match window_end {
            None => MAX_WAIT_S,
            Some(_) if spec.maximum_batching_window.is_zero() => break,
            Some(end) => {
                let left = end.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                // Whole seconds, rounded up: a long poll returns as soon as a message
                // is there, so the window ends at most a fraction of a second late
                // (rounded down, a one-second window would gather nothing).
                u64::try_from(left.as_millis().div_ceil(1000))
                    .unwrap_or(MAX_WAIT_S)
                    .min(MAX_WAIT_S)
            }
        };
        let max = (spec.batch_size - batch.len()).min(MAX_PER_CALL);
        let Some(received) = or_stop(
            stop,
            queue_api::receive(&ctx.client, &ctx.queue_url, max, wait_s),
        )
        .await
        else {
            return Ok(Gathered::Stopped);
        };
        let received = match received {
            Ok(received) => received,
            // What was gathered is invoked; the error shows at the next receive.
            Err(e) if !batch.is_empty() => {
                tracing::warn!(service = "sqs", event = %spec.event_name, "ReceiveMessage failed while gathering a batch, invoking with what was gathered: {e}");
                break;
            }
            Err(e) => return Err(e),
        };
        status::update(&ctx.status, |s| {
            s.last_poll_ms = Some(status::now_ms());
            s.last_error = None;
        });
        if received.len() >= max && max == MAX_PER_CALL.min(spec.batch_size) {
            ctx.busy.store(true, Ordering::Release);
        }
        if received.is_empty() {
            if window_end.is_none() {
                return Ok(Gathered::Idle);
            }
            continue;
        }
        if window_end.is_none() {
            received_at = Instant::now();
            window_end = Some(received_at + spec.maximum_batching_window);
        }
        for raw in &received {
            let message = match Message::new(raw, &spec.queue_arn, &ctx.region, &ctx.filters) {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(service = "sqs", event = %spec.event_name, "skipping a message the queue returned: {e}");
                    continue;
                }
            };
            if carry.is_empty() && event::fits(bytes, &message) {
                bytes += message.json.len() + 1;
                batch.push(message);
            } else {
                carry.push(message);
            }
        }
    }
    if batch.is_empty() {
        // Every message received was unreadable, or over 6 MB on its own.
        return Ok(if carry.is_empty() {
            Gathered::Idle
        } else {
            Gathered::Batch(std::mem::take(carry), received_at)
        });
    }
    Ok(Gathered::Batch(batch, received_at))
}
