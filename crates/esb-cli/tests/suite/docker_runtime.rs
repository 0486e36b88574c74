//! What only the docker runtime has: paused containers, two boxes sharing one daemon,
//! orphaned containers, images pulled from a real registry (Debian's docker-registry),
//! and a daemon that is not there. A real Docker daemon throughout (scripts/test.sh
//! starts one when none runs).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support;

/// A project with one Rust `provided.al2023` function (the lambda_runtime fixture).
pub(crate) struct Project {
    dir: PathBuf,
    pub(crate) function: String,
}

impl Project {
    pub(crate) fn new(tag: &str) -> Self {
        let function = format!("rust-{tag}-{}", std::process::id());
        let dir = std::env::temp_dir().join(format!("esb-docker-{function}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("fn")).expect("project dir");
        std::fs::copy(support::rust_bootstrap(), dir.join("fn/bootstrap")).expect("bootstrap");
        std::fs::write(
            dir.join("template.yaml"),
            format!(
                "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      FunctionName: {function}\n      CodeUri: fn\n      Runtime: provided.al2023\n      Timeout: 5\n"
            ),
        )
        .expect("template");
        Self { dir, function }
    }

    /// A Python function of `runtime` answering with the Python version it runs on.
    fn python(tag: &str, runtime: &str) -> Self {
        Self::python_code(
            tag,
            runtime,
            "import sys\n\n\ndef handler(event, context):\n    return {\"python\": \"%d.%d\" % sys.version_info[:2]}\n",
        )
    }

    /// A Python function of `runtime` whose `app.py` is `code` (handler `app.handler`).
    pub(crate) fn python_code(tag: &str, runtime: &str, code: &str) -> Self {
        let function = format!("py-{tag}-{}", std::process::id());
        let dir = std::env::temp_dir().join(format!("esb-docker-{function}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("fn")).expect("project dir");
        std::fs::write(dir.join("fn/app.py"), code).expect("code");
        std::fs::write(
            dir.join("template.yaml"),
            format!(
                "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      FunctionName: {function}\n      CodeUri: fn\n      Handler: app.handler\n      Runtime: {runtime}\n      Timeout: 10\n"
            ),
        )
        .expect("template");
        Self { dir, function }
    }

    pub(crate) fn template(&self) -> PathBuf {
        self.dir.join("template.yaml")
    }

    pub(crate) fn state(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// `esb up` of the project with its state in `state`, the gateway on `port`.
    pub(crate) fn esb_up(&self, state: &Path, port: u16) -> Command {
        support::up_command(&self.template(), state, &["--port", &port.to_string()])
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A running `esb up`.
pub(crate) struct Up {
    pub(crate) child: Child,
    port: u16,
    state: PathBuf,
    client: reqwest::blocking::Client,
    pub(crate) output: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Up {
    pub(crate) fn start(project: &Project, state: &Path, extra: &[&str]) -> Self {
        let port = support::free_addr().port();
        let mut child = project
            .esb_up(state, port)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("esb up");
        let output = support::capture_output(&mut child);
        let client = support::https_client_within(state, port, Duration::from_secs(300));
        Self {
            child,
            port,
            state: state.to_path_buf(),
            client,
            output,
        }
    }

    pub(crate) fn invoke(&self, function: &str, event: &Value) -> (u16, Value) {
        invoke(&self.client, &self.state, self.port, function, event)
    }

    pub(crate) fn stop(&mut self) {
        assert!(support::terminate(&mut self.child, Duration::from_secs(60)).success());
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            support::terminate(&mut self.child, Duration::from_secs(60));
        }
    }
}

fn invoke(
    client: &reqwest::blocking::Client,
    state: &Path,
    port: u16,
    function: &str,
    event: &Value,
) -> (u16, Value) {
    let resp = support::send_signed(
        client,
        state,
        client
            .post(format!(
                "https://127.0.0.1:{port}/2015-03-31/functions/{function}/invocations"
            ))
            .json(event),
    )
    .expect("invoke");
    let status = resp.status().as_u16();
    (status, resp.json().unwrap_or(Value::Null))
}

pub(crate) fn echo() -> Value {
    json!({"action": "echo", "n": 1})
}

fn container_state(id: &str) -> String {
    support::docker(&["inspect", "-f", "{{.State.Status}}", id])
        .trim()
        .to_string()
}

/// An idle worker is frozen (`docker pause`) after `--pause-idle-after`, and the next
/// request resumes that same container rather than starting another.
#[test]
fn idle_workers_are_paused_and_resumed_on_demand() {
    let project = Project::new("pause");
    let state = project.state("state");
    let up = Up::start(
        &project,
        &state,
        &["--runtime", "docker", "--pause-idle-after", "0.3"],
    );
    assert_eq!(up.invoke(&project.function, &echo()), (200, echo()));
    let containers = support::box_containers(&state);
    assert_eq!(containers.len(), 1, "{containers:?}");
    support::wait_for(
        "the idle worker to be paused",
        Duration::from_secs(30),
        || container_state(&containers[0]) == "paused",
    );
    assert_eq!(up.invoke(&project.function, &echo()), (200, echo()));
    assert_eq!(
        support::box_containers(&state),
        containers,
        "the paused worker itself served the request"
    );
}

/// Two boxes on one daemon: each sees and stops only its own containers. Box a's
/// workers also join a user network; box b reaches its workers through ports
/// published on 127.0.0.1 (what Docker Desktop needs) instead of container IPs.
#[test]
fn two_boxes_share_a_daemon_without_touching_each_other() {
    let project = Project::new("twoboxes");
    let user_network = format!("esb-test-user-{}", std::process::id());
    support::docker(&["network", "create", &user_network]);
    let (state_a, state_b) = (project.state("a"), project.state("b"));
    let mut a = Up::start(
        &project,
        &state_a,
        &["--runtime", "docker", "--network", &user_network],
    );
    let b = Up::start(
        &project,
        &state_b,
        &["--runtime", "docker", "--worker-address", "published-port"],
    );
    assert_eq!(a.invoke(&project.function, &echo()).0, 200);
    assert_eq!(b.invoke(&project.function, &echo()).0, 200);
    let (ca, cb) = (
        support::box_containers(&state_a),
        support::box_containers(&state_b),
    );
    assert_eq!((ca.len(), cb.len()), (1, 1));
    assert_ne!(ca, cb);
    let networks = support::docker(&[
        "inspect",
        "-f",
        "{{json .NetworkSettings.Networks}}",
        &ca[0],
    ]);
    assert!(networks.contains(&user_network), "{networks}");
    let published = support::docker(&["port", &cb[0]]);
    assert!(published.contains("127.0.0.1:"), "{published}");
    a.stop();
    support::wait_containers_gone(&ca, Duration::from_secs(30));
    assert_eq!(
        support::box_containers(&state_b),
        cb,
        "box b keeps its worker"
    );
    assert_eq!(b.invoke(&project.function, &echo()), (200, echo()));
    support::docker(&["network", "rm", &user_network]);
}

/// A container of this box that no worker record names (the agent crashed between
/// starting it and recording it) is removed after the grace period; another box's
/// container is left alone.
#[test]
fn orphaned_containers_are_removed_and_other_boxes_are_not_touched() {
    let project = Project::new("orphans");
    let state = project.state("state");
    let addr = support::free_addr();
    let mut agent = agent_on("docker", &state, addr, &["--orphan-grace", "2"]);
    support::wait_for("the agent's box id", Duration::from_secs(60), || {
        std::fs::read_to_string(state.join("box-id")).is_ok()
    });
    let box_id = std::fs::read_to_string(state.join("box-id")).expect("box id");
    let create = |box_label: &str| {
        support::docker(&[
            "create",
            "--label",
            &format!("esb.box={box_label}"),
            "--label",
            "esb.managed=true",
            "--label",
            "esb.worker=ghost",
            "esb/base:python3.11",
            "true",
        ])
        .trim()
        .to_string()
    };
    let orphan = create(box_id.trim());
    let foreign = create("another-box");
    support::wait_containers_gone(std::slice::from_ref(&orphan), Duration::from_secs(60));
    assert_eq!(
        container_state(&foreign),
        "created",
        "another box's container stays"
    );
    support::docker(&["rm", "-f", &foreign]);
    assert!(support::terminate(&mut agent, Duration::from_secs(30)).success());
}

/// `esb build --push` fills a real registry; a docker agent started with `--registry`
/// pulls the image it lacks into the daemon and serves the function from it.
#[test]
fn images_travel_through_a_registry() {
    let reference = a_registry_feeds_an_agent_of("docker");
    assert!(docker_holds(&reference), "pulled into the daemon");
    let latest = format!("{}:latest", reference.split(':').next().unwrap_or_default());
    let _ = Command::new("docker")
        .args(["rmi", &reference, &latest])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// `esb build --push` fills a real registry (Debian's docker-registry) and the image
/// leaves the Docker daemon; an agent of `runtime` started with `--registry` pulls the
/// image it lacks and serves the function from it. Returns the image's reference.
pub(crate) fn a_registry_feeds_an_agent_of(runtime: &str) -> String {
    let project = Project::new(&format!("registry-{runtime}"));
    let storage = project.state("registry");
    let registry_port = support::free_addr().port();
    std::fs::create_dir_all(&storage).expect("registry dir");
    let config = project.dir.join("registry.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{registry_port}\n",
            storage.display()
        ),
    )
    .expect("registry config");
    let mut registry = Command::new("docker-registry")
        .arg("serve")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start docker-registry (Debian package docker-registry)");
    let registry_addr = format!("127.0.0.1:{registry_port}");
    support::wait_for("the registry", Duration::from_secs(30), || {
        std::net::TcpStream::connect(&registry_addr).is_ok()
    });

    let built = support::esb_command()
        .arg("build")
        .arg("--template")
        .arg(project.template())
        .args(["--push", &registry_addr])
        .output()
        .expect("esb build --push");
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let repository = format!("esb/{}", project.function);
    let tags: Vec<String> = support::docker(&[
        "images",
        "--format",
        "{{.Repository}}:{{.Tag}}",
        &repository,
    ])
    .lines()
    .map(str::to_string)
    .collect();
    let reference = tags
        .iter()
        .find(|t| !t.ends_with(":latest"))
        .expect("a content-hash tag")
        .clone();
    let mut local: Vec<&str> = vec![reference.as_str()];
    let pushed = format!("{registry_addr}/{reference}");
    let pushed_latest = format!("{registry_addr}/{repository}:latest");
    let latest = format!("{repository}:latest");
    local.extend([latest.as_str(), pushed.as_str(), pushed_latest.as_str()]);
    for tag in &local {
        let _ = Command::new("docker")
            .args(["rmi", tag])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    assert!(
        !docker_holds(&reference),
        "the image is gone from the daemon"
    );

    let state = project.state("state");
    let agent_addr = support::free_addr();
    let mut agent = agent_on(runtime, &state, agent_addr, &["--registry", &registry_addr]);
    let port = support::free_addr().port();
    let mut gateway = support::esb_command()
        .arg("gateway")
        .arg("--template")
        .arg(project.template())
        .arg("--state-dir")
        .arg(&state)
        .args([
            "--port",
            &port.to_string(),
            "--agent",
            &format!("http://{agent_addr}"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("esb gateway");
    let client = support::https_client_within(&state, port, Duration::from_secs(120));
    assert_eq!(
        invoke(&client, &state, port, &project.function, &echo()),
        (200, echo())
    );
    assert!(support::terminate(&mut gateway, Duration::from_secs(30)).success());
    assert!(support::terminate(&mut agent, Duration::from_secs(30)).success());
    let _ = registry.kill();
    let _ = registry.wait();
    reference
}

/// Whether the Docker daemon holds `image`.
pub(crate) fn docker_holds(image: &str) -> bool {
    Command::new("docker")
        .args(["image", "inspect", image])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// No daemon at the configured endpoint: `--runtime docker` fails saying where it
/// looked and what to do; `--runtime auto` serves with process workers instead.
#[test]
fn an_absent_daemon_is_explained_and_auto_falls_back_to_processes() {
    let project = Project::new("nodaemon");
    let socket = format!("unix://{}/no-docker.sock", project.dir.display());
    let out = project
        .esb_up(&project.state("docker"), support::free_addr().port())
        .args(["--runtime", "docker", "--docker-host", &socket])
        .output()
        .expect("esb up");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&socket) && err.contains("--runtime process"),
        "{err}"
    );

    let state = project.state("auto");
    let up = Up::start(
        &project,
        &state,
        &["--runtime", "auto", "--docker-host", &socket],
    );
    assert_eq!(up.invoke(&project.function, &echo()), (200, echo()));
    assert!(support::box_containers(&state).is_empty());
    let said = up.output.lock().map(|o| o.join("\n")).unwrap_or_default();
    assert!(said.contains("using process workers"), "{said}");
}

/// `esb agent --runtime <runtime>` on `addr`, removing its workers when it stops.
pub(crate) fn agent_on(
    runtime: &str,
    state: &Path,
    addr: std::net::SocketAddr,
    extra: &[&str],
) -> Child {
    support::esb_command()
        .args(["agent", "--runtime", runtime, "--remove-workers-on-exit"])
        .args(["--listen", &addr.to_string()])
        .args(extra)
        .arg("--state-dir")
        .arg(state)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("esb agent")
}

/// The image reference `esb build` reports for `function` of the end-to-end project.
pub(crate) fn e2e_image(function: &str) -> String {
    let out = support::esb_command()
        .arg("build")
        .arg("--template")
        .arg(support::repo_root().join("tests/projects/e2e/template.yaml"))
        .output()
        .expect("esb build");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| {
            let mut cols = l.split_whitespace();
            (cols.next() == Some(function)).then(|| cols.next().map(str::to_string))?
        })
        .expect("the function's image in esb build's summary")
}

fn post(address: &str, body: &str) -> (u16, String) {
    let resp = reqwest::blocking::Client::new()
        .post(format!(
            "http://{address}/2015-03-31/functions/function/invocations"
        ))
        .body(body.to_string())
        .timeout(Duration::from_secs(30))
        .send()
        .expect("invoke the worker");
    (resp.status().as_u16(), resp.text().unwrap_or_default())
}

/// The agent's GetMetrics reads the container's memory (current, peak, limit), CPU
/// time and OOM kills from the daemon and the container's cgroup.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_reports_container_memory_cpu_and_oom_kills() {
    let image = tokio::task::spawn_blocking(|| e2e_image("hog"))
        .await
        .expect("build");
    let project = Project::new("metrics");
    let state = project.state("state");
    let addr = support::free_addr();
    let mut agent = agent_on("docker", &state, addr, &["--standby-workers", "0"]);
    a_memory_hog_shows_in_the_agents_metrics(addr, image).await;
    assert!(support::terminate(&mut agent, Duration::from_secs(30)).success());
}

/// Against the container agent at `addr`: a 128 MB worker of the e2e project's `hog`
/// (`image`) that takes 48 MB shows it in GetMetrics (current, peak, limit, CPU time,
/// no OOM kill); one that takes 400 MB is killed by the kernel, which the OOM-kill
/// counter shows.
pub(crate) async fn a_memory_hog_shows_in_the_agents_metrics(
    addr: std::net::SocketAddr,
    image: String,
) {
    use esb_proto::AgentServiceClient;
    use esb_proto::agent::{EnsureWorkerRequest, FunctionSpec, MetricsRequest};

    support::wait_for("the agent", Duration::from_secs(60), || {
        std::net::TcpStream::connect(addr).is_ok()
    });
    let mut client = AgentServiceClient::connect(format!("http://{addr}"))
        .await
        .expect("connect to the agent");
    let spec = FunctionSpec {
        name: "hog".into(),
        code_dir: support::python_functions().display().to_string(),
        handler: "handlers.memory".into(),
        runtime: "python3.11".into(),
        timeout_s: 10,
        memory_mb: 128,
        image,
        ..Default::default()
    };
    let worker = client
        .ensure_worker(EnsureWorkerRequest {
            function: Some(spec),
            worker_id: String::new(),
        })
        .await
        .expect("a worker")
        .into_inner();
    let hog = |mb: u32| {
        let address = worker.address.clone();
        tokio::task::spawn_blocking(move || post(&address, &format!("{{\"mb\": {mb}}}")))
    };
    let (status, body) = hog(48).await.expect("invoke");
    assert_eq!((status, body.as_str()), (200, "\"ok\""));
    let metrics = || {
        let request = MetricsRequest {
            worker_ids: vec![worker.id.clone()],
        };
        let mut client = client.clone();
        async move {
            client
                .get_metrics(request)
                .await
                .expect("metrics")
                .into_inner()
                .workers
                .remove(0)
        }
    };
    let m = metrics().await;
    assert_eq!(m.memory_limit_bytes, 128 * 1024 * 1024, "{m:?}");
    assert!(m.memory_max_bytes >= 48 * 1024 * 1024, "{m:?}");
    assert!(m.memory_bytes > 0 && m.cpu_time_ms > 0, "{m:?}");
    assert_eq!(m.oom_kills, 0, "{m:?}");

    let (status, body) = hog(400).await.expect("invoke");
    assert_eq!(status, 200);
    assert!(body.contains("Runtime.ExitError"), "{body}");
    let m = metrics().await;
    assert!(m.oom_kills >= 1, "the kernel's OOM kill is counted: {m:?}");
}

pub(crate) fn esb_down(state: &Path) -> String {
    let out = support::esb_command()
        .args(["down", "--state-dir"])
        .arg(state)
        .output()
        .expect("esb down");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn network_exists(state: &Path) -> bool {
    let id = std::fs::read_to_string(state.join("box-id")).expect("box id");
    Command::new("docker")
        .args(["network", "inspect", &format!("esb-{}", id.trim())])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `esb down` stops a running box (a second `esb up` on its state dir is refused
/// meanwhile), and after a box was SIGKILLed it removes the containers, the standby and
/// the network the box could not remove itself.
#[test]
fn esb_down_leaves_nothing_behind() {
    let project = Project::new("down");
    let state = project.state("state");
    let mut up = Up::start(&project, &state, &["--runtime", "docker"]);
    assert_eq!(up.invoke(&project.function, &echo()).0, 200);
    let second = support::esb_command()
        .arg("up")
        .arg("--template")
        .arg(project.template())
        .arg("--state-dir")
        .arg(&state)
        .output()
        .expect("second esb up");
    assert_eq!(second.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("already running"),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert!(esb_down(&state).contains("stopped the box"));
    assert!(up.child.wait().expect("box exit").success());
    assert!(support::box_containers(&state).is_empty());
    assert!(!network_exists(&state));

    let mut up = Up::start(&project, &state, &["--runtime", "docker"]);
    assert_eq!(up.invoke(&project.function, &echo()).0, 200);
    let id = std::fs::read_to_string(state.join("box-id")).expect("box id");
    let filter = format!("label=esb.box={}", id.trim());
    // The standby is prepared in the background once the box is quiet.
    support::wait_for(
        "the worker and its standby",
        Duration::from_secs(60),
        || {
            support::docker(&["ps", "-q", "--filter", &filter])
                .lines()
                .count()
                == 2
        },
    );
    let _ = up.child.kill();
    let _ = up.child.wait();
    esb_down(&state);
    assert_eq!(
        support::docker(&["ps", "-aq", "--filter", &filter]).trim(),
        ""
    );
    assert!(!network_exists(&state));
}

/// A function whose spec changed (a hot reload: new code or settings) no longer keeps
/// the standby prepared for its old spec: it is removed when the new spec's first
/// worker starts, and a standby of the new spec takes its place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_function_drops_its_stale_standby() {
    let standbys = |state: &Path| {
        let id = std::fs::read_to_string(state.join("box-id")).unwrap_or_default();
        support::docker(&[
            "ps",
            "-a",
            "--filter",
            &format!("label=esb.box={}", id.trim()),
            "--format",
            "{{.Names}} {{.Label \"esb.worker\"}}",
        ])
        .lines()
        .filter(|l| l.contains("-standby-"))
        .filter_map(|l| l.split_once(' '))
        .map(|(name, worker)| (name.to_string(), worker.to_string()))
        .collect()
    };
    let environment = |name: &str| {
        support::docker(&[
            "inspect",
            "--format",
            "{{range .Config.Env}}{{println .}}{{end}}",
            name,
        ])
    };
    a_changed_function_drops_its_stale_standby_on("docker", standbys, environment).await;
}

/// The stale-standby scenario against an agent of `runtime`: `standbys` lists a box's
/// standbys (container, `esb.worker` label), `environment` a container's environment,
/// a variable a line.
pub(crate) async fn a_changed_function_drops_its_stale_standby_on(
    runtime: &str,
    standbys: impl Fn(&Path) -> Vec<(String, String)> + Clone + Send + 'static,
    environment: impl Fn(&str) -> String,
) {
    use esb_proto::AgentServiceClient;
    use esb_proto::agent::{EnsureWorkerRequest, FunctionSpec};

    let image = tokio::task::spawn_blocking(|| e2e_image("echo"))
        .await
        .expect("build");
    let project = Project::new(&format!("stale-standby-{runtime}"));
    let state = project.state("state");
    let addr = support::free_addr();
    let mut agent = agent_on(runtime, &state, addr, &["--standby-workers", "1"]);
    support::wait_for("the agent", Duration::from_secs(60), || {
        std::net::TcpStream::connect(addr).is_ok()
    });
    let mut client = AgentServiceClient::connect(format!("http://{addr}"))
        .await
        .expect("connect to the agent");
    let spec = |version: &str| FunctionSpec {
        name: "echo".into(),
        code_dir: support::python_functions().display().to_string(),
        handler: "handlers.echo".into(),
        runtime: "python3.11".into(),
        timeout_s: 10,
        memory_mb: 128,
        image: image.clone(),
        environment: [("VERSION".to_string(), version.to_string())].into(),
        ..Default::default()
    };
    for version in ["1", "2"] {
        client
            .ensure_worker(EnsureWorkerRequest {
                function: Some(spec(version)),
                worker_id: String::new(),
            })
            .await
            .expect("a worker");
        let (state, standbys) = (state.clone(), standbys.clone());
        tokio::task::spawn_blocking(move || {
            support::wait_for(
                "one standby of the current spec",
                Duration::from_secs(60),
                || standbys(&state).len() == 1,
            );
        })
        .await
        .expect("wait");
    }
    // Stays one, of the new spec: the first spec's standby went, it is not just late.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let left = standbys(&state);
    assert_eq!(left.len(), 1, "{left:?}");
    let env = environment(&left[0].0);
    assert!(env.lines().any(|l| l == "VERSION=2"), "{env}");
    assert!(
        left[0].1.starts_with("echo-standby-"),
        "a standby has an id of its own (its logs and spool are its own): {left:?}"
    );
    assert!(support::terminate(&mut agent, Duration::from_secs(30)).success());
}

/// Removes a function's images (every tag of `esb/<function>`) when dropped.
struct FunctionImages(String);

impl Drop for FunctionImages {
    fn drop(&mut self) {
        let ids = Command::new("docker")
            .args(["images", "-q", &format!("esb/{}", self.0)])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        let mut ids: Vec<&str> = ids.split_whitespace().collect();
        ids.dedup();
        if !ids.is_empty() {
            let _ = Command::new("docker")
                .args(["rmi", "-f"])
                .args(&ids)
                .output();
        }
    }
}

/// A template written for Lambda's `python3.12` on a host whose only Python base is
/// `esb/base:python3.11` (what scripts/test.sh makes): `esb up --runtime docker`
/// refuses it, naming the commands that make the base and the option that does
/// without; with `--nearest-python-base` it serves the function on the 3.11 base and
/// says so on stderr and in `esb status`.
#[test]
fn a_python_without_a_base_runs_on_the_nearest_base_only_when_asked() {
    support::docker(&["image", "inspect", "esb/base:python3.11"]);
    for absent in ["esb/base:python3.12", "public.ecr.aws/lambda/python:3.12"] {
        let there = Command::new("docker")
            .args(["image", "inspect", absent])
            .output()
            .expect("docker image inspect");
        assert!(
            !there.status.success(),
            "this test needs a daemon without {absent}"
        );
    }
    let project = Project::python("nearest", "python3.12");
    let _images = FunctionImages(project.function.clone());

    let refused = project
        .esb_up(&project.state("refused"), support::free_addr().port())
        .args(["--runtime", "docker"])
        .env_remove("ESB_NEAREST_PYTHON_BASE")
        .output()
        .expect("esb up");
    assert_eq!(refused.status.code(), Some(1));
    let err = String::from_utf8_lossy(&refused.stderr);
    for fix in [
        "no base image for python3.12",
        "run `esb image base --runtime python3.12 --rootfs DIR`",
        "debootstrap --variant=minbase --include=python3-minimal,python3-pip noble",
        "or load public.ecr.aws/lambda/python:3.12",
        "to run python3.12 functions on esb/base:python3.11 (another Python version), \
         --nearest-python-base (ESB_NEAREST_PYTHON_BASE=true, or `nearest-python-base = \
         true` in esb.toml)",
    ] {
        assert!(err.contains(fix), "the refusal names {fix:?}: {err}");
    }

    let state = project.state("nearest");
    let mut up = Up::start(
        &project,
        &state,
        &["--runtime", "docker", "--nearest-python-base"],
    );
    let (status, answer) = up.invoke(&project.function, &json!({}));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["python"], "3.11",
        "it runs on the 3.11 base: {answer}"
    );
    let warning = format!(
        "esb: warning: function {} asks for python3.12, which has no base image here: it \
         runs on esb/base:python3.11 (Python 3.11) because of --nearest-python-base",
        project.function
    );
    let said = up.output.lock().map(|o| o.join("\n")).unwrap_or_default();
    assert!(said.contains(&warning), "{said}");

    let note = "runtime python3.12 runs on the python3.11 base esb/base:python3.11 \
                (--nearest-python-base)";
    let status = |json: bool| {
        let out = support::esb_command()
            .arg("status")
            .arg("--state-dir")
            .arg(&state)
            .args(json.then_some("--json"))
            .output()
            .expect("esb status");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let text = status(false);
    assert!(text.contains(&format!("  WARNING {note}")), "{text}");
    let doc: Value = serde_json::from_str(&status(true)).expect("status JSON");
    assert_eq!(doc["functions"][0]["note"], note, "{doc}");
    up.stop();

    // The same through esb.toml and the variable: the image is the one just built.
    std::fs::write(project.dir.join("esb.toml"), "nearest-python-base = true\n").expect("esb.toml");
    let built = support::esb_command()
        .arg("build")
        .arg("--template")
        .arg(project.template())
        .output()
        .expect("esb build");
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let summary = String::from_utf8_lossy(&built.stdout);
    assert!(summary.contains("up to date"), "{summary}");
    assert!(String::from_utf8_lossy(&built.stderr).contains(&warning));
    std::fs::remove_file(project.dir.join("esb.toml")).expect("esb.toml");
    let plan = |env: Option<&str>| {
        let mut cmd = support::esb_command();
        cmd.arg("build")
            .arg("--dry-run")
            .arg("--template")
            .arg(project.template())
            .env_remove("ESB_NEAREST_PYTHON_BASE");
        if let Some(value) = env {
            cmd.env("ESB_NEAREST_PYTHON_BASE", value);
        }
        let out = cmd.output().expect("esb build --dry-run");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(
        plan(Some("1")).contains("up to date"),
        "{}",
        plan(Some("1"))
    );
    assert!(
        plan(None).contains("to build"),
        "without the option, the image is another one: {}",
        plan(None)
    );
}
