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
    /// Told to nodes: how their workers reach the box's services.
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

pub async fn join_handler(State(ctx): State<JoinContext>, body: Bytes) -> Response {
    let req: JoinRequest = match serde_json::from_slice(&body) {
        Ok(req) => req,
        Err(e) => return error_response(&JoinError::InvalidRequest(e.to_string())),
    };
    let state = ctx.state.clone();
    let box_host = ctx.box_host.clone();
    let registry = ctx.registry.clone();
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
