//! `<state>/box.pid`: the box of a state dir holds an exclusive lock on this file for
//! as long as it runs, so a second `esb up` on it is refused (two boxes would share one
//! box id and remove each other's workers) and `esb status`/`esb down` can tell
//! whether one runs. The lock, not the file, says so: two `esb up` started at once
//! cannot both take it, and the kernel releases it when the box ends, however it ends,
//! so a file left by a killed box means nothing. The pid written inside names the box
//! in messages and is what `esb down` signals.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use esb_state::StateDir;

/// How long [`BoxLock::acquire`] retries a lock held by someone else: [`running`]
/// holds it for an instant, a box for as long as it runs.
const CONTENDED: Duration = Duration::from_millis(200);
/// How long [`running`] waits for a box that has just taken the lock to write its pid.
const PID_WAIT: Duration = Duration::from_millis(500);
const RETRY: Duration = Duration::from_millis(10);

/// Held while this process runs the box: the lock goes when this is dropped or the
/// process ends, and the pid file with it.
pub struct BoxLock {
    path: PathBuf,
    /// Locked (exclusive) for the life of the box.
    _file: File,
}

impl BoxLock {
    /// Makes this process the box of `state_dir`, unless a live box already is.
    pub fn acquire(state_dir: &StateDir) -> Result<Self> {
        let path = state_dir.box_pid();
        let deadline = Instant::now() + CONTENDED;
        let mut file = loop {
            // Opened without truncating: the pid of a live holder stays readable.
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .with_context(|| format!("cannot open {}", path.display()))?;
            match file.try_lock() {
                Ok(()) if names(&path, &file) => break file,
                // The previous box removed this file after it was opened: take the
                // one now at `path`.
                Ok(()) => {}
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(RETRY);
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(refusal(state_dir, holder_pid(&path)));
                }
                Err(TryLockError::Error(e)) => {
                    return Err(e).with_context(|| format!("cannot lock {}", path.display()));
                }
            }
        };
        file.set_len(0)
            .and_then(|()| file.write_all(std::process::id().to_string().as_bytes()))
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(Self { path, _file: file })
    }
}

impl Drop for BoxLock {
    fn drop(&mut self) {
        // Removed while still locked; whoever opened it meanwhile sees that `path`
        // no longer names it (`names`) and opens the new one.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// An error saying where the box already running on `state_dir` serves, if one runs.
pub fn refuse_if_running(state_dir: &StateDir) -> Result<()> {
    match running(state_dir) {
        Some(pid) => Err(refusal(state_dir, Some(pid))),
        None => Ok(()),
    }
}

/// The pid of the box serving `state_dir`, if one runs (someone holds the lock).
pub fn running(state_dir: &StateDir) -> Option<u32> {
    let path = state_dir.box_pid();
    let file = File::open(&path).ok()?;
    // Shared: probes at the same time do not see each other as a box.
    match file.try_lock_shared() {
        Ok(()) => None,
        Err(TryLockError::WouldBlock) => holder_pid(&path),
        Err(TryLockError::Error(e)) => {
            tracing::debug!("cannot probe {}: {e}", path.display());
            None
        }
    }
}

fn refusal(state_dir: &StateDir, pid: Option<u32>) -> anyhow::Error {
    let mut about: Vec<String> = pid.map(|pid| format!("pid {pid}")).into_iter().collect();
    if let Some(s) = crate::box_state::read(state_dir) {
        about.push(format!("serving {}", s.url));
    }
    let about = if about.is_empty() {
        String::new()
    } else {
        format!(" ({})", about.join(", "))
    };
    let dir = state_dir.root().display();
    anyhow!(
        "a box is already running on {dir}{about}; stop it with `esb down --state-dir {dir}` or use another --state-dir"
    )
}

/// The pid the lock's holder wrote, waiting a little for one that has just taken it.
fn holder_pid(path: &Path) -> Option<u32> {
    let deadline = Instant::now() + PID_WAIT;
    loop {
        let text = std::fs::read_to_string(path).ok()?;
        if let Ok(pid) = text.trim().parse() {
            return Some(pid);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(RETRY);
    }
}

/// Whether `path` still names `file` (it was not removed or replaced since opened).
fn names(path: &Path, file: &File) -> bool {
    match (std::fs::metadata(path), file.metadata()) {
        (Ok(named), Ok(open)) => named.dev() == open.dev() && named.ino() == open.ino(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Barrier;

    use super::*;

    #[test]
    fn a_second_lock_fails_while_the_first_is_held_and_succeeds_after() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(dir.path());
        assert_eq!(running(&state), None);

        let first = BoxLock::acquire(&state).unwrap();
        assert_eq!(running(&state), Some(std::process::id()));
        let second = BoxLock::acquire(&state).err().unwrap().to_string();
        assert!(
            second.contains("already running")
                && second.contains(&format!("(pid {})", std::process::id())),
            "{second}"
        );
        assert!(refuse_if_running(&state).is_err());

        drop(first);
        assert!(!state.box_pid().exists());
        assert_eq!(running(&state), None);
        let _third = BoxLock::acquire(&state).unwrap();
        assert_eq!(running(&state), Some(std::process::id()));
    }

    #[test]
    fn a_pid_file_left_by_a_killed_box_is_no_box() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(dir.path());
        // Even a pid that names a live process: nobody holds the lock.
        std::fs::write(state.box_pid(), "1").unwrap();
        assert_eq!(running(&state), None);
        assert!(refuse_if_running(&state).is_ok());
        let _lock = BoxLock::acquire(&state).unwrap();
        assert_eq!(
            std::fs::read_to_string(state.box_pid()).unwrap(),
            std::process::id().to_string()
        );
    }

    #[test]
    fn of_boxes_started_at_once_exactly_one_runs() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(dir.path());
        let (start, held) = (Barrier::new(8), Barrier::new(8));
        let won = std::thread::scope(|s| {
            let tries: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        start.wait();
                        let lock = BoxLock::acquire(&state);
                        // Every attempt is over before any lock is released.
                        held.wait();
                        lock.is_ok()
                    })
                })
                .collect();
            tries
                .into_iter()
                .filter_map(|t| t.join().ok())
                .filter(|&locked| locked)
                .count()
        });
        assert_eq!(won, 1);
    }
}
