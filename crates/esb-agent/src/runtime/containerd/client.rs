//! A connection to containerd's gRPC API in the box's own containerd namespace: every
//! request carries the namespace, so the box's images, containers and snapshots never
//! mix with anyone else's on a shared containerd (k3s, another box).

use std::path::Path;
use std::time::Duration;

use containerd_client::services::v1::containers_client::ContainersClient;
use containerd_client::services::v1::content_client::ContentClient;
use containerd_client::services::v1::diff_client::DiffClient;
use containerd_client::services::v1::images_client::ImagesClient;
use containerd_client::services::v1::leases_client::LeasesClient;
use containerd_client::services::v1::snapshots::snapshots_client::SnapshotsClient;
use containerd_client::services::v1::tasks_client::TasksClient;
use containerd_client::services::v1::version_client::VersionClient;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;
use tonic::{Request, Status};

/// Where Debian's (and most distributions') containerd listens.
pub const DEFAULT_SOCKET: &str = "/run/containerd/containerd.sock";
/// The snapshotter images are unpacked with and workers' root filesystems come from.
pub const SNAPSHOTTER: &str = "overlayfs";

#[derive(Debug, thiserror::Error)]
pub enum ContainerdError {
    #[error(
        "containerd does not answer at {socket}: {detail} (start it with `containerd &`, or name its socket with --containerd-socket)"
    )]
    Unreachable { socket: String, detail: String },
    #[error("containerd: {0}")]
    Call(String),
}

impl From<Status> for ContainerdError {
    fn from(status: Status) -> Self {
        ContainerdError::Call(format!("{:?}: {}", status.code(), status.message()))
    }
}

/// A channel to containerd plus the namespace every request is made in.
#[derive(Clone)]
pub struct Containerd {
    channel: Channel,
    namespace: MetadataValue<tonic::metadata::Ascii>,
}

impl Containerd {
    /// Connects and asks containerd its version, so an absent daemon fails here.
    pub async fn connect(socket: &Path, namespace: &str) -> Result<Self, ContainerdError> {
        let unreachable = |detail: String| ContainerdError::Unreachable {
            socket: socket.display().to_string(),
            detail,
        };
        let namespace = namespace
            .parse()
            .map_err(|_| ContainerdError::Call(format!("bad namespace {namespace:?}")))?;
        let connect = containerd_client::connect(socket);
        let channel = tokio::time::timeout(Duration::from_secs(3), connect)
            .await
            .map_err(|_| unreachable("no answer within 3 s".into()))?
            .map_err(|e| unreachable(e.to_string()))?;
        let this = Self { channel, namespace };
        let mut version = VersionClient::new(this.channel.clone());
        tokio::time::timeout(Duration::from_secs(3), version.version(()))
            .await
            .map_err(|_| unreachable("no answer within 3 s".into()))?
            .map_err(|e| unreachable(e.message().to_string()))?;
        Ok(this)
    }

    /// `message` as a request in the box's namespace.
    pub fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        request
            .metadata_mut()
            .insert("containerd-namespace", self.namespace.clone());
        request
    }

    /// [`Self::request`] under `lease`: what it creates is kept from containerd's
    /// garbage collector until the lease ends.
    pub fn leased<T>(&self, message: T, lease: &str) -> Request<T> {
        let mut request = self.request(message);
        if let Ok(lease) = lease.parse() {
            request.metadata_mut().insert("containerd-lease", lease);
        }
        request
    }

    pub fn containers(&self) -> ContainersClient<Channel> {
        ContainersClient::new(self.channel.clone())
    }
    pub fn content(&self) -> ContentClient<Channel> {
        ContentClient::new(self.channel.clone())
    }
    pub fn diff(&self) -> DiffClient<Channel> {
        DiffClient::new(self.channel.clone())
    }
    pub fn images(&self) -> ImagesClient<Channel> {
        ImagesClient::new(self.channel.clone())
    }
    pub fn leases(&self) -> LeasesClient<Channel> {
        LeasesClient::new(self.channel.clone())
    }
    pub fn snapshots(&self) -> SnapshotsClient<Channel> {
        SnapshotsClient::new(self.channel.clone())
    }
    pub fn tasks(&self) -> TasksClient<Channel> {
        TasksClient::new(self.channel.clone())
    }
}
