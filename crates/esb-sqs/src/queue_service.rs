//! The box's own queue work — the template's queues, the gateway's destinations and
//! dead letters, schedules' dead letters, stream mappings' failure records — on
//! whichever engine serves the box's SQS: the embedded one, called directly, or an
//! external one (`--sqs-endpoint`), called through its public API with its own key.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::engine::Sqs;
use crate::error::SqsError;
use crate::forward::{Engine, queue_name_of_url};
use crate::queue_mapping::CallError;

/// The engine the box's own queue work goes to; cheap to clone.
#[derive(Clone)]
pub enum QueueService {
    Embedded(Sqs),
    External(Arc<Engine>),
}

/// Why the box's own queue work failed.
#[derive(Debug, thiserror::Error)]
pub enum QueueServiceError {
    #[error(transparent)]
    Sqs(#[from] SqsError),
    #[error("the SQS engine answered: {0}")]
    Engine(#[from] CallError),
}

impl QueueService {
    /// For template queues: creates `name` if absent, else sets the given attributes
    /// and tags. Returns the queue's ARN (on an external engine, the engine's).
    pub async fn ensure_queue(
        &self,
        name: &str,
        attributes: BTreeMap<String, String>,
        tags: BTreeMap<String, String>,
    ) -> Result<String, QueueServiceError> {
        match self {
            Self::Embedded(sqs) => Ok(sqs.ensure_queue(name, attributes, tags).await?),
            Self::External(engine) => Ok(ensure_on_engine(engine, name, attributes, tags).await?),
        }
    }

    /// Sends `body` to the queue named by ARN, URL or name; returns the message id. A
    /// FIFO queue needs `group_id`; each send gets a fresh deduplication id.
    pub async fn send(
        &self,
        queue: &str,
        body: String,
        group_id: Option<String>,
    ) -> Result<String, QueueServiceError> {
        match self {
            Self::Embedded(sqs) => Ok(sqs.send(queue, body, group_id).await?),
            Self::External(engine) => {
                Ok(send_on_engine(engine, queue, body, Vec::new(), group_id).await?)
            }
        }
    }

    /// [`QueueService::send`] to a standard queue with message attributes: (name, data
    /// type `String`/`Number`, value).
    pub async fn send_with_attributes(
        &self,
        queue: &str,
        body: String,
        attributes: Vec<(String, String, String)>,
    ) -> Result<String, QueueServiceError> {
        match self {
            Self::Embedded(sqs) => Ok(sqs.send_with_attributes(queue, body, attributes).await?),
            Self::External(engine) => {
                Ok(send_on_engine(engine, queue, body, attributes, None).await?)
            }
        }
    }
}

/// The queue name an ARN, URL or bare name designates (whatever the account: the
/// engine's is not the box's).
fn name_of_reference(reference: &str) -> &str {
    if reference.starts_with("arn:") {
        return reference.rsplit(':').next().unwrap_or(reference);
    }
    if reference.contains('/') {
        return queue_name_of_url(reference).unwrap_or(reference);
    }
    reference
}

fn no_queue(e: &CallError) -> bool {
    matches!(e, CallError::Api { error_type, .. }
        if error_type.contains("QueueDoesNotExist") || error_type.contains("NonExistentQueue"))
}

/// The engine's ARN of the queue at `url`.
async fn engine_arn(engine: &Engine, url: &str) -> Result<String, CallError> {
    let answer = engine
        .client()
        .call(
            "GetQueueAttributes",
            &json!({"QueueUrl": url, "AttributeNames": ["QueueArn"]}),
        )
        .await?;
    answer
        .pointer("/Attributes/QueueArn")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| CallError::Transport("GetQueueAttributes answered without QueueArn".into()))
}

/// A template's redrive policy with its dead-letter target as the engine knows it (the
/// template names the box's account).
async fn engine_redrive(engine: &Engine, policy: &str) -> Result<String, CallError> {
    let Ok(Value::Object(mut p)) = serde_json::from_str::<Value>(policy) else {
        return Ok(policy.to_string());
    };
    let Some(target) = p.get("deadLetterTargetArn").and_then(Value::as_str) else {
        return Ok(policy.to_string());
    };
    let url = engine.queue_url(name_of_reference(target)).await?;
    p.insert(
        "deadLetterTargetArn".into(),
        Value::String(engine_arn(engine, &url).await?),
    );
    Ok(Value::Object(p).to_string())
}

/// A template queue on the engine: created if absent (FIFO when its name says so),
/// else given the declared attributes and tags.
async fn ensure_on_engine(
    engine: &Engine,
    name: &str,
    mut attributes: BTreeMap<String, String>,
    tags: BTreeMap<String, String>,
) -> Result<String, CallError> {
    attributes.retain(|_, v| !v.is_empty());
    if let Some(policy) = attributes.get("RedrivePolicy").cloned() {
        attributes.insert(
            "RedrivePolicy".into(),
            engine_redrive(engine, &policy).await?,
        );
    }
    let client = engine.client();
    let url = match engine.queue_url(name).await {
        Ok(url) => {
            // Set at creation only.
            attributes.remove("FifoQueue");
            if !attributes.is_empty() {
                client
                    .call(
                        "SetQueueAttributes",
                        &json!({"QueueUrl": url, "Attributes": attributes}),
                    )
                    .await?;
            }
            if !tags.is_empty() {
                client
                    .call("TagQueue", &json!({"QueueUrl": url, "Tags": tags}))
                    .await?;
            }
            url
        }
        Err(e) if no_queue(&e) => {
            if name.ends_with(".fifo") {
                attributes
                    .entry("FifoQueue".into())
                    .or_insert_with(|| "true".into());
            }
            let mut input = Map::new();
            input.insert("QueueName".into(), json!(name));
            if !attributes.is_empty() {
                input.insert("Attributes".into(), json!(attributes));
            }
            if !tags.is_empty() {
                input.insert("tags".into(), json!(tags));
            }
            let answer = client.call("CreateQueue", &Value::Object(input)).await?;
            let url = answer
                .get("QueueUrl")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    CallError::Transport("CreateQueue answered without QueueUrl".into())
                })?
                .to_string();
            engine.remember(name, &url);
            url
        }
        Err(e) => return Err(e),
    };
    engine_arn(engine, &url).await
}

