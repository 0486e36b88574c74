//! What importing an image yields and how it fails, shared by the image store and the
//! pieces it is made of (content, manifests, records, unpacking, registries).

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error(
        "image {reference} is not in containerd, and no Docker daemon or registry has it ({tried}): run `esb build` (with Docker) or start the agent with --registry"
    )]
    Missing { reference: String, tried: String },
    #[error("{0} is not an image reference (esb/<function>:<hash>)")]
    BadReference(String),
    #[error("containerd: {action}: {detail}")]
    Containerd { action: String, detail: String },
    #[error("Docker: {action}: {detail}")]
    Docker { action: String, detail: String },
    #[error("registry {registry}: {action}: {detail}")]
    Registry {
        registry: String,
        action: String,
        detail: String,
    },
    #[error("{what}: {detail}")]
    Malformed { what: String, detail: String },
}

/// The parts of the image's configuration a container is started with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageConfig {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    /// `KEY=value`.
    pub env: Vec<String>,
    pub working_dir: String,
    pub user: String,
}
