//! The seccomp filter of a worker: the system calls Docker's default profile keeps
//! from a container that has Docker's default capabilities, refused with `EPERM`
//! (Docker's table "Significant syscalls blocked by the default profile"), plus
//! io_uring, whose operations seccomp never sees (Docker blocks it too, since 25.0).
//!
//! Docker's profile is an allowlist of some 350 calls; this is the same boundary
//! written as a denylist, so a call newer than the list (the kernel and libc grow)
//! still works rather than failing with an `EPERM` no one can explain. runc skips
//! names its libseccomp does not know, so the list can name calls of any kernel.

use serde_json::{Value, json};

/// The calls refused outright.
const REFUSED: &[&str] = &[
    // The kernel keyring is not namespaced.
    "add_key",
    "keyctl",
    "request_key",
    // Time is not namespaced.
    "clock_adjtime",
    "clock_settime",
    "settimeofday",
    "stime",
    // Kernel modules, a new kernel, rebooting, swap, accounting, quotas.
    "create_module",
    "delete_module",
    "finit_module",
    "init_module",
    "get_kernel_syms",
    "query_module",
    "kexec_file_load",
    "kexec_load",
    "reboot",
    "swapon",
    "swapoff",
    "acct",
    "quotactl",
    "quotactl_fd",
    // Namespaces and mounts: a worker stays where runc put it.
    "unshare",
    "setns",
    "mount",
    "umount",
    "umount2",
    "pivot_root",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "move_mount",
    "open_tree",
    "mount_setattr",
    // Opening files by handle (an old container breakout) and process inspection.
    "open_by_handle_at",
    "name_to_handle_at",
    "kcmp",
    "process_vm_readv",
    "process_vm_writev",
    // Tracing and profiling that leak what the host runs.
    "bpf",
    "perf_event_open",
    "lookup_dcookie",
    "userfaultfd",
    // io_uring: the operations it runs never pass through this filter.
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    // NUMA memory placement.
    "get_mempolicy",
    "set_mempolicy",
    "mbind",
    "move_pages",
    // Port I/O, x86 real mode, and obsolete calls.
    "ioperm",
    "iopl",
    "vm86",
    "vm86old",
    "nfsservctl",
    "uselib",
    "ustat",
    "sysfs",
    "_sysctl",
];

/// `clone` flags that make a new namespace (`CLONE_NEWNS`, `NEWCGROUP`, `NEWUTS`,
/// `NEWIPC`, `NEWUSER`, `NEWPID`, `NEWNET`): `clone` with any of them is refused.
const NAMESPACE_FLAGS: [u64; 7] = [
    0x0002_0000,
    0x0200_0000,
    0x0400_0000,
    0x0800_0000,
    0x1000_0000,
    0x2000_0000,
    0x4000_0000,
];

const EPERM: u32 = 1;
/// `clone3` passes its flags in memory seccomp cannot read: it answers "no such call",
/// and libc falls back to `clone`, whose flags the filter sees (what Docker does).
const ENOSYS: u32 = 38;

/// The `linux.seccomp` section of a worker's OCI spec.
pub fn profile() -> Value {
    let mut syscalls = vec![
        json!({"names": REFUSED, "action": "SCMP_ACT_ERRNO", "errnoRet": EPERM}),
        json!({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": ENOSYS}),
    ];
    // Each rule is one flag tested on its own: the conditions of one rule must all
    // hold, and "any of these bits" is not one condition.
    syscalls.extend(NAMESPACE_FLAGS.iter().map(|flag| {
        json!({
            "names": ["clone"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": EPERM,
            "args": [{"index": 0, "value": flag, "valueTwo": flag, "op": "SCMP_CMP_MASKED_EQ"}],
        })
    }));
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": architectures(),
        "syscalls": syscalls,
    })
}

/// The host's architecture and the ones its kernel also runs (32-bit calls reach the
/// kernel through their own table, which the filter must cover too).
fn architectures() -> &'static [&'static str] {
    match std::env::consts::ARCH {
        "x86_64" => &["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "aarch64" => &["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_keyrings_and_modules_are_refused_and_everything_else_allowed() {
        let p = profile();
        assert_eq!(p["defaultAction"], "SCMP_ACT_ALLOW");
        let refused = p["syscalls"][0]["names"].as_array().expect("names");
        for call in [
            "unshare",
            "setns",
            "keyctl",
            "init_module",
            "io_uring_setup",
        ] {
            assert!(refused.contains(&json!(call)), "{call}");
        }
        let clone_rules = p["syscalls"]
            .as_array()
            .expect("rules")
            .iter()
            .filter(|r| r["names"] == json!(["clone"]))
            .count();
        assert_eq!(clone_rules, NAMESPACE_FLAGS.len());
        assert_eq!(
            NAMESPACE_FLAGS.iter().fold(0, |all, f| all | f),
            0x7E02_0000,
            "every namespace flag, as Docker's mask"
        );
    }
}
