//! The `docker` runtime (the seed's standard mode): each worker is a container of the
//! function's image (`esb build`), whose entrypoint is `esb rie`. Containers carry the
//! box's labels and join the box's network; `MemorySize` is the container's memory
//! limit (no swap) and CPU weight follows memory as on Lambda; the root filesystem is
//! read-only with a writable `/tmp`, as on Lambda.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use esb_docker::bollard::Docker;
use esb_docker::bollard::errors::Error as DockerError;
use esb_docker::bollard::models::{
    ContainerCreateBody, HostConfig, NetworkConnectRequest, PortBinding,
};
use esb_docker::bollard::query_parameters::{
    CreateContainerOptions, ListContainersOptions, LogsOptions, RemoveContainerOptions,
    StatsOptions,
};
use esb_docker::labels;
use esb_proto::agent::FunctionSpec;
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{RuntimeError, WorkerRuntime, WorkerUsage};
use crate::container_env::{self, HOST_ALIAS};
use crate::docker_network::{self, BoxNetwork};
use crate::runtime::process::now_ms;
use crate::worker_record::{RecordedState, WorkerRecord, spec_hash};

/// The port `esb rie` listens on inside every worker image.
const RIE_PORT: u16 = 8080;
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// Lambda gives one vCPU per 1,769 MB of memory.
const MB_PER_VCPU: i64 = 1769;
/// Lambda's default ephemeral storage (`/tmp`).
const TMP_SIZE: &str = "512m";
/// Lambda's limit on processes and threads per execution environment.
const PIDS_LIMIT: i64 = 1024;

/// How the gateway reaches a worker's Invoke API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerAddress {
    /// The container's IP when this host routes to the box network, else a published port.
    Auto,
    /// The container's IP on the box network (Linux hosts).
    ContainerIp,
    /// A port published on 127.0.0.1 (Docker Desktop, or a gateway without a route).
    PublishedPort,
}

#[derive(Debug, Clone)]
pub struct DockerOptions {
    /// Daemon endpoint; `None` means `DOCKER_HOST`, then the local socket.
    pub host: Option<String>,
    pub box_id: String,
    /// Subnet of the box network; `None` lets Docker choose a private one.
    pub subnet: Option<String>,
    /// User networks every worker also joins (to reach a database container, say).
    pub extra_networks: Vec<String>,
    pub address: WorkerAddress,
    /// Registry to pull missing function images from (`esb build --push`).
    pub registry: Option<String>,
    /// Containers of this box that no record names are removed once this old; younger
    /// ones may be a worker whose record is being written right now.
    pub orphan_grace: Duration,
}

pub struct DockerRuntime {
    docker: Docker,
    options: DockerOptions,
    network: BoxNetwork,
    publish: bool,
}

impl DockerRuntime {
    /// Reaches the daemon and prepares the box network; fails with what to do when the
    /// daemon does not answer.
    pub async fn connect(options: DockerOptions) -> Result<Self, RuntimeError> {
        let docker = esb_docker::connect(options.host.as_deref(), Duration::from_secs(3)).await?;
        let network = docker_network::ensure(&docker, &options.box_id, options.subnet.as_deref())
            .await
            .map_err(|e| RuntimeError::Control {
                worker: "-".into(),
                detail: e.to_string(),
            })?;
        let publish = match options.address {
            WorkerAddress::Auto => !network.routable,
            WorkerAddress::ContainerIp => false,
            WorkerAddress::PublishedPort => true,
        };
        tracing::info!(
            network = %network.name,
            gateway = %network.gateway,
            addressing = if publish { "published ports on 127.0.0.1" } else { "container IPs" },
            "docker runtime ready"
        );
        Ok(Self {
            docker,
            options,
            network,
            publish,
        })
    }

    fn container_name(&self, worker_id: &str) -> String {
        format!("esb-{}-{worker_id}", self.options.box_id)
    }

    fn control_err(worker: &str, e: impl std::fmt::Display) -> RuntimeError {
        RuntimeError::Control {
            worker: worker.to_string(),
            detail: e.to_string(),
        }
    }

