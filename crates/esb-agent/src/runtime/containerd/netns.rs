//! Named network namespaces, one per worker: a namespace made by a short-lived thread
//! (`unshare(CLONE_NEWNET)`) and kept alive by a bind mount of it on a file under
//! [`NETNS_DIR`], as `ip netns add` does, so runc can join it by path and the agent can
//! remove it whether or not the worker still runs.

use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;

/// Where the box's namespaces are mounted (a tmpfs: nothing survives a reboot).
pub const NETNS_DIR: &str = "/run/esb/netns";

#[derive(Debug, thiserror::Error)]
#[error("network namespace {path}: {detail}")]
pub struct NetnsError {
    pub path: String,
    pub detail: String,
}

/// The path of namespace `name`.
pub fn path_of(name: &str) -> PathBuf {
    Path::new(NETNS_DIR).join(name)
}

/// Creates namespace `name` (blocking: call off the async runtime).
pub fn create(name: &str) -> Result<PathBuf, NetnsError> {
    let path = path_of(name);
    let err = |detail: String| NetnsError {
        path: path.display().to_string(),
        detail,
    };
    std::fs::create_dir_all(NETNS_DIR).map_err(|e| err(e.to_string()))?;
    std::fs::File::create(&path).map_err(|e| err(e.to_string()))?;
    let target = path.clone();
    // A thread of its own leaves the namespace with it: no other thread of the agent
    // ever runs in the new namespace.
    let made = std::thread::spawn(move || -> Result<(), String> {
        nix::sched::unshare(CloneFlags::CLONE_NEWNET).map_err(|e| format!("unshare: {e}"))?;
        nix::mount::mount(
            Some("/proc/thread-self/ns/net"),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|e| format!("bind mount: {e}"))
    })
    .join()
    .unwrap_or_else(|_| Err("the namespace thread panicked".into()));
    if let Err(detail) = made {
        let _ = std::fs::remove_file(&path);
        return Err(err(detail));
    }
    Ok(path)
}

/// Removes namespace `path` (its interfaces go with it once no process is inside).
pub fn remove(path: &Path) {
    match nix::mount::umount2(path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => {}
        Err(e) => tracing::warn!("cannot unmount {}: {e}", path.display()),
    }
    let _ = std::fs::remove_file(path);
}

/// Namespaces under [`NETNS_DIR`] whose names start with `prefix`.
pub fn list(prefix: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(NETNS_DIR) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .map(|e| e.path())
        .collect()
}
