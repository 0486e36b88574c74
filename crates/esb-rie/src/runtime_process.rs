//! The language runtime as a child process: spawned in its own process group (so a
//! timeout or reset kills everything it started), tied to the RIE's life, and measured
//! for the REPORT line's real `Max Memory Used`.

use std::os::fd::OwnedFd;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{ExitStatus, Stdio};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("cannot start the runtime {program:?}: {reason}")]
    Spawn {
        program: String,
        reason: std::io::Error,
    },
    #[error("no runtime command was given and no bootstrap exists at {tried}")]
    NoBootstrap { tried: String },
}

/// A started runtime. Its stdout/stderr are handed to the log capture.
pub struct RuntimeProcess {
    pub pid: u32,
    pub child: tokio::process::Child,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

/// AWS RIE's bootstrap lookup when no command is given.
pub fn default_command() -> Result<Vec<String>, SpawnError> {
    const CANDIDATES: [&str; 3] = [
        "/var/task/bootstrap",
        "/opt/bootstrap",
        "/var/runtime/bootstrap",
    ];
    CANDIDATES
        .iter()
        .find(|p| Path::new(p).is_file())
        .map(|p| vec![p.to_string()])
        .ok_or_else(|| SpawnError::NoBootstrap {
            tried: CANDIDATES.join(", "),
        })
}

pub fn spawn(
    command: &[String],
    env: &[(String, String)],
    cwd: &Path,
) -> Result<RuntimeProcess, SpawnError> {
    let program = command.first().cloned().unwrap_or_default();
    let spawn_err = |reason| SpawnError::Spawn {
        program: program.clone(),
        reason,
    };
    let mut cmd = tokio::process::Command::new(&program);
    cmd.args(&command[1..])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    for var in crate::config::PRIVATE_VARS {
        cmd.env_remove(var);
    }
    // SAFETY: prctl is async-signal-safe; it only asks the kernel to SIGKILL the
    // runtime if the RIE dies, so no runtime outlives its worker even on SIGKILL.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(spawn_err)?;
    let pid = child.id().unwrap_or_default();
    let stdout = child
        .stdout
        .take()
        .and_then(|s| s.into_owned_fd().ok())
        .ok_or_else(|| spawn_err(std::io::Error::other("stdout pipe missing")))?;
    let stderr = child
        .stderr
        .take()
        .and_then(|s| s.into_owned_fd().ok())
        .ok_or_else(|| spawn_err(std::io::Error::other("stderr pipe missing")))?;
    Ok(RuntimeProcess {
        pid,
        child,
        stdout,
        stderr,
    })
}

/// Signals the runtime's whole process group (it is the group leader).
pub fn signal_group(pid: u32, signal: Signal) {
    if let Ok(pid) = i32::try_from(pid) {
        // ESRCH just means everything already exited.
        let _ = killpg(Pid::from_raw(pid), signal);
    }
}

/// Describes an exit the way Lambda's `Runtime.ExitError` message does
/// (`exit status 3`, `signal: killed`).
pub fn describe_exit(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exit status {code}");
    }
    let sig = status.signal().unwrap_or_default();
    let name = match sig {
        libc::SIGKILL => "killed".to_string(),
        libc::SIGSEGV => "segmentation fault".to_string(),
        libc::SIGABRT => "aborted".to_string(),
        libc::SIGTERM => "terminated".to_string(),
        libc::SIGBUS => "bus error".to_string(),
        libc::SIGILL => "illegal instruction".to_string(),
        libc::SIGFPE => "floating point exception".to_string(),
        other => format!("signal {other}"),
    };
    if status.core_dumped() {
        format!("signal: {name} (core dumped)")
    } else {
        format!("signal: {name}")
    }
}

/// Peak resident memory (sum of `VmHWM`) of the process tree rooted at `pid`, in KiB.
pub fn peak_memory_kib(pid: u32) -> u64 {
    crate::process_tree::sum_status_kib(&crate::process_tree::tree(pid), "VmHWM")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_descriptions_match_lambda() {
        assert_eq!(describe_exit(ExitStatus::from_raw(3 << 8)), "exit status 3");
        assert_eq!(
            describe_exit(ExitStatus::from_raw(libc::SIGKILL)),
            "signal: killed"
        );
        assert_eq!(
            describe_exit(ExitStatus::from_raw(libc::SIGSEGV | 0x80)),
            "signal: segmentation fault (core dumped)"
        );
    }

    #[test]
    fn own_peak_memory_is_measured() {
        let kib = peak_memory_kib(std::process::id());
        assert!(kib > 100, "the test process uses more than 100 KiB: {kib}");
    }
}
