//! `esb.agent.v1.AgentService` over a [`WorkerRuntime`]: the agent's record of its
//! workers, kept on disk so a restarted agent re-adopts the ones still running instead
//! of killing them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use esb_proto::AgentService;
use esb_proto::agent::{
    AgentInfo, ArtifactChunk, ArtifactStored, DestroyWorkerResponse, EnsureWorkerRequest,
    FunctionSpec, InfoRequest, ListWorkersRequest, ListWorkersResponse, MetricsRequest,
    MetricsResponse, PrepareWorkerRequest, PrepareWorkerResponse, Worker, WorkerMetrics, WorkerRef,
    WorkerState,
};
use esb_state::StateDir;
use tokio::sync::Mutex;
use tonic::{Request, Response, Status, Streaming};

use crate::node_capacity::{LOCAL_NODE, NodeCapacity};
use crate::remote_env::{self, RemoteBox};
use crate::runtime::{RuntimeError, WorkerRuntime};
use crate::worker_record::{RecordStore, RecordedState, WorkerRecord, now_ms, spec_hash};

pub struct Agent {
    runtime: Arc<dyn WorkerRuntime>,
    store: RecordStore,
    workers: Mutex<HashMap<String, WorkerRecord>>,
    capacity: u32,
    node: NodeCapacity,
    /// Where pushed artifacts live (`<state>/agent/artifacts/<hash>`).
    artifacts: PathBuf,
    /// Set on a remote node: the box whose files and services its workers use.
    remote: Option<RemoteBox>,
    /// Where workers spool their records (`<state>/logs/spool`).
    log_spool: PathBuf,
    /// On a remote node: delivers what dead workers left in their spools.
    orphan_logs: Option<crate::orphan_logs::OrphanLogs>,
}

/// The gRPC metadata key naming the artifacts an `EnsureWorker` lacks (comma-separated
/// hashes), beside a `FAILED_PRECONDITION`: the gateway pushes them and asks again.
pub const MISSING_ARTIFACT_KEY: &str = "esb-missing-artifact";

impl Agent {
    /// Loads the records under `state_dir`: with `adopt`, live workers are re-adopted
    /// (a restarted `esb agent`, whose gateway still pools them); without, they are
    /// removed (a new `esb up`, whose pools start empty). Dead ones are forgotten, and
    /// workers of this box that no record names are removed.
    pub async fn new(
        runtime: Arc<dyn WorkerRuntime>,
        state_dir: &StateDir,
        capacity: u32,
        adopt: bool,
    ) -> std::io::Result<Self> {
        let store = RecordStore::new(state_dir)?;
        let mut workers = HashMap::new();
        let mut left_behind = 0;
        for record in store.load_all() {
            let alive = runtime.is_alive(&record).await;
            if alive && !adopt {
                runtime.destroy(&record).await;
                store.remove(&record.id);
                left_behind += 1;
            } else if alive {
                tracing::info!(worker = %record.id, function = %record.function_name, "re-adopted worker");
                workers.insert(record.id.clone(), record);
            } else {
                runtime.cleanup(&record).await;
                store.remove(&record.id);
            }
        }
        if !adopt {
            left_behind += runtime.sweep_orphans(&[], true).await;
        }
        if left_behind > 0 {
            tracing::info!(left_behind, "removed workers left behind by a previous box");
        }
        let agent = Self {
            runtime,
            store,
            workers: Mutex::new(workers),
            capacity,
            node: NodeCapacity::detect(LOCAL_NODE, None),
            artifacts: state_dir.artifacts(),
            log_spool: state_dir.log_spool(),
            orphan_logs: None,
            remote: None,
        };
        if adopt {
            agent.sweep_orphans().await;
        }
        Ok(agent)
    }

    /// What this agent reports as its node: name, CPUs, memory for workers.
    pub fn with_node(mut self, node: NodeCapacity) -> Self {
        self.node = node;
        self
    }

