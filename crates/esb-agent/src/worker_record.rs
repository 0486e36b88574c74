//! What the agent remembers about a worker, persisted as one JSON file per worker
//! under `<state>/agent/workers/` so a restarted agent can re-adopt live workers.

use std::path::PathBuf;

use esb_proto::agent::FunctionSpec;
use esb_state::StateDir;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum RecordedState {
    Running,
    Paused,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerRecord {
    pub id: String,
    pub function_name: String,
    /// host:port of the worker's Invoke API.
    pub address: String,
    /// Process runtime: pid of the worker's `esb rie`.
    pub pid: u32,
    /// Docker runtime: the worker's container name.
    #[serde(default)]
    pub container: String,
    /// What the worker's `esb rie` knows itself by (`ESB_WORKER_TOKEN`).
    #[serde(default)]
    pub token: String,
    pub created_at_ms: i64,
    pub last_used_ms: i64,
    pub spec_hash: String,
    pub state: RecordedState,
    /// The function's `MemorySize`: what the worker takes from the node's capacity.
    #[serde(default)]
    pub memory_mb: u32,
}

impl WorkerRecord {
    /// A worker of `spec` (whose [`spec_hash`] is `hash`) that just started: its Invoke
    /// API at `address`, its process (`pid`, process runtime) or container
    /// (`container`, container runtimes).
    pub fn running(
        id: &str,
        spec: &FunctionSpec,
        hash: String,
        address: String,
        pid: u32,
        container: String,
        token: String,
    ) -> Self {
        let now = now_ms();
        Self {
            id: id.to_string(),
            function_name: spec.name.clone(),
            address,
            pid,
            container,
            token,
            created_at_ms: now,
            last_used_ms: now,
            spec_hash: hash,
            state: RecordedState::Running,
            memory_mb: spec.memory_mb,
        }
    }
}

/// The directory of worker records.
#[derive(Debug, Clone)]
pub struct RecordStore {
    dir: PathBuf,
}

impl RecordStore {
    pub fn new(state_dir: &StateDir) -> std::io::Result<Self> {
        let dir = state_dir.agent_workers();
        std::fs::create_dir_all(&dir)?;
        Ok(Self { dir })
    }

    fn path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// Writes atomically (temp file + rename): a crash never leaves half a record.
    pub fn save(&self, record: &WorkerRecord) -> std::io::Result<()> {
        let tmp = self.dir.join(format!(".{}.tmp", record.id));
        let written = std::fs::write(
            &tmp,
            serde_json::to_vec_pretty(record).map_err(std::io::Error::other)?,
        )
        .and_then(|()| std::fs::rename(&tmp, self.path(&record.id)));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    }

    pub fn remove(&self, id: &str) {
        let _ = std::fs::remove_file(self.path(id));
    }

    /// Every readable record; unreadable files are reported and skipped.
    pub fn load_all(&self) -> Vec<WorkerRecord> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .filter_map(|e| {
                let parsed = std::fs::read(e.path())
                    .map_err(|err| err.to_string())
                    .and_then(|b| serde_json::from_slice(&b).map_err(|err| err.to_string()));
                match parsed {
                    Ok(r) => Some(r),
                    Err(err) => {
                        tracing::warn!("ignoring worker record {}: {err}", e.path().display());
                        None
                    }
                }
            })
            .collect()
    }
}

/// Now, in the milliseconds of a record's `created_at_ms` and `last_used_ms`.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// A fresh worker token.
pub fn new_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Identifies a version of a function spec: a worker is reused only for the spec it
/// was created from. Proto maps are BTreeMaps, so the encoding is deterministic.
pub fn spec_hash(spec: &FunctionSpec) -> String {
    let digest = Sha256::digest(prost::Message::encode_to_vec(spec));
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}
