//! Pulling an image from the box's registry (`esb build --push`) with the Docker
//! Registry HTTP API v2 over plain HTTP (ESB's registries are Debian's docker-registry
//! on a private address): the manifest as the registry serves it, the config, and the
//! gzip layers streamed into containerd's content store, checked against their digests.

use std::collections::HashMap;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE};

use super::client::Containerd;
use super::content_blobs::{BlobWriter, digest_of, info};
use super::image_manifest::{
    DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, Index, Manifest, OCI_INDEX, OCI_MANIFEST, go_arch,
};
use super::image_record::{Imported, StoredImage, write_config};
use super::image_types::ImageError;
use super::import_lease::ImportLease;

const MAX_SMALL: usize = 16 << 20;

pub struct Registry {
    host: String,
    http: reqwest::Client,
}

impl Registry {
    /// `host` is `HOST:PORT`, as `--registry` names it.
    pub fn new(host: &str) -> Result<Self, ImageError> {
        let host = host.trim_end_matches('/');
        if host.is_empty() || host.contains("://") || host.contains(char::is_whitespace) {
            return Err(ImageError::BadReference(format!(
                "registry {host:?} (a registry is HOST:PORT, e.g. 127.0.0.1:5010)"
            )));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            // A registry that stops sending fails the pull rather than stalling the
            // start waiting on it; a slow but moving download goes on.
            .read_timeout(std::time::Duration::from_secs(60))
            .build()
            .map_err(|e| ImageError::Registry {
                registry: host.to_string(),
                action: "set up an HTTP client".into(),
                detail: e.to_string(),
            })?;
        Ok(Self {
            host: host.to_string(),
            http,
        })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    fn error(&self, action: String) -> impl FnOnce(reqwest::Error) -> ImageError + '_ {
        move |e| ImageError::Registry {
            registry: self.host.clone(),
            action,
            detail: e.to_string(),
        }
    }

    /// The image `repository:tag` pulled into the content store; `None` when the
    /// registry has no such manifest.
    pub async fn pull(
        &self,
        containerd: &Containerd,
        lease: &ImportLease,
        repository: &str,
        tag: &str,
    ) -> Result<Option<Imported>, ImageError> {
        let Some((mut media_type, mut bytes)) = self.manifest(repository, tag).await? else {
            return Ok(None);
        };
        if media_type == DOCKER_MANIFEST_LIST || media_type == OCI_INDEX {
            let index: Index = serde_json::from_slice(&bytes).map_err(|e| self.malformed(e))?;
            let arch = go_arch();
            let Some(entry) = index.manifests.iter().find(|m| {
                m.platform
                    .as_ref()
                    .is_some_and(|p| p.os == "linux" && p.architecture == arch)
            }) else {
                return Err(ImageError::Malformed {
                    what: format!("{}/{repository}:{tag}", self.host),
                    detail: format!("no linux/{arch} image in its index"),
                });
            };
            let digest = entry.digest.clone();
            let Some((m, b)) = self.manifest(repository, &digest).await? else {
                return Ok(None);
            };
            if digest_of(&b) != digest {
                return Err(self.mismatch(&digest));
            }
            (media_type, bytes) = (m, b);
        }
        let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| self.malformed(e))?;
        if media_type != DOCKER_MANIFEST && media_type != OCI_MANIFEST {
            media_type = manifest
                .media_type
                .clone()
                .unwrap_or_else(|| OCI_MANIFEST.to_string());
        }

        let config_bytes = self.small_blob(repository, &manifest.config.digest).await?;
        let (_, parsed) = write_config(
            containerd,
            lease,
            &config_bytes,
            &manifest.config.media_type,
        )
        .await?;
        if parsed.diff_ids.len() != manifest.layers.len() {
            return Err(ImageError::Malformed {
                what: format!("{}/{repository}:{tag}", self.host),
                detail: "the config's layers are not the manifest's".into(),
            });
        }
        for (layer, diff_id) in manifest.layers.iter().zip(&parsed.diff_ids) {
            if info(containerd, &layer.digest).await?.is_some() {
                lease.hold_content(&layer.digest).await?;
                continue;
            }
            self.stream_blob(containerd, lease, repository, &layer.digest, diff_id)
                .await?;
        }
        Ok(Some(Imported {
            manifest_bytes: bytes,
            media_type,
            image: StoredImage {
                manifest,
                config: parsed,
            },
        }))
    }

