//! Names SQS constrains: queue names, the queue a URL or ARN designates, batch entry
//! ids, and the URLs and ARNs the box hands out.

use crate::error::{ErrorKind, SqsError};

/// A queue name: 1-80 characters of `A-Za-z0-9-_`, with `.fifo` at the end exactly
/// when the queue is FIFO.
pub fn check_queue_name(name: &str, fifo: bool) -> Result<(), SqsError> {
    let stem = name.strip_suffix(".fifo");
    let chars_ok = stem
        .unwrap_or(name)
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if name.is_empty() || name.len() > 80 || !chars_ok || stem == Some("") {
        return Err(SqsError::invalid(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length",
        ));
    }
    if fifo && stem.is_none() {
        return Err(SqsError::invalid(
            "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.",
        ));
    }
    if !fifo && stem.is_some() {
        return Err(SqsError::invalid(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length",
        ));
    }
    Ok(())
}

/// The queue name a `QueueUrl` designates: its last path segment, whatever the host
/// (workers reach the box under other names), provided the account is the box's.
pub fn queue_of_url<'a>(url: &'a str, account: &str) -> Result<&'a str, SqsError> {
    let path = match url.find("://") {
        Some(i) => {
            let rest = &url[i + 3..];
            rest.find('/').map_or("", |j| &rest[j..])
        }
        None => url,
    };
    let path = path.split(['?', '#']).next().unwrap_or("");
    let mut segments = path.split('/').filter(|s| !s.is_empty());
    match (segments.next(), segments.next(), segments.next()) {
        (Some(acct), Some(name), None) if acct == account => Ok(name),
        _ => Err(SqsError::no_queue()),
    }
}

/// The queue name an ARN (`arn:aws:sqs:<region>:<account>:<name>`), URL or bare name
/// designates.
pub fn queue_of_reference<'a>(reference: &'a str, account: &str) -> Result<&'a str, SqsError> {
    if let Some(rest) = reference.strip_prefix("arn:") {
        return queue_of_arn(rest, account).ok_or_else(SqsError::no_queue);
    }
    if reference.contains('/') {
        return queue_of_url(reference, account);
    }
    Ok(reference)
}

fn queue_of_arn<'a>(after_arn: &'a str, account: &str) -> Option<&'a str> {
    let parts: Vec<&str> = after_arn.splitn(5, ':').collect();
    match parts[..] {
        [_, "sqs", _, acct, name] if acct == account && !name.is_empty() => Some(name),
        _ => None,
    }
}

/// The queue name in a redrive policy's `deadLetterTargetArn`, if it is an SQS ARN of
/// this box.
pub fn queue_of_arn_str<'a>(arn: &'a str, account: &str) -> Option<&'a str> {
    arn.strip_prefix("arn:")
        .and_then(|rest| queue_of_arn(rest, account))
}

pub fn arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:sqs:{region}:{account}:{name}")
}

/// `base` is `<scheme>://<host>` as the client reached the box.
pub fn url(base: &str, account: &str, name: &str) -> String {
    format!("{base}/{account}/{name}")
}

/// A batch entry id: up to 80 characters of `A-Za-z0-9-_`.
pub fn check_batch_id(id: &str) -> Result<(), SqsError> {
    if id.is_empty()
        || id.len() > 80
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(SqsError::new(
            ErrorKind::InvalidBatchEntryId,
            "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names() {
        assert!(check_queue_name("orders", false).is_ok());
        assert!(check_queue_name("orders-1_a", false).is_ok());
        assert!(check_queue_name("orders.fifo", true).is_ok());
        assert!(check_queue_name("orders.fifo", false).is_err());
        assert!(check_queue_name("orders", true).is_err());
        assert!(check_queue_name("", false).is_err());
        assert!(check_queue_name(".fifo", true).is_err());
        assert!(check_queue_name("a b", false).is_err());
        assert!(check_queue_name(&"a".repeat(80), false).is_ok());
        assert!(check_queue_name(&"a".repeat(81), false).is_err());
        assert!(check_queue_name(&format!("{}.fifo", "a".repeat(75)), true).is_ok());
        assert!(check_queue_name(&format!("{}.fifo", "a".repeat(76)), true).is_err());
    }

    #[test]
    fn urls_name_their_queue_whatever_the_host() {
        let acct = "000000000000";
        assert_eq!(
            queue_of_url("http://localhost:9324/000000000000/q1", acct),
            Ok("q1")
        );
        assert_eq!(
            queue_of_url("https://host.docker.internal/000000000000/q.fifo", acct),
            Ok("q.fifo")
        );
        assert!(queue_of_url("http://localhost/111111111111/q1", acct).is_err());
        assert!(queue_of_url("http://localhost/", acct).is_err());
        assert!(queue_of_url("http://localhost/queue/q1", acct).is_err());
        assert!(queue_of_url("q1", acct).is_err());
        assert_eq!(
            queue_of_reference("arn:aws:sqs:us-east-1:000000000000:q1", acct),
            Ok("q1")
        );
        assert_eq!(queue_of_reference("q1", acct), Ok("q1"));
    }

    #[test]
    fn batch_ids() {
        assert!(check_batch_id("a-1_B").is_ok());
        assert!(check_batch_id("").is_err());
        assert!(check_batch_id("a.b").is_err());
        assert!(check_batch_id(&"x".repeat(81)).is_err());
    }
}
