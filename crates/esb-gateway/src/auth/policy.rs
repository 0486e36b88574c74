//! The IAM policy a Lambda authorizer returns, evaluated as API Gateway does for
//! `execute-api:Invoke`: an explicit `Deny` wins, then any `Allow`; no match is a deny.
//! `Action` and `Resource` take `*` and `?` wildcards, as IAM's do.

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    ExplicitDeny,
    /// No statement allows this resource.
    NotAllowed,
}

/// Why a policy cannot be used at all (API Gateway answers 500 for these).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid policy document: {0}")]
pub struct BadPolicy(pub &'static str);

/// The decision of `policy` (a `policyDocument`) for invoking `arn`.
pub fn evaluate(policy: &Value, arn: &str) -> Result<Decision, BadPolicy> {
    let statements = match policy.get("Statement") {
        Some(Value::Array(list)) => list.iter().collect::<Vec<_>>(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => return Err(BadPolicy("Statement is missing")),
    };
    let mut allowed = false;
    for s in statements {
        let effect = s
            .get("Effect")
            .and_then(Value::as_str)
            .ok_or(BadPolicy("a statement has no Effect"))?;
        let matches_any = |key: &str, target: &str| -> Result<bool, BadPolicy> {
            match s.get(key) {
                Some(Value::String(p)) => Ok(wildcard(p, target)),
                Some(Value::Array(list)) => Ok(list
                    .iter()
                    .filter_map(Value::as_str)
                    .any(|p| wildcard(p, target))),
                _ => Err(BadPolicy("a statement lacks Action or Resource")),
            }
        };
        if !matches_any("Action", "execute-api:Invoke")? || !matches_any("Resource", arn)? {
            continue;
        }
        match effect {
            e if e.eq_ignore_ascii_case("Deny") => return Ok(Decision::ExplicitDeny),
            e if e.eq_ignore_ascii_case("Allow") => allowed = true,
            _ => return Err(BadPolicy("Effect must be Allow or Deny")),
        }
    }
    Ok(if allowed {
        Decision::Allow
    } else {
        Decision::NotAllowed
    })
}

/// IAM pattern match: `*` any run of characters, `?` any one; case-sensitive.
fn wildcard(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:esblocal/Prod/GET/items/42";

    fn policy(effect: &str, resource: Value) -> Value {
        json!({"Version": "2012-10-17", "Statement": [
            {"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}
        ]})
    }

    #[test]
    fn allow_deny_and_wildcards() {
        assert_eq!(
            evaluate(&policy("Allow", json!(ARN)), ARN),
            Ok(Decision::Allow)
        );
        let all = json!("arn:aws:execute-api:us-east-1:123456789012:esblocal/*");
        assert_eq!(
            evaluate(&policy("Allow", all.clone()), ARN),
            Ok(Decision::Allow)
        );
        assert_eq!(
            evaluate(
                &policy("Allow", json!(["arn:aws:execute-api:*:*:*/Prod/POST/*"])),
                ARN
            ),
            Ok(Decision::NotAllowed)
        );
        assert_eq!(
            evaluate(
                &policy(
                    "Allow",
                    json!("arn:aws:execute-api:us-east-1:123456789012:esblocal/Prod/GET/items/4?")
                ),
                ARN
            ),
            Ok(Decision::Allow)
        );
        let mut both = policy("Allow", all.clone());
        both["Statement"]
            .as_array_mut()
            .expect("list")
            .push(json!({"Action": "execute-api:*", "Effect": "Deny", "Resource": all}));
        assert_eq!(evaluate(&both, ARN), Ok(Decision::ExplicitDeny));
    }

    #[test]
    fn malformed_policies_are_errors() {
        assert!(evaluate(&json!({}), ARN).is_err());
        assert!(evaluate(&json!({"Statement": [{"Effect": "Allow"}]}), ARN).is_err());
        assert!(evaluate(&policy("Maybe", json!("*")), ARN).is_err());
    }

    #[test]
    fn wildcard_matching() {
        assert!(wildcard("*", ""));
        assert!(wildcard("a*c", "abbbc"));
        assert!(!wildcard("a*c", "abbbd"));
        assert!(wildcard("a?c", "abc"));
        assert!(wildcard("*/GET/*", "x/GET/y/z"));
    }
}
