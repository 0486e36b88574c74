//! What an event source mapping (a DynamoDB stream's, an SQS queue's) needs from the
//! rest of the box: a way to invoke a function synchronously (the gateway's
//! RequestResponse invoke) and a place to describe the batches it gave up on (an SQS
//! queue, an SNS topic, an S3 bucket). Traits, so the pollers do not depend on the
//! gateway and tests can stand in for a function.

/// How one synchronous invocation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvokeOutcome {
    /// The function returned; its response body (what `ReportBatchItemFailures` reads).
    Ok(String),
    /// The function ran and failed (`X-Amz-Function-Error`); the error payload.
    FunctionError(String),
    /// The function could not be invoked: throttled, not found, no worker... Lambda
    /// retries these without counting them against `MaximumRetryAttempts` and never
    /// bisects on them: the records are not at fault (an SQS mapping backs off and
    /// returns the messages to the queue).
    Failed(String),
}

/// Invokes functions for a mapping.
#[async_trait::async_trait]
pub trait Invoker: Send + Sync {
    /// Invokes `function` (a name or an ARN) synchronously with `payload`.
    async fn invoke(&self, function: &str, payload: String) -> InvokeOutcome;
}

/// Receives the invocation records of discarded batches.
#[async_trait::async_trait]
pub trait FailureDestination: Send + Sync {
    /// Delivers `record` to `destination_arn`. An error makes the mapping try again
    /// (the batch is only checkpointed once its record is delivered).
    async fn send(&self, destination_arn: &str, record: serde_json::Value) -> Result<(), String>;
}
