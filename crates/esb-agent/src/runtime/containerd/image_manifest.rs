//! The image formats containerd stores: Docker schema 2 / OCI manifests (config plus
//! layers), the image config (how to start it, the layers' uncompressed digests), and
//! the chain IDs the unpacked layers are named by.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::content_blobs::hex;
use super::image_types::ImageConfig;

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType")]
    pub media_type: String,
    pub digest: String,
    pub size: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

impl Manifest {
    /// A Docker schema 2 manifest of uncompressed layers (what `docker save` gives).
    pub fn docker(config: Descriptor, layers: Vec<Descriptor>) -> Self {
        Self {
            schema_version: 2,
            media_type: Some(DOCKER_MANIFEST.to_string()),
            config,
            layers,
        }
    }
}

/// An entry of a manifest list / OCI index.
#[derive(Debug, Deserialize)]
pub struct IndexEntry {
    pub digest: String,
    #[serde(default)]
    pub platform: Option<Platform>,
}

#[derive(Debug, Deserialize)]
pub struct Platform {
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub architecture: String,
}

#[derive(Debug, Deserialize)]
pub struct Index {
    pub manifests: Vec<IndexEntry>,
}

/// Go's name of this machine's architecture, as platforms name it.
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

#[derive(Debug, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    config: Option<ContainerConfig>,
    rootfs: RootFs,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ContainerConfig {
    #[serde(default)]
    entrypoint: Option<Vec<String>>,
    #[serde(default)]
    cmd: Option<Vec<String>>,
    #[serde(default)]
    env: Option<Vec<String>>,
    #[serde(default)]
    working_dir: Option<String>,
    #[serde(default)]
    user: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RootFs {
    #[serde(default)]
    diff_ids: Vec<String>,
}

/// What a parsed image config says: how to start it, and its layers' diff IDs.
#[derive(Debug)]
pub struct ParsedConfig {
    pub config: ImageConfig,
    pub diff_ids: Vec<String>,
}

pub fn parse_config(data: &[u8]) -> Result<ParsedConfig, String> {
    let file: ConfigFile =
        serde_json::from_slice(data).map_err(|e| format!("image config: {e}"))?;
    let c = file.config.unwrap_or_default();
    Ok(ParsedConfig {
        config: ImageConfig {
            entrypoint: c.entrypoint.unwrap_or_default(),
            cmd: c.cmd.unwrap_or_default(),
            env: c.env.unwrap_or_default(),
            working_dir: c.working_dir.unwrap_or_default(),
            user: c.user.unwrap_or_default(),
        },
        diff_ids: file.rootfs.diff_ids,
    })
}

/// The chain ID of each layer: the first is its diff ID, each next one
/// `sha256(parent chain ID + " " + diff ID)`. A committed snapshot named by the chain
/// ID is that layer on top of all below it.
pub fn chain_ids(diff_ids: &[String]) -> Vec<String> {
    let mut chain: Vec<String> = Vec::with_capacity(diff_ids.len());
    for diff_id in diff_ids {
        let next = match chain.last() {
            None => diff_id.clone(),
            Some(parent) => {
                let digest = Sha256::digest(format!("{parent} {diff_id}").as_bytes());
                format!("sha256:{}", hex(&digest))
            }
        };
        chain.push(next);
    }
    chain
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_ids_follow_the_oci_definition() {
        // From the OCI image spec's worked example (config.md, "Layer ChainID").
        let a = "sha256:a".to_string();
        let b = "sha256:b".to_string();
        let ids = chain_ids(&[a.clone(), b.clone()]);
        assert_eq!(ids[0], a);
        let expected = format!("sha256:{}", hex(&Sha256::digest(b"sha256:a sha256:b")));
        assert_eq!(ids[1], expected);
        assert!(chain_ids(&[]).is_empty());
    }

    #[test]
    fn a_config_without_a_command_still_parses() {
        let parsed = parse_config(
            br#"{"config":{"Env":["A=1"],"Entrypoint":null},"rootfs":{"type":"layers","diff_ids":["sha256:x"]}}"#,
        )
        .expect("parse");
        assert_eq!(parsed.config.env, vec!["A=1"]);
        assert!(parsed.config.entrypoint.is_empty() && parsed.config.cmd.is_empty());
        assert_eq!(parsed.diff_ids, vec!["sha256:x"]);
        assert!(parse_config(b"{}").is_err());
    }
}
