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

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
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
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{RuntimeError, WorkerRuntime, WorkerUsage};
use crate::container_env::{self, HOST_ALIAS};
use crate::docker_network::{self, BoxNetwork};
use crate::runtime::process::now_ms;
use crate::worker_record::{RecordedState, WorkerRecord, new_token, spec_hash};

/// The port `esb rie` listens on inside every worker image.
const RIE_PORT: u16 = 8080;
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// Lambda gives one vCPU per 1,769 MB of memory.
const MB_PER_VCPU: i64 = 1769;
/// Lambda's default ephemeral storage (`/tmp`).
const TMP_SIZE: &str = "512m";
/// Lambda's limit on processes and threads per execution environment.
const PIDS_LIMIT: i64 = 1024;
/// In the names of standby containers (`esb-<box>-standby-<spec hash>-<n>`).
const STANDBY_MARK: &str = "-standby-";
/// Standbys are prepared only after this long without a worker being started, so
/// they never slow down the starts requests are waiting for.
const STANDBY_QUIET: Duration = Duration::from_millis(500);

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
    /// Paused, initialised containers kept ready per function (0: none).
    pub standby: usize,
}

pub struct DockerRuntime {
    inner: Arc<Inner>,
}

struct Inner {
    docker: Docker,
    options: DockerOptions,
    network: BoxNetwork,
    publish: bool,
    /// Ready paused containers by spec hash.
    standby: Mutex<HashMap<String, Vec<Standby>>>,
    /// Standby containers being prepared (names), so no more than wanted are started
    /// and the orphan sweep leaves them alone.
    filling: Mutex<HashSet<String>>,
    /// One standby is prepared at a time: they are background work.
    preparing: tokio::sync::Semaphore,
    /// Workers being started for requests right now, and when the last one began.
    starting: AtomicUsize,
    last_start: Mutex<Instant>,
    shutting_down: AtomicBool,
}

/// A started, initialised container waiting to become a worker.
struct Standby {
    name: String,
    address: String,
    token: String,
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
            addressing = if publish { "published ports on 127.0.0.1" } else { "container IPs" },
            "docker runtime ready"
        );
        Ok(Self {
            inner: Arc::new(Inner {
                docker,
                options,
                network,
                publish,
                standby: Mutex::new(HashMap::new()),
                filling: Mutex::new(HashSet::new()),
                preparing: tokio::sync::Semaphore::new(1),
                starting: AtomicUsize::new(0),
                last_start: Mutex::new(Instant::now()),
                shutting_down: AtomicBool::new(false),
            }),
        })
    }
}

impl Inner {
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

