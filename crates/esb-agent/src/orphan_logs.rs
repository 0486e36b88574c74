//! On a node of another machine, the box's orphan watcher cannot see the node's disk:
//! a worker killed with records still in its spool would keep them until another
//! worker ran there (live shippers adopt their dead siblings' spools). So a node's
//! agent keeps one idle shipper of its own beside its workers' spools, started at the
//! first function environment that names the box's log ingestion: what a dead worker
//! left reaches the box's store within seconds, even on an idle node.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use crate::worker_env::LOGS_URL_VAR;

/// The log token a worker sends with its records (`ESB_LOGS_TOKEN`).
const LOGS_TOKEN_VAR: &str = "ESB_LOGS_TOKEN";
/// The most bytes of the agent's own spool (it holds only what it adopts and cannot
/// deliver yet).
const SPOOL_BYTES: u64 = 64 << 20;
/// How often it looks for orphaned spools.
const ADOPT_EVERY: Duration = Duration::from_secs(2);

pub struct OrphanLogs {
    spool_root: PathBuf,
    ca_path: PathBuf,
    shipper: Mutex<Option<esb_logs::Shipper>>,
}

impl OrphanLogs {
    /// Adopts orphaned spools under `spool_root`, trusting the box CA at `ca_path`.
    pub fn new(spool_root: PathBuf, ca_path: PathBuf) -> Self {
        Self {
            spool_root,
            ca_path,
            shipper: Mutex::new(None),
        }
    }

    /// Starts the shipper if `env` (a function environment already pointed at the
    /// box) names the box's log ingestion and none runs yet.
    pub fn ensure(&self, env: &BTreeMap<String, String>) {
        let mut running = self
            .shipper
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if running.is_some() {
            return;
        }
        let (Some(url), Some(token)) = (env.get(LOGS_URL_VAR), env.get(LOGS_TOKEN_VAR)) else {
            return;
        };
        let mut config = esb_logs::ShipperConfig::new(url.clone());
        config.headers = vec![(esb_logs::collector::TOKEN_HEADER.to_string(), token.clone())];
        config.ca_pem = std::fs::read(&self.ca_path).ok();
        let run = uuid::Uuid::new_v4().simple().to_string();
        config.spool = Some((
            self.spool_root.join(format!("agent-{}", &run[..8])),
            SPOOL_BYTES,
        ));
        config.identity = vec![("function".to_string(), "esb-agent".to_string())];
        config.adopt_every = ADOPT_EVERY;
        match esb_logs::Shipper::start(config) {
            Ok(shipper) => *running = Some(shipper),
            Err(e) => {
                tracing::warn!("cannot deliver the records dead workers leave on this node: {e}")
            }
        }
    }
}