    /// What the node can start workers from without fetching first: the runtime's
    /// images and, on a remote node, the artifacts the box pushed.
    async fn held_images(&self) -> Vec<String> {
        let mut held = self.runtime.held_images().await;
        if self.remote.is_some()
            && let Ok(entries) = std::fs::read_dir(&self.artifacts)
        {
            held.extend(
                entries
                    .flatten()
                    .filter_map(|e| e.file_name().to_str().map(str::to_string))
                    .filter(|name| esb_proto::artifact::is_valid_hash(name)),
            );
        }
        held
    }

    /// Whether its workers serve the Invoke API over mutual TLS.
    fn serves_tls(&self) -> bool {
        self.remote.as_ref().is_some_and(|r| r.worker_tls.is_some())
            && self.runtime.kind() != "docker"
    }

    /// Makes this the agent of a remote node of `remote`: workers run the artifacts the
    /// box pushed (`FunctionSpec.code_hash`, `layer_hashes`; the paths in the spec are
    /// the box's), with their environment pointed at the box ([`remote_env::for_remote`]).
    /// The runtime must listen where the box reaches it (`ProcessRuntime::with_listen_ip`,
    /// `DockerOptions::publish_ip`).
    pub fn with_remote(mut self, remote: RemoteBox) -> Self {
        self.orphan_logs = Some(crate::orphan_logs::OrphanLogs::new(
            self.log_spool.clone(),
            remote.ca_path.clone(),
        ));
        self.remote = Some(remote);
        self
    }

    /// The spec as this machine runs it: on a remote node, pushed artifacts instead of
    /// the box's paths (the docker runtime runs the image and needs neither) and the
    /// environment pointed at the box; elsewhere the spec unchanged.
    fn resolve(&self, mut spec: FunctionSpec) -> Result<FunctionSpec, Status> {
        let Some(remote) = &self.remote else {
            return Ok(spec);
        };
        spec.environment = remote_env::for_remote(&spec.environment, remote);
        if let Some(orphans) = &self.orphan_logs {
            orphans.ensure(&spec.environment);
        }
        if self.runtime.kind() == "docker" {
            return Ok(spec);
        }
        if let Some((cert, key)) = &remote.worker_tls {
            for (var, path) in [
                ("ESB_TLS_CERT", cert),
                ("ESB_TLS_KEY", key),
                ("ESB_TLS_CLIENT_CA", &remote.ca_path),
            ] {
                spec.environment
                    .insert(var.to_string(), path.display().to_string());
            }
        }
        if spec.code_hash.is_empty() {
            return Err(Status::invalid_argument(format!(
                "function {}: this agent runs on a remote node and needs the code's artifact (code_hash)",
                spec.name
            )));
        }
        if spec.layer_hashes.len() != spec.layers.len() {
            return Err(Status::invalid_argument(format!(
                "function {}: {} layers but {} layer hashes",
                spec.name,
                spec.layers.len(),
                spec.layer_hashes.len()
            )));
        }
        let mut missing = Vec::new();
        let mut local = |hash: &str| -> Result<String, Status> {
            if !esb_proto::artifact::is_valid_hash(hash) {
                return Err(Status::invalid_argument(format!(
                    "function {}: {hash:?} is not an artifact hash",
                    spec.name
                )));
            }
            let dir = self.artifacts.join(hash);
            if !dir.is_dir() && !missing.iter().any(|m| m == hash) {
                missing.push(hash.to_string());
            }
            Ok(dir.display().to_string())
        };
        let code_dir = local(&spec.code_hash)?;
        let layers = spec
            .layer_hashes
            .iter()
            .map(|h| local(h))
            .collect::<Result<Vec<_>, _>>()?;
        if !missing.is_empty() {
            return Err(missing_artifacts(&missing));
        }
        spec.code_dir = code_dir;
        spec.layers = layers;
        Ok(spec)
    }

