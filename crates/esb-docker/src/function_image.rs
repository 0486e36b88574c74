//! A function as an image, laid out as Lambda lays out a function's environment, so the
//! docker worker runtime only needs the image's name:
//!
//! - `esb/<name>:<content hash>`, also tagged `esb/<name>:latest`; labels
//!   `esb.managed`, `esb.function`, `esb.content-hash`, `esb.base-id`;
//! - `/var/runtime/esb` (ESB's static binary, copied from `esb/runtime:<digest>`) is
//!   the entrypoint: `esb rie` listening on `0.0.0.0:8080`, the Runtime API on
//!   `127.0.0.1:9001`;
//! - layers merged into `/opt` (template order, later ones win), code and its
//!   `requirements.txt` dependencies in `/var/task`, `/tmp` with mode 1777;
//! - CMD: `<python> -m awslambdaric <handler>`, or `/var/task/bootstrap`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use bollard::Docker;
use bollard::query_parameters::{BuildImageOptionsBuilder, TagImageOptionsBuilder};
use futures_util::StreamExt;

use crate::base_image::{self, Base, BaseCache, BasePolicy, StandIn};
use crate::build_context::stream_tar;
use crate::content_hash::{HashInput, content_hash};
use crate::daemon;
use crate::error::ImageError;
use crate::labels;
use crate::pip;
use crate::progress::{Progress, Task};
use crate::reference::function_repository;
use crate::runtime_image::{PATH_IN_RUNTIME_IMAGE, RuntimeImages};
use crate::source_tree::{Entry, Kind, Overlay, off_thread, walk};
use crate::tar_entries::{append_entry, header};

/// Where the ESB binary sits in every function image.
pub const ESB_IN_IMAGE: &str = "/var/runtime/esb";
/// The worker's Invoke API port inside the container.
pub const INVOKE_PORT: u16 = 8080;
/// `esb rie ... --` followed by the CMD.
pub const ENTRYPOINT: [&str; 7] = [
    ESB_IN_IMAGE,
    "rie",
    "--listen",
    "0.0.0.0:8080",
    "--runtime-api",
    "127.0.0.1:9001",
    "--",
];
const PATH: &str = "/opt/bin:/usr/local/bin:/usr/bin:/bin";
const LD_LIBRARY_PATH: &str = "/opt/lib:/lib64:/usr/lib64:/var/runtime/lib:/var/task/lib";
/// Concurrent builds in `build_all`: the daemon and pip share the machine with the box.
const CONCURRENT_BUILDS: usize = 2;

/// What a function image is made of (from the template).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionSource {
    /// The function's name in the box (image `esb/<name, lowercased>`).
    pub name: String,
    /// `python3.11`, `provided.al2023`...
    pub runtime: String,
    /// Empty for `provided*` functions without one.
    pub handler: String,
    pub code_dir: PathBuf,
    /// Layer content directories in template order.
    pub layers: Vec<PathBuf>,
    /// Whether a Python function may run on another Python's base when its own has none.
    pub base_policy: BasePolicy,
}

/// A function image that exists now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    /// `esb/<name>:<hash>`.
    pub reference: String,
    /// False when an identical image was already there.
    pub rebuilt: bool,
    /// Set when the image stands on another Python's base (`BasePolicy::NearestPython`).
    pub stand_in: Option<StandIn>,
}

/// The function's image reference, `esb/<name>:<16-hex content hash>`, computed from
/// the files alone (no Docker): what `build_function` produces for the same inputs.
pub fn image_reference(src: &FunctionSource, esb_binary: &Path) -> Result<String, ImageError> {
    Plan::read(src, esb_binary).map(|p| p.reference)
}

/// Builds the function's image unless an identical one exists on the same base.
pub async fn build_function(
    docker: &Docker,
    src: &FunctionSource,
    esb_binary: &Path,
    progress: &Progress,
) -> Result<Built, ImageError> {
    build_one(docker, src, esb_binary, progress, &Shared::default()).await
}

