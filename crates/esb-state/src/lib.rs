//! The state directory of a box (`.esb` beside the template by default) and every path
//! in it, spelled in one place. Each component asks [`StateDir`] for its paths instead
//! of joining names of its own, so a reader can see the whole layout here, and a new
//! service (S3, DynamoDB, SQS) claims its folder by adding one method.
//!
//! ```text
//! .esb/
//!   box.json  box.pid  box-id  credentials
//!   certs/          ca.pem, ca-key.pem, server.pem, server-key.pem, server-names
//!   nodes/          (a box) tokens.json, nodes.json, gateway.pem, gateway-key.pem
//!   node/           (an agent that joined a box) ca.pem, node.pem, node-key.pem, joined.json
//!   async/          queue/ (accepted Event invocations), failed/ (dead letters)
//!   agent/workers/  one record per worker, for adoption after an agent restart
//!   runtimes/python the process runtime's Python env
//!   logs/           box.log (detached box), access.log, store/ (the log store),
//!                   spool/box-<run>/, spool/<worker>/ (records waiting for the store),
//!                   external-spool/box/ (records waiting for an external VictoriaLogs),
//!                   workers/<id>.log (a process worker's raw output)
//! ```

use std::path::{Path, PathBuf};

/// The state dir's name when none is given (`esb up` puts it beside the template).
pub const DEFAULT_NAME: &str = ".esb";

/// Creates the state directory `root` (and its parents) readable by its user only
/// (0700), and takes group and other access away from one that exists: it holds the
/// box's credentials, TLS key, worker tokens, queued event payloads, logs and data, and
/// a mode on the folder covers every file in it, including those SQLite and the
/// services create with the umask's mode.
pub fn create_private(root: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(root)?;
    let meta = std::fs::metadata(root)?;
    if meta.permissions().mode() & 0o077 != 0 {
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Writes a secret file (a private key) readable by its user only (0600), also when it
/// existed with a wider mode, and flushes it to disk.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// A box's state directory. Cheap to clone; creates nothing by itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StateDir {
    root: PathBuf,
}

impl StateDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// What the serving box says about itself (URLs, pid, runtime) for `esb status`.
    pub fn box_json(&self) -> PathBuf {
        self.root.join("box.json")
    }

    /// Held (locked) by the box serving this state dir; says whether one is alive.
    pub fn box_pid(&self) -> PathBuf {
        self.root.join("box.pid")
    }

    /// The box's id, which labels its Docker objects (written once docker was used).
    pub fn box_id(&self) -> PathBuf {
        self.root.join("box-id")
    }

    /// The box's key pair, an AWS shared-credentials file.
    pub fn credentials(&self) -> PathBuf {
        self.root.join("credentials")
    }

    /// The box's CA and server certificate.
    pub fn certs(&self) -> PathBuf {
        self.root.join("certs")
    }

    /// A box's side of its nodes: join tokens, the registry of joined nodes, and the
    /// gateway's client identity towards them.
    pub fn nodes(&self) -> PathBuf {
        self.root.join("nodes")
    }

    /// An agent's side of joining a box: its certificate, key and the box's CA, so a
    /// restarted agent needs no token.
    pub fn node(&self) -> PathBuf {
        self.root.join("node")
    }

    /// Accepted asynchronous invocations (`queue/`) and dead letters (`failed/`).
    pub fn async_events(&self) -> PathBuf {
        self.root.join("async")
    }

    /// The embedded S3 store: its catalogue (`catalogue.db`) and object data (`blobs/`).
    pub fn s3(&self) -> PathBuf {
        self.root.join("s3")
    }

    /// The embedded DynamoDB engine's database (`dynamodb.sqlite`) and the stream
    /// mappings' checkpoints (`stream-checkpoints/`).
    pub fn dynamodb(&self) -> PathBuf {
        self.root.join("dynamodb")
    }

    /// The embedded SQS service's database (queues and messages).
    pub fn sqs(&self) -> PathBuf {
        self.root.join("sqs")
    }

    /// The scheduler's record of the runs it fired (so none fires twice) and of when
    /// each `rate()` schedule was created (its cadence).
    pub fn schedules(&self) -> PathBuf {
        self.root.join("schedules")
    }

    /// Where each DynamoDB stream mapping keeps how far it has read.
    pub fn dynamodb_stream_checkpoints(&self) -> PathBuf {
        self.dynamodb().join("stream-checkpoints")
    }

    /// One record per worker the agent runs, for re-adoption.
    pub fn agent_workers(&self) -> PathBuf {
        self.root.join("agent").join("workers")
    }

    /// Function files a remote node was pushed by the box, one directory per
    /// artifact hash (`esb_proto::artifact`).
    pub fn artifacts(&self) -> PathBuf {
        self.root.join("agent").join("artifacts")
    }

    /// The process runtime's Python environment.
    pub fn python_runtime(&self) -> PathBuf {
        self.root.join("runtimes").join("python")
    }

    /// Everything about logs.
    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }

    /// The output of a detached box (`esb up --detach`).
    pub fn box_log(&self) -> PathBuf {
        self.logs().join("box.log")
    }

    /// The gateway's JSON access log.
    pub fn access_log(&self) -> PathBuf {
        self.logs().join("access.log")
    }

    /// The log store's database.
    pub fn log_store(&self) -> PathBuf {
        self.logs().join("store")
    }

    /// The CloudWatch Logs API's catalogue of log groups and streams (beside the store
    /// that holds their events).
    pub fn cloudwatch_logs(&self) -> PathBuf {
        self.logs().join("cloudwatch")
    }

    /// Per-writer spools of records the store has not taken yet; the box's own is
    /// `box`, each worker's is its id.
    pub fn log_spool(&self) -> PathBuf {
        self.logs().join("spool")
    }

    /// The spool of one run of the box (its access log, warnings), beside the workers':
    /// a killed run's is an orphan like a dead worker's, delivered by whoever notices
    /// first (the next run included).
    pub fn box_log_spool(&self, run: &str) -> PathBuf {
        self.log_spool().join(format!("box-{run}"))
    }

    /// A worker's spool (`ESB_LOG_SPOOL` of a process worker).
    pub fn worker_log_spool(&self, worker_id: &str) -> PathBuf {
        self.log_spool().join(worker_id)
    }

    /// Records waiting for an external VictoriaLogs (`--logs-ship-url`).
    pub fn external_log_spool(&self) -> PathBuf {
        self.logs().join("external-spool")
    }

    /// The box's spool for the external VictoriaLogs (its only writer).
    pub fn external_box_log_spool(&self) -> PathBuf {
        self.external_log_spool().join("box")
    }

    /// A process worker's raw stdout and stderr, while it lives.
    pub fn worker_log(&self, worker_id: &str) -> PathBuf {
        self.logs().join("workers").join(format!("{worker_id}.log"))
    }
}

