//! `esb agent`: the compute half of a box, serving esb.agent.v1.AgentService over gRPC.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use esb_agent::Agent;
use esb_agent::runtime::WorkerRuntime;
use esb_agent::runtime::containerd::{ContainerdOptions, ContainerdRuntime};
use esb_agent::runtime::docker::{DockerOptions, DockerRuntime, WorkerAddress};
use esb_agent::runtime::process::ProcessRuntime;
use esb_proto::AgentServiceServer;
use esb_state::StateDir;
use tonic::transport::ServerTlsConfig;

#[derive(Args)]
pub struct AgentArgs {
    /// gRPC address.
    #[arg(long, env = "ESB_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,
    /// State directory (worker records, runtimes, logs).
    #[arg(long, env = "ESB_STATE_DIR", default_value = esb_state::DEFAULT_NAME)]
    pub state_dir: PathBuf,
    /// Most workers this agent runs at once.
    #[arg(long, env = "ESB_CAPACITY", default_value_t = 64)]
    pub capacity: u32,
    /// Stop workers when this agent stops (default: keep them for the next agent to re-adopt).
    #[arg(
        long,
        env = "ESB_REMOVE_WORKERS_ON_EXIT",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub remove_workers_on_exit: bool,
    #[command(flatten)]
    pub join: crate::agent_join::JoinArgs,
    #[command(flatten)]
    pub runtime: RuntimeArgs,
    /// Memory this node gives workers, in MB: what placement counts their
    /// `MemorySize` against (default: the machine's).
    #[arg(long, env = "ESB_MEMORY_MB")]
    pub memory_mb: Option<u64>,
}

