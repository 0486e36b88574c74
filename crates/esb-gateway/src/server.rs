//! HTTPS serving: rustls handshakes, then HTTP/1 over hyper with the gateway's router.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tower_service::Service;

use crate::gateway::Gateway;

pub fn router(gw: Arc<Gateway>) -> Router {
    let mut router = Router::new();
    if gw.id_token.is_some() {
        router = router.route(crate::auth::id_token::LOGIN_PATH, post(login));
    }
    router
        .route("/health", get(health))
        .route(crate::status::STATUS_PATH, get(status))
        .route(
            "/2015-03-31/functions/{name}/invocations",
            post(crate::invoke_api::invoke),
        )
        .fallback(crate::api_routes::handle)
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&gw),
            crate::request_log::record,
        ))
        .with_state(gw)
}

/// The original ESB's health answer, which its projects' checks read:
/// `{"status":"healthy","timestamp":...}` with Python's `isoformat()` of a UTC time.
async fn health() -> axum::Json<serde_json::Value> {
    axum::Json(health_body(time::OffsetDateTime::now_utc()))
}

fn health_body(now: time::OffsetDateTime) -> serde_json::Value {
    serde_json::json!({"status": "healthy", "timestamp": iso_utc(now)})
}

/// `2026-12-05T08:40:12.123456+00:00`: Python's `datetime.now(timezone.utc).isoformat()`
/// (`+00:00` rather than RFC 3339's `Z`; the microseconds always written, where Python
/// leaves out zero ones: `fromisoformat` and every ISO 8601 reader take both).
fn iso_utc(t: time::OffsetDateTime) -> String {
    const FORMAT: &[time::format_description::BorrowedFormatItem<'_>] = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]+00:00"
    );
    t.to_offset(time::UtcOffset::UTC)
        .format(FORMAT)
        .unwrap_or_default()
}

/// The original ESB's `POST /user/auth/v1`: an IdToken for a user and password.
async fn login(
    axum::extract::State(gw): axum::extract::State<Arc<Gateway>>,
    headers: http::HeaderMap,
    body: axum::body::Body,
) -> axum::response::Response {
    let read = tokio::time::timeout(
        crate::client_timeouts::BODY_READ_TIMEOUT,
        esb_lambda::body::read_limited(body, 64 * 1024),
    )
    .await;
    match (&gw.id_token, read) {
        (Some(auth), Ok(Ok(body))) => auth.login(&headers, &body.bytes),
        (None, _) => crate::api_response::message(http::StatusCode::NOT_FOUND, "Not Found"),
        (_, Ok(Err(esb_lambda::body::BodyError::Stalled)) | Err(_)) => {
            crate::api_response::message(http::StatusCode::REQUEST_TIMEOUT, "Request Timeout")
        }
        (_, Ok(Err(_))) => {
            crate::api_response::message(http::StatusCode::BAD_REQUEST, "Bad Request")
        }
    }
}

/// The box's functions, routes and workers (`esb status`); signed like the Invoke API.
async fn status(
    axum::extract::State(gw): axum::extract::State<Arc<Gateway>>,
    uri: http::Uri,
    headers: http::HeaderMap,
) -> axum::response::Response {
    match gw.authenticate("GET", &uri, &headers, b"") {
        Ok(()) => axum::Json(gw.status()).into_response(),
        Err(e) => axum::response::IntoResponse::into_response(crate::auth::invoke_api_error(e)),
    }
}

/// Who may read `/metrics`: every function's name and traffic is in it, so it is not
/// for anyone who can reach the gateway's port.
#[derive(Clone)]
pub struct MetricsAccess {
    /// The bearer token a scraper must send (`Authorization: Bearer ...`, what
    /// Prometheus's `authorization: credentials_file` sends); `None`: no token asked,
    /// for a listener only the operator reaches (loopback).
    pub token: Option<Arc<str>>,
}

/// `GET /metrics` alone, for the metrics listener (`--metrics-listen`), or merged into
/// the gateway's router when a token guards it there.
pub fn metrics_router(gw: Arc<Gateway>, access: MetricsAccess) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state((gw, access))
}

/// Prometheus text exposition (OpenMetrics), to a scraper with the token if one is set.
async fn metrics(
    axum::extract::State((gw, access)): axum::extract::State<(Arc<Gateway>, MetricsAccess)>,
    headers: http::HeaderMap,
) -> axum::response::Response {
    if let Some(token) = &access.token {
        let sent = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !esb_auth::secret::secret_eq(sent.trim().as_bytes(), token.as_bytes()) {
            let mut resp =
                crate::api_response::message(http::StatusCode::UNAUTHORIZED, "Unauthorized");
            resp.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Bearer"),
            );
            return resp;
        }
    }
    let mut resp = axum::response::IntoResponse::into_response(gw.metrics_text());
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        ),
    );
    resp
}

/// Serves `router` over plain HTTP (the box's loopback listeners: metrics) with the
/// same connection handling as the gateway's port.
pub async fn serve_plain(
    listener: TcpListener,
    limits: esb_listener::Limits,
    router: Router,
    shutdown: impl std::future::Future<Output = ()>,
) {
    esb_listener::serve(listener, None, limits, handler(router), shutdown).await;
}

/// The router as esb-listener's handler, with the client's address where axum's
/// `ConnectInfo` extractor looks for it.
fn handler(
    router: Router,
) -> impl Fn(
    hyper::Request<hyper::body::Incoming>,
    SocketAddr,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = axum::response::Response> + Send>>
+ Clone
+ Send
+ Sync
+ 'static {
    move |mut req, remote| {
        req.extensions_mut()
            .insert(ConnectInfo::<SocketAddr>(remote));
        let call = router.clone().call(req);
        Box::pin(async move {
            match call.await {
                Ok(resp) => resp,
                Err(never) => match never {},
            }
        })
    }
}

/// Serves `router` over TLS until `shutdown` resolves; open requests then finish (bounded).
/// The connection handling (handshake and header timeouts, header limits, framing
/// checks, stalled bodies) is esb-listener's, shared with the data services, so every
/// port of the box treats a hostile client the same way.
pub async fn serve_tls(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    limits: esb_listener::Limits,
    router: Router,
    shutdown: impl std::future::Future<Output = ()>,
) {
    esb_listener::serve(listener, Some(tls), limits, handler(router), shutdown).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_answers_the_original_esbs_shape() {
        let t = time::macros::datetime!(2026-12-05 17:40:12.1234567 +09:00);
        assert_eq!(
            health_body(t),
            serde_json::json!({"status": "healthy", "timestamp": "2026-12-05T08:40:12.123456+00:00"})
        );
        let whole = time::macros::datetime!(2026-01-02 03:04:05 UTC);
        assert_eq!(iso_utc(whole), "2026-01-02T03:04:05.000000+00:00");
    }
}
