//! `esb agent` with the process runtime, driven over its real gRPC contract: workers
//! start and answer, are listed, measured, paused, resumed, reused, destroyed, and
//! survive an agent restart (re-adopted, not killed).

use std::collections::BTreeMap;
use std::process::{Child, Stdio};
use std::time::Duration;

use esb_proto::AgentServiceClient;
use esb_proto::agent::{
    EnsureWorkerRequest, FunctionSpec, InfoRequest, ListWorkersRequest, MetricsRequest, WorkerRef,
    WorkerState,
};

use crate::support::{self, free_addr, wait_gone};

struct AgentProc {
    child: Child,
    addr: std::net::SocketAddr,
    state: std::path::PathBuf,
}

impl AgentProc {
    fn start(state: &std::path::Path, addr: std::net::SocketAddr) -> Self {
        let child = support::esb_command()
            .args([
                "agent",
                "--runtime",
                "process",
                "--listen",
                &addr.to_string(),
                "--state-dir",
            ])
            .arg(state)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start esb agent");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(std::time::Instant::now() < deadline, "agent did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            child,
            addr,
            state: state.to_path_buf(),
        }
    }

    async fn client(&self) -> AgentServiceClient<tonic::transport::Channel> {
        AgentServiceClient::connect(format!("http://{}", self.addr))
            .await
            .expect("connect to the agent")
    }
}

impl Drop for AgentProc {
    /// A standalone agent leaves its workers running on purpose; a failed test must not.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            kill_recorded_workers(&self.state);
        }
    }
}

fn kill_recorded_workers(state: &std::path::Path) {
    let records = std::fs::read_dir(state.join("agent/workers"))
        .into_iter()
        .flatten()
        .flatten();
    for record in records {
        let pid = std::fs::read(record.path())
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| v["pid"].as_u64());
        if let Some(pid) = pid {
            for p in support::descendants(pid as u32)
                .into_iter()
                .chain([pid as u32])
            {
                // SAFETY: kill(2) on a pid read from our own test's records.
                unsafe {
                    libc::kill(p as i32, libc::SIGKILL);
                }
            }
        }
    }
}

/// A state dir whose Python runtime is the test venv (already holding awslambdaric).
fn state_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("esb-agent-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("runtimes")).expect("state dir");
    let venv = support::python()
        .parent()
        .and_then(|b| b.parent())
        .expect("venv dir")
        .to_path_buf();
    std::os::unix::fs::symlink(venv, dir.join("runtimes/python")).expect("link the venv");
    dir
}

fn echo_spec() -> FunctionSpec {
    FunctionSpec {
        name: "echo-fn".into(),
        code_dir: support::python_functions().display().to_string(),
        handler: "handlers.context".into(),
        runtime: "python3.11".into(),
        timeout_s: 5,
        memory_mb: 256,
        environment: BTreeMap::from([("ESB_TEST_MARKER".to_string(), "via-agent".to_string())]),
        ..FunctionSpec::default()
    }
}

