//! The Runtime API (`/2018-06-01/runtime/...`) the language runtime polls, with the
//! headers, status codes and error bodies of AWS's implementation.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use bytes::Bytes;

use crate::failure::Failure;
use crate::runtime_api_error::RuntimeApiError;
use crate::sandbox::{Event, Sandbox};
use esb_lambda::body::{BodyError, Collected, read_limited};
use esb_lambda::limits::MAX_RESPONSE_BYTES;

const ERROR_TYPE: &str = "lambda-runtime-function-error-type";
const ERROR_BODY: &str = "lambda-runtime-function-error-body";

pub fn router(sandbox: Arc<Sandbox>) -> Router {
    Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .route("/2018-06-01/ping", get(|| async { "pong" }))
        .with_state(sandbox)
}

async fn next(State(sandbox): State<Arc<Sandbox>>) -> Response {
    match sandbox.next().await {
        Ok(event) => event_response(event),
        Err(e) => e.into_response(),
    }
}

fn event_response(event: Event) -> Response {
    let mut resp = (StatusCode::OK, event.payload).into_response();
    let h = resp.headers_mut();
    // awslambdaric crashes (exit 139) without Content-Type: always send it, as AWS does.
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let mut set = |name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(HeaderName::from_static(name), v);
        }
    };
    set("lambda-runtime-aws-request-id", &event.request_id);
    set("lambda-runtime-deadline-ms", &event.deadline_ms.to_string());
    set("lambda-runtime-invoked-function-arn", &event.invoked_arn);
    set("lambda-runtime-trace-id", &event.trace_id);
    if let Some(cc) = &event.client_context {
        set("lambda-runtime-client-context", cc);
    }
    if let Some(ci) = &event.cognito_identity {
        set("lambda-runtime-cognito-identity", ci);
    }
    if let Some(t) = &event.tenant_id {
        set("lambda-runtime-aws-tenant-id", t);
    }
    resp
}

fn header_string(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn accepted() -> Response {
    (
        StatusCode::ACCEPTED,
        [(header::CONTENT_TYPE, "application/json")],
        "{\"status\":\"OK\"}\n",
    )
        .into_response()
}

async fn response(
    State(sandbox): State<Arc<Sandbox>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Some(mode) = header_string(&headers, "lambda-runtime-function-response-mode")
        && !mode.eq_ignore_ascii_case("streaming")
    {
        return RuntimeApiError::bad_request(
            "InvalidFunctionResponseMode",
            format!("Invalid function response mode: {mode}"),
        )
        .into_response();
    }
    let result = match read_limited(body, MAX_RESPONSE_BYTES).await {
        Ok(posted) => match streamed_error(&posted) {
            Some(failure) => Err(failure),
            None => Ok(posted.bytes),
        },
        Err(BodyError::TooLarge { .. }) => Err(Failure::ResponseTooLarge),
        Err(e) => return unreadable(e),
    };
    conclude(&sandbox, &id, result)
}

/// A streamed response that failed midway reports its error in trailers.
fn streamed_error(posted: &Collected) -> Option<Failure> {
    let trailers = posted.trailers.as_ref()?;
    let error_type = header_string(trailers, ERROR_TYPE)?;
    let body = header_string(trailers, ERROR_BODY)
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .map(Bytes::from)
        .unwrap_or_default();
    Some(Failure::Function { body, error_type })
}

async fn error(
    State(sandbox): State<Arc<Sandbox>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let error_type = header_string(&headers, ERROR_TYPE).unwrap_or_else(|| "Unhandled".into());
    let failure = match read_limited(body, MAX_RESPONSE_BYTES).await {
        Ok(posted) => Failure::Function {
            body: posted.bytes,
            error_type,
        },
        Err(BodyError::TooLarge { .. }) => Failure::ResponseTooLarge,
        Err(e) => return unreadable(e),
    };
    conclude(&sandbox, &id, Err(failure))
}

/// Hands the runtime's answer to the waiting invocation and tells the runtime how it went.
fn conclude(sandbox: &Sandbox, id: &str, result: Result<Bytes, Failure>) -> Response {
    let too_large = matches!(result, Err(Failure::ResponseTooLarge));
    match sandbox.respond(id, result) {
        Ok(()) if too_large => RuntimeApiError::too_large(MAX_RESPONSE_BYTES).into_response(),
        Ok(()) => accepted(),
        Err(e) => e.into_response(),
    }
}

fn unreadable(e: BodyError) -> Response {
    RuntimeApiError::bad_request("InvalidRequest", e.to_string()).into_response()
}

async fn init_error(
    State(sandbox): State<Arc<Sandbox>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let error_type = header_string(&headers, ERROR_TYPE).unwrap_or_else(|| "Unhandled".into());
    let body = match read_limited(body, MAX_RESPONSE_BYTES).await {
        Ok(posted) => posted.bytes,
        Err(BodyError::TooLarge { .. }) => {
            return RuntimeApiError::too_large(MAX_RESPONSE_BYTES).into_response();
        }
        Err(e) => return unreadable(e),
    };
    match sandbox.init_error(body, error_type) {
        Ok(()) => accepted(),
        Err(e) => e.into_response(),
    }
}
