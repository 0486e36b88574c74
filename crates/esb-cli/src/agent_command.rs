//! `esb agent`: the compute half of a box, serving esb.agent.v1.AgentService over gRPC.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use esb_agent::Agent;
use esb_agent::runtime::process::ProcessRuntime;
use esb_proto::AgentServiceServer;

#[derive(Args)]
pub struct AgentArgs {
    /// gRPC address.
    #[arg(long, default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,
    /// State directory (worker records, runtimes, logs).
    #[arg(long, default_value = ".esb")]
    pub state_dir: PathBuf,
    /// Most workers this agent runs at once.
    #[arg(long, default_value_t = 64)]
    pub capacity: u32,
    /// Stop workers when this agent stops (default: keep them for the next agent to re-adopt).
    #[arg(long)]
    pub remove_workers_on_exit: bool,
}

/// Builds the agent over the process runtime; `lifeline` ties workers to this process,
/// `prepare_python` builds the Python runtime now rather than at the first worker.
pub async fn build_agent(
    state_dir: &std::path::Path,
    capacity: u32,
    lifeline: bool,
    prepare_python: bool,
) -> Result<Arc<Agent>> {
    std::fs::create_dir_all(state_dir)
        .with_context(|| format!("cannot create the state directory {}", state_dir.display()))?;
    let esb = std::env::current_exe().context("cannot locate the esb binary")?;
    let runtime = ProcessRuntime::new(esb, state_dir, lifeline.then(std::process::id));
    if prepare_python {
        eprintln!("esb: preparing the Python runtime (first run only)...");
        runtime
            .python_env()
            .ensure()
            .await
            .context("cannot prepare the Python runtime")?;
    }
    let agent = Agent::new(Arc::new(runtime), state_dir, capacity)
        .with_context(|| format!("cannot read worker records under {}", state_dir.display()))?;
    Ok(Arc::new(agent))
}

/// Serves `agent` on `listener` until `shutdown` resolves.
pub async fn serve(
    agent: Arc<Agent>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "esb agent listening");
    }
    tonic::transport::Server::builder()
        .timeout(Duration::from_secs(120))
        .add_service(AgentServiceServer::from_arc(agent))
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            shutdown,
        )
        .await
        .context("agent gRPC server failed")
}

pub fn run(args: AgentArgs) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let agent = build_agent(&args.state_dir, args.capacity, false, false).await?;
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {} (agent gRPC)", args.listen))?;
        serve(
            Arc::clone(&agent),
            listener,
            crate::signals::shutdown_signal(),
        )
        .await?;
        if args.remove_workers_on_exit {
            agent.destroy_all().await;
        }
        Ok(())
    })
}
