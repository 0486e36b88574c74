//! The Lambda Invoke API's error answers as the gateway gives them, and the reading of
//! the `{FunctionName}` path segment they are mostly about.
//!
//! SDKs turn these answers into typed exceptions (boto3's
//! `Lambda.Client.exceptions.ResourceNotFoundException`) from the `x-amzn-ErrorType`
//! header, and users match on the messages, so both are AWS's: a `{"Type":"User",
//! "message": ...}` body, plus `Reason` for throttling. A function can be named the
//! three ways Lambda accepts (name, partial ARN, full ARN, each with an optional
//! `:qualifier`) or qualified by `?Qualifier=`; ESB runs only `$LATEST`, so any other
//! qualifier names a version that does not exist.

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Response, StatusCode};

use crate::percent;

/// The Invoke API's constraint on `FunctionName`, quoted in its validation errors.
pub const FUNCTION_NAME_PATTERN: &str = r"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?";
/// The Invoke API's constraint on `Qualifier`.
pub const QUALIFIER_PATTERN: &str = "(|[a-zA-Z0-9$_-]+)";
/// Longest `FunctionName` the Invoke API accepts (a full ARN with qualifier).
pub const MAX_FUNCTION_NAME_LEN: usize = 170;
/// Longest `Qualifier` the Invoke API accepts.
pub const MAX_QUALIFIER_LEN: usize = 128;
/// The only version ESB runs.
pub const LATEST: &str = "$LATEST";

/// Why Lambda throttled an invocation (the `Reason` of `TooManyRequestsException`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleReason {
    ConcurrentInvocationLimitExceeded,
    FunctionInvocationRateLimitExceeded,
    ReservedFunctionConcurrentInvocationLimitExceeded,
    ReservedFunctionInvocationRateLimitExceeded,
    CallerRateLimitExceeded,
}

impl ThrottleReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ConcurrentInvocationLimitExceeded => "ConcurrentInvocationLimitExceeded",
            Self::FunctionInvocationRateLimitExceeded => "FunctionInvocationRateLimitExceeded",
            Self::ReservedFunctionConcurrentInvocationLimitExceeded => {
                "ReservedFunctionConcurrentInvocationLimitExceeded"
            }
            Self::ReservedFunctionInvocationRateLimitExceeded => {
                "ReservedFunctionInvocationRateLimitExceeded"
            }
            Self::CallerRateLimitExceeded => "CallerRateLimitExceeded",
        }
    }
}

/// An Invoke API error, named as AWS names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LambdaApiError {
    /// 404: no such function (or version), or a function of another region or account.
    #[error("{message}")]
    ResourceNotFound { message: String },
    /// 400: the payload (or client context) is not what Lambda accepts.
    #[error("{message}")]
    InvalidRequestContent { message: String },
    /// 413: the payload is over the operation's limit.
    #[error("Request must be smaller than {limit} bytes for the {operation} operation")]
    RequestEntityTooLarge { limit: usize, operation: String },
    /// 429: no concurrency left for the function.
    #[error("{message}")]
    TooManyRequests {
        message: String,
        reason: ThrottleReason,
    },
    /// 500: Lambda (here: the box) failed on its side.
    #[error("{message}")]
    Service { message: String },
    /// 400: a request parameter breaks its constraint.
    #[error("{message}")]
    Validation { message: String },
    /// 400: parameters are each valid but contradict each other.
    #[error("{message}")]
    InvalidParameterValue { message: String },
}

impl LambdaApiError {
    /// `Function not found: <arn>`.
    pub fn function_not_found(arn: &str) -> Self {
        Self::ResourceNotFound {
            message: format!("Function not found: {arn}"),
        }
    }

    pub fn invalid_request_content(message: impl Into<String>) -> Self {
        Self::InvalidRequestContent {
            message: message.into(),
        }
    }

    /// `operation`: `InvokeFunction` (synchronous, 6 MiB) or `InvokeAsync` (256 KiB).
    pub fn request_too_large(limit: usize, operation: impl Into<String>) -> Self {
        Self::RequestEntityTooLarge {
            limit,
            operation: operation.into(),
        }
    }

