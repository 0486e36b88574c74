//! The tests' harness: the SQS front on 127.0.0.1:0 (in this process, or as a child
//! process that a test may kill), with a known key pair, and boto3 scripts run
//! against it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub const KEY: &str = "AKIAESBSQSTEST000000";
pub const SECRET: &str = "sqs-test-secret";
/// The test venv scripts/test-deps.sh makes (boto3 among it).
pub const PYTHON: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../.esb-test/venv/bin/python"
);

/// The front served in this process; stops when dropped.
pub struct Front {
    pub endpoint: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl Front {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let sqs = esb_sqs::Sqs::open(esb_sqs::SqsConfig {
            dir: dir.path().to_path_buf(),
            region: "us-east-1".into(),
            account: "000000000000".into(),
        })
        .unwrap();
        let credentials = esb_auth::BoxCredentials {
            access_key_id: KEY.into(),
            secret_access_key: SECRET.into(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let front = esb_sqs::SqsFront::new(sqs, credentials, None);
        tokio::spawn(esb_sqs::serve(
            listener,
            None,
            esb_listener::Limits::default(),
            front,
            async {
                let _ = rx.await;
            },
        ));
        Self {
            endpoint,
            stop: Some(tx),
            _dir: dir,
        }
    }

    /// Runs `script` (after the shared preamble) with boto3; its stdout.
    pub async fn python(&self, script: &str) -> String {
        let endpoint = self.endpoint.clone();
        let script = script.to_string();
        tokio::task::spawn_blocking(move || python(&endpoint, &script))
            .await
            .unwrap()
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// Runs a boto3 script against `endpoint`; panics with its output if it fails.
pub fn python(endpoint: &str, script: &str) -> String {
    let preamble = include_str!("preamble.py");
    let out = Command::new(PYTHON)
        .arg("-c")
        .arg(format!("{preamble}\n{script}"))
        .env("SQS_ENDPOINT", endpoint)
        .env("AWS_ACCESS_KEY_ID", KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "python failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The `serve` example: `cargo test` builds it beside this test binary (and this
/// builds it when only this test target was built).
pub fn serve_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let debug = exe.parent().unwrap().parent().unwrap();
    let path = debug.join("examples").join("serve");
    if !path.exists() {
        let status = Command::new(option_env!("CARGO").unwrap_or("cargo"))
            .args(["build", "-p", "esb-sqs", "--example", "serve"])
            .status()
            .unwrap();
        assert!(status.success(), "cannot build the serve example");
    }
    path
}

/// The service as a child process on `dir`.
pub struct ServeProcess {
    pub child: Child,
    pub endpoint: String,
}

pub fn spawn_serve(dir: &Path) -> ServeProcess {
    use std::io::BufRead;
    let mut child = Command::new(serve_binary())
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the serve example is built by cargo test");
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .unwrap();
    let addr = line.trim().strip_prefix("listening ").unwrap().to_string();
    ServeProcess {
        child,
        endpoint: format!("http://{addr}"),
    }
}