    /// Removes orphaned workers now and then every `interval`, for as long as the agent lives.
    pub fn spawn_janitor(self: &Arc<Self>, interval: std::time::Duration) {
        let agent = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let Some(agent) = agent.upgrade() else { return };
                agent.sweep_orphans().await;
            }
        });
    }

    async fn sweep_orphans(&self) {
        let known: Vec<WorkerRecord> = self.workers.lock().await.values().cloned().collect();
        let removed = self.runtime.sweep_orphans(&known, false).await;
        if removed > 0 {
            tracing::info!(removed, "removed workers that belonged to no pool");
        }
    }

    /// Readies the runtime to start workers of `images` (see
    /// [`WorkerRuntime::prepare_images`]).
    pub async fn prepare_images(&self, images: &[String]) -> Result<(), RuntimeError> {
        self.runtime.prepare_images(images).await
    }

    /// Stops every worker and releases the box's runtime resources (the box is shutting down).
    pub async fn destroy_all(&self) {
        let all: Vec<WorkerRecord> = self.workers.lock().await.drain().map(|(_, w)| w).collect();
        let stops = all.iter().map(|w| async move {
            self.runtime.destroy(w).await;
            self.store.remove(&w.id);
        });
        futures::future::join_all(stops).await;
        self.runtime.shutdown().await;
    }

    async fn create(&self, spec: &FunctionSpec) -> Result<WorkerRecord, Status> {
        // A remote docker node runs the image: the box's code dir is not on it.
        validate(
            spec,
            !(self.remote.is_some() && self.runtime.kind() == "docker"),
        )?;
        if self.workers.lock().await.len() >= self.capacity as usize {
            return Err(Status::resource_exhausted(format!(
                "the agent runs its maximum of {} workers",
                self.capacity
            )));
        }
        let id = format!(
            "{}-{}",
            sanitize(&spec.name),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let mut record = self
            .runtime
            .create(&id, spec)
            .await
            .map_err(runtime_status)?;
        record.memory_mb = spec.memory_mb;
        if let Err(e) = self.store.save(&record) {
            // A worker needs no disk to serve (a full disk, say): it runs unrecorded,
            // and is recorded at its next change of state. Unrecorded, an agent that
            // restarts removes it as an orphan instead of adopting it.
            tracing::warn!(worker = %id, "cannot record worker {id}; it serves, but a restarted agent will not adopt it: {e}");
        }
        self.workers.lock().await.insert(id, record.clone());
        tracing::info!(worker = %record.id, function = %record.function_name, address = %record.address, "worker started");
        Ok(record)
    }

    /// The live record of `id`, forgetting it if its worker is gone. The liveness check
    /// may ask the Docker daemon, so it runs without holding the worker map.
    async fn live(&self, id: &str) -> Option<WorkerRecord> {
        let record = self.workers.lock().await.get(id)?.clone();
        if self.runtime.is_alive(&record).await {
            return Some(record);
        }
        self.workers.lock().await.remove(id);
        self.runtime.cleanup(&record).await;
        self.store.remove(id);
        None
    }

    async fn set_state(&self, id: &str, state: RecordedState) -> Result<WorkerRecord, Status> {
        let record = self.live(id).await.ok_or_else(|| unknown(id))?;
        match state {
            RecordedState::Paused => self.runtime.pause(&record).await,
            RecordedState::Running => self.runtime.resume(&record).await,
        }
        .map_err(runtime_status)?;
        let mut workers = self.workers.lock().await;
        let entry = workers.get_mut(id).ok_or_else(|| unknown(id))?;
        entry.state = state;
        let _ = self.store.save(entry);
        Ok(entry.clone())
    }
}

#[tonic::async_trait]
impl AgentService for Agent {
    async fn ensure_worker(
        &self,
        request: Request<EnsureWorkerRequest>,
    ) -> Result<Response<Worker>, Status> {
        let req = request.into_inner();
        let spec = req
            .function
            .ok_or_else(|| Status::invalid_argument("EnsureWorker needs a function spec"))?;
        let spec = self.resolve(spec)?;
        if !req.worker_id.is_empty()
            && let Some(existing) = self.live(&req.worker_id).await
            && existing.spec_hash == spec_hash(&spec)
        {
            if existing.state == RecordedState::Paused {
                self.set_state(&existing.id, RecordedState::Running).await?;
            }
            let mut workers = self.workers.lock().await;
            if let Some(w) = workers.get_mut(&existing.id) {
                w.last_used_ms = now_ms();
                return Ok(Response::new(to_proto(w, self.serves_tls())));
            }
        }
        let record = self.create(&spec).await?;
        Ok(Response::new(to_proto(&record, self.serves_tls())))
    }