    fn container_config(&self, id: &str, spec: &FunctionSpec, token: &str) -> ContainerCreateBody {
        let (mut env, binds) = container_env::for_container(&spec.environment);
        env.extend([
            format!("{}={token}", esb_rie::config::WORKER_TOKEN_VAR),
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
            if http_status(address, "/esb/v1/ready", Duration::from_secs(1))
                .await
                .is_some()
            {
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

    /// Creates and starts container `name` for worker `id`; returns its address once
    /// `esb rie` answers.
    async fn start_container(
        &self,
        id: &str,
        name: &str,
        spec: &FunctionSpec,
        token: &str,
    ) -> Result<String, RuntimeError> {
        let result = self.try_start_container(id, name, spec, token).await;
        if result.is_err() {
            self.remove(name).await;
        }
        result
    }

    async fn try_start_container(
        &self,
        id: &str,
        name: &str,
        spec: &FunctionSpec,
        token: &str,
    ) -> Result<String, RuntimeError> {
        let name = name.to_string();
        let t0 = Instant::now();
        let options = CreateContainerOptions {
            name: Some(name.clone()),
            ..Default::default()
        };
        self.docker
            .create_container(Some(options), self.container_config(id, spec, token))
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
        let created = t0.elapsed();
        self.docker
            .start_container(&name, None)
            .await
            .map_err(|e| Self::start_err(id, e))?;
        let started = t0.elapsed();
        let address = self
            .address(&name)
            .await
            .map_err(|e| Self::start_err(id, e))?;
        self.wait_ready(id, &name, &address).await?;
        tracing::debug!(
            worker = id,
            create_ms = created.as_millis(),
            start_ms = (started - created).as_millis(),
            ready_ms = (t0.elapsed() - started).as_millis(),
            "container started"
        );
        Ok(address)
    }
}

/// Standby containers: prepared behind a function's workers, promoted on demand.
impl Inner {
    fn take_standby(&self, spec_hash: &str) -> Option<Standby> {
        self.standby.lock().ok()?.get_mut(spec_hash)?.pop()
    }

    /// Prepares standby containers for `spec` in the background, up to the number wanted.
    fn refill(self: &Arc<Self>, spec: &FunctionSpec) {
        let hash = spec_hash(spec);
        let ready = self
            .standby
            .lock()
            .map(|s| s.get(&hash).map_or(0, Vec::len))
            .unwrap_or(usize::MAX);
        let preparing = self
            .filling
            .lock()
            .map(|f| f.iter().filter(|n| n.contains(&hash)).count())
            .unwrap_or(usize::MAX);
        if self.shutting_down.load(Ordering::Relaxed)
            || ready.saturating_add(preparing) >= self.options.standby
        {
            return;
        }
        let suffix = &uuid::Uuid::new_v4().simple().to_string()[..8];
        let name = format!("esb-{}{STANDBY_MARK}{hash}-{suffix}", self.options.box_id);
        if let Ok(mut f) = self.filling.lock() {
            f.insert(name.clone());
        }
        let inner = Arc::clone(self);
        let spec = spec.clone();
        tokio::spawn(async move {
            let prepared = match inner.preparing.acquire().await {
                Ok(_turn) => {
                    inner.wait_quiet().await;
                    inner.prepare_standby(&name, &spec).await
                }
                Err(e) => Err(Inner::control_err(&name, e)),
            };
            let keep = !inner.shutting_down.load(Ordering::Relaxed);
            match prepared {
                Ok(standby) if keep => {
                    if let Ok(mut s) = inner.standby.lock() {
                        s.entry(hash).or_default().push(standby);
                    }
                }
                Ok(_) => inner.remove(&name).await,
                Err(e) => tracing::warn!("cannot prepare a standby worker of {}: {e}", spec.name),
            }
            if let Ok(mut f) = inner.filling.lock() {
                f.remove(&name);
            }
        });
    }

    /// Starts the container and lets the runtime initialise, so the request that
    /// promotes it does not wait for init. It is not frozen: an idle runtime blocked on
    /// `/next` costs no CPU, and a frozen container would accept connections meant for
    /// a dead worker whose address it inherited and never answer them.
    async fn prepare_standby(
        &self,
        name: &str,
        spec: &FunctionSpec,
    ) -> Result<Standby, RuntimeError> {
        let token = new_token();
        let address = self.start_container("standby", name, spec, &token).await?;
        if http_status(&address, "/esb/v1/initialized", READY_TIMEOUT).await != Some(200) {
            tracing::debug!(container = name, "standby kept before its init settled");
        }
        Ok(Standby {
            name: name.to_string(),
            address,
            token,
        })
    }

    /// Waits until no worker has been started for a request for [`STANDBY_QUIET`].
    async fn wait_quiet(&self) {
        loop {
            let since = self
                .last_start
                .lock()
                .map(|t| t.elapsed())
                .unwrap_or(STANDBY_QUIET);
            if self.starting.load(Ordering::Relaxed) == 0 && since >= STANDBY_QUIET {
                return;
            }
            tokio::time::sleep(
                STANDBY_QUIET
                    .saturating_sub(since)
                    .max(Duration::from_millis(50)),
            )
            .await;
        }
    }

    /// Names of every container the runtime itself holds (standby or being prepared).
    fn held(&self) -> HashSet<String> {
        let mut names: HashSet<String> = self.filling.lock().map(|f| f.clone()).unwrap_or_default();
        if let Ok(s) = self.standby.lock() {
            names.extend(s.values().flatten().map(|sb| sb.name.clone()));
        }
        names
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
        let mut promoted = None;
        while let Some(standby) = inner.take_standby(&hash) {
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
                inner.starting.fetch_add(1, Ordering::Relaxed);
                let started = async {
                    inner.ensure_image(id, &spec.image).await?;
                    inner.start_container(id, &container, spec, &token).await
                }
                .await;
                if let Ok(mut t) = inner.last_start.lock() {
                    *t = Instant::now();
                }
                inner.starting.fetch_sub(1, Ordering::Relaxed);
                (started?, token)
            }
        };
        inner.refill(spec);
        let now = now_ms();
        Ok(WorkerRecord {
            id: id.to_string(),
            function_name: spec.name.clone(),
            address,
            pid: 0,
            container,
            token,
            created_at_ms: now,
            last_used_ms: now,
            spec_hash: hash,
            state: RecordedState::Running,
        })
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
        let mut keep = inner.held();
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

    async fn shutdown(&self) {
        let inner = &self.inner;
        inner.shutting_down.store(true, Ordering::Relaxed);
        // Standbys being prepared remove themselves when done; wait for them briefly.
        let deadline = Instant::now() + READY_TIMEOUT;
        while inner.filling.lock().is_ok_and(|f| !f.is_empty()) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let standbys: Vec<Standby> = inner
            .standby
            .lock()
            .map(|mut s| s.drain().flat_map(|(_, v)| v).collect())
            .unwrap_or_default();
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

/// The status `esb rie` at `address` answers a `GET path` with, if it answers within
/// `within`.
async fn http_status(address: &str, path: &str, within: Duration) -> Option<u16> {
    let probe = async {
        let mut stream = tokio::net::TcpStream::connect(address).await.ok()?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: worker\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await.ok()?;
        let status = head.strip_prefix(b"HTTP/1.1 ")?;
        std::str::from_utf8(status).ok()?.parse().ok()
    };
    tokio::time::timeout(within, probe).await.ok().flatten()
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
