//! The OCI runtime spec of a worker: what `docker run` would give the same container
//! (Docker's default capabilities, its seccomp boundary, masked and read-only kernel
//! paths, devices), plus Lambda's shape — a read-only root with a 512 MB `/tmp`,
//! `MemorySize` as the memory limit without swap, CPU weight following memory, a pid
//! limit — and the worker's own network namespace. runc reads it as JSON; it is
//! written as a JSON document here rather than through a spec-builder crate, one
//! literal being easier to check against the OCI spec than a chain of builders.

use std::path::Path;

use serde_json::{Value, json};

use super::seccomp;

/// The Any type containerd stores a container's spec under.
pub const SPEC_TYPE_URL: &str = "types.containerd.io/opencontainers/runtime-spec/1/Spec";

/// The annotation the runc shim groups containers by (containerd's runc v2 shim).
const SHIM_GROUP_ANNOTATION: &str = "io.containerd.runc.v2.group";

/// Docker's default capability set.
const CAPABILITIES: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

const MASKED_PATHS: [&str; 10] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
];

const READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// A host path mounted into the worker.
#[derive(Debug, Clone)]
pub struct Bind {
    pub source: String,
    pub destination: String,
    pub read_only: bool,
}

/// Everything a worker's spec is made of.
#[derive(Debug, Clone)]
pub struct WorkerSpec<'a> {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: &'a str,
    pub hostname: &'a str,
    pub memory_bytes: u64,
    /// Whether the kernel accounts swap (v1 `memory.memsw.*`): only then can swap be
    /// limited, to the memory limit itself (no swap).
    pub limit_swap: bool,
    pub cpu_shares: u64,
    pub pids_limit: i64,
    pub tmp_size: &'a str,
    pub netns: &'a Path,
    pub cgroups_path: String,
    pub binds: Vec<Bind>,
    /// Workers of one group share one runc shim process.
    pub shim_group: &'a str,
}

pub fn runtime_spec(w: &WorkerSpec<'_>) -> Value {
    let caps: Vec<&str> = CAPABILITIES.to_vec();
    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc",
               "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
               "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts",
               "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
               "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
               "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs",
               "options": ["nosuid", "noexec", "nodev", "ro"]}),
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
               "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}),
        json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
               "options": ["nosuid", "nodev", "mode=1777", format!("size={}", w.tmp_size)]}),
    ];
    mounts.extend(w.binds.iter().map(|b| {
        let access = if b.read_only { "ro" } else { "rw" };
        json!({"destination": b.destination, "type": "bind", "source": b.source,
               "options": ["rbind", "rprivate", access]})
    }));
    let mut memory = json!({"limit": w.memory_bytes});
    if w.limit_swap {
        memory["swap"] = json!(w.memory_bytes);
    }
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": w.args,
            "env": w.env,
            "cwd": if w.cwd.is_empty() { "/" } else { w.cwd },
            "capabilities": {
                "bounding": caps, "effective": caps, "permitted": caps,
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true,
        },
        "root": {"path": "rootfs", "readonly": true},
        // One shim serves every worker of the group: a new worker's task does not
        // wait for a shim of its own to start, and N workers cost one shim's memory.
        "annotations": {SHIM_GROUP_ANNOTATION: w.shim_group},
        "hostname": w.hostname,
        "mounts": mounts,
        "linux": {
            "resources": {
                "devices": [{"allow": false, "access": "rwm"}],
                "memory": memory,
                "cpu": {"shares": w.cpu_shares},
                "pids": {"limit": w.pids_limit},
            },
            "cgroupsPath": w.cgroups_path,
            "namespaces": [
                {"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"},
                {"type": "network", "path": w.netns},
            ],
            "maskedPaths": MASKED_PATHS,
            "readonlyPaths": READONLY_PATHS,
            "seccomp": seccomp::profile(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_carries_lambdas_limits_and_the_workers_namespace() {
        let netns = Path::new("/run/esb/netns/n1");
        let spec = runtime_spec(&WorkerSpec {
            args: vec!["/var/runtime/esb".into(), "rie".into()],
            env: vec!["A=1".into()],
            cwd: "",
            hostname: "w",
            memory_bytes: 128 << 20,
            limit_swap: true,
            cpu_shares: 74,
            pids_limit: 1024,
            tmp_size: "512m",
            netns,
            cgroups_path: "/esb-box/c1".into(),
            binds: vec![Bind {
                source: "/ca.pem".into(),
                destination: "/etc/esb/ca.pem".into(),
                read_only: true,
            }],
            shim_group: "esb-box",
        });
        assert_eq!(spec["root"]["readonly"], true);
        assert_eq!(spec["process"]["cwd"], "/");
        let res = &spec["linux"]["resources"];
        assert_eq!(res["memory"]["limit"], 128 << 20);
        assert_eq!(res["memory"]["swap"], 128 << 20);
        assert_eq!(res["pids"]["limit"], 1024);
        let tmp = spec["mounts"]
            .as_array()
            .and_then(|m| m.iter().find(|m| m["destination"] == "/tmp"))
            .expect("/tmp");
        assert!(
            tmp["options"]
                .as_array()
                .expect("options")
                .contains(&json!("size=512m"))
        );
        let ns = spec["linux"]["namespaces"].as_array().expect("namespaces");
        assert!(ns.contains(&json!({"type": "network", "path": netns})));
        assert_eq!(spec["linux"]["seccomp"], seccomp::profile());
        let ca = spec["mounts"]
            .as_array()
            .and_then(|m| m.iter().find(|m| m["destination"] == "/etc/esb/ca.pem"))
            .expect("ca");
        assert!(
            ca["options"]
                .as_array()
                .expect("options")
                .contains(&json!("ro"))
        );
    }
}
