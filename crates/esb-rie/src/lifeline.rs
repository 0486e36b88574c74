//! Ties a worker to the box that started it: `esb rie --lifeline-pid <pid>` shuts down
//! gracefully when that process ends, however it ends (even SIGKILL), so no worker
//! outlives its box. Uses a pidfd, which becomes readable when the process exits.

use std::os::fd::{FromRawFd, OwnedFd};

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// Resolves when process `pid` has exited (immediately if it does not exist).
pub async fn exited(pid: u32) {
    let Ok(raw_pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, raw_pid, 0) };
    let Ok(fd) = i32::try_from(fd) else {
        return;
    };
    if fd < 0 {
        tracing::warn!(pid, "lifeline process not found; shutting down");
        return;
    }
    // SAFETY: fd was just returned by pidfd_open and is owned by nobody else.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: an OwnedFd keeps the same open descriptor until the AsyncFd drops it.
    match unsafe { AsyncFd::register_with_interest(owned, Interest::READABLE) } {
        Ok(afd) => {
            let _ = afd.readable().await;
        }
        Err(e) => {
            tracing::error!("cannot watch lifeline process {pid}: {e}");
            std::future::pending::<()>().await;
        }
    }
    tracing::info!(pid, "lifeline process exited");
}
