//! The `process` runtime: each worker is `esb rie` plus the language runtime as local
//! child processes (their own process group, the function's environment, code dir and
//! layers, a memory cgroup where the machine allows it). The default where no Docker
//! daemon answers, so ESB works on a bare machine.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use esb_proto::agent::FunctionSpec;
use esb_rie::process_tree;
use esb_state::StateDir;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::{RuntimeError, WorkerRuntime, WorkerUsage};
use crate::memory_limit::WorkerCgroup;
use crate::python_env::PythonEnv;
use crate::worker_env::{LOG_SPOOL_VAR, WORKER_ID_VAR};
use crate::worker_record::{WorkerRecord, new_token, spec_hash};

/// Host variables a process worker keeps (everything else comes from the template).
const PASSED_THROUGH: [&str; 7] = [
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "USER",
    "TMPDIR",
    "SSL_CERT_FILE",
];
const READY_TIMEOUT: Duration = Duration::from_secs(15);

pub struct ProcessRuntime {
    esb: PathBuf,
    state_dir: StateDir,
    python: PythonEnv,
    lifeline_pid: Option<u32>,
    listen_ip: IpAddr,
    warned_no_cgroup: AtomicBool,
}

impl ProcessRuntime {
    /// `esb` is the binary started as each worker's entrypoint; with `lifeline_pid`,
    /// workers stop when that process ends (the box), otherwise they survive an agent
    /// restart and are re-adopted.
    pub fn new(esb: PathBuf, state_dir: &StateDir, lifeline_pid: Option<u32>) -> Self {
        crate::memory_limit::sweep_stale();
        Self {
            esb,
            state_dir: state_dir.clone(),
            python: PythonEnv::new(state_dir),
            lifeline_pid,
            listen_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            warned_no_cgroup: AtomicBool::new(false),
        }
    }

    /// Workers listen on `ip` instead of 127.0.0.1: on a remote node, the address the
    /// box's gateway reaches the node at. (Their Runtime API stays on loopback.)
    pub fn with_listen_ip(mut self, ip: IpAddr) -> Self {
        self.listen_ip = ip;
        self
    }

    pub fn python_env(&self) -> &PythonEnv {
        &self.python
    }

    async fn runtime_command(&self, spec: &FunctionSpec) -> Result<Vec<String>, RuntimeError> {
        if spec.runtime.starts_with("python3") {
            let python = self.python.ensure().await?;
            return Ok(vec![
                python.display().to_string(),
                "-m".into(),
                "awslambdaric".into(),
                spec.handler.clone(),
            ]);
        }
        if matches!(
            spec.runtime.as_str(),
            "provided" | "provided.al2" | "provided.al2023"
        ) {
            return Ok(vec![
                Path::new(&spec.code_dir)
                    .join("bootstrap")
                    .display()
                    .to_string(),
            ]);
        }
        Err(RuntimeError::Unsupported(spec.runtime.clone()))
    }

