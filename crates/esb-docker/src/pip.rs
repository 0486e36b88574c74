//! Python dependencies installed with the host's pip into a directory that is then
//! copied into the image, as `sam build` does: no network or compiler needed inside
//! the image, and pip's cache on the host makes rebuilds fast. Wheels are asked for the
//! image's Python and Lambda's platform (manylinux2014), not the host's. No `.pyc`:
//! they would be the host Python's (and `__pycache__` is never packed anyway).

use std::path::Path;
use std::process::Stdio;

use tokio::process::Command;

use crate::error::ImageError;
use crate::progress::Task;

/// Overrides the pip command (`/path/to/pip`, or `python3.12 -m pip`).
pub const PIP_ENV: &str = "ESB_PIP";

/// The platform tag wheels are chosen for.
fn platform() -> String {
    format!("manylinux2014_{}", std::env::consts::ARCH)
}

fn pip_command() -> Vec<String> {
    std::env::var(PIP_ENV)
        .ok()
        .map(|p| p.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| vec!["python3".into(), "-m".into(), "pip".into()])
}

/// Installs `what` (package specs, or `-r FILE`) into `target` as binary wheels for
/// CPython `python_version` ("3.11") on Lambda's platform.
pub async fn install_wheels(
    what: &[&str],
    target: &Path,
    python_version: &str,
    cwd: Option<&Path>,
) -> Result<(), ImageError> {
    let platform = platform();
    let mut args = vec![
        "install",
        "--no-compile",
        "--target",
        path_str(target)?,
        "--platform",
        &platform,
        "--implementation",
        "cp",
        "--python-version",
        python_version,
        "--only-binary=:all:",
    ];
    args.extend_from_slice(what);
    run(&args, cwd).await
}

/// A function's `requirements.txt` into `target`: wheels for the image's Python first;
/// when some requirement has no such wheel (a pure-Python sdist), again without the
/// platform pins, which builds sdists with the host's Python.
pub async fn install_requirements(
    requirements: &Path,
    target: &Path,
    python_version: &str,
    task: &Task,
) -> Result<(), ImageError> {
    let cwd = requirements.parent();
    let req = path_str(requirements)?;
    let first = install_wheels(&["-r", req], target, python_version, cwd).await;
    let Err(first) = first else { return Ok(()) };
    tracing::debug!("wheel-only install failed: {first}");
    task.step("some requirements have no manylinux wheel: installing them with the host's pip");
    reset_dir(target)?;
    let args = [
        "install",
        "--no-compile",
        "--target",
        path_str(target)?,
        "-r",
        req,
    ];
    run(&args, cwd).await.map_err(|second| match second {
        ImageError::Pip { command, detail } => ImageError::Pip {
            command,
            detail: format!("{detail} (with wheels only for python{python_version}: {first})"),
        },
        other => other,
    })
}

fn reset_dir(dir: &Path) -> Result<(), ImageError> {
    let write_err = |source| ImageError::Write {
        path: dir.to_path_buf(),
        source,
    };
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(write_err)?;
    }
    std::fs::create_dir_all(dir).map_err(write_err)
}

fn path_str(p: &Path) -> Result<&str, ImageError> {
    p.to_str().ok_or_else(|| ImageError::Pip {
        command: "pip".into(),
        detail: format!("{} is not UTF-8", p.display()),
    })
}

async fn run(args: &[&str], cwd: Option<&Path>) -> Result<(), ImageError> {
    let pip = pip_command();
    let command = format!("{} {}", pip.join(" "), args.join(" "));
    let err = |detail: String| ImageError::Pip {
        command: command.clone(),
        detail,
    };
    let (program, pre) = pip
        .split_first()
        .ok_or_else(|| err("no pip command".into()))?;
    let mut cmd = Command::new(program);
    cmd.args(pre)
        .args(args)
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .env("PIP_ROOT_USER_ACTION", "ignore")
        .env("PIP_NO_INPUT", "1")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let out = cmd.output().await.map_err(|e| {
        err(format!(
            "cannot run {program}: {e} (install python3-pip, or set {PIP_ENV})"
        ))
    })?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let text = if stderr.trim().is_empty() {
        String::from_utf8_lossy(&out.stdout).into_owned()
    } else {
        stderr.into_owned()
    };
    // pip's useful part is its last lines ("ERROR: ..."), not its warnings.
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(6)..].join(" | ");
    Err(err(format!("{} ({tail})", out.status)))
}
