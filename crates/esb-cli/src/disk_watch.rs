//! Watching the disk that holds the state dir. Edge machines fill their disks; when
//! this one does, each writer fails with its own error (answered to its client as AWS
//! would: the async queue's `ServiceException`, S3's `ServiceUnavailable`, ...) and
//! everything that needs no disk keeps serving. This says once, for the operator,
//! which path is full, and once again when space is back, rather than one warning per
//! failed write.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Below this many free bytes the disk counts as full: SQLite and the spools need a
/// little room for even a small write.
const FULL_BELOW: u64 = 1 << 20;
const LOOK_EVERY: Duration = Duration::from_secs(1);

/// Free and total bytes of the file system holding `path`, as this process may use
/// them (root may use the blocks reserved for it).
pub fn space(path: &Path) -> std::io::Result<(u64, u64)> {
    let stat = nix::sys::statvfs::statvfs(path).map_err(std::io::Error::from)?;
    let available = if nix::unistd::geteuid().is_root() {
        stat.blocks_free()
    } else {
        stat.blocks_available()
    };
    let unit = stat.fragment_size();
    Ok((available * unit, stat.blocks() * unit))
}

/// Says when the disk holding `state` fills up and when it has room again, for as long
/// as the task runs.
pub fn watch(state: PathBuf) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut full = false;
        let mut ticker = tokio::time::interval(LOOK_EVERY);
        loop {
            ticker.tick().await;
            let Ok((free, total)) = space(&state) else {
                continue;
            };
            if !full && free < FULL_BELOW {
                full = true;
                tracing::warn!(
                    path = %state.display(),
                    "no space left on the disk holding {} ({} free of {}): async events, S3 and DynamoDB writes, logs and worker records fail until space is freed; everything else keeps serving",
                    state.display(),
                    bytes(free),
                    bytes(total)
                );
            } else if full && free >= 2 * FULL_BELOW {
                full = false;
                tracing::info!(
                    path = %state.display(),
                    "space is back on the disk holding {} ({} free): writes resume",
                    state.display(),
                    bytes(free)
                );
            }
        }
    })
}

/// `esb status`'s line on the disk holding `state`.
pub fn status_line(state: &Path) -> String {
    match space(state) {
        Ok((free, total)) if free < FULL_BELOW => format!(
            "{}: FULL ({} free of {}): async events, S3 and DynamoDB writes and logs fail until space is freed",
            state.display(),
            bytes(free),
            bytes(total)
        ),
        Ok((free, total)) => format!(
            "{}: {} free of {}",
            state.display(),
            bytes(free),
            bytes(total)
        ),
        Err(e) => format!("{}: {e}", state.display()),
    }
}

fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n => format!("{} KiB", n / 1024),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn space_is_read_and_sizes_are_said_readably() {
        let (free, total) = space(Path::new("/")).expect("statvfs");
        assert!(total > 0 && free <= total);
        assert_eq!(bytes(512 * 1024), "512 KiB");
        assert_eq!(bytes(3 << 20), "3.0 MiB");
        assert_eq!(bytes(5 << 30), "5.0 GiB");
    }
}
