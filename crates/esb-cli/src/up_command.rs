//! `esb up`: the whole box in one process — agent and gateway, talking gRPC over
//! loopback as they do when split — serving the template's functions over HTTPS.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};

use crate::project::ProjectArgs;

#[derive(Args)]
pub struct UpArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Where workers run: docker when a daemon answers, else local processes.
    #[arg(long, value_enum, default_value_t = RuntimeKind::Auto)]
    pub runtime: RuntimeKind,
    /// How long a request waits for a busy function's worker before 429.
    #[arg(long, default_value_t = 10.0)]
    pub acquire_timeout: f64,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RuntimeKind {
    Auto,
    Process,
    Docker,
}

pub fn run(args: UpArgs) -> Result<()> {
    let project = args.project.load()?;
    match args.runtime {
        RuntimeKind::Docker => {
            bail!("--runtime docker is not available yet; use --runtime process (or auto)")
        }
        RuntimeKind::Auto if std::path::Path::new("/var/run/docker.sock").exists() => {
            tracing::info!(
                "a Docker daemon socket exists, but the docker runtime is not available yet: using process workers"
            );
        }
        _ => {}
    }
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        // Agent: gRPC on a loopback port of its own; workers die with this process.
        let agent =
            crate::agent_command::build_agent(&project.state_dir, 256, true, project.has_python())
                .await?;
        let agent_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("no loopback port for the agent")?;
        let agent_addr = agent_listener.local_addr()?;
        let (stop_agent_tx, stop_agent_rx) = tokio::sync::oneshot::channel::<()>();
        let agent_task = tokio::spawn(crate::agent_command::serve(
            Arc::clone(&agent),
            agent_listener,
            async {
                let _ = stop_agent_rx.await;
            },
        ));
        let gateway = crate::gateway_command::serve(
            &project,
            args.project.port,
            &format!("http://{agent_addr}"),
            args.acquire_timeout,
        )
        .await?;
        eprintln!("esb: stopping: removing every worker");
        gateway.release_workers().await;
        agent.destroy_all().await;
        let _ = stop_agent_tx.send(());
        let _ = tokio::time::timeout(Duration::from_secs(5), agent_task).await;
        Ok(())
    })
}
