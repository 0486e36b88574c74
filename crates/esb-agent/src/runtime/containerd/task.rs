//! One worker as containerd objects: a network namespace on the box's bridge, a
//! snapshot prepared on the image's top layer, a container carrying the OCI spec and
//! the box's labels, and its task (runc). Made in that order, taken down in reverse,
//! and each step timed, since a cold start is the sum of them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use containerd_client::services::v1::container::Runtime;
use containerd_client::services::v1::snapshots::{PrepareSnapshotRequest, RemoveSnapshotRequest};
use containerd_client::services::v1::{
    Container, CreateContainerRequest, CreateTaskRequest, DeleteContainerRequest,
    DeleteTaskRequest, GetContainerRequest, KillRequest, ResumeTaskRequest, StartRequest,
    WaitRequest,
};
use tonic::Code;

use super::bridge::Bridge;
use super::client::{Containerd, SNAPSHOTTER};
use super::netns;
use super::oci_spec::SPEC_TYPE_URL;

/// containerd's runc shim.
const RUNC_SHIM: &str = "io.containerd.runc.v2";
/// Container labels naming the worker's namespace (the CNI id is its file name).
pub const NETNS_LABEL: &str = "esb.netns";

/// How long each step of a start took.
#[derive(Debug, Default, Clone, Copy)]
pub struct Phases {
    pub network: Duration,
    pub snapshot: Duration,
    pub container: Duration,
    pub task_create: Duration,
    pub task_start: Duration,
    pub ready: Duration,
}

/// A network namespace attached to the bridge, ready for one worker.
#[derive(Debug, Clone)]
pub struct ReadyNetns {
    pub path: PathBuf,
    pub ip: std::net::Ipv4Addr,
}

impl ReadyNetns {
    /// Its CNI container id: the namespace's file name.
    pub fn cni_id(path: &Path) -> String {
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// Makes a namespace named `name` and attaches it.
    pub async fn make(bridge: &Bridge, name: String) -> Result<Self, String> {
        let path = tokio::task::spawn_blocking(move || netns::create(&name))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        match bridge.attach(&Self::cni_id(&path), &path).await {
            Ok(ip) => Ok(Self { path, ip }),
            Err(e) => {
                release_netns(bridge, &path).await;
                Err(e.to_string())
            }
        }
    }
}

/// Detaches and removes a namespace.
pub async fn release_netns(bridge: &Bridge, path: &Path) {
    bridge.detach(&ReadyNetns::cni_id(path), path).await;
    let path = path.to_path_buf();
    let _ = tokio::task::spawn_blocking(move || netns::remove(&path)).await;
}

/// What creating a task needs besides the spec.
pub struct NewTask<'a> {
    pub id: &'a str,
    pub image: &'a str,
    pub parent_snapshot: &'a str,
    pub spec_json: Vec<u8>,
    pub labels: HashMap<String, String>,
    pub log_file: &'a Path,
}

/// Creates the container, prepares its snapshot and creates its task (runc create: the
/// process exists, stopped before the function's entrypoint); not started.
pub async fn create(
    ctr: &Containerd,
    task: NewTask<'_>,
    phases: &mut Phases,
) -> Result<(), String> {
    // The container first: it references the snapshot, so containerd's garbage
    // collector (which may run at any moment, say after an image import's lease ends)
    // never sees the snapshot unreferenced.
    let t = Instant::now();
    let container = Container {
        id: task.id.into(),
        labels: task.labels,
        image: task.image.into(),
        runtime: Some(Runtime {
            name: RUNC_SHIM.into(),
            options: None,
        }),
        spec: Some(prost_types::Any {
            type_url: SPEC_TYPE_URL.into(),
            value: task.spec_json,
        }),
        snapshotter: SNAPSHOTTER.into(),
        snapshot_key: task.id.into(),
        ..Default::default()
    };
    ctr.containers()
        .create(ctr.request(CreateContainerRequest {
            container: Some(container),
        }))
        .await
        .map_err(|e| format!("creating the container: {}", e.message()))?;
    phases.container = t.elapsed();
    let t = Instant::now();
    let prepared = ctr
        .snapshots()
        .prepare(ctr.request(PrepareSnapshotRequest {
            snapshotter: SNAPSHOTTER.into(),
            key: task.id.into(),
            parent: task.parent_snapshot.into(),
            labels: HashMap::new(),
        }))
        .await
        .map_err(|e| format!("preparing its root filesystem: {}", e.message()))?
        .into_inner();
    phases.snapshot = t.elapsed();
    let t = Instant::now();
    let log = format!("file://{}", task.log_file.display());
    ctr.tasks()
        .create(ctr.request(CreateTaskRequest {
            container_id: task.id.into(),
            rootfs: prepared.mounts,
            stdout: log.clone(),
            stderr: log,
            ..Default::default()
        }))
        .await
        .map_err(|e| format!("creating its task: {}", e.message()))?;
    phases.task_create = t.elapsed();
    Ok(())
}

