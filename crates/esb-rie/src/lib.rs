//! ESB's Runtime Interface Emulator: the entrypoint of every ESB worker.
//!
//! It serves the Lambda Invoke API to the gateway (`--listen`, default `0.0.0.0:8080`)
//! and the Lambda Runtime API to one language runtime it starts and supervises
//! (`--runtime-api`, default `127.0.0.1:9001`), behaving like real Lambda where AWS's
//! own emulator does not (function errors, timeouts, exits, logs, memory figures).

pub mod config;
pub mod failure;
pub mod invocation_log;
pub mod invoke_api;
mod lifeline;
mod log_capture;
pub mod process_tree;
pub mod runtime_api;
mod runtime_api_error;
mod runtime_process;
pub mod sandbox;
mod serve;
pub mod worker_tls;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

pub use config::FunctionConfig;
pub use invocation_log::LogFormat;

/// Everything `esb rie` needs to run.
#[derive(Debug, Clone)]
pub struct RieOptions {
    pub listen: SocketAddr,
    pub runtime_api: SocketAddr,
    /// The runtime command; empty means AWS's bootstrap lookup.
    pub command: Vec<String>,
    pub function: FunctionConfig,
    pub log_format: LogFormat,
    /// How long SIGTERM waits for the invocation in flight before failing it.
    pub shutdown_grace: Duration,
    /// Shut down when this process exits (the box that started this worker).
    pub lifeline_pid: Option<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum RieError {
    #[error("cannot listen on {addr} ({what}): {reason}")]
    Bind {
        addr: SocketAddr,
        what: &'static str,
        reason: std::io::Error,
    },
    #[error(transparent)]
    Tls(#[from] worker_tls::TlsError),
}

/// Records of a worker waiting for the store, most bytes (per worker).
const SPOOL_MAX_BYTES: u64 = 64 << 20;

/// The shipper of this worker's records; `None` (stdout only, said once) when it
/// cannot start.
fn start_shipping(
    c: &config::LogShippingConfig,
    function: &str,
) -> Option<invocation_log::Shipping> {
    let identity = esb_logs::lambda_line::function_stream(function);
    let mut shipper = esb_logs::ShipperConfig::new(c.url.clone());
    shipper.headers = c
        .token
        .iter()
        .map(|t| (esb_logs::collector::TOKEN_HEADER.to_string(), t.clone()))
        .collect();
    shipper.ca_pem = c.ca_file.as_ref().and_then(|p| std::fs::read(p).ok());
    shipper.spool = c.spool_dir.clone().map(|d| (d, SPOOL_MAX_BYTES));
    shipper.identity = identity;
    match esb_logs::Shipper::start(shipper) {
        Ok(s) => Some(invocation_log::Shipping {
            shipper: s,
            who: worker_identity(c, function),
        }),
        Err(e) => {
            tracing::error!("function logs go to stdout only: {e}");
            None
        }
    }
}

/// What every shipped record of this worker carries (its `function`, `worker` and,
/// on a node of the box, `node`).
fn worker_identity(
    c: &config::LogShippingConfig,
    function: &str,
) -> esb_logs::lambda_line::WorkerIdentity {
    esb_logs::lambda_line::WorkerIdentity {
        function: function.to_string(),
        worker: c.worker.clone(),
        node: c.node.clone(),
    }
}

/// Runs the emulator until `shutdown` resolves, then stops gracefully.
pub async fn run(opts: RieOptions, shutdown: impl Future<Output = ()>) -> Result<(), RieError> {
    let bind = |addr: SocketAddr, what: &'static str| async move {
        TcpListener::bind(addr)
            .await
            .map_err(|reason| RieError::Bind { addr, what, reason })
    };
    let invoke_tls = opts
        .function
        .tls
        .as_ref()
        .map(worker_tls::acceptor)
        .transpose()?;
    let invoke_listener = bind(opts.listen, "invoke API").await?;
    let runtime_listener = bind(opts.runtime_api, "runtime API").await?;
    // With port 0 the runtime must be told the port actually bound.
    let runtime_api = runtime_listener.local_addr().unwrap_or(opts.runtime_api);

    let shipping = opts
        .function
        .log_shipping
        .as_ref()
        .and_then(|c| start_shipping(c, &opts.function.name));
    let sink = Arc::new(
        invocation_log::LogSink::new(opts.log_format, shipping)
            .with_system_level(opts.function.system_log_level.as_deref()),
    );
    let sandbox = sandbox::Sandbox::new(
        opts.function,
        opts.command,
        runtime_api.to_string(),
        Arc::clone(&sink),
    );
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let spawn_server =
        |listener, router, tls| tokio::spawn(serve::serve(listener, router, stop_rx.clone(), tls));
    // Only the Invoke API faces the network; the Runtime API is the runtime's, on loopback.
    let invoke_server = spawn_server(
        invoke_listener,
        invoke_api::router(Arc::clone(&sandbox)),
        invoke_tls,
    );
    let runtime_server = spawn_server(
        runtime_listener,
        runtime_api::router(Arc::clone(&sandbox)),
        None,
    );
    tracing::info!(invoke = %opts.listen, %runtime_api, "esb rie listening");
    sandbox.start();

    let lifeline = async {
        match opts.lifeline_pid {
            Some(pid) => lifeline::exited(pid).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        () = shutdown => {}
        () = lifeline => {}
    }
    tracing::info!("shutting down");
    sandbox.shutdown(opts.shutdown_grace).await;
    // What the store has not taken in 2 s waits in the spool for the next worker.
    sink.close(Duration::from_secs(2)).await;
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(3), async {
        let _ = invoke_server.await;
        let _ = runtime_server.await;
    })
    .await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use esb_logs::lambda_line::{Attribution, LineSource, record};

    use super::*;

    fn shipped_line(env: &[(&str, &str)], line: &str) -> esb_logs::record::Record {
        let env: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let function = config::FunctionConfig::from_env(&env).expect("config");
        let shipping = function.log_shipping.expect("shipping configured");
        let who = worker_identity(&shipping, &function.name);
        record(
            &who,
            LineSource::Stdout,
            &Attribution::default(),
            line.as_bytes(),
            1,
        )
    }

    #[test]
    fn records_of_a_node_worker_name_the_node_and_local_ones_do_not() {
        let base = [
            ("AWS_LAMBDA_FUNCTION_NAME", "orders"),
            ("ESB_LOGS_URL", "https://10.213.1.1:8443/esb/logs"),
            ("ESB_WORKER_ID", "orders-1"),
        ];
        let mut on_node = base.to_vec();
        on_node.push(("ESB_NODE", "edge-2"));
        let r = shipped_line(&on_node, "hello");
        assert_eq!(r.field("node").as_deref(), Some("edge-2"));
        assert_eq!(r.field("worker").as_deref(), Some("orders-1"));
        // A field, not a label: the function's stream is the same on every node.
        assert!(!r.stream.iter().any(|(k, _)| k == "node"));
        // The function's own `node` key cannot pose as the box's.
        let r = shipped_line(&on_node, r#"{"message":"m","node":"fake"}"#);
        assert_eq!(r.field("node").as_deref(), Some("edge-2"));
        assert_eq!(r.field("log.node").as_deref(), Some("fake"));

        assert_eq!(shipped_line(&base, "hello").field("node"), None);
    }
}
