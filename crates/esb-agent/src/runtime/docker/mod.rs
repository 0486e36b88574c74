//! The `docker` runtime (the seed's standard mode): each worker is a container of the
//! function's image (`esb build`), whose entrypoint is `esb rie`. Containers carry the
//! box's labels and join the box's network; `MemorySize` is the container's memory
//! limit (no swap) and CPU weight follows memory as on Lambda; the root filesystem is
//! read-only with a writable `/tmp`, as on Lambda.
//!
//! Starting a container costs ~250 ms of the daemon's time, so after a function's
//! first worker the runtime keeps `standby` more started and initialised (prepared in
//! the background, one at a time, once no request is waiting for a start): the next
//! new worker of that function is a rename away, and another standby is prepared
//! behind it.

mod container;
mod standby;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use esb_docker::bollard::Docker;
use esb_docker::bollard::errors::Error as DockerError;
use esb_docker::bollard::models::{
    ContainerCreateBody, HostConfig, NetworkConnectRequest, PortBinding,
};
use esb_docker::bollard::query_parameters::{
    CreateContainerOptions, ListContainersOptions, LogsOptions, RemoveContainerOptions,
    RenameContainerOptions, StatsOptions,
};
use esb_docker::labels;
use esb_proto::agent::FunctionSpec;
use futures::StreamExt;

use super::held_images::HeldImages;
use super::http_probe::{self, status as http_status};
use super::quiet::{QUIET, Starts};
use super::standby_shelf::{STANDBY_MARK, Shelved, StandbyShelf};
use super::{RuntimeError, WorkerRuntime, WorkerUsage};
use crate::container_env::{self, HOST_ALIAS};
use crate::docker_network::{self, BoxNetwork};
use crate::worker_record::{RecordedState, WorkerRecord, new_token, now_ms, spec_hash};

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
    /// A port published on `DockerOptions::publish_ip` (Docker Desktop, a gateway
    /// without a route, or a remote node's gateway on another machine).
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
    /// Host directory of the workers' log spools, mounted into every container so
    /// what a removed container could not deliver is delivered by another worker.
    pub log_spool: Option<std::path::PathBuf>,
    /// Paused, initialised containers kept ready per function (0: none).
    pub standby: usize,
    /// Where published ports listen: 127.0.0.1 on the box's machine; on a remote node
    /// the node's address, which the box's gateway reaches.
    pub publish_ip: std::net::IpAddr,
}

pub struct DockerRuntime {
    inner: Arc<Inner>,
}

struct Inner {
    docker: Docker,
    options: DockerOptions,
    network: BoxNetwork,
    publish: bool,
    /// Started, initialised containers ready per spec, and those being prepared
    /// (which the orphan sweep leaves alone).
    standby: StandbyShelf<Standby>,
    /// One standby is prepared at a time: they are background work.
    preparing: tokio::sync::Semaphore,
    /// Starts requests wait for: standbys are prepared once they are quiet.
    starts: Starts,
    shutting_down: AtomicBool,
    /// The function images the daemon holds, for placement.
    images: HeldImages,
}

/// A started, initialised container waiting to become a worker.
struct Standby {
    name: String,
    address: String,
    token: String,
    /// The function it was prepared for (a new spec of it makes this one stale).
    function: String,
}

impl DockerRuntime {
    /// Reaches the daemon and prepares the box network; fails with what to do when the
    /// daemon does not answer.
    pub async fn connect(options: DockerOptions) -> Result<Self, RuntimeError> {
        let docker = esb_docker::connect(options.host.as_deref(), Duration::from_secs(3)).await?;
        let network =
            docker_network::ensure(&docker, &options.box_id, options.subnet.as_deref()).await?;
        let publish = match options.address {
            WorkerAddress::Auto => !network.routable,
            WorkerAddress::ContainerIp => false,
            WorkerAddress::PublishedPort => true,
        };
        tracing::info!(
            network = %network.name,
            gateway = %network.gateway,
            addressing = if publish { "published ports" } else { "container IPs" },
            publish_ip = %options.publish_ip,
            "docker runtime ready"
        );
        Ok(Self {
            inner: Arc::new(Inner {
                docker,
                options,
                network,
                publish,
                standby: StandbyShelf::default(),
                preparing: tokio::sync::Semaphore::new(1),
                starts: Starts::default(),
                shutting_down: AtomicBool::new(false),
                images: HeldImages::default(),
            }),
        })
    }
}

