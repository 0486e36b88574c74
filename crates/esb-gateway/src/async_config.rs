//! A function's `EventInvokeConfig` and `DeadLetterQueue`: how its asynchronous
//! invocations are retried, how old they may grow, and where their outcomes go. Part
//! of the plan; followed by the delivery of queued events (`async_dispatch.rs`).

use std::time::Duration;

/// Where an asynchronous invocation's outcome record goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Another function of the box (by name), invoked asynchronously with the record.
    Function(String),
    /// An SQS queue (by ARN): the record is sent as one message.
    Queue(String),
}

/// What a function's asynchronous invocations follow (`EventInvokeConfig`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsyncConfig {
    pub max_retries: u32,
    pub max_age: Duration,
    pub on_success: Option<Destination>,
    pub on_failure: Option<Destination>,
    /// `DeadLetterQueue` of `Type: SQS`: the queue's ARN. It gets the failed event's
    /// own payload (not a record), as Lambda sends it.
    pub dead_letter_queue: Option<String>,
}

impl Default for AsyncConfig {
    fn default() -> Self {
        Self {
            max_retries: 2,
            max_age: Duration::from_secs(6 * 3600),
            on_success: None,
            on_failure: None,
            dead_letter_queue: None,
        }
    }
}
