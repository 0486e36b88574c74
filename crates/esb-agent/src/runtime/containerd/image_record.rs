//! An image in containerd's image store: its record (name → manifest), the manifest and
//! the config blob, labelled so the garbage collector keeps, from the record down, the
//! manifest, config, layers and the unpacked snapshots.

use std::collections::HashMap;

use containerd_client::services::v1::{
    CreateImageRequest, GetImageRequest, Image as ImageRecord, UpdateImageRequest,
};
use containerd_client::types;
use tonic::Code;

use super::client::{Containerd, SNAPSHOTTER};
use super::content_blobs::{containerd_error, read_small, write_small};
use super::image_manifest::{
    DOCKER_CONFIG, DOCKER_MANIFEST, Descriptor, Manifest, OCI_MANIFEST, ParsedConfig, chain_ids,
    parse_config,
};
use super::image_types::ImageError;
use super::import_lease::ImportLease;

/// An image's manifest and parsed config, as read from or written to the store.
pub struct StoredImage {
    pub manifest: Manifest,
    pub config: ParsedConfig,
}

/// An image written into the content store, not yet unpacked nor recorded.
pub struct Imported {
    pub manifest_bytes: Vec<u8>,
    pub media_type: String,
    pub image: StoredImage,
}

/// The image named `reference`, `None` when there is no such record (or it points at
/// something this runtime does not read, e.g. a multi-platform index).
pub async fn read(
    containerd: &Containerd,
    reference: &str,
) -> Result<Option<StoredImage>, ImageError> {
    let request = containerd.request(GetImageRequest {
        name: reference.to_string(),
    });
    let record = match containerd.images().get(request).await {
        Ok(response) => response.into_inner().image,
        Err(status) if status.code() == Code::NotFound => None,
        Err(status) => return Err(containerd_error(format!("get image {reference}"))(status)),
    };
    let Some(target) = record.and_then(|r| r.target) else {
        return Ok(None);
    };
    if target.media_type != DOCKER_MANIFEST && target.media_type != OCI_MANIFEST {
        tracing::info!(
            "image {reference} in containerd is a {}: importing it again",
            target.media_type
        );
        return Ok(None);
    }
    let manifest = read_small(containerd, &target.digest).await?;
    let manifest: Manifest =
        serde_json::from_slice(&manifest).map_err(|e| ImageError::Malformed {
            what: format!("{reference} manifest"),
            detail: e.to_string(),
        })?;
    let config = read_small(containerd, &manifest.config.digest).await?;
    let config = parse_config(&config).map_err(|detail| ImageError::Malformed {
        what: reference.to_string(),
        detail,
    })?;
    Ok(Some(StoredImage { manifest, config }))
}

/// Writes the config blob, labelled with the snapshot its layers unpack to.
pub async fn write_config(
    containerd: &Containerd,
    lease: &ImportLease,
    data: &[u8],
    media_type: &str,
) -> Result<(Descriptor, ParsedConfig), ImageError> {
    let parsed = parse_config(data).map_err(|detail| ImageError::Malformed {
        what: "image".into(),
        detail,
    })?;
    let mut labels = HashMap::new();
    if let Some(top) = chain_ids(&parsed.diff_ids).last() {
        labels.insert(
            format!("containerd.io/gc.ref.snapshot.{SNAPSHOTTER}"),
            top.clone(),
        );
    }
    let digest = write_small(containerd, &lease.id, data, labels).await?;
    let media_type = if media_type.is_empty() {
        DOCKER_CONFIG
    } else {
        media_type
    };
    let descriptor = Descriptor {
        media_type: media_type.to_string(),
        digest,
        size: data.len() as i64,
    };
    Ok((descriptor, parsed))
}

/// Writes the manifest (labelled with what it references) and points the image record
/// `reference` at it.
pub async fn record(
    containerd: &Containerd,
    lease: &ImportLease,
    reference: &str,
    manifest_bytes: &[u8],
    media_type: &str,
    manifest: &Manifest,
) -> Result<(), ImageError> {
    let mut labels = HashMap::from([(
        "containerd.io/gc.ref.content.config".to_string(),
        manifest.config.digest.clone(),
    )]);
    for (i, layer) in manifest.layers.iter().enumerate() {
        labels.insert(
            format!("containerd.io/gc.ref.content.l.{i}"),
            layer.digest.clone(),
        );
    }
    let digest = write_small(containerd, &lease.id, manifest_bytes, labels).await?;
    let image = ImageRecord {
        name: reference.to_string(),
        target: Some(types::Descriptor {
            media_type: media_type.to_string(),
            digest,
            size: manifest_bytes.len() as i64,
            ..Default::default()
        }),
        ..Default::default()
    };
    let request = containerd.leased(
        CreateImageRequest {
            image: Some(image.clone()),
            ..Default::default()
        },
        &lease.id,
    );
    match containerd.images().create(request).await {
        Ok(_) => Ok(()),
        Err(status) if status.code() == Code::AlreadyExists => {
            let request = containerd.leased(
                UpdateImageRequest {
                    image: Some(image),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["target".to_string()],
                    }),
                    ..Default::default()
                },
                &lease.id,
            );
            containerd
                .images()
                .update(request)
                .await
                .map_err(containerd_error(format!("update image {reference}")))?;
            Ok(())
        }
        Err(status) => Err(containerd_error(format!("create image {reference}"))(
            status,
        )),
    }
}