    /// `Rate Exceeded.` with its reason, as Lambda words a throttle.
    pub fn too_many_requests(reason: ThrottleReason) -> Self {
        Self::TooManyRequests {
            message: "Rate Exceeded.".into(),
            reason,
        }
    }

    pub fn service(message: impl Into<String>) -> Self {
        Self::Service {
            message: message.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::ResourceNotFound { .. } => StatusCode::NOT_FOUND,
            Self::InvalidRequestContent { .. }
            | Self::Validation { .. }
            | Self::InvalidParameterValue { .. } => StatusCode::BAD_REQUEST,
            Self::RequestEntityTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Service { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `x-amzn-ErrorType` SDKs map to exception classes.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::ResourceNotFound { .. } => "ResourceNotFoundException",
            Self::InvalidRequestContent { .. } => "InvalidRequestContentException",
            Self::RequestEntityTooLarge { .. } => "RequestEntityTooLargeException",
            Self::TooManyRequests { .. } => "TooManyRequestsException",
            Self::Service { .. } => "ServiceException",
            Self::Validation { .. } => "ValidationException",
            Self::InvalidParameterValue { .. } => "InvalidParameterValueException",
        }
    }

    pub fn reason(&self) -> Option<ThrottleReason> {
        match self {
            Self::TooManyRequests { reason, .. } => Some(*reason),
            _ => None,
        }
    }

    /// `{"Type":"User","message":...}`, with `Reason` for throttles.
    pub fn body(&self) -> Bytes {
        let mut body = serde_json::json!({ "Type": "User", "message": self.to_string() });
        if let Some(reason) = self.reason() {
            body["Reason"] = reason.as_str().into();
        }
        Bytes::from(body.to_string())
    }

    pub fn to_response(&self) -> Response<Bytes> {
        let mut response = Response::new(self.body());
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(
            "x-amzn-errortype",
            HeaderValue::from_static(self.error_type()),
        );
        response
    }
}

/// The same error in the shape `esb-rie` answers with, for handlers built on it.
impl From<LambdaApiError> for esb_rie::api_error::InvokeApiError {
    fn from(e: LambdaApiError) -> Self {
        let mut converted = Self::new(e.status(), e.error_type(), e.to_string());
        converted.reason = e.reason().map(ThrottleReason::as_str);
        converted
    }
}

/// Where the gateway serves functions: what a partial name is completed with and what
/// a full ARN must name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LambdaScope<'a> {
    pub region: &'a str,
    pub account_id: &'a str,
}

impl LambdaScope<'_> {
    /// `arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]` in this scope.
    pub fn function_arn(&self, name: &str, qualifier: Option<&str>) -> String {
        function_arn(self.region, self.account_id, name, qualifier)
    }
}

/// `arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]`
pub fn function_arn(region: &str, account_id: &str, name: &str, qualifier: Option<&str>) -> String {
    let mut arn = format!("arn:aws:lambda:{region}:{account_id}:function:{name}");
    if let Some(q) = qualifier {
        arn.push(':');
        arn.push_str(q);
    }
    arn
}

/// A function as an Invoke request names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRef {
    pub name: String,
    /// From the name (`name:qualifier`) or from `?Qualifier=`.
    pub qualifier: Option<String>,
    /// Given by a partial or full ARN.
    pub account_id: Option<String>,
    /// Given by a full ARN.
    pub region: Option<String>,
}

