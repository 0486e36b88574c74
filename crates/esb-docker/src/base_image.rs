//! The image a function image starts from. Python functions need an interpreter with
//! AWS's runtime client: ESB's own `esb/base:python3.X` (imported from a root
//! filesystem, so no registry is needed), else an AWS Lambda base image someone
//! loaded or can pull. `provided*` functions bring their own executable: `scratch`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bollard::Docker;
use bollard::query_parameters::{BuildImageOptionsBuilder, CreateImageOptionsBuilder};
use futures_util::StreamExt;
use tokio::sync::Mutex;

use crate::build_context::stream_tar;
use crate::daemon;
use crate::error::ImageError;
use crate::labels;
use crate::pip;
use crate::progress::{Progress, Task};
use crate::source_tree::{off_thread, walk};
use crate::tar_entries::{append_entry, header};

/// The runtime client and SDK ESB puts in its Python base images (the versions the
/// process runtime installs, so both runtimes behave alike).
pub const AWSLAMBDARIC: &str = "awslambdaric==4.2.2";
pub const BOTO3: &str = "boto3==1.40.45";

/// Where AWS's Lambda images keep Python (they carry no `esb.python` label).
pub const AWS_PYTHON: &str = "/var/lang/bin/python3";

const SCRATCH: &str = "scratch";

/// A resolved base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base {
    /// The name it was found by.
    pub name: String,
    /// The image id (`scratch` for scratch), recorded in the `esb.base-id` label.
    pub id: String,
    /// The interpreter that runs `awslambdaric`, for Python bases.
    pub python: Option<String>,
}

impl Base {
    /// What `FROM` says: the id, so the image is built on exactly the base its
    /// `esb.base-id` label names even if the name moves meanwhile.
    pub fn from(&self) -> &str {
        &self.id
    }
}

/// `3.11` for `python3.11`.
pub fn python_version(runtime: &str) -> Option<&str> {
    runtime.strip_prefix("python").filter(|v| {
        v.starts_with("3.") && v.len() > 2 && v[2..].bytes().all(|b| b.is_ascii_digit())
    })
}

pub fn is_provided(runtime: &str) -> bool {
    runtime == "provided" || runtime.starts_with("provided.")
}

/// ESB's base image name for a Python runtime.
pub fn esb_base_name(runtime: &str) -> String {
    format!("esb/base:{runtime}")
}

/// The base a runtime's images are named after in their content hash (the one
/// actually used is in the `esb.base-id` label).
pub fn nominal_base(runtime: &str) -> Result<String, ImageError> {
    if is_provided(runtime) {
        Ok(SCRATCH.to_string())
    } else if python_version(runtime).is_some() {
        Ok(esb_base_name(runtime))
    } else {
        Err(ImageError::UnsupportedRuntime(runtime.to_string()))
    }
}

fn aws_base_name(version: &str) -> String {
    format!("public.ecr.aws/lambda/python:{version}")
}

/// Finds the base of `runtime`'s images: local `esb/base:python3.X`, local AWS image,
/// a pull of the AWS image, or an error saying how to make one.
pub async fn resolve(docker: &Docker, runtime: &str, task: &Task) -> Result<Base, ImageError> {
    if is_provided(runtime) {
        return Ok(Base {
            name: SCRATCH.into(),
            id: SCRATCH.into(),
            python: None,
        });
    }
    let version =
        python_version(runtime).ok_or_else(|| ImageError::UnsupportedRuntime(runtime.into()))?;
    let esb = esb_base_name(runtime);
    let aws = aws_base_name(version);
    for name in [&esb, &aws] {
        if let Some(image) = daemon::image_if_exists(docker, name).await? {
            return Ok(base_from(name, image));
        }
    }
    task.step(&format!("pulling {aws}"));
    let (repo, tag) = crate::reference::split(&aws)?;
    let options = CreateImageOptionsBuilder::default()
        .from_image(repo)
        .tag(tag)
        .build();
    let mut pull = docker.create_image(Some(options), None, None);
    let mut failure = None;
    while let Some(item) = pull.next().await {
        if let Err(e) = item {
            failure = Some(e.to_string());
            break;
        }
    }
    match failure {
        None => match daemon::image_if_exists(docker, &aws).await? {
            Some(image) => Ok(base_from(&aws, image)),
            None => Err(no_base(
                runtime,
                version,
                "the pull reported no image".into(),
            )),
        },
        Some(detail) => Err(no_base(runtime, version, detail)),
    }
}

fn no_base(runtime: &str, version: &str, detail: String) -> ImageError {
    tracing::debug!("pulling the AWS base image failed: {detail}");
    ImageError::NoBaseImage {
        runtime: runtime.into(),
        version: version.into(),
        suite: debootstrap_suite(version).into(),
    }
}

