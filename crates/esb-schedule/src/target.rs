//! Where a fired run goes: the integrator's side (an asynchronous Lambda invocation,
//! queued durably) and the dead-letter queue.

use async_trait::async_trait;

/// What the scheduler fires a run through.
#[async_trait]
pub trait ScheduleTarget: Send + Sync {
    /// Queues an asynchronous invocation of `function` with `payload` (the event JSON).
    /// An `Err` is retried per the event's `RetryPolicy` (EventBridge retries what it
    /// could not hand to Lambda, e.g. throttling), then dead-lettered.
    async fn fire(&self, function: &str, payload: String) -> Result<(), String>;

    /// Sends a run whose retries are spent to the SQS queue `arn`: EventBridge puts
    /// the event itself in the message body, with the attributes `RULE_ARN` (the
    /// rule or schedule), `TARGET_ARN`, `ERROR_CODE` and `ERROR_MESSAGE`, which
    /// `failure` holds.
    async fn dead_letter(
        &self,
        arn: &str,
        payload: String,
        failure: DeliveryFailure,
    ) -> Result<(), String>;
}

/// Why a run is dead-lettered, for the message's attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryFailure {
    /// The rule's or schedule's ARN.
    pub source_arn: String,
    /// The function's ARN.
    pub target_arn: String,
    /// The last error `fire` gave.
    pub error: String,
    /// Retries made after the first attempt.
    pub retry_attempts: u32,
}
