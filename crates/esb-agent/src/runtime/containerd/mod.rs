//! The `containerd` runtime: each worker is a containerd container of the function's
//! image (`esb build`'s content-hash image, imported into the box's containerd
//! namespace), run by runc in a network namespace of its own on the box's bridge.
//! It keeps the docker runtime's guarantees — `MemorySize` as a memory limit without
//! swap, CPU weight following memory, read-only root with a 512 MB `/tmp`, a pid
//! limit, the box's CA, loopback URLs pointed at the box's host, labels for ownership
//! and adoption — without a Docker daemon in the path.
//!
//! A cold start is the sum of a network namespace, a snapshot, a container, runc's
//! create and start, and the runtime's init. Namespaces attached to the bridge are
//! kept ready (`netns_pool.rs`), and each function has a standby *created but not
//! started* (`standby.rs`: runc has set up its namespaces, cgroups and mounts; nothing
//! of the function runs, so it costs no CPU and about 2 MB): the first one is made
//! when the gateway asks (`prepare`, before any request), the next behind each one a
//! request takes. A new worker then only starts a process. Every worker of the box
//! shares one runc shim.

mod bridge;
mod cgroups;
pub mod client;
mod content_blobs;
mod docker_import;
mod image_manifest;
mod image_record;
pub mod image_store;
mod image_types;
mod image_unpack;
mod import_lease;
mod netns;
mod netns_pool;
mod oci_spec;
mod registry_pull;
mod seccomp;
mod standby;
mod subnet_claim;
mod tar_stream;
mod task;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use containerd_client::services::v1::{
    GetRequest, ListContainersRequest, PauseTaskRequest, ResumeTaskRequest,
};
use esb_docker::labels;
use esb_proto::agent::FunctionSpec;

use self::bridge::Bridge;
use self::client::Containerd;
use self::image_store::{Image, ImageStore};
use self::oci_spec::{Bind, WorkerSpec};
use self::task::{NETNS_LABEL, Phases, ReadyNetns};
use super::held_images::HeldImages;
use super::http_probe;
use super::quiet::{QUIET, Starts};
use super::standby_shelf::{STANDBY_MARK, Shelved, StandbyShelf};
use super::{RuntimeError, WorkerRuntime, WorkerUsage};
use crate::container_env::{self, HOST_ALIAS};
use crate::worker_env::{LOG_SPOOL_VAR, LOGS_URL_VAR, WORKER_ID_VAR};
use crate::worker_record::{WorkerRecord, new_token, spec_hash};

pub use self::client::DEFAULT_SOCKET;

/// The port `esb rie` listens on inside every worker image.
const RIE_PORT: u16 = 8080;
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// Lambda gives one vCPU per 1,769 MB of memory.
const MB_PER_VCPU: u64 = 1769;
const TMP_SIZE: &str = "512m";
const PIDS_LIMIT: i64 = 1024;
/// Where the host's worker log spools appear inside a worker.
const SPOOL_IN_CONTAINER: &str = "/var/esb/log-spool";
/// A worker's own output file is cut back once this large (function output is in the
/// box's log store; this file is for start errors).
const OUTPUT_CAP: u64 = 10 << 20;

#[derive(Debug, Clone)]
pub struct ContainerdOptions {
    pub socket: PathBuf,
    /// The containerd namespace the box's images and workers live in.
    pub namespace: String,
    pub box_id: String,
    /// Subnet of the box's bridge; `None`: a free /24 of 10.89.0.0/16.
    pub subnet: Option<String>,
    /// The runtime's own files: bridge settings, address leases, hosts file, outputs.
    pub dir: PathBuf,
    /// The Docker daemon images are imported from when containerd lacks them.
    pub docker_host: Option<String>,
    /// Registry missing images are pulled from.
    pub registry: Option<String>,
    pub orphan_grace: Duration,
    pub log_spool: Option<PathBuf>,
    /// Created, unstarted tasks kept per function, the first before any request (0:
    /// none, every worker is made from scratch).
    pub standby: usize,
    /// Network namespaces kept attached and ready.
    pub ready_netns: usize,
    /// Where the CNI plugins are; `None`: /usr/lib/cni, then /opt/cni/bin.
    pub cni_bin_dir: Option<PathBuf>,
}