/// Builds several functions, a few at a time, one progress line each; results come
/// back in the order of `sources`.
pub async fn build_all(
    docker: &Docker,
    sources: &[FunctionSource],
    esb_binary: &Path,
    progress: &Progress,
) -> Vec<Result<Built, ImageError>> {
    let shared = Shared::default();
    futures_util::stream::iter(sources)
        .map(|src| build_one(docker, src, esb_binary, progress, &shared))
        .buffered(CONCURRENT_BUILDS)
        .collect()
        .await
}

/// What builds in one batch resolve once: bases, the esb binary's runtime image.
#[derive(Debug, Default)]
struct Shared {
    bases: BaseCache,
    runtimes: RuntimeImages,
}

async fn build_one(
    docker: &Docker,
    src: &FunctionSource,
    esb_binary: &Path,
    progress: &Progress,
    shared: &Shared,
) -> Result<Built, ImageError> {
    let task = progress.task(&src.name);
    let result = build_with(docker, src, esb_binary, &task, shared).await;
    let ms = task.elapsed().as_millis();
    match &result {
        Ok(Built {
            reference,
            rebuilt: false,
            stand_in,
        }) => task.finish(&format!("up to date ({reference}){}", on(stand_in))),
        Ok(Built {
            reference,
            stand_in,
            ..
        }) => task.finish(&format!("done in {ms} ms ({reference}){}", on(stand_in))),
        Err(e) => task.fail(&format!("failed: {e}")),
    }
    result
}

/// What a progress line adds for an image on another Python's base.
fn on(stand_in: &Option<StandIn>) -> String {
    stand_in
        .as_ref()
        .map(|s| format!(" on {} instead of {}", s.base, s.runtime))
        .unwrap_or_default()
}

async fn build_with(
    docker: &Docker,
    src: &FunctionSource,
    esb_binary: &Path,
    task: &Task,
    shared: &Shared,
) -> Result<Built, ImageError> {
    task.step("hashing sources");
    let plan = {
        let (owned, bin) = (src.clone(), esb_binary.to_path_buf());
        off_thread(&src.code_dir, move || Plan::read(&owned, &bin)).await?
    };
    task.step("finding the base image");
    let base = shared
        .bases
        .get(docker, &src.runtime, src.base_policy, task)
        .await?;
    let stand_in = base.stand_in_for(&src.runtime);
    let existing = daemon::image_if_exists(docker, &plan.reference).await?;
    let existing_base = existing
        .as_ref()
        .and_then(|i| i.config.as_ref())
        .and_then(|c| c.labels.as_ref())
        .and_then(|l| l.get(labels::BASE_ID));
    if existing_base == Some(&base.id) {
        tag_latest(docker, &plan).await?;
        return Ok(Built {
            reference: plan.reference,
            rebuilt: false,
            stand_in,
        });
    }

    // Dependencies go to a temporary directory that lives until the build is sent;
    // wheels are for the base's Python, which a stand-in makes another than the
    // template's.
    let wheels_for = base
        .python_version
        .as_ref()
        .or(plan.python_version.as_ref());
    let deps_dir = match (wheels_for, plan.requirements()) {
        (Some(version), Some(requirements)) => {
            task.step("installing requirements.txt with the host's pip");
            let dir = tempfile::tempdir().map_err(|source| ImageError::Write {
                path: std::env::temp_dir(),
                source,
            })?;
            let target = dir.path().join("deps");
            let started = Instant::now();
            pip::install_requirements(&requirements, &target, version, task).await?;
            tracing::debug!("requirements installed in {:?}", started.elapsed());
            Some((dir, target))
        }
        _ => None,
    };
    let deps = match &deps_dir {
        Some((_, target)) => {
            let owned = target.clone();
            off_thread(target, move || walk(&owned)).await?
        }
        None => BTreeMap::new(),
    };

    let overlay = Arc::new(plan.overlay(&deps));
    // Another box may prune the runtime image between our check and the build's
    // `COPY --from`: then it is made again, once.
    let mut retried = false;
    let id = loop {
        let runtime_id = shared.runtimes.get(docker, esb_binary, task).await?;
        task.step("building");
        let dockerfile = plan.dockerfile(&base, &runtime_id)?;
        let files = Arc::clone(&overlay);
        let body = stream_tar(move |tar| {
            let mut h = header(tar::EntryType::Regular, 0o644, dockerfile.len() as u64, 0);
            tar.append_data(&mut h, "Dockerfile", dockerfile.as_bytes())?;
            let mut h = header(tar::EntryType::Directory, 0o755, 0, 0);
            tar.append_data(&mut h, "root", std::io::empty())?;
            for (path, entry) in files.entries() {
                append_entry(tar, &Path::new("root").join(path), entry)?;
            }
            Ok(())
        });
        let options = BuildImageOptionsBuilder::default()
            .dockerfile("Dockerfile")
            .t(&plan.reference)
            .rm(true)
            .forcerm(true)
            .labels(&HashMap::from([
                (labels::MANAGED, "true"),
                (labels::FUNCTION, src.name.as_str()),
                (labels::CONTENT_HASH, plan.hash.as_str()),
                (labels::BASE_ID, base.id.as_str()),
            ]))
            .build();
        match daemon::build(docker, options, body, &plan.reference, task).await {
            Ok(id) => break id,
            Err(e)
                if !retried
                    && daemon::image_if_exists(docker, &runtime_id)
                        .await?
                        .is_none() =>
            {
                tracing::debug!("runtime image {runtime_id} vanished during the build: {e}");
                retried = true;
            }
            Err(e) => return Err(e),
        }
    };
    drop(deps_dir);
    tag_latest(docker, &plan).await?;
    // Same inputs on a new base: the image that had this tag is now dangling.
    if let Some(old) = existing.and_then(|i| i.id).filter(|old| *old != id) {
        daemon::remove_if_unused(docker, &old).await;
    }
    Ok(Built {
        reference: plan.reference,
        rebuilt: true,
        stand_in,
    })
}