impl AsRef<Path> for StateDir {
    fn as_ref(&self) -> &Path {
        &self.root
    }
}

impl From<PathBuf> for StateDir {
    fn from(root: PathBuf) -> Self {
        Self::new(root)
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_state_dir_is_private_whether_created_or_found() {
        use std::os::unix::fs::PermissionsExt;
        let base = std::env::temp_dir().join(format!("esb-state-private-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let made = base.join("new/.esb");
        create_private(&made).expect("create");
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&made), 0o700);
        let found = base.join("found");
        std::fs::create_dir_all(&found).expect("mkdir");
        std::fs::set_permissions(&found, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        create_private(&found).expect("tighten");
        assert_eq!(mode(&found), 0o700);
        let _ = std::fs::remove_dir_all(&base);
    }

    use super::*;

    /// The layout is a contract with earlier boxes' state dirs: a box must find what a
    /// previous version left (queued events, credentials, certificates).
    #[test]
    fn layout_is_stable() {
        let s = StateDir::new("/s");
        let p = |x: PathBuf| x.display().to_string();
        assert_eq!(DEFAULT_NAME, ".esb");
        assert_eq!(p(s.box_json()), "/s/box.json");
        assert_eq!(p(s.box_pid()), "/s/box.pid");
        assert_eq!(p(s.box_id()), "/s/box-id");
        assert_eq!(p(s.credentials()), "/s/credentials");
        assert_eq!(p(s.certs()), "/s/certs");
        assert_eq!(p(s.async_events()), "/s/async");
        assert_eq!(p(s.agent_workers()), "/s/agent/workers");
        assert_eq!(p(s.s3()), "/s/s3");
        assert_eq!(p(s.dynamodb()), "/s/dynamodb");
        assert_eq!(
            p(s.dynamodb_stream_checkpoints()),
            "/s/dynamodb/stream-checkpoints"
        );
        assert_eq!(p(s.sqs()), "/s/sqs");
        assert_eq!(p(s.schedules()), "/s/schedules");
        assert_eq!(p(s.python_runtime()), "/s/runtimes/python");
        assert_eq!(p(s.box_log()), "/s/logs/box.log");
        assert_eq!(p(s.access_log()), "/s/logs/access.log");
        assert_eq!(p(s.log_store()), "/s/logs/store");
        assert_eq!(p(s.cloudwatch_logs()), "/s/logs/cloudwatch");
        assert_eq!(p(s.log_spool()), "/s/logs/spool");
        assert_eq!(p(s.box_log_spool("1")), "/s/logs/spool/box-1");
        assert_eq!(p(s.worker_log_spool("w1")), "/s/logs/spool/w1");
        assert_eq!(p(s.external_log_spool()), "/s/logs/external-spool");
        assert_eq!(p(s.external_box_log_spool()), "/s/logs/external-spool/box");
        assert_eq!(p(s.worker_log("w1")), "/s/logs/workers/w1.log");
    }
}
