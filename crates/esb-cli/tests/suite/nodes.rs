//! A box spanning several machines, each a network namespace this test creates (veth
//! pairs on private /24s of 10.213.0.0/16, see `support::netns`), each with its own
//! `esb agent --join`: joining with one-time tokens and the refusals around them
//! (revoked, expired, reused), mutual TLS on every agent (no certificate, another CA's
//! certificate), placement by memory and labels, workers on nodes using the box's
//! Invoke API, S3, DynamoDB and SQS and shipping their logs with the node's name; then,
//! under load, a node killed and a node partitioned (requests keep being served and no
//! accepted asynchronous event is lost), the partitioned node healed and reconciled,
//! the killed one restarted, and a node drained and removed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::netns::NetNode;
use crate::support::*;

const APP: &str = r#"
import json, os, time
import boto3

def node():
    # Where this code was put: a node keeps pushed code under its own state dir
    # (`<dir>/node-N/agent/artifacts/`); the box's own node runs it from the project.
    path = os.path.realpath(__file__)
    for part in path.split(os.sep):
        if part.startswith("node-"):
            return "n" + part[len("node-"):]
    return "local"

def handler(event, context):
    out = {"node": node(), "pid": os.getpid()}
    mode = event.get("mode", "")
    if mode == "sleep":
        time.sleep(event["seconds"])
    elif mode == "record":
        with open(os.environ["RESULTS_FILE"], "a") as f:
            f.write(event["id"] + "\n")
    elif mode == "services":
        s3 = boto3.client("s3")
        s3.put_object(Bucket=os.environ["BUCKET"], Key="from-" + out["node"], Body=b"hello")
        out["s3"] = s3.get_object(Bucket=os.environ["BUCKET"], Key="from-" + out["node"])["Body"].read().decode()
        ddb = boto3.client("dynamodb")
        ddb.put_item(TableName=os.environ["TABLE"], Item={"id": {"S": out["node"]}})
        out["dynamodb"] = ddb.get_item(TableName=os.environ["TABLE"], Key={"id": {"S": out["node"]}})["Item"]["id"]["S"]
        sqs = boto3.client("sqs")
        sqs.send_message(QueueUrl=os.environ["QUEUE"], MessageBody=out["node"])
        out["sqs"] = sqs.receive_message(QueueUrl=os.environ["QUEUE"], WaitTimeSeconds=5)["Messages"][0]["Body"]
        answer = boto3.client("lambda").invoke(FunctionName="Home", Payload=b"{}")
        out["chained"] = json.loads(answer["Payload"].read())
        print("node-marker", out["node"])
    return out
"#;

fn template(code: &Path, results: &Path) -> String {
    format!(
        r#"Globals:
  Function:
    Runtime: python3.11
    CodeUri: {code}
    Handler: app.handler
    Timeout: 30
    Environment:
      Variables:
        RESULTS_FILE: {results}
        BUCKET: !Ref Bucket
        TABLE: !Ref Table
        QUEUE: !Ref Queue
Resources:
  Bucket:
    Type: AWS::S3::Bucket
  Table:
    Type: AWS::Serverless::SimpleTable
  Queue:
    Type: AWS::SQS::Queue
  Edge:
    Type: AWS::Serverless::Function
    Metadata:
      Esb:
        NodeLabels:
          pool: edge
  Big:
    Type: AWS::Serverless::Function
    Metadata:
      Esb:
        NodeLabels:
          pool: edge
    Properties:
      MemorySize: 1024
  Home:
    Type: AWS::Serverless::Function
    Metadata:
      Esb:
        AvoidNodeLabels:
          pool: edge
"#,
        code = code.display(),
        results = results.display()
    )
}

