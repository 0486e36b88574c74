//! Importing an image from the local Docker daemon (where `esb build` puts it): the
//! `docker save` archive streams straight into containerd's content store, layer by
//! layer (uncompressed: their digests are the image's diff IDs), and a Docker schema 2
//! manifest is written for them. Nothing is exported when containerd already holds
//! every blob; otherwise every layer is streamed (the archive names layers by Docker's
//! v1 IDs, so a layer's digest is only known once it has passed), and containerd keeps
//! one copy of those it already had. One export can carry many images
//! ([`export_blobs`]); [`import`] then records each from the stored blobs.

use std::collections::HashMap;

use esb_docker::bollard::Docker;
use esb_docker::bollard::errors::Error as DockerError;

use super::client::Containerd;
use super::content_blobs::{BlobWriter, info, read_small};
use super::image_manifest::{DOCKER_CONFIG, DOCKER_LAYER, DOCKER_MANIFEST, Descriptor, Manifest};
use super::image_record::{Imported, StoredImage, write_config};
use super::image_types::ImageError;
use super::import_lease::ImportLease;
use super::tar_stream::TarStream;

/// A config JSON larger than this is not an image config.
const MAX_CONFIG: u64 = 16 << 20;

fn docker_error(action: String) -> impl FnOnce(DockerError) -> ImageError {
    move |e| ImageError::Docker {
        action,
        detail: e.to_string(),
    }
}

/// The image from Docker; `None` when the daemon has no such image.
pub async fn import(
    containerd: &Containerd,
    lease: &ImportLease,
    docker: &Docker,
    reference: &str,
) -> Result<Option<Imported>, ImageError> {
    let inspect = match docker.inspect_image(reference).await {
        Ok(inspect) => inspect,
        Err(DockerError::DockerResponseServerError {
            status_code: 404, ..
        }) => return Ok(None),
        Err(e) => return Err(docker_error(format!("inspect {reference}"))(e)),
    };
    let config_digest = inspect.id.unwrap_or_default();
    let diff_ids = inspect.root_fs.and_then(|r| r.layers).unwrap_or_default();
    if !config_digest.starts_with("sha256:") {
        return Err(ImageError::Malformed {
            what: reference.to_string(),
            detail: format!("Docker names its config {config_digest:?}"),
        });
    }
    if all_present(containerd, &config_digest, &diff_ids).await? {
        tracing::debug!("{reference}: every blob already in containerd");
    } else {
        tracing::info!("importing {reference} from Docker into containerd");
        export_blobs(containerd, lease, docker, &[reference]).await?;
    }
    let config_bytes = read_small(containerd, &config_digest).await?;
    let (config, parsed) = write_config(containerd, lease, &config_bytes, DOCKER_CONFIG).await?;
    let mut layers = Vec::with_capacity(parsed.diff_ids.len());
    for diff_id in &parsed.diff_ids {
        let Some(stored) = info(containerd, diff_id).await? else {
            return Err(ImageError::Malformed {
                what: reference.to_string(),
                detail: format!("Docker's export lacks layer {diff_id}"),
            });
        };
        lease.hold_content(diff_id).await?;
        layers.push(Descriptor {
            media_type: DOCKER_LAYER.to_string(),
            digest: diff_id.clone(),
            size: stored.size,
        });
    }
    let manifest = Manifest::docker(config, layers);
    let manifest_bytes = serde_json::to_vec(&manifest).map_err(|e| ImageError::Malformed {
        what: reference.to_string(),
        detail: e.to_string(),
    })?;
    Ok(Some(Imported {
        manifest_bytes,
        media_type: DOCKER_MANIFEST.to_string(),
        image: StoredImage {
            manifest,
            config: parsed,
        },
    }))
}

/// Streams the blobs (configs and layers) of every image in `references` that Docker
/// holds into containerd's content store, in one export: layers the images share (a
/// Python base, ESB's runtime) pass once, where one export per image would send the
/// shared base every time. Images are recorded later, by [`import`], which then finds
/// every blob present.
pub async fn export_blobs(
    containerd: &Containerd,
    lease: &ImportLease,
    docker: &Docker,
    references: &[&str],
) -> Result<(), ImageError> {
    if references.is_empty() {
        return Ok(());
    }
    if references.len() > 1 {
        tracing::info!(
            images = references.len(),
            "importing function images from Docker into containerd"
        );
    }
    let action = || format!("export {}", references.join(" "));
    let mut tar = TarStream::new(Box::pin(docker.export_images(references)));
    let tar_error = |e: super::tar_stream::TarError| ImageError::Docker {
        action: action(),
        detail: e.to_string(),
    };
    while let Some(entry) = tar.next_entry().await.map_err(tar_error)? {
        if !entry.is_file() {
            continue;
        }
        if entry.path.ends_with("/layer.tar") {
            let mut writer = BlobWriter::open(containerd, &lease.id).await?;
            while let Some(chunk) = tar.chunk().await.map_err(tar_error)? {
                writer.write(&chunk).await?;
            }
            writer.commit(None, HashMap::new()).await?;
        } else if entry.path.ends_with(".json") && !entry.path.contains('/') {
            let data = tar.whole(MAX_CONFIG).await.map_err(tar_error)?;
            // manifest.json and repositories are the archive's own, not configs.
            if entry.path != "manifest.json" {
                write_config(containerd, lease, &data, DOCKER_CONFIG).await?;
            }
        }
    }
    Ok(())
}

/// Whether containerd has the config and every layer already.
async fn all_present(
    containerd: &Containerd,
    config: &str,
    diff_ids: &[String],
) -> Result<bool, ImageError> {
    if diff_ids.is_empty() || info(containerd, config).await?.is_none() {
        return Ok(false);
    }
    for diff_id in diff_ids {
        if info(containerd, diff_id).await?.is_none() {
            return Ok(false);
        }
    }
    Ok(true)
}
