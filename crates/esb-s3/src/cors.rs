//! Browser CORS against a bucket's rules, as S3 evaluates them: the first rule whose
//! origin, method and requested headers all match answers; a preflight that no rule
//! allows is `403 AccessForbidden`.

use http::{HeaderMap, HeaderValue};

use crate::model::CorsRule;

/// `*` matches any run of characters (S3 allows one per origin or header pattern).
fn wildcard(pattern: &str, value: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern.eq_ignore_ascii_case(value),
        Some((pre, post)) => {
            value.len() >= pre.len() + post.len()
                && value[..pre.len()].eq_ignore_ascii_case(pre)
                && value[value.len() - post.len()..].eq_ignore_ascii_case(post)
        }
    }
}

/// The rule that allows `origin` to use `method` with `headers`, if any.
pub fn find<'a>(
    rules: &'a [CorsRule],
    origin: &str,
    method: &str,
    headers: &[&str],
) -> Option<&'a CorsRule> {
    rules.iter().find(|r| {
        r.allowed_origins.iter().any(|o| wildcard(o, origin))
            && r.allowed_methods.iter().any(|m| m == method)
            && headers
                .iter()
                .all(|h| r.allowed_headers.iter().any(|a| wildcard(a, h)))
    })
}

/// The response headers of a request (or preflight) `rule` allows.
pub fn allow_headers(
    rule: &CorsRule,
    origin: &str,
    requested_headers: &[&str],
    preflight: bool,
) -> HeaderMap {
    let mut h = HeaderMap::new();
    let any_origin = rule.allowed_origins.iter().any(|o| o == "*");
    let mut put = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    };
    put(
        "access-control-allow-origin",
        if any_origin {
            "*".into()
        } else {
            origin.to_string()
        },
    );
    if !any_origin {
        put("access-control-allow-credentials", "true".into());
    }
    put(
        "vary",
        "Origin, Access-Control-Request-Headers, Access-Control-Request-Method".into(),
    );
    put(
        "access-control-allow-methods",
        rule.allowed_methods.join(", "),
    );
    if preflight {
        if !requested_headers.is_empty() {
            put("access-control-allow-headers", requested_headers.join(", "));
        }
        if let Some(age) = rule.max_age_seconds {
            put("access-control-max-age", age.to_string());
        }
    }
    if !rule.expose_headers.is_empty() {
        put(
            "access-control-expose-headers",
            rule.expose_headers.join(", "),
        );
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(origins: &[&str], methods: &[&str], headers: &[&str]) -> CorsRule {
        CorsRule {
            allowed_origins: origins.iter().map(|s| s.to_string()).collect(),
            allowed_methods: methods.iter().map(|s| s.to_string()).collect(),
            allowed_headers: headers.iter().map(|s| s.to_string()).collect(),
            max_age_seconds: Some(600),
            ..CorsRule::default()
        }
    }

    #[test]
    fn the_first_rule_matching_origin_method_and_headers_answers() {
        let rules = [
            rule(&["https://*.example.com"], &["PUT"], &["content-*"]),
            rule(&["*"], &["GET"], &[]),
        ];
        let r = find(&rules, "https://app.example.com", "PUT", &["content-type"]).unwrap();
        assert_eq!(r.allowed_methods, ["PUT"]);
        assert!(find(&rules, "https://evil.com", "PUT", &[]).is_none());
        assert!(find(&rules, "https://app.example.com", "PUT", &["x-other"]).is_none());
        let r = find(&rules, "https://evil.com", "GET", &[]).unwrap();
        let h = allow_headers(r, "https://evil.com", &[], true);
        assert_eq!(h["access-control-allow-origin"], "*");
        let h = allow_headers(
            &rules[0],
            "https://app.example.com",
            &["content-type"],
            true,
        );
        assert_eq!(h["access-control-allow-origin"], "https://app.example.com");
        assert_eq!(h["access-control-max-age"], "600");
        assert_eq!(h["access-control-allow-headers"], "content-type");
    }
}