async fn tag_latest(docker: &Docker, plan: &Plan) -> Result<(), ImageError> {
    let options = TagImageOptionsBuilder::default()
        .repo(&plan.repository)
        .tag("latest")
        .build();
    docker
        .tag_image(&plan.reference, Some(options))
        .await
        .map_err(ImageError::docker(format!(
            "tag {} as latest",
            plan.reference
        )))
}

/// Everything known about a function's image before Docker is asked anything.
struct Plan {
    name: String,
    handler: String,
    python_version: Option<String>,
    code_dir: PathBuf,
    code: BTreeMap<PathBuf, Entry>,
    layers: Vec<BTreeMap<PathBuf, Entry>>,
    hash: String,
    repository: String,
    reference: String,
}

impl Plan {
    fn read(src: &FunctionSource, esb_binary: &Path) -> Result<Plan, ImageError> {
        let base_name = base_image::nominal_base(&src.runtime)?;
        let python_version = base_image::python_version(&src.runtime).map(str::to_string);
        if python_version.is_some() && src.handler.trim().is_empty() {
            return Err(ImageError::MissingHandler {
                function: src.name.clone(),
                runtime: src.runtime.clone(),
            });
        }
        let code = walk(&src.code_dir)?;
        if python_version.is_none()
            && !code
                .get(Path::new("bootstrap"))
                .is_some_and(|e| e.kind != Kind::Dir)
        {
            return Err(ImageError::NoBootstrap {
                function: src.name.clone(),
                code_dir: src.code_dir.clone(),
            });
        }
        let layers = src
            .layers
            .iter()
            .map(|l| walk(l))
            .collect::<Result<Vec<_>, _>>()?;
        let hash = content_hash(&HashInput {
            name: &src.name,
            runtime: &src.runtime,
            handler: &src.handler,
            base_name: &base_name,
            stand_in_allowed: python_version.is_some()
                && src.base_policy == BasePolicy::NearestPython,
            code: &code,
            layers: &layers,
            esb_binary,
        })?;
        let repository = function_repository(&src.name);
        Ok(Plan {
            name: src.name.clone(),
            handler: src.handler.clone(),
            python_version,
            code_dir: src.code_dir.clone(),
            reference: format!("{repository}:{hash}"),
            repository,
            hash,
            code,
            layers,
        })
    }

