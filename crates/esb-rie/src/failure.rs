//! The ways an invocation can fail, rendered as the function-error payloads real
//! Lambda returns (always 200 with `X-Amz-Function-Error: Unhandled`).

use std::time::Duration;

use bytes::Bytes;

use esb_lambda::limits::MAX_RESPONSE_BYTES;

#[derive(Debug, Clone)]
pub enum Failure {
    /// The runtime posted `/invocation/{id}/error`.
    Function { body: Bytes, error_type: String },
    /// The runtime posted `/init/error`.
    Init { body: Bytes, error_type: String },
    /// The runtime exited (or crashed) before answering.
    Exit { description: String },
    /// The invocation ran past the function's timeout; the runtime was killed.
    Timeout { after: Duration },
    /// The runtime answered with more than 6 MiB.
    ResponseTooLarge,
    /// The runtime command could not be started at all.
    InvalidEntrypoint { message: String },
    /// The worker was shut down (SIGTERM) before the invocation finished.
    Shutdown,
}

/// A failure as the caller sees it.
#[derive(Debug, Clone)]
pub struct RenderedFailure {
    pub body: Bytes,
    pub error_type: String,
    /// `Status:` on the REPORT line.
    pub status: &'static str,
}

impl Failure {
    pub fn render(&self, request_id: &str) -> RenderedFailure {
        let synthesized = |error_type: &str, message: String| RenderedFailure {
            body: error_json(error_type, &message),
            error_type: error_type.to_string(),
            status: "error",
        };
        match self {
            Failure::Function { body, error_type } | Failure::Init { body, error_type } => {
                RenderedFailure {
                    body: runtime_error_body(body, error_type),
                    error_type: error_type.clone(),
                    status: "error",
                }
            }
            Failure::Exit { description } => synthesized(
                "Runtime.ExitError",
                format!("RequestId: {request_id} Error: Runtime exited with error: {description}"),
            ),
            Failure::Timeout { after } => RenderedFailure {
                status: "timeout",
                ..synthesized(
                    "Sandbox.Timedout",
                    format!(
                        "RequestId: {request_id} Error: Task timed out after {:.2} seconds",
                        after.as_secs_f64()
                    ),
                )
            },
            Failure::ResponseTooLarge => synthesized(
                "Function.ResponseSizeTooLarge",
                format!(
                    "Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."
                ),
            ),
            Failure::InvalidEntrypoint { message } => synthesized(
                "Runtime.InvalidEntrypoint",
                format!("RequestId: {request_id} Error: {message}"),
            ),
            Failure::Shutdown => synthesized(
                "Sandbox.Terminated",
                format!(
                    "RequestId: {request_id} Error: the execution environment was shut down before the invocation completed"
                ),
            ),
        }
    }
}

/// The runtime's own error document is passed through when it is JSON; anything else
/// is wrapped so callers always receive `{"errorType","errorMessage"}`.
fn runtime_error_body(body: &Bytes, error_type: &str) -> Bytes {
    if serde_json::from_slice::<serde_json::Value>(body).is_ok_and(|v| v.is_object()) {
        return body.clone();
    }
    error_json(error_type, &String::from_utf8_lossy(body))
}

/// `{"errorType":..,"errorMessage":..}` in Lambda's field order.
pub fn error_json(error_type: &str, message: &str) -> Bytes {
    let quote = |s: &str| serde_json::Value::from(s).to_string();
    Bytes::from(format!(
        r#"{{"errorType":{},"errorMessage":{}}}"#,
        quote(error_type),
        quote(message)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_and_exit_payloads_name_the_request() {
        let t = Failure::Timeout {
            after: Duration::from_secs(3),
        }
        .render("abc");
        let v: serde_json::Value = serde_json::from_slice(&t.body).expect("json");
        assert_eq!(v["errorType"], "Sandbox.Timedout");
        assert_eq!(
            v["errorMessage"],
            "RequestId: abc Error: Task timed out after 3.00 seconds"
        );
        assert_eq!(t.status, "timeout");
        let e = Failure::Exit {
            description: "exit status 3".into(),
        }
        .render("abc");
        assert_eq!(
            &e.body[..],
            br#"{"errorType":"Runtime.ExitError","errorMessage":"RequestId: abc Error: Runtime exited with error: exit status 3"}"#
        );
    }

    #[test]
    fn non_json_runtime_errors_are_wrapped() {
        let f = Failure::Function {
            body: Bytes::from_static(b"plain text"),
            error_type: "Custom".into(),
        }
        .render("x");
        let v: serde_json::Value = serde_json::from_slice(&f.body).expect("json");
        assert_eq!(v["errorType"], "Custom");
        assert_eq!(v["errorMessage"], "plain text");
        let raw = br#"{"errorMessage":"m","errorType":"T"}"#;
        let g = Failure::Function {
            body: Bytes::from_static(raw),
            error_type: "T".into(),
        }
        .render("x");
        assert_eq!(&g.body[..], raw);
    }
}
