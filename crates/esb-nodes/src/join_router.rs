//! The box's HTTP endpoints for joining, to mount on the gateway's HTTPS server:
//! `GET /esb/v1/nodes/ca` (the CA certificate; public, it is what a node pins against
//! the token's fingerprint) and `POST /esb/v1/nodes/join` (JSON [`JoinRequest`] in,
//! [`JoinResponse`] or `{"error", "message"}` out).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use esb_state::StateDir;

use crate::join::{JoinRequest, accept};
use crate::join_error::JoinError;
use crate::node_record::NodeRecord;

/// Called after each successful join (the gateway adds the node to its cluster).
pub type OnJoin = Arc<dyn Fn(NodeRecord) + Send + Sync>;

#[derive(Clone)]
pub struct JoinContext {
    pub state: StateDir,
    /// Told to nodes whose request names no host: how their workers reach the box's
    /// services. A request's `Host` (the address the node used) comes first.
    pub box_host: String,
    /// Told to nodes: where they pull function images from.
    pub registry: Option<String>,
    pub on_join: OnJoin,
}

pub const CA_PATH: &str = "/esb/v1/nodes/ca";
pub const JOIN_PATH: &str = "/esb/v1/nodes/join";

pub fn router(ctx: JoinContext) -> Router {
    Router::new()
        .route(CA_PATH, get(ca_handler))
        .route(JOIN_PATH, post(join_handler))
        .with_state(ctx)
}

/// `10.0.0.1:8443` → `10.0.0.1`, `[fd00::1]:8443` → `[fd00::1]`, `box` → `box`.
fn host_of(authority: &str) -> Option<String> {
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) && !host.ends_with(':') => {
            host
        }
        _ => authority,
    };
    (!host.is_empty()).then(|| host.to_string())
}

/// A registry `127.0.0.1:5000` (or `localhost:5000`) as a node reaches it: on the box.
fn loopback_to(registry: &str, box_host: &str) -> String {
    for loopback in ["127.0.0.1", "localhost", "[::1]"] {
        if let Some(rest) = registry.strip_prefix(loopback)
            && (rest.is_empty() || rest.starts_with(':') || rest.starts_with('/'))
        {
            return format!("{box_host}{rest}");
        }
    }
    registry.to_string()
}

fn error_response(e: &JoinError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status.is_server_error() {
        tracing::warn!("node join failed: {e}");
    } else {
        tracing::info!("node join refused: {e}");
    }
    let body = serde_json::json!({ "error": e.code(), "message": e.to_string() });
    (status, axum::Json(body)).into_response()
}

pub async fn ca_handler(State(ctx): State<JoinContext>) -> Response {
    let path = ctx.state.certs().join("ca.pem");
    match tokio::fs::read(&path).await {
        Ok(pem) => ([(header::CONTENT_TYPE, "application/x-pem-file")], pem).into_response(),
        Err(e) => error_response(&JoinError::Box(crate::error::NodesError::Io {
            path,
            reason: e,
        })),
    }
}

pub async fn join_handler(
    State(ctx): State<JoinContext>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    let req: JoinRequest = match serde_json::from_slice(&body) {
        Ok(req) => req,
        Err(e) => return error_response(&JoinError::InvalidRequest(e.to_string())),
    };
    let state = ctx.state.clone();
    // The address the node reached the box at is the one its workers will reach it
    // at: a box has one per network (one per veth, per VLAN...).
    let box_host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(host_of)
        .unwrap_or_else(|| ctx.box_host.clone());
    let registry = ctx.registry.as_deref().map(|r| loopback_to(r, &box_host));
    // File locks and signing: off the async workers.
    let outcome =
        tokio::task::spawn_blocking(move || accept(&state, req, &box_host, registry)).await;
    match outcome {
        Ok(Ok((response, record))) => {
            (ctx.on_join)(record);
            axum::Json(response).into_response()
        }
        Ok(Err(e)) => error_response(&e),
        Err(e) => error_response(&JoinError::Internal(format!("join task failed: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_box_host_is_the_address_the_node_used() {
        assert_eq!(host_of("10.213.1.1:8443").as_deref(), Some("10.213.1.1"));
        assert_eq!(host_of("[fd00::1]:8443").as_deref(), Some("[fd00::1]"));
        assert_eq!(host_of("box.lan").as_deref(), Some("box.lan"));
        assert_eq!(
            loopback_to("127.0.0.1:5000", "10.213.1.1"),
            "10.213.1.1:5000"
        );
        assert_eq!(loopback_to("localhost:5000/esb", "box"), "box:5000/esb");
        assert_eq!(loopback_to("registry.lan:5000", "box"), "registry.lan:5000");
    }
}
