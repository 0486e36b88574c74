//! Handing one run to the target: retried on errors as EventBridge retries (with
//! exponential back-off, within `MaximumRetryAttempts` and
//! `MaximumEventAgeInSeconds`), then sent to the dead-letter queue, or dropped with a
//! warning when there is none (EventBridge drops it too). Retries live in memory: a
//! run being retried when the box stops is not retried after it restarts.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use esb_template::ScheduleRetryPolicy;

use crate::clock::Clock;
use crate::target::{DeliveryFailure, ScheduleTarget};

/// The first retry's delay; each next one doubles, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// One run to deliver.
pub struct Delivery {
    pub target: Arc<dyn ScheduleTarget>,
    pub clock: Arc<dyn Clock>,
    pub function: String,
    pub payload: String,
    pub scheduled: DateTime<Utc>,
    pub retry_policy: ScheduleRetryPolicy,
    /// The dead-letter queue's ARN.
    pub dead_letter: Option<String>,
    /// The rule's or schedule's ARN and the function's, for the dead letter.
    pub source_arn: String,
    pub target_arn: String,
}

/// Fires the run, retrying until it is accepted or the policy gives up.
pub async fn deliver(d: Delivery) {
    let max_age = chrono::Duration::seconds(i64::from(d.retry_policy.maximum_event_age_s));
    let mut retries = 0u32;
    let mut backoff = FIRST_BACKOFF;
    loop {
        let error = match d.target.fire(&d.function, d.payload.clone()).await {
            Ok(()) => return,
            Err(e) => e,
        };
        let age =
            d.clock.now() - d.scheduled + chrono::Duration::from_std(backoff).unwrap_or(max_age);
        if retries >= d.retry_policy.maximum_retry_attempts || age > max_age {
            give_up(&d, error, retries).await;
            return;
        }
        tracing::debug!(function = %d.function, retries, %error, "scheduled run not accepted; retrying");
        tokio::time::sleep(backoff).await;
        retries += 1;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn give_up(d: &Delivery, error: String, retries: u32) {
    let Some(arn) = &d.dead_letter else {
        tracing::warn!(function = %d.function, source = %d.source_arn, %error, retries, "scheduled run dropped after its retries (no DeadLetterConfig)");
        return;
    };
    let failure = DeliveryFailure {
        source_arn: d.source_arn.clone(),
        target_arn: d.target_arn.clone(),
        error: error.clone(),
        retry_attempts: retries,
    };
    if let Err(e) = d.target.dead_letter(arn, d.payload.clone(), failure).await {
        tracing::warn!(function = %d.function, queue = %arn, %error, dead_letter_error = %e, "scheduled run dropped: its dead-letter queue refused it");
    }
}
