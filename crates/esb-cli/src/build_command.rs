//! `esb build`: every function of the template as a Docker image, named by its content
//! so the gateway and agents agree on it without asking anyone; optionally pushed to a
//! registry for agents on other machines.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use esb_docker::{BasePolicy, Built, FunctionSource, ImageError, Progress, StandIn};

use crate::agent_command::RuntimeArgs;
use crate::project::{Project, ProjectArgs};

#[derive(Args)]
#[command(
    after_help = "Examples:\n  esb build                          # an image per function, rebuilt only when its files changed\n  esb build --dry-run                # what would be built, and why\n  esb build --push registry.local:5000\n\nExit status: 0 built; 1 a build failed (its output is printed)."
)]
pub struct BuildArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    #[command(flatten)]
    pub bases: BaseArgs,
    /// Also push every image to this registry (HOST:PORT), for agents on other machines.
    #[arg(long, value_name = "REGISTRY")]
    pub push: Option<String>,
    /// Docker daemon (default: DOCKER_HOST, else unix:///var/run/docker.sock).
    #[arg(long, value_name = "URL", env = "ESB_DOCKER_HOST")]
    pub docker_host: Option<String>,
    /// Print the plan (each function's image, and whether it must be built) and stop.
    #[arg(long)]
    pub dry_run: bool,
}

/// Which base a Python function's image may stand on, for every command that builds
/// or names images (`esb build`, `esb up`, `esb gateway`).
#[derive(Args, Clone, Default)]
pub struct BaseArgs {
    /// Build a Python function whose version has no base image on the nearest Python
    /// base there is (the highest version below, else the lowest above), with a warning
    /// at start and in `esb status`. Without it, such a function stops the build.
    #[arg(
        long,
        env = "ESB_NEAREST_PYTHON_BASE",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub nearest_python_base: bool,
}

impl BaseArgs {
    pub fn policy(&self) -> BasePolicy {
        if self.nearest_python_base {
            BasePolicy::NearestPython
        } else {
            BasePolicy::Exact
        }
    }
}

/// What `esb status` says about a function on another Python's base.
pub fn stand_in_note(s: &StandIn) -> String {
    format!(
        "runtime {} runs on the {} base {} (--nearest-python-base)",
        s.runtime,
        s.base_runtime(),
        s.base
    )
}

pub fn run(args: BuildArgs) -> Result<()> {
    let project = args.project.load()?;
    if project.template.functions.is_empty() {
        println!("no functions in {}", args.project.template.display());
        return Ok(());
    }
    let policy = args.bases.policy();
    if args.dry_run {
        return plan(&project, args.docker_host.as_deref(), policy);
    }
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(build(
        &project,
        args.docker_host.as_deref(),
        policy,
        args.push.as_deref(),
        true,
    ))?;
    Ok(())
}

/// What `esb up` does before starting docker workers: builds what changed (progress
/// on stderr, no summary table) and records each function's image, and a note for
/// each on a stand-in base, in `project`; the error names every function that failed.
pub async fn build_images(
    project: &mut Project,
    runtime: &RuntimeArgs,
    policy: BasePolicy,
) -> Result<()> {
    let built = build(project, runtime.docker_host.as_deref(), policy, None, false).await?;
    project.notes = built
        .iter()
        .filter_map(|(name, b)| Some((name.clone(), stand_in_note(b.stand_in.as_ref()?))))
        .collect();
    project.images = built
        .into_iter()
        .map(|(name, b)| (name, b.reference))
        .collect();
    Ok(())
}

/// `--dry-run`: every function's image reference (a content hash of its files and the
/// esb binary) and whether the daemon already has it.
fn plan(project: &Project, docker_host: Option<&str>, policy: BasePolicy) -> Result<()> {
    let esb = esb_docker::running_binary()?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let docker = runtime
        .block_on(esb_docker::connect(docker_host, Duration::from_secs(5)))
        .map_err(|e| eprintln!("esb: {e}; cannot tell which images exist"))
        .ok();
    for src in project.function_sources(policy) {
        let reference = esb_docker::image_reference(&src, &esb)
            .with_context(|| format!("{}: cannot read its files", src.name))?;
        let state = match &docker {
            Some(d) if runtime.block_on(d.inspect_image(&reference)).is_ok() => "up to date",
            Some(_) => "to build",
            None => "unknown",
        };
        println!(
            "{:<24} {:<16} {reference:<40} {state}",
            src.name, src.runtime
        );
    }
    Ok(())
}

async fn build(
    project: &Project,
    docker_host: Option<&str>,
    policy: BasePolicy,
    push: Option<&str>,
    print_summary: bool,
) -> Result<BTreeMap<String, Built>> {
    let sources = project.function_sources(policy);
    let esb = esb_docker::running_binary()?;
    let docker = esb_docker::connect(docker_host, Duration::from_secs(10)).await?;
    let progress = Progress::stderr();
    let mut results = esb_docker::build_all(&docker, &sources, &esb, &progress).await;
    if let Some(registry) = push {
        for result in &mut results {
            let Ok(built) = result else { continue };
            let task = progress.task(&format!("push {}", built.reference));
            match esb_docker::push(&docker, &built.reference, registry).await {
                Ok(remote) => task.finish(&format!("pushed {remote}")),
                Err(e) => {
                    task.fail(&format!("failed: {e}"));
                    *result = Err(e);
                }
            }
        }
    }
    if print_summary {
        summarize(&sources, &results);
    }
    // Said after the progress lines, where it cannot scroll away unnoticed.
    for (src, result) in sources.iter().zip(&results) {
        if let Ok(Built {
            stand_in: Some(s), ..
        }) = result
        {
            eprintln!("esb: warning: {}", stand_in_warning(&src.name, s));
        }
    }
    // Functions failing for the same reason (no base image, typically) share one line.
    let mut reasons: Vec<(String, Vec<&str>)> = Vec::new();
    for (src, result) in sources.iter().zip(&results) {
        let Err(e) = result else { continue };
        let reason = e.to_string();
        match reasons.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, names)) => names.push(&src.name),
            None => reasons.push((reason, vec![&src.name])),
        }
    }
    if !reasons.is_empty() {
        let failed: usize = reasons.iter().map(|(_, n)| n.len()).sum();
        let detail: Vec<String> = reasons
            .iter()
            .map(|(reason, names)| format!("{}: {reason}", names.join(", ")))
            .collect();
        bail!(
            "{failed} of {} function images failed to build: {}",
            sources.len(),
            detail.join("; ")
        );
    }
    Ok(sources
        .iter()
        .zip(results)
        .filter_map(|(src, r)| r.ok().map(|b| (src.name.clone(), b)))
        .collect())
}

/// The line `esb build` and `esb up` print for a function on another Python's base.
fn stand_in_warning(function: &str, s: &StandIn) -> String {
    format!(
        "function {function} asks for {}, which has no base image here: it runs on {} \
         (Python {}) because of --nearest-python-base",
        s.runtime, s.base, s.python_version
    )
}

/// One line per function on stdout.
fn summarize(sources: &[FunctionSource], results: &[Result<Built, ImageError>]) {
    let width = sources.iter().map(|s| s.name.len()).max().unwrap_or(0);
    for (src, result) in sources.iter().zip(results) {
        match result {
            Ok(built) => {
                let state = if built.rebuilt { "built" } else { "up to date" };
                println!("{:width$}  {}  {state}", src.name, built.reference);
            }
            Err(_) => println!("{:width$}  FAILED", src.name),
        }
    }
}
