//! Names as CloudWatch Logs' model constrains them, and the function log groups.

use crate::error::ApiError;

/// Lambda writes a function's output to this group.
pub const FUNCTION_GROUP_PREFIX: &str = "/aws/lambda/";

/// A log group name: 1 to 512 of `[.\-_/#A-Za-z0-9]`.
pub fn check_group(name: &str, member: &str) -> Result<(), ApiError> {
    check_length(name, member, 512)?;
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/' | '#'))
    {
        return Err(ApiError::constraint(
            name,
            member,
            r"Member must satisfy regular expression pattern: [\.\-_/#A-Za-z0-9]+",
        ));
    }
    Ok(())
}

/// A log stream name: 1 to 512 characters, neither `:` nor `*`.
pub fn check_stream(name: &str, member: &str) -> Result<(), ApiError> {
    check_length(name, member, 512)?;
    if name.contains([':', '*']) {
        return Err(ApiError::constraint(
            name,
            member,
            "Member must satisfy regular expression pattern: [^:*]*",
        ));
    }
    Ok(())
}

fn check_length(value: &str, member: &str, max: usize) -> Result<(), ApiError> {
    let n = value.chars().count();
    if n < 1 {
        return Err(ApiError::constraint(
            value,
            member,
            "Member must have length greater than or equal to 1",
        ));
    }
    if n > max {
        return Err(ApiError::constraint(
            value,
            member,
            &format!("Member must have length less than or equal to {max}"),
        ));
    }
    Ok(())
}

/// A `limit` parameter within `1..=max`, `default` when absent.
pub fn check_limit(limit: Option<i64>, max: i64, default: usize) -> Result<usize, ApiError> {
    match limit {
        None => Ok(default),
        Some(n) if n < 1 => Err(ApiError::constraint(
            &n.to_string(),
            "limit",
            "Member must have value greater than or equal to 1",
        )),
        Some(n) if n > max => Err(ApiError::constraint(
            &n.to_string(),
            "limit",
            &format!("Member must have value less than or equal to {max}"),
        )),
        Some(n) => Ok(usize::try_from(n).unwrap_or(default)),
    }
}

/// The function whose output a group holds (`/aws/lambda/<function>`).
pub fn function_of_group(group: &str) -> Option<&str> {
    group
        .strip_prefix(FUNCTION_GROUP_PREFIX)
        .filter(|f| !f.is_empty() && !f.contains('/'))
}

/// The group a `logGroupIdentifier` names: a name, or an ARN (`…:log-group:NAME[:*]`).
pub fn group_from_identifier(identifier: &str) -> &str {
    match identifier.split_once(":log-group:") {
        Some((_, rest)) => rest.strip_suffix(":*").unwrap_or(rest),
        None => identifier,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_and_stream_names_follow_the_model() {
        assert!(check_group("/aws/lambda/echo", "logGroupName").is_ok());
        let e = check_group("a b", "logGroupName").unwrap_err();
        assert_eq!(e.kind, "InvalidParameterException");
        assert!(e.message.contains("at 'logGroupName'"), "{}", e.message);
        assert!(check_group("", "logGroupName").is_err());
        assert!(check_group(&"a".repeat(513), "logGroupName").is_err());
        assert!(check_stream("2024/01/01/[$LATEST]abc", "logStreamName").is_ok());
        assert!(check_stream("a:b", "logStreamName").is_err());
        assert!(check_stream("a*", "logStreamName").is_err());
    }

    #[test]
    fn limits_and_identifiers() {
        assert_eq!(check_limit(None, 50, 50).unwrap(), 50);
        assert!(check_limit(Some(0), 50, 50).is_err());
        assert!(check_limit(Some(51), 50, 50).is_err());
        assert_eq!(function_of_group("/aws/lambda/echo"), Some("echo"));
        assert_eq!(function_of_group("/aws/lambda/"), None);
        assert_eq!(function_of_group("/custom"), None);
        assert_eq!(
            group_from_identifier("arn:aws:logs:us-east-1:123456789012:log-group:/a/b:*"),
            "/a/b"
        );
        assert_eq!(group_from_identifier("/a/b"), "/a/b");
    }
}
