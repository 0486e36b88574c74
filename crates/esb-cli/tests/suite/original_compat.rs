//! What projects and scripts written for the original ESB (Python gateway + Go agent)
//! rely on, checked the way its own end-to-end tests checked it: `GET /health`'s
//! answer, and its circuit breaker scenario (a function that kills its runtime opens
//! the circuit; ordinary handler errors never do), configured with the original's
//! variable names. Its log field names are checked in `function_logs.rs`.

use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support;

/// The original's `lambda-chaos` fixture on its route, and a function that times out.
const RESOURCES: &str = "  Chaos:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: lambda-chaos
      Handler: chaos.handler
      Events:
        Faulty: {Type: Api, Properties: {Path: /api/faulty, Method: post}}
  Slow:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: lambda-slow
      Handler: chaos.handler
      Timeout: 1
      Events:
        Slow: {Type: Api, Properties: {Path: /api/slow, Method: post}}
";

/// A box serving the compat project with process workers, stopped when dropped.
struct Box_ {
    child: Child,
    project: PathBuf,
    url: String,
    client: reqwest::blocking::Client,
}

impl Box_ {
    /// `esb up` with `flags` and `env` (and none of the runner's breaker variables).
    fn start(name: &str, flags: &[&str], env: &[(&str, &str)]) -> Self {
        let project = support::python_project(&format!("compat-{name}"), RESOURCES);
        let port = support::free_addr().port();
        let mut child = support::esb_command()
            .arg("up")
            .arg("--template")
            .arg(project.join("template.yaml"))
            .arg("--state-dir")
            .arg(project.join(".esb"))
            .args(["--port", &port.to_string(), "--runtime", "process"])
            .args(flags)
            .env_remove("ESB_BREAKER_THRESHOLD")
            .env_remove("ESB_BREAKER_COOLDOWN")
            .env_remove("CIRCUIT_BREAKER_THRESHOLD")
            .env_remove("CIRCUIT_BREAKER_RECOVERY_TIMEOUT")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("esb up");
        support::capture_output(&mut child);
        let client =
            support::https_client_within(&project.join(".esb"), port, Duration::from_secs(300));
        Self {
            child,
            project,
            url: format!("https://127.0.0.1:{port}"),
            client,
        }
    }

    fn state(&self) -> PathBuf {
        self.project.join(".esb")
    }

    /// `POST <path>` with `body` on an API route, as the original's tests called it;
    /// the status, the answer and how long it took.
    fn post(&self, path: &str, body: &Value) -> (u16, Value, Duration) {
        let started = Instant::now();
        let resp = self
            .client
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .expect("POST over HTTPS");
        let status = resp.status().as_u16();
        let answer = resp.json::<Value>().unwrap_or(Value::Null);
        (status, answer, started.elapsed())
    }

    /// A signed Invoke API call: status, `X-Amz-Function-Error` (or, for an error of
    /// the API itself, `X-Amzn-ErrorType`), the answer.
    fn invoke(&self, function: &str, event: &Value) -> (u16, Option<String>, Value) {
        let req = self
            .client
            .post(format!(
                "{}/2015-03-31/functions/{function}/invocations",
                self.url
            ))
            .body(event.to_string());
        let resp = support::send_signed(&self.client, &self.state(), req).expect("invoke");
        let status = resp.status().as_u16();
        let function_error = ["x-amz-function-error", "x-amzn-errortype"]
            .iter()
            .find_map(|h| resp.headers().get(*h)?.to_str().ok())
            .map(str::to_string);
        (
            status,
            function_error,
            resp.json::<Value>().unwrap_or(Value::Null),
        )
    }

    /// A counter of `/metrics` for `function` (0 when it has none yet).
    fn counter(&self, name: &str, function: &str) -> u64 {
        let text = self
            .client
            .get(support::metrics_url(&self.state()))
            .send()
            .and_then(|r| r.text())
            .expect("GET /metrics");
        let prefix = format!("{name}{{function=\"{function}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix)?.trim().parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Box_ {
    fn drop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(Some(_))) {
            support::terminate(&mut self.child, Duration::from_secs(20));
        }
        let _ = std::fs::remove_dir_all(&self.project);
    }
}

/// API Gateway's answer to a failed Lambda integration on a REST route.
fn internal_server_error() -> Value {
    json!({"message": "Internal server error"})
}

