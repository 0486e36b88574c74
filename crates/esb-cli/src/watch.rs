//! `esb up --watch` / `esb watch`: hot reload. A change under a function's `CodeUri`
//! or one of its layers rebuilds that function (its image, with docker workers) and
//! swaps its pool: requests in flight finish on the old workers, new requests get new
//! ones. A template change re-plans the box (functions and routes added, changed or
//! removed) without stopping it; an invalid template leaves the box as it was. The
//! terminal says what reloaded and how long it took.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use esb_docker::BasePolicy;
use esb_gateway::{FunctionEntry, Gateway};
use notify::{RecommendedWatcher, RecursiveMode, Watcher};

use crate::agent_command::RuntimeArgs;
use crate::project::{Project, ProjectArgs};

/// Changes closer together than this are one reload (an editor's save is many events).
const SETTLE: Duration = Duration::from_millis(200);

/// How a changed function is brought up to date.
pub enum Rebuild {
    /// Process workers run the code in place: new workers are enough. `host_python`
    /// is the Python version they run (for the notes of functions naming another).
    InPlace { host_python: Option<String> },
    /// Docker workers: the function's image is rebuilt first, its base chosen by
    /// `policy`.
    Images {
        runtime: RuntimeArgs,
        policy: BasePolicy,
    },
}

/// How the box turns a project into the functions it serves.
pub type Entries = Box<dyn Fn(&Project) -> Result<Vec<FunctionEntry>> + Send + Sync>;

/// What the watcher needs: where the project comes from, the project as served, how
/// to rebuild, and how the box turns a project into functions.
pub struct Reloader {
    pub args: ProjectArgs,
    pub project: Project,
    pub rebuild: Rebuild,
    pub entries: Entries,
    /// The box's S3 service: a reloaded template's new buckets are created there.
    pub s3: Option<Arc<crate::s3_service::S3Service>>,
    /// The box's DynamoDB service: a reloaded template's tables are brought up to date.
    pub dynamodb: Option<Arc<crate::dynamodb_service::DynamoService>>,
    /// The box's stream mappings: re-planned with the functions.
    pub mappings: Option<Arc<crate::dynamodb_streams::Mappings>>,
    /// The box's SQS service: a reloaded template's queues are brought up to date.
    pub sqs: Option<Arc<crate::sqs_service::SqsService>>,
    /// The box's queue mappings: re-planned with the functions.
    pub queue_mappings: Option<Arc<crate::sqs_service::QueueMappings>>,
    /// The box's schedules: re-planned with the functions (no run fires twice).
    pub schedules: Arc<crate::schedules::Schedules>,
}

/// The watcher, shared with the reload thread (which adds the folders of functions a
/// new template brings). Dropping the returned handle ends the watching.
pub type Handle = Arc<Mutex<RecommendedWatcher>>;

/// Starts watching; keep the returned handle for as long as reloads are wanted.
pub fn spawn(gateway: Arc<Gateway>, reloader: Reloader) -> Result<Handle> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<PathBuf>();
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && !matches!(event.kind, notify::EventKind::Access(_))
        {
            for path in event.paths {
                let _ = tx.send(path);
            }
        }
    })
    .context("cannot watch files")?;
    let handle = Arc::new(Mutex::new(watcher));
    let mut watched = BTreeSet::new();
    let added = watch_folders(&handle, &reloader.project, &mut watched)?;
    crate::quiet::note!("esb: watching {added} folder(s) for changes");
    let weak = Arc::downgrade(&handle);
    // On a thread of its own: the image build's future is not `Send`, so it cannot be
    // a task; the runtime's handle still drives its I/O. The thread ends when the
    // watcher is dropped (the channel closes).
    let runtime = tokio::runtime::Handle::current();
    std::thread::spawn(move || {
        runtime.block_on(async move {
            let mut reloader = reloader;
            while let Some(first) = rx.recv().await {
                let mut changed = vec![first];
                tokio::time::sleep(SETTLE).await;
                while let Ok(p) = rx.try_recv() {
                    changed.push(p);
                }
                changed.retain(|p| !ignored(p));
                if changed.contains(&reloader.project.template_path) {
                    replan(&gateway, &mut reloader).await;
                    if let Some(handle) = weak.upgrade() {
                        let _ = watch_folders(&handle, &reloader.project, &mut watched);
                    }
                    continue;
                }
                let names = affected(&reloader.project, &changed);
                if !names.is_empty() {
                    changed.iter().for_each(|p| forget_bytecode(p));
                    reload(Arc::clone(&gateway), &mut reloader, names).await;
                }
            }
        })
    });
    Ok(handle)
}

/// Watches the project's code and layer folders not watched yet, and the template's
/// folder (editors replace files by renaming); how many were added.
fn watch_folders(
    handle: &Handle,
    project: &Project,
    watched: &mut BTreeSet<PathBuf>,
) -> Result<usize> {
    let mut watcher = handle
        .lock()
        .map_err(|_| anyhow::anyhow!("the file watcher failed"))?;
    let mut added = 0;
    let folders = project
        .template
        .functions
        .iter()
        .flat_map(|f| std::iter::once(f.code_dir.clone()).chain(f.layers.iter().cloned()));
    for dir in folders {
        if watched.insert(dir.clone()) {
            watcher
                .watch(&dir, RecursiveMode::Recursive)
                .with_context(|| format!("cannot watch {}", dir.display()))?;
            added += 1;
        }
    }
    if let Some(parent) = project.template_path.parent()
        && watched.insert(parent.to_path_buf())
    {
        let _ = watcher.watch(parent, RecursiveMode::NonRecursive);
    }
    Ok(added)
}