/// Where workers run, shared by `esb agent` and `esb up`.
#[derive(Args, Clone)]
pub struct RuntimeArgs {
    /// Where workers run: docker when a daemon answers, else containerd when its socket
    /// answers, else local processes.
    #[arg(long, value_enum, default_value_t = RuntimeKind::Auto, env = "ESB_RUNTIME")]
    pub runtime: RuntimeKind,
    /// Docker daemon endpoint (default: DOCKER_HOST, then unix:///var/run/docker.sock).
    #[arg(long, env = "ESB_DOCKER_HOST")]
    pub docker_host: Option<String>,
    /// containerd's socket (the containerd runtime).
    #[arg(long, env = "ESB_CONTAINERD_SOCKET", default_value = esb_agent::runtime::containerd::DEFAULT_SOCKET)]
    pub containerd_socket: PathBuf,
    /// The containerd namespace the box's images and workers live in.
    #[arg(long, env = "ESB_CONTAINERD_NAMESPACE", default_value = "esb")]
    pub containerd_namespace: String,
    /// The directory of the CNI plugins the containerd runtime runs (`bridge`,
    /// `host-local`, `loopback`); default: /usr/lib/cni, then /opt/cni/bin.
    #[arg(long, env = "ESB_CNI_BIN_DIR")]
    pub cni_bin_dir: Option<PathBuf>,
    /// Subnet of the box's own network: the Docker network (default: Docker picks a
    /// private range) or the containerd bridge (default: a free /24 of 10.89.0.0/16).
    #[arg(long, env = "ESB_NETWORK_SUBNET")]
    pub network_subnet: Option<String>,
    /// A further Docker network every worker joins (repeatable).
    #[arg(long = "network", env = "ESB_NETWORK", value_delimiter = ',')]
    pub networks: Vec<String>,
    /// How the gateway reaches docker workers.
    #[arg(long, value_enum, default_value_t = AddressArg::Auto, env = "ESB_WORKER_ADDRESS")]
    pub worker_address: AddressArg,
    /// Registry to pull missing function images from (what `esb build --push` filled).
    #[arg(long, env = "ESB_REGISTRY")]
    pub registry: Option<String>,
    /// Seconds after which a container of this box that no worker record names (left
    /// by a crash) is removed; the agent looks that often.
    #[arg(long, env = "ESB_ORPHAN_GRACE", default_value_t = 30)]
    pub orphan_grace: u64,
    /// Workers kept ready per function after its first one, so its next new worker
    /// starts in milliseconds (0: none): docker keeps started, initialised containers;
    /// containerd keeps created tasks not yet started.
    #[arg(long, env = "ESB_STANDBY_WORKERS", default_value_t = 1)]
    pub standby_workers: usize,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RuntimeKind {
    Auto,
    Process,
    Docker,
    Containerd,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AddressArg {
    /// The container's IP when this host routes to it, else a published port.
    Auto,
    ContainerIp,
    PublishedPort,
}

impl RuntimeArgs {
    /// Resolves `auto`: docker when a daemon answers, else process, saying why. The
    /// original ESB's `AGENT_RUNTIME=docker|process` is honoured when nothing else chose.
    pub async fn resolve(&self) -> Result<RuntimeKind> {
        let legacy = std::env::var("AGENT_RUNTIME").ok();
        let chosen = match (self.runtime, legacy.as_deref()) {
            (RuntimeKind::Auto, Some("docker")) => RuntimeKind::Docker,
            (RuntimeKind::Auto, Some("process")) => RuntimeKind::Process,
            (RuntimeKind::Auto, Some("containerd")) => RuntimeKind::Containerd,
            (kind, _) => kind,
        };
        match chosen {
            RuntimeKind::Auto => {
                let docker =
                    esb_docker::connect(self.docker_host.as_deref(), Duration::from_secs(1)).await;
                let Err(no_docker) = docker else {
                    return Ok(RuntimeKind::Docker);
                };
                let containerd = esb_agent::runtime::containerd::client::Containerd::connect(
                    &self.containerd_socket,
                    &self.containerd_namespace,
                )
                .await;
                match containerd {
                    Ok(_) => {
                        tracing::info!("using containerd workers: {no_docker}");
                        Ok(RuntimeKind::Containerd)
                    }
                    Err(e) => {
                        tracing::info!("using process workers: {no_docker}; {e}");
                        Ok(RuntimeKind::Process)
                    }
                }
            }
            kind => Ok(kind),
        }
    }

    /// The docker runtime's options; on a node of another machine (`remote`) workers are
    /// published on the node's address (the box cannot route to its containers) and
    /// images come from the box's registry unless `--registry` names another.
    fn docker_options(
        &self,
        box_id: String,
        state_dir: &StateDir,
        remote: Option<&Remote>,
    ) -> DockerOptions {
        let mut options = DockerOptions {
            host: self.docker_host.clone(),
            box_id,
            subnet: self.network_subnet.clone(),
            extra_networks: self.networks.clone(),
            address: match self.worker_address {
                AddressArg::Auto => WorkerAddress::Auto,
                AddressArg::ContainerIp => WorkerAddress::ContainerIp,
                AddressArg::PublishedPort => WorkerAddress::PublishedPort,
            },
            // The original ESB's variable, when ESB's own is not set.
            registry: self.registry.clone().or_else(|| {
                std::env::var("CONTAINER_REGISTRY")
                    .ok()
                    .filter(|r| !r.is_empty())
            }),
            orphan_grace: Duration::from_secs(self.orphan_grace),
            standby: self.standby_workers,
            log_spool: Some(state_dir.log_spool()),
            publish_ip: std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        };
        if let Some(remote) = remote {
            options.address = WorkerAddress::PublishedPort;
            options.publish_ip = remote.worker.worker_ip;
            if options.registry.is_none() {
                options.registry.clone_from(&remote.registry);
            }
        }
        options
    }
}

impl RuntimeArgs {
    fn containerd_options(&self, box_id: String, state_dir: &StateDir) -> ContainerdOptions {
        ContainerdOptions {
            socket: self.containerd_socket.clone(),
            namespace: self.containerd_namespace.clone(),
            box_id,
            subnet: self.network_subnet.clone(),
            dir: state_dir.root().join("containerd"),
            docker_host: self.docker_host.clone(),
            registry: self.registry.clone().or_else(|| {
                std::env::var("CONTAINER_REGISTRY")
                    .ok()
                    .filter(|r| !r.is_empty())
            }),
            orphan_grace: Duration::from_secs(self.orphan_grace),
            log_spool: Some(state_dir.log_spool()),
            standby: self.standby_workers,
            ready_netns: 6,
            cni_bin_dir: self.cni_bin_dir.clone(),
        }
    }
}

/// The node an agent runs as: what it offers, and its box when that is elsewhere.
pub struct AgentNode {
    pub capacity: esb_agent::node_capacity::NodeCapacity,
    pub remote: Option<Remote>,
}

impl AgentNode {
    /// The box's own node (`esb up`'s agent), offering `memory_mb` (default: the machine's).
    pub fn local(memory_mb: Option<u64>) -> Self {
        Self {
            capacity: esb_agent::node_capacity::NodeCapacity::detect(
                esb_agent::node_capacity::LOCAL_NODE,
                memory_mb,
            ),
            remote: None,
        }
    }
}

/// What an agent on another machine than its box needs: where the box is (its
/// workers' environment points there) and the box's registry.
pub struct Remote {
    pub worker: esb_agent::remote_env::RemoteBox,
    pub registry: Option<String>,
}

impl Remote {
    /// From a joined node's credentials; `listen` is where the agent serves, whose
    /// address the workers listen on unless the advertised one is an IP.
    pub fn of(creds: &esb_nodes::NodeCredentials, listen: std::net::SocketAddr) -> Self {
        let advertised = creds
            .joined
            .address
            .parse::<std::net::SocketAddr>()
            .map(|a| a.ip())
            .unwrap_or(listen.ip());
        Self {
            worker: esb_agent::remote_env::RemoteBox {
                box_host: creds.joined.box_host.clone(),
                ca_path: creds.dir.join("ca.pem"),
                node_name: creds.joined.node_name.clone(),
                worker_ip: advertised,
                worker_tls: Some((creds.dir.join("node.pem"), creds.dir.join("node-key.pem"))),
            },
            registry: creds.joined.registry.clone(),
        }
    }
}

/// Builds the agent over the chosen runtime (`kind` already resolved, never `Auto`).
/// `lifeline` (`esb up`) ties workers to this process: process workers end with it,
/// and workers a previous box left are removed rather than re-adopted.
/// `prepare_python` builds the process runtime's Python environment now rather than at
/// the first worker.
pub async fn build_agent(
    state_dir: &StateDir,
    capacity: u32,
    runtime_args: &RuntimeArgs,
    kind: RuntimeKind,
    lifeline: bool,
    prepare_python: bool,
    node: AgentNode,
) -> Result<Arc<Agent>> {
    let AgentNode {
        capacity: node,
        remote,
    } = node;
    esb_state::create_private(state_dir.root()).with_context(|| {
        format!(
            "cannot create the state directory {}",
            state_dir.root().display()
        )
    })?;
    let runtime: Arc<dyn WorkerRuntime> = if kind == RuntimeKind::Containerd {
        if remote.is_some() {
            bail!(
                "containerd workers on a node of another machine are not supported yet: start the agent with --runtime docker or --runtime process"
            );
        }
        let box_id = esb_agent::box_identity::box_id(state_dir).with_context(|| {
            format!("cannot record the box id in {}", state_dir.root().display())
        })?;
        Arc::new(
            ContainerdRuntime::connect(runtime_args.containerd_options(box_id, state_dir)).await?,
        )
    } else if kind == RuntimeKind::Docker {
        let box_id = esb_agent::box_identity::box_id(state_dir).with_context(|| {
            format!("cannot record the box id in {}", state_dir.root().display())
        })?;
        Arc::new(
            DockerRuntime::connect(runtime_args.docker_options(box_id, state_dir, remote.as_ref()))
                .await?,
        )
    } else {
        let esb = std::env::current_exe().context("cannot locate the esb binary")?;
        let mut runtime = ProcessRuntime::new(esb, state_dir, lifeline.then(std::process::id));
        if let Some(remote) = &remote {
            runtime = runtime.with_listen_ip(remote.worker.worker_ip);
        }
        if prepare_python {
            eprintln!("esb: preparing the Python runtime (first run only)...");
            runtime
                .python_env()
                .ensure()
                .await
                .context("cannot prepare the Python runtime")?;
        }
        Arc::new(runtime)
    };
    let agent = Agent::new(runtime, state_dir, capacity, !lifeline)
        .await
        .with_context(|| {
            format!(
                "cannot read worker records under {}",
                state_dir.root().display()
            )
        })?;
    let mut agent = agent.with_node(node);
    if let Some(remote) = remote {
        agent = agent.with_remote(remote.worker);
    }
    let agent = Arc::new(agent);
    agent.spawn_janitor(Duration::from_secs(runtime_args.orphan_grace.max(1)));
    Ok(agent)
}

/// Serves `agent` on `listener` until `shutdown` resolves.
pub async fn serve(
    agent: Arc<Agent>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<()> {
    serve_with(agent, listener, None, shutdown).await
}

/// [`serve`], over mutual TLS when `tls` is given (an agent that joined a box).
pub async fn serve_with(
    agent: Arc<Agent>,
    listener: tokio::net::TcpListener,
    tls: Option<ServerTlsConfig>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, mtls = tls.is_some(), "esb agent listening");
    }
    let mut server = tonic::transport::Server::builder().timeout(Duration::from_secs(120));
    if let Some(tls) = tls {
        server = server
            .tls_config(tls)
            .context("the node's TLS credentials")?;
    }
    server
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
        let state = StateDir::new(&args.state_dir);
        let credentials = crate::agent_join::credentials(&args.join, args.listen, &state).await?;
        let tls = match &credentials {
            Some(creds) => Some(esb_nodes::agent_server_tls(creds)?),
            None if !args.listen.ip().is_loopback() => bail!(
                "--listen {}: an agent reachable from the network runs anyone's code; without --join (mutual TLS with a box) it listens on loopback only",
                args.listen
            ),
            None => None,
        };
        let kind = args.runtime.resolve().await?;
        let agent = build_agent(
            &state,
            args.capacity,
            &args.runtime,
            kind,
            false,
            false,
            AgentNode {
                capacity: esb_agent::node_capacity::NodeCapacity::detect(
                    credentials
                        .as_ref()
                        .map_or(esb_agent::node_capacity::LOCAL_NODE, |c| {
                            c.joined.node_name.as_str()
                        }),
                    args.memory_mb,
                ),
                remote: credentials.as_ref().map(|c| Remote::of(c, args.listen)),
            },
        )
        .await?;
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {} (agent gRPC)", args.listen))?;
        serve_with(
            Arc::clone(&agent),
            listener,
            tls,
            crate::signals::shutdown_signal(),
        )
        .await?;
        if args.remove_workers_on_exit {
            agent.destroy_all().await;
        }
        Ok(())
    })
}
