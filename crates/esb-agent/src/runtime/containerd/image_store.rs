//! Function images in containerd's image store: the content-hash images `esb build`
//! makes (`esb/<function>:<hash>`), imported into the box's containerd namespace and
//! unpacked with the overlayfs snapshotter, so a worker's root filesystem is one
//! snapshot on top of the image's committed layers.
//!
//! TODO(helper): sources in order — already in containerd; the local Docker daemon
//! (export); the box's registry.

use std::sync::Arc;

use super::client::Containerd;

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{0}")]
    Missing(String),
}

/// What a worker is started from.
#[derive(Debug, Clone)]
pub struct Image {
    /// `esb/<function>:<hash>`.
    pub reference: String,
    /// The committed snapshot of the top layer (its chain ID): a worker's root
    /// filesystem is prepared with this as parent.
    pub chain_id: String,
    pub config: ImageConfig,
}

/// The parts of the image's configuration a container is started with.
#[derive(Debug, Clone, Default)]
pub struct ImageConfig {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    /// `KEY=value`.
    pub env: Vec<String>,
    pub working_dir: String,
    pub user: String,
}

pub struct ImageStore {
    containerd: Containerd,
    docker_host: Option<String>,
    registry: Option<String>,
}

impl ImageStore {
    pub fn new(containerd: Containerd, docker_host: Option<String>, registry: Option<String>) -> Self {
        Self {
            containerd,
            docker_host,
            registry,
        }
    }

    /// The image, imported and unpacked first when containerd lacks it.
    pub async fn ensure(&self, reference: &str) -> Result<Arc<Image>, ImageError> {
        let _ = (&self.containerd, &self.docker_host, &self.registry);
        Err(ImageError::Missing(reference.to_string()))
    }

    /// Function images (`esb/...`) the store holds, for placement.
    pub async fn held(&self) -> Vec<String> {
        Vec::new()
    }
}