/// A box on this machine (process workers, its own node `local`) serving the test's
/// template, with the nodes' state dirs beside its own.
struct TestBox {
    dir: PathBuf,
    state: PathBuf,
    port: u16,
    results: PathBuf,
    child: Child,
    output: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl TestBox {
    fn start(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("esb-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let code = dir.join("code");
        std::fs::create_dir_all(&code).expect("code dir");
        std::fs::write(code.join("app.py"), APP).expect("app.py");
        let results = dir.join("results.txt");
        std::fs::write(&results, "").expect("results file");
        std::fs::write(dir.join("template.yaml"), template(&code, &results)).expect("template");
        let state = dir.join(".esb");
        link_venv(&state);
        let port = free_addr().port();
        let (mut child, output) = esb_up(
            &dir,
            &state,
            "process",
            port,
            &[
                "--s3-port",
                "0",
                "--dynamodb-port",
                "0",
                "--sqs-port",
                "0",
                "--cloudwatch-logs-port",
                "off",
            ],
        );
        wait_for_service(&mut child, &output, "SQS: ", Duration::from_secs(120));
        Self {
            dir,
            state,
            port,
            results,
            child,
            output,
        }
    }

    fn esb(&self, args: &[&str]) -> std::process::Output {
        esb_command()
            .args(args)
            .arg("--state-dir")
            .arg(&self.state)
            .output()
            .expect("run esb")
    }

    /// `esb node add`: the token it printed.
    fn token(&self, extra: &[&str]) -> String {
        let mut args = vec!["node", "add"];
        args.extend_from_slice(extra);
        let out = self.esb(&args);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "esb node add: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text.split_whitespace()
            .find(|w| w.starts_with("esbjoin1."))
            .unwrap_or_else(|| panic!("no token in: {text}"))
            .to_string()
    }

    fn box_url(&self, node: &NetNode) -> String {
        format!("https://{}:{}", node.host_ip, self.port)
    }

    fn status(&self) -> Value {
        let out = self.esb(&["status", "--json"]);
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "esb status --json ({e}): {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        })
    }

    /// A node as `esb status --json` lists it (under `nodes`).
    fn node_status(&self, name: &str) -> Option<Value> {
        self.status()["nodes"]
            .as_array()
            .and_then(|nodes| nodes.iter().find(|n| n["name"] == name).cloned())
    }

    fn wait_health(&self, name: &str, health: &str, within: Duration) {
        wait_for(&format!("node {name} {health}"), within, || {
            self.node_status(name)
                .is_some_and(|n| n["health"] == health && n["draining"] != true)
        });
    }

    /// Invokes `function` with `payload` through the Invoke API; the answer as JSON.
    fn invoke(&self, function: &str, payload: Value) -> Value {
        let client = https_client(&self.state, self.port);
        let resp = send_signed(
            &client,
            &self.state,
            client
                .post(format!(
                    "https://127.0.0.1:{}/2015-03-31/functions/{function}/invocations",
                    self.port
                ))
                .body(payload.to_string()),
        )
        .expect("invoke");
        let status = resp.status();
        let function_error = resp.headers().get("x-amz-function-error").cloned();
        let text = resp.text().expect("answer");
        assert_eq!(status, 200, "{function}: {text}");
        assert!(function_error.is_none(), "{function} failed: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{function} answered {text}: {e}"))
    }
}

impl Drop for TestBox {
    fn drop(&mut self) {
        terminate(&mut self.child, Duration::from_secs(30));
        if std::thread::panicking() {
            eprintln!(
                "box output:\n{}",
                self.output.lock().expect("output").join("\n")
            );
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An `esb agent` running inside a node.
struct Agent {
    child: Child,
    output: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "agent output:\n{}",
                self.output.lock().expect("output").join("\n")
            );
        }
    }
}

/// Starts `esb agent` in `node`, joining with `token` when given (a restarted agent
/// needs none: it kept its certificate).
fn agent(
    node: &NetNode,
    state: &Path,
    name: &str,
    token: Option<(&str, &str)>,
    extra: &[&str],
) -> Agent {
    link_venv_once(state);
    let mut cmd = node.command(&esb_bin());
    cmd.args(["agent", "--runtime", "process", "--name", name])
        .args(["--listen", &format!("{}:50051", node.node_ip)])
        .arg("--state-dir")
        .arg(state)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some((url, token)) = token {
        cmd.args(["--join", url, "--token", token]);
    }
    let mut child = cmd.spawn().expect("start esb agent");
    let output = capture_output(&mut child);
    Agent { child, output }
}

fn link_venv_once(state: &Path) {
    if !state.join("runtimes/python").exists() {
        link_venv(state);
    }
}

/// Runs `esb agent --join` expecting a refusal; what it said.
fn refused_join(node: &NetNode, state: &Path, url: &str, token: &str) -> String {
    let out = node
        .command(&esb_bin())
        .args(["agent", "--runtime", "process", "--name", "intruder"])
        .args(["--listen", &format!("{}:50052", node.node_ip)])
        .arg("--state-dir")
        .arg(state)
        .args(["--join", url, "--token", token])
        .stdin(Stdio::null())
        .output()
        .expect("run esb agent");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "the join should be refused: {text}");
    text
}