fn invoke(address: &str) -> serde_json::Value {
    let resp = reqwest::blocking::Client::new()
        .post(format!(
            "http://{address}/2015-03-31/functions/function/invocations"
        ))
        .body("{}")
        .timeout(Duration::from_secs(20))
        .send()
        .expect("invoke the worker");
    assert_eq!(resp.status(), 200);
    resp.json().expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_live_through_the_grpc_contract_and_an_agent_restart() {
    let state = state_dir("lifecycle");
    let addr = free_addr();
    let mut agent = AgentProc::start(&state, addr);
    let mut client = agent.client().await;

    let info = client
        .get_info(InfoRequest {})
        .await
        .expect("info")
        .into_inner();
    assert_eq!((info.runtime.as_str(), info.workers), ("process", 0));

    let worker = client
        .ensure_worker(EnsureWorkerRequest {
            function: Some(echo_spec()),
            worker_id: String::new(),
        })
        .await
        .expect("a worker")
        .into_inner();
    assert_eq!(worker.state, WorkerState::Running as i32);
    let address = worker.address.clone();
    let ctx = tokio::task::spawn_blocking(move || invoke(&address))
        .await
        .expect("invoke");
    assert_eq!(ctx["function_name"], "echo-fn");
    assert_eq!(ctx["env"]["ESB_TEST_MARKER"], "via-agent");
    assert_eq!(ctx["env"]["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "256");

    // Reuse: the same id comes back for the same spec.
    let again = client
        .ensure_worker(EnsureWorkerRequest {
            function: Some(echo_spec()),
            worker_id: worker.id.clone(),
        })
        .await
        .expect("reuse")
        .into_inner();
    assert_eq!(again.id, worker.id);

    let metrics = client
        .get_metrics(MetricsRequest {
            worker_ids: vec![worker.id.clone()],
        })
        .await
        .expect("metrics")
        .into_inner();
    assert!(metrics.workers[0].memory_bytes > 1024 * 1024, "{metrics:?}");

    let paused = client
        .pause_worker(WorkerRef {
            worker_id: worker.id.clone(),
        })
        .await
        .expect("pause")
        .into_inner();
    assert_eq!(paused.state, WorkerState::Paused as i32);
    let resumed = client
        .resume_worker(WorkerRef {
            worker_id: worker.id.clone(),
        })
        .await
        .expect("resume")
        .into_inner();
    assert_eq!(resumed.state, WorkerState::Running as i32);

    // The agent dies hard and comes back: the worker is still there and re-adopted.
    let worker_pids = support::descendants(agent.child.id());
    assert!(
        worker_pids.len() >= 2,
        "esb rie and its runtime: {worker_pids:?}"
    );
    let _ = agent.child.kill();
    let _ = agent.child.wait();
    assert!(
        worker_pids.iter().all(|p| support::alive(*p)),
        "workers outlive a standalone agent"
    );
    drop(agent);
    let agent = AgentProc::start(&state, addr);
    let mut client = agent.client().await;
    let listed = client
        .list_workers(ListWorkersRequest {
            function_name: "echo-fn".into(),
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.workers.len(), 1);
    assert_eq!(listed.workers[0].id, worker.id);
    let address = worker.address.clone();
    let ctx = tokio::task::spawn_blocking(move || invoke(&address))
        .await
        .expect("invoke after restart");
    assert_eq!(ctx["function_name"], "echo-fn");

    let destroyed = client
        .destroy_worker(WorkerRef {
            worker_id: worker.id.clone(),
        })
        .await
        .expect("destroy")
        .into_inner();
    assert!(destroyed.existed);
    let gone = client
        .list_workers(ListWorkersRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert!(gone.workers.is_empty());
    wait_gone(&worker_pids, Duration::from_secs(10));
    drop(agent);
    let _ = std::fs::remove_dir_all(&state);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_specs_get_clear_errors() {
    let state = state_dir("bad");
    let agent = AgentProc::start(&state, free_addr());
    let mut client = agent.client().await;
    let mut missing_dir = echo_spec();
    missing_dir.code_dir = "/nonexistent/code".into();
    let err = client
        .ensure_worker(EnsureWorkerRequest {
            function: Some(missing_dir),
            worker_id: String::new(),
        })
        .await
        .expect_err("missing code dir");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(
        err.message().contains("/nonexistent/code"),
        "{}",
        err.message()
    );
    let mut bad_runtime = echo_spec();
    bad_runtime.runtime = "cobol85".into();
    let err = client
        .ensure_worker(EnsureWorkerRequest {
            function: Some(bad_runtime),
            worker_id: String::new(),
        })
        .await
        .expect_err("unsupported runtime");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("cobol85"));
    let err = client
        .pause_worker(WorkerRef {
            worker_id: "nope".into(),
        })
        .await
        .expect_err("unknown worker");
    assert_eq!(err.code(), tonic::Code::NotFound);
    drop(agent);
    let _ = std::fs::remove_dir_all(&state);
}