    async fn destroy_worker(
        &self,
        request: Request<WorkerRef>,
    ) -> Result<Response<DestroyWorkerResponse>, Status> {
        let id = request.into_inner().worker_id;
        let record = self.workers.lock().await.remove(&id);
        if let Some(r) = &record {
            self.runtime.destroy(r).await;
            self.store.remove(&id);
        }
        Ok(Response::new(DestroyWorkerResponse {
            existed: record.is_some(),
        }))
    }

    async fn pause_worker(&self, request: Request<WorkerRef>) -> Result<Response<Worker>, Status> {
        let record = self
            .set_state(&request.into_inner().worker_id, RecordedState::Paused)
            .await?;
        Ok(Response::new(to_proto(&record, self.serves_tls())))
    }

    async fn resume_worker(&self, request: Request<WorkerRef>) -> Result<Response<Worker>, Status> {
        let record = self
            .set_state(&request.into_inner().worker_id, RecordedState::Running)
            .await?;
        Ok(Response::new(to_proto(&record, self.serves_tls())))
    }

    async fn list_workers(
        &self,
        request: Request<ListWorkersRequest>,
    ) -> Result<Response<ListWorkersResponse>, Status> {
        let function = request.into_inner().function_name;
        let ids: Vec<String> = self.workers.lock().await.keys().cloned().collect();
        let mut workers = Vec::new();
        for id in ids {
            if let Some(w) = self.live(&id).await
                && (function.is_empty() || w.function_name == function)
            {
                workers.push(to_proto(&w, self.serves_tls()));
            }
        }
        workers.sort_by_key(|w| w.created_at_ms);
        Ok(Response::new(ListWorkersResponse { workers }))
    }

    async fn get_metrics(
        &self,
        request: Request<MetricsRequest>,
    ) -> Result<Response<MetricsResponse>, Status> {
        let wanted = request.into_inner().worker_ids;
        let records: Vec<WorkerRecord> = self
            .workers
            .lock()
            .await
            .values()
            .filter(|w| wanted.is_empty() || wanted.contains(&w.id))
            .cloned()
            .collect();
        let workers = futures::future::join_all(records.iter().map(|w| async move {
            let usage = self.runtime.usage(w).await;
            WorkerMetrics {
                worker_id: w.id.clone(),
                function_name: w.function_name.clone(),
                memory_bytes: usage.memory_bytes,
                memory_max_bytes: usage.memory_max_bytes,
                memory_limit_bytes: usage.memory_limit_bytes,
                cpu_time_ms: usage.cpu_time_ms,
                oom_kills: usage.oom_kills,
            }
        }))
        .await;
        Ok(Response::new(MetricsResponse { workers }))
    }

    /// Receives an artifact into `<state>/agent/artifacts/<hash>`: written to a
    /// temporary file while hashed, refused (and removed) unless the bytes hash to the
    /// name, and moved into place whole.
    async fn push_artifact(
        &self,
        request: Request<Streaming<ArtifactChunk>>,
    ) -> Result<Response<ArtifactStored>, Status> {
        let mut chunks = request.into_inner();
        let first = chunks
            .message()
            .await?
            .ok_or_else(|| Status::invalid_argument("PushArtifact without a chunk"))?;
        let hash = first.hash;
        if !esb_proto::artifact::is_valid_hash(&hash) {
            return Err(Status::invalid_argument(format!(
                "{hash:?} is not an artifact hash (SHA-256 hex)"
            )));
        }
        let dest = self.artifacts.join(&hash);
        let mut writer = tokio::task::spawn_blocking(move || {
            esb_proto::artifact::ArtifactWriter::new(&hash, &dest)
        })
        .await
        .map_err(|e| Status::internal(e.to_string()))?
        .map_err(artifact_status)?;
        let mut data = first.data;
        loop {
            if !data.is_empty() {
                writer = tokio::task::spawn_blocking(move || writer.write(&data).map(|()| writer))
                    .await
                    .map_err(|e| Status::internal(e.to_string()))?
                    .map_err(artifact_status)?;
            }
            match chunks.message().await? {
                Some(chunk) => data = chunk.data,
                None => break,
            }
        }
        let existed = tokio::task::spawn_blocking(move || writer.finish())
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(artifact_status)?;
        Ok(Response::new(ArtifactStored { existed }))
    }