/// A TLS handshake with the agent at `addr` by `openssl s_client`, presenting
/// `cert`/`key` if given and trusting the box CA; whether the agent accepted it.
fn tls_accepted(
    node: &NetNode,
    addr: &str,
    ca: &Path,
    identity: Option<(&Path, &Path)>,
) -> (bool, String) {
    let mut cmd = Command::new("ip");
    cmd.args([
        "netns", "exec", &node.ns, "openssl", "s_client", "-connect", addr, "-CAfile",
    ])
    .arg(ca)
    .args(["-alpn", "h2", "-verify_return_error", "-brief"]);
    if let Some((cert, key)) = identity {
        cmd.arg("-cert").arg(cert).arg("-key").arg(key);
    }
    // An HTTP/2 preface: an agent that accepted the client answers with its
    // SETTINGS; one that refused it sends a TLS alert instead.
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        let _ = stdin.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        std::thread::sleep(Duration::from_millis(500));
    }
    let out = child.wait_with_output().expect("openssl output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // A refusal is a TLS alert (certificate required, unknown CA...); a handshake
    // that completed says so, whatever the server then made of the bytes sent.
    let accepted = text.contains("CONNECTION ESTABLISHED") && !text.contains("alert");
    (accepted, text)
}

#[test]
fn nodes_join_over_mutual_tls_and_run_pinned_functions_with_the_boxs_services() {
    let n1 = NetNode::create(41);
    let n2 = NetNode::create(42);
    let tbox = TestBox::start("nodes-join");
    let url1 = tbox.box_url(&n1);
    let url2 = tbox.box_url(&n2);

    // Refused joins: a revoked token, an expired one, a used one.
    let revoked = tbox.token(&["--label", "pool=edge"]);
    let id = revoked.split('.').nth(1).expect("token id").to_string();
    assert!(tbox.esb(&["node", "revoke", &id]).status.success());
    let said = refused_join(&n1, &tbox.dir.join("intruder-1"), &url1, &revoked);
    assert!(said.contains("revoked"), "{said}");
    let expiring = tbox.token(&["--ttl", "1s"]);
    std::thread::sleep(Duration::from_secs(2));
    let said = refused_join(&n1, &tbox.dir.join("intruder-2"), &url1, &expiring);
    assert!(said.contains("expired"), "{said}");

    // Two nodes join, labelled for the edge functions: a small one and a big one.
    let t1 = tbox.token(&["--label", "pool=edge"]);
    let t2 = tbox.token(&["--label", "pool=edge"]);
    let s1 = tbox.dir.join("node-1");
    let s2 = tbox.dir.join("node-2");
    let _a1 = agent(&n1, &s1, "n1", Some((&url1, &t1)), &["--memory-mb", "512"]);
    let _a2 = agent(&n2, &s2, "n2", Some((&url2, &t2)), &["--memory-mb", "4096"]);
    tbox.wait_health("n1", "up", Duration::from_secs(60));
    tbox.wait_health("n2", "up", Duration::from_secs(60));
    let said = refused_join(&n2, &tbox.dir.join("intruder-3"), &url2, &t1);
    assert!(said.contains("used"), "a token joins once: {said}");

    // Mutual TLS: the agent refuses a client without a certificate and one whose
    // certificate another CA issued; it accepts the box's gateway certificate.
    let ca = tbox.state.join("certs/ca.pem");
    let agent_addr = format!("{}:50051", n1.node_ip);
    let (accepted, said) = tls_accepted(&n1, &agent_addr, &ca, None);
    assert!(!accepted, "no client certificate: {said}");
    let other = tbox.dir.join("other-ca");
    std::fs::create_dir_all(&other).expect("dir");
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ])
        .args(["-days", "1", "-subj", "/CN=esb-gateway", "-keyout"])
        .arg(other.join("key.pem"))
        .arg("-out")
        .arg(other.join("cert.pem"))
        .output()
        .expect("openssl req");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let (accepted, said) = tls_accepted(
        &n1,
        &agent_addr,
        &ca,
        Some((&other.join("cert.pem"), &other.join("key.pem"))),
    );
    assert!(!accepted, "another CA's certificate: {said}");
    let (accepted, said) = tls_accepted(
        &n1,
        &agent_addr,
        &ca,
        Some((
            &tbox.state.join("nodes/gateway.pem"),
            &tbox.state.join("nodes/gateway-key.pem"),
        )),
    );
    assert!(accepted, "the box's gateway certificate: {said}");

    // Placement: the edge function runs on an edge node, the 1024 MB one only fits
    // the big node, the home function never leaves the box's own node.
    let edge = tbox.invoke("Edge", serde_json::json!({"mode": "services"}));
    let node = edge["node"].as_str().expect("node").to_string();
    assert!(node == "n1" || node == "n2", "{edge}");
    assert_eq!(edge["s3"], "hello", "{edge}");
    assert_eq!(edge["dynamodb"], node.as_str(), "{edge}");
    assert_eq!(edge["sqs"], node.as_str(), "{edge}");
    assert_eq!(edge["chained"]["node"], "local", "{edge}");
    assert_eq!(tbox.invoke("Big", serde_json::json!({}))["node"], "n2");
    assert_eq!(tbox.invoke("Home", serde_json::json!({}))["node"], "local");

    // The function's code reached the node by hash, not by the box's path.
    let node_state = if node == "n1" { &s1 } else { &s2 };
    let artifacts: Vec<_> = std::fs::read_dir(node_state.join("agent/artifacts"))
        .expect("the node's artifacts")
        .flatten()
        .collect();
    assert!(!artifacts.is_empty(), "no artifact on {node}");

    // The worker's Invoke API faces the network over mutual TLS too: plain HTTP gets
    // nothing, a client without the gateway's certificate is refused.
    let record = std::fs::read_dir(node_state.join("agent/workers"))
        .expect("the node's worker records")
        .flatten()
        .find_map(|e| {
            let doc: Value = serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok()?;
            doc["address"].as_str().map(str::to_string)
        })
        .expect("a worker on the node");
    let node_net = if node == "n1" { &n1 } else { &n2 };
    let plain = reqwest::blocking::Client::new()
        .post(format!(
            "http://{record}/2015-03-31/functions/function/invocations"
        ))
        .body("{}")
        .timeout(Duration::from_secs(5))
        .send();
    assert!(
        plain.as_ref().map_or(true, |r| r.status() != 200),
        "plain HTTP reached the worker: {plain:?}"
    );
    let (accepted, said) = tls_accepted(node_net, &record, &ca, None);
    assert!(
        !accepted,
        "a worker served a client without a certificate: {said}"
    );
    let (accepted, said) = tls_accepted(
        node_net,
        &record,
        &ca,
        Some((
            &tbox.state.join("nodes/gateway.pem"),
            &tbox.state.join("nodes/gateway-key.pem"),
        )),
    );
    assert!(accepted, "the worker refused the gateway: {said}");

    // The worker's log line reached the box's store, with the node's name.
    wait_for(
        "the node's log line in the box's store",
        Duration::from_secs(30),
        || {
            let out = tbox.esb(&["logs", "Edge", "--json", "--query", "node-marker"]);
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .any(|r| r["node"] == node.as_str())
        },
    );

    // esb status and /metrics see the nodes.
    let n2_status = tbox.node_status("n2").expect("n2 in status");
    assert_eq!(n2_status["memory_mb"], 4096);
    assert_eq!(n2_status["labels"]["pool"], "edge");
    assert_eq!(n2_status["workers"]["Big"], 1, "{n2_status}");
    let text = String::from_utf8_lossy(&tbox.esb(&["status"]).stdout).to_string();
    assert!(
        text.contains("NODE") && text.contains("n1") && text.contains("n2"),
        "{text}"
    );
}

