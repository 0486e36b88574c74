//! The image a function image starts from. Python functions need an interpreter with
//! AWS's runtime client: ESB's own `esb/base:python3.X` (imported from a root
//! filesystem, so no registry is needed), else an AWS Lambda base image someone
//! loaded or can pull. `provided*` functions bring their own executable: `scratch`.
//!
//! A Python runtime without a base is refused unless the user asked for a stand-in
//! ([`BasePolicy::NearestPython`]): then the nearest Python base the daemon has runs
//! it, and the build says so ([`StandIn`]), because the code then runs on another
//! Python than the template names.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bollard::Docker;
use bollard::query_parameters::{
    BuildImageOptionsBuilder, CreateImageOptionsBuilder, ListImagesOptions,
};
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

/// What a Python function runs on when its own Python version has no base image.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum BasePolicy {
    /// Nothing else: the build fails, saying how to make the base (the default, so no
    /// function silently runs on another Python than its template names).
    #[default]
    Exact,
    /// The nearest Python base the daemon has (`--nearest-python-base`): the highest
    /// version below the wanted one, else the lowest above it. Never another language.
    NearestPython,
}

/// A resolved base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base {
    /// The name it was found by.
    pub name: String,
    /// The image id (`scratch` for scratch), recorded in the `esb.base-id` label.
    pub id: String,
    /// The interpreter that runs `awslambdaric`, for Python bases.
    pub python: Option<String>,
    /// Its Python version (`3.11`), for Python bases: wheels are chosen for it.
    pub python_version: Option<String>,
}

impl Base {
    /// What `FROM` says: the id, so the image is built on exactly the base its
    /// `esb.base-id` label names even if the name moves meanwhile.
    pub fn from(&self) -> &str {
        &self.id
    }

    /// How this base differs from what `runtime` asks for, when it is another Python's.
    pub fn stand_in_for(&self, runtime: &str) -> Option<StandIn> {
        let wanted = python_version(runtime)?;
        let got = self.python_version.as_deref()?;
        (wanted != got).then(|| StandIn {
            runtime: runtime.to_string(),
            base: self.name.clone(),
            python_version: got.to_string(),
        })
    }
}

/// A Python function built on another Python version's base
/// ([`BasePolicy::NearestPython`]): what the warnings and `esb status` say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandIn {
    /// The runtime the template names (`python3.12`).
    pub runtime: String,
    /// The base it runs on instead (`esb/base:python3.11`).
    pub base: String,
    /// That base's Python version (`3.11`).
    pub python_version: String,
}