impl FunctionRef {
    /// Reads the `{FunctionName}` path segment (escapes such as `%3A` are decoded if the
    /// server left them; a valid name has none) and the `Qualifier` query parameter.
    pub fn parse(segment: &str, query_qualifier: Option<&str>) -> Result<Self, LambdaApiError> {
        let raw = percent::decode_path(segment);
        let mut function = parse_function_name(&raw)?;
        if let Some(q) = query_qualifier.filter(|q| !q.is_empty()) {
            if q.len() > MAX_QUALIFIER_LEN {
                return Err(validation(
                    q,
                    "qualifier",
                    &format!("Member must have length less than or equal to {MAX_QUALIFIER_LEN}"),
                ));
            }
            if !q
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '$' | '_' | '-'))
            {
                return Err(validation(
                    q,
                    "qualifier",
                    &format!("Member must satisfy regular expression pattern: {QUALIFIER_PATTERN}"),
                ));
            }
            match &function.qualifier {
                Some(from_name) if from_name != q => {
                    return Err(LambdaApiError::InvalidParameterValue {
                        message: "The derived qualifier from the function name does not match the specified qualifier.".into(),
                    });
                }
                _ => function.qualifier = Some(q.to_string()),
            }
        }
        Ok(function)
    }

    /// Checks that the function is served here: same region and account, a function
    /// `exists`, and no version other than `$LATEST`. Answers as Lambda does otherwise.
    pub fn resolve(
        &self,
        scope: &LambdaScope<'_>,
        exists: impl Fn(&str) -> bool,
    ) -> Result<(), LambdaApiError> {
        if let Some(region) = self.region.as_deref().filter(|r| *r != scope.region) {
            return Err(LambdaApiError::ResourceNotFound {
                message: format!(
                    "Functions from '{region}' are not reachable in this region ('{}')",
                    scope.region
                ),
            });
        }
        let account = self.account_id.as_deref().unwrap_or(scope.account_id);
        let qualifier = self.qualifier.as_deref();
        let not_found = || {
            LambdaApiError::function_not_found(&function_arn(
                scope.region,
                account,
                &self.name,
                qualifier,
            ))
        };
        if account != scope.account_id || !exists(&self.name) {
            return Err(not_found());
        }
        if qualifier.is_some_and(|q| q != LATEST) {
            return Err(not_found());
        }
        Ok(())
    }
}

/// The last `Qualifier` of a raw query string, decoded.
pub fn qualifier_from_query(query: Option<&str>) -> Option<String> {
    percent::parse_query(query.unwrap_or_default())
        .into_iter()
        .filter(|(k, _)| k == "Qualifier")
        .map(|(_, v)| v)
        .next_back()
}

fn validation(value: &str, member: &str, constraint: &str) -> LambdaApiError {
    LambdaApiError::Validation {
        message: format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"
        ),
    }
}