    /// The function's environment: host basics, Lambda's variables, layers, then the
    /// template's variables.
    fn environment(&self, spec: &FunctionSpec) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = PASSED_THROUGH
            .iter()
            .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
            .collect();
        env.extend([
            ("AWS_LAMBDA_FUNCTION_NAME".into(), spec.name.clone()),
            (
                "AWS_LAMBDA_FUNCTION_TIMEOUT".into(),
                spec.timeout_s.to_string(),
            ),
            (
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(),
                spec.memory_mb.to_string(),
            ),
            ("_HANDLER".into(), spec.handler.clone()),
            ("LAMBDA_TASK_ROOT".into(), spec.code_dir.clone()),
        ]);
        // Lambda unpacks layers into /opt; a process worker reaches them in place.
        let layer_paths = |sub: &str| {
            spec.layers
                .iter()
                .rev()
                .map(|l| Path::new(l).join(sub).display().to_string())
                .collect::<Vec<_>>()
        };
        if !spec.layers.is_empty() {
            let mut python_path = layer_paths("python");
            python_path.extend(
                layer_paths("python/lib")
                    .into_iter()
                    .flat_map(site_packages),
            );
            env.push(("PYTHONPATH".into(), python_path.join(":")));
            let mut path = layer_paths("bin");
            path.push(std::env::var("PATH").unwrap_or_default());
            env.retain(|(k, _)| k != "PATH");
            env.push(("PATH".into(), path.join(":")));
            env.push(("LD_LIBRARY_PATH".into(), layer_paths("lib").join(":")));
        }
        for (k, v) in &spec.environment {
            env.retain(|(name, _)| name != k);
            env.push((k.clone(), v.clone()));
        }
        env
    }

    async fn spawn_ready(
        &self,
        id: &str,
        spec: &FunctionSpec,
        command: &[String],
        cgroup: Option<&WorkerCgroup>,
        token: &str,
    ) -> Result<(u32, String), RuntimeError> {
        let start_err = |detail: String| RuntimeError::Start {
            worker: id.to_string(),
            detail,
        };
        // The worker's stdout and stderr (its `esb rie` and runtime), while it lives.
        let log_path = self.state_dir.worker_log(id);
        if let Some(dir) = log_path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| start_err(format!("log dir: {e}")))?;
        }
        let mut last_error = String::new();
        // A port picked free can be taken before the worker binds it: try again.
        for _ in 0..3 {
            let port = free_port(self.listen_ip)
                .map_err(|e| start_err(format!("no free port on {}: {e}", self.listen_ip)))?;
            let address = SocketAddr::new(self.listen_ip, port).to_string();
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log_path)
                .map_err(|e| start_err(format!("log file: {e}")))?;
            let log_err = log
                .try_clone()
                .map_err(|e| start_err(format!("log file: {e}")))?;
            let mut cmd = tokio::process::Command::new(&self.esb);
            cmd.arg("rie")
                .args(["--listen", &address, "--runtime-api", "127.0.0.1:0"]);
            if let Some(pid) = self.lifeline_pid {
                cmd.args(["--lifeline-pid", &pid.to_string()]);
            }
            cmd.arg("--")
                .args(command)
                .current_dir(&spec.code_dir)
                .env_clear()
                .envs(self.environment(spec))
                .env(esb_lambda::headers::WORKER_TOKEN_VAR, token)
                .env(WORKER_ID_VAR, id)
                .env(LOG_SPOOL_VAR, self.state_dir.worker_log_spool(id))
                .stdin(Stdio::null())
                .stdout(log)
                .stderr(log_err)
                .process_group(0);
            if let Some(cg) = cgroup {
                // SAFETY: the hook only calls write(2); `cg` lives across the spawn.
                unsafe {
                    cmd.pre_exec(cg.joiner());
                }
            }
            let mut child = cmd
                .spawn()
                .map_err(|e| start_err(format!("cannot run {}: {e}", self.esb.display())))?;
            let pid = child.id().unwrap_or_default();
            let deadline = Instant::now() + READY_TIMEOUT;
            loop {
                if tokio::net::TcpStream::connect(&address).await.is_ok() {
                    // Reap the worker when it ends; nothing else waits for it.
                    tokio::spawn(async move {
                        let _ = child.wait().await;
                    });
                    return Ok((pid, address));
                }
                if let Ok(Some(status)) = child.try_wait() {
                    last_error = format!("esb rie exited ({status}); see {}", log_path.display());
                    break;
                }
                if Instant::now() > deadline {
                    let _ = child.kill().await;
                    return Err(start_err(format!(
                        "no answer on {address} within {}s; see {}",
                        READY_TIMEOUT.as_secs(),
                        log_path.display()
                    )));
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        Err(start_err(last_error))
    }
}

