//! HTTPS serving: rustls handshakes, then HTTP/1 over hyper with the gateway's router.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower_service::Service;

use crate::gateway::Gateway;

pub fn router(gw: Arc<Gateway>) -> Router {
    let mut router = Router::new();
    if gw.id_token.is_some() {
        router = router.route(crate::auth::id_token::LOGIN_PATH, post(login));
    }
    router
        .route("/health", get(health))
        .route("/metrics", get(metrics))
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
        (_, Ok(Err(_))) => {
            crate::api_response::message(http::StatusCode::BAD_REQUEST, "Bad Request")
        }
        (_, Err(_)) => {
            crate::api_response::message(http::StatusCode::REQUEST_TIMEOUT, "Request Timeout")
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

/// Prometheus text exposition (OpenMetrics).
async fn metrics(
    axum::extract::State(gw): axum::extract::State<Arc<Gateway>>,
) -> axum::response::Response {
    let mut resp = axum::response::IntoResponse::into_response(gw.metrics_text());
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        ),
    );
    resp
}

/// Serves `router` over TLS until `shutdown` resolves; open requests then finish (bounded).
pub async fn serve_tls(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    router: Router,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let acceptor = TlsAcceptor::from(tls);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (tcp, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let router = router.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let tls =
                match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::debug!(%remote, "TLS handshake failed: {e}");
                        return;
                    }
                    Err(_) => return,
                };
            let service = hyper::service::service_fn(
                move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut()
                        .insert(ConnectInfo::<SocketAddr>(remote));
                    router.clone().call(req)
                },
            );
            // A client that never finishes its headers (slowloris) is cut off.
            let conn = http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(crate::client_timeouts::HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(tls), service);
            if let Err(e) = watcher.watch(conn).await {
                tracing::debug!(%remote, "connection closed: {e}");
            }
        });
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
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