/// `name`, `name:qualifier`, `<account>:function:name[:qualifier]`,
/// `arn:<partition>:lambda:<region>:<account>:function:name[:qualifier]`.
fn parse_function_name(raw: &str) -> Result<FunctionRef, LambdaApiError> {
    if raw.is_empty() {
        return Err(validation(
            raw,
            "functionName",
            "Member must have length greater than or equal to 1",
        ));
    }
    if raw.len() > MAX_FUNCTION_NAME_LEN {
        return Err(validation(
            raw,
            "functionName",
            &format!("Member must have length less than or equal to {MAX_FUNCTION_NAME_LEN}"),
        ));
    }
    let pattern_error = || {
        validation(
            raw,
            "functionName",
            &format!("Member must satisfy regular expression pattern: {FUNCTION_NAME_PATTERN}"),
        )
    };
    let parts: Vec<&str> = raw.split(':').collect();
    let (name, qualifier, account, region) = match parts.as_slice() {
        [name] => (*name, None, None, None),
        [name, q] => (*name, Some(*q), None, None),
        [account, "function", name, rest @ ..] if rest.len() <= 1 && is_account(account) => {
            (*name, rest.first().copied(), Some(*account), None)
        }
        [
            "arn",
            partition,
            "lambda",
            region,
            account,
            "function",
            name,
            rest @ ..,
        ] if rest.len() <= 1
            && is_partition(partition)
            && is_region(region)
            && is_account(account) =>
        {
            (*name, rest.first().copied(), Some(*account), Some(*region))
        }
        _ => return Err(pattern_error()),
    };
    let name_ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    let qualifier_ok = qualifier.is_none_or(|q| {
        q == LATEST
            || (!q.is_empty()
                && q.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_')))
    });
    if !name_ok || !qualifier_ok {
        return Err(pattern_error());
    }
    Ok(FunctionRef {
        name: name.to_string(),
        qualifier: qualifier.map(str::to_string),
        account_id: account.map(str::to_string),
        region: region.map(str::to_string),
    })
}

/// Twelve digits.
fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// `aws[a-zA-Z-]*`, or empty (the pattern makes the partition optional).
fn is_partition(s: &str) -> bool {
    s.is_empty()
        || s.strip_prefix("aws")
            .is_some_and(|rest| rest.chars().all(|c| c.is_ascii_alphabetic() || c == '-'))
}

/// `[a-z]{2}(-gov)?-[a-z]+-\d`, e.g. `us-east-1`, `us-gov-west-1`.
fn is_region(s: &str) -> bool {
    let lower = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase());
    let geo = |p: &str| p.len() == 2 && lower(p);
    let digit = |p: &str| p.len() == 1 && p.bytes().all(|b| b.is_ascii_digit());
    match s.split('-').collect::<Vec<_>>().as_slice() {
        [g, area, n] => geo(g) && lower(area) && digit(n),
        [g, "gov", area, n] => geo(g) && lower(area) && digit(n),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    const SCOPE: LambdaScope<'static> = LambdaScope {
        region: "us-east-1",
        account_id: "123456789012",
    };

    fn exists(name: &str) -> bool {
        matches!(name, "hello" | "my-func_1.v2")
    }

    fn resolve(segment: &str, query: Option<&str>) -> Result<FunctionRef, LambdaApiError> {
        let f = FunctionRef::parse(segment, query)?;
        f.resolve(&SCOPE, exists)?;
        Ok(f)
    }

    fn body(e: &LambdaApiError) -> Value {
        serde_json::from_slice(&e.body()).expect("JSON body")
    }

    fn message(e: &LambdaApiError) -> String {
        e.to_string()
    }

    #[test]
    fn error_answers_have_aws_status_type_and_body() {
        let cases = [
            (
                LambdaApiError::function_not_found(
                    "arn:aws:lambda:us-east-1:123456789012:function:nope",
                ),
                404,
                "ResourceNotFoundException",
                "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope",
            ),
            (
                LambdaApiError::invalid_request_content("Could not parse request body into json"),
                400,
                "InvalidRequestContentException",
                "Could not parse request body into json",
            ),
            (
                LambdaApiError::request_too_large(6_291_456, "InvokeFunction"),
                413,
                "RequestEntityTooLargeException",
                "Request must be smaller than 6291456 bytes for the InvokeFunction operation",
            ),
            (
                LambdaApiError::service("the agent is unreachable"),
                500,
                "ServiceException",
                "the agent is unreachable",
            ),
        ];
        for (error, status, error_type, text) in cases {
            let r = error.to_response();
            assert_eq!(r.status().as_u16(), status, "{error_type}");
            assert_eq!(r.headers()["x-amzn-ErrorType"], error_type);
            assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
            let b: Value = serde_json::from_slice(r.body()).expect("JSON");
            assert_eq!(b, json!({"Type": "User", "message": text}));
        }
    }

    #[test]
    fn throttles_carry_their_reason() {
        let e = LambdaApiError::too_many_requests(
            ThrottleReason::ReservedFunctionConcurrentInvocationLimitExceeded,
        );
        let r = e.to_response();
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["x-amzn-errortype"], "TooManyRequestsException");
        assert_eq!(
            body(&e),
            json!({
                "Type": "User",
                "message": "Rate Exceeded.",
                "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded"
            })
        );
        for reason in [
            ThrottleReason::ConcurrentInvocationLimitExceeded,
            ThrottleReason::FunctionInvocationRateLimitExceeded,
            ThrottleReason::ReservedFunctionInvocationRateLimitExceeded,
            ThrottleReason::CallerRateLimitExceeded,
        ] {
            assert_eq!(
                body(&LambdaApiError::too_many_requests(reason))["Reason"],
                reason.as_str()
            );
        }
    }

    #[test]
    fn converts_to_the_rie_error_shape() {
        let e =
            LambdaApiError::too_many_requests(ThrottleReason::ConcurrentInvocationLimitExceeded);
        let rie: esb_rie::api_error::InvokeApiError = e.into();
        assert_eq!(rie.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(rie.error_type, "TooManyRequestsException");
        assert_eq!(rie.message, "Rate Exceeded.");
        assert_eq!(rie.reason, Some("ConcurrentInvocationLimitExceeded"));
        let rie: esb_rie::api_error::InvokeApiError = LambdaApiError::service("x").into();
        assert_eq!(rie.reason, None);
    }

    #[test]
    fn plain_name() {
        let f = resolve("hello", None).expect("served");
        assert_eq!(
            f,
            FunctionRef {
                name: "hello".into(),
                qualifier: None,
                account_id: None,
                region: None,
            }
        );
        let f = resolve("my-func_1.v2", None).expect("all allowed characters");
        assert_eq!(f.name, "my-func_1.v2");
    }

    #[test]
    fn partial_and_full_arns() {
        let f = resolve("123456789012:function:hello", None).expect("partial ARN");
        assert_eq!(f.name, "hello");
        assert_eq!(f.account_id.as_deref(), Some("123456789012"));
        let f = resolve("arn:aws:lambda:us-east-1:123456789012:function:hello", None)
            .expect("full ARN");
        assert_eq!(
            (f.name.as_str(), f.region.as_deref()),
            ("hello", Some("us-east-1"))
        );
        let f = resolve(
            "arn:aws:lambda:us-east-1:123456789012:function:hello:$LATEST",
            None,
        )
        .expect("full ARN with $LATEST");
        assert_eq!(f.qualifier.as_deref(), Some("$LATEST"));
        let f = resolve("123456789012:function:hello:$LATEST", None).expect("partial + qualifier");
        assert_eq!(f.qualifier.as_deref(), Some("$LATEST"));
        resolve("hello:$LATEST", None).expect("name + qualifier");
    }

    #[test]
    fn percent_encoded_segments_are_read() {
        let f = resolve(
            "arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Ahello",
            None,
        )
        .expect("encoded ARN");
        assert_eq!(f.name, "hello");
        resolve("hello%3A%24LATEST", None).expect("encoded qualifier");
    }

    #[test]
    fn unknown_functions_are_not_found_with_their_arn() {
        let e = resolve("nope", None).expect_err("unknown");
        assert_eq!(e.status(), 404);
        assert_eq!(
            message(&e),
            "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope"
        );
        let e = resolve(
            "arn:aws:lambda:us-east-1:123456789012:function:nope:$LATEST",
            None,
        )
        .expect_err("unknown");
        assert_eq!(
            message(&e),
            "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope:$LATEST"
        );
    }

    #[test]
    fn only_latest_exists() {
        let e = resolve("hello:1", None).expect_err("version 1");
        assert_eq!(
            message(&e),
            "Function not found: arn:aws:lambda:us-east-1:123456789012:function:hello:1"
        );
        let e = resolve("hello", Some("live")).expect_err("alias");
        assert_eq!(e.error_type(), "ResourceNotFoundException");
        assert_eq!(
            message(&e),
            "Function not found: arn:aws:lambda:us-east-1:123456789012:function:hello:live"
        );
        resolve("hello", Some("$LATEST")).expect("query $LATEST");
        resolve("hello", Some("")).expect("empty Qualifier is no qualifier");
    }

    #[test]
    fn qualifier_in_name_and_query_must_agree() {
        resolve("hello:$LATEST", Some("$LATEST")).expect("same qualifier");
        let e = resolve("hello:$LATEST", Some("1")).expect_err("contradiction");
        assert_eq!(e.error_type(), "InvalidParameterValueException");
        assert_eq!(e.status(), 400);
        assert_eq!(
            message(&e),
            "The derived qualifier from the function name does not match the specified qualifier."
        );
    }

    #[test]
    fn invalid_query_qualifiers() {
        let e = resolve("hello", Some("bad qualifier")).expect_err("space");
        assert_eq!(e.error_type(), "ValidationException");
        assert_eq!(
            message(&e),
            "1 validation error detected: Value 'bad qualifier' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: (|[a-zA-Z0-9$_-]+)"
        );
        let long = "q".repeat(129);
        let e = resolve("hello", Some(&long)).expect_err("too long");
        assert!(message(&e).ends_with("Member must have length less than or equal to 128"));
    }

    #[test]
    fn other_regions_and_accounts_are_not_found() {
        let e = resolve("arn:aws:lambda:eu-west-1:123456789012:function:hello", None)
            .expect_err("other region");
        assert_eq!(e.status(), 404);
        assert_eq!(
            message(&e),
            "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')"
        );
        let e = resolve("999999999999:function:hello", None).expect_err("other account");
        assert_eq!(
            message(&e),
            "Function not found: arn:aws:lambda:us-east-1:999999999999:function:hello"
        );
        resolve(
            "arn:aws-us-gov:lambda:us-east-1:123456789012:function:hello",
            None,
        )
        .expect("partition is not checked against the region");
    }

    #[test]
    fn malformed_names_are_validation_errors() {
        for name in [
            "has space",
            "bad/slash",
            "a:b:c",
            "name:",
            ":q",
            "hello:bad.qualifier",
            "12345:function:hello",
            "123456789012:func:hello",
            "arn:aws:lambda:useast1:123456789012:function:hello",
            "arn:aws:lambda:us-east-1:12345:function:hello",
            "arn:aws:s3:us-east-1:123456789012:function:hello",
            "arn:gcp:lambda:us-east-1:123456789012:function:hello",
            "arn:aws:lambda:us-east-1:123456789012:function:hello:1:2",
            "arn:aws:lambda:us-east-1:123456789012:function:",
            "héllo",
            "%00",
        ] {
            let e = FunctionRef::parse(name, None).expect_err(name);
            assert_eq!(e.error_type(), "ValidationException", "{name}");
            assert_eq!(e.status(), 400);
            assert!(
                message(&e).ends_with(FUNCTION_NAME_PATTERN),
                "{name}: {}",
                message(&e)
            );
            assert!(message(&e).starts_with("1 validation error detected: Value '"));
        }
    }

    #[test]
    fn name_length_limits() {
        let e = FunctionRef::parse("", None).expect_err("empty");
        assert_eq!(
            message(&e),
            "1 validation error detected: Value '' at 'functionName' failed to satisfy constraint: Member must have length greater than or equal to 1"
        );
        let e = FunctionRef::parse(&"a".repeat(171), None).expect_err("long");
        assert!(message(&e).ends_with("Member must have length less than or equal to 170"));
        FunctionRef::parse(&"a".repeat(170), None).expect("170 is allowed");
    }

    #[test]
    fn regions_accounts_partitions() {
        assert!(is_region("us-east-1"));
        assert!(is_region("us-gov-west-1"));
        assert!(is_region("ap-southeast-2"));
        assert!(!is_region("us-east-12"));
        assert!(!is_region("USA-east-1"));
        assert!(!is_region("us--1"));
        assert!(!is_region(""));
        assert!(is_account("000000000000"));
        assert!(!is_account("00000000000a"));
        assert!(is_partition("aws"));
        assert!(is_partition("aws-cn"));
        assert!(is_partition(""));
        assert!(!is_partition("aw"));
        assert!(!is_partition("aws1"));
    }

    #[test]
    fn qualifier_from_the_query_string() {
        assert_eq!(qualifier_from_query(None), None);
        assert_eq!(qualifier_from_query(Some("")), None);
        assert_eq!(
            qualifier_from_query(Some("Qualifier=%24LATEST")),
            Some("$LATEST".into())
        );
        assert_eq!(
            qualifier_from_query(Some("x=1&Qualifier=a&Qualifier=b")),
            Some("b".into())
        );
        assert_eq!(qualifier_from_query(Some("qualifier=a")), None);
    }

    #[test]
    fn arns() {
        assert_eq!(
            SCOPE.function_arn("f", None),
            "arn:aws:lambda:us-east-1:123456789012:function:f"
        );
        assert_eq!(
            SCOPE.function_arn("f", Some("$LATEST")),
            "arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST"
        );
    }
}
