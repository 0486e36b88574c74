//! The box's nodes as `esb up` and `esb gateway` run them: the agent on this machine
//! (`local`) and every node that joined the box (`<state>/nodes/nodes.json`), reached
//! over mutual TLS; the endpoints nodes join by; and removing a node
//! (`POST /esb/v1/nodes/{name}/remove`, signed with the box's key pair).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use esb_gateway::gateway::Gateway;
use esb_gateway::nodes::{Cluster, LOCAL_NODE, NodeConfig};
use esb_nodes::{NodeRecord, NodeRegistry};
use esb_state::StateDir;
use http::StatusCode;

/// Where `esb node remove` asks the box to drain and remove a node.
pub fn remove_path(name: &str) -> String {
    format!("/esb/v1/nodes/{name}/remove")
}

/// The nodes a box starts with, and what joining nodes are told.
pub struct BoxNodes {
    pub cluster: Cluster,
    /// The registry nodes pull function images from (`--registry`).
    pub registry: Option<String>,
}

impl BoxNodes {
    /// `local_url`'s agent (labelled `labels`) and the nodes that joined the box.
    pub fn start(
        state: &StateDir,
        local_url: &str,
        labels: &[(String, String)],
        registry: Option<String>,
    ) -> Result<Self> {
        let cluster = Cluster::default();
        cluster
            .add_node(NodeConfig {
                name: LOCAL_NODE.to_string(),
                url: local_url.to_string(),
                labels: labels.iter().cloned().collect(),
                tls: None,
                local: true,
            })
            .with_context(|| format!("invalid agent URL {local_url}"))?;
        let joined = NodeRegistry::open(state)
            .list()
            .context("cannot read the box's nodes")?;
        for record in joined {
            add_joined(&cluster, state, record)?;
        }
        Ok(Self { cluster, registry })
    }
}

/// The gateway's identity towards workers on nodes (their Invoke API is mutual TLS),
/// once the box's CA exists; made at start, so a node joining later is served at once.
pub fn worker_tls(state: &StateDir) -> Option<Arc<rustls::ClientConfig>> {
    match esb_nodes::gateway_worker_tls(state) {
        Ok(tls) => Some(Arc::new(tls)),
        Err(e) => {
            tracing::warn!("workers on other nodes cannot be reached: {e}");
            None
        }
    }
}

/// Adds a node that joined: its agent over mutual TLS, the name its certificate
/// carries checked (whatever address it is reached at).
fn add_joined(cluster: &Cluster, state: &StateDir, record: NodeRecord) -> Result<()> {
    let tls = esb_nodes::gateway_client_tls(state)
        .context("cannot load the gateway's node certificate")?
        .domain_name(esb_nodes::node_domain(&record.name));
    let name = record.name.clone();
    cluster
        .add_node(NodeConfig {
            url: format!("https://{}", record.address),
            name: record.name,
            labels: record.labels,
            tls: Some(tls),
            local: false,
        })
        .with_context(|| format!("node {name}: address {}", record.address))
}

/// The join endpoints (`GET /esb/v1/nodes/ca`, `POST /esb/v1/nodes/join`) and the
/// removal endpoint, for the gateway's router.
pub fn router(
    gateway: Arc<Gateway>,
    state: &StateDir,
    nodes: &BoxNodes,
    credentials: esb_auth::BoxCredentials,
    region: String,
) -> axum::Router {
    let (cluster, join_state) = (nodes.cluster.clone(), state.clone());
    let join = esb_nodes::router(esb_nodes::JoinContext {
        state: state.clone(),
        box_host: "127.0.0.1".to_string(),
        registry: nodes.registry.clone(),
        on_join: Arc::new(move |record: NodeRecord| {
            let name = record.name.clone();
            match add_joined(&cluster, &join_state, record) {
                Ok(()) => tracing::info!(node = %name, "node joined"),
                Err(e) => {
                    tracing::error!(node = %name, "a node joined but cannot be reached: {e:#}")
                }
            }
        }),
    });
    let admin = axum::Router::new()
        .route("/esb/v1/nodes/{name}/remove", axum::routing::post(remove))
        .with_state(Arc::new(Admin {
            gateway,
            state: state.clone(),
            credentials,
            region,
        }));
    join.merge(admin)
}

struct Admin {
    gateway: Arc<Gateway>,
    state: StateDir,
    credentials: esb_auth::BoxCredentials,
    region: String,
}

#[derive(serde::Deserialize)]
struct RemoveQuery {
    /// Seconds to wait for busy workers (default 60).
    timeout: Option<f64>,
}

/// Drains and removes a node: always signed with the box's key pair, even on a box
/// whose Invoke API is open (`--open-invoke-api`): it changes where code runs.
async fn remove(
    State(admin): State<Arc<Admin>>,
    Path(name): Path<String>,
    Query(query): Query<RemoveQuery>,
    uri: http::Uri,
    headers: http::HeaderMap,
) -> Response {
    let signed = esb_auth::SignedRequest {
        method: "POST",
        uri: uri.path_and_query().map_or("/", |p| p.as_str()),
        headers: &headers,
        body: b"",
    };
    if let Err(e) = esb_auth::verify(
        &signed,
        &admin.credentials,
        &admin.region,
        "lambda",
        std::time::SystemTime::now(),
    ) {
        return (
            StatusCode::FORBIDDEN,
            axum::Json(serde_json::json!({"error": e.error_type(), "message": e.to_string()})),
        )
            .into_response();
    }
    if name == LOCAL_NODE {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(serde_json::json!({"error": "InvalidNode", "message": "the box's own node cannot be removed"})),
        )
            .into_response();
    }
    let timeout = Duration::from_secs_f64(query.timeout.unwrap_or(60.0).clamp(0.0, 3600.0));
    let busy = admin.gateway.drain_node(&name, timeout).await;
    let registry = NodeRegistry::open(&admin.state);
    let recorded = tokio::task::spawn_blocking(move || registry.remove(&name)).await;
    match (busy, recorded) {
        (None, Ok(Ok(false))) => (
            StatusCode::NOT_FOUND,
            axum::Json(
                serde_json::json!({"error": "NodeNotFound", "message": "the box has no such node"}),
            ),
        )
            .into_response(),
        (busy, Ok(Ok(_))) => {
            axum::Json(serde_json::json!({"removed": true, "busy_at_deadline": busy.unwrap_or(0)}))
                .into_response()
        }
        (_, Ok(Err(e))) => {
            tracing::error!("cannot forget a removed node: {e}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                axum::Json(
                    serde_json::json!({"error": "ServiceException", "message": e.to_string()}),
                ),
            )
                .into_response()
        }
        (_, Err(e)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(serde_json::json!({"error": "ServiceException", "message": e.to_string()})),
        )
            .into_response(),
    }
}