pub struct ContainerdRuntime {
    inner: Arc<Inner>,
}

struct Inner {
    ctr: Containerd,
    images: ImageStore,
    bridge: Bridge,
    options: ContainerdOptions,
    hosts_file: PathBuf,
    netns_ready: Mutex<Vec<ReadyNetns>>,
    /// Namespaces being made for the ready list.
    netns_filling: Mutex<HashSet<PathBuf>>,
    /// Created, unstarted tasks ready per spec, and those being prepared.
    standby: StandbyShelf<Standby>,
    preparing: tokio::sync::Semaphore,
    /// Starts requests wait for: standbys are prepared once they are quiet.
    starts: Starts,
    /// The function images containerd holds, for placement.
    held_images: HeldImages,
    shutting_down: AtomicBool,
}

/// A created, unstarted task waiting to become a worker.
struct Standby {
    container: String,
    /// The worker id it was made with (its log spool and log records use it).
    worker_id: String,
    address: String,
    token: String,
    function: String,
}

/// Bookkeeping is changed one whole insert or removal at a time: a lock poisoned by a
/// panic elsewhere still guards consistent data.
fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ContainerdRuntime {
    /// Reaches containerd and prepares the box's bridge settings.
    pub async fn connect(options: ContainerdOptions) -> Result<Self, RuntimeError> {
        let ctr = Containerd::connect(&options.socket, &options.namespace)
            .await
            .map_err(|e| RuntimeError::Containerd(e.to_string()))?;
        let bridge = Bridge::new(
            &options.box_id,
            options.subnet.as_deref(),
            &options.dir,
            options.cni_bin_dir.as_deref(),
        )
        .map_err(|e| RuntimeError::Containerd(e.to_string()))?;
        std::fs::create_dir_all(options.dir.join("output"))
            .map_err(|e| RuntimeError::Containerd(format!("{}: {e}", options.dir.display())))?;
        let hosts_file = options.dir.join("hosts");
        let hosts = format!(
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n{}\t{HOST_ALIAS}\n",
            bridge.gateway
        );
        std::fs::write(&hosts_file, hosts)
            .map_err(|e| RuntimeError::Containerd(format!("{}: {e}", hosts_file.display())))?;
        tracing::info!(
            socket = %options.socket.display(),
            namespace = %options.namespace,
            bridge = %bridge.name,
            subnet = %bridge.subnet,
            "containerd runtime ready"
        );
        let images = ImageStore::new(
            ctr.clone(),
            options.docker_host.clone(),
            options.registry.clone(),
        );
        let runtime = Self {
            inner: Arc::new(Inner {
                ctr,
                images,
                bridge,
                hosts_file,
                netns_ready: Mutex::new(Vec::new()),
                netns_filling: Mutex::new(HashSet::new()),
                standby: StandbyShelf::default(),
                preparing: tokio::sync::Semaphore::new(1),
                starts: Starts::default(),
                held_images: HeldImages::default(),
                shutting_down: AtomicBool::new(false),
                options,
            }),
        };
        Ok(runtime)
    }
}

impl Inner {
    fn container_id(&self, worker_id: &str) -> String {
        format!("esb-{}-{worker_id}", self.options.box_id)
    }

    fn output_file(&self, container: &str) -> PathBuf {
        self.options
            .dir
            .join("output")
            .join(format!("{container}.log"))
    }

    fn cgroups_path(&self, container: &str) -> String {
        format!("/esb-{}/{container}", self.options.box_id)
    }

    fn start_err(worker: &str, e: impl std::fmt::Display) -> RuntimeError {
        RuntimeError::Start {
            worker: worker.to_string(),
            detail: e.to_string(),
        }
    }

