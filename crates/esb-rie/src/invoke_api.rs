//! The Invoke side (`POST /2015-03-31/functions/{name}/invocations`): validates a
//! request the way the Lambda Invoke API does and answers the way real Lambda answers
//! (function errors as 200 + `X-Amz-Function-Error`, never an empty body).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::sandbox::{InvokeRequest, Rejection, Sandbox};
use esb_lambda::InvokeApiError;
use esb_lambda::headers::WORKER_TOKEN as WORKER_TOKEN_HEADER;
use esb_lambda::headers::{
    CLIENT_CONTEXT, EXECUTED_VERSION, FUNCTION_ERROR, INVOCATION_TYPE, LOG_RESULT, LOG_TYPE,
    REQUEST_ID, TRACE_ID,
};
use esb_lambda::limits::{
    MAX_ASYNC_REQUEST_BYTES, MAX_CLIENT_CONTEXT_BYTES, MAX_SYNC_REQUEST_BYTES,
};
use esb_lambda::payload::read_payload;

pub fn router(sandbox: Arc<Sandbox>) -> Router {
    Router::new()
        .route("/2015-03-31/functions/{name}/invocations", post(invoke))
        .route("/esb/v1/initialized", get(initialized))
        .fallback(unknown_operation)
        .with_state(sandbox)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InvocationType {
    RequestResponse,
    Event,
    DryRun,
}

async fn invoke(
    State(sandbox): State<Arc<Sandbox>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match handle(sandbox, query, headers, body).await {
        Ok(resp) => resp,
        Err(e) => e.into_response(),
    }
}

async fn handle(
    sandbox: Arc<Sandbox>,
    query: HashMap<String, String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, InvokeApiError> {
    if let (Some(mine), Some(sent)) = (
        sandbox.config().worker_token.as_deref(),
        header_str(&headers, WORKER_TOKEN_HEADER)?,
    ) && mine != sent
    {
        return Err(InvokeApiError::new(
            StatusCode::MISDIRECTED_REQUEST,
            "EsbWorkerMismatch",
            "This request was meant for another worker; it was not run.",
        ));
    }
    let invocation_type = match header_str(&headers, INVOCATION_TYPE)? {
        None | Some("RequestResponse") => InvocationType::RequestResponse,
        Some("Event") => InvocationType::Event,
        Some("DryRun") => InvocationType::DryRun,
        Some(other) => {
            return Err(enum_violation(
                other,
                "invocationType",
                "[Event, RequestResponse, DryRun]",
            ));
        }
    };
    let want_log_tail = match header_str(&headers, LOG_TYPE)? {
        None | Some("None") => false,
        Some("Tail") => true,
        Some(other) => return Err(enum_violation(other, "logType", "[None, Tail]")),
    };
    let qualifier = query.get("Qualifier").filter(|q| !q.is_empty()).cloned();
    if let Some(q) = &qualifier {
        let cfg = sandbox.config();
        if q != "$LATEST" && q != &cfg.version {
            return Err(InvokeApiError::new(
                StatusCode::NOT_FOUND,
                "ResourceNotFoundException",
                format!("Function not found: {}", cfg.invoked_arn(Some(q))),
            ));
        }
    }
    let (limit, operation) = match invocation_type {
        InvocationType::Event => (MAX_ASYNC_REQUEST_BYTES, "InvokeAsync"),
        _ => (MAX_SYNC_REQUEST_BYTES, "InvokeFunction"),
    };
    let payload = read_payload(body, limit, operation).await?;
    let client_context = header_str(&headers, CLIENT_CONTEXT)?
        .map(decode_client_context)
        .transpose()?;
    let req = InvokeRequest {
        payload,
        qualifier,
        trace_id: header_str(&headers, TRACE_ID)?.map(str::to_string),
        client_context,
        cognito_identity: header_str(&headers, "x-amz-cognito-identity")?.map(str::to_string),
        tenant_id: header_str(&headers, "x-amz-tenant-id")?.map(str::to_string),
        want_log_tail: want_log_tail && invocation_type == InvocationType::RequestResponse,
    };
    // DryRun only validates; it neither needs nor takes the worker.
    if invocation_type == InvocationType::DryRun {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let reservation = sandbox.reserve().map_err(rejection_error)?;
    if invocation_type == InvocationType::Event {
        // The event is accepted: its run, logs and REPORT happen in the background.
        tokio::spawn(async move {
            let result = sandbox.invoke(reservation, req).await;
            if let Err(f) = result.outcome {
                tracing::warn!(request_id = %result.request_id, error_type = %f.error_type, "asynchronous invocation failed");
            }
        });
        return Ok(StatusCode::ACCEPTED.into_response());
    }
    let result = sandbox.invoke(reservation, req).await;
    let (body, function_error) = match result.outcome {
        Ok(body) => (body, false),
        Err(f) => (f.body, true),
    };
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(EXECUTED_VERSION, header_value(&sandbox.config().version));
    h.insert(REQUEST_ID, header_value(&result.request_id));
    if function_error {
        h.insert(FUNCTION_ERROR, HeaderValue::from_static("Unhandled"));
    }
    if let Some(tail) = result.log_tail {
        h.insert(LOG_RESULT, header_value(&BASE64.encode(tail)));
    }
    Ok(resp)
}

/// `X-Amz-Client-Context` is base64 of a JSON object; the runtime gets the decoded JSON.
pub fn decode_client_context(encoded: &str) -> Result<String, InvokeApiError> {
    let invalid = || {
        InvokeApiError::invalid_content(
            "Client context must be a valid Base64-encoded JSON object.",
        )
    };
    let decoded = BASE64.decode(encoded.trim()).map_err(|_| invalid())?;
    if decoded.len() > MAX_CLIENT_CONTEXT_BYTES {
        return Err(InvokeApiError::invalid_content(format!(
            "Client context must be smaller than {MAX_CLIENT_CONTEXT_BYTES} bytes once decoded."
        )));
    }
    let value: serde_json::Value = serde_json::from_slice(&decoded).map_err(|_| invalid())?;
    if !value.is_object() {
        return Err(invalid());
    }
    let text = String::from_utf8(decoded).map_err(|_| invalid())?;
    // Header values cannot carry control characters (a pretty-printed document has
    // newlines): such documents are passed on re-serialised, compact, with the control
    // characters serde_json leaves as they are (DEL, U+0080..U+009F) escaped too.
    // Compact JSON has them only inside strings, where `\uXXXX` means the same.
    Ok(if text.chars().any(char::is_control) {
        escape_controls(&value.to_string())
    } else {
        text
    })
}

fn escape_controls(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_control() {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, InvokeApiError> {
    headers
        .get(name)
        .map(|v| {
            v.to_str().map_err(|_| {
                InvokeApiError::invalid_content(format!("Header {name} is not valid ASCII text"))
            })
        })
        .transpose()
}

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn enum_violation(value: &str, field: &str, allowed: &str) -> InvokeApiError {
    InvokeApiError::new(
        StatusCode::BAD_REQUEST,
        "ValidationException",
        format!(
            "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: Member must satisfy enum value set: {allowed}"
        ),
    )
}

fn rejection_error(r: Rejection) -> InvokeApiError {
    match r {
        Rejection::Busy(_) => InvokeApiError {
            reason: Some("ConcurrentInvocationLimitExceeded"),
            ..InvokeApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequestsException",
                format!("Rate Exceeded. {r}"),
            )
        },
        Rejection::ShuttingDown => InvokeApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceException",
            r.to_string(),
        ),
    }
}

/// Lambda's limit on initialisation.
const INIT_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

/// ESB's own: answers 200 once the runtime's init has settled (waiting up to Lambda's
/// 10 s init limit), else 503. The docker runtime freezes standby workers after it.
async fn initialized(State(sandbox): State<Arc<Sandbox>>) -> Response {
    if sandbox.wait_initialised(INIT_LIMIT).await {
        (StatusCode::OK, "initialized\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "initializing\n").into_response()
    }
}

async fn unknown_operation() -> InvokeApiError {
    InvokeApiError::new(
        StatusCode::NOT_FOUND,
        "UnknownOperationException",
        "Unknown operation: this endpoint serves POST /2015-03-31/functions/{name}/invocations",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_context_is_decoded_and_validated() {
        let ok = BASE64.encode(r#"{"custom":{"k":"v"}}"#);
        assert_eq!(
            decode_client_context(&ok).expect("valid"),
            r#"{"custom":{"k":"v"}}"#
        );
        let pretty = BASE64.encode("{\n  \"custom\": {}\n}");
        assert_eq!(
            decode_client_context(&pretty).expect("valid"),
            r#"{"custom":{}}"#
        );
        for bad in ["%%%", &BASE64.encode("[1]"), &BASE64.encode("nope")] {
            let e = decode_client_context(bad).expect_err(bad);
            assert_eq!(e.error_type, "InvalidRequestContentException");
        }
    }

    /// Found by the `runtime_api` fuzz target: a DEL inside a string survived the
    /// compact re-serialisation, so the header to the runtime could not be built and
    /// the runtime silently got no client context.
    #[test]
    fn client_context_with_del_or_c1_controls_reaches_the_runtime() {
        let raw = "{\"client\":{\"inst\u{7f}m\":{\"a\":1},\"c\":\"x\u{85}y\"}}";
        let decoded = decode_client_context(&BASE64.encode(raw)).expect("valid");
        assert!(HeaderValue::from_str(&decoded).is_ok(), "{decoded:?}");
        let back: serde_json::Value = serde_json::from_str(&decoded).expect("json");
        let orig: serde_json::Value = serde_json::from_str(raw).expect("json");
        assert_eq!(back, orig);
    }
}
