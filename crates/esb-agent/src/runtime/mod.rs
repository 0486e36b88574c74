//! Where workers run. Every runtime starts the same entrypoint, `esb rie`, so a
//! function behaves the same as a process or a container.

pub mod containerd;
pub mod docker;
mod held_images;
mod http_probe;
pub mod process;
mod quiet;
mod standby_shelf;

use async_trait::async_trait;
use esb_proto::agent::FunctionSpec;

use crate::worker_record::WorkerRecord;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("worker {worker} did not start: {detail}")]
    Start { worker: String, detail: String },
    #[error("worker {worker}: {detail}")]
    Control { worker: String, detail: String },
    #[error("{0}")]
    Containerd(String),
    #[error(transparent)]
    Docker(#[from] esb_docker::DockerUnavailable),
    #[error(transparent)]
    Network(#[from] crate::docker_network::NetworkError),
    #[error(transparent)]
    Python(#[from] crate::python_env::PythonEnvError),
    #[error(
        "unsupported runtime {0:?}: ESB runs python3.x and provided, provided.al2, provided.al2023"
    )]
    Unsupported(String),
}

/// Resource use of one worker.
#[derive(Debug, Clone, Copy, Default)]
pub struct WorkerUsage {
    pub memory_bytes: u64,
    pub memory_max_bytes: u64,
    pub memory_limit_bytes: u64,
    pub cpu_time_ms: u64,
    pub oom_kills: u64,
}

#[async_trait]
pub trait WorkerRuntime: Send + Sync {
    /// `process`, `docker` or `containerd`.
    fn kind(&self) -> &'static str;
    /// Starts a worker and returns once its Invoke API accepts connections.
    async fn create(&self, id: &str, spec: &FunctionSpec) -> Result<WorkerRecord, RuntimeError>;
    /// Stops a worker and everything it started.
    async fn destroy(&self, worker: &WorkerRecord);
    async fn pause(&self, worker: &WorkerRecord) -> Result<(), RuntimeError>;
    async fn resume(&self, worker: &WorkerRecord) -> Result<(), RuntimeError>;
    /// Whether a recorded worker still runs (used to re-adopt after a restart).
    async fn is_alive(&self, worker: &WorkerRecord) -> bool;
    async fn usage(&self, worker: &WorkerRecord) -> WorkerUsage;
    /// Releases what a worker that ended without `destroy` (box killed) left behind.
    async fn cleanup(&self, worker: &WorkerRecord);
    /// Removes workers of this box that no record in `known` names (left by a crash
    /// between start and record) once older than a grace period, or all of them at
    /// once with `immediately` (a new box: whatever is there is a previous box's);
    /// returns how many.
    async fn sweep_orphans(&self, _known: &[WorkerRecord], _immediately: bool) -> usize {
        0
    }
    /// Function images this runtime can start workers from without pulling
    /// (`esb/<function>:<hash>`), for placement; none where it runs no images.
    async fn held_images(&self) -> Vec<String> {
        Vec::new()
    }
    /// Readies what the first worker of `spec` needs before it is asked for, in the
    /// background (the containerd runtime creates a task of it, not started); a
    /// no-op where starting is cheap.
    fn prepare(&self, _spec: &FunctionSpec) {}
    /// Makes the images of `images` ready to start workers from before any is asked
    /// for (the containerd runtime imports them); a no-op where images need nothing.
    async fn prepare_images(&self, _images: &[String]) -> Result<(), RuntimeError> {
        Ok(())
    }
    /// Releases box-wide resources (the docker runtime's network) once every worker is gone.
    async fn shutdown(&self) {}
}
