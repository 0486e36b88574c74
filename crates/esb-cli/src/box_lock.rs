//! `<state>/box.pid`: which process runs the box of a state dir, so a second `esb up`
//! on it is refused (two boxes would share one box id and remove each other's
//! workers) and `esb down` can stop it.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use esb_state::StateDir;

/// Held while this process runs the box; removes the pid file when dropped.
pub struct BoxLock {
    path: PathBuf,
}

impl BoxLock {
    /// Records this process as the box of `state_dir`, unless a live box already is.
    pub fn acquire(state_dir: &StateDir) -> Result<Self> {
        refuse_if_running(state_dir)?;
        let path = state_dir.box_pid();
        std::fs::write(&path, std::process::id().to_string())
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(Self { path })
    }
}

impl Drop for BoxLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// An error saying where the box already running on `state_dir` serves, if one runs.
pub fn refuse_if_running(state_dir: &StateDir) -> Result<()> {
    let Some(pid) = running(state_dir) else {
        return Ok(());
    };
    let at = crate::box_state::read(state_dir)
        .map(|s| format!(", serving {}", s.url))
        .unwrap_or_default();
    bail!(
        "a box is already running on {} (pid {pid}{at}); stop it with `esb down --state-dir {}` or use another --state-dir",
        state_dir.root().display(),
        state_dir.root().display()
    )
}

/// The pid of the live `esb` process recorded as the box of `state_dir`; a stale file
/// (process gone, or the pid reused by another program) counts as none.
pub fn running(state_dir: &StateDir) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(state_dir.box_pid())
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    let name = exe.file_name()?.to_string_lossy().into_owned();
    (pid != std::process::id() && name.starts_with("esb")).then_some(pid)
}
