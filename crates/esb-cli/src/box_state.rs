//! `<state>/box.json`: where the running box of a state dir serves and how it runs,
//! written once it serves and removed when it stops. `esb status`, `esb invoke` and a
//! second `esb up` read it (the pid in `box.pid` says whether it is still alive).

use std::path::PathBuf;

use anyhow::{Context, Result};
use esb_state::StateDir;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BoxState {
    pub pid: u32,
    pub url: String,
    pub port: u16,
    pub region: String,
    /// `process`, `docker` or `gateway` (a split gateway).
    pub runtime: String,
    pub template: PathBuf,
    pub started_at: String,
    /// The Invoke API checks Signature V4 (`false`: `--open-invoke-api`).
    pub signed: bool,
    /// The log store's VictoriaLogs API (`None`: `--logs-listen off`).
    #[serde(default)]
    pub logs_url: Option<String>,
    /// The S3 service's endpoint (`None`: `--s3-port off`).
    #[serde(default)]
    pub s3_url: Option<String>,
    /// The DynamoDB service's endpoint (`None`: `--dynamodb-port off`).
    #[serde(default)]
    pub dynamodb_url: Option<String>,
    /// The SQS service's endpoint (`None`: `--sqs-port off`).
    #[serde(default)]
    pub sqs_url: Option<String>,
    /// The CloudWatch Logs API's endpoint (`None`: off, or no log store).
    #[serde(default)]
    pub cloudwatch_logs_url: Option<String>,
    /// Where `/metrics` is served without the gateway's port (`None`:
    /// `--metrics-listen off`).
    #[serde(default)]
    pub metrics_url: Option<String>,
}

/// Records the box; the file goes when the returned guard is dropped.
pub fn write(state_dir: &StateDir, state: &BoxState) -> Result<StateGuard> {
    let path = state_dir.box_json();
    let text = serde_json::to_string_pretty(state).context("box state")?;
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(StateGuard { path })
}

/// The running box of `state_dir`: `None` when none runs (a file left by a killed box
/// is ignored).
pub fn read(state_dir: &StateDir) -> Option<BoxState> {
    let text = std::fs::read_to_string(state_dir.box_json()).ok()?;
    let state: BoxState = serde_json::from_str(&text).ok()?;
    let alive = std::fs::read_link(format!("/proc/{}/exe", state.pid))
        .ok()
        .and_then(|exe| {
            exe.file_name()
                .map(|n| n.to_string_lossy().starts_with("esb"))
        })
        .unwrap_or(false);
    alive.then_some(state)
}

pub struct StateGuard {
    path: PathBuf,
}

impl Drop for StateGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
