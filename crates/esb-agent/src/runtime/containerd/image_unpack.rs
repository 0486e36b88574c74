//! Unpacking an image's layers into committed overlayfs snapshots named by chain ID:
//! each layer is applied (containerd's differ, which also ungzips registry layers) onto
//! a snapshot prepared on the one below, then committed. Layers already unpacked (by
//! this image or another sharing its base) are skipped.

use containerd_client::services::v1::ApplyRequest;
use containerd_client::services::v1::snapshots::{
    CommitSnapshotRequest, PrepareSnapshotRequest, RemoveSnapshotRequest, StatSnapshotRequest,
};
use containerd_client::types;
use tonic::Code;

use super::client::{Containerd, SNAPSHOTTER};
use super::content_blobs::containerd_error;
use super::image_manifest::{Descriptor, chain_ids};
use super::image_types::ImageError;
use super::import_lease::ImportLease;

/// Whether the committed snapshot `name` exists.
pub async fn snapshot_exists(containerd: &Containerd, name: &str) -> Result<bool, ImageError> {
    let request = containerd.request(StatSnapshotRequest {
        snapshotter: SNAPSHOTTER.to_string(),
        key: name.to_string(),
    });
    match containerd.snapshots().stat(request).await {
        Ok(_) => Ok(true),
        Err(status) if status.code() == Code::NotFound => Ok(false),
        Err(status) => Err(containerd_error(format!("stat snapshot {name}"))(status)),
    }
}

/// Unpacks `layers` (whose uncompressed digests are `diff_ids`); returns the top
/// chain ID.
pub async fn unpack(
    containerd: &Containerd,
    lease: &ImportLease,
    layers: &[Descriptor],
    diff_ids: &[String],
) -> Result<String, ImageError> {
    if layers.len() != diff_ids.len() || layers.is_empty() {
        return Err(ImageError::Malformed {
            what: "image".into(),
            detail: format!(
                "{} layers in the manifest but {} in the config",
                layers.len(),
                diff_ids.len()
            ),
        });
    }
    let chain = chain_ids(diff_ids);
    let mut parent = String::new();
    for ((layer, diff_id), chain_id) in layers.iter().zip(diff_ids).zip(&chain) {
        if snapshot_exists(containerd, chain_id).await? {
            lease.hold_snapshot(chain_id).await?;
        } else {
            apply_layer(containerd, lease, layer, diff_id, &parent, chain_id).await?;
        }
        parent = chain_id.clone();
    }
    Ok(parent)
}

async fn apply_layer(
    containerd: &Containerd,
    lease: &ImportLease,
    layer: &Descriptor,
    diff_id: &str,
    parent: &str,
    chain_id: &str,
) -> Result<(), ImageError> {
    let key = format!("esb-extract-{}", uuid::Uuid::new_v4());
    let request = containerd.leased(
        PrepareSnapshotRequest {
            snapshotter: SNAPSHOTTER.to_string(),
            key: key.clone(),
            parent: parent.to_string(),
            ..Default::default()
        },
        &lease.id,
    );
    let mounts = containerd
        .snapshots()
        .prepare(request)
        .await
        .map_err(containerd_error(format!(
            "prepare a snapshot on {parent:?}"
        )))?
        .into_inner()
        .mounts;
    let result = apply_and_commit(containerd, lease, layer, diff_id, mounts, &key, chain_id).await;
    match result {
        Ok(()) => Ok(()),
        Err(e) => {
            remove(containerd, &key).await;
            Err(e)
        }
    }
}

async fn apply_and_commit(
    containerd: &Containerd,
    lease: &ImportLease,
    layer: &Descriptor,
    diff_id: &str,
    mounts: Vec<types::Mount>,
    key: &str,
    chain_id: &str,
) -> Result<(), ImageError> {
    let request = containerd.leased(
        ApplyRequest {
            diff: Some(types::Descriptor {
                media_type: layer.media_type.clone(),
                digest: layer.digest.clone(),
                size: layer.size,
                ..Default::default()
            }),
            mounts,
            ..Default::default()
        },
        &lease.id,
    );
    let applied = containerd
        .diff()
        .apply(request)
        .await
        .map_err(containerd_error(format!("apply layer {}", layer.digest)))?
        .into_inner()
        .applied;
    let applied = applied.map(|d| d.digest).unwrap_or_default();
    if applied != diff_id {
        return Err(ImageError::Malformed {
            what: layer.digest.clone(),
            detail: format!("unpacks to {applied}, but the image config says {diff_id}"),
        });
    }
    let request = containerd.leased(
        CommitSnapshotRequest {
            snapshotter: SNAPSHOTTER.to_string(),
            name: chain_id.to_string(),
            key: key.to_string(),
            ..Default::default()
        },
        &lease.id,
    );
    match containerd.snapshots().commit(request).await {
        Ok(_) => Ok(()),
        // Another import of an image sharing this layer got there first.
        Err(status) if status.code() == Code::AlreadyExists => {
            remove(containerd, key).await;
            lease.hold_snapshot(chain_id).await
        }
        Err(status) => Err(containerd_error(format!("commit snapshot {chain_id}"))(
            status,
        )),
    }
}

async fn remove(containerd: &Containerd, key: &str) {
    let request = containerd.request(RemoveSnapshotRequest {
        snapshotter: SNAPSHOTTER.to_string(),
        key: key.to_string(),
    });
    if let Err(e) = containerd.snapshots().remove(request).await
        && e.code() != Code::NotFound
    {
        tracing::debug!("remove snapshot {key}: {}", e.message());
    }
}