/// Where debootstrap finds a given python3 as the distribution's own.
fn debootstrap_suite(version: &str) -> &'static str {
    match version {
        "3.9" => "bullseye",
        "3.10" => "jammy http://archive.ubuntu.com/ubuntu",
        "3.11" => "bookworm",
        "3.12" => "noble http://archive.ubuntu.com/ubuntu",
        "3.13" => "trixie",
        _ => "SUITE_WITH_THAT_PYTHON",
    }
}

fn base_from(name: &str, image: bollard::models::ImageInspect) -> Base {
    let python = image
        .config
        .as_ref()
        .and_then(|c| c.labels.as_ref())
        .and_then(|l| l.get(labels::PYTHON).cloned())
        .unwrap_or_else(|| AWS_PYTHON.to_string());
    Base {
        name: name.to_string(),
        id: image.id.unwrap_or_default(),
        python: Some(python),
    }
}

/// Bases resolved once per runtime for a batch of builds (failures are not kept: each
/// function reports its own).
#[derive(Debug, Default)]
pub struct BaseCache {
    resolved: Mutex<HashMap<String, Base>>,
}

impl BaseCache {
    pub async fn get(
        &self,
        docker: &Docker,
        runtime: &str,
        task: &Task,
    ) -> Result<Base, ImageError> {
        let mut resolved = self.resolved.lock().await;
        if let Some(base) = resolved.get(runtime) {
            return Ok(base.clone());
        }
        let base = resolve(docker, runtime, task).await?;
        resolved.insert(runtime.to_string(), base.clone());
        Ok(base)
    }
}

/// Makes `esb/base:python3.X` from a Debian root filesystem: imports it as
/// `esb/rootfs:python3.X`, then adds AWS's runtime client and boto3 (installed with the
/// host's pip) in `/var/runtime`, compiled by the image's own Python. Running it again
/// replaces both images; function images notice the new base id and rebuild.
pub async fn import_base(
    docker: &Docker,
    runtime: &str,
    rootfs: &Path,
    progress: &Progress,
) -> Result<String, ImageError> {
    let task = progress.task(&format!("base {runtime}"));
    let result = import_base_inner(docker, runtime, rootfs, &task).await;
    match &result {
        Ok(name) => task.finish(&format!(
            "{name} ready in {:.1} s",
            task.elapsed().as_secs_f64()
        )),
        // The error itself goes back to the caller.
        Err(_) => task.fail("failed"),
    }
    result
}

async fn import_base_inner(
    docker: &Docker,
    runtime: &str,
    rootfs: &Path,
    task: &Task,
) -> Result<String, ImageError> {
    let version = python_version(runtime).ok_or_else(|| ImageError::Rootfs {
        rootfs: rootfs.to_path_buf(),
        runtime: runtime.into(),
        detail: "base images are made for python3.x runtimes only (provided* needs none)".into(),
    })?;
    let python = format!("/usr/bin/python{version}");
    check_rootfs(rootfs, runtime, version)?;

    let rootfs_name = format!("esb/rootfs:{runtime}");
    let base_name = esb_base_name(runtime);
    task.step(&format!("reading {}", rootfs.display()));
    let source = {
        let dir = rootfs.to_path_buf();
        off_thread(rootfs, move || source_digest(&dir)).await?
    };
    let old = daemon::image_if_exists(docker, &base_name).await?;
    let made_from = old
        .as_ref()
        .and_then(|i| i.config.as_ref())
        .and_then(|c| c.labels.as_ref())
        .and_then(|l| l.get(labels::SOURCE));
    if made_from == Some(&source) {
        task.step("up to date: made from this root filesystem already");
        return Ok(base_name);
    }
    let old_base = old.and_then(|i| i.id);
    let old_rootfs = daemon::image_if_exists(docker, &rootfs_name)
        .await?
        .and_then(|i| i.id);

    task.step(&format!("importing {}", rootfs.display()));
    let rootfs_id = import_rootfs(docker, rootfs, &rootfs_name).await?;

    task.step(&format!(
        "installing {AWSLAMBDARIC} {BOTO3} with the host's pip"
    ));
    let context = tempfile::tempdir().map_err(|source| ImageError::Write {
        path: std::env::temp_dir(),
        source,
    })?;
    let runtime_dir = context.path().join("runtime");
    pip::install_wheels(&[AWSLAMBDARIC, BOTO3], &runtime_dir, version, None).await?;

    task.step(&format!("building {base_name}"));
    let dockerfile = format!(
        "FROM {rootfs_id}\n\
         COPY runtime/ /var/runtime/\n\
         RUN [{py}, \"-c\", \"import compileall; compileall.compile_dir('/var/runtime', quiet=1)\"]\n\
         ENV PYTHONPATH=/var/runtime\n",
        py = serde_json::Value::from(python.clone()),
    );
    let tree = {
        let dir = runtime_dir.clone();
        off_thread(&runtime_dir, move || walk(&dir)).await?
    };
    let body = stream_tar(move |tar| {
        let mut h = header(tar::EntryType::Regular, 0o644, dockerfile.len() as u64, 0);
        tar.append_data(&mut h, "Dockerfile", dockerfile.as_bytes())?;
        let mut h = header(tar::EntryType::Directory, 0o755, 0, 0);
        tar.append_data(&mut h, "runtime", std::io::empty())?;
        for (rel, entry) in &tree {
            let path = Path::new("runtime").join(rel);
            append_entry(tar, &path, entry)?;
        }
        Ok(())
    });
    let options = BuildImageOptionsBuilder::default()
        .dockerfile("Dockerfile")
        .t(&base_name)
        .rm(true)
        .forcerm(true)
        .labels(&HashMap::from([
            (labels::MANAGED, "true"),
            (labels::PYTHON, python.as_str()),
            (labels::SOURCE, source.as_str()),
        ]))
        .build();
    let id = daemon::build(docker, options, body, &base_name, task).await?;
    drop(context);

    // The replaced images go when nothing (a container, a function image) needs them.
    for old in [old_base, old_rootfs].into_iter().flatten() {
        if old != id {
            daemon::remove_if_unused(docker, &old).await;
        }
    }
    Ok(base_name)
}

