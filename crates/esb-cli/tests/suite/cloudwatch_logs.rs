//! The box's CloudWatch Logs API end to end, with real clients: `esb up` (the API on a
//! free port) driven by boto3's `logs` client, the AWS CLI v2 (`aws logs tail --follow`,
//! `filter-log-events`) and a function that writes its own log events with
//! `boto3.client("logs")` as the original ESB's users do; events land in the box's log
//! store, where LogsQL queries written for the original find them.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support;

/// `logs` (boto3's client, pointed at the box, no retries), `error(call, ...)` (the
/// error a call ends with, None when it succeeds), and `out`, printed as JSON.
const PRELUDE: &str = r#"
import json, os, time
import boto3, botocore
from botocore.config import Config

URL = os.environ["LOGS_URL"]
CONFIG = Config(retries={"max_attempts": 1, "mode": "standard"})

def client(config=CONFIG, **kw):
    return boto3.client("logs", endpoint_url=URL, region_name="us-east-1", config=config, **kw)

logs = client()

def error(call, *args, **kw):
    try:
        call(*args, **kw)
    except botocore.exceptions.ClientError as e:
        r = e.response
        return {"status": r["ResponseMetadata"]["HTTPStatusCode"],
                "code": r.get("Error", {}).get("Code"),
                "message": r.get("Error", {}).get("Message")}
    return None

def now_ms():
    return int(time.time() * 1000)

out = {}
"#;

const FUNCTION: &str = "  Connectivity:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: lambda-connectivity
      Handler: cloudwatch_handlers.handler
      Events:
        Api:
          Type: Api
          Properties: {Path: /api/connectivity, Method: post}
";

struct LogsBox {
    dir: PathBuf,
    state: PathBuf,
    child: Child,
    output: Arc<Mutex<Vec<String>>>,
    url: String,
    port: u16,
    runtime: String,
}

impl LogsBox {
    fn start(name: &str, runtime: &str) -> Self {
        let dir = support::python_project(&format!("cwlogs-{name}-{runtime}"), FUNCTION);
        let state = dir.join(".esb");
        let port = support::free_addr().port();
        let (mut child, output) = support::esb_up(
            &dir,
            &state,
            runtime,
            port,
            &[
                "--s3-port",
                "off",
                "--dynamodb-port",
                "off",
                "--cloudwatch-logs-port",
                "0",
                "--logs-listen",
                "127.0.0.1:0",
            ],
        );
        let url = support::wait_for_service(
            &mut child,
            &output,
            "CloudWatch Logs: ",
            Duration::from_secs(300),
        );
        let b = Self {
            dir,
            state,
            child,
            output,
            url,
            port,
            runtime: runtime.to_string(),
        };
        // Up once the gateway answers.
        support::https_client_within(&b.state, port, Duration::from_secs(300));
        b
    }

    fn logs(&self) -> String {
        self.output.lock().expect("output lock").join("\n")
    }

    fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let resp = support::https_client(&self.state, self.port)
            .post(format!("https://127.0.0.1:{}{path}", self.port))
            .json(&body)
            .send()
            .unwrap_or_else(|e| panic!("POST {path}: {e}\n{}", self.logs()));
        let status = resp.status().as_u16();
        let text = resp.text().expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    fn client_command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        support::aws_client_command(program, &self.state, &self.dir, "LOGS_URL", &self.url)
    }

    /// Runs `PRELUDE` + `body` with the test venv's boto3; the `out` it printed.
    fn python(&self, name: &str, body: &str) -> Value {
        let script = support::client_script(&self.dir, name, PRELUDE, body);
        let out = self
            .client_command(support::python())
            .arg(script)
            .output()
            .expect("run python");
        assert!(
            out.status.success(),
            "{name} failed:\n{}\n{}\n--- box ---\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.logs()
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        serde_json::from_str(stdout.lines().last().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{name} printed no JSON ({e}):\n{stdout}"))
    }

    /// The AWS CLI v2 (`aws logs tail` exists only there) with the box's endpoint.
    fn aws_cli(&self, args: &[&str]) -> Command {
        let mut cmd = self.client_command(aws_cli_v2());
        cmd.args(args).args(["--endpoint-url", &self.url]);
        cmd
    }

    /// LogsQL against the box's store (its VictoriaLogs API).
    fn logsql(&self, query: &str) -> Vec<Value> {
        let state: Value =
            serde_json::from_slice(&std::fs::read(self.state.join("box.json")).expect("box.json"))
                .expect("box.json is JSON");
        let base = state["logs_url"].as_str().expect("logs_url").to_string();
        let text = reqwest::blocking::Client::new()
            .get(format!("{base}/select/logsql/query"))
            .query(&[("query", query)])
            .send()
            .and_then(|r| r.text())
            .expect("query the store");
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect()
    }
}

impl Drop for LogsBox {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            if std::thread::panicking() {
                let _ = self.child.kill();
            } else {
                support::terminate(&mut self.child, Duration::from_secs(60));
            }
        }
        let _ = self.child.wait();
        match self.runtime.as_str() {
            "docker" => support::remove_box_objects(&self.state),
            "containerd" => support::containerd::remove_box_objects(&self.state),
            _ => {}
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Debian's AWS CLI v2 (`scripts/test.sh` installs it; the venv's is v1).
fn aws_cli_v2() -> PathBuf {
    let p = PathBuf::from("/usr/bin/aws");
    assert!(
        p.exists(),
        "the AWS CLI v2 is missing: run scripts/test.sh once"
    );
    p
}

/// The original ESB's `test_cloudwatch` flow from a function, then what the host sees.
fn a_function_writes_log_events(runtime: &str) -> LogsBox {
    let b = LogsBox::start("function", runtime);
    let (status, v) = b.post("/api/connectivity", json!({"action": "test_cloudwatch"}));
    assert_eq!(status, 200, "{v:#}\n{}", b.logs());
    assert_eq!(v["success"], true, "{v:#}");
    let group = v["log_group"].as_str().expect("log_group").to_string();
    let stream = v["log_stream"].as_str().expect("log_stream").to_string();
    assert_eq!(group, "/lambda/hello-test");
    let endpoint = v["endpoint"].as_str().expect("endpoint in the function");
    let port = b.url.rsplit(':').next().expect("port");
    assert!(
        endpoint.starts_with("https://") && endpoint.ends_with(&format!(":{port}")),
        "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS={endpoint}, the box's is {}",
        b.url
    );
    let seen = b.python(
        "get-events",
        &format!(
            r#"
events = logs.get_log_events(logGroupName="{group}", logStreamName="{stream}", startFromHead=True)["events"]
out["messages"] = [e["message"] for e in events]
out["groups"] = [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]
"#
        ),
    );
    assert_eq!(
        seen["messages"],
        json!([
            "[INFO] Test log from Lambda via CloudWatch Logs API",
            "[DEBUG] This is a debug message",
            "[ERROR] This is an error message",
            "CloudWatch Logs E2E verification successful!"
        ]),
        "{seen:#}"
    );
    let groups: Vec<&str> = seen["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(groups.contains(&"/lambda/hello-test"), "{groups:?}");
    // The events are records of the box's store, found as the original's tests look
    // for them: by logger, group and stream, attributed to the function that wrote them.
    let records = b.logsql(&format!(
        "logger:\"boto3.mock\" AND log_group:{} AND log_stream:{}",
        json!(group),
        json!(stream)
    ));
    assert_eq!(records.len(), 4, "{records:#?}");
    for r in &records {
        assert_eq!(r["container_name"], "lambda-connectivity", "{r:#}");
        assert_eq!(r["function"], "lambda-connectivity", "{r:#}");
        assert!(
            r["trace_id"].as_str().is_some_and(|t| t.starts_with("1-")),
            "{r:#}"
        );
    }
    let mut levels: Vec<&str> = records.iter().filter_map(|r| r["level"].as_str()).collect();
    levels.sort();
    assert_eq!(levels, ["DEBUG", "ERROR", "INFO", "INFO"]);
    assert!(
        records
            .iter()
            .any(|r| r["_msg"] == "CloudWatch Logs E2E verification successful!")
    );
    b
}

#[test]
fn cloudwatch_logs_a_process_function_writes_log_events() {
    let b = a_function_writes_log_events("process");

    // The function's own output is its /aws/lambda group: one stream per worker,
    // named as Lambda names an environment's, with START/END/REPORT and its prints.
    let seen = b.python(
        "function-group",
        r#"
g = "/aws/lambda/lambda-connectivity"
out["groups"] = [x["logGroupName"] for x in logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]]
streams = logs.describe_log_streams(logGroupName=g)["logStreams"]
out["streams"] = [s["logStreamName"] for s in streams]
out["events"] = [e["message"] for e in logs.get_log_events(logGroupName=g, logStreamName=streams[0]["logStreamName"], startFromHead=True)["events"]]
f = logs.filter_log_events(logGroupName=g, filterPattern='"START RequestId"')
out["starts"] = [(e["logStreamName"], e["message"]) for e in f["events"]]
out["prints"] = [e["message"] for e in logs.filter_log_events(logGroupName=g, filterPattern="connectivity")["events"]]
"#,
    );
    assert_eq!(
        seen["groups"],
        json!(["/aws/lambda/lambda-connectivity"]),
        "{seen:#}"
    );
    let stream = seen["streams"][0].as_str().expect("a stream");
    let (day, worker) = stream
        .split_once("/[$LATEST]")
        .expect("a Lambda stream name");
    assert_eq!(day.len(), "2024/01/31".len(), "{stream}");
    assert!(!worker.is_empty(), "{stream}");
    let events: Vec<&str> = seen["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        events.iter().any(|m| m.starts_with("START RequestId:")),
        "{events:?}"
    );
    assert!(
        events.iter().any(|m| m.starts_with("REPORT RequestId:")),
        "{events:?}"
    );
    assert!(
        events.contains(&"connectivity: test_cloudwatch"),
        "{events:?}"
    );
    assert_eq!(seen["starts"].as_array().map(Vec::len), Some(1), "{seen:#}");
    assert_eq!(seen["starts"][0][0], stream);
    assert_eq!(seen["prints"], json!(["connectivity: test_cloudwatch"]));
}

#[test]
fn cloudwatch_logs_a_docker_function_writes_log_events() {
    a_function_writes_log_events("docker");
}

#[test]
fn cloudwatch_logs_a_containerd_function_writes_log_events() {
    a_function_writes_log_events("containerd");
}

#[test]
fn cloudwatch_logs_api_follows_aws_rules() {
    let b = LogsBox::start("rules", "process");
    let seen = b.python(
        "rules",
        r#"
g, s = "/app/orders", "worker-1"
out["create"] = logs.create_log_group(logGroupName=g, tags={"team": "a"})["ResponseMetadata"]["HTTPStatusCode"]
out["again"] = error(logs.create_log_group, logGroupName=g)
out["bad_name"] = error(logs.create_log_group, logGroupName="bad name")
out["no_group"] = error(logs.create_log_stream, logGroupName="/none", logStreamName=s)
logs.create_log_stream(logGroupName=g, logStreamName=s)
out["stream_again"] = error(logs.create_log_stream, logGroupName=g, logStreamName=s)
out["no_stream"] = error(logs.put_log_events, logGroupName=g, logStreamName="nope", logEvents=[{"timestamp": now_ms(), "message": "x"}])
t = now_ms()
out["unordered"] = error(logs.put_log_events, logGroupName=g, logStreamName=s,
    logEvents=[{"timestamp": t, "message": "b"}, {"timestamp": t - 10, "message": "a"}])
out["too_big"] = error(logs.put_log_events, logGroupName=g, logStreamName=s,
    logEvents=[{"timestamp": t, "message": "x" * (1048576 - 26 + 1)}])
r = logs.put_log_events(logGroupName=g, logStreamName=s, logEvents=[
    {"timestamp": t - 15 * 86400 * 1000, "message": "too old"},
    {"timestamp": t, "message": json.dumps({"level": "ERROR", "latency": 812, "msg": "slow checkout"})},
    {"timestamp": t + 1, "message": json.dumps({"level": "INFO", "latency": 12, "msg": "fast"})},
    {"timestamp": t + 2, "message": "ERROR payment declined for order 42"},
    {"timestamp": t + 3 * 3600 * 1000, "message": "too new"},
])
out["rejected"] = r.get("rejectedLogEventsInfo")
out["token"] = "nextSequenceToken" in r
def messages(**kw):
    return [e["message"] for e in logs.filter_log_events(logGroupName=g, **kw)["events"]]
out["json_error"] = messages(filterPattern='{ $.level = "ERROR" }')
out["json_slow"] = messages(filterPattern='{ $.latency > 500 }')
out["term"] = messages(filterPattern="ERROR")
out["phrase"] = messages(filterPattern='"payment declined"')
out["bad_pattern"] = error(logs.filter_log_events, logGroupName=g, filterPattern="{ $.level = ")

# Many events: pages of GetLogEvents and FilterLogEvents see each one once.
logs.create_log_stream(logGroupName=g, logStreamName="bulk")
base = now_ms()
logs.put_log_events(logGroupName=g, logStreamName="bulk",
    logEvents=[{"timestamp": base + i // 3, "message": f"event {i}"} for i in range(25)])
seen, token = [], None
while True:
    kw = {"nextToken": token} if token else {"startFromHead": True}
    r = logs.get_log_events(logGroupName=g, logStreamName="bulk", limit=10, **kw)
    if not r["events"]:
        break
    seen += [e["message"] for e in r["events"]]
    token = r["nextForwardToken"]
out["paged"] = seen
out["latest"] = [e["message"] for e in logs.get_log_events(logGroupName=g, logStreamName="bulk", limit=3)["events"]]
pages = logs.get_paginator("filter_log_events").paginate(
    logGroupName=g, logStreamNames=["bulk"], PaginationConfig={"PageSize": 7})
out["filter_paged"] = [e["message"] for p in pages for e in p["events"]]
d = logs.describe_log_streams(logGroupName=g, orderBy="LastEventTime", descending=True)["logStreams"]
out["streams"] = [x["logStreamName"] for x in d]
out["first_event"] = [x.get("firstEventTimestamp") is not None for x in d]
logs.put_retention_policy(logGroupName=g, retentionInDays=7)
out["bad_retention"] = error(logs.put_retention_policy, logGroupName=g, retentionInDays=8)
d = logs.describe_log_groups(logGroupNamePrefix="/app/")["logGroups"]
out["group"] = {k: d[0].get(k) for k in ("logGroupName", "retentionInDays", "arn")}
out["tags"] = logs.list_tags_for_resource(resourceArn=d[0]["logGroupArn"])["tags"]
logs.delete_log_stream(logGroupName=g, logStreamName="bulk")
out["deleted_stream"] = error(logs.get_log_events, logGroupName=g, logStreamName="bulk")
logs.create_log_stream(logGroupName=g, logStreamName="bulk")
out["recreated"] = logs.get_log_events(logGroupName=g, logStreamName="bulk")["events"]
logs.delete_log_group(logGroupName=g)
out["deleted_group"] = error(logs.describe_log_streams, logGroupName=g)

# Signatures: another key, another secret, none.
out["unknown_key"] = error(client(aws_access_key_id="AKIAEXAMPLEEXAMPLE00", aws_secret_access_key="x").describe_log_groups)
creds = boto3.Session().get_credentials()
out["bad_secret"] = error(client(aws_access_key_id=creds.access_key, aws_secret_access_key="wrong").describe_log_groups)
out["unsigned"] = error(client(config=CONFIG.merge(Config(signature_version=botocore.UNSIGNED))).describe_log_groups)
"#,
    );
    let code = |k: &str| seen[k]["code"].clone();
    assert_eq!(seen["create"], 200);
    assert_eq!(code("again"), "ResourceAlreadyExistsException", "{seen:#}");
    assert_eq!(code("bad_name"), "InvalidParameterException", "{seen:#}");
    assert_eq!(code("no_group"), "ResourceNotFoundException");
    assert_eq!(
        seen["no_group"]["message"],
        "The specified log group does not exist."
    );
    assert_eq!(code("stream_again"), "ResourceAlreadyExistsException");
    assert_eq!(code("no_stream"), "ResourceNotFoundException");
    assert_eq!(code("unordered"), "InvalidParameterException");
    assert_eq!(code("too_big"), "InvalidParameterException");
    assert_eq!(
        seen["rejected"],
        json!({"tooOldLogEventEndIndex": 1, "tooNewLogEventStartIndex": 4}),
        "{seen:#}"
    );
    assert_eq!(seen["token"], true);
    assert_eq!(
        seen["json_error"].as_array().map(Vec::len),
        Some(1),
        "{seen:#}"
    );
    assert!(
        seen["json_error"][0]
            .as_str()
            .unwrap_or_default()
            .contains("slow checkout")
    );
    assert_eq!(seen["json_slow"], seen["json_error"]);
    assert_eq!(seen["term"].as_array().map(Vec::len), Some(2), "{seen:#}");
    assert_eq!(
        seen["phrase"],
        json!(["ERROR payment declined for order 42"])
    );
    assert_eq!(code("bad_pattern"), "InvalidParameterException");
    let all: Vec<String> = (0..25).map(|i| format!("event {i}")).collect();
    assert_eq!(seen["paged"], json!(all), "{seen:#}");
    assert_eq!(seen["filter_paged"], json!(all), "{seen:#}");
    assert_eq!(seen["latest"], json!(["event 22", "event 23", "event 24"]));
    assert_eq!(seen["streams"], json!(["bulk", "worker-1"]), "{seen:#}");
    assert_eq!(seen["first_event"], json!([true, true]));
    assert_eq!(code("bad_retention"), "InvalidParameterException");
    assert_eq!(
        seen["group"],
        json!({"logGroupName": "/app/orders", "retentionInDays": 7,
               "arn": "arn:aws:logs:us-east-1:123456789012:log-group:/app/orders:*"}),
        "{seen:#}"
    );
    assert_eq!(seen["tags"], json!({"team": "a"}));
    assert_eq!(code("deleted_stream"), "ResourceNotFoundException");
    assert_eq!(
        seen["recreated"],
        json!([]),
        "a new stream of the same name is empty"
    );
    assert_eq!(code("deleted_group"), "ResourceNotFoundException");
    assert_eq!(
        code("unknown_key"),
        "UnrecognizedClientException",
        "{seen:#}"
    );
    assert_eq!(code("bad_secret"), "InvalidSignatureException", "{seen:#}");
    assert_eq!(
        code("unsigned"),
        "MissingAuthenticationTokenException",
        "{seen:#}"
    );
}

#[test]
fn cloudwatch_logs_aws_cli_tails_and_filters_a_function() {
    let b = LogsBox::start("cli", "process");
    let (status, _) = b.post("/api/connectivity", json!({"action": "first"}));
    assert_eq!(status, 200, "{}", b.logs());
    // `aws logs tail --follow` polls FilterLogEvents; what the function prints later
    // appears in it.
    let mut tail = b
        .aws_cli(&[
            "logs",
            "tail",
            "/aws/lambda/lambda-connectivity",
            "--follow",
            "--format",
            "short",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("aws logs tail");
    let printed = support::capture_output(&mut tail);
    let printed_has = |what: &str| {
        let lines = printed.lock().expect("lock");
        lines.iter().any(|l| l.contains(what))
    };
    support::wait_for(
        "the first print in the tail",
        Duration::from_secs(60),
        || printed_has("connectivity: first"),
    );
    let (status, _) = b.post("/api/connectivity", json!({"action": "second"}));
    assert_eq!(status, 200);
    support::wait_for(
        "the second print in the tail",
        Duration::from_secs(60),
        || printed_has("connectivity: second"),
    );
    let _ = tail.kill();
    let _ = tail.wait();
    let lines = printed.lock().expect("lock").clone();
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("connectivity: first"))
            .count(),
        1,
        "each event once:\n{}",
        lines.join("\n")
    );

    let out = b
        .aws_cli(&[
            "logs",
            "filter-log-events",
            "--log-group-name",
            "/aws/lambda/lambda-connectivity",
            "--filter-pattern",
            "\"connectivity: second\"",
        ])
        .output()
        .expect("aws logs filter-log-events");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let events = v["events"].as_array().expect("events");
    assert_eq!(events.len(), 1, "{v:#}");
    assert_eq!(events[0]["message"], "connectivity: second");
    assert!(
        events[0]["logStreamName"]
            .as_str()
            .is_some_and(|s| s.contains("[$LATEST]"))
    );
}