    fn control_err(worker: &str, e: impl std::fmt::Display) -> RuntimeError {
        RuntimeError::Control {
            worker: worker.to_string(),
            detail: e.to_string(),
        }
    }

    /// The worker's environment and the host files mounted for it.
    fn environment(
        &self,
        id: &str,
        spec: &FunctionSpec,
        image: &Image,
        token: &str,
    ) -> (Vec<String>, Vec<Bind>) {
        let (vars, binds) = container_env::for_container(&spec.environment);
        let mut binds: Vec<Bind> = binds
            .iter()
            .filter_map(|b| {
                let mut parts = b.splitn(3, ':');
                Some(Bind {
                    source: parts.next()?.to_string(),
                    destination: parts.next()?.to_string(),
                    read_only: true,
                })
            })
            .collect();
        binds.push(Bind {
            source: self.hosts_file.display().to_string(),
            destination: "/etc/hosts".into(),
            read_only: true,
        });
        if Path::new("/etc/resolv.conf").exists() {
            binds.push(Bind {
                source: "/etc/resolv.conf".into(),
                destination: "/etc/resolv.conf".into(),
                read_only: true,
            });
        }
        // The image's variables first: the function's own win (as with `docker run -e`).
        let mut env = image.config.env.clone();
        env.extend(vars);
        if let Some(spool) = &self.options.log_spool
            && spec.environment.contains_key(LOGS_URL_VAR)
        {
            binds.push(Bind {
                source: spool.display().to_string(),
                destination: SPOOL_IN_CONTAINER.into(),
                read_only: false,
            });
            env.push(format!("{LOG_SPOOL_VAR}={SPOOL_IN_CONTAINER}/{id}"));
        }
        env.extend([
            format!("{}={token}", esb_lambda::headers::WORKER_TOKEN_VAR),
            format!("{WORKER_ID_VAR}={id}"),
            format!("AWS_LAMBDA_FUNCTION_NAME={}", spec.name),
            format!("AWS_LAMBDA_FUNCTION_TIMEOUT={}", spec.timeout_s),
            format!("AWS_LAMBDA_FUNCTION_MEMORY_SIZE={}", spec.memory_mb),
            format!("_HANDLER={}", spec.handler),
        ]);
        (dedup_env(env), binds)
    }

    /// Creates (not starts) container `container` for worker `id`; returns its address.
    async fn create_task(
        self: &Arc<Self>,
        id: &str,
        container: &str,
        spec: &FunctionSpec,
        image: &Image,
        token: &str,
        phases: &mut Phases,
    ) -> Result<String, RuntimeError> {
        let t = Instant::now();
        let netns = self
            .take_netns()
            .await
            .map_err(|e| Self::start_err(id, e))?;
        phases.network = t.elapsed();
        let (env, binds) = self.environment(id, spec, image, token);
        let memory_bytes = u64::from(spec.memory_mb) * 1024 * 1024;
        let shim_group = format!("esb-{}", self.options.box_id);
        let mut args = image.config.entrypoint.clone();
        args.extend(image.config.cmd.iter().cloned());
        let worker_spec = WorkerSpec {
            args,
            env,
            cwd: &image.config.working_dir,
            hostname: container,
            memory_bytes,
            limit_swap: swap_accounted(),
            cpu_shares: (u64::from(spec.memory_mb) * 1024 / MB_PER_VCPU).max(2),
            pids_limit: PIDS_LIMIT,
            tmp_size: TMP_SIZE,
            netns: &netns.path,
            cgroups_path: self.cgroups_path(container),
            binds,
            shim_group: &shim_group,
        };
        let spec_json = oci_spec::runtime_spec(&worker_spec)
            .to_string()
            .into_bytes();
        let labels = HashMap::from([
            (labels::MANAGED.to_string(), "true".to_string()),
            (labels::BOX.to_string(), self.options.box_id.clone()),
            (labels::FUNCTION.to_string(), spec.name.clone()),
            (labels::WORKER.to_string(), id.to_string()),
            (NETNS_LABEL.to_string(), netns.path.display().to_string()),
        ]);
        let log_file = self.output_file(container);
        let created = task::create(
            &self.ctr,
            task::NewTask {
                id: container,
                image: &image.reference,
                parent_snapshot: &image.chain_id,
                spec_json,
                labels,
                log_file: &log_file,
            },
            phases,
        )
        .await;
        if let Err(e) = created {
            // The container may not hold the namespace yet: release both.
            task::remove(&self.ctr, &self.bridge, container, &log_file, false).await;
            task::release_netns(&self.bridge, &netns.path).await;
            return Err(Self::start_err(id, e));
        }
        Ok(format!("{}:{RIE_PORT}", netns.ip))
    }

