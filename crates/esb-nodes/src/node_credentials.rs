//! What a node keeps after joining (`<agent state>/node/`): the box's CA, its own
//! certificate and key, and `joined.json` (written last: its presence means the rest is
//! complete). A restarted agent serves with these and needs no token.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::NodesError;
use crate::store_file::{write_atomic, write_private};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Joined {
    pub box_url: String,
    pub box_host: String,
    pub node_name: String,
    pub registry: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub address: String,
    /// The id of the token spent (not its secret): the same `--token` given again at a
    /// restart is not a request to re-join.
    #[serde(default)]
    pub token_id: String,
}

#[derive(Debug, Clone)]
pub struct NodeCredentials {
    pub dir: PathBuf,
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
    pub joined: Joined,
}

fn read(path: &Path) -> Result<String, NodesError> {
    std::fs::read_to_string(path).map_err(NodesError::io(path))
}

impl NodeCredentials {
    /// The stored credentials, or `None` when this node never joined.
    pub fn load(dir: &Path) -> Result<Option<NodeCredentials>, NodesError> {
        let joined_path = dir.join("joined.json");
        let joined = match std::fs::read(&joined_path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| NodesError::Corrupt {
                path: joined_path.clone(),
                reason: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(NodesError::io(&joined_path)(e)),
        };
        Ok(Some(NodeCredentials {
            dir: dir.to_path_buf(),
            ca_pem: read(&dir.join("ca.pem"))?,
            cert_pem: read(&dir.join("node.pem"))?,
            key_pem: read(&dir.join("node-key.pem"))?,
            joined,
        }))
    }

    /// Writes them to `self.dir` (0700; the key 0600), replacing an earlier join.
    pub(crate) fn store(&self) -> Result<(), NodesError> {
        let dir = &self.dir;
        esb_state::create_private(dir).map_err(NodesError::io(dir))?;
        let joined_path = dir.join("joined.json");
        // An interrupted re-join must not leave the old joined.json over new files.
        match std::fs::remove_file(&joined_path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(NodesError::io(&joined_path)(e));
            }
            _ => {}
        }
        let key_path = dir.join("node-key.pem");
        write_private(&key_path, self.key_pem.as_bytes()).map_err(NodesError::io(&key_path))?;
        write_atomic(&dir.join("node.pem"), self.cert_pem.as_bytes())?;
        write_atomic(&dir.join("ca.pem"), self.ca_pem.as_bytes())?;
        let text = serde_json::to_vec_pretty(&self.joined).map_err(|e| NodesError::Corrupt {
            path: joined_path.clone(),
            reason: e.to_string(),
        })?;
        write_atomic(&joined_path, &text)
    }
}