#[async_trait]
impl WorkerRuntime for ProcessRuntime {
    fn kind(&self) -> &'static str {
        "process"
    }

    async fn create(&self, id: &str, spec: &FunctionSpec) -> Result<WorkerRecord, RuntimeError> {
        let command = self.runtime_command(spec).await?;
        let limit = u64::from(spec.memory_mb) * 1024 * 1024;
        let cgroup = WorkerCgroup::create(id, limit);
        if cgroup.is_none() && !self.warned_no_cgroup.swap(true, Ordering::Relaxed) {
            tracing::warn!("no writable memory cgroup: workers run without a memory limit");
        }
        let token = new_token();
        let spawned = self
            .spawn_ready(id, spec, &command, cgroup.as_ref(), &token)
            .await;
        if let (Some(cg), Err(_)) = (&cgroup, &spawned) {
            WorkerCgroup::remove(cg.path());
        }
        let (pid, address) = spawned?;
        Ok(WorkerRecord::running(
            id,
            spec,
            spec_hash(spec),
            address,
            pid,
            String::new(),
            token,
        ))
    }

    async fn destroy(&self, worker: &WorkerRecord) {
        let pids = process_tree::tree(worker.pid);
        signal_all(&[worker.pid], Signal::SIGCONT);
        signal_all(&[worker.pid], Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(3);
        while process_tree::is_running(worker.pid) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut remaining = pids;
        remaining.extend(process_tree::tree(worker.pid));
        remaining.retain(|p| process_tree::is_running(*p));
        signal_all(&remaining, Signal::SIGKILL);
        // Its lines are in the box's log store; the raw copy goes with the worker, so
        // worker files do not pile up on an edge box's disk.
        let _ = std::fs::remove_file(self.state_dir.worker_log(&worker.id));
        // The cgroup can only go once its last process is reaped: retried off the runtime.
        if let Some(dir) = WorkerCgroup::path_for(&worker.id) {
            let _ = tokio::task::spawn_blocking(move || WorkerCgroup::remove(&dir)).await;
        }
    }

    async fn pause(&self, worker: &WorkerRecord) -> Result<(), RuntimeError> {
        signal_all(&process_tree::tree(worker.pid), Signal::SIGSTOP);
        Ok(())
    }

    async fn resume(&self, worker: &WorkerRecord) -> Result<(), RuntimeError> {
        signal_all(&process_tree::tree(worker.pid), Signal::SIGCONT);
        Ok(())
    }

    async fn is_alive(&self, worker: &WorkerRecord) -> bool {
        let cmdline = std::fs::read(format!("/proc/{}/cmdline", worker.pid)).unwrap_or_default();
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        process_tree::is_running(worker.pid)
            && args.contains(&b"rie".as_slice())
            && args.contains(&worker.address.as_bytes())
    }

    async fn cleanup(&self, worker: &WorkerRecord) {
        if let Some(dir) = WorkerCgroup::path_for(&worker.id) {
            WorkerCgroup::remove(&dir);
        }
    }

    async fn usage(&self, worker: &WorkerRecord) -> WorkerUsage {
        let pids = process_tree::tree(worker.pid);
        let cgroup = WorkerCgroup::path_for(&worker.id)
            .map(|dir| crate::memory_limit::stats(&dir))
            .unwrap_or_default();
        WorkerUsage {
            memory_bytes: process_tree::sum_status_kib(&pids, "VmRSS") * 1024,
            memory_max_bytes: cgroup.max_bytes,
            memory_limit_bytes: cgroup.limit_bytes,
            cpu_time_ms: process_tree::sum_cpu_ms(&pids),
            oom_kills: cgroup.oom_kills,
        }
    }
}

fn signal_all(pids: &[u32], signal: Signal) {
    for pid in pids {
        if let Ok(p) = i32::try_from(*pid) {
            let _ = kill(Pid::from_raw(p), signal);
        }
    }
}

fn site_packages(python_lib: String) -> Vec<String> {
    std::fs::read_dir(&python_lib)
        .map(|dirs| {
            dirs.flatten()
                .map(|d| d.path().join("site-packages"))
                .filter(|p| p.is_dir())
                .map(|p| p.display().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn free_port(ip: IpAddr) -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind(SocketAddr::new(ip, 0))?
        .local_addr()?
        .port())
}