/// A Python load driver: `seconds` of synchronous invokes of `Edge` from 4 threads
/// (each retried as boto3's standard mode does), plus one asynchronous invoke every
/// 50 ms whose id the function records; writes what it saw to `report`.
const DRIVER: &str = r#"
import json, sys, threading, time, uuid
import boto3
from botocore.config import Config
url, seconds, report = sys.argv[1], float(sys.argv[2]), sys.argv[3]
client = boto3.client("lambda", endpoint_url=url,
    config=Config(retries={"mode": "standard", "max_attempts": 6}, read_timeout=60))
end = time.time() + seconds
ok, failed, accepted, nodes = [], [], [], {}
lock = threading.Lock()
def sync_loop():
    while time.time() < end:
        try:
            r = client.invoke(FunctionName="Edge", Payload=json.dumps({"mode": "sleep", "seconds": 0.05}))
            body = json.loads(r["Payload"].read())
            with lock:
                if "FunctionError" in r:
                    failed.append([time.time(), json.dumps(body)])
                else:
                    ok.append([time.time(), body["node"]])
        except Exception as e:
            with lock:
                failed.append([time.time(), repr(e)])
def async_loop():
    while time.time() < end:
        event_id = str(uuid.uuid4())
        try:
            r = client.invoke(FunctionName="Edge", InvocationType="Event",
                              Payload=json.dumps({"mode": "record", "id": event_id}))
            if r["StatusCode"] == 202:
                with lock:
                    accepted.append(event_id)
        except Exception as e:
            with lock:
                failed.append([time.time(), "async: " + repr(e)])
        time.sleep(0.05)
