//! Where the gateway sends messages to SQS queues (asynchronous invocations'
//! destinations and dead-letter queues): a trait, so the gateway depends on no SQS
//! crate; `esb-cli` implements it with the box's SQS service.

/// One message for a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessage {
    pub body: String,
    /// Message attributes: (name, data type `String`/`Number`, value).
    pub attributes: Vec<(String, String, String)>,
}

/// Sends messages to the box's queues.
#[async_trait::async_trait]
pub trait QueueSink: Send + Sync {
    /// Sends `message` to the queue named by `queue_arn`; Ok once the queue has it.
    async fn send(&self, queue_arn: &str, message: QueueMessage) -> Result<(), String>;
}