#[async_trait]
impl WorkerRuntime for DockerRuntime {
    fn kind(&self) -> &'static str {
        "docker"
    }

    async fn create(&self, id: &str, spec: &FunctionSpec) -> Result<WorkerRecord, RuntimeError> {
        let inner = &self.inner;
        if spec.image.is_empty() {
            return Err(Inner::start_err(
                id,
                format!(
                    "function {} has no image: the docker runtime runs images made by `esb build`",
                    spec.name
                ),
            ));
        }
        let hash = spec_hash(spec);
        let container = inner.container_name(id);
        for stale in inner.standby.take_stale(&spec.name, &hash) {
            inner.remove(&stale.name).await;
        }
        let mut promoted = None;
        while let Some(standby) = inner.standby.take(&hash) {
            // Promoted: renamed after the worker it now is.
            let rename = RenameContainerOptions {
                name: container.clone(),
            };
            match inner.docker.rename_container(&standby.name, rename).await {
                Ok(()) => {
                    promoted = Some((standby.address, standby.token));
                    break;
                }
                Err(e) => {
                    tracing::warn!("standby {} is unusable ({e}); removing it", standby.name);
                    inner.remove(&standby.name).await;
                }
            }
        }
        let (address, token) = match promoted {
            Some(p) => p,
            None => {
                let token = new_token();
                let started = inner
                    .starts
                    .track(async {
                        inner.ensure_image(id, &spec.image).await?;
                        inner.start_container(id, &container, spec, &token).await
                    })
                    .await;
                (started?, token)
            }
        };
        inner.refill(spec);
        Ok(WorkerRecord::running(
            id, spec, hash, address, 0, container, token,
        ))
    }

    async fn destroy(&self, worker: &WorkerRecord) {
        if worker.state == RecordedState::Paused {
            let _ = self.inner.docker.unpause_container(&worker.container).await;
        }
        self.inner.remove(&worker.container).await;
    }

    async fn pause(&self, worker: &WorkerRecord) -> Result<(), RuntimeError> {
        self.inner
            .docker
            .pause_container(&worker.container)
            .await
            .map_err(|e| Inner::control_err(&worker.id, e))
    }

    async fn resume(&self, worker: &WorkerRecord) -> Result<(), RuntimeError> {
        self.inner
            .docker
            .unpause_container(&worker.container)
            .await
            .map_err(|e| Inner::control_err(&worker.id, e))
    }

    async fn is_alive(&self, worker: &WorkerRecord) -> bool {
        if worker.container.is_empty() {
            return false;
        }
        let Ok(info) = self
            .inner
            .docker
            .inspect_container(&worker.container, None)
            .await
        else {
            return false;
        };
        let ours = info
            .config
            .and_then(|c| c.labels)
            .and_then(|l| l.get(labels::BOX).cloned())
            .is_some_and(|b| b == self.inner.options.box_id);
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
        let mut stats = self.inner.docker.stats(&worker.container, Some(options));
        let Some(Ok(stats)) = stats.next().await else {
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
        if !worker.container.is_empty() {
            self.inner.remove(&worker.container).await;
        }
    }

    async fn sweep_orphans(&self, known: &[WorkerRecord], immediately: bool) -> usize {
        let inner = &self.inner;
        let options = ListContainersOptions {
            all: true,
            filters: Some(HashMap::from([(
                "label".to_string(),
                vec![format!("{}={}", labels::BOX, inner.options.box_id)],
            )])),
            ..Default::default()
        };
        let Ok(containers) = inner.docker.list_containers(Some(options)).await else {
            return 0;
        };
        let mut keep = inner.standby.held();
        keep.extend(known.iter().map(|w| w.container.clone()));
        let now = now_ms() / 1000;
        let mut removed = 0;
        for c in containers {
            let names: Vec<&str> = c
                .names
                .iter()
                .flatten()
                .map(|n| n.trim_start_matches('/'))
                .collect();
            let kept = names.iter().any(|n| keep.contains(*n));
            // A standby this runtime does not hold was a previous agent's: no one can
            // ever promote it.
            let foreign_standby = names.iter().any(|n| n.contains(STANDBY_MARK));
            let age = u64::try_from(now - c.created.unwrap_or(now)).unwrap_or(0);
            if !kept
                && (immediately || foreign_standby || age >= inner.options.orphan_grace.as_secs())
                && let Some(id) = c.id
            {
                let _ = inner.docker.unpause_container(&id).await;
                inner.remove(&id).await;
                removed += 1;
            }
        }
        removed
    }

    async fn held_images(&self) -> Vec<String> {
        let docker = self.inner.docker.clone();
        self.inner.images.get(async move {
            let options =
                esb_docker::bollard::query_parameters::ListImagesOptionsBuilder::default()
                    .filters(&HashMap::from([("reference", vec!["esb/*"])]))
                    .build();
            match docker.list_images(Some(options)).await {
                Ok(images) => Some(images.into_iter().flat_map(|i| i.repo_tags).collect()),
                Err(e) => {
                    tracing::debug!("cannot list the daemon's images: {e}");
                    None
                }
            }
        })
    }

    async fn shutdown(&self) {
        let inner = &self.inner;
        inner.shutting_down.store(true, Ordering::Relaxed);
        // Standbys being prepared remove themselves when done; wait for them briefly.
        let deadline = Instant::now() + READY_TIMEOUT;
        while inner.standby.preparing() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let standbys = inner.standby.drain();
        futures::future::join_all(standbys.iter().map(|sb| inner.remove(&sb.name))).await;
        docker_network::remove(&inner.docker, &inner.network.name).await;
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
