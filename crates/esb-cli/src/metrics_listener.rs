//! Where `/metrics` is served. Every function's name and traffic is in it, so the
//! gateway's port (0.0.0.0 by default) does not serve it to anyone: by default it has a
//! loopback listener of its own (`--metrics-listen`, plain HTTP, like the log store's
//! API); with `--metrics-token-file`, scrapers that send the token get it on the
//! gateway's HTTPS port too (and on the listener, which may then face a network).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::Args;
use esb_gateway::Gateway;
use esb_gateway::server::MetricsAccess;

/// The usual port of a Prometheus exporter (OpenTelemetry's), on loopback.
const DEFAULT_LISTEN: &str = "127.0.0.1:9464";

/// The metrics flags, part of `esb up`'s and `esb gateway`'s.
#[derive(Args, Clone)]
pub struct MetricsArgs {
    /// Where Prometheus scrapes `/metrics` over plain HTTP: ADDRESS:PORT, "auto"
    /// (127.0.0.1:9464, or any free loopback port when another box holds it), or "off".
    /// Without --metrics-token-file anyone who reaches this address reads the metrics:
    /// keep it on loopback.
    #[arg(long, env = "ESB_METRICS_LISTEN", default_value = "auto")]
    pub metrics_listen: String,
    /// A file holding a bearer token (Prometheus's `authorization: credentials_file`).
    /// With it, `/metrics` answers only `Authorization: Bearer <token>`, on
    /// --metrics-listen and on the gateway's HTTPS port as well.
    #[arg(long, env = "ESB_METRICS_TOKEN_FILE")]
    pub metrics_token_file: Option<PathBuf>,
}

/// Where the metrics are served.
pub struct Metrics {
    /// The metrics listener's URL (`None`: `--metrics-listen off`).
    pub url: Option<String>,
    /// The gateway's own `/metrics` route, when a token guards it.
    pub gateway_route: Option<axum::Router>,
}

/// Reads the token (if any), binds the metrics listener and serves it for as long as
/// the runtime runs.
pub async fn start(
    args: &MetricsArgs,
    gateway: &Arc<Gateway>,
    limits: esb_listener::Limits,
) -> Result<Metrics> {
    let token = match &args.metrics_token_file {
        None => None,
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| {
                format!("cannot read the metrics token file {}", path.display())
            })?;
            let token = text.trim();
            if token.is_empty() {
                bail!(
                    "the metrics token file {} is empty (--metrics-token-file)",
                    path.display()
                );
            }
            Some(Arc::<str>::from(token))
        }
    };
    let access = MetricsAccess {
        token: token.clone(),
    };
    let gateway_route = token
        .is_some()
        .then(|| esb_gateway::server::metrics_router(Arc::clone(gateway), access.clone()));
    let listener = match args.metrics_listen.as_str() {
        "off" => None,
        "auto" => Some(match tokio::net::TcpListener::bind(DEFAULT_LISTEN).await {
            Ok(l) => l,
            Err(_) => tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .context("no loopback port for the metrics listener")?,
        }),
        addr => Some(tokio::net::TcpListener::bind(addr).await.with_context(|| {
            format!("cannot listen on {addr} (metrics; --metrics-listen off disables it)")
        })?),
    };
    let Some(listener) = listener else {
        return Ok(Metrics {
            url: None,
            gateway_route,
        });
    };
    let address = listener.local_addr().context("metrics listener address")?;
    if !address.ip().is_loopback() && token.is_none() {
        eprintln!(
            "esb: warning: /metrics is served without a token on {address}, beyond loopback: anyone who reaches it reads every function's name and traffic (--metrics-token-file)"
        );
    }
    let router = esb_gateway::server::metrics_router(Arc::clone(gateway), access);
    tokio::spawn(esb_gateway::server::serve_plain(
        listener,
        limits,
        router,
        std::future::pending(),
    ));
    Ok(Metrics {
        url: Some(format!("http://{address}/metrics")),
        gateway_route,
    })
}