threads = [threading.Thread(target=sync_loop) for _ in range(4)] + [threading.Thread(target=async_loop)]
for t in threads: t.start()
for t in threads: t.join()
json.dump({"ok": ok, "failed": failed, "accepted": accepted}, open(report, "w"))
"#;

fn rie_workers(node: &NetNode) -> usize {
    node.pids()
        .into_iter()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).split('\0').any(|a| a == "rie"))
                .unwrap_or(false)
        })
        .count()
}

#[test]
fn nodes_killed_or_partitioned_under_load_lose_nothing_and_come_back_reconciled() {
    let nodes: Vec<NetNode> = (43..=45).map(NetNode::create).collect();
    let tbox = TestBox::start("nodes-loss");
    let states: Vec<PathBuf> = (1..=3)
        .map(|i| tbox.dir.join(format!("node-{i}")))
        .collect();
    let mut agents: Vec<Option<Agent>> = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        let token = tbox.token(&["--label", "pool=edge"]);
        let name = format!("n{}", i + 1);
        agents.push(Some(agent(
            node,
            &states[i],
            &name,
            Some((&tbox.box_url(node), &token)),
            &[],
        )));
    }
    for name in ["n1", "n2", "n3"] {
        tbox.wait_health(name, "up", Duration::from_secs(60));
    }
    // Warm workers on every node.
    for _ in 0..6 {
        tbox.invoke("Edge", serde_json::json!({}));
    }

    let report = tbox.dir.join("load.json");
    let driver = aws_client_command(
        python(),
        &tbox.state,
        &tbox.dir,
        "AWS_ENDPOINT_URL_LAMBDA",
        &format!("https://127.0.0.1:{}", tbox.port),
    )
    .arg("-c")
    .arg(DRIVER)
    .args([
        &format!("https://127.0.0.1:{}", tbox.port),
        "24",
        report.to_str().expect("path"),
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("load driver");
    let started = Instant::now();
    let at = |s: u64| {
        let due = Duration::from_secs(s);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
    };

    // The killed node: every process in it dies at once.
    at(3);
    let killed_at = Instant::now();
    nodes[0].kill_all();
    agents[0] = None;
    tbox.wait_health("n1", "down", Duration::from_secs(10));
    let detected = killed_at.elapsed();
    assert!(
        detected < Duration::from_secs(10),
        "loss noticed after {detected:?}"
    );

    // The partitioned node: its link goes, its processes keep running.
    at(8);
    nodes[1].partition();
    tbox.wait_health("n2", "down", Duration::from_secs(15));
    at(13);
    nodes[1].heal();
    // Back, and reconciled: the workers it ran before the partition are gone.
    tbox.wait_health("n2", "up", Duration::from_secs(20));
    let n2 = tbox.node_status("n2").expect("n2");
    assert!(n2["losses"].as_u64() >= Some(1), "{n2}");

    // The killed node's agent restarts with its kept certificate: no token needed.
    at(15);
    agents[0] = Some(agent(&nodes[0], &states[0], "n1", None, &[]));
    tbox.wait_health("n1", "up", Duration::from_secs(30));

    // Drain and remove the third node while the load runs.
    at(18);
    let removed = tbox.esb(&["node", "remove", "n3"]);
    assert!(
        removed.status.success(),
        "{}{}",
        String::from_utf8_lossy(&removed.stdout),
        String::from_utf8_lossy(&removed.stderr)
    );
    assert!(tbox.node_status("n3").is_none(), "n3 is gone from the box");
    wait_for("n3's workers gone", Duration::from_secs(10), || {
        rie_workers(&nodes[2]) == 0
    });

    let out = driver.wait_with_output().expect("driver");
    assert!(
        out.status.success(),
        "driver: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_str(&std::fs::read_to_string(&report).expect("report"))
        .expect("report JSON");
    let ok = seen["ok"].as_array().expect("ok");
    let failed = seen["failed"].as_array().expect("failed");
    // Requests kept being served: every synchronous invoke succeeded (SDK retries
    // included), before, during and after each fault.
    assert!(failed.is_empty(), "failed requests: {failed:?}");
    assert!(ok.len() > 100, "only {} requests served", ok.len());
    let served_by = |name: &str| ok.iter().filter(|o| o[1] == name).count();
    assert!(
        served_by("n3") > 0 && served_by("n2") > 0,
        "work spread: {ok:?}"
    );

    // Nothing accepted is lost: every accepted asynchronous event ran (at least once).
    let accepted: Vec<String> = seen["accepted"]
        .as_array()
        .expect("accepted")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    assert!(
        accepted.len() > 50,
        "only {} events accepted",
        accepted.len()
    );
    wait_for(
        "every accepted event to run",
        Duration::from_secs(90),
        || {
            let done = std::fs::read_to_string(&tbox.results).unwrap_or_default();
            let done: std::collections::HashSet<&str> = done.lines().collect();
            accepted.iter().all(|id| done.contains(id.as_str()))
        },
    );

    // The healed node runs only workers the box knows of: one `esb rie` per worker
    // in its status, no leftovers from before the partition.
    wait_for(
        "n2 runs only the box's workers",
        Duration::from_secs(15),
        || {
            let listed: u64 = tbox
                .node_status("n2")
                .and_then(|n| {
                    n["workers"]
                        .as_object()
                        .map(|w| w.values().filter_map(Value::as_u64).sum())
                })
                .unwrap_or(u64::MAX);
            rie_workers(&nodes[1]) as u64 == listed
        },
    );
    let metrics = String::from_utf8_lossy(
        &reqwest::blocking::get(metrics_url(&tbox.state))
            .expect("metrics")
            .bytes()
            .expect("metrics body"),
    )
    .to_string();
    assert!(
        metrics.contains("esb_lambda_node_up{node=\"n2\"} 1"),
        "{metrics}"
    );
}