    async fn manifest(
        &self,
        repository: &str,
        reference: &str,
    ) -> Result<Option<(String, Vec<u8>)>, ImageError> {
        let url = format!("http://{}/v2/{repository}/manifests/{reference}", self.host);
        let action = format!("GET {url}");
        let response = self
            .http
            .get(&url)
            .header(
                ACCEPT,
                [
                    DOCKER_MANIFEST,
                    OCI_MANIFEST,
                    DOCKER_MANIFEST_LIST,
                    OCI_INDEX,
                ]
                .join(", "),
            )
            .send()
            .await
            .map_err(self.error(action.clone()))?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let response = response
            .error_for_status()
            .map_err(self.error(action.clone()))?;
        let media_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_string())
            .unwrap_or_default();
        let bytes = self.bounded(response, &action).await?;
        Ok(Some((media_type, bytes)))
    }

    /// `GET` of blob `digest`, answered with success; and what to call it in errors.
    async fn get_blob(
        &self,
        repository: &str,
        digest: &str,
    ) -> Result<(reqwest::Response, String), ImageError> {
        let url = format!("http://{}/v2/{repository}/blobs/{digest}", self.host);
        let action = format!("GET {url}");
        let response = self
            .http
            .get(&url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(self.error(action.clone()))?;
        Ok((response, action))
    }

    async fn small_blob(&self, repository: &str, digest: &str) -> Result<Vec<u8>, ImageError> {
        let (response, action) = self.get_blob(repository, digest).await?;
        let bytes = self.bounded(response, &action).await?;
        if digest_of(&bytes) != digest {
            return Err(self.mismatch(digest));
        }
        Ok(bytes)
    }

    async fn bounded(
        &self,
        mut response: reqwest::Response,
        action: &str,
    ) -> Result<Vec<u8>, ImageError> {
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(self.error(action.to_string()))?
        {
            bytes.extend_from_slice(&chunk);
            if bytes.len() > MAX_SMALL {
                return Err(ImageError::Registry {
                    registry: self.host.clone(),
                    action: action.to_string(),
                    detail: format!("more than {MAX_SMALL} bytes for a manifest or config"),
                });
            }
        }
        Ok(bytes)
    }

    /// A layer into the content store as it downloads; its digest is checked at commit.
    async fn stream_blob(
        &self,
        containerd: &Containerd,
        lease: &ImportLease,
        repository: &str,
        digest: &str,
        diff_id: &str,
    ) -> Result<(), ImageError> {
        let (mut response, action) = self.get_blob(repository, digest).await?;
        let mut writer = BlobWriter::open(containerd, &lease.id).await?;
        while let Some(chunk) = response.chunk().await.map_err(self.error(action.clone()))? {
            writer.write(&chunk).await?;
        }
        // What the layer unpacks to, as the Go client records it for compressed layers.
        let labels = if digest == diff_id {
            HashMap::new()
        } else {
            HashMap::from([(
                "containerd.io/uncompressed".to_string(),
                diff_id.to_string(),
            )])
        };
        writer.commit(Some(digest), labels).await?;
        Ok(())
    }

    fn malformed(&self, e: serde_json::Error) -> ImageError {
        ImageError::Malformed {
            what: format!("a manifest from {}", self.host),
            detail: e.to_string(),
        }
    }

    fn mismatch(&self, digest: &str) -> ImageError {
        ImageError::Registry {
            registry: self.host.clone(),
            action: format!("fetch {digest}"),
            detail: "the data received does not hash to its digest".into(),
        }
    }
}
