//! End to end: the real `esb up` binary on a SAM project, driven over HTTPS (trusting
//! the box's generated CA) by the stock boto3 client and by plain HTTP requests. Every
//! scenario runs three times: with process workers, with docker workers (a real daemon,
//! images built by `esb build`) and with containerd workers (a real containerd, the
//! same images imported into it); all must give the same results.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support;

/// Where the box runs its workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rt {
    Process,
    Docker,
    Containerd,
}

impl Rt {
    fn flag(self) -> &'static str {
        match self {
            Rt::Process => "process",
            Rt::Docker => "docker",
            Rt::Containerd => "containerd",
        }
    }

    /// Workers are containers (of images `esb build` made).
    fn containers(self) -> bool {
        self != Rt::Process
    }

    /// The box's workers in `state`, or the descendants of `parent` for processes.
    fn workers_of(self, state: &Path, parent: u32) -> Workers {
        match self {
            Rt::Process => Workers::Pids(support::descendants(parent)),
            Rt::Docker => Workers::Containers(support::box_containers(state)),
            Rt::Containerd => Workers::Tasks(support::containerd::box_workers(state)),
        }
    }
}

/// The workers of a box: processes, or containers.
enum Workers {
    Pids(Vec<u32>),
    Containers(Vec<String>),
    Tasks(Vec<String>),
}

impl Workers {
    fn len(&self) -> usize {
        match self {
            Workers::Pids(p) => p.len(),
            Workers::Containers(c) | Workers::Tasks(c) => c.len(),
        }
    }

    fn wait_gone(&self, within: Duration) {
        match self {
            Workers::Pids(p) => support::wait_gone(p, within),
            Workers::Containers(c) => support::wait_containers_gone(c, within),
            Workers::Tasks(c) => support::containerd::wait_gone(c, within),
        }
    }

    /// Kills every worker behind the box's back.
    fn kill(&self) {
        match self {
            Workers::Pids(pids) => {
                for pid in pids {
                    // SAFETY: kill(2) on processes of our own box.
                    unsafe {
                        libc::kill(*pid as i32, libc::SIGKILL);
                    }
                }
            }
            Workers::Containers(ids) => {
                for id in ids {
                    support::docker(&["kill", id]);
                }
            }
            Workers::Tasks(ids) => ids.iter().for_each(|id| support::containerd::kill(id)),
        }
    }
}

struct Box_ {
    rt: Rt,
    child: Child,
    url: String,
    state: PathBuf,
    client: reqwest::blocking::Client,
    output: Arc<Mutex<Vec<String>>>,
}

fn project() -> PathBuf {
    support::repo_root().join("tests/projects/e2e/template.yaml")
}

/// A state dir whose Python runtime is the test venv (awslambdaric + boto3 already in).
fn state_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("esb-up-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("runtimes")).expect("state dir");
    let venv = support::python()
        .parent()
        .and_then(Path::parent)
        .expect("venv")
        .to_path_buf();
    std::os::unix::fs::symlink(venv, dir.join("runtimes/python")).expect("link venv");
    dir
}

use support::up_command as esb_up;

/// `esb agent` on `addr` for the split deployment; it removes its workers when stopped.
fn spawn_agent(state: &Path, addr: std::net::SocketAddr, rt: Rt) -> Child {
    support::esb_command()
        .args(["agent", "--runtime", rt.flag(), "--remove-workers-on-exit"])
        .args(["--listen", &addr.to_string()])
        .arg("--state-dir")
        .arg(state)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("esb agent")
}

/// `esb gateway` of the e2e project on `port`, using the agent at `agent`.
fn spawn_gateway(state: &Path, port: u16, agent: std::net::SocketAddr, extra: &[&str]) -> Child {
    support::esb_command()
        .arg("gateway")
        .arg("--template")
        .arg(project())
        .arg("--state-dir")
        .arg(state)
        .args([
            "--port",
            &port.to_string(),
            "--agent",
            &format!("http://{agent}"),
        ])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("esb gateway")
}

impl Box_ {
    fn start(name: &str, rt: Rt) -> Self {
        Self::start_with(name, rt, &project(), &[])
    }

