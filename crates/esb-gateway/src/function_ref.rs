//! How the Invoke API and in-box event sources name a function: a name, a partial
//! ARN or a full ARN, with an optional qualifier.

use axum::http::StatusCode;
use esb_lambda::InvokeApiError;

use crate::gateway::Gateway;

/// `name`, `name:qualifier`, `123456789012:function:name[:q]` or
/// `arn:aws:lambda:<region>:<account>:function:name[:q]`.
pub fn parse(raw: &str, gw: &Gateway) -> Result<(String, Option<String>), InvokeApiError> {
    let invalid = || {
        InvokeApiError::new(
            StatusCode::BAD_REQUEST,
            "ValidationException",
            format!(
                "1 validation error detected: Value '{raw}' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{{2}}(-gov)?-[a-z]+-\\d{{1}}:)?(\\d{{12}}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
            ),
        )
    };
    let parts: Vec<&str> = raw.split(':').collect();
    let (name, qualifier) = match parts.as_slice() {
        [name] => (*name, None),
        [name, q] => (*name, Some(*q)),
        [account, "function", name] => (gw.check_account(account, name)?, None),
        [account, "function", name, q] => (gw.check_account(account, name)?, Some(*q)),
        [
            "arn",
            _,
            "lambda",
            region,
            account,
            "function",
            name,
            rest @ ..,
        ] if rest.len() <= 1 => {
            if *region != gw.region {
                return Err(InvokeApiError::new(
                    StatusCode::NOT_FOUND,
                    "ResourceNotFoundException",
                    format!("Function not found: {raw}"),
                ));
            }
            (gw.check_account(account, name)?, rest.first().copied())
        }
        _ => return Err(invalid()),
    };
    let valid = |s: &str| {
        !s.is_empty()
            && s.len() <= 140
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    if !valid(name) || qualifier.is_some_and(|q| q != "$LATEST" && !valid(q)) {
        return Err(invalid());
    }
    Ok((name.to_string(), qualifier.map(str::to_string)))
}

/// Whether the box serves the function `raw` names (name or ARN, unqualified or
/// `$LATEST`).
pub fn exists(raw: &str, gw: &Gateway) -> bool {
    parse(raw, gw).is_ok_and(|(name, q)| {
        q.is_none_or(|q| q == "$LATEST") && gw.plan().pools.contains_key(&name)
    })
}
