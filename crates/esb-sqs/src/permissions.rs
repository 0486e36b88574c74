//! AddPermission and RemovePermission: statements, named by label, in the queue's
//! `Policy` attribute, written the way SQS writes them. The box enforces no policy
//! (every signed request is the box's own key); the policy is kept for clients that
//! read it back.

use serde_json::{Value, json};

use crate::engine::Sqs;
use crate::error::{ErrorKind, SqsError};
use crate::input::Input;
use crate::names;
use crate::queue_store;
use crate::store::now_ms;

/// SQS allows this many actions in one AddPermission.
const MAX_ACTIONS: usize = 7;

fn label_of(input: &Input) -> Result<String, SqsError> {
    let label = input.required("Label")?;
    if label.len() > 80
        || !label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(SqsError::invalid(format!(
            "Value {label} for parameter Label is invalid. Reason: Must be at most 80 alphanumeric characters, hyphens or underscores."
        )));
    }
    Ok(label.to_string())
}

pub async fn add(sqs: &Sqs, input: &Input) -> Result<Value, SqsError> {
    let name = names::queue_of_url(input.required("QueueUrl")?, sqs.account())?.to_string();
    let label = label_of(input)?;
    let accounts = input.strings("AWSAccountIds")?;
    let actions = input.strings("Actions")?;
    if accounts.is_empty() {
        return Err(SqsError::missing("AWSAccountIds"));
    }
    if actions.is_empty() {
        return Err(SqsError::missing("Actions"));
    }
    if actions.len() > MAX_ACTIONS {
        return Err(SqsError::new(
            ErrorKind::OverLimit,
            format!(
                "{} Actions were found, maximum allowed is {MAX_ACTIONS}.",
                actions.len()
            ),
        ));
    }
    let arn = sqs.arn(&name);
    sqs.run(move |conn| {
        let q = queue_store::require(conn, &name)?;
        let mut policy = current(&q.attributes, &arn);
        let statements = statements(&mut policy)?;
        if statements
            .iter()
            .any(|s| s.get("Sid").and_then(Value::as_str) == Some(label.as_str()))
        {
            return Err(SqsError::invalid(format!(
                "Value {label} for parameter Label is invalid. Reason: Already exists."
            )));
        }
        let principals: Vec<String> = accounts
            .iter()
            .map(|a| format!("arn:aws:iam::{a}:root"))
            .collect();
        let actions: Vec<String> = actions
            .iter()
            .map(|a| format!("SQS:{}", a.trim_start_matches("SQS:")))
            .collect();
        statements.push(json!({
            "Sid": label,
            "Effect": "Allow",
            "Principal": {"AWS": principals},
            "Action": actions,
            "Resource": arn,
        }));
        save(conn, &q, &policy)
    })
    .await?;
    Ok(json!({}))
}

pub async fn remove(sqs: &Sqs, input: &Input) -> Result<Value, SqsError> {
    let name = names::queue_of_url(input.required("QueueUrl")?, sqs.account())?.to_string();
    let label = label_of(input)?;
    let arn = sqs.arn(&name);
    sqs.run(move |conn| {
        let q = queue_store::require(conn, &name)?;
        let mut policy = current(&q.attributes, &arn);
        let statements = statements(&mut policy)?;
        let before = statements.len();
        statements.retain(|s| s.get("Sid").and_then(Value::as_str) != Some(label.as_str()));
        if statements.len() == before {
            return Err(SqsError::invalid(format!(
                "Value {label} for parameter Label is invalid. Reason: can't find label on existing policy."
            )));
        }
        let empty = statements.is_empty();
        if empty {
            let mut attrs = q.attributes.clone();
            attrs.remove("Policy");
            return queue_store::set_attributes(conn, q.id, &attrs, now_ms());
        }
        save(conn, &q, &policy)
    })
    .await?;
    Ok(json!({}))
}

/// The queue's policy, or SQS's empty default one.
fn current(attrs: &crate::queue_attributes::Attributes, arn: &str) -> Value {
    attrs
        .get("Policy")
        .and_then(|p| serde_json::from_str::<Value>(p).ok())
        .filter(Value::is_object)
        .unwrap_or_else(|| {
            json!({
                "Version": "2012-10-17",
                "Id": format!("{arn}/SQSDefaultPolicy"),
                "Statement": [],
            })
        })
}

fn statements(policy: &mut Value) -> Result<&mut Vec<Value>, SqsError> {
    let object = policy
        .as_object_mut()
        .ok_or_else(|| SqsError::invalid("The queue's Policy is not a JSON object."))?;
    let slot = object
        .entry("Statement")
        .or_insert_with(|| Value::Array(Vec::new()));
    if !slot.is_array() {
        // A single statement object (valid IAM) becomes a list of one.
        let one = slot.take();
        *slot = Value::Array(vec![one]);
    }
    slot.as_array_mut()
        .ok_or_else(|| SqsError::internal("policy statements"))
}

fn save(
    conn: &rusqlite::Connection,
    q: &queue_store::QueueRow,
    policy: &Value,
) -> Result<(), SqsError> {
    let mut attrs = q.attributes.clone();
    attrs.insert("Policy".into(), policy.to_string());
    queue_store::set_attributes(conn, q.id, &attrs, now_ms())
}