    fn start_with(name: &str, rt: Rt, template: &Path, extra: &[&str]) -> Self {
        let state = state_dir(&format!("{name}-{}", rt.flag()));
        let port = support::free_addr().port();
        let port_arg = port.to_string();
        let mut args = vec![
            "--port",
            &port_arg,
            "--acquire-timeout",
            "0.5",
            "--runtime",
            rt.flag(),
        ];
        args.extend_from_slice(extra);
        let mut child = esb_up(template, &state, &args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start esb up");
        let output = support::capture_output(&mut child);
        let client = support::https_client_within(&state, port, Duration::from_secs(300));
        Self {
            rt,
            child,
            url: format!("https://127.0.0.1:{port}"),
            state,
            client,
            output,
        }
    }

    fn invoke(
        &self,
        function: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> (u16, reqwest::header::HeaderMap, String) {
        let mut req = self
            .client
            .post(format!(
                "{}/2015-03-31/functions/{function}/invocations",
                self.url
            ))
            .body(body.to_string());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = support::send_signed(&self.client, &self.state, req).expect("invoke over HTTPS");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        (status, headers, resp.text().expect("body"))
    }

    fn workers(&self) -> Workers {
        self.rt.workers_of(&self.state, self.child.id())
    }

    fn invoke_json(&self, function: &str, body: &str) -> Value {
        let (status, _, body) = self.invoke(function, body, &[]);
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).expect("json")
    }
}

impl Drop for Box_ {
    /// Stops the box as a user does (SIGTERM), hard-killing it only if it hangs.
    fn drop(&mut self) {
        let workers = self.workers();
        if !matches!(self.child.try_wait(), Ok(Some(_))) && !std::thread::panicking() {
            support::terminate(&mut self.child, Duration::from_secs(15));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            workers.wait_gone(Duration::from_secs(30));
        }
        // A failed test must not leave containers behind.
        match self.rt {
            Rt::Docker => support::remove_box_objects(&self.state),
            Rt::Containerd => support::containerd::remove_box_objects(&self.state),
            Rt::Process => {}
        }
        let _ = std::fs::remove_dir_all(&self.state);
    }
}

fn boto3_invoke_works_unchanged(rt: Rt) {
    let b = Box_::start("boto3", rt);
    let out = Command::new(support::python())
        .arg(support::repo_root().join("tests/e2e/boto3_client.py"))
        .arg(&b.url)
        .arg(b.state.join("certs/ca.pem"))
        .env("AWS_SHARED_CREDENTIALS_FILE", b.state.join("credentials"))
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .output()
        .expect("run boto3");
    assert!(
        out.status.success(),
        "boto3 client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("report");
    assert_eq!(
        report["success"],
        json!({"status": 200, "error": null, "payload": {"k": "v"}, "version": "$LATEST"})
    );
    // Signature V4 is checked against the box's issued pair, with Lambda's errors.
    assert_eq!(
        report["wrong_secret"],
        json!({"status": 403, "code": "InvalidSignatureException"})
    );
    assert_eq!(
        report["unknown_key"],
        json!({"status": 403, "code": "UnrecognizedClientException"})
    );
    assert_eq!(report["function_error"]["status"], 200);
    assert_eq!(report["function_error"]["error"], "Unhandled");
    assert_eq!(
        report["function_error"]["payload"]["errorType"],
        "ValueError"
    );
    let log = report["tail"]["log"].as_str().expect("tail");
    assert!(
        log.contains("log line 1 for") && log.contains("REPORT RequestId:"),
        "{log}"
    );
    assert_eq!(report["event"]["status"], 202);
    assert_eq!(report["dry_run"]["status"], 204);
    let unknown = report["unknown"].as_str().expect("error text");
    assert!(
        unknown.contains("ResourceNotFoundException")
            && unknown.contains("function:does-not-exist"),
        "{unknown}"
    );
}

fn chained_invocation_reaches_the_second_function_with_the_same_trace(rt: Rt) {
    let b = Box_::start("chain", rt);
    let trace = "Root=1-67891233-abcdef012345678912345678;Parent=463ac35c9f6413ad;Sampled=1";
    let (status, _, body) = b.invoke("chain", "{}", &[("X-Amzn-Trace-Id", trace)]);
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["inner_status"], 200, "{v}");
    assert_eq!(v["inner"]["function_name"], "ctx");
    assert_eq!(v["outer_trace"], trace);
    let inner_trace = v["inner"]["trace_id"].as_str().expect("inner trace");
    assert!(
        inner_trace.starts_with("Root=1-67891233-abcdef012345678912345678"),
        "trace carried through both hops: {inner_trace}"
    );
}

fn warm_workers_are_reused_and_concurrency_is_bounded(rt: Rt) {
    let b = Box_::start("pool", rt);
    let instance = |b: &Box_| b.invoke_json("ctx", "{}")["instance"].clone();
    let first = instance(&b);
    assert_eq!(
        instance(&b),
        first,
        "sequential calls reuse the warm worker"
    );
    assert_eq!(instance(&b), first);

    // `slow` has ReservedConcurrentExecutions: 1; the box waits 0.5 s, then throttles.
    std::thread::scope(|s| {
        let busy = s.spawn(|| b.invoke("slow", r#"{"seconds": 2}"#, &[]));
        std::thread::sleep(Duration::from_millis(800));
        let (status, headers, body) = b.invoke("slow", r#"{"seconds": 0}"#, &[]);
        assert_eq!(status, 429, "{body}");
        assert_eq!(
            headers
                .get("x-amzn-errortype")
                .and_then(|v| v.to_str().ok()),
            Some("TooManyRequestsException")
        );
        let (s1, _, b1) = busy.join().expect("first");
        // ReservedConcurrentExecutions: 0 switches a function off.
        let (off, _, _) = b.invoke("off", "{}", &[]);
        assert_eq!(off, 429);
        assert_eq!((s1, b1.as_str()), (200, "\"late\""));
    });
}

fn bad_requests_get_aws_errors(rt: Rt) {
    let b = Box_::start("bad", rt);
    let (s, h, body) = b.invoke("echo", "{not json", &[]);
    assert_eq!(
        (s, h.get("x-amzn-errortype").and_then(|v| v.to_str().ok())),
        (400, Some("InvalidRequestContentException")),
        "{body}"
    );
    let big = format!("\"{}\"", "a".repeat(6 * 1024 * 1024));
    let (s, h, _) = b.invoke("echo", &big, &[]);
    assert_eq!(
        (s, h.get("x-amzn-errortype").and_then(|v| v.to_str().ok())),
        (413, Some("RequestEntityTooLargeException"))
    );
    let (s, h, body) = b.invoke("echo?Qualifier=prod", "{}", &[]);
    assert_eq!(s, 404, "{body}");
    assert!(
        h.contains_key("x-amzn-requestid"),
        "errors carry a request id too"
    );
    let (s, _, body) = b.invoke("not$valid", "{}", &[]);
    assert_eq!(s, 400, "{body}");
}

fn sigterm_stops_the_box_and_removes_every_worker(rt: Rt) {
    let mut b = Box_::start("stop", rt);
    assert_eq!(b.invoke("echo", "{}", &[]).0, 200);
    assert_eq!(b.invoke("ctx", "{}", &[]).0, 200);
    let workers = b.workers();
    let expected = match rt {
        Rt::Process => 4,                 // two workers, each esb rie + runtime
        Rt::Docker | Rt::Containerd => 2, // two containers
    };
    assert!(workers.len() >= expected, "{} workers", workers.len());
    let status = support::terminate(&mut b.child, Duration::from_secs(30));
    assert!(status.success(), "{status:?}");
    workers.wait_gone(Duration::from_secs(10));
    if rt == Rt::Docker {
        let network = format!(
            "esb-{}",
            std::fs::read_to_string(b.state.join("box-id"))
                .expect("box id")
                .trim()
        );
        assert_eq!(
            support::docker(&[
                "network",
                "ls",
                "-q",
                "--filter",
                &format!("name={network}")
            ])
            .trim(),
            "",
            "the box network is removed too"
        );
    }
    if rt == Rt::Containerd {
        let left = support::containerd::leftovers(&b.state);
        assert!(left.is_empty(), "the box left {left:?}");
    }
    let records = std::fs::read_dir(b.state.join("agent/workers"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(records, 0, "no worker records left");
}

/// A box killed with SIGKILL cannot clean up. Process workers end with it (their
/// lifeline); a container cannot watch a host process, so the next `esb up` on the
/// same state dir removes what the killed box left, and says so.
fn no_worker_outlives_a_killed_box(rt: Rt) {
    let mut b = Box_::start("sigkill", rt);
    assert_eq!(b.invoke("echo", "{}", &[]).0, 200);
    let workers = b.workers();
    assert!(workers.len() >= 1, "a worker runs");
    let _ = b.child.kill();
    let _ = b.child.wait();
    if rt == Rt::Process {
        workers.wait_gone(Duration::from_secs(10));
        return;
    }
    let port = support::free_addr().port();
    let mut again = esb_up(
        &project(),
        &b.state,
        &["--port", &port.to_string(), "--runtime", rt.flag()],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .expect("esb up again");
    let output = support::capture_output(&mut again);
    support::https_client_within(&b.state, port, Duration::from_secs(300));
    workers.wait_gone(Duration::from_secs(30));
    let said = output.lock().map(|o| o.join("\n")).unwrap_or_default();
    assert!(said.contains("left behind by a previous box"), "{said}");
    assert!(support::terminate(&mut again, Duration::from_secs(30)).success());
    if rt == Rt::Containerd {
        let left = support::containerd::leftovers(&b.state);
        assert!(left.is_empty(), "the box left {left:?}");
    }
}

#[test]
fn an_invalid_template_fails_before_anything_starts() {
    let dir = std::env::temp_dir().join(format!("esb-bad-template-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let template = dir.join("template.yaml");
    std::fs::write(
        &template,
        "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: .\n      Handler: a.b\n      Runtime: python3.12\n      Timeout: 0\n",
    )
    .expect("write");
    let out = esb_up(
        &template,
        &dir.join(".esb"),
        &["--port", &support::free_addr().port().to_string()],
    )
    .output()
    .expect("run esb up");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("template.yaml:8:") && err.contains("Resources.Fn.Properties.Timeout"),
        "{err}"
    );
    assert!(!dir.join(".esb/certs").exists(), "nothing started");
    let _ = std::fs::remove_dir_all(&dir);
}

fn api_routes_behave_like_api_gateway_rest_apis(rt: Rt) {
    let b = Box_::start("api", rt);
    let get = |path: &str| {
        b.client
            .get(format!("{}{path}", b.url))
            .header("X-Custom", "c1")
            .send()
            .expect("GET")
    };

    let resp = get("/items/42?q=1&q=2&single=x%20y");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-handler"], "api");
    assert_eq!(resp.headers().get_all("set-cookie").iter().count(), 2);
    assert!(resp.headers().contains_key("x-amzn-requestid"));
    let event = resp.json::<Value>().expect("json")["event"].clone();
    assert_eq!(event["resource"], "/items/{id}");
    assert_eq!(event["path"], "/items/42");
    assert_eq!(event["httpMethod"], "GET");
    assert_eq!(event["pathParameters"], json!({"id": "42"}));
    assert_eq!(event["queryStringParameters"]["single"], "x y");
    assert_eq!(
        event["multiValueQueryStringParameters"]["q"],
        json!(["1", "2"])
    );
    assert_eq!(event["headers"]["X-Custom"], "c1");
    // Added by the gateway, as API Gateway adds them.
    assert_eq!(event["headers"]["X-Forwarded-For"], "127.0.0.1");
    assert_eq!(event["headers"]["X-Forwarded-Proto"], "https");
    assert!(
        event["headers"]["X-Amzn-Trace-Id"]
            .as_str()
            .is_some_and(|t| t.starts_with("Root=1-")),
        "{event}"
    );
    assert_eq!(event["requestContext"]["identity"]["sourceIp"], "127.0.0.1");
    assert_eq!(event["requestContext"]["resourcePath"], "/items/{id}");
    assert_eq!(
        (event["body"].clone(), event["isBase64Encoded"].clone()),
        (Value::Null, json!(false))
    );
    // Same top-level keys as AWS's sample REST proxy event.
    let sample: Value = serde_json::from_str(
        &std::fs::read_to_string(
            support::repo_root()
                .join("tests/fixtures/aws-events/sam-cli/apigateway-aws-proxy.json"),
        )
        .expect("AWS sample event"),
    )
    .expect("sample json");
    let keys = |v: &Value| {
        let mut k: Vec<String> = v
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        k.sort();
        k
    };
    assert_eq!(keys(&event), keys(&sample));

    let resp = b
        .client
        .post(format!("{}/files/docs/a%20b.txt", b.url))
        .body("file body")
        .send()
        .expect("POST");
    assert_eq!(resp.status(), 200);
    let event = resp.json::<Value>().expect("json")["event"].clone();
    assert_eq!(event["resource"], "/files/{proxy+}");
    assert_eq!(event["pathParameters"]["proxy"], "docs/a b.txt");
    assert_eq!(event["body"], "file body");

    let bin = get("/binary");
    assert_eq!(bin.status(), 200);
    assert_eq!(
        bin.bytes().expect("bytes").to_vec(),
        (0u8..=255).collect::<Vec<u8>>()
    );

    for (path, status, message) in [
        ("/broken", 502, "Internal server error"),
        ("/fails", 502, "Internal server error"),
        ("/nothing/here", 404, "Not Found"),
    ] {
        let r = get(path);
        assert_eq!(r.status(), status, "{path}");
        assert_eq!(
            r.json::<Value>().expect("json"),
            json!({"message": message}),
            "{path}"
        );
    }
    let wrong_method = b
        .client
        .delete(format!("{}/items/42", b.url))
        .send()
        .expect("DELETE");
    assert_eq!(wrong_method.status(), 403);
    assert_eq!(
        wrong_method.json::<Value>().expect("json"),
        json!({"message": "Missing Authentication Token"})
    );
}

/// The split deployment: `esb agent` and `esb gateway` as two processes. The agent is
/// killed and restarted while the gateway keeps serving: the warm worker survives.
fn split_gateway_and_agent_survive_an_agent_restart(rt: Rt) {
    let state = state_dir(&format!("split-{}", rt.flag()));
    if rt.containers() {
        let built = support::esb_command()
            .arg("build")
            .arg("--template")
            .arg(project())
            .status()
            .expect("esb build");
        assert!(built.success(), "esb build");
    }
    let agent_addr = support::free_addr();
    let start_agent = || spawn_agent(&state, agent_addr, rt);
    let mut agent = start_agent();
    // The first invoke asks the agent for a worker: a docker agent still connecting to
    // its daemon would make it a 500 (seen once under a loaded CI), which is not what
    // this test is about.
    support::wait_for("the agent to listen", Duration::from_secs(30), || {
        std::net::TcpStream::connect(agent_addr).is_ok()
    });
    let port = support::free_addr().port();
    let mut gateway = spawn_gateway(&state, port, agent_addr, &[]);
    let client = support::https_client(&state, port);
    let instance = || {
        let resp = support::send_signed(
            &client,
            &state,
            client
                .post(format!(
                    "https://127.0.0.1:{port}/2015-03-31/functions/ctx/invocations"
                ))
                .body("{}"),
        )
        .expect("invoke");
        assert_eq!(resp.status(), 200);
        resp.json::<Value>().expect("json")["instance"].clone()
    };
    let before = instance();
    let workers = rt.workers_of(&state, agent.id());
    assert!(workers.len() >= 1);
    let _ = agent.kill();
    let _ = agent.wait();
    match &workers {
        Workers::Pids(p) => assert!(
            p.iter().all(|p| support::alive(*p)),
            "workers outlive the agent"
        ),
        Workers::Containers(c) => assert_eq!(
            &support::box_containers(&state),
            c,
            "containers outlive the agent"
        ),
        Workers::Tasks(c) => assert_eq!(
            &support::containerd::box_workers(&state),
            c,
            "containers outlive the agent"
        ),
    }
    let mut agent = start_agent();
    assert_eq!(
        instance(),
        before,
        "the warm worker keeps serving across the agent restart"
    );

    let status = support::terminate(&mut gateway, Duration::from_secs(30));
    assert!(status.success());
    // The gateway returned its idle worker to the agent, which removed it.
    workers.wait_gone(Duration::from_secs(30));
    // The restarted agent removes what is left, the box network included.
    assert!(support::terminate(&mut agent, Duration::from_secs(30)).success());
    let _ = std::fs::remove_dir_all(&state);
}

/// `MemorySize` is a real limit where the machine offers a memory cgroup (as here): a
/// function that goes past it is killed, as Lambda kills it.
fn memory_size_is_enforced(rt: Rt) {
    let b = Box_::start("memory", rt);
    let (status, _, body) = b.invoke("hog", r#"{"mb": 40}"#, &[]);
    assert_eq!((status, body.as_str()), (200, "\"ok\""));
    let (status, headers, body) = b.invoke("hog", r#"{"mb": 400}"#, &[]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        headers
            .get("x-amz-function-error")
            .and_then(|v| v.to_str().ok()),
        Some("Unhandled")
    );
    let doc: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(doc["errorType"], "Runtime.ExitError", "{doc}");
    assert!(
        doc["errorMessage"]
            .as_str()
            .is_some_and(|m| m.ends_with("signal: killed")),
        "{doc}"
    );
}

fn layers_are_importable(rt: Rt) {
    let b = Box_::start("layers", rt);
    let (status, _, body) = b.invoke("layered", "{}", &[]);
    assert_eq!((status, body.as_str()), (200, "\"from the layer\""));
}

/// A `provided.al2023` function built with the `lambda_runtime` crate.
fn a_rust_provided_function_runs(rt: Rt) {
    let dir = std::env::temp_dir().join(format!(
        "esb-rust-project-{}-{}",
        rt.flag(),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("rust")).expect("dir");
    std::fs::copy(support::rust_bootstrap(), dir.join("rust/bootstrap")).expect("copy bootstrap");
    std::fs::write(
        dir.join("template.yaml"),
        "Resources:\n  Rusty:\n    Type: AWS::Serverless::Function\n    Properties:\n      FunctionName: rusty\n      CodeUri: rust\n      Runtime: provided.al2023\n      Timeout: 3\n",
    )
    .expect("template");
    let state = state_dir(&format!("rust-{}", rt.flag()));
    let port = support::free_addr().port();
    let mut child = esb_up(
        &dir.join("template.yaml"),
        &state,
        &["--port", &port.to_string(), "--runtime", rt.flag()],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .expect("esb up");
    let client = support::https_client_within(&state, port, Duration::from_secs(300));
    let resp = support::send_signed(
        &client,
        &state,
        client
            .post(format!(
                "https://127.0.0.1:{port}/2015-03-31/functions/rusty/invocations"
            ))
            .body(r#"{"action":"context"}"#),
    )
    .expect("invoke");
    assert_eq!(resp.status(), 200);
    let ctx: Value = resp.json().expect("json");
    assert_eq!(ctx["function_name"], "rusty");
    assert_eq!(
        ctx["invoked_function_arn"],
        "arn:aws:lambda:us-east-1:123456789012:function:rusty"
    );
    support::terminate(&mut child, Duration::from_secs(30));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&state);
}

/// An accepted `Event` invocation is never dropped: a box told to stop waits for it.
fn a_stopping_box_finishes_accepted_events(rt: Rt) {
    let mut b = Box_::start("events", rt);
    let (status, headers, _) = b.invoke(
        "slow",
        r#"{"seconds": 2}"#,
        &[("X-Amz-Invocation-Type", "Event")],
    );
    assert_eq!(status, 202);
    let event_id = headers
        .get("x-amzn-requestid")
        .and_then(|v| v.to_str().ok())
        .expect("event id")
        .to_string();
    let status = support::terminate(&mut b.child, Duration::from_secs(30));
    assert!(status.success());
    std::thread::sleep(Duration::from_millis(200));
    let output = b.output.lock().map(|o| o.join("\n")).unwrap_or_default();
    assert!(
        output
            .lines()
            .any(|l| l.contains("asynchronous invocation done") && l.contains(&event_id)),
        "{output}"
    );
}

/// A warm worker that died while idle is replaced transparently: the event never
/// reached it, so the caller gets an answer from a fresh worker.
fn a_dead_idle_worker_is_replaced(rt: Rt) {
    let b = Box_::start("dead-worker", rt);
    let first = b.invoke("ctx", "{}", &[]);
    assert_eq!(first.0, 200);
    b.workers().kill();
    std::thread::sleep(Duration::from_millis(300));
    let (status, _, body) = b.invoke("ctx", "{}", &[]);
    assert_eq!(
        status,
        200,
        "{body}\n{}",
        b.output.lock().map(|o| o.join("\n")).unwrap_or_default()
    );
    let before: Value = serde_json::from_str(&first.2).expect("json");
    let after: Value = serde_json::from_str(&body).expect("json");
    assert_ne!(
        before["instance"], after["instance"],
        "a new worker answered"
    );
}

/// On a fresh state dir, `esb up` builds its own Python runtime (a venv with
/// awslambdaric and boto3 from PyPI) before serving.
#[test]
fn esb_prepares_its_own_python_runtime() {
    let state = std::env::temp_dir().join(format!("esb-up-fresh-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state);
    let port = support::free_addr().port();
    let mut child = esb_up(
        &project(),
        &state,
        &["--port", &port.to_string(), "--runtime", "process"],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .expect("esb up");
    let client = support::https_client_within(&state, port, Duration::from_secs(300));
    let resp = support::send_signed(
        &client,
        &state,
        client
            .post(format!(
                "https://127.0.0.1:{port}/2015-03-31/functions/echo/invocations"
            ))
            .body(r#"{"fresh": true}"#),
    )
    .expect("invoke");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().expect("json"), json!({"fresh": true}));
    let check = Command::new(state.join("runtimes/python/bin/python"))
        .args(["-c", "import awslambdaric, boto3"])
        .status()
        .expect("run the prepared python");
    assert!(check.success(), "the venv holds awslambdaric and boto3");
    assert!(support::terminate(&mut child, Duration::from_secs(30)).success());
    let _ = std::fs::remove_dir_all(&state);
}

/// `Events: HttpApi` routes on the same port as the REST routes: payload 2.0 events
/// (the shape AWS's samples have), cookies both ways, payload 2.0's shortcut answer,
/// `PayloadFormatVersion: "1.0"` honoured, HTTP API error answers; function URLs.
fn http_api_routes_send_payload_2_events(rt: Rt) {
    let b = Box_::start("httpapi", rt);
    let resp = b
        .client
        .get(format!("{}/things/7?tag=a&tag=b", b.url))
        .header("Cookie", "session=s1; theme=dark")
        .header("X-Multi", "one")
        .send()
        .expect("GET /things/7");
    assert_eq!(resp.status(), 201);
    let cookies: Vec<String> = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect();
    assert_eq!(cookies, ["a=1; Path=/", "b=2"]);
    assert_eq!(resp.headers()["x-handler"], "http_api");
    let event = resp.json::<Value>().expect("json")["event"].clone();
    assert_eq!(event["version"], "2.0");
    assert_eq!(event["routeKey"], "GET /things/{id}");
    assert_eq!(event["rawPath"], "/things/7");
    assert_eq!(event["rawQueryString"], "tag=a&tag=b");
    assert_eq!(event["queryStringParameters"]["tag"], "a,b");
    assert_eq!(event["pathParameters"]["id"], "7");
    assert_eq!(event["cookies"], json!(["session=s1", "theme=dark"]));
    assert_eq!(event["headers"]["x-multi"], "one");
    assert_eq!(event["requestContext"]["http"]["method"], "GET");
    assert_eq!(event["requestContext"]["http"]["sourceIp"], "127.0.0.1");

    let short = b
        .client
        .post(format!("{}/short", b.url))
        .body("{}")
        .send()
        .expect("POST /short");
    assert_eq!(short.status(), 200);
    assert_eq!(
        short.json::<Value>().expect("json"),
        json!({"via": "shortcut", "path": "/short"})
    );

    let legacy = b
        .client
        .get(format!("{}/legacy", b.url))
        .send()
        .expect("GET /legacy");
    assert_eq!(legacy.status(), 200);
    let event = legacy.json::<Value>().expect("json")["event"].clone();
    assert_eq!(
        (event["version"].clone(), event["httpMethod"].clone()),
        (json!("1.0"), json!("GET"))
    );

    let wrong_method = b
        .client
        .delete(format!("{}/things/7", b.url))
        .send()
        .expect("DELETE");
    assert_eq!(wrong_method.status(), 404, "HTTP APIs answer 404, not 403");

    // CORS (Globals.HttpApi.CorsConfiguration): preflights answered by the gateway,
    // answers to an allowed origin carry the header; REST routes are left alone.
    let preflight = b
        .client
        .request(reqwest::Method::OPTIONS, format!("{}/things/7", b.url))
        .header("Origin", "https://app.example")
        .header("Access-Control-Request-Method", "GET")
        .send()
        .expect("preflight");
    assert_eq!(preflight.status(), 204);
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    assert_eq!(preflight.headers()["access-control-max-age"], "600");
    let refused = b
        .client
        .request(reqwest::Method::OPTIONS, format!("{}/things/7", b.url))
        .header("Origin", "https://evil.example")
        .header("Access-Control-Request-Method", "GET")
        .send()
        .expect("preflight");
    assert!(
        !refused
            .headers()
            .contains_key("access-control-allow-origin")
    );
    let cors_get = b
        .client
        .get(format!("{}/things/8", b.url))
        .header("Origin", "https://app.example")
        .send()
        .expect("GET with Origin");
    assert_eq!(
        cors_get.headers()["access-control-allow-origin"],
        "https://app.example"
    );

    // A function that runs out of time (Timeout: 5) makes the route answer 504.
    let slow = b
        .client
        .get(format!("{}/too-slow", b.url))
        .send()
        .expect("GET /too-slow");
    assert_eq!(slow.status(), 504);

    // Function URLs: /lambda-url/<function>/..., the path after it is the event's.
    let url = b
        .client
        .put(format!("{}/lambda-url/shortcut/a/b?x=1", b.url))
        .body("{}")
        .send()
        .expect("function URL");
    assert_eq!(url.status(), 200);
    assert_eq!(
        url.json::<Value>().expect("json"),
        json!({"via": "shortcut", "path": "/a/b"})
    );
    let iam = b
        .client
        .get(format!("{}/lambda-url/http/", b.url))
        .send()
        .expect("AWS_IAM function URL");
    assert_eq!(
        iam.status(),
        403,
        "unsigned calls to an AWS_IAM URL are refused"
    );
    let none = b
        .client
        .get(format!("{}/lambda-url/echo/", b.url))
        .send()
        .expect("no such URL");
    assert_eq!(none.status(), 404);
}

/// `GET /metrics`: Prometheus text mirroring CloudWatch's Lambda metrics per function;
/// the JSON access log.
fn metrics_mirror_cloudwatch_lambda_metrics(rt: Rt) {
    let b = Box_::start("metrics", rt);
    assert_eq!(b.invoke("echo", "{}", &[]).0, 200);
    assert_eq!(b.invoke("echo", "{}", &[]).0, 200);
    let (status, headers, _) = b.invoke("fails", "{}", &[]);
    assert_eq!(status, 200);
    assert!(headers.contains_key("x-amz-function-error"));
    assert_eq!(b.invoke("off", "{}", &[]).0, 429);
    let resp = b
        .client
        .get(support::metrics_url(&b.state))
        .send()
        .expect("GET /metrics");
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .is_ok_and(|t| t.starts_with("application/openmetrics-text")),
        "{:?}",
        resp.headers()
    );
    let text = resp.text().expect("text");
    for line in [
        "esb_lambda_invocations_total{function=\"echo\"} 2",
        "esb_lambda_cold_starts_total{function=\"echo\"} 1",
        "esb_lambda_duration_seconds_count{function=\"echo\"} 2",
        "esb_lambda_errors_total{function=\"fails\"} 1",
        "esb_lambda_throttles_total{function=\"off\"} 1",
        "esb_lambda_concurrent_executions{function=\"echo\"} 0",
        "esb_lambda_idle_workers{function=\"echo\"} 1",
        "esb_lambda_async_events_pending{function=\"echo\"} 0",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }

    // Every request has one JSON line in the access log, without query or headers.
    let _ = b
        .client
        .get(format!("{}/items/5?token=secret", b.url))
        .header("Authorization", "Bearer secret")
        .send()
        .expect("GET with a secret");
    let log = std::fs::read_to_string(b.state.join("logs/access.log")).expect("access log");
    assert!(!log.contains("secret"), "{log}");
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let invokes = lines
        .iter()
        .filter(|l| l["path"] == "/2015-03-31/functions/echo/invocations")
        .count();
    assert_eq!(invokes, 2, "{log}");
    let item = lines
        .iter()
        .find(|l| l["path"] == "/items/5")
        .expect("the API call");
    assert_eq!(
        (item["method"].clone(), item["status"].clone()),
        (json!("GET"), json!(200))
    );
    assert!(
        item["requestId"].is_string() && item["durationMs"].is_number(),
        "{item}"
    );
}

/// `ProvisionedConcurrencyConfig` workers exist before the first request (which is
/// then warm); a box-wide `--max-concurrency` throttles across functions with
/// Lambda's account-level `Reason`.
fn provisioned_workers_and_the_box_wide_limit(rt: Rt) {
    let dir = std::env::temp_dir().join(format!(
        "esb-provisioned-{}-{}",
        rt.flag(),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("template.yaml"),
        format!(
            "Globals:\n  Function:\n    Runtime: python3.11\n    CodeUri: {}\n    Timeout: 5\nResources:\n  Warm:\n    Type: AWS::Serverless::Function\n    Properties:\n      FunctionName: warm\n      Handler: handlers.sleep\n      ProvisionedConcurrencyConfig: {{ProvisionedConcurrentExecutions: 2}}\n  Other:\n    Type: AWS::Serverless::Function\n    Properties:\n      FunctionName: other\n      Handler: handlers.echo\n",
            support::python_functions().display()
        ),
    )
    .expect("template");
    let b = Box_::start_with(
        "provisioned",
        rt,
        &dir.join("template.yaml"),
        &["--max-concurrency", "1"],
    );
    let metrics = || {
        b.client
            .get(support::metrics_url(&b.state))
            .send()
            .expect("metrics")
            .text()
            .expect("text")
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while !metrics()
        .lines()
        .any(|l| l == "esb_lambda_idle_workers{function=\"warm\"} 2")
    {
        assert!(std::time::Instant::now() < deadline, "{}", metrics());
        std::thread::sleep(Duration::from_millis(200));
    }
    // Both provisioned workers busy: the box's single slot is taken, `other` waits
    // 0.5 s, then is throttled at the box level.
    std::thread::scope(|s| {
        let busy = s.spawn(|| b.invoke("warm", r#"{"seconds": 2}"#, &[]));
        std::thread::sleep(Duration::from_millis(600));
        let (status, headers, body) = b.invoke("other", "{}", &[]);
        assert_eq!(status, 429, "{body}");
        assert_eq!(headers["x-amzn-errortype"], "TooManyRequestsException");
        let doc: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(doc["Reason"], "ConcurrentInvocationLimitExceeded");
        assert_eq!(busy.join().expect("busy").0, 200);
    });
    let text = metrics();
    assert!(
        !text.contains("esb_lambda_cold_starts_total{function=\"warm\"}")
            || text
                .lines()
                .any(|l| l == "esb_lambda_cold_starts_total{function=\"warm\"} 0"),
        "the first request found a provisioned worker: {text}"
    );
    drop(b);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A counter of the `/metrics` of the box in `state`, 0 when absent.
fn counter(client: &reqwest::blocking::Client, state: &Path, line_start: &str) -> u64 {
    let text = client
        .get(support::metrics_url(state))
        .send()
        .and_then(|r| r.text())
        .unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(line_start)?.trim().parse().ok())
        .unwrap_or(0)
}

fn queued(state: &Path, folder: &str) -> Vec<PathBuf> {
    std::fs::read_dir(state.join("async").join(folder))
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect()
        })
        .unwrap_or_default()
}

/// Asynchronous invocations as Lambda runs them: retried on function error, the
/// failure sent to the `OnFailure` destination (or kept in the dead-letter folder)
/// as Lambda's destination record; accepted events are on disk, so a box killed with
/// SIGKILL runs them after its restart.
fn async_events_are_retried_routed_and_survive_a_killed_box(rt: Rt) {
    let dir = std::env::temp_dir().join(format!("esb-async-{}-{}", rt.flag(), std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("template.yaml"),
        format!(
            "Globals:\n  Function:\n    Runtime: python3.11\n    CodeUri: {}\n    Timeout: 10\nResources:\n  Flaky:\n    Type: AWS::Serverless::Function\n    Properties:\n      FunctionName: flaky\n      Handler: handlers.error\n      EventInvokeConfig:\n        MaximumRetryAttempts: 1\n        DestinationConfig:\n          OnFailure: {{Type: Lambda, Destination: !GetAtt Sink.Arn}}\n  Sink:\n    Type: AWS::Serverless::Function\n    Properties:\n      FunctionName: sink\n      Handler: handlers.echo\n  Lost:\n    Type: AWS::Serverless::Function\n    Properties:\n      FunctionName: lost\n      Handler: handlers.error\n      EventInvokeConfig: {{MaximumRetryAttempts: 0}}\n  Slow:\n    Type: AWS::Serverless::Function\n    Properties:\n      FunctionName: slow\n      Handler: handlers.sleep\n      ReservedConcurrentExecutions: 1\n",
            support::python_functions().display()
        ),
    )
    .expect("template");
    let template = dir.join("template.yaml");
    let extra = ["--async-retry-delay", "0.2"];
    let mut b = Box_::start_with("async", rt, &template, &extra);
    let event = [("X-Amz-Invocation-Type", "Event")];

    assert_eq!(b.invoke("flaky", r#"{"try": 1}"#, &event).0, 202);
    support::wait_for(
        "the retry and the OnFailure destination",
        Duration::from_secs(60),
        || {
            counter(
                &b.client,
                &b.state,
                "esb_lambda_invocations_total{function=\"sink\"}",
            ) == 1
        },
    );
    assert_eq!(
        counter(
            &b.client,
            &b.state,
            "esb_lambda_invocations_total{function=\"flaky\"}"
        ),
        2,
        "one invocation and one retry"
    );

    let (status, headers, _) = b.invoke("lost", r#"{"keep": "me"}"#, &event);
    assert_eq!(status, 202);
    let id = headers["x-amzn-requestid"]
        .to_str()
        .expect("id")
        .to_string();
    let failed = b.state.join(format!("async/failed/{id}.json"));
    support::wait_for("the dead-letter record", Duration::from_secs(60), || {
        failed.is_file()
    });
    let record: Value =
        serde_json::from_str(&std::fs::read_to_string(&failed).expect("record")).expect("json");
    assert_eq!(record["requestContext"]["condition"], "RetriesExhausted");
    assert_eq!(record["requestContext"]["approximateInvokeCount"], 1);
    assert_eq!(record["requestPayload"], json!({"keep": "me"}));
    assert_eq!(record["responseContext"]["functionError"], "Unhandled");
    assert_eq!(record["responsePayload"]["errorType"], "ValueError");

    // Three events queue behind a busy function; the box is killed before they run.
    assert_eq!(b.invoke("slow", r#"{"seconds": 3}"#, &event).0, 202);
    for n in 0..3 {
        let body = format!(r#"{{"seconds": 0, "n": {n}}}"#);
        assert_eq!(b.invoke("slow", &body, &event).0, 202);
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        queued(&b.state, "queue").len() >= 3,
        "{:?}",
        queued(&b.state, "queue")
    );
    let _ = b.child.kill();
    let _ = b.child.wait();

    let port = support::free_addr().port();
    let mut again = esb_up(
        &template,
        &b.state,
        &[
            "--port",
            &port.to_string(),
            "--runtime",
            rt.flag(),
            "--async-retry-delay",
            "0.2",
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .expect("esb up again");
    let client = support::https_client_within(&b.state, port, Duration::from_secs(300));
    support::wait_for(
        "the queued events to run after the restart",
        Duration::from_secs(120),
        || queued(&b.state, "queue").is_empty(),
    );
    assert!(
        counter(
            &client,
            &b.state,
            "esb_lambda_invocations_total{function=\"slow\"}"
        ) >= 3,
        "every queued event ran"
    );
    assert_eq!(
        queued(&b.state, "failed").len(),
        1,
        "only the lost event failed"
    );
    assert!(support::terminate(&mut again, Duration::from_secs(60)).success());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Per-function circuit breaker: with the agent gone, a function that needs a new
/// worker fails; after `--breaker-threshold` such failures its requests fail fast
/// (503) until, after the cool-down, a probe finds the restarted agent and closes it.
#[test]
fn a_dead_agent_opens_the_circuit_and_a_restarted_one_closes_it() {
    let state = state_dir("breaker");
    let agent_addr = support::free_addr();
    let start_agent = || spawn_agent(&state, agent_addr, Rt::Process);
    let mut agent = start_agent();
    let port = support::free_addr().port();
    let mut gateway = spawn_gateway(
        &state,
        port,
        agent_addr,
        &["--breaker-threshold", "2", "--breaker-cooldown", "1"],
    );
    let client = support::https_client(&state, port);
    let invoke = |function: &str| {
        let resp = support::send_signed(
            &client,
            &state,
            client
                .post(format!(
                    "https://127.0.0.1:{port}/2015-03-31/functions/{function}/invocations"
                ))
                .body("{}"),
        )
        .expect("invoke");
        (resp.status().as_u16(), resp.text().unwrap_or_default())
    };
    assert_eq!(invoke("echo").0, 200);
    let _ = agent.kill();
    let _ = agent.wait();
    for _ in 0..2 {
        let (status, body) = invoke("ctx");
        assert_eq!(status, 500, "no agent, no new worker: {body}");
    }
    let started = std::time::Instant::now();
    let (status, body) = invoke("ctx");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("retry after"), "{body}");
    assert!(started.elapsed() < Duration::from_secs(2), "fails fast");
    assert_eq!(invoke("echo").0, 200, "other functions are not affected");

    let mut agent = start_agent();
    std::thread::sleep(Duration::from_millis(1500));
    support::wait_for(
        "the probe to find the agent",
        Duration::from_secs(30),
        || invoke("ctx").0 == 200,
    );
    assert_eq!(invoke("ctx").0, 200, "closed again");
    assert!(support::terminate(&mut gateway, Duration::from_secs(30)).success());
    assert!(support::terminate(&mut agent, Duration::from_secs(30)).success());
    let _ = std::fs::remove_dir_all(&state);
}

/// Each scenario as a test per runtime: `process::name`, `docker::name`, `containerd::name`.
macro_rules! on_both_runtimes {
    ($($scenario:ident),* $(,)?) => {
        mod process {
            $(#[test] fn $scenario() { super::$scenario(super::Rt::Process) })*
        }
        mod docker {
            $(#[test] fn $scenario() { super::$scenario(super::Rt::Docker) })*
        }
        mod containerd {
            $(#[test] fn $scenario() { super::$scenario(super::Rt::Containerd) })*
        }
    };
}

on_both_runtimes!(
    boto3_invoke_works_unchanged,
    chained_invocation_reaches_the_second_function_with_the_same_trace,
    warm_workers_are_reused_and_concurrency_is_bounded,
    bad_requests_get_aws_errors,
    sigterm_stops_the_box_and_removes_every_worker,
    no_worker_outlives_a_killed_box,
    api_routes_behave_like_api_gateway_rest_apis,
    split_gateway_and_agent_survive_an_agent_restart,
    memory_size_is_enforced,
    layers_are_importable,
    a_stopping_box_finishes_accepted_events,
    a_dead_idle_worker_is_replaced,
    a_rust_provided_function_runs,
    http_api_routes_send_payload_2_events,
    metrics_mirror_cloudwatch_lambda_metrics,
    provisioned_workers_and_the_box_wide_limit,
    async_events_are_retried_routed_and_survive_a_killed_box,
);
