//! What projects and scripts written for the original ESB (Python gateway + Go agent)
//! rely on, checked the way its own end-to-end tests checked it: `GET /health`'s
//! answer.

use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::support;

/// Any function: the box needs one to serve.
const RESOURCES: &str = "  Echo:
    Type: AWS::Serverless::Function
    Properties: {FunctionName: echo, Handler: handlers.echo}
";

/// A box with process workers, stopped when dropped.
struct Box_ {
    child: Child,
    project: PathBuf,
    url: String,
    client: reqwest::blocking::Client,
}

impl Box_ {
    fn start(name: &str) -> Self {
        let project = support::python_project(&format!("compat-{name}"), RESOURCES);
        let port = support::free_addr().port();
        let mut child = support::esb_command()
            .arg("up")
            .arg("--template")
            .arg(project.join("template.yaml"))
            .arg("--state-dir")
            .arg(project.join(".esb"))
            .args(["--port", &port.to_string(), "--runtime", "process"])
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
}

impl Drop for Box_ {
    fn drop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(Some(_))) {
            support::terminate(&mut self.child, Duration::from_secs(20));
        }
        let _ = std::fs::remove_dir_all(&self.project);
    }
}

/// The original's check of `GET /health` (test_gateway_basics), by Python over HTTPS:
/// 200, `status == "healthy"`, and a timestamp in ISO 8601 with a `+00:00` offset.
#[test]
fn health_answers_as_the_original_did() {
    let b = Box_::start("health");
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
