//! Shared harness for the RIE tests: starts AWS's RIE (the oracle) or `esb rie` on
//! free loopback ports around a real runtime client, and invokes them over HTTP.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;

pub mod containerd;
pub mod netns;

/// Which emulator to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emulator {
    /// AWS's own RIE binary from the aws-sam-cli wheel.
    Aws,
    /// `esb rie`.
    Esb,
}

pub const BOTH: [Emulator; 2] = [Emulator::Aws, Emulator::Esb];

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/esb-cli sits two levels below the repository root")
        .to_path_buf()
}

fn required(path: PathBuf, what: &str) -> PathBuf {
    assert!(
        path.exists(),
        "{what} is missing at {}: run scripts/test.sh, which installs every test dependency",
        path.display()
    );
    path
}

pub fn python() -> PathBuf {
    required(
        repo_root().join(".esb-test/venv/bin/python"),
        "the test venv (awslambdaric)",
    )
}

pub fn aws_rie() -> PathBuf {
    required(
        repo_root().join(".esb-test/aws-lambda-rie"),
        "AWS's RIE (oracle)",
    )
}

pub fn esb_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_esb"))
}

/// `esb` as every test runs it: with `ESB_S3_PORT=0`, `ESB_DYNAMODB_PORT=0`,
/// `ESB_CLOUDWATCH_LOGS_PORT=0` and `ESB_METRICS_LISTEN=127.0.0.1:0`, so a
/// box's data services take any free port instead of their defaults (9000, 8001, 9429) and
/// boxes started side by side never contend for one port. A test that wants a port of
/// its own sets the variable (or passes the flag) on the command, which wins.
pub fn esb_command() -> Command {
    let mut cmd = Command::new(esb_bin());
    cmd.env("ESB_S3_PORT", "0");
    cmd.env("ESB_DYNAMODB_PORT", "0");
    cmd.env("ESB_CLOUDWATCH_LOGS_PORT", "0");
    cmd.env("ESB_METRICS_LISTEN", "127.0.0.1:0");
    cmd
}