    /// Makes sure the image is local, pulling it from the registry when one is set.
    async fn ensure_image(&self, id: &str, image: &str) -> Result<(), RuntimeError> {
        match self.docker.inspect_image(image).await {
            Ok(_) => return Ok(()),
            Err(e) if !is_not_found(&e) => return Err(Self::start_err(id, e)),
            Err(_) => {}
        }
        let Some(registry) = &self.options.registry else {
            return Err(Self::start_err(
                id,
                format!(
                    "image {image} is not on this machine: run `esb build`, or start the agent with --registry"
                ),
            ));
        };
        tracing::info!(%image, %registry, "pulling a missing function image");
        esb_docker::registry::pull_from(&self.docker, image, registry)
            .await
            .map_err(|e| Self::start_err(id, e))
    }

    fn start_err(worker: &str, e: impl std::fmt::Display) -> RuntimeError {
        RuntimeError::Start {
            worker: worker.to_string(),
            detail: e.to_string(),
        }
    }

    fn container_config(&self, id: &str, spec: &FunctionSpec) -> ContainerCreateBody {
        let (mut env, binds) = container_env::for_container(&spec.environment);
        env.extend([
            format!("AWS_LAMBDA_FUNCTION_NAME={}", spec.name),
            format!("AWS_LAMBDA_FUNCTION_TIMEOUT={}", spec.timeout_s),
            format!("AWS_LAMBDA_FUNCTION_MEMORY_SIZE={}", spec.memory_mb),
            format!("_HANDLER={}", spec.handler),
        ]);
        let memory = i64::from(spec.memory_mb) * 1024 * 1024;
        let port = format!("{RIE_PORT}/tcp");
        ContainerCreateBody {
            image: Some(spec.image.clone()),
            env: Some(env),
            labels: Some(HashMap::from([
                (labels::MANAGED.to_string(), "true".to_string()),
                (labels::BOX.to_string(), self.options.box_id.clone()),
                (labels::FUNCTION.to_string(), spec.name.clone()),
                (labels::WORKER.to_string(), id.to_string()),
            ])),
            exposed_ports: self.publish.then(|| vec![port.clone()]),
            host_config: Some(HostConfig {
                memory: Some(memory),
                memory_swap: Some(memory),
                cpu_shares: Some((i64::from(spec.memory_mb) * 1024 / MB_PER_VCPU).max(2)),
                pids_limit: Some(PIDS_LIMIT),
                readonly_rootfs: Some(true),
                tmpfs: Some(HashMap::from([(
                    "/tmp".to_string(),
                    format!("rw,nosuid,nodev,size={TMP_SIZE},mode=1777"),
                )])),
                network_mode: Some(self.network.name.clone()),
                extra_hosts: Some(vec![format!("{HOST_ALIAS}:{}", self.network.gateway)]),
                binds: (!binds.is_empty()).then_some(binds),
                port_bindings: self.publish.then(|| {
                    HashMap::from([(
                        port,
                        Some(vec![PortBinding {
                            host_ip: Some("127.0.0.1".into()),
                            host_port: Some(String::new()),
                        }]),
                    )])
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// The worker's Invoke API address once the container runs.
    async fn address(&self, name: &str) -> Result<String, String> {
        let info = self
            .docker
            .inspect_container(name, None)
            .await
            .map_err(|e| e.to_string())?;
        let settings = info.network_settings.unwrap_or_default();
        if self.publish {
            let port = settings
                .ports
                .and_then(|p| p.get(&format!("{RIE_PORT}/tcp")).cloned().flatten())
                .and_then(|b| b.into_iter().find_map(|b| b.host_port))
                .ok_or("Docker published no port for the worker")?;
            return Ok(format!("127.0.0.1:{port}"));
        }
        let ip = settings
            .networks
            .and_then(|n| n.get(&self.network.name).cloned())
            .and_then(|e| e.ip_address)
            .filter(|ip| !ip.is_empty())
            .ok_or("the container has no address on the box network")?;
        Ok(format!("{ip}:{RIE_PORT}"))
    }

    /// Waits until `esb rie` in the container answers HTTP (a published port accepts
    /// connections before the container listens, so a TCP connect proves nothing).
    async fn wait_ready(&self, id: &str, name: &str, address: &str) -> Result<(), RuntimeError> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut attempts = 0u32;
        loop {
            if answers_http(address).await {
                return Ok(());
            }
            attempts += 1;
            if attempts.is_multiple_of(25) && !self.running(name).await {
                return Err(Self::start_err(
                    id,
                    format!(
                        "the container exited before answering: {}",
                        self.log_tail(name).await
                    ),
                ));
            }
            if Instant::now() > deadline {
                return Err(Self::start_err(
                    id,
                    format!(
                        "no answer on {address} within {} s: {}",
                        READY_TIMEOUT.as_secs(),
                        self.log_tail(name).await
                    ),
                ));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    async fn running(&self, name: &str) -> bool {
        self.docker
            .inspect_container(name, None)
            .await
            .ok()
            .and_then(|c| c.state)
            .is_some_and(|s| s.running == Some(true))
    }

    /// The last lines the container wrote, for start errors.
    async fn log_tail(&self, name: &str) -> String {
        let options = LogsOptions {
            stdout: true,
            stderr: true,
            tail: "20".into(),
            ..Default::default()
        };
        let mut logs = self.docker.logs(name, Some(options));
        let mut text = String::new();
        while let Some(Ok(chunk)) = logs.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
        }
        if text.trim().is_empty() {
            "(no output)".into()
        } else {
            format!("its last output:\n{}", text.trim_end())
        }
    }

    async fn remove(&self, name: &str) {
        let options = RemoveContainerOptions {
            force: true,
            ..Default::default()
        };
        match self.docker.remove_container(name, Some(options)).await {
            Ok(()) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => tracing::warn!("cannot remove container {name}: {e}"),
        }
    }

    async fn start_container(&self, id: &str, spec: &FunctionSpec) -> Result<String, RuntimeError> {
        let name = self.container_name(id);
        let options = CreateContainerOptions {
            name: Some(name.clone()),
            ..Default::default()
        };
        self.docker
            .create_container(Some(options), self.container_config(id, spec))
            .await
            .map_err(|e| Self::start_err(id, e))?;
        for network in &self.options.extra_networks {
            let request = NetworkConnectRequest {
                container: name.clone(),
                endpoint_config: None,
            };
            self.docker
                .connect_network(network, request)
                .await
                .map_err(|e| Self::start_err(id, format!("cannot join network {network}: {e}")))?;
        }
        self.docker
            .start_container(&name, None)
            .await
            .map_err(|e| Self::start_err(id, e))?;
        let address = self
            .address(&name)
            .await
            .map_err(|e| Self::start_err(id, e))?;
        self.wait_ready(id, &name, &address).await?;
        Ok(address)
    }
}

#[async_trait]
impl WorkerRuntime for DockerRuntime {
    fn kind(&self) -> &'static str {
        "docker"
    }

    async fn create(&self, id: &str, spec: &FunctionSpec) -> Result<WorkerRecord, RuntimeError> {
        if spec.image.is_empty() {
            return Err(Self::start_err(
                id,
                format!(
                    "function {} has no image: the docker runtime runs images made by `esb build`",
                    spec.name
                ),
            ));
        }
        self.ensure_image(id, &spec.image).await?;
        let address = match self.start_container(id, spec).await {
            Ok(a) => a,
            Err(e) => {
                self.remove(&self.container_name(id)).await;
                return Err(e);
            }
        };
        let now = now_ms();
        Ok(WorkerRecord {
            id: id.to_string(),
            function_name: spec.name.clone(),
            address,
            pid: 0,
            created_at_ms: now,
            last_used_ms: now,
            spec_hash: spec_hash(spec),
            state: RecordedState::Running,
        })
    }

    async fn destroy(&self, worker: &WorkerRecord) {
        let name = self.container_name(&worker.id);
        if worker.state == RecordedState::Paused {
            let _ = self.docker.unpause_container(&name).await;
        }
        self.remove(&name).await;
    }

    async fn pause(&self, worker: &WorkerRecord) -> Result<(), RuntimeError> {
        self.docker
            .pause_container(&self.container_name(&worker.id))
            .await
            .map_err(|e| Self::control_err(&worker.id, e))
    }

    async fn resume(&self, worker: &WorkerRecord) -> Result<(), RuntimeError> {
        self.docker
            .unpause_container(&self.container_name(&worker.id))
            .await
            .map_err(|e| Self::control_err(&worker.id, e))
    }

    async fn is_alive(&self, worker: &WorkerRecord) -> bool {
        let Ok(info) = self
            .docker
            .inspect_container(&self.container_name(&worker.id), None)
            .await
        else {
            return false;
        };
        let ours = info
            .config
            .and_then(|c| c.labels)
            .and_then(|l| l.get(labels::BOX).cloned())
            .is_some_and(|b| b == self.options.box_id);
        let running = info
            .state
            .is_some_and(|s| s.running == Some(true) || s.paused == Some(true));
        ours && running
    }

    async fn usage(&self, worker: &WorkerRecord) -> WorkerUsage {
        let options = StatsOptions {
            stream: false,
            one_shot: true,
        };
        let name = self.container_name(&worker.id);
        let Some(Ok(stats)) = self.docker.stats(&name, Some(options)).next().await else {
            return WorkerUsage::default();
        };
        let memory = stats.memory_stats.unwrap_or_default();
        let cgroup = stats
            .id
            .as_deref()
            .and_then(container_memory_cgroup)
            .map(|dir| crate::memory_limit::stats(&dir))
            .unwrap_or_default();
        WorkerUsage {
            memory_bytes: memory.usage.unwrap_or_default(),
            memory_max_bytes: memory.max_usage.unwrap_or(cgroup.max_bytes),
            memory_limit_bytes: memory.limit.unwrap_or_default(),
            cpu_time_ms: stats
                .cpu_stats
                .and_then(|c| c.cpu_usage)
                .and_then(|u| u.total_usage)
                .unwrap_or_default()
                / 1_000_000,
            oom_kills: cgroup.oom_kills,
        }
    }

    async fn cleanup(&self, worker: &WorkerRecord) {
        self.remove(&self.container_name(&worker.id)).await;
    }

    async fn sweep_orphans(&self, known: &HashSet<String>) -> usize {
        let options = ListContainersOptions {
            all: true,
            filters: Some(HashMap::from([(
                "label".to_string(),
                vec![format!("{}={}", labels::BOX, self.options.box_id)],
            )])),
            ..Default::default()
        };
        let Ok(containers) = self.docker.list_containers(Some(options)).await else {
            return 0;
        };
        let now = now_ms() / 1000;
        let mut removed = 0;
        for c in containers {
            let worker = c
                .labels
                .as_ref()
                .and_then(|l| l.get(labels::WORKER))
                .cloned()
                .unwrap_or_default();
            let age = u64::try_from(now - c.created.unwrap_or(now)).unwrap_or(0);
            let old = age >= self.options.orphan_grace.as_secs();
            if !known.contains(&worker)
                && old
                && let Some(id) = c.id
            {
                let _ = self.docker.unpause_container(&id).await;
                self.remove(&id).await;
                removed += 1;
            }
        }
        removed
    }

    async fn shutdown(&self) {
        docker_network::remove(&self.docker, &self.network.name).await;
    }
}

fn is_not_found(e: &DockerError) -> bool {
    matches!(
        e,
        DockerError::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// Whether something at `address` answers an HTTP request (any status).
async fn answers_http(address: &str) -> bool {
    let probe = async {
        let mut stream = tokio::net::TcpStream::connect(address).await.ok()?;
        stream
            .write_all(b"GET /esb/ready HTTP/1.1\r\nHost: worker\r\nConnection: close\r\n\r\n")
            .await
            .ok()?;
        let mut head = [0u8; 8];
        stream.read_exact(&mut head).await.ok()?;
        (&head == b"HTTP/1.1").then_some(())
    };
    tokio::time::timeout(Duration::from_secs(1), probe)
        .await
        .ok()
        .flatten()
        .is_some()
}

/// The container's memory cgroup on this host (v1 cgroupfs, or v2 with either driver),
/// for the OOM-kill counter Docker's stats omit.
fn container_memory_cgroup(id: &str) -> Option<std::path::PathBuf> {
    [
        format!("/sys/fs/cgroup/memory/docker/{id}"),
        format!("/sys/fs/cgroup/system.slice/docker-{id}.scope"),
        format!("/sys/fs/cgroup/docker/{id}"),
    ]
    .into_iter()
    .map(std::path::PathBuf::from)
    .find(|p| p.is_dir())
}