/// One SendMessage on the engine.
async fn send_on_engine(
    engine: &Engine,
    queue: &str,
    body: String,
    attributes: Vec<(String, String, String)>,
    group_id: Option<String>,
) -> Result<String, CallError> {
    let name = name_of_reference(queue);
    let url = engine.queue_url(name).await?;
    let mut input = Map::new();
    input.insert("QueueUrl".into(), json!(url));
    input.insert("MessageBody".into(), json!(body));
    if !attributes.is_empty() {
        let attrs: Map<String, Value> = attributes
            .into_iter()
            .map(|(n, data_type, value)| (n, json!({"DataType": data_type, "StringValue": value})))
            .collect();
        input.insert("MessageAttributes".into(), Value::Object(attrs));
    }
    if let Some(g) = group_id {
        input.insert("MessageGroupId".into(), json!(g));
    }
    if name.ends_with(".fifo") {
        input.insert(
            "MessageDeduplicationId".into(),
            json!(uuid::Uuid::new_v4().simple().to_string()),
        );
    }
    let answer = engine
        .client()
        .call("SendMessage", &Value::Object(input))
        .await?;
    answer
        .get("MessageId")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| CallError::Transport("SendMessage answered without MessageId".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_name_queues_whatever_the_account() {
        assert_eq!(name_of_reference("arn:aws:sqs:us-east-1:1:jobs"), "jobs");
        assert_eq!(name_of_reference("http://h:1/2/jobs.fifo"), "jobs.fifo");
        assert_eq!(name_of_reference("jobs"), "jobs");
    }
}
