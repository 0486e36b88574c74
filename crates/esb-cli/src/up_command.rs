//! `esb up`: the whole box in one process — agent and gateway, talking gRPC over
//! loopback as they do when split — serving the template's functions over HTTPS.
//! With docker workers, the function images are built first (only what changed).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;

use crate::agent_command::{RuntimeArgs, RuntimeKind};
use crate::gateway_command::ServeArgs;
use crate::project::ProjectArgs;

#[derive(Args)]
#[command(
    after_help = "Examples:\n  esb up                               # the template here, in the foreground (Ctrl-C stops it)\n  esb up --detach --wait               # in the background, once it serves\n  esb up --watch                       # hot reload on code and template changes (= esb watch)\n  esb up --runtime process --port 9443\n  esb up --logs-ship-url http://victorialogs:9428\n\nExit status: 0 stopped cleanly; 1 it could not start (the reason is printed)."
)]
pub struct UpArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    #[command(flatten)]
    pub runtime: RuntimeArgs,
    #[command(flatten)]
    pub serve: ServeArgs,
    #[command(flatten)]
    pub bases: crate::build_command::BaseArgs,
    /// Run the box in the background; its output goes to <state>/logs/box.log.
    #[arg(long, short)]
    pub detach: bool,
    /// With --detach: return only once the box serves (or fail with its log).
    #[arg(long, requires = "detach")]
    pub wait: bool,
    /// Hot reload: a change under a function's CodeUri or layers rebuilds and swaps
    /// that function (requests in flight finish on the old code).
    #[arg(long)]
    pub watch: bool,
    #[command(flatten)]
    pub local_node: LocalNodeArgs,
}

/// The box's own node (`local`), as placement sees it beside joined nodes.
#[derive(Args, Clone, Default)]
pub struct LocalNodeArgs {
    /// A label of the box's own node, for functions' `Metadata.Esb` node labels
    /// (repeatable, `key=value`).
    #[arg(long = "node-label", env = "ESB_NODE_LABEL", value_delimiter = ',', value_parser = crate::node_labels::parse_label)]
    pub labels: Vec<(String, String)>,
    /// Memory the box's own node gives workers, in MB (default: the machine's).
    #[arg(long = "node-memory-mb", env = "ESB_NODE_MEMORY_MB")]
    pub memory_mb: Option<u64>,
}

pub fn run(mut args: UpArgs) -> Result<()> {
    if args.detach {
        let state_dir = esb_state::StateDir::new(args.project.state_dir());
        esb_state::create_private(state_dir.root())
            .with_context(|| format!("cannot create {}", state_dir.root().display()))?;
        return crate::detach::spawn(&state_dir, args.wait);
    }
    let sqs_listener = args.serve.sqs.bind()?;
    args.project.sqs_url = sqs_listener.as_ref().map(|l| l.url.clone());
    let mut project = args.project.load()?;
    let _box = crate::box_lock::BoxLock::acquire(&project.state_dir)?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let mut kind = args.runtime.resolve().await?;
        if matches!(kind, RuntimeKind::Docker | RuntimeKind::Containerd) {
            let policy = args.bases.policy();
            match crate::build_command::build_images(&mut project, &args.runtime, policy).await {
                Ok(()) => {}
                Err(e) if args.runtime.runtime == RuntimeKind::Auto => {
                    eprintln!(
                        "esb: {} workers run the function images, but {e:#}; using process workers",
                        if kind == RuntimeKind::Docker {
                            "docker"
                        } else {
                            "containerd"
                        }
                    );
                    kind = RuntimeKind::Process;
                }
                Err(e) => return Err(e),
            }
        }
        // Agent: gRPC on a loopback port of its own; workers end with this box.
        let agent = crate::agent_command::build_agent(
            &project.state_dir,
            256,
            &args.runtime,
            kind,
            true,
            kind == RuntimeKind::Process && project.has_python(),
            crate::agent_command::AgentNode::local(args.local_node.memory_mb),
        )
        .await?;
        if kind == RuntimeKind::Containerd {
            // Into containerd before the first request: one export from Docker, not
            // one per function at its first cold start.
            let images: Vec<String> = project.images.values().cloned().collect();
            crate::quiet::note!(
                "esb: making {} function images ready in containerd",
                images.len()
            );
            agent
                .prepare_images(&images)
                .await
                .context("cannot import the function images into containerd")?;
        }
        let host_python = if kind == RuntimeKind::Process && project.has_python() {
            host_python(&mut project).await
        } else {
            None
        };
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
            crate::box_nodes::BoxNodes::start(
                &project.state_dir,
                &format!("http://{agent_addr}"),
                &args.local_node.labels,
                args.runtime.registry.clone(),
            )?,
            &args.serve,
            sqs_listener,
            match kind {
                RuntimeKind::Docker => "docker",
                RuntimeKind::Containerd => "containerd",
                _ => "process",
            },
            args.watch.then(|| {
                let rebuild = match kind {
                    RuntimeKind::Docker | RuntimeKind::Containerd => {
                        crate::watch::Rebuild::Images {
                            runtime: args.runtime.clone(),
                            policy: args.bases.policy(),
                        }
                    }
                    _ => crate::watch::Rebuild::InPlace { host_python },
                };
                (args.project.clone(), rebuild)
            }),
        )
        .await?;
        crate::quiet::note!("esb: stopping: removing every worker");
        gateway.release_workers().await;
        agent.destroy_all().await;
        let _ = stop_agent_tx.send(());
        let _ = tokio::time::timeout(Duration::from_secs(5), agent_task).await;
        Ok(())
    })
}

/// Process workers run every Python function on the host's Python: said for each whose
/// runtime names another version, as a warning now and a note in `esb status`, as a
/// docker box says it of a stand-in base. The version, when it could be read.
async fn host_python(project: &mut crate::project::Project) -> Option<String> {
    let env = esb_agent::python_env::PythonEnv::new(&project.state_dir);
    let host = match env.version().await {
        Ok(v) => v,
        Err(e) => {
            tracing::debug!("cannot tell the host's Python version: {e}");
            return None;
        }
    };
    for (name, runtime) in project.other_pythons(&host) {
        eprintln!(
            "esb: warning: function {name} asks for {runtime}; process workers run it on \
             the host's Python {host}"
        );
    }
    project.notes = project.host_python_notes(&host);
    Some(host)
}
