//! The SQS calls a mapping makes, over [`SqsClient`]: find the queue, read its
//! attributes, long-poll for messages, delete what the function handled and return to
//! the queue what it could not be given.

use std::time::Duration;

use serde_json::{Value, json};

use super::client::{CallError, SqsClient};

/// SQS's limit on entries of one batch call and messages of one receive.
pub(super) const MAX_PER_CALL: usize = 10;
/// The longest long poll SQS allows.
pub(super) const MAX_WAIT_S: u64 = 20;

/// A queue ARN's parts: `arn:<partition>:sqs:<region>:<account>:<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueArn {
    pub region: String,
    pub account: String,
    pub name: String,
}

impl QueueArn {
    /// Parses `arn`; `None` if it is not an SQS queue's ARN.
    pub fn parse(arn: &str) -> Option<Self> {
        let parts: Vec<&str> = arn.split(':').collect();
        match parts.as_slice() {
            ["arn", partition, "sqs", region, account, name]
                if !partition.is_empty()
                    && !region.is_empty()
                    && !account.is_empty()
                    && !name.is_empty() =>
            {
                Some(Self {
                    region: (*region).to_string(),
                    account: (*account).to_string(),
                    name: (*name).to_string(),
                })
            }
            _ => None,
        }
    }

    pub fn is_fifo(&self) -> bool {
        self.name.ends_with(".fifo")
    }
}

/// What the poller needs to know of a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct QueueInfo {
    /// How long a received message stays invisible: the time a batch has before it is
    /// delivered again.
    pub visibility_timeout: Duration,
    pub fifo: bool,
}

/// The queue's URL, asked of the service by the ARN's name and account (by its name
/// alone for a client that [finds by name](SqsClient::by_queue_name)).
pub(super) async fn queue_url(client: &SqsClient, arn: &QueueArn) -> Result<String, CallError> {
    let input = if client.finds_by_name() {
        json!({"QueueName": arn.name})
    } else {
        json!({"QueueName": arn.name, "QueueOwnerAWSAccountId": arn.account})
    };
    let answer = client.call("GetQueueUrl", &input).await?;
    answer
        .get("QueueUrl")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| CallError::Transport("GetQueueUrl answered without QueueUrl".into()))
}

/// The queue's visibility timeout and kind.
pub(super) async fn queue_info(client: &SqsClient, url: &str) -> Result<QueueInfo, CallError> {
    let answer = client
        .call(
            "GetQueueAttributes",
            &json!({"QueueUrl": url, "AttributeNames": ["VisibilityTimeout", "FifoQueue"]}),
        )
        .await?;
    let attr = |name: &str| {
        answer
            .pointer(&format!("/Attributes/{name}"))
            .and_then(Value::as_str)
    };
    Ok(QueueInfo {
        visibility_timeout: Duration::from_secs(
            attr("VisibilityTimeout")
                .and_then(|v| v.parse().ok())
                .unwrap_or(30),
        ),
        fifo: attr("FifoQueue") == Some("true"),
    })
}

/// One `ReceiveMessage`: up to `max` (≤ 10) messages with all their attributes,
/// waiting up to `wait_s` (≤ 20) for the first.
pub(super) async fn receive(
    client: &SqsClient,
    url: &str,
    max: usize,
    wait_s: u64,
) -> Result<Vec<Value>, CallError> {
    let answer = client
        .call(
            "ReceiveMessage",
            &json!({
                "QueueUrl": url,
                "MaxNumberOfMessages": max.clamp(1, MAX_PER_CALL),
                "WaitTimeSeconds": wait_s.min(MAX_WAIT_S),
                // The current name, and the deprecated one older servers know.
                "MessageSystemAttributeNames": ["All"],
                "AttributeNames": ["All"],
                "MessageAttributeNames": ["All"],
            }),
        )
        .await?;
    match answer.get("Messages") {
        Some(Value::Array(messages)) => Ok(messages.clone()),
        _ => Ok(Vec::new()),
    }
}

/// Deletes the messages of `receipt_handles`, ten per call. Returns how many the
/// service did not delete (a receipt handle that expired: the message was delivered
/// again meanwhile, and is handled again).
pub(super) async fn delete(
    client: &SqsClient,
    url: &str,
    receipt_handles: &[&str],
) -> Result<usize, CallError> {
    let mut failed = 0;
    for chunk in receipt_handles.chunks(MAX_PER_CALL) {
        let entries: Vec<Value> = chunk
            .iter()
            .enumerate()
            .map(|(i, handle)| json!({"Id": i.to_string(), "ReceiptHandle": handle}))
            .collect();
        let answer = client
            .call(
                "DeleteMessageBatch",
                &json!({"QueueUrl": url, "Entries": entries}),
            )
            .await?;
        failed += failures(&answer);
    }
    Ok(failed)
}

/// Makes the messages of `receipt_handles` visible again after `timeout` (zero: at
/// once), ten per call. Returns how many the service did not change.
pub(super) async fn change_visibility(
    client: &SqsClient,
    url: &str,
    receipt_handles: &[&str],
    timeout: Duration,
) -> Result<usize, CallError> {
    let mut failed = 0;
    for chunk in receipt_handles.chunks(MAX_PER_CALL) {
        let entries: Vec<Value> = chunk
            .iter()
            .enumerate()
            .map(|(i, handle)| {
                json!({"Id": i.to_string(), "ReceiptHandle": handle,
                       "VisibilityTimeout": timeout.as_secs()})
            })
            .collect();
        let answer = client
            .call(
                "ChangeMessageVisibilityBatch",
                &json!({"QueueUrl": url, "Entries": entries}),
            )
            .await?;
        failed += failures(&answer);
    }
    Ok(failed)
}

/// The number of `Failed` entries of a batch call's answer.
fn failures(answer: &Value) -> usize {
    answer
        .get("Failed")
        .and_then(Value::as_array)
        .map_or(0, Vec::len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_arns_parse() {
        let arn = QueueArn::parse("arn:aws:sqs:eu-west-1:123456789012:jobs.fifo").unwrap();
        assert_eq!(arn.region, "eu-west-1");
        assert_eq!(arn.account, "123456789012");
        assert_eq!(arn.name, "jobs.fifo");
        assert!(arn.is_fifo());
        assert!(QueueArn::parse("arn:aws:sns:eu-west-1:1:t").is_none());
        assert!(QueueArn::parse("arn:aws:sqs:eu-west-1:1").is_none());
        assert!(QueueArn::parse("jobs").is_none());
    }
}