/// What a base is made from, cheaply: every path of the root filesystem with its kind,
/// size, mode and mtime (not the bytes: 300 MB), and the runtime client versions.
fn source_digest(rootfs: &Path) -> Result<String, ImageError> {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    hash.update(format!("{AWSLAMBDARIC}\n{BOTO3}\n"));
    for (path, entry) in walk(rootfs)? {
        hash.update(format!(
            "{}\0{:o}\0{}\0{:?}\n",
            path.display(),
            entry.mode,
            entry.mtime,
            entry.kind
        ));
    }
    Ok(hash
        .finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// The root filesystem must hold the runtime's interpreter.
fn check_rootfs(rootfs: &Path, runtime: &str, version: &str) -> Result<(), ImageError> {
    let fail = |detail: String| ImageError::Rootfs {
        rootfs: rootfs.to_path_buf(),
        runtime: runtime.into(),
        detail,
    };
    if !rootfs.is_dir() {
        return Err(fail("no such directory".into()));
    }
    let bin = rootfs.join("usr/bin");
    let wanted = format!("python{version}");
    if bin.join(&wanted).symlink_metadata().is_ok() {
        return Ok(());
    }
    let mut found: Vec<String> = std::fs::read_dir(&bin)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            n.strip_prefix("python3.")
                .is_some_and(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()))
        })
        .collect();
    found.sort();
    let seen = if found.is_empty() {
        "no python3.x at all (debootstrap --include=python3-minimal)".to_string()
    } else {
        format!("it has {}", found.join(", "))
    };
    Err(fail(format!("usr/bin/{wanted} is missing; {seen}")))
}

/// `docker import`: the directory as a one-layer image.
async fn import_rootfs(docker: &Docker, rootfs: &Path, name: &str) -> Result<String, ImageError> {
    let (repo, tag) = crate::reference::split(name)?;
    let dir: PathBuf = rootfs.to_path_buf();
    let body = stream_tar(move |tar| tar.append_dir_all(".", &dir));
    let options = CreateImageOptionsBuilder::default()
        .from_src("-")
        .repo(repo)
        .tag(tag)
        .message("esb image base")
        .build();
    let body = bollard::body_try_stream(body);
    let mut stream = docker.create_image(Some(options), Some(body), None);
    while let Some(item) = stream.next().await {
        item.map_err(ImageError::docker(format!(
            "import {} as {name}",
            rootfs.display()
        )))?;
    }
    match daemon::image_if_exists(docker, name)
        .await?
        .and_then(|i| i.id)
    {
        Some(id) => Ok(id),
        None => Err(ImageError::Build {
            reference: name.into(),
            detail: "the daemon imported no image".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtimes_map_to_bases() {
        assert_eq!(python_version("python3.11"), Some("3.11"));
        assert_eq!(python_version("python3."), None);
        assert_eq!(python_version("python2.7"), None);
        assert_eq!(nominal_base("provided.al2023").expect("ok"), "scratch");
        assert_eq!(
            nominal_base("python3.12").expect("ok"),
            "esb/base:python3.12"
        );
        assert!(nominal_base("nodejs20.x").is_err());
    }

    #[test]
    fn the_missing_base_error_says_how_to_make_one() {
        let text = no_base("python3.11", "3.11", String::new()).to_string();
        assert!(
            text.contains(
                "run `esb image base --runtime python3.11 --rootfs DIR` (DIR from `debootstrap \
                 --variant=minbase --include=python3-minimal,python3-pip bookworm DIR`) or load \
                 public.ecr.aws/lambda/python:3.11"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_rootfs_with_another_python_says_which() {
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(tmp.path().join("usr/bin")).expect("mkdir");
        std::fs::write(tmp.path().join("usr/bin/python3.12"), "").expect("write");
        let err = check_rootfs(tmp.path(), "python3.11", "3.11").expect_err("wrong python");
        let text = err.to_string();
        assert!(text.contains("usr/bin/python3.11 is missing"), "{text}");
        assert!(text.contains("python3.12"), "{text}");
    }
}