    async fn prepare_worker(
        &self,
        request: Request<PrepareWorkerRequest>,
    ) -> Result<Response<PrepareWorkerResponse>, Status> {
        let spec = request
            .into_inner()
            .function
            .ok_or_else(|| Status::invalid_argument("function spec missing"))?;
        self.runtime.prepare(&spec);
        Ok(Response::new(PrepareWorkerResponse {}))
    }

    async fn get_info(
        &self,
        _request: Request<InfoRequest>,
    ) -> Result<Response<AgentInfo>, Status> {
        let (workers, memory_reserved_mb) = {
            let workers = self.workers.lock().await;
            let reserved = workers.values().map(|w| u64::from(w.memory_mb)).sum();
            (u32::try_from(workers.len()).unwrap_or(u32::MAX), reserved)
        };
        Ok(Response::new(AgentInfo {
            runtime: self.runtime.kind().to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            capacity: self.capacity,
            workers,
            node: self.node.name.clone(),
            cpus: self.node.cpus,
            memory_mb: self.node.memory_mb,
            memory_reserved_mb,
            images: self.held_images().await,
        }))
    }
}

fn validate(spec: &FunctionSpec, needs_code_dir: bool) -> Result<(), Status> {
    if spec.name.is_empty() {
        return Err(Status::invalid_argument("function spec without a name"));
    }
    if needs_code_dir && !Path::new(&spec.code_dir).is_dir() {
        return Err(Status::invalid_argument(format!(
            "function {}: code directory {:?} does not exist",
            spec.name, spec.code_dir
        )));
    }
    if !(1..=900).contains(&spec.timeout_s) || !(128..=10240).contains(&spec.memory_mb) {
        return Err(Status::invalid_argument(format!(
            "function {}: timeout must be 1..=900 s and memory 128..=10240 MB",
            spec.name
        )));
    }
    Ok(())
}

fn runtime_status(e: RuntimeError) -> Status {
    match e {
        RuntimeError::Unsupported(_) => Status::invalid_argument(e.to_string()),
        _ => Status::unavailable(e.to_string()),
    }
}

/// `FAILED_PRECONDITION` naming the artifacts to push, in the message for people and in
/// [`MISSING_ARTIFACT_KEY`] for the gateway.
fn missing_artifacts(hashes: &[String]) -> Status {
    let message = match hashes {
        [one] => format!("artifact {one} is missing"),
        many => format!("artifacts {} are missing", many.join(", ")),
    };
    let mut status = Status::failed_precondition(message);
    if let Ok(value) = hashes.join(",").parse() {
        status.metadata_mut().insert(MISSING_ARTIFACT_KEY, value);
    }
    status
}

fn artifact_status(e: esb_proto::artifact::ArtifactError) -> Status {
    use esb_proto::artifact::ArtifactError as E;
    match e {
        E::BadHash(_) | E::Mismatch { .. } | E::UnsafeEntry { .. } => {
            Status::invalid_argument(e.to_string())
        }
        E::TooLarge { .. } | E::TooBig { .. } => Status::resource_exhausted(e.to_string()),
        E::Read { .. } | E::Refused { .. } | E::Store { .. } => Status::internal(e.to_string()),
    }
}

fn unknown(id: &str) -> Status {
    Status::not_found(format!("no worker {id}"))
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(40)
        .collect()
}

/// A worker as the gateway sees it; `https`: its Invoke API is served over mutual TLS
/// (a process worker on a remote node), which its address says.
fn to_proto(w: &WorkerRecord, https: bool) -> Worker {
    Worker {
        id: w.id.clone(),
        function_name: w.function_name.clone(),
        address: if https {
            format!("https://{}", w.address)
        } else {
            w.address.clone()
        },
        state: match w.state {
            RecordedState::Running => WorkerState::Running,
            RecordedState::Paused => WorkerState::Paused,
        } as i32,
        created_at_ms: w.created_at_ms,
        last_used_ms: w.last_used_ms,
        spec_hash: w.spec_hash.clone(),
        token: w.token.clone(),
        // The gateway's cluster knows which node it asked.
        node: String::new(),
    }
}