/// The original's check of `GET /health` (test_gateway_basics), by Python over HTTPS:
/// 200, `status == "healthy"`, and a timestamp in ISO 8601 with a `+00:00` offset.
#[test]
fn health_answers_as_the_original_did() {
    let b = Box_::start("health", &[], &[]);
    let check = r#"
import json, ssl, sys, urllib.request
from datetime import datetime, timedelta, timezone
ctx = ssl.create_default_context(cafile=sys.argv[2])
with urllib.request.urlopen(sys.argv[1] + "/health", context=ctx, timeout=30) as r:
    status, body = r.status, json.load(r)
assert status == 200, status
assert body["status"] == "healthy", body
ts = datetime.fromisoformat(body["timestamp"])
assert body["timestamp"].endswith("+00:00"), body
assert ts.utcoffset() == timedelta(0), ts
assert abs((datetime.now(timezone.utc) - ts).total_seconds()) < 600, ts
print(json.dumps(body))
"#;
    let out = std::process::Command::new(support::python())
        .args(["-c", check, &b.url])
        .arg(b.state().join("certs/ca.pem"))
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let body: Value = serde_json::from_slice(&out.stdout).expect("the body, printed");
    assert_eq!(body["status"], "healthy");
    let resp = b
        .client
        .get(format!("{}/health", b.url))
        .send()
        .expect("GET /health");
    assert_eq!(
        resp.headers()["content-type"],
        "application/json",
        "no authentication, a JSON answer"
    );
}

/// The original's test_resilience circuit breaker scenario, set up with its own
/// variables (`CIRCUIT_BREAKER_THRESHOLD=3`, a shorter recovery than its 10 s): three
/// calls that kill the runtime each answer 502; the next call fails fast (502, no
/// worker started, nothing run); after the recovery time a call succeeds again.
#[test]
fn crashed_runtimes_open_the_circuit_as_in_the_original() {
    let recovery = Duration::from_secs(4);
    let b = Box_::start(
        "crash",
        &[],
        &[
            ("CIRCUIT_BREAKER_THRESHOLD", "3"),
            ("CIRCUIT_BREAKER_RECOVERY_TIMEOUT", "4.0"),
        ],
    );
    let crash = json!({"action": "crash"});
    let hello = json!({"action": "hello"});
    assert_eq!(
        b.post("/api/faulty", &hello).0,
        200,
        "the function works before it crashes"
    );
    for i in 0..3 {
        let (status, body, _) = b.post("/api/faulty", &crash);
        assert_eq!(
            (status, &body),
            (502, &internal_server_error()),
            "crash {i}"
        );
    }
    let opened = Instant::now();
    let (invocations, cold_starts) = (
        b.counter("esb_lambda_invocations_total", "lambda-chaos"),
        b.counter("esb_lambda_cold_starts_total", "lambda-chaos"),
    );
    assert_eq!(invocations, 4);
    let (status, body, took) = b.post("/api/faulty", &hello);
    assert_eq!((status, &body), (502, &internal_server_error()));
    assert!(took < Duration::from_secs(1), "fails fast: {took:?}");
    // The Invoke API fails fast too, in Lambda's error shape.
    let (status, error_type, body) = b.invoke("lambda-chaos", &hello);
    assert_eq!(
        (status, error_type.as_deref()),
        (503, Some("ServiceException")),
        "{body}"
    );
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("retry after")),
        "{body}"
    );
    assert_eq!(
        (
            b.counter("esb_lambda_invocations_total", "lambda-chaos"),
            b.counter("esb_lambda_cold_starts_total", "lambda-chaos"),
        ),
        (invocations, cold_starts),
        "an open circuit runs nothing and starts no worker"
    );

    std::thread::sleep((recovery + Duration::from_millis(500)).saturating_sub(opened.elapsed()));
    let (status, body, _) = b.post("/api/faulty", &hello);
    assert_eq!(status, 200, "the probe after the recovery time: {body}");
    assert_eq!(body["message"], "Faulty Lambda is OK");
    assert_eq!(b.post("/api/faulty", &hello).0, 200, "closed again");
}

/// Errors the handler raises and timeouts are the function's answers, not a broken
/// environment: more of them in a row than the threshold leave the circuit closed.
#[test]
fn handler_errors_and_timeouts_never_open_the_circuit() {
    let b = Box_::start(
        "errors",
        &["--breaker-threshold", "3", "--breaker-cooldown", "60"],
        &[],
    );
    let raise = json!({"action": "raise"});
    for i in 0..4 {
        let (status, body, _) = b.post("/api/faulty", &raise);
        assert_eq!(
            (status, &body),
            (502, &internal_server_error()),
            "raise {i}"
        );
    }
    let (status, body, _) = b.post("/api/faulty", &json!({"action": "hello"}));
    assert_eq!(status, 200, "still closed: {body}");
    for i in 0..4 {
        let (status, function_error, body) = b.invoke("lambda-chaos", &raise);
        assert_eq!(
            (status, function_error.as_deref()),
            (200, Some("Unhandled")),
            "raise {i} through the Invoke API: {body}"
        );
        assert_eq!(body["errorType"], "ValueError", "{body}");
    }
    // A route's timeout is 504; an open circuit would answer 502 instead.
    let delay = json!({"action": "delay", "seconds": 5});
    for i in 0..4 {
        let (status, body, _) = b.post("/api/slow", &delay);
        assert_eq!(
            (status, &body),
            (504, &json!({"message": "Endpoint request timed out"})),
            "timeout {i}"
        );
    }
}