impl StandIn {
    /// `python3.11`: the runtime the base really is.
    pub fn base_runtime(&self) -> String {
        format!("python{}", self.python_version)
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

/// Where AWS publishes its Python Lambda images.
const AWS_PYTHON_REPOSITORY: &str = "public.ecr.aws/lambda/python";

fn aws_base_name(version: &str) -> String {
    format!("{AWS_PYTHON_REPOSITORY}:{version}")
}

/// Finds the base of `runtime`'s images: local `esb/base:python3.X`, local AWS image,
/// a pull of the AWS image; then, when `policy` allows it, the nearest Python base
/// present; else an error saying how to make one.
pub async fn resolve(
    docker: &Docker,
    runtime: &str,
    policy: BasePolicy,
    task: &Task,
) -> Result<Base, ImageError> {
    if is_provided(runtime) {
        return Ok(Base {
            name: SCRATCH.into(),
            id: SCRATCH.into(),
            python: None,
            python_version: None,
        });
    }
    let version =
        python_version(runtime).ok_or_else(|| ImageError::UnsupportedRuntime(runtime.into()))?;
    let esb = esb_base_name(runtime);
    let aws = aws_base_name(version);
    for name in [&esb, &aws] {
        if let Some(image) = daemon::image_if_exists(docker, name).await? {
            return Ok(base_from(name, image, version));
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
    let detail = match failure {
        None => match daemon::image_if_exists(docker, &aws).await? {
            Some(image) => return Ok(base_from(&aws, image, version)),
            None => "the pull reported no image".to_string(),
        },
        Some(detail) => detail,
    };
    tracing::debug!("pulling the AWS base image failed: {detail}");
    let nearest = nearest_present(docker, version).await?;
    match nearest {
        Some((name, image, got)) if policy == BasePolicy::NearestPython => {
            Ok(base_from(&name, image, &got))
        }
        _ => Err(no_base(runtime, version, nearest.map(|(name, _, _)| name))),
    }
}

fn no_base(runtime: &str, version: &str, nearest: Option<String>) -> ImageError {
    ImageError::NoBaseImage {
        runtime: runtime.into(),
        version: version.into(),
        suite: debootstrap_suite(version).into(),
        nearest,
    }
}

/// The Python base the daemon has nearest to version `wanted` (by [`nearest_python`];
/// ESB's own before AWS's of the same version), with its version.
async fn nearest_present(
    docker: &Docker,
    wanted: &str,
) -> Result<Option<(String, bollard::models::ImageInspect, String)>, ImageError> {
    let options = ListImagesOptions {
        filters: Some(HashMap::from([(
            "reference".to_string(),
            vec!["esb/base".to_string(), AWS_PYTHON_REPOSITORY.to_string()],
        )])),
        ..ListImagesOptions::default()
    };
    let images = docker
        .list_images(Some(options))
        .await
        .map_err(ImageError::docker("list the Python base images"))?;
    let present: Vec<(&str, &String)> = images
        .iter()
        .flat_map(|i| &i.repo_tags)
        .filter_map(|name| Some((base_version(name)?, name)))
        .collect();
    let versions: Vec<&str> = present.iter().map(|(v, _)| *v).collect();
    let Some(got) = nearest_python(wanted, &versions) else {
        return Ok(None);
    };
    let mut names: Vec<&String> = present
        .iter()
        .filter(|(v, _)| *v == got)
        .map(|(_, name)| *name)
        .collect();
    // `esb/...` sorts before `public.ecr.aws/...`: ESB's own base first.
    names.sort();
    for name in names {
        if let Some(image) = daemon::image_if_exists(docker, name).await? {
            return Ok(Some((name.clone(), image, got)));
        }
    }
    Ok(None)
}

/// The Python version of a base image's name: `esb/base:python3.11` or
/// `public.ecr.aws/lambda/python:3.11` (not AWS's other tags, `3.11-x86_64`...).
fn base_version(name: &str) -> Option<&str> {
    if let Some(runtime) = name.strip_prefix("esb/base:") {
        return python_version(runtime);
    }
    let tag = name
        .strip_prefix(AWS_PYTHON_REPOSITORY)?
        .strip_prefix(':')?;
    let version = tag.strip_prefix("3.")?;
    (!version.is_empty() && version.bytes().all(|b| b.is_ascii_digit())).then_some(tag)
}

/// Which of the `present` Python versions (`3.11`) stands in for `wanted`: the highest
/// not above it, else the lowest above it. Below first: code written for a Python
/// runs on an older one unless it uses that version's newest syntax or library, while
/// a newer one may have dropped modules it imports, and requirements pinned for the
/// wanted version more often have wheels for older Pythons than for newer ones.
pub fn nearest_python(wanted: &str, present: &[&str]) -> Option<String> {
    let minor = |v: &str| v.strip_prefix("3.")?.parse::<u32>().ok();
    let wanted = minor(wanted)?;
    let mut minors: Vec<u32> = present.iter().filter_map(|v| minor(v)).collect();
    minors.sort_unstable();
    minors.dedup();
    let below = minors.iter().rev().find(|m| **m <= wanted);
    let above = minors.iter().find(|m| **m > wanted);
    below.or(above).map(|m| format!("3.{m}"))
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

fn base_from(name: &str, image: bollard::models::ImageInspect, version: &str) -> Base {
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
        python_version: Some(version.to_string()),
    }
}

/// Bases resolved once per runtime and policy for a batch of builds (failures are not
/// kept: each function reports its own).
#[derive(Debug, Default)]
pub struct BaseCache {
    resolved: Mutex<HashMap<(String, BasePolicy), Base>>,
}

impl BaseCache {
    pub async fn get(
        &self,
        docker: &Docker,
        runtime: &str,
        policy: BasePolicy,
        task: &Task,
    ) -> Result<Base, ImageError> {
        let mut resolved = self.resolved.lock().await;
        let key = (runtime.to_string(), policy);
        if let Some(base) = resolved.get(&key) {
            return Ok(base.clone());
        }
        let base = resolve(docker, runtime, policy, task).await?;
        resolved.insert(key, base.clone());
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
        let text = no_base("python3.11", "3.11", None).to_string();
        assert!(
            text.contains(
                "run `esb image base --runtime python3.11 --rootfs DIR` (DIR from `debootstrap \
                 --variant=minbase --include=python3-minimal,python3-pip bookworm DIR`) or load \
                 public.ecr.aws/lambda/python:3.11"
            ),
            "{text}"
        );
        assert!(!text.contains("nearest"), "no stand-in to offer: {text}");
        let text = no_base("python3.12", "3.12", Some("esb/base:python3.11".into())).to_string();
        assert!(
            text.contains(
                "run `esb image base --runtime python3.12 --rootfs DIR` (DIR from `debootstrap \
                 --variant=minbase --include=python3-minimal,python3-pip noble \
                 http://archive.ubuntu.com/ubuntu DIR`)"
            ),
            "{text}"
        );
        assert!(
            text.ends_with(
                "or, to run python3.12 functions on esb/base:python3.11 (another Python \
                 version), --nearest-python-base (ESB_NEAREST_PYTHON_BASE=true, or \
                 `nearest-python-base = true` in esb.toml)"
            ),
            "{text}"
        );
    }

    #[test]
    fn the_nearest_python_is_the_highest_below_else_the_lowest_above() {
        let near = |wanted, present: &[&str]| nearest_python(wanted, present);
        assert_eq!(near("3.12", &["3.11"]).as_deref(), Some("3.11"));
        assert_eq!(
            near("3.12", &["3.9", "3.11", "3.10"]).as_deref(),
            Some("3.11")
        );
        // Lower wins over a nearer higher one.
        assert_eq!(near("3.12", &["3.9", "3.13"]).as_deref(), Some("3.9"));
        assert_eq!(
            near("3.10", &["3.13", "3.11", "3.12"]).as_deref(),
            Some("3.11")
        );
        // Minor versions are numbers: 3.9 is below 3.10.
        assert_eq!(near("3.10", &["3.9", "3.11"]).as_deref(), Some("3.9"));
        assert_eq!(near("3.12", &["3.12", "3.11"]).as_deref(), Some("3.12"));
        assert_eq!(near("3.12", &[]), None);
        assert_eq!(near("3.12", &["2.7", "3.x"]), None);
    }

    #[test]
    fn python_bases_are_recognised_by_name() {
        assert_eq!(base_version("esb/base:python3.11"), Some("3.11"));
        assert_eq!(
            base_version("public.ecr.aws/lambda/python:3.10"),
            Some("3.10")
        );
        assert_eq!(
            base_version("public.ecr.aws/lambda/python:3.10-x86_64"),
            None
        );
        assert_eq!(base_version("public.ecr.aws/lambda/python:latest"), None);
        assert_eq!(base_version("public.ecr.aws/lambda/nodejs:20"), None);
        assert_eq!(base_version("esb/rootfs:python3.11"), None);
        assert_eq!(base_version("esb/base:provided"), None);
    }

    #[test]
    fn a_base_of_another_python_is_a_stand_in_and_only_that() {
        let base = |version: Option<&str>| Base {
            name: "esb/base:python3.11".into(),
            id: "sha256:1".into(),
            python: version.map(|_| "/usr/bin/python3.11".into()),
            python_version: version.map(str::to_string),
        };
        let stand_in = base(Some("3.11"))
            .stand_in_for("python3.12")
            .expect("a stand-in");
        assert_eq!(
            stand_in,
            StandIn {
                runtime: "python3.12".into(),
                base: "esb/base:python3.11".into(),
                python_version: "3.11".into(),
            }
        );
        assert_eq!(stand_in.base_runtime(), "python3.11");
        assert_eq!(base(Some("3.11")).stand_in_for("python3.11"), None);
        assert_eq!(base(None).stand_in_for("provided.al2023"), None);
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
