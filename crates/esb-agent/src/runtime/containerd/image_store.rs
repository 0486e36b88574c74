//! Function images in containerd's image store: the content-hash images `esb build`
//! makes (`esb/<function>:<hash>`), imported into the box's containerd namespace and
//! unpacked with the overlayfs snapshotter, so a worker's root filesystem is one
//! snapshot on top of the image's committed layers.
//!
//! Sources in order: containerd itself (already imported and unpacked); the local
//! Docker daemon (`docker save`, streamed); the box's registry (`--registry`). Imports
//! run under a lease so the garbage collector cannot take half an image, and the image
//! record, manifest and config labels keep it all once the lease ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use containerd_client::services::v1::ListImagesRequest;

use super::client::Containerd;
use super::content_blobs::info;
use super::docker_import;
use super::image_manifest::chain_ids;
use super::image_record::{self, Imported, StoredImage};
pub use super::image_types::{ImageConfig, ImageError};
use super::image_unpack::{snapshot_exists, unpack};
use super::import_lease::ImportLease;
use super::registry_pull::Registry;

/// How long a Docker daemon has to answer before the registry is tried instead.
const DOCKER_TIMEOUT: Duration = Duration::from_secs(3);

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

/// One reference's image once known; the lock makes concurrent `ensure`s of the same
/// reference import it once.
type Slot = Arc<tokio::sync::Mutex<Option<Arc<Image>>>>;

pub struct ImageStore {
    containerd: Containerd,
    docker_host: Option<String>,
    registry: Option<String>,
    images: Mutex<HashMap<String, Slot>>,
}

impl ImageStore {
    /// `docker_host` overrides `DOCKER_HOST` (None: it, or the local socket);
    /// `registry` is `HOST:PORT` of a plain-HTTP registry.
    pub fn new(
        containerd: Containerd,
        docker_host: Option<String>,
        registry: Option<String>,
    ) -> Self {
        Self {
            containerd,
            docker_host,
            registry,
            images: Mutex::new(HashMap::new()),
        }
    }

    /// The image, imported and unpacked first when containerd lacks it. Known images
    /// are answered from memory.
    pub async fn ensure(&self, reference: &str) -> Result<Arc<Image>, ImageError> {
        let (repository, tag) = split(reference)?;
        let slot = {
            let mut images = self
                .images
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            images.entry(reference.to_string()).or_default().clone()
        };
        let mut slot = slot.lock().await;
        if let Some(image) = slot.as_ref() {
            return Ok(image.clone());
        }
        let image = Arc::new(self.load(reference, repository, tag).await?);
        *slot = Some(image.clone());
        Ok(image)
    }

    /// Imports every image of `references` containerd lacks, ahead of their first
    /// worker (`esb up` names its project's images): what Docker holds comes in one
    /// export whose shared layers pass once; the rest is imported one by one as
    /// [`Self::ensure`] does. Returns the first failure, after trying them all.
    pub async fn prefetch(&self, references: &[String]) -> Result<(), ImageError> {
        let mut missing = Vec::new();
        for reference in references {
            let known = image_record::read(&self.containerd, reference).await?;
            if known.is_none() {
                missing.push(reference.as_str());
            }
        }
        let lease = ImportLease::create(&self.containerd).await?;
        if !missing.is_empty()
            && let Ok(docker) =
                esb_docker::connect(self.docker_host.as_deref(), DOCKER_TIMEOUT).await
        {
            let mut held = Vec::new();
            for reference in &missing {
                if docker.inspect_image(reference).await.is_ok() {
                    held.push(*reference);
                }
            }
            if let Err(e) =
                docker_import::export_blobs(&self.containerd, &lease, &docker, &held).await
            {
                tracing::warn!("cannot import the images from Docker at once: {e}");
            }
        }
        // The lease keeps the exported blobs until each image is recorded.
        let mut first_error = None;
        for reference in references {
            if let Err(e) = self.ensure(reference).await {
                first_error.get_or_insert(e);
            }
        }
        lease.release().await;
        first_error.map_or(Ok(()), Err)
    }

    /// Drops what is remembered of `reference`, so the next [`Self::ensure`] looks in
    /// containerd again (say, after a worker's snapshot could not be prepared on it
    /// because someone removed the image with `ctr`).
    pub fn forget(&self, reference: &str) {
        self.images
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(reference);
    }

    /// Function images (`esb/...`) the store holds, for placement.
    pub async fn held(&self) -> Vec<String> {
        held_in(self.containerd.clone()).await.unwrap_or_default()
    }

