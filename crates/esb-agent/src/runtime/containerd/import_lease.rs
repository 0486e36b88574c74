//! The lease an import works under: containerd's garbage collector deletes content and
//! snapshots nothing references, and until the image record exists nothing does. The
//! lease holds them meanwhile; it expires by itself after an hour should the agent die
//! before deleting it.

use std::collections::HashMap;

use containerd_client::services::v1::{AddResourceRequest, CreateRequest, DeleteRequest, Resource};
use time::format_description::well_known::Rfc3339;

use super::client::{Containerd, SNAPSHOTTER};
use super::content_blobs::containerd_error;
use super::image_types::ImageError;

const EXPIRE_LABEL: &str = "containerd.io/gc.expire";

pub struct ImportLease {
    containerd: Containerd,
    pub id: String,
}

impl ImportLease {
    pub async fn create(containerd: &Containerd) -> Result<Self, ImageError> {
        let id = format!("esb-import-{}", uuid::Uuid::new_v4());
        let expire = (time::OffsetDateTime::now_utc() + time::Duration::hours(1))
            .format(&Rfc3339)
            .map_err(|e| ImageError::Containerd {
                action: "create a lease".into(),
                detail: e.to_string(),
            })?;
        let request = containerd.request(CreateRequest {
            id: id.clone(),
            labels: HashMap::from([(EXPIRE_LABEL.to_string(), expire)]),
        });
        containerd
            .leases()
            .create(request)
            .await
            .map_err(containerd_error("create a lease"))?;
        Ok(Self {
            containerd: containerd.clone(),
            id,
        })
    }

    /// Holds a blob that was already there (written by someone else, unreferenced).
    pub async fn hold_content(&self, digest: &str) -> Result<(), ImageError> {
        self.hold(digest, "content").await
    }

    /// Holds a committed snapshot that was already there.
    pub async fn hold_snapshot(&self, name: &str) -> Result<(), ImageError> {
        self.hold(name, &format!("snapshots/{SNAPSHOTTER}")).await
    }

    async fn hold(&self, id: &str, kind: &str) -> Result<(), ImageError> {
        let request = self.containerd.request(AddResourceRequest {
            id: self.id.clone(),
            resource: Some(Resource {
                id: id.to_string(),
                r#type: kind.to_string(),
            }),
        });
        self.containerd
            .leases()
            .add_resource(request)
            .await
            .map_err(containerd_error(format!("hold {id} in lease {}", self.id)))?;
        Ok(())
    }

    /// Ends the lease: what the image record references stays, the rest is garbage.
    pub async fn release(self) {
        let request = self.containerd.request(DeleteRequest {
            id: self.id.clone(),
            sync: false,
        });
        if let Err(e) = self.containerd.leases().delete(request).await {
            tracing::warn!(
                "cannot delete lease {} (it expires within the hour): {}",
                self.id,
                e.message()
            );
        }
    }
}
