//! The box's registry of joined nodes (`<state>/nodes/nodes.json`): who may be placed
//! on, where its mutual-TLS gRPC listens, and which certificate it was given.

use std::collections::BTreeMap;
use std::path::PathBuf;

use esb_state::StateDir;
use serde::{Deserialize, Serialize};

use crate::error::NodesError;
use crate::store_file;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NodeRecord {
    pub name: String,
    /// `host:port` of the node's mutual-TLS gRPC.
    pub address: String,
    pub labels: BTreeMap<String, String>,
    pub joined_at_ms: i64,
    /// Hex SHA-256 of the DER of the certificate the node was given.
    pub cert_sha256: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct NodeFile {
    pub(crate) nodes: Vec<NodeRecord>,
}

/// `[a-z0-9][a-z0-9-]{0,62}`: a DNS label, so `<name>.node.esb` is a valid name.
pub fn valid_node_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

pub struct NodeRegistry {
    state: StateDir,
}

impl NodeRegistry {
    pub fn open(state: &StateDir) -> NodeRegistry {
        NodeRegistry {
            state: state.clone(),
        }
    }

    pub(crate) fn path(&self) -> PathBuf {
        self.state.nodes().join("nodes.json")
    }

    /// Every joined node, by name.
    pub fn list(&self) -> Result<Vec<NodeRecord>, NodesError> {
        let file: NodeFile = store_file::read_json(&self.path())?;
        Ok(file.nodes)
    }

    /// Adds `record`, or replaces the record of the same name.
    pub fn upsert(&self, record: NodeRecord) -> Result<(), NodesError> {
        let _lock = store_file::lock(&self.state.nodes())?;
        self.upsert_locked(record)
    }

    pub(crate) fn upsert_locked(&self, record: NodeRecord) -> Result<(), NodesError> {
        let mut file: NodeFile = store_file::read_json(&self.path())?;
        file.nodes.retain(|n| n.name != record.name);
        file.nodes.push(record);
        file.nodes.sort_by(|a, b| a.name.cmp(&b.name));
        store_file::write_json(&self.path(), &file)
    }

    /// Forgets node `name`; `false` when it was not registered.
    pub fn remove(&self, name: &str) -> Result<bool, NodesError> {
        let _lock = store_file::lock(&self.state.nodes())?;
        let mut file: NodeFile = store_file::read_json(&self.path())?;
        let before = file.nodes.len();
        file.nodes.retain(|n| n.name != name);
        if file.nodes.len() == before {
            return Ok(false);
        }
        store_file::write_json(&self.path(), &file)?;
        Ok(true)
    }
}