    /// Starts a created task and waits until its `esb rie` answers.
    async fn start_task(
        &self,
        id: &str,
        container: &str,
        address: &str,
        phases: &mut Phases,
    ) -> Result<(), RuntimeError> {
        let t = Instant::now();
        task::start(&self.ctr, container)
            .await
            .map_err(|e| Self::start_err(id, e))?;
        phases.task_start = t.elapsed();
        let t = Instant::now();
        let ready = self.wait_ready(id, container, address).await;
        phases.ready = t.elapsed();
        ready
    }

    async fn wait_ready(
        &self,
        id: &str,
        container: &str,
        address: &str,
    ) -> Result<(), RuntimeError> {
        let alive = || self.task_alive(container);
        http_probe::wait_ready(address, READY_TIMEOUT, alive)
            .await
            .map_err(|e| Self::start_err(id, format!("{e}: {}", self.output_tail(container))))
    }

    /// Whether the container's task runs (or is paused).
    async fn task_alive(&self, container: &str) -> bool {
        use containerd_client::types::v1::Status;
        let got = self
            .ctr
            .tasks()
            .get(self.ctr.request(GetRequest {
                container_id: container.into(),
                exec_id: String::new(),
            }))
            .await;
        let Ok(got) = got else { return false };
        got.into_inner().process.is_some_and(|p| {
            matches!(
                Status::try_from(p.status),
                Ok(Status::Running | Status::Paused | Status::Pausing)
            )
        })
    }

    /// The last lines the worker wrote, for start errors.
    fn output_tail(&self, container: &str) -> String {
        let text = std::fs::read_to_string(self.output_file(container)).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n");
        if tail.trim().is_empty() {
            "(no output)".into()
        } else {
            format!("its last output:\n{tail}")
        }
    }

    async fn remove(&self, container: &str) {
        task::remove(
            &self.ctr,
            &self.bridge,
            container,
            &self.output_file(container),
            true,
        )
        .await;
    }
}

/// Later `KEY=` entries replace earlier ones, keeping the first one's place.
fn dedup_env(env: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(env.len());
    let mut at: HashMap<String, usize> = HashMap::new();
    for var in env {
        let key = var.split('=').next().unwrap_or_default().to_string();
        match at.get(&key) {
            Some(&i) => out[i] = var,
            None => {
                at.insert(key, out.len());
                out.push(var);
            }
        }
    }
    out
}

/// Whether the kernel accounts swap per cgroup (v2 always; v1 with swapaccount).
fn swap_accounted() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
        || Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists()
}

