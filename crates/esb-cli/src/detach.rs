//! `esb up --detach`: the same `esb up` re-run in the background, in its own session
//! (closing the terminal does not stop it), its output in `<state>/logs/box.log`.
//! `--wait` returns only once it serves, or fails with the end of its log.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use esb_state::StateDir;

/// Longest `--wait` (a first start may build images or a Python venv).
const WAIT_LIMIT: Duration = Duration::from_secs(900);

pub fn spawn(state_dir: &StateDir, wait: bool) -> Result<()> {
    crate::box_lock::refuse_if_running(state_dir)?;
    let logs = state_dir.logs();
    std::fs::create_dir_all(&logs).with_context(|| format!("cannot create {}", logs.display()))?;
    let log_path = state_dir.box_log();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("cannot open {}", log_path.display()))?;
    let args: Vec<_> = std::env::args_os()
        .skip(1)
        .filter(|a| !matches!(a.to_str(), Some("--detach" | "-d" | "--wait")))
        .collect();
    let exe = std::env::current_exe().context("cannot find the esb binary")?;
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(log.try_clone().context("log file")?)
        .stderr(log);
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .context("cannot start the box in the background")?;
    let pid = child.id();
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().context("waiting for the box")? {
            bail!(
                "the box stopped at once ({status}); the end of {}:\n{}",
                log_path.display(),
                tail(&log_path, 20)
            );
        }
        if let Some(state) = crate::box_state::read(state_dir).filter(|s| s.pid == pid) {
            crate::quiet::say!("esb: the box serves at {} (pid {pid})", state.url);
            break;
        }
        if !wait && started.elapsed() > Duration::from_millis(500) {
            crate::quiet::say!("esb: the box is starting in the background (pid {pid})");
            break;
        }
        if started.elapsed() > WAIT_LIMIT {
            bail!(
                "the box (pid {pid}) does not serve after {} s; see {}",
                WAIT_LIMIT.as_secs(),
                log_path.display()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    crate::quiet::say!(
        "esb: its output goes to {}; `esb status` shows it, `esb down` stops it",
        log_path.display()
    );
    Ok(())
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
