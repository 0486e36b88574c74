//! A worker's cgroups (`/esb-<box>/<container>` under each v1 controller, or in the v2
//! tree), made by runc from the spec: where the agent reads memory, CPU time and OOM
//! kills, and which it removes with the box.

use super::*;

impl Inner {
    /// The worker's cgroup directory for `controller` (v1), or its v2 directory.
    fn cgroup_dir(&self, container: &str, controller: &str) -> PathBuf {
        let rel = self.cgroups_path(container);
        let rel = rel.trim_start_matches('/');
        if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
            Path::new("/sys/fs/cgroup").join(rel)
        } else {
            Path::new("/sys/fs/cgroup").join(controller).join(rel)
        }
    }

    /// What the worker's cgroups say of its memory, CPU time and OOM kills; cuts its
    /// output file back once past [`OUTPUT_CAP`] (the shim appends: only old output goes).
    pub(super) fn usage_of(&self, container: &str) -> WorkerUsage {
        let inner = self;
        let output = inner.output_file(container);
        if std::fs::metadata(&output).is_ok_and(|m| m.len() > OUTPUT_CAP) {
            // The shim appends: cutting the file back loses only old output.
            let _ = std::fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(&output);
        }
        let memory = inner.cgroup_dir(container, "memory");
        let stats = crate::memory_limit::stats(&memory);
        let current = read_u64(&memory.join("memory.current"))
            .or_else(|| read_u64(&memory.join("memory.usage_in_bytes")))
            .unwrap_or_default();
        let cpu_ns = read_u64(&inner.cgroup_dir(container, "cpuacct").join("cpuacct.usage"))
            .or_else(|| {
                std::fs::read_to_string(memory.join("cpu.stat"))
                    .ok()
                    .and_then(|s| {
                        s.lines()
                            .find_map(|l| l.strip_prefix("usage_usec "))
                            .and_then(|v| v.trim().parse::<u64>().ok())
                            .map(|us| us * 1000)
                    })
            })
            .unwrap_or_default();
        WorkerUsage {
            memory_bytes: current,
            memory_max_bytes: stats.max_bytes,
            memory_limit_bytes: stats.limit_bytes,
            cpu_time_ms: cpu_ns / 1_000_000,
            oom_kills: stats.oom_kills,
        }
    }

    /// Removes the box's parent cgroups (`esb-<box>` under each controller), which runc
    /// leaves behind once their last worker is gone; a non-empty one stays.
    pub(super) fn remove_parent_cgroups(&self) {
        let name = format!("esb-{}", self.options.box_id);
        let root = Path::new("/sys/fs/cgroup");
        let _ = std::fs::remove_dir(root.join(&name));
        if let Ok(controllers) = std::fs::read_dir(root) {
            for c in controllers.flatten() {
                let _ = std::fs::remove_dir(c.path().join(&name));
            }
        }
    }
}

fn read_u64(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}
