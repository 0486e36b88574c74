//! The one error type of ESB's image work: each variant says what ESB was doing and,
//! where there is one, what the user can do about it.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("Docker cannot {action}: {source}")]
    Docker {
        action: String,
        source: bollard::errors::Error,
    },
    #[error("building {reference} failed: {detail}")]
    Build { reference: String, detail: String },
    #[error("runtime {0} cannot run in a container image (ESB builds python3.x and provided*)")]
    UnsupportedRuntime(String),
    #[error("function {function} ({runtime}) has no Handler")]
    MissingHandler { function: String, runtime: String },
    #[error(
        "function {function} has no bootstrap in {}: a provided runtime starts /var/task/bootstrap",
        code_dir.display()
    )]
    NoBootstrap { function: String, code_dir: PathBuf },
    #[error(
        "no base image for {runtime}: run `esb image base --runtime {runtime} --rootfs DIR` \
(DIR from `debootstrap --variant=minbase --include=python3-minimal,python3-pip {suite} DIR`) \
or load public.ecr.aws/lambda/python:{version}{}",
        stand_in_hint(runtime, nearest.as_deref())
    )]
    NoBaseImage {
        runtime: String,
        version: String,
        /// A Debian/Ubuntu release whose python3 is that version.
        suite: String,
        /// The base `--nearest-python-base` would run it on, when the daemon has one.
        nearest: Option<String>,
    },
    #[error("{} is not a {runtime} root filesystem: {detail}", rootfs.display())]
    Rootfs {
        rootfs: PathBuf,
        runtime: String,
        detail: String,
    },
    #[error("`{command}` failed: {detail}")]
    Pip { command: String, detail: String },
    #[error(
        "{} is dynamically linked; function images need the static esb binary (the \
repository's .cargo/config.toml links it with crt-static)",
        path.display()
    )]
    DynamicBinary { path: PathBuf },
    #[error("{0} is not an image reference (expected NAME:TAG)")]
    BadReference(String),
    #[error("{action} failed: {detail}")]
    Registry { action: String, detail: String },
}

/// The way out that needs no new base: said only when there is a base to stand in.
fn stand_in_hint(runtime: &str, nearest: Option<&str>) -> String {
    match nearest {
        Some(base) => format!(
            "; or, to run {runtime} functions on {base} (another Python version), \
             --nearest-python-base (ESB_NEAREST_PYTHON_BASE=true, or \
             `nearest-python-base = true` in esb.toml)"
        ),
        None => String::new(),
    }
}

impl ImageError {
    /// Wraps a daemon error with what ESB asked the daemon to do.
    pub(crate) fn docker(action: impl Into<String>) -> impl FnOnce(bollard::errors::Error) -> Self {
        let action = action.into();
        move |source| ImageError::Docker { action, source }
    }
}