impl ContainerdRuntime {
    /// A started worker of `spec`: a standby started, else one made from scratch;
    /// returns its container, address and token.
    async fn start_worker(
        &self,
        id: &str,
        spec: &FunctionSpec,
        hash: &str,
        phases: &mut Phases,
    ) -> Result<(String, String, String), RuntimeError> {
        let inner = &self.inner;
        let mut started = None;
        while let Some(sb) = inner.standby.take(hash) {
            match inner
                .start_task(&sb.worker_id, &sb.container, &sb.address, phases)
                .await
            {
                Ok(()) => {
                    started = Some(sb);
                    break;
                }
                Err(e) => {
                    tracing::warn!("standby {} is unusable ({e}); removing it", sb.container);
                    inner.remove(&sb.container).await;
                }
            }
        }
        Ok(match started {
            Some(sb) => (sb.container, sb.address, sb.token),
            None => {
                let image = inner
                    .images
                    .ensure(&spec.image)
                    .await
                    .map_err(|e| Inner::start_err(id, e))?;
                let container = inner.container_id(id);
                let token = new_token();
                let address = inner
                    .create_task(id, &container, spec, &image, &token, phases)
                    .await?;
                if let Err(e) = inner.start_task(id, &container, &address, phases).await {
                    inner.remove(&container).await;
                    return Err(e);
                }
                tracing::debug!(
                    worker = id,
                    network_ms = phases.network.as_secs_f64() * 1e3,
                    snapshot_ms = phases.snapshot.as_secs_f64() * 1e3,
                    container_ms = phases.container.as_secs_f64() * 1e3,
                    task_create_ms = phases.task_create.as_secs_f64() * 1e3,
                    task_start_ms = phases.task_start.as_secs_f64() * 1e3,
                    ready_ms = phases.ready.as_secs_f64() * 1e3,
                    "containerd worker started"
                );
                (container, address, token)
            }
        })
    }
}