    fn requirements(&self) -> Option<PathBuf> {
        self.code
            .get(Path::new("requirements.txt"))
            .filter(|e| e.kind != Kind::Dir)
            .map(|_| self.code_dir.join("requirements.txt"))
    }

    /// The files the image adds to its base (besides the esb binary), by path under `/`.
    fn overlay(&self, deps: &BTreeMap<PathBuf, Entry>) -> Overlay {
        let mut fs = Overlay::default();
        let dir = |mode| Entry {
            source: PathBuf::new(),
            mode,
            mtime: 0,
            kind: Kind::Dir,
        };
        for path in ["opt", "tmp", "var", "var/runtime", "var/task"] {
            fs.add(path.into(), dir(if path == "tmp" { 0o1777 } else { 0o755 }));
        }
        for layer in &self.layers {
            fs.add_tree(Path::new("opt"), layer);
        }
        fs.add_tree(Path::new("var/task"), deps);
        fs.add_tree(Path::new("var/task"), &self.code);
        fs
    }

    /// The esb binary comes from its runtime image first, so that layer is shared by
    /// every function on the same base; the function's own files follow.
    fn dockerfile(&self, base: &Base, runtime_image: &str) -> Result<String, ImageError> {
        let json = |v: &[&str]| serde_json::to_string(v).unwrap_or_default();
        let site = |version: &str| format!("/opt/python/lib/python{version}/site-packages:");
        let (cmd, pythonpath) = match (&self.python_version, &base.python) {
            (Some(version), Some(python)) => (
                json(&[python, "-m", "awslambdaric", &self.handler]),
                format!(
                    " PYTHONPATH={}{}/opt/python:/var/runtime",
                    site(version),
                    // A stand-in base: layers may also hold packages for its Python.
                    base.python_version
                        .as_deref()
                        .filter(|v| v != version)
                        .map(site)
                        .unwrap_or_default(),
                ),
            ),
            (Some(_), None) => {
                return Err(ImageError::Build {
                    reference: self.reference.clone(),
                    detail: format!("the base {} has no Python", base.name),
                });
            }
            (None, _) => (json(&["/var/task/bootstrap"]), String::new()),
        };
        Ok(format!(
            "FROM {from}\n\
             COPY --from={runtime_image} {PATH_IN_RUNTIME_IMAGE} {ESB_IN_IMAGE}\n\
             COPY root/ /\n\
             WORKDIR /var/task\n\
             ENV LAMBDA_TASK_ROOT=/var/task LAMBDA_RUNTIME_DIR=/var/runtime PATH={PATH} \
             LD_LIBRARY_PATH={LD_LIBRARY_PATH}{pythonpath}\n\
             ENTRYPOINT {entrypoint}\n\
             CMD {cmd}\n",
            from = base.from(),
            entrypoint = json(&ENTRYPOINT),
        ))
        .inspect(|text| tracing::debug!("Dockerfile of {}:\n{text}", self.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(dir: &Path, runtime: &str, handler: &str) -> FunctionSource {
        FunctionSource {
            name: "My_Function".into(),
            runtime: runtime.into(),
            handler: handler.into(),
            code_dir: dir.to_path_buf(),
            layers: vec![],
            base_policy: BasePolicy::Exact,
        }
    }

    #[test]
    fn the_reference_names_the_function_and_its_content() {
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::write(tmp.path().join("bootstrap"), "#!/bin/sh").expect("write");
        let bin = tmp.path().join("esb-bin");
        std::fs::write(&bin, "esb").expect("write");
        let src = source(tmp.path(), "provided.al2023", "");
        let reference = image_reference(&src, &bin).expect("reference");
        let (repo, tag) = reference.split_once(':').expect("a tag");
        assert_eq!(repo, "esb/my-function");
        assert_eq!(tag.len(), 16);
        assert!(tag.bytes().all(|b| b.is_ascii_hexdigit()), "{tag}");
    }

    #[test]
    fn unbuildable_functions_are_refused_before_docker() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let bin = tmp.path().join("esb-bin");
        std::fs::write(&bin, "esb").expect("write");
        let no_bootstrap = image_reference(&source(tmp.path(), "provided", ""), &bin);
        assert!(
            matches!(no_bootstrap, Err(ImageError::NoBootstrap { .. })),
            "{no_bootstrap:?}"
        );
        let no_handler = image_reference(&source(tmp.path(), "python3.11", ""), &bin);
        assert!(
            matches!(no_handler, Err(ImageError::MissingHandler { .. })),
            "{no_handler:?}"
        );
        let other = image_reference(&source(tmp.path(), "nodejs20.x", "x"), &bin);
        assert!(
            matches!(other, Err(ImageError::UnsupportedRuntime(_))),
            "{other:?}"
        );
    }

    #[test]
    fn the_dockerfile_follows_the_conventions() {
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::write(tmp.path().join("app.py"), "").expect("write");
        let bin = tmp.path().join("esb-bin");
        std::fs::write(&bin, "esb").expect("write");
        let plan =
            Plan::read(&source(tmp.path(), "python3.11", "app.handler"), &bin).expect("plan");
        let text = plan
            .dockerfile(
                &Base {
                    name: "esb/base:python3.11".into(),
                    id: "sha256:1".into(),
                    python: Some("/usr/bin/python3.11".into()),
                    python_version: Some("3.11".into()),
                },
                "sha256:2",
            )
            .expect("dockerfile");
        assert!(
            text.starts_with("FROM sha256:1\nCOPY --from=sha256:2 /esb /var/runtime/esb\n"),
            "{text}"
        );
        assert!(
            text.contains(
                r#"ENTRYPOINT ["/var/runtime/esb","rie","--listen","0.0.0.0:8080","--runtime-api","127.0.0.1:9001","--"]"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"CMD ["/usr/bin/python3.11","-m","awslambdaric","app.handler"]"#),
            "{text}"
        );
        assert!(
            text.contains(
                "PYTHONPATH=/opt/python/lib/python3.11/site-packages:/opt/python:/var/runtime"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_stand_in_base_runs_its_own_python_and_keeps_the_templates_layer_path() {
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::write(tmp.path().join("app.py"), "").expect("write");
        let bin = tmp.path().join("esb-bin");
        std::fs::write(&bin, "esb").expect("write");
        let mut src = source(tmp.path(), "python3.12", "app.handler");
        let exact = Plan::read(&src, &bin).expect("plan");
        src.base_policy = BasePolicy::NearestPython;
        let nearest = Plan::read(&src, &bin).expect("plan");
        assert_ne!(
            exact.reference, nearest.reference,
            "an image that may stand on another Python has a name of its own"
        );
        let text = nearest
            .dockerfile(
                &Base {
                    name: "esb/base:python3.11".into(),
                    id: "sha256:1".into(),
                    python: Some("/usr/bin/python3.11".into()),
                    python_version: Some("3.11".into()),
                },
                "sha256:2",
            )
            .expect("dockerfile");
        assert!(
            text.contains(r#"CMD ["/usr/bin/python3.11","-m","awslambdaric","app.handler"]"#),
            "{text}"
        );
        assert!(
            text.contains(
                "PYTHONPATH=/opt/python/lib/python3.12/site-packages:\
                 /opt/python/lib/python3.11/site-packages:/opt/python:/var/runtime"
            ),
            "{text}"
        );
        // A provided function is never affected by the policy.
        std::fs::write(tmp.path().join("bootstrap"), "#!/bin/sh").expect("write");
        let mut provided = source(tmp.path(), "provided.al2023", "");
        let before = image_reference(&provided, &bin).expect("reference");
        provided.base_policy = BasePolicy::NearestPython;
        assert_eq!(image_reference(&provided, &bin).expect("reference"), before);
    }
}