/// The running box's metrics URL (`http://127.0.0.1:P/metrics`), from its `box.json`
/// (waited for: the gateway's port is bound before the box writes it).
pub fn metrics_url(state: &Path) -> String {
    let read = || {
        let text = std::fs::read_to_string(state.join("box.json")).ok()?;
        let doc: serde_json::Value = serde_json::from_str(&text).ok()?;
        doc["metrics_url"].as_str().map(str::to_string)
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(url) = read() {
            return url;
        }
        assert!(
            Instant::now() < deadline,
            "box.json names no metrics listener"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn python_functions() -> PathBuf {
    repo_root().join("tests/functions/python")
}

/// The `lambda_runtime`-crate fixture, built by `cargo build --workspace`.
pub fn rust_bootstrap() -> PathBuf {
    let dir = esb_bin().parent().expect("binary dir").to_path_buf();
    required(
        dir.join("bootstrap"),
        "the Rust fixture function (cargo build -p esb-rust-fixture)",
    )
}

/// Command running a Python handler under awslambdaric.
pub fn python_cmd(handler: &str) -> Vec<String> {
    vec![
        python().display().to_string(),
        "-m".into(),
        "awslambdaric".into(),
        handler.into(),
    ]
}

/// A loopback address for a server a test starts (a box's gateway, a store): its port is
/// one no process binding port 0 can be given meanwhile (see esb-test-ports).
pub fn free_addr() -> SocketAddr {
    esb_test_ports::reserve_addr()
}

/// A running emulator with its runtime; killed on drop.
pub struct Rie {
    pub kind: Emulator,
    pub addr: SocketAddr,
    pub child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    client: reqwest::blocking::Client,
}

pub struct Spec {
    pub command: Vec<String>,
    pub cwd: PathBuf,
    pub env: Vec<(String, String)>,
    pub extra_args: Vec<String>,
}

impl Spec {
    pub fn python(handler: &str) -> Self {
        Self {
            command: python_cmd(handler),
            cwd: python_functions(),
            env: vec![("ESB_TEST_MARKER".into(), "from-the-caller".into())],
            extra_args: Vec::new(),
        }
    }

    pub fn rust() -> Self {
        Self {
            command: vec![rust_bootstrap().display().to_string()],
            cwd: python_functions(),
            env: Vec::new(),
            extra_args: Vec::new(),
        }
    }

    pub fn command(command: &[&str]) -> Self {
        Self {
            command: command.iter().map(|s| s.to_string()).collect(),
            cwd: python_functions(),
            env: Vec::new(),
            extra_args: Vec::new(),
        }
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn timeout(self, seconds: u32) -> Self {
        self.env("AWS_LAMBDA_FUNCTION_TIMEOUT", &seconds.to_string())
    }

    pub fn arg(mut self, arg: &str) -> Self {
        self.extra_args.push(arg.into());
        self
    }

    pub fn start(self, kind: Emulator) -> Rie {
        let addr = free_addr();
        let api = free_addr();
        let mut cmd = match kind {
            Emulator::Aws => {
                let mut c = Command::new(aws_rie());
                c.arg("--runtime-interface-emulator-address")
                    .arg(addr.to_string())
                    .arg("--runtime-api-address")
                    .arg(api.to_string());
                c.args(&self.command);
                c
            }
            Emulator::Esb => {
                let mut c = esb_command();
                c.arg("rie")
                    .arg("--listen")
                    .arg(addr.to_string())
                    .arg("--runtime-api")
                    .arg(api.to_string())
                    .args(&self.extra_args)
                    .arg("--")
                    .args(&self.command);
                c
            }
        };
        cmd.current_dir(&self.cwd)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start the emulator");
        let lines = capture_output(&mut child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "{kind:?} did not listen on {addr}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .expect("http client");
        Rie {
            kind,
            addr,
            child,
            lines,
            client,
        }
    }
}

/// What an invocation answered.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    pub fn function_error(&self) -> Option<&str> {
        self.header("x-amz-function-error")
    }

    pub fn log_tail(&self) -> String {
        let b64 = self
            .header("x-amz-log-result")
            .expect("X-Amz-Log-Result header");
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .expect("log result is base64");
        String::from_utf8_lossy(&raw).into_owned()
    }
}

impl Rie {
    pub fn url(&self) -> String {
        format!(
            "http://{}/2015-03-31/functions/function/invocations",
            self.addr
        )
    }

    pub fn invoke(&self, body: impl Into<Vec<u8>>) -> Answer {
        self.invoke_with(body, &[])
    }

    pub fn invoke_json(&self, value: serde_json::Value) -> Answer {
        self.invoke(value.to_string())
    }

    pub fn invoke_with(&self, body: impl Into<Vec<u8>>, headers: &[(&str, &str)]) -> Answer {
        self.request(&self.url(), body.into(), headers)
    }

    pub fn request(&self, url: &str, body: Vec<u8>, headers: &[(&str, &str)]) -> Answer {
        self.try_request(url, body, headers)
            .unwrap_or_else(|e| panic!("{:?} request failed: {e}", self.kind))
    }

    /// Like `request`, but a transport failure (connection closed without an answer)
    /// is returned instead of failing the test.
    pub fn try_request(
        &self,
        url: &str,
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> reqwest::Result<Answer> {
        let mut req = self.client.post(url).body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send()?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    v.to_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        let body = resp.bytes()?.to_vec();
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// Every stdout/stderr line the emulator printed so far.
    pub fn logs(&self) -> Vec<String> {
        self.lines.lock().expect("log lock").clone()
    }

    /// Waits until a printed line satisfies `pred`.
    pub fn wait_for_log(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(l) = self.logs().into_iter().find(|l| pred(l)) {
                return l;
            }
            assert!(
                Instant::now() < deadline,
                "no log line {what}; got:\n{}",
                self.logs().join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the REPORT line of invocation `request_id`.
    pub fn report_for(&self, request_id: &str) -> String {
        let prefix = format!("REPORT RequestId: {request_id}\t");
        self.wait_for_log(&format!("REPORT of {request_id}"), |l| {
            l.starts_with(&prefix)
        })
    }

    /// Processes started below the emulator (the runtime and its children).
    pub fn descendants(&self) -> Vec<u32> {
        descendants(self.child.id())
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: plain kill(2) on our own child.
        unsafe {
            libc::kill(self.child.id() as i32, sig);
        }
    }

    /// Waits for the emulator to exit and returns its exit code.
    pub fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            assert!(Instant::now() < deadline, "{:?} did not exit", self.kind);
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Rie {
    /// Kills the emulator (SIGKILL, the harshest end) and, for `esb rie`, checks that
    /// no runtime process outlived it.
    fn drop(&mut self) {
        let runtime = self.descendants();
        let _ = self.child.kill();
        let _ = self.child.wait();
        if self.kind == Emulator::Esb && !std::thread::panicking() {
            wait_gone(&runtime, Duration::from_secs(5));
        }
    }
}

#[allow(unused_imports)]
pub use libc::{SIGKILL, SIGTERM};

pub fn descendants(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut stack = vec![pid];
    while let Some(p) = stack.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) else {
            continue;
        };
        for t in tasks.flatten() {
            if let Ok(children) = std::fs::read_to_string(t.path().join("children")) {
                for c in children
                    .split_whitespace()
                    .filter_map(|c| c.parse::<u32>().ok())
                {
                    out.push(c);
                    stack.push(c);
                }
            }
        }
    }
    out
}

/// Collects every stdout/stderr line of a child started with piped output.
pub fn capture_output(child: &mut Child) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let streams = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
    ];
    for stream in streams.into_iter().flatten() {
        let lines = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                lines.lock().expect("log lock").push(line);
            }
        });
    }
    lines
}

/// Sends SIGTERM and waits for the exit, as a user stopping a process would.
pub fn terminate(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    // SAFETY: kill(2) on our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let deadline = Instant::now() + within;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "process {} did not stop after SIGTERM",
            child.id()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until an `esb up`/`esb gateway` answers HTTPS on `port`; returns a client
/// trusting the box's CA.
pub fn https_client(state: &Path, port: u16) -> reqwest::blocking::Client {
    https_client_within(state, port, Duration::from_secs(30))
}

/// `https_client`, waiting up to `within` (a first start may build a Python venv).
pub fn https_client_within(state: &Path, port: u16, within: Duration) -> reqwest::blocking::Client {
    let ca = state.join("certs/ca.pem");
    let deadline = Instant::now() + within;
    while !(ca.exists() && TcpStream::connect(("127.0.0.1", port)).is_ok()) {
        assert!(Instant::now() < deadline, "no HTTPS on port {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let cert = reqwest::Certificate::from_pem(&std::fs::read(&ca).expect("read the box CA"))
        .expect("CA pem");
    reqwest::blocking::Client::builder()
        .add_root_certificate(cert)
        .timeout(Duration::from_secs(60))
        .build()
        .expect("https client")
}

/// True while `pid` exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

pub fn wait_gone(pids: &[u32], within: Duration) {
    let deadline = Instant::now() + within;
    while pids.iter().any(|p| alive(*p)) {
        assert!(
            Instant::now() < deadline,
            "processes {pids:?} outlived their worker"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A function error document without the fields that differ per run.
pub fn without_request_id(mut v: serde_json::Value) -> serde_json::Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("requestId");
    }
    v
}

/// Runs the docker CLI (Debian's docker.io client) and returns its stdout.
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("run the docker CLI");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Ids of the worker containers (any state) of the box with state dir `state`; the
/// paused standby containers the docker runtime keeps ready are not workers.
pub fn box_containers(state: &Path) -> Vec<String> {
    let Ok(id) = std::fs::read_to_string(state.join("box-id")) else {
        return Vec::new();
    };
    let filter = format!("label=esb.box={}", id.trim());
    docker(&[
        "ps",
        "-a",
        "--filter",
        &filter,
        "--format",
        "{{.ID}} {{.Names}}",
    ])
    .lines()
    .filter_map(|l| l.split_once(' '))
    .filter(|(_, name)| !name.contains("-standby-"))
    .map(|(id, _)| id.to_string())
    .collect()
}

/// Waits until none of `ids` exists any more.
pub fn wait_containers_gone(ids: &[String], within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let left: Vec<String> = docker(&["ps", "-aq", "--no-trunc"])
            .split_whitespace()
            .filter(|c| ids.iter().any(|id| c.starts_with(id.as_str())))
            .map(str::to_string)
            .collect();
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "containers {left:?} outlived their box"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Removes every container and the network of the box with state dir `state`, for
/// tests that may have killed it (a passing test finds nothing to remove).
pub fn remove_box_objects(state: &Path) {
    let Ok(id) = std::fs::read_to_string(state.join("box-id")) else {
        return;
    };
    let filter = format!("label=esb.box={}", id.trim());
    let ids = docker(&["ps", "-aq", "--filter", &filter]);
    for container in ids.split_whitespace() {
        let _ = Command::new("docker")
            .args(["rm", "-f", container])
            .output();
    }
    let _ = Command::new("docker")
        .args(["network", "rm", &format!("esb-{}", id.trim())])
        .output();
}

/// The access key pair a box issued (`<state>/credentials`).
pub fn box_credentials(state: &Path) -> (String, String) {
    let deadline = Instant::now() + Duration::from_secs(300);
    let text = loop {
        if let Ok(t) = std::fs::read_to_string(state.join("credentials")) {
            break t;
        }
        assert!(Instant::now() < deadline, "the box issued no credentials");
        std::thread::sleep(Duration::from_millis(50));
    };
    let value = |key: &str| {
        text.lines()
            .find_map(|l| {
                let (k, v) = l.split_once('=')?;
                (k.trim() == key).then(|| v.trim().to_string())
            })
            .unwrap_or_else(|| panic!("{key} in the credentials file"))
    };
    (value("aws_access_key_id"), value("aws_secret_access_key"))
}

/// Signs a request with Signature V4 (service `lambda`, region us-east-1) as the AWS
/// SDKs do (with the AWS SDK's signer, through the gateway's client helper).
pub fn sign(
    req: &mut reqwest::blocking::Request,
    (key, secret): &(String, String),
    at: std::time::SystemTime,
) {
    let body = req
        .body()
        .and_then(|b| b.as_bytes())
        .map(<[u8]>::to_vec)
        .unwrap_or_default();
    let mut headers = req.headers().clone();
    let host = match req.url().port() {
        Some(p) => format!("{}:{p}", req.url().host_str().unwrap_or("")),
        None => req.url().host_str().unwrap_or("").to_string(),
    };
    headers.insert("host", host.parse().expect("host header"));
    let creds = esb_auth::BoxCredentials {
        access_key_id: key.clone(),
        secret_access_key: secret.clone(),
    };
    let signed = esb_auth::sign_headers(
        &creds,
        "us-east-1",
        "lambda",
        &esb_auth::SignedRequest {
            method: req.method().as_str(),
            uri: req.url().as_str(),
            headers: &headers,
            body: &body,
        },
        at,
    )
    .expect("sign");
    for (k, v) in signed {
        req.headers_mut().insert(
            reqwest::header::HeaderName::from_bytes(k.as_bytes()).expect("name"),
            v.parse().expect("value"),
        );
    }
}

/// Sends `req` signed with the box's credentials.
pub fn send_signed(
    client: &reqwest::blocking::Client,
    state: &Path,
    req: reqwest::blocking::RequestBuilder,
) -> reqwest::Result<reqwest::blocking::Response> {
    let mut req = req.build()?;
    sign(
        &mut req,
        &box_credentials(state),
        std::time::SystemTime::now(),
    );
    client.execute(req)
}

/// Points a state dir's Python runtime at the test venv (awslambdaric and boto3 are in
/// it), so a box starts without building its own.
pub fn link_venv(state: &Path) {
    std::fs::create_dir_all(state.join("runtimes")).expect("state dir");
    std::os::unix::fs::symlink(
        python().parent().and_then(Path::parent).expect("venv"),
        state.join("runtimes/python"),
    )
    .expect("link venv");
}

/// A project folder under the temp dir: `template.yaml` with Python 3.11 functions of
/// the test functions folder (`resources`: the YAML under `Resources:`), and a `.esb`
/// state dir whose Python runtime is the test venv.
pub fn python_project(name: &str, resources: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("esb-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    link_venv(&dir.join(".esb"));
    let template = format!(
        "Globals:\n  Function:\n    Runtime: python3.11\n    CodeUri: {}\n    Timeout: 5\nResources:\n{resources}",
        python_functions().display()
    );
    std::fs::write(dir.join("template.yaml"), template).expect("template");
    dir
}

/// An empty state dir under the temp dir, with the test venv as its Python runtime;
/// named for the test, this process and the call, so tests sharing a process (plain
/// `cargo test`) never share a state dir.
pub fn fresh_state_dir(name: &str) -> PathBuf {
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("esb-{name}-{}-{call}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    link_venv(&dir);
    dir
}

/// `esb up` of `template` with its state in `state`, then `extra`.
pub fn up_command(template: &Path, state: &Path, extra: &[&str]) -> Command {
    let mut cmd = esb_command();
    cmd.arg("up")
        .arg("--template")
        .arg(template)
        .arg("--state-dir")
        .arg(state)
        .args(extra);
    cmd
}

/// `esb up` on `<dir>/template.yaml` with `state`, workers of `runtime`, the gateway on
/// `port` and `args`, its output piped and collected (see [`capture_output`]).
pub fn esb_up(
    dir: &Path,
    state: &Path,
    runtime: &str,
    port: u16,
    args: &[&str],
) -> (Child, Arc<Mutex<Vec<String>>>) {
    let mut child = up_command(&dir.join("template.yaml"), state, &[])
        .args(["--runtime", runtime, "--port", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start esb up");
    let output = capture_output(&mut child);
    (child, output)
}

/// Waits until the client `writer` has acknowledged `n` writes (one line each in
/// `acks`); panics with its output if it stops first, or after five minutes.
pub fn wait_for_acks(writer: &mut Child, acks: &Path, n: usize) {
    let count = || {
        std::fs::read_to_string(acks)
            .map(|t| t.lines().filter(|l| !l.trim().is_empty()).count())
            .unwrap_or(0)
    };
    let deadline = Instant::now() + Duration::from_secs(300);
    while count() < n {
        if let Ok(Some(status)) = writer.try_wait() {
            let mut out = String::new();
            if let Some(mut pipe) = writer.stdout.take() {
                let _ = pipe.read_to_string(&mut out);
            }
            out.push('\n');
            if let Some(mut pipe) = writer.stderr.take() {
                let _ = pipe.read_to_string(&mut out);
            }
            panic!("the writer stopped early ({status}):\n{out}");
        }
        assert!(Instant::now() < deadline, "the writer got too few acks");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Polls `done` every 250 ms until it holds; panics naming `what` after `within`.
pub fn wait_for(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The URL a starting box prints after `prefix` (`"S3: "`, `"DynamoDB: "`) on a line
/// of its `output` (as [`capture_output`] collects it), once the service accepts
/// connections there; panics with the box's output if it exits or `within` passes.
pub fn wait_for_service(
    child: &mut Child,
    output: &Arc<Mutex<Vec<String>>>,
    prefix: &str,
    within: Duration,
) -> String {
    let deadline = std::time::Instant::now() + within;
    let url = loop {
        let lines = output.lock().expect("output lock").clone();
        if let Some(url) = lines.iter().find_map(|l| {
            l.strip_prefix(prefix)
                .and_then(|rest| rest.split_whitespace().next())
                .map(str::to_string)
        }) {
            break url;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("esb up exited ({status}):\n{}", lines.join("\n"));
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no `{prefix}` line in the banner:\n{}",
            lines.join("\n")
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let addr = url
        .rsplit_once("//")
        .map(|(_, a)| a.to_string())
        .unwrap_or_else(|| panic!("`{prefix}{url}` is not a URL"));
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing listens on {addr} ({prefix})"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    url
}

/// The URL a starting box prints on its banner line `<prefix>URL ...` (`"S3: "`,
/// `"DynamoDB: "`), read from its piped stdout.
pub fn banner_url(child: &mut Child, prefix: &'static str) -> String {
    use std::io::BufRead;
    let out = child.stdout.take().expect("the box's stdout is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix(prefix) {
                let _ = tx.send(
                    rest.split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_string(),
                );
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(120))
        .unwrap_or_else(|_| panic!("the box printed no `{prefix}` line"))
}

/// A command with the environment an AWS client of a box's data service needs: the
/// service's endpoint in `url_var`, the box's CA and credentials file (from `state`),
/// nothing of the caller's AWS settings; run in `dir`.
pub fn aws_client_command(
    program: impl AsRef<std::ffi::OsStr>,
    state: &Path,
    dir: &Path,
    url_var: &str,
    url: &str,
) -> Command {
    let mut cmd = Command::new(program);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("AWS_") {
            cmd.env_remove(&key);
        }
    }
    cmd.env(url_var, url)
        .env("AWS_CA_BUNDLE", state.join("certs/ca.pem"))
        .env("AWS_SHARED_CREDENTIALS_FILE", state.join("credentials"))
        .env("AWS_CONFIG_FILE", dir.join("no-aws-config"))
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("PYTHONUNBUFFERED", "1")
        .current_dir(dir)
        .stdin(Stdio::null());
    cmd
}

/// Writes `prelude` + `body` to `<dir>/<name>.py` (a client script that fills `out`
/// and prints it as JSON); the path.
pub fn client_script(dir: &Path, name: &str, prelude: &str, body: &str) -> PathBuf {
    let path = dir.join(format!("{name}.py"));
    std::fs::write(
        &path,
        format!("{prelude}\n{body}\nprint(json.dumps(out, default=str))\n"),
    )
    .expect("write the client script");
    path
}

/// A TLS connection to `127.0.0.1:port` trusting the box's CA (from `state`), for
/// writing raw bytes; reads time out after `read_timeout`.
pub fn raw_tls(
    state: &Path,
    port: u16,
    read_timeout: Duration,
) -> rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(state.join("certs/ca.pem"))
        .expect("CA pem")
    {
        roots.add(cert.expect("CA cert")).expect("add CA");
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocols")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let conn = rustls::ClientConnection::new(
        Arc::new(config),
        "localhost".try_into().expect("server name"),
    )
    .expect("TLS client");
    let tcp = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    tcp.set_read_timeout(Some(read_timeout)).expect("timeout");
    rustls::StreamOwned::new(conn, tcp)
}

/// Asserts that the box on `port` still answers a signed invoke of `echo` with 200.
pub fn assert_echo_serves(client: &reqwest::blocking::Client, state: &Path, port: u16) {
    let resp = send_signed(
        client,
        state,
        client
            .post(format!(
                "https://127.0.0.1:{port}/2015-03-31/functions/echo/invocations"
            ))
            .body(r#"{"alive": true}"#),
    )
    .expect("invoke");
    assert_eq!(resp.status(), 200);
}