#[async_trait]
impl WorkerRuntime for ContainerdRuntime {
    fn kind(&self) -> &'static str {
        "containerd"
    }

    async fn create(&self, id: &str, spec: &FunctionSpec) -> Result<WorkerRecord, RuntimeError> {
        let inner = &self.inner;
        if spec.image.is_empty() {
            return Err(Inner::start_err(
                id,
                format!(
                    "function {} has no image: the containerd runtime runs images made by `esb build`",
                    spec.name
                ),
            ));
        }
        if inner.shutting_down.load(Ordering::Relaxed) {
            return Err(Inner::start_err(id, "the box is stopping"));
        }
        let hash = spec_hash(spec);
        for stale in inner.standby.take_stale(&spec.name, &hash) {
            inner.remove(&stale.container).await;
        }
        let mut phases = Phases::default();
        let (container, address, token) = inner
            .starts
            .track(self.start_worker(id, spec, &hash, &mut phases))
            .await?;
        inner.refill(spec);
        Ok(WorkerRecord::running(
            id, spec, hash, address, 0, container, token,
        ))
    }

    async fn destroy(&self, worker: &WorkerRecord) {
        if !worker.container.is_empty() {
            self.inner.remove(&worker.container).await;
        }
    }

    async fn pause(&self, worker: &WorkerRecord) -> Result<(), RuntimeError> {
        let ctr = &self.inner.ctr;
        ctr.tasks()
            .pause(ctr.request(PauseTaskRequest {
                container_id: worker.container.clone(),
            }))
            .await
            .map(|_| ())
            .map_err(|e| Inner::control_err(&worker.id, e.message()))
    }

    async fn resume(&self, worker: &WorkerRecord) -> Result<(), RuntimeError> {
        let ctr = &self.inner.ctr;
        ctr.tasks()
            .resume(ctr.request(ResumeTaskRequest {
                container_id: worker.container.clone(),
            }))
            .await
            .map(|_| ())
            .map_err(|e| Inner::control_err(&worker.id, e.message()))
    }

    async fn is_alive(&self, worker: &WorkerRecord) -> bool {
        if worker.container.is_empty() {
            return false;
        }
        let ours = task::labels(&self.inner.ctr, &worker.container)
            .await
            .and_then(|l| l.get(labels::BOX).cloned())
            .is_some_and(|b| b == self.inner.options.box_id);
        ours && self.inner.task_alive(&worker.container).await
    }

    async fn usage(&self, worker: &WorkerRecord) -> WorkerUsage {
        self.inner.usage_of(&worker.container)
    }

    async fn cleanup(&self, worker: &WorkerRecord) {
        if !worker.container.is_empty() {
            self.inner.remove(&worker.container).await;
        }
    }

    async fn sweep_orphans(&self, known: &[WorkerRecord], immediately: bool) -> usize {
        let inner = &self.inner;
        let ctr = &inner.ctr;
        let filter = format!("labels.\"{}\"=={}", labels::BOX, inner.options.box_id);
        let Ok(listed) = ctr
            .containers()
            .list(ctr.request(ListContainersRequest {
                filters: vec![filter],
            }))
            .await
        else {
            return 0;
        };
        let mut keep = inner.standby.held();
        keep.extend(known.iter().map(|w| w.container.clone()));
        let now = std::time::SystemTime::now();
        let mut removed = 0;
        let mut in_use: HashSet<PathBuf> = HashSet::new();
        for c in listed.into_inner().containers {
            let created = c
                .created_at
                .and_then(|t| std::time::SystemTime::try_from(t).ok())
                .unwrap_or(now);
            let age = now.duration_since(created).unwrap_or_default();
            let standby = c.id.contains(STANDBY_MARK);
            if !keep.contains(&c.id)
                && (immediately || standby || age >= inner.options.orphan_grace)
            {
                inner.remove(&c.id).await;
                removed += 1;
            } else if let Some(ns) = c.labels.get(NETNS_LABEL) {
                in_use.insert(PathBuf::from(ns));
            }
        }
        // Namespaces nothing holds: a previous agent's ready ones, or a worker's whose
        // container was never made.
        in_use.extend(locked(&inner.netns_ready).iter().map(|n| n.path.clone()));
        in_use.extend(locked(&inner.netns_filling).iter().cloned());
        for path in netns::list(&format!("esb-{}-", inner.options.box_id)) {
            if !in_use.contains(&path) {
                task::release_netns(&inner.bridge, &path).await;
            }
        }
        removed
    }

    async fn held_images(&self) -> Vec<String> {
        let containerd = self.inner.ctr.clone();
        self.inner.held_images.get(image_store::held_in(containerd))
    }

    /// A standby of `spec` (created, not started) before its first worker, so even
    /// that one only starts a process; standbys of the function's older spec go.
    fn prepare(&self, spec: &FunctionSpec) {
        self.inner.refill_netns();
        if spec.image.is_empty() {
            return;
        }
        let inner = Arc::clone(&self.inner);
        let stale = inner.standby.take_stale(&spec.name, &spec_hash(spec));
        inner.refill(spec);
        if !stale.is_empty() {
            tokio::spawn(async move {
                for sb in stale {
                    inner.remove(&sb.container).await;
                }
            });
        }
    }

    async fn prepare_images(&self, images: &[String]) -> Result<(), RuntimeError> {
        self.inner.refill_netns();
        self.inner
            .images
            .prefetch(images)
            .await
            .map_err(|e| RuntimeError::Containerd(e.to_string()))
    }

    /// Removes everything of the box: the box is stopping, so a worker a start still
    /// in flight was making is not wanted either (waited for, then swept with the
    /// rest, standbys included); then the ready namespaces, the bridge and the box's
    /// cgroups.
    async fn shutdown(&self) {
        let inner = &self.inner;
        inner.shutting_down.store(true, Ordering::Relaxed);
        inner.starts.wait_none(READY_TIMEOUT).await;
        let deadline = Instant::now() + READY_TIMEOUT;
        while (inner.standby.preparing() || !locked(&inner.netns_filling).is_empty())
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let standbys = inner.standby.drain();
        futures::future::join_all(standbys.iter().map(|sb| inner.remove(&sb.container))).await;
        self.sweep_orphans(&[], true).await;
        let ready: Vec<ReadyNetns> = locked(&inner.netns_ready).drain(..).collect();
        for n in ready {
            task::release_netns(&inner.bridge, &n.path).await;
        }
        inner.bridge.remove().await;
        inner.remove_parent_cgroups();
    }
}
