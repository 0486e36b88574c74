//! `MemorySize` as a real memory limit, through the cgroup the machine offers (v2
//! `memory.max`, or v1 `memory.limit_in_bytes`). Where no cgroup is writable the worker
//! runs unlimited and the agent says so once.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// A cgroup created for one worker.
#[derive(Debug)]
pub struct WorkerCgroup {
    dir: PathBuf,
    /// `cgroup.procs`, opened before fork so the child can join without allocating.
    procs: OwnedFd,
}

impl WorkerCgroup {
    /// Where the cgroup of `worker_id` lives (whether or not it exists).
    pub fn path_for(worker_id: &str) -> Option<PathBuf> {
        parent_cgroup().map(|(parent, _)| parent.join(format!("esb-{worker_id}")))
    }

    /// Creates `<parent>/esb-<worker>` with the limit, or `None` where not possible.
    pub fn create(worker_id: &str, limit_bytes: u64) -> Option<Self> {
        let (parent, limit_file) = parent_cgroup()?;
        let dir = parent.join(format!("esb-{worker_id}"));
        std::fs::create_dir_all(&dir).ok()?;
        let written = std::fs::write(dir.join(limit_file), limit_bytes.to_string());
        let procs = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.join("cgroup.procs"));
        match (written, procs) {
            (Ok(()), Ok(f)) => Some(Self {
                dir,
                procs: f.into(),
            }),
            _ => {
                let _ = std::fs::remove_dir(&dir);
                None
            }
        }
    }

    /// A `pre_exec` hook that moves the new process into the cgroup before it runs
    /// anything: a single write(2) (async-signal-safe) to the fd opened beforehand.
    /// The cgroup must outlive the spawn.
    pub fn joiner(&self) -> impl Fn() -> std::io::Result<()> + Send + Sync + 'static {
        let fd = self.procs.as_raw_fd();
        move || {
            // SAFETY: write(2) of a static one-byte buffer to an fd open during the spawn.
            let n = unsafe { libc::write(fd, b"0".as_ptr().cast(), 1) };
            if n == 1 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Removes the cgroup (it must be empty: call after the worker's processes ended).
    pub fn remove(dir: &Path) {
        if !dir.exists() {
            return;
        }
        for _ in 0..50 {
            if std::fs::remove_dir(dir).is_ok() || !dir.exists() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        tracing::warn!("could not remove cgroup {}", dir.display());
    }
}

/// Removes worker cgroups left behind by boxes that were killed (SIGKILL leaves no
/// chance to clean up): only empty `esb-*` cgroups older than a minute, so a cgroup
/// another box is creating right now is never touched.
pub fn sweep_stale() {
    let Some((parent, _)) = parent_cgroup() else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(&parent) else {
        return;
    };
    for e in entries.flatten() {
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > std::time::Duration::from_secs(60));
        if old && e.file_name().to_string_lossy().starts_with("esb-") {
            // rmdir fails on a cgroup that still has processes: live workers are safe.
            let _ = std::fs::remove_dir(e.path());
        }
    }
}

/// What a worker's memory cgroup has seen.
#[derive(Debug, Clone, Copy, Default)]
pub struct CgroupStats {
    pub limit_bytes: u64,
    pub max_bytes: u64,
    pub oom_kills: u64,
}

/// Reads a memory cgroup's limit, high-water mark and OOM kills (v2 or v1 file names);
/// zeros for what the kernel does not offer.
pub fn stats(dir: &Path) -> CgroupStats {
    let number = |file: &str| {
        std::fs::read_to_string(dir.join(file))
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
    };
    let counter = |file: &str, key: &str| {
        std::fs::read_to_string(dir.join(file)).ok().and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix(key)
                    .and_then(|v| v.strip_prefix(' '))
                    .and_then(|v| v.trim().parse::<u64>().ok())
            })
        })
    };
    CgroupStats {
        limit_bytes: number("memory.max")
            .or_else(|| number("memory.limit_in_bytes"))
            .unwrap_or_default(),
        max_bytes: number("memory.peak")
            .or_else(|| number("memory.max_usage_in_bytes"))
            .unwrap_or_default(),
        oom_kills: counter("memory.events", "oom_kill")
            .or_else(|| counter("memory.oom_control", "oom_kill"))
            .unwrap_or_default(),
    }
}

/// The cgroup directory new worker cgroups go under, and the limit file's name.
fn parent_cgroup() -> Option<(PathBuf, &'static str)> {
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        let rel = own.lines().find_map(|l| l.strip_prefix("0::"))?;
        let parent = Path::new("/sys/fs/cgroup").join(rel.trim_start_matches('/'));
        return Some((parent, "memory.max"));
    }
    let rel = own.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        controllers
            .split(',')
            .any(|c| c == "memory")
            .then_some(path)
    })?;
    let parent = Path::new("/sys/fs/cgroup/memory").join(rel.trim_start_matches('/'));
    Some((parent, "memory.limit_in_bytes"))
}