    async fn load(
        &self,
        reference: &str,
        repository: &str,
        tag: &str,
    ) -> Result<Image, ImageError> {
        if let Some(stored) = image_record::read(&self.containerd, reference).await? {
            if let Some(top) = chain_ids(&stored.config.diff_ids).last()
                && snapshot_exists(&self.containerd, top).await?
            {
                return Ok(image(reference, top.clone(), stored));
            }
            if self.layers_present(&stored).await? {
                tracing::info!("unpacking {reference}, already in containerd");
                let lease = ImportLease::create(&self.containerd).await?;
                let result = unpack(
                    &self.containerd,
                    &lease,
                    &stored.manifest.layers,
                    &stored.config.diff_ids,
                )
                .await;
                lease.release().await;
                return Ok(image(reference, result?, stored));
            }
        }
        let lease = ImportLease::create(&self.containerd).await?;
        let result = self.import(&lease, reference, repository, tag).await;
        lease.release().await;
        result
    }

    async fn layers_present(&self, stored: &StoredImage) -> Result<bool, ImageError> {
        for layer in &stored.manifest.layers {
            if info(&self.containerd, &layer.digest).await?.is_none() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// From Docker, else the registry; then unpacked and recorded.
    async fn import(
        &self,
        lease: &ImportLease,
        reference: &str,
        repository: &str,
        tag: &str,
    ) -> Result<Image, ImageError> {
        let mut tried = Vec::new();
        let mut imported = self
            .import_from_docker(lease, reference, &mut tried)
            .await?;
        if imported.is_none() {
            imported = self
                .pull_from_registry(lease, repository, tag, &mut tried)
                .await?;
        }
        let Some(Imported {
            manifest_bytes,
            media_type,
            image: stored,
        }) = imported
        else {
            return Err(ImageError::Missing {
                reference: reference.to_string(),
                tried: tried.join("; "),
            });
        };
        let top = unpack(
            &self.containerd,
            lease,
            &stored.manifest.layers,
            &stored.config.diff_ids,
        )
        .await?;
        image_record::record(
            &self.containerd,
            lease,
            reference,
            &manifest_bytes,
            &media_type,
            &stored.manifest,
        )
        .await?;
        Ok(image(reference, top, stored))
    }

    async fn import_from_docker(
        &self,
        lease: &ImportLease,
        reference: &str,
        tried: &mut Vec<String>,
    ) -> Result<Option<Imported>, ImageError> {
        let docker = match esb_docker::connect(self.docker_host.as_deref(), DOCKER_TIMEOUT).await {
            Ok(docker) => docker,
            Err(unavailable) => {
                tracing::debug!("{unavailable}");
                tried.push(format!("no Docker daemon at {}", unavailable.endpoint));
                return Ok(None);
            }
        };
        let imported = docker_import::import(&self.containerd, lease, &docker, reference).await?;
        if imported.is_none() {
            tried.push("Docker does not have it".into());
        }
        Ok(imported)
    }

    async fn pull_from_registry(
        &self,
        lease: &ImportLease,
        repository: &str,
        tag: &str,
        tried: &mut Vec<String>,
    ) -> Result<Option<Imported>, ImageError> {
        let Some(registry) = &self.registry else {
            tried.push("no registry configured".into());
            return Ok(None);
        };
        let registry = Registry::new(registry)?;
        tracing::info!("pulling {repository}:{tag} from {}", registry.host());
        let imported = registry
            .pull(&self.containerd, lease, repository, tag)
            .await?;
        if imported.is_none() {
            tried.push(format!("registry {} does not have it", registry.host()));
        }
        Ok(imported)
    }
}

/// Function images (`esb/...`) in `containerd`'s namespace; `None` when it cannot say.
pub async fn held_in(containerd: Containerd) -> Option<Vec<String>> {
    let request = containerd.request(ListImagesRequest::default());
    match containerd.images().list(request).await {
        Ok(response) => Some(
            response
                .into_inner()
                .images
                .into_iter()
                .map(|image| image.name)
                .filter(|name| name.starts_with("esb/"))
                .collect(),
        ),
        Err(status) => {
            tracing::warn!("cannot list containerd's images: {}", status.message());
            None
        }
    }
}

fn image(reference: &str, chain_id: String, stored: StoredImage) -> Image {
    Image {
        reference: reference.to_string(),
        chain_id,
        config: stored.config.config,
    }
}

/// `repository:tag`; a reference must name its tag (ESB's are content hashes).
fn split(reference: &str) -> Result<(&str, &str), ImageError> {
    let bad = || ImageError::BadReference(reference.to_string());
    let (repository, tag) = reference.rsplit_once(':').ok_or_else(bad)?;
    let valid = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'))
    };
    if !valid(repository)
        || !valid(tag)
        || tag.contains('/')
        || repository
            .split('/')
            .any(|part| part.is_empty() || part.starts_with('.'))
    {
        return Err(bad());
    }
    Ok((repository, tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_name_a_repository_and_a_tag() {
        assert_eq!(
            split("esb/hello:0123abcd").expect("valid"),
            ("esb/hello", "0123abcd")
        );
        for bad in [
            "esb/hello",
            "esb/hello:",
            ":tag",
            "esb/he llo:t",
            "a:b/c",
            "../x:y",
        ] {
            let err = split(bad).expect_err(bad);
            assert!(err.to_string().contains("esb/<function>:<hash>"), "{err}");
        }
    }
}
