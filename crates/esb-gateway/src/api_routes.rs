//! The API routes of the template (`Events: Api` and `Events: HttpApi`), served like API
//! Gateway REST and HTTP APIs with Lambda proxy integration: route match, the proxy
//! event of the route's payload format, the function's answer mapped back, API
//! Gateway's own errors otherwise.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use bytes::Bytes;
use esb_lambda::body::{BodyError, read_limited};
use http::{HeaderMap, HeaderValue, StatusCode};

use crate::api_response::{RestBinary, from_lambda, internal_error, message};
use crate::auth::Guard;
use crate::auth::route_auth::Received;
use crate::call::{CallError, call};
use crate::cors::CorsRules;
use crate::function_url::{self, Refused};
use crate::gateway::Gateway;
use crate::pool::AcquireError;
use crate::proxy_request::ProxyRequest;
use crate::routes::{EventFormat, Lookup, RouteMatch};
use esb_lambda::headers::{FUNCTION_ERROR, REQUEST_ID, TRACE_ID};

/// API Gateway's payload limit.
const MAX_API_BODY: usize = 10 * 1024 * 1024;
/// API Gateway's integration timeout.
const INTEGRATION_TIMEOUT: Duration = Duration::from_secs(29);

pub async fn handle(
    State(gw): State<Arc<Gateway>>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let plan = gw.plan();
    if let Some(method) = CorsRules::preflight_method(&parts.method, &parts.headers)
        && let Lookup::Found(m) = plan.routes.lookup(&method, parts.uri.path())
        && let Some(rules) = &m.api.cors
    {
        return rules.preflight(&parts.headers, &method);
    }
    let (route, uri) = if let Some(rest) = parts.uri.path().strip_prefix(function_url::PREFIX) {
        match function_url::resolve(&plan.urls, rest, &parts.uri) {
            Ok(found) => found,
            Err(refused) => return url_refused(refused),
        }
    } else {
        match plan.routes.lookup(parts.method.as_str(), parts.uri.path()) {
            Lookup::Found(m) => (m, parts.uri.clone()),
            Lookup::NoResource => return message(StatusCode::NOT_FOUND, "Not Found"),
            Lookup::NoMethod => {
                return message(StatusCode::FORBIDDEN, "Missing Authentication Token");
            }
        }
    };
    let format = route.format;
    let Some(pool) = plan.pools.get(&route.function).cloned() else {
        return internal_error(format);
    };
    let read = tokio::time::timeout(
        crate::client_timeouts::BODY_READ_TIMEOUT,
        read_limited(Body::new(body), MAX_API_BODY),
    );
    let body: Bytes = match read.await {
        Ok(Ok(c)) => c.bytes,
        Ok(Err(BodyError::TooLarge { .. })) => {
            return message(StatusCode::PAYLOAD_TOO_LARGE, "Request Too Long");
        }
        Ok(Err(BodyError::Stalled)) | Err(_) => {
            return message(StatusCode::REQUEST_TIMEOUT, "Request Timeout");
        }
        Ok(Err(_)) => return message(StatusCode::BAD_REQUEST, "Bad Request"),
    };
    let request_id = uuid::Uuid::new_v4().to_string();
    let headers = forwarded_headers(&parts.headers, remote);
    let unsigned = format == EventFormat::FunctionUrl && route.access.guard == Guard::Open;
    let request = ProxyRequest {
        method: &parts.method,
        uri: &uri,
        headers: &headers,
        body: &body,
        source_ip: remote.ip(),
        route: &route,
        stage: &route.api.stage,
        request_id: &request_id,
        api_id: &route.api.id,
        // A function URL's event names an unsigned caller as "anonymous".
        account_id: if unsigned {
            "anonymous"
        } else {
            &gw.account_id
        },
        region: &gw.region,
    };
    let received = Received {
        method: &parts.method,
        uri: &parts.uri,
        headers: &parts.headers,
    };
    let authorizers = crate::call::Authorizers(&gw);
    let checked =
        crate::auth::route_auth::check(&gw, &route.access, &received, &request, &authorizers);
    let caller = match checked.await {
        Ok(caller) => caller,
        Err(mut refusal) => {
            decorate(&route, &parts.headers, &request_id, &mut refusal);
            return refusal;
        }
    };
    let mut event = match format {
        EventFormat::Rest => crate::proxy_event::build(&request),
        EventFormat::HttpV1 => {
            let mut event = crate::proxy_event::build(&request);
            if let Some(obj) = event.as_object_mut() {
                obj.insert("version".into(), "1.0".into());
            }
            event
        }
        EventFormat::HttpV2 | EventFormat::FunctionUrl => crate::http_event::build(&request),
    };
    caller.describe(&mut event, format, &gw.account_id);
    let bound = INTEGRATION_TIMEOUT.min(crate::call::worker_bound(&pool));
    let mut resp = match call(&gw, &pool, Bytes::from(event.to_string()), &headers, bound).await {
        Ok(answer) if answer.status == StatusCode::OK && timed_out(&answer) => {
            message(StatusCode::GATEWAY_TIMEOUT, "Endpoint request timed out")
        }
        Ok(answer) if answer.status == StatusCode::OK => from_lambda(
            &answer.body,
            answer.headers.contains_key(FUNCTION_ERROR),
            format,
            (format == EventFormat::Rest).then(|| RestBinary {
                api: &route.api,
                accept: parts
                    .headers
                    .get(http::header::ACCEPT)
                    .and_then(|v| v.to_str().ok()),
            }),
        ),
        Ok(answer) => {
            tracing::warn!(function = %route.function, status = %answer.status, "worker refused the event");
            internal_error(format)
        }
        Err(CallError::Acquire(AcquireError::Throttled { .. })) => {
            message(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests")
        }
        Err(CallError::TimedOut(_)) if format == EventFormat::Rest => {
            message(StatusCode::GATEWAY_TIMEOUT, "Endpoint request timed out")
        }
        Err(CallError::TimedOut(_)) => {
            message(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
        }
        Err(e) => {
            tracing::error!(function = %route.function, "integration failed: {e}");
            internal_error(format)
        }
    };
    decorate(&route, &parts.headers, &request_id, &mut resp);
    resp
}

/// A function URL request answered without its function.
fn url_refused(refused: Refused) -> Response {
    match refused {
        Refused::NoSuchUrl => message(StatusCode::NOT_FOUND, "Not Found"),
        Refused::Forbidden => message(StatusCode::FORBIDDEN, "Forbidden"),
        Refused::BadPath => message(StatusCode::BAD_REQUEST, "Bad Request"),
    }
}

/// Every answer of a route, the function's or the gateway's own: its request id, and
/// the API's CORS headers.
fn decorate(route: &RouteMatch, request: &HeaderMap, request_id: &str, resp: &mut Response) {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        resp.headers_mut().insert(REQUEST_ID, v);
    }
    if let Some(rules) = &route.api.cors {
        rules.decorate(request, resp);
    }
}

/// The function ran out of time (`Sandbox.Timedout`): the route answers 504.
fn timed_out(answer: &crate::worker_client::WorkerAnswer) -> bool {
    answer.short_error_type().as_deref() == Some("Sandbox.Timedout")
}

/// The headers API Gateway adds before the integration sees a request: the client
/// chain in `X-Forwarded-For`, the port and protocol it came in on, and a trace id
/// (kept when the client sent one), which also reaches the function.
fn forwarded_headers(original: &HeaderMap, remote: SocketAddr) -> HeaderMap {
    let mut headers = original.clone();
    let client = remote.ip().to_string();
    let chain = match original
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
    {
        Some(earlier) => format!("{earlier}, {client}"),
        None => client,
    };
    let port = original
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.rsplit_once(':'))
        .map_or("443".to_string(), |(_, p)| p.to_string());
    for (name, value) in [
        ("x-forwarded-for", chain),
        ("x-forwarded-port", port),
        ("x-forwarded-proto", "https".to_string()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
    if !headers.contains_key(TRACE_ID)
        && let Ok(v) = HeaderValue::from_str(&esb_lambda::trace_id::new_trace_header())
    {
        headers.insert(TRACE_ID, v);
    }
    headers
}
