//! `esb up`: the whole box in one process — agent and gateway, talking gRPC over
//! loopback as they do when split — serving the template's functions over HTTPS.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use esb_gateway::{Gateway, GatewayConfig};

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
        let certs = esb_gateway::certs::ensure(&project.state_dir, &[])
            .context("cannot prepare the box's TLS certificates")?;
        let tls = esb_gateway::tls::server_config(&certs)?;

        // Agent: gRPC on a loopback port of its own; workers die with this process.
        let agent = crate::agent_command::build_agent(&project.state_dir, 256, true)?;
        if project.has_python() {
            eprintln!("esb: preparing the Python runtime (first run only)...");
            agent_python(&project.state_dir).await?;
        }
        let agent_listener =
            std::net::TcpListener::bind("127.0.0.1:0").context("no loopback port for the agent")?;
        let agent_addr = agent_listener.local_addr()?;
        drop(agent_listener);
        let (stop_agent_tx, stop_agent_rx) = tokio::sync::oneshot::channel::<()>();
        let agent_task = tokio::spawn(crate::agent_command::serve(
            Arc::clone(&agent),
            agent_addr,
            async {
                let _ = stop_agent_rx.await;
            },
        ));

        let listen = SocketAddr::from(([0, 0, 0, 0], args.project.port));
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen} (gateway HTTPS)"))?;
        let url = format!("https://127.0.0.1:{}", args.project.port);
        let gateway = Gateway::new(GatewayConfig {
            functions: project.entries(&url, &certs.ca),
            agent_url: format!("http://{agent_addr}"),
            region: project.region.clone(),
            account_id: project.account_id.clone(),
            acquire_timeout: Duration::from_secs_f64(args.acquire_timeout.max(0.0)),
        })?;
        print_banner(&project, &url, &certs.ca);
        esb_gateway::server::serve_tls(
            listener,
            tls,
            esb_gateway::server::router(Arc::clone(&gateway)),
            crate::signals::shutdown_signal(),
        )
        .await;
        eprintln!("esb: stopping: removing every worker");
        gateway.release_workers().await;
        agent.destroy_all().await;
        let _ = stop_agent_tx.send(());
        let _ = tokio::time::timeout(Duration::from_secs(5), agent_task).await;
        Ok(())
    })
}

async fn agent_python(state_dir: &std::path::Path) -> Result<()> {
    esb_agent::python_env::PythonEnv::new(state_dir)
        .ensure()
        .await
        .context("cannot prepare the Python runtime")?;
    Ok(())
}

fn print_banner(project: &crate::project::Project, url: &str, ca: &std::path::Path) {
    println!("ESB is up: {url}  (trust {} as CA)", ca.display());
    for f in &project.template.functions {
        println!(
            "  {:<24} POST {url}/2015-03-31/functions/{}/invocations",
            f.name, f.name
        );
        for e in &f.api_events {
            println!("  {:<24} {} {url}{}", "", e.method, e.path);
        }
    }
    println!("Ctrl-C stops the box and removes its workers.");
}
