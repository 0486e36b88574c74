//! A box whose state dir is on a small tmpfs that fills up, then frees: what needs no
//! disk keeps serving (invokes, API routes, reads, even a worker's cold start), what
//! does gets AWS's errors for a passing failure, `esb` says which path is full, and it
//! all resumes by itself once space returns. Real clients (boto3), a real tmpfs.

use std::io::Write;
use std::path::PathBuf;
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::support;

const TEMPLATE: &str = r#"Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {Runtime: python3.11, CodeUri: CODE, Timeout: 10}
Resources:
  Echo:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: echo
      Handler: handlers.echo
      Events:
        Get: {Type: HttpApi, Properties: {Path: /echo, Method: get}}
  Cold:
    Type: AWS::Serverless::Function
    Properties: {FunctionName: cold, Handler: handlers.echo}
  Bucket:
    Type: AWS::S3::Bucket
    Properties: {BucketName: full-disk}
  Table:
    Type: AWS::Serverless::SimpleTable
    Properties: {TableName: full-disk}
"#;

/// A box on a tmpfs state dir; unmounted and removed when dropped, whatever happened.
struct FullDiskBox {
    dir: PathBuf,
    state: PathBuf,
    child: Child,
    output: Arc<Mutex<Vec<String>>>,
    urls: [(&'static str, String); 3],
}

impl FullDiskBox {
    fn start() -> Self {
        // SAFETY: geteuid(2) has no preconditions.
        assert_eq!(
            unsafe { libc::geteuid() },
            0,
            "the full-disk test mounts a tmpfs: run it as root (CI does)"
        );
        let dir = std::env::temp_dir().join(format!("esb-full-disk-{}", std::process::id()));
        let state = dir.join("state");
        std::fs::create_dir_all(&state).expect("state dir");
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64m", "tmpfs"])
            .arg(&state)
            .status()
            .expect("run mount");
        assert!(mounted.success(), "mount a tmpfs on {}", state.display());
        support::link_venv(&state);
        let code = support::python_functions();
        std::fs::write(
            dir.join("template.yaml"),
            TEMPLATE.replace("CODE", &code.display().to_string()),
        )
        .expect("template");
        let port = support::free_addr().port();
        let (mut child, output) = support::esb_up(
            &dir,
            &state,
            "process",
            port,
            &[
                "--s3-port",
                "0",
                "--dynamodb-port",
                "0",
                "--cloudwatch-logs-port",
                "off",
            ],
        );
        let within = Duration::from_secs(120);
        let s3 = support::wait_for_service(&mut child, &output, "S3: ", within);
        let dynamodb = support::wait_for_service(&mut child, &output, "DynamoDB: ", within);
        let gateway = format!("https://127.0.0.1:{port}");
        let b = Self {
            dir,
            state,
            child,
            output,
            urls: [
                ("GATEWAY_URL", gateway),
                ("S3_URL", s3),
                ("DYNAMODB_URL", dynamodb),
            ],
        };
        b.wait_for_output("the box is up", |l| l.starts_with("ESB is up"));
        b
    }

    /// Runs the probe (one call of each kind) tagged `tag`; its results by call.
    fn probe(&self, tag: &str) -> Value {
        let mut cmd = support::aws_client_command(
            support::python(),
            &self.state,
            &self.dir,
            self.urls[0].0,
            &self.urls[0].1,
        );
        for (var, url) in &self.urls[1..] {
            cmd.env(var, url);
        }
        let out = cmd
            .arg(support::repo_root().join("tests/e2e/full_disk_probe.py"))
            .arg(tag)
            .output()
            .expect("run the probe");
        assert!(
            out.status.success(),
            "probe: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("the probe's JSON")
    }

    fn wait_for_output(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let mut found = None;
        support::wait_for(what, Duration::from_secs(60), || {
            found = self
                .output
                .lock()
                .expect("output")
                .iter()
                .find(|l| pred(l))
                .cloned();
            found.is_some()
        });
        found.unwrap_or_default()
    }

    /// Fills the tmpfs up to the last byte.
    fn fill(&self) {
        let mut filler = std::fs::File::create(self.filler()).expect("filler");
        let chunk = vec![0u8; 1 << 20];
        loop {
            match filler.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
                Err(e) => panic!("filling {}: {e}", self.state.display()),
            }
        }
    }

    fn filler(&self) -> PathBuf {
        self.state.join("filler")
    }
}

impl Drop for FullDiskBox {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.filler());
        if !matches!(self.child.try_wait(), Ok(Some(_))) {
            support::terminate(&mut self.child, Duration::from_secs(20));
        }
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.state)
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn ok<'a>(results: &'a Value, call: &str) -> &'a Value {
    let r = &results[call];
    assert_eq!(r["ok"], true, "{call}: {r}");
    &r["value"]
}

fn refused(results: &Value, call: &str, status: u64, code: &str) -> String {
    let r = &results[call];
    assert_eq!(r["ok"], false, "{call} cannot succeed on a full disk: {r}");
    assert_eq!(
        (r["status"].as_u64(), r["code"].as_str()),
        (Some(status), Some(code)),
        "{call}: {r}"
    );
    r["message"].as_str().unwrap_or_default().to_string()
}

fn tag_of(v: &Value) -> &str {
    v["tag"].as_str().unwrap_or_default()
}

#[test]
fn a_full_disk_fails_only_what_needs_it_and_resumes_by_itself() {
    let b = FullDiskBox::start();
    let before = b.probe("before");
    for call in [
        "sync", "route", "async", "s3_put", "s3_get", "ddb_put", "ddb_get",
    ] {
        ok(&before, call);
    }

    b.fill();
    let state = b.state.display().to_string();
    let said = b.wait_for_output("the box to say the disk is full", |l| {
        l.contains("no space left on the disk holding")
    });
    assert!(said.contains(&state), "names the path: {said}");

    let status = support::esb_command()
        .args(["status", "--state-dir"])
        .arg(&b.state)
        .current_dir(&b.dir)
        .output()
        .expect("esb status");
    let status = String::from_utf8_lossy(&status.stdout).to_string();
    assert!(
        status.contains(&format!("disk     {state}: FULL")),
        "esb status says the disk is full: {status}"
    );

    let during = b.probe("during");
    // What needs no disk keeps serving, a cold start included.
    assert_eq!(tag_of(ok(&during, "sync")), "during");
    assert_eq!(tag_of(ok(&during, "cold")), "during");
    assert_eq!(ok(&during, "route"), 200);
    assert_eq!(ok(&during, "s3_get"), "before");
    assert_eq!(ok(&during, "ddb_get"), "before");
    // What does gets AWS's errors for a passing failure, which SDKs retry.
    let why = refused(&during, "async", 500, "ServiceException");
    assert!(why.contains("No space left"), "{why}");
    refused(&during, "s3_put", 503, "ServiceUnavailable");
    refused(&during, "ddb_put", 500, "InternalServerError");

    std::fs::remove_file(b.filler()).expect("free the space");
    b.wait_for_output("the box to say space is back", |l| {
        l.contains("space is back on the disk holding")
    });
    let after = b.probe("after");
    for call in [
        "sync", "cold", "route", "async", "s3_put", "s3_get", "ddb_put", "ddb_get",
    ] {
        ok(&after, call);
    }
    assert!(
        support::alive(b.child.id()),
        "the box lives on: {:?}",
        b.output.lock().expect("output")
    );
}
