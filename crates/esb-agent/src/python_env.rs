//! The Python runtime environment ESB prepares itself: a venv under the state dir with
//! AWS's runtime interface client (`awslambdaric`) and `boto3`, as Lambda's Python
//! images provide them.

use std::path::PathBuf;

use esb_state::StateDir;
use tokio::process::Command;
use tokio::sync::Mutex;

pub const AWSLAMBDARIC: &str = "awslambdaric==4.2.2";
pub const BOTO3: &str = "boto3==1.40.45";

#[derive(Debug, thiserror::Error)]
pub enum PythonEnvError {
    #[error("cannot prepare the Python runtime in {dir}: `{command}` failed: {detail}")]
    Command {
        dir: PathBuf,
        command: String,
        detail: String,
    },
}

/// Prepared once per state dir; concurrent callers wait for the first.
#[derive(Debug)]
pub struct PythonEnv {
    dir: PathBuf,
    ready: Mutex<bool>,
}

impl PythonEnv {
    pub fn new(state_dir: &StateDir) -> Self {
        Self {
            dir: state_dir.python_runtime(),
            ready: Mutex::new(false),
        }
    }

    pub fn python(&self) -> PathBuf {
        self.dir.join("bin").join("python")
    }

    /// Creates the venv and installs the runtime client unless already there.
    pub async fn ensure(&self) -> Result<PathBuf, PythonEnvError> {
        let mut ready = self.ready.lock().await;
        if *ready {
            return Ok(self.python());
        }
        let check = Command::new(self.python())
            .args(["-c", "import awslambdaric, boto3"])
            .output()
            .await;
        if !check.is_ok_and(|o| o.status.success()) {
            tracing::info!("preparing the Python runtime in {}", self.dir.display());
            self.run("python3", &["-m", "venv", &self.dir.display().to_string()])
                .await?;
            let pip = self.dir.join("bin").join("pip").display().to_string();
            self.run(
                &pip,
                &[
                    "install",
                    "-q",
                    "--disable-pip-version-check",
                    AWSLAMBDARIC,
                    BOTO3,
                ],
            )
            .await?;
        }
        *ready = true;
        Ok(self.python())
    }

    /// The environment's Python version (`3.11`): the host's, whatever version a
    /// function's runtime names.
    pub async fn version(&self) -> Result<String, PythonEnvError> {
        let python = self.ensure().await?.display().to_string();
        let out = self
            .output(
                &python,
                &["-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            )
            .await?;
        Ok(String::from_utf8_lossy(&out).trim().to_string())
    }

    async fn run(&self, program: &str, args: &[&str]) -> Result<(), PythonEnvError> {
        self.output(program, args).await.map(drop)
    }

    /// Runs `program`; its stdout when it succeeds.
    async fn output(&self, program: &str, args: &[&str]) -> Result<Vec<u8>, PythonEnvError> {
        let command = format!("{program} {}", args.join(" "));
        let err = |detail: String| PythonEnvError::Command {
            dir: self.dir.clone(),
            command: command.clone(),
            detail,
        };
        let out = Command::new(program)
            .args(args)
            .output()
            .await
            .map_err(|e| err(e.to_string()))?;
        if out.status.success() {
            Ok(out.stdout)
        } else {
            Err(err(String::from_utf8_lossy(&out.stderr).trim().to_string()))
        }
    }
}