/// Starts a created task.
pub async fn start(ctr: &Containerd, id: &str) -> Result<(), String> {
    ctr.tasks()
        .start(ctr.request(StartRequest {
            container_id: id.into(),
            exec_id: String::new(),
        }))
        .await
        .map(|_| ())
        .map_err(|e| format!("starting its task: {}", e.message()))
}

/// The container's labels, if it exists.
pub async fn labels(ctr: &Containerd, id: &str) -> Option<HashMap<String, String>> {
    container(ctr, id).await.map(|c| c.labels)
}

async fn container(ctr: &Containerd, id: &str) -> Option<Container> {
    let got = ctr
        .containers()
        .get(ctr.request(GetContainerRequest { id: id.into() }))
        .await
        .ok()?;
    got.into_inner().container
}

/// Kills the container's task (all its processes).
async fn kill(ctr: &Containerd, id: &str) -> Result<(), tonic::Status> {
    ctr.tasks()
        .kill(ctr.request(KillRequest {
            container_id: id.into(),
            exec_id: String::new(),
            signal: libc::SIGKILL as u32,
            all: true,
        }))
        .await
        .map(|_| ())
}

/// A container this young may have its task being created right now (by an agent
/// killed mid-start, whose request containerd still completes).
const TASK_MAY_BE_COMING: Duration = Duration::from_secs(30);

/// Removes the worker's task, container, snapshot, namespace and log, whatever of them
/// exists: safe on a half-made worker and on one already gone. `task_may_come`: the
/// container may be someone else's start in progress (not this agent's own failed
/// one), so a young container without a task is given a moment to get it.
pub async fn remove(
    ctr: &Containerd,
    bridge: &Bridge,
    id: &str,
    log_file: &Path,
    task_may_come: bool,
) {
    let record = container(ctr, id).await;
    let young = task_may_come
        && record
            .as_ref()
            .and_then(|c| c.created_at)
            .and_then(|t| std::time::SystemTime::try_from(t).ok())
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age < TASK_MAY_BE_COMING);
    let netns = record.and_then(|c| c.labels.get(NETNS_LABEL).cloned());
    // A frozen task cannot die: thaw it first (harmless when not paused).
    let _ = ctr
        .tasks()
        .resume(ctr.request(ResumeTaskRequest {
            container_id: id.into(),
        }))
        .await;
    let mut killed = kill(ctr, id).await;
    if young && killed.as_ref().is_err_and(|e| e.code() == Code::NotFound) {
        // Deleting the container now would leave that task's shim and mounts with
        // nothing naming them: wait briefly for it to appear.
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
            killed = kill(ctr, id).await;
            if !killed.as_ref().is_err_and(|e| e.code() == Code::NotFound) {
                break;
            }
        }
    }
    if killed.is_ok() {
        let mut tasks = ctr.tasks();
        let wait = tasks.wait(ctr.request(WaitRequest {
            container_id: id.into(),
            exec_id: String::new(),
        }));
        let _ = tokio::time::timeout(Duration::from_secs(10), wait).await;
    }
    match ctr
        .tasks()
        .delete(ctr.request(DeleteTaskRequest {
            container_id: id.into(),
        }))
        .await
    {
        Ok(_) => {}
        Err(e) if e.code() == Code::NotFound => {}
        Err(e) => tracing::warn!("cannot delete the task of {id}: {}", e.message()),
    }
    match ctr
        .containers()
        .delete(ctr.request(DeleteContainerRequest { id: id.into() }))
        .await
    {
        Ok(_) => {}
        Err(e) if e.code() == Code::NotFound => {}
        Err(e) => tracing::warn!("cannot delete container {id}: {}", e.message()),
    }
    remove_snapshot(ctr, id).await;
    if let Some(netns) = netns {
        release_netns(bridge, Path::new(&netns)).await;
    }
    let _ = tokio::fs::remove_file(log_file).await;
}

pub async fn remove_snapshot(ctr: &Containerd, key: &str) {
    match ctr
        .snapshots()
        .remove(ctr.request(RemoveSnapshotRequest {
            snapshotter: SNAPSHOTTER.into(),
            key: key.into(),
        }))
        .await
    {
        Ok(_) => {}
        Err(e) if e.code() == Code::NotFound => {}
        Err(e) => tracing::warn!("cannot remove snapshot {key}: {}", e.message()),
    }
}
