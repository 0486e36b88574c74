//! `esb up --watch` / `esb watch`: hot reload. A change under a function's `CodeUri`
//! or one of its layers rebuilds that function (its image, with docker workers) and
//! swaps its pool: requests in flight finish on the old workers, new requests get new
//! ones. The terminal says what reloaded and how long it took.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use esb_gateway::{FunctionEntry, Gateway};
use notify::{RecursiveMode, Watcher};

use crate::agent_command::RuntimeArgs;
use crate::project::Project;

/// Changes closer together than this are one reload (an editor's save is many events).
const SETTLE: Duration = Duration::from_millis(200);

/// How a changed function is brought up to date.
pub enum Rebuild {
    /// Process workers run the code in place: new workers are enough.
    InPlace,
    /// Docker workers: the function's image is rebuilt first.
    Images(RuntimeArgs),
}

/// How the box turns a project into the functions it serves.
pub type Entries = Box<dyn Fn(&Project) -> Vec<FunctionEntry> + Send + Sync>;

/// What the watcher needs: the project, how to rebuild, and how the box turns the
/// project into functions.
pub struct Reloader {
    pub project: Project,
    pub rebuild: Rebuild,
    pub entries: Entries,
}

/// Starts watching; the returned watcher must be kept for as long as reloads are wanted.
pub fn spawn(gateway: Arc<Gateway>, reloader: Reloader) -> Result<notify::RecommendedWatcher> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<PathBuf>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && !matches!(event.kind, notify::EventKind::Access(_))
        {
            for path in event.paths {
                let _ = tx.send(path);
            }
        }
    })
    .context("cannot watch files")?;
    let dirs: BTreeSet<PathBuf> = reloader
        .project
        .template
        .functions
        .iter()
        .flat_map(|f| std::iter::once(f.code_dir.clone()).chain(f.layers.iter().cloned()))
        .collect();
    for dir in &dirs {
        watcher
            .watch(dir, RecursiveMode::Recursive)
            .with_context(|| format!("cannot watch {}", dir.display()))?;
    }
    let template = reloader.project.template_path.clone();
    if let Some(parent) = template.parent() {
        let _ = watcher.watch(parent, RecursiveMode::NonRecursive);
    }
    eprintln!("esb: watching {} folder(s) for changes", dirs.len());
    // On a thread of its own: the image build's future is not `Send`, so it cannot be
    // a task; the runtime's handle still drives its I/O.
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
            if changed.contains(&template) {
                eprintln!(
                    "esb: {} changed: restart the box to apply new routes or functions (code changes reload by themselves)",
                    template.display()
                );
            }
            let names = affected(&reloader.project, &changed);
            if !names.is_empty() {
                reload(Arc::clone(&gateway), &mut reloader, names).await;
            }
        }
    })
    });
    Ok(watcher)
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

async fn reload(gateway: Arc<Gateway>, reloader: &mut Reloader, names: BTreeSet<String>) {
    let started = Instant::now();
    if let Rebuild::Images(args) = &reloader.rebuild {
        match crate::build_command::build_images(&reloader.project, args).await {
            Ok(images) => reloader.project.images = images,
            Err(e) => {
                eprintln!("esb: cannot rebuild ({e:#}); the running version stays");
                return;
            }
        }
    }
    for entry in (reloader.entries)(&reloader.project) {
        if names.contains(&entry.spec.name) {
            gateway.reload(entry.spec).await;
        }
    }
    let list: Vec<&str> = names.iter().map(String::as_str).collect();
    eprintln!(
        "esb: reloaded {} in {} ms",
        list.join(", "),
        started.elapsed().as_millis()
    );
}