/// Files whose change means nothing to a function: caches, build output, editors'.
fn ignored(path: &Path) -> bool {
    let text = path.to_string_lossy();
    path.components().any(|c| {
        matches!(
            c.as_os_str().to_str(),
            Some(".esb" | "__pycache__" | ".git" | "target" | "node_modules")
        )
    }) || text.ends_with(".pyc")
        || text.ends_with(".swp")
        || text.ends_with('~')
}

/// Python trusts `__pycache__/<module>.*.pyc` while the source's size and mtime (in
/// whole seconds) are unchanged: an edit within the same second that keeps the size
/// would run the old code. The cached bytecode of a changed file goes.
fn forget_bytecode(path: &Path) {
    let (Some(dir), Some(stem)) = (path.parent(), path.file_stem().and_then(|s| s.to_str())) else {
        return;
    };
    if path.extension().is_none_or(|e| e != "py") {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir.join("__pycache__")) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(&format!("{stem}.")) && name.ends_with(".pyc") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The functions whose code or layers hold one of `paths`.
fn affected(project: &Project, paths: &[PathBuf]) -> BTreeSet<String> {
    project
        .template
        .functions
        .iter()
        .filter(|f| {
            paths
                .iter()
                .any(|p| p.starts_with(&f.code_dir) || f.layers.iter().any(|l| p.starts_with(l)))
        })
        .map(|f| f.name.clone())
        .collect()
}

/// Rebuilds the images of `project` when workers are containers (unchanged ones are
/// "up to date" at once).
async fn rebuild(rebuild: &Rebuild, project: &mut Project) -> Result<()> {
    match rebuild {
        Rebuild::Images { runtime, policy } => {
            crate::build_command::build_images(project, runtime, *policy).await?;
        }
        Rebuild::InPlace {
            host_python: Some(host),
        } => project.notes = project.host_python_notes(host),
        Rebuild::InPlace { host_python: None } => {}
    }
    Ok(())
}

async fn reload(gateway: Arc<Gateway>, reloader: &mut Reloader, names: BTreeSet<String>) {
    let started = Instant::now();
    if let Err(e) = rebuild(&reloader.rebuild, &mut reloader.project).await {
        eprintln!("esb: cannot rebuild ({e:#}); the running version stays");
        return;
    }
    let entries = match (reloader.entries)(&reloader.project) {
        Ok(entries) => entries,
        Err(e) => {
            eprintln!("esb: cannot reload ({e:#}); the running version stays");
            return;
        }
    };
    for entry in entries {
        if names.contains(&entry.spec.name) {
            gateway.reload(entry.spec, entry.note).await;
        }
    }
    let list: Vec<&str> = names.iter().map(String::as_str).collect();
    crate::quiet::note!(
        "esb: reloaded {} in {} ms",
        list.join(", "),
        started.elapsed().as_millis()
    );
}

/// The template changed: load it again and serve what it now says.
async fn replan(gateway: &Gateway, reloader: &mut Reloader) {
    let started = Instant::now();
    let template = reloader.project.template_path.display().to_string();
    let mut project = match reloader.args.load() {
        Ok(project) => project,
        Err(e) => {
            eprintln!(
                "esb: {template} is not valid; the box keeps serving the previous version: {e:#}"
            );
            return;
        }
    };
    let entries = match rebuild(&reloader.rebuild, &mut project)
        .await
        .and_then(|()| (reloader.entries)(&project))
    {
        Ok(entries) => entries,
        Err(e) => {
            eprintln!(
                "esb: cannot apply {template} ({e:#}); the box keeps serving the previous version"
            );
            return;
        }
    };
    if let Some(s3) = &reloader.s3
        && let Err(e) = s3.provision(&project.template.buckets).await
    {
        eprintln!("esb: {template}: {e:#}");
    }
    if let Some(d) = &reloader.dynamodb
        && let Err(e) = d.provision(&project.template.tables).await
    {
        eprintln!("esb: {template}: {e:#}");
    }
    if let Some(q) = &reloader.sqs
        && let Err(e) = q.provision(&project.template.queues).await
    {
        eprintln!("esb: {template}: {e:#}");
    }
    let routes: usize = entries.iter().map(|e| e.routes.len()).sum();
    let changes = gateway.replan(entries).await;
    if let Some(m) = &reloader.mappings {
        for problem in m.apply(&project.template.functions) {
            eprintln!("esb: {template}: stream mapping not started: {problem}");
        }
    }
    reloader.schedules.apply(&project.template.functions);
    if let Some(m) = &reloader.queue_mappings {
        for problem in m.apply(&project.template.functions, &|f| project.concurrency(f)) {
            eprintln!("esb: {template}: queue mapping not started: {problem}");
        }
    }
    reloader.project = project;
    let list = |what: &str, names: &[String]| {
        (!names.is_empty()).then(|| format!("{what} {}", names.join(", ")))
    };
    let summary: Vec<String> = [
        list("added", &changes.added),
        list("removed", &changes.removed),
        list("changed", &changes.changed),
    ]
    .into_iter()
    .flatten()
    .collect();
    crate::quiet::note!(
        "esb: template reloaded in {} ms: {} functions, {routes} routes{}",
        started.elapsed().as_millis(),
        reloader.project.template.functions.len(),
        if summary.is_empty() {
            String::new()
        } else {
            format!(" ({})", summary.join("; "))
        }
    );
}
