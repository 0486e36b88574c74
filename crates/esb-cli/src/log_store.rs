//! The box's log store (`<state>/logs/store`), served with VictoriaLogs' HTTP API on
//! `--logs-listen`, with retention enforced every minute.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use esb_logs::{Retention, Store};
use esb_state::StateDir;

/// VictoriaLogs' own port, as the seed runs it.
const DEFAULT_LISTEN: &str = "127.0.0.1:9428";

/// The log store's flags, part of `esb up`'s and `esb gateway`'s.
#[derive(Args, Clone)]
pub struct LogStoreArgs {
    /// Where the box's log store answers VictoriaLogs' HTTP API (/insert/jsonline,
    /// /select/logsql/query): ADDRESS:PORT, "auto" (127.0.0.1:9428, VictoriaLogs' port,
    /// or any free loopback port when another box holds it), or "off".
    #[arg(long, env = "ESB_LOGS_LISTEN", default_value = "auto")]
    pub logs_listen: String,
    /// Days log records are kept.
    #[arg(long, env = "ESB_LOGS_RETENTION_DAYS", default_value_t = 7.0)]
    pub logs_retention_days: f64,
    /// Most megabytes the log store may take (oldest records go first).
    #[arg(long, env = "ESB_LOGS_MAX_MB", default_value_t = 1024)]
    pub logs_max_mb: u64,
}

/// Where the running log store's API answers.
pub struct LogStore {
    pub address: std::net::SocketAddr,
    pub store: Arc<Store>,
}

/// Serves for as long as the runtime runs; `None` when turned off.
pub async fn serve(state_dir: &StateDir, options: &LogStoreArgs) -> Result<Option<LogStore>> {
    if options.logs_listen == "off" {
        return Ok(None);
    }
    let retention = Retention {
        max_age: Duration::from_secs_f64(
            (options.logs_retention_days.clamp(0.0, 36500.0)) * 86400.0,
        ),
        max_bytes: options.logs_max_mb.saturating_mul(1 << 20),
    };
    let dir = state_dir.log_store();
    let store = Arc::new(
        tokio::task::spawn_blocking(move || Store::open(&dir, retention))
            .await
            .context("log store")??,
    );
    let listener = match options.logs_listen.as_str() {
        "auto" => match tokio::net::TcpListener::bind(DEFAULT_LISTEN).await {
            Ok(l) => l,
            Err(_) => tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .context("no loopback port for the log store")?,
        },
        addr => tokio::net::TcpListener::bind(addr).await.with_context(|| {
            format!("cannot listen on {addr} (log store; --logs-listen off disables it)")
        })?,
    };
    let address = listener.local_addr().context("log store address")?;
    crate::quiet::say!("Logs (VictoriaLogs API): http://{address}/select/logsql/query?query=*");
    let router = esb_logs::http::router(Arc::clone(&store));
    // The connection handling of every other port (slow clients, smuggling, stalls).
    tokio::spawn(esb_gateway::server::serve_plain(
        listener,
        esb_listener::Limits::default(),
        router,
        std::future::pending(),
    ));
    let keeper = Arc::clone(&store);
    tokio::spawn(async move {
        loop {
            let s = Arc::clone(&keeper);
            let _ =
                tokio::task::spawn_blocking(move || s.enforce_retention(esb_logs::http::now_ns()))
                    .await;
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
    });
    Ok(Some(LogStore { address, store }))
}
