//! The Lambda Invoke API of the box (`POST /2015-03-31/functions/{name}/invocations`):
//! what boto3's `lambda.invoke` talks to, from users and from functions calling each
//! other. Resolves the function (name, partial or full ARN, qualifier), takes a worker
//! from its pool and forwards the invocation; the worker's answer (including
//! `X-Amz-Function-Error`, `X-Amz-Log-Result`) goes back unchanged.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use esb_lambda::InvokeApiError;
use esb_lambda::limits::{MAX_ASYNC_REQUEST_BYTES, MAX_SYNC_REQUEST_BYTES};
use esb_lambda::payload::{json_payload, read_body};

use crate::call::{CallError, call, worker_bound};
use crate::gateway::Gateway;
use crate::pool::{AcquireError, FunctionPool};
use esb_lambda::headers::{
    ERROR_TYPE, EXECUTED_VERSION, FUNCTION_ERROR, INVOCATION_TYPE, LOG_RESULT, REQUEST_ID, TRACE_ID,
};

/// Answer headers passed back from the worker.
const RETURNED: [&str; 6] = [
    "content-type",
    FUNCTION_ERROR,
    LOG_RESULT,
    EXECUTED_VERSION,
    REQUEST_ID,
    ERROR_TYPE,
];

pub async fn invoke(
    State(gw): State<Arc<Gateway>>,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match handle(gw, name, query, uri, headers, body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn handle(
    gw: Arc<Gateway>,
    name: String,
    query: HashMap<String, String>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, InvokeApiError> {
    let invocation_type = headers
        .get(INVOCATION_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("RequestResponse")
        .to_string();
    let raw = match invocation_type.as_str() {
        "Event" => read_in_time(body, MAX_ASYNC_REQUEST_BYTES, "InvokeAsync").await?,
        _ => read_in_time(body, MAX_SYNC_REQUEST_BYTES, "InvokeFunction").await?,
    };
    // Who is asking comes before what they ask for, as in Lambda; the signature
    // covers the body as sent.
    gw.authenticate("POST", &uri, &headers, &raw)
        .map_err(crate::auth::invoke_api_error)?;
    let payload = json_payload(raw)?;
    let (function, path_qualifier) = crate::function_ref::parse(&name, &gw)?;
    let qualifier = query.get("Qualifier").cloned().or(path_qualifier);
    let not_found = |arn: String| {
        InvokeApiError::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            format!("Function not found: {arn}"),
        )
    };
    let pool = gw
        .plan()
        .pools
        .get(&function)
        .cloned()
        .ok_or_else(|| not_found(gw.function_arn(&function, None)))?;
    if let Some(q) = qualifier.as_deref().filter(|q| *q != "$LATEST") {
        return Err(not_found(gw.function_arn(&function, Some(q))));
    }
    match invocation_type.as_str() {
        "Event" => {
            // Accepted only once it is on disk: from here on it runs, or lands in its
            // failure destination, even if the box dies (see async_store).
            let event_id = uuid::Uuid::new_v4().to_string();
            let event = crate::async_store::QueuedEvent {
                id: event_id.clone(),
                function: function.clone(),
                payload: String::from_utf8_lossy(&payload).into_owned(),
                trace_id: headers
                    .get(TRACE_ID)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string),
                accepted_at_ms: crate::clock::now_ms(),
                attempts: 0,
            };
            gw.async_store.save(&event).map_err(|e| {
                InvokeApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "ServiceException",
                    format!("The event could not be queued: {e}"),
                )
            })?;
            drop(pool);
            crate::async_dispatch::spawn(Arc::clone(&gw), event);
            let mut resp = StatusCode::ACCEPTED.into_response();
            if let Ok(v) = HeaderValue::from_str(&event_id) {
                resp.headers_mut().insert(REQUEST_ID, v);
            }
            Ok(resp)
        }
        "DryRun" => Ok(StatusCode::NO_CONTENT.into_response()),
        "RequestResponse" => run(&gw, &pool, payload, &headers).await,
        other => Err(InvokeApiError::new(
            StatusCode::BAD_REQUEST,
            "ValidationException",
            format!(
                "1 validation error detected: Value '{other}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
            ),
        )),
    }
}

/// The request body, or 408 when the client sends it too slowly (a slow client must
/// not hold a connection and a request slot for ever).
async fn read_in_time(body: Body, limit: usize, operation: &str) -> Result<Bytes, InvokeApiError> {
    tokio::time::timeout(
        crate::client_timeouts::BODY_READ_TIMEOUT,
        read_body(body, limit, operation),
    )
    .await
    .unwrap_or_else(|_| Err(InvokeApiError::body_timeout()))
}

/// Runs one invocation on a pooled worker.
async fn run(
    gw: &Gateway,
    pool: &Arc<FunctionPool>,
    payload: Bytes,
    headers: &HeaderMap,
) -> Result<Response, InvokeApiError> {
    let service = |e: CallError| {
        InvokeApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ServiceException",
            e.to_string(),
        )
    };
    let answer = call(gw, pool, payload, headers, worker_bound(pool))
        .await
        .map_err(|e| match e {
            CallError::Acquire(AcquireError::Throttled { scope, .. }) => InvokeApiError {
                reason: Some(scope.reason()),
                ..InvokeApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "TooManyRequestsException",
                    format!("Rate Exceeded. {e}"),
                )
            },
            CallError::CircuitOpen(_) => InvokeApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceException",
                e.to_string(),
            ),
            other => service(other),
        })?;
    let mut resp = (answer.status, answer.body).into_response();
    for name in RETURNED {
        if let Some(v) = answer.headers.get(name) {
            resp.headers_mut().insert(name, v.clone());
        }
    }
    Ok(resp)
}
