//! The box as a developer drives it from a terminal: `esb up --detach --wait`,
//! `esb status`, `esb invoke`, `esb down`; a second box refused on the same state dir
//! but welcome in another folder; stale pid files; idle workers removed (scale to
//! zero) while provisioned ones stay.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support;

/// A temporary project: a copy-free template pointing at the test functions, and a
/// state dir whose Python runtime is the test venv.
struct Project {
    dir: PathBuf,
}

impl Project {
    fn new(name: &str) -> Self {
        let dir = support::python_project(
            &format!("lifecycle-{name}"),
            "  Echo:\n    Type: AWS::Serverless::Function\n    Properties:\n      FunctionName: echo\n      Handler: handlers.echo\n      Events:\n        Get: {Type: Api, Properties: {Path: /echo, Method: get}}\n  Fails:\n    Type: AWS::Serverless::Function\n    Properties: {FunctionName: fails, Handler: handlers.error}\n  Warm:\n    Type: AWS::Serverless::Function\n    Properties:\n      FunctionName: warm\n      Handler: handlers.echo\n      ProvisionedConcurrencyConfig: {ProvisionedConcurrentExecutions: 1}\n",
        );
        Self { dir }
    }

    /// `esb <args>` run in the project folder (template found there by default).
    fn esb(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = support::esb_command()
            .args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run esb");
        if let Some(input) = stdin {
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(input.as_bytes())
                .expect("write stdin");
        }
        child.wait_with_output().expect("esb output")
    }

    /// `esb up --detach --wait` on a free port (`--port 0`: the box takes one and writes
    /// it to box.json, where `esb status` and `esb invoke` find it; a port picked here
    /// first could be taken by another test's box before this one binds it).
    fn up(&self, extra: &[&str]) -> Output {
        let mut args = vec![
            "up",
            "--detach",
            "--wait",
            "--runtime",
            "process",
            "--port",
            "0",
        ];
        args.extend_from_slice(extra);
        self.esb(&args, None)
    }

    fn status(&self) -> (Option<i32>, Value) {
        let out = self.esb(&["status", "--json"], None);
        (
            out.status.code(),
            serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        )
    }

    fn function(&self, name: &str) -> Value {
        let (code, status) = self.status();
        assert_eq!(code, Some(0), "status: {status}");
        status["functions"]
            .as_array()
            .and_then(|fs| fs.iter().find(|f| f["name"] == name))
            .cloned()
            .unwrap_or(Value::Null)
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = self.esb(&["down"], None);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn detach_status_invoke_and_down_round_trip() {
    let p = Project::new("round-trip");
    let up = p.up(&[]);
    assert!(up.status.success(), "{}", text(&up.stderr));
    assert!(text(&up.stdout).contains("the box serves at https://127.0.0.1:"));

    // A second box on the same state dir is refused, naming the first.
    let again = p.up(&[]);
    assert!(!again.status.success());
    let why = text(&again.stderr);
    assert!(
        why.contains("already running") && why.contains("serving https://127.0.0.1:"),
        "{why}"
    );

    let out = p.esb(&["invoke", "echo", "--event", "-"], Some(r#"{"k": "v"}"#));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        serde_json::from_slice::<Value>(&out.stdout).expect("json"),
        serde_json::json!({"k": "v"})
    );

    let out = p.esb(&["invoke", "fails", "--log"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("ValueError"));
    let err = text(&out.stderr);
    assert!(
        err.contains("REPORT RequestId") && err.contains("the function failed (Unhandled)"),
        "{err}"
    );

    let out = p.esb(&["invoke", "echo", "--async"], None);
    assert!(
        out.status.success() && text(&out.stdout).starts_with("queued"),
        "{}",
        text(&out.stderr)
    );
    let out = p.esb(&["invoke", "nope"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("ResourceNotFoundException"));

    let echo = p.function("echo");
    assert!(echo["invocations"].as_u64() >= Some(1), "{echo}");
    assert_eq!(echo["routes"][0]["path"], "/echo");
    assert_eq!(p.function("fails")["errors"], 1);
    let human = p.esb(&["status"], None);
    assert!(
        text(&human.stdout).contains("process workers")
            && text(&human.stdout).contains("logs     http://127.0.0.1:"),
        "{}",
        text(&human.stdout)
    );
    let (_, status) = p.status();
    assert!(
        status["box"]["logs_url"]
            .as_str()
            .is_some_and(|u| u.starts_with("http://127.0.0.1:")),
        "{status}"
    );

    let down = p.esb(&["down"], None);
    assert!(down.status.success(), "{}", text(&down.stderr));
    assert_eq!(p.status().0, Some(3), "no box: exit 3");
    assert_eq!(p.esb(&["invoke", "echo"], None).status.code(), Some(3));
}

#[test]
fn two_boxes_in_two_folders_and_stale_pid_files() {
    let a = Project::new("a");
    let b = Project::new("b");
    // A box killed long ago left its files; its pid now names no esb process.
    let gone = Command::new("true").spawn().expect("spawn");
    let dead_pid = gone.id();
    let _ = gone.wait_with_output();
    std::fs::write(a.dir.join(".esb/box.pid"), dead_pid.to_string()).expect("pid");
    std::fs::write(
        a.dir.join(".esb/box.json"),
        format!(r#"{{"pid":{dead_pid},"url":"https://127.0.0.1:1","port":1,"region":"us-east-1","runtime":"process","template":"t","started_at":"x","signed":true}}"#),
    )
    .expect("state");
    assert_eq!(a.status().0, Some(3), "a stale file is no box");

    for p in [&a, &b] {
        let up = p.up(&[]);
        assert!(up.status.success(), "{}", text(&up.stderr));
    }
    assert_eq!(a.status().0, Some(0));
    assert_eq!(b.status().0, Some(0));
    assert!(a.esb(&["invoke", "echo"], None).status.success());
    assert!(b.esb(&["invoke", "echo"], None).status.success());
    assert!(a.esb(&["down"], None).status.success());
    assert_eq!(a.status().0, Some(3));
    assert_eq!(b.status().0, Some(0), "the other folder's box is untouched");
    assert!(b.esb(&["invoke", "echo"], None).status.success());
}

#[test]
fn idle_workers_scale_to_zero_but_provisioned_ones_stay() {
    let p = Project::new("scale");
    let up = p.up(&["--idle-timeout", "1", "--pause-idle-after", "0.3"]);
    assert!(up.status.success(), "{}", text(&up.stderr));
    assert!(p.esb(&["invoke", "echo"], None).status.success());
    let workers = |f: &Value| {
        let w = &f["workers"];
        w["busy"].as_u64().unwrap_or(0)
            + w["warm"].as_u64().unwrap_or(0)
            + w["paused"].as_u64().unwrap_or(0)
    };
    assert_eq!(workers(&p.function("echo")), 1);
    let deadline = Instant::now() + Duration::from_secs(30);
    while workers(&p.function("echo")) > 0 {
        assert!(
            Instant::now() < deadline,
            "the idle worker was never removed"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(workers(&p.function("warm")), 1, "provisioned workers stay");
    // The next request starts a worker again.
    assert!(p.esb(&["invoke", "echo"], None).status.success());
}

#[test]
fn watch_reloads_a_changed_function_under_load_without_failing_a_request() {
    let p = Project::new("watch");
    let code = p.dir.join("app");
    std::fs::create_dir_all(&code).expect("code dir");
    let write = |version: u32| {
        std::fs::write(
            code.join("app.py"),
            format!("import time\n\ndef handler(event, context):\n    time.sleep(0.02)\n    return {{\"version\": {version}}}\n"),
        )
        .expect("handler");
    };
    write(1);
    std::fs::write(
        p.dir.join("template.yaml"),
        "Resources:\n  App:\n    Type: AWS::Serverless::Function\n    Properties: {FunctionName: app, Runtime: python3.11, CodeUri: app, Handler: app.handler}\n",
    )
    .expect("template");
    let up = p.up(&["--watch"]);
    assert!(up.status.success(), "{}", text(&up.stderr));
    let state = p.dir.join(".esb");
    let url: String = serde_json::from_str::<Value>(
        &std::fs::read_to_string(state.join("box.json")).expect("box.json"),
    )
    .expect("json")["url"]
        .as_str()
        .expect("url")
        .to_string();
    let port: u16 = url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    let client = support::https_client(&state, port);
    let invoke = || -> Result<u64, String> {
        let resp = support::send_signed(
            &client,
            &state,
            client
                .post(format!("{url}/2015-03-31/functions/app/invocations"))
                .body("{}"),
        )
        .map_err(|e| e.to_string())?;
        let status = resp.status();
        let body: Value = resp.json().map_err(|e| e.to_string())?;
        match (status.as_u16(), body["version"].as_u64()) {
            (200, Some(v)) => Ok(v),
            _ => Err(format!("{status}: {body}")),
        }
    };
    assert_eq!(invoke(), Ok(1));
    // Two clients keep calling while the code changes under them.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load: Vec<_> = (0..2)
        .map(|_| {
            let (stop, state, url) = (stop.clone(), state.clone(), url.clone());
            std::thread::spawn(move || {
                let client = support::https_client(&state, port);
                let (mut ok, mut failed) = (0, Vec::new());
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let resp = support::send_signed(
                        &client,
                        &state,
                        client
                            .post(format!("{url}/2015-03-31/functions/app/invocations"))
                            .body("{}"),
                    );
                    match resp {
                        Ok(r) if r.status() == 200 => ok += 1,
                        Ok(r) => {
                            failed.push(format!("{}: {}", r.status(), r.text().unwrap_or_default()))
                        }
                        Err(e) => failed.push(e.to_string()),
                    }
                }
                (ok, failed)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    write(2);
    let deadline = Instant::now() + Duration::from_secs(30);
    while invoke() != Ok(2) {
        assert!(
            Instant::now() < deadline,
            "the new code was never served: {}",
            std::fs::read_to_string(state.join("logs/box.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for handle in load {
        let (ok, failed) = handle.join().expect("load thread");
        assert!(ok > 0);
        assert!(
            failed.is_empty(),
            "requests failed during the reload: {failed:?}"
        );
    }
    let log = std::fs::read_to_string(state.join("logs/box.log")).expect("box log");
    assert!(log.contains("esb: reloaded app in"), "{log}");

    // A template change re-plans the box without stopping it: a new function with a
    // route appears, the old one keeps its warm pool.
    std::fs::write(
        p.dir.join("template.yaml"),
        "Resources:\n  App:\n    Type: AWS::Serverless::Function\n    Properties: {FunctionName: app, Runtime: python3.11, CodeUri: app, Handler: app.handler}\n  Extra:\n    Type: AWS::Serverless::Function\n    Properties:\n      FunctionName: extra\n      Runtime: python3.11\n      CodeUri: app\n      Handler: app.handler\n      Events:\n        Get: {Type: Api, Properties: {Path: /extra, Method: get}}\n",
    )
    .expect("template");
    let route = |client: &reqwest::blocking::Client| {
        client
            .get(format!("{url}/extra"))
            .send()
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while route(&client) != 502 {
        // handlers answering a plain dict are a malformed proxy answer: 502, from the
        // new function, where there was a 404 before.
        assert!(Instant::now() < deadline, "the new route was never served");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(invoke(), Ok(2), "the existing function still serves");
    let log = std::fs::read_to_string(state.join("logs/box.log")).expect("box log");
    assert!(
        log.contains("template reloaded in") && log.contains("added extra"),
        "{log}"
    );

    // An invalid template leaves the box as it was, and says why.
    std::fs::write(
        p.dir.join("template.yaml"),
        "Resources:\n  App: {Type: AWS::Serverless::Function, Properties: {Timeout: -1}}\n",
    )
    .expect("template");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(state.join("logs/box.log"))
        .unwrap_or_default()
        .contains("is not valid; the box keeps serving the previous version")
    {
        assert!(
            Instant::now() < deadline,
            "the invalid template was never reported"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(invoke(), Ok(2));
    assert_eq!(route(&client), 502);
}

#[test]
fn down_volumes_and_reset_start_from_clean_data() {
    let p = Project::new("reset");
    let port = support::free_addr().port().to_string();
    let up_args = [
        "--runtime",
        "process",
        "--detach",
        "--wait",
        "--port",
        &port,
    ];
    assert!(p.up(&[]).status.success());
    assert!(p.esb(&["invoke", "echo"], None).status.success());
    let state = p.dir.join(".esb");
    let access_log = state.join("logs/access.log");
    assert!(access_log.exists(), "the box logged the request");
    let credentials = std::fs::read_to_string(state.join("credentials")).expect("credentials");

    // Without a terminal to ask on, reset wants --yes and changes nothing.
    let mut args = vec!["reset"];
    args.extend_from_slice(&up_args);
    let refused = p.esb(&args, None);
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("--yes"),
        "{}",
        text(&refused.stderr)
    );
    assert_eq!(p.status().0, Some(0), "the box still runs");

    args.push("--yes");
    let reset = p.esb(&args, None);
    assert!(reset.status.success(), "{}", text(&reset.stderr));
    let logged = std::fs::read_to_string(&access_log).unwrap_or_default();
    assert!(
        !logged.contains("/invocations"),
        "the old box's logs are gone: {logged}"
    );
    assert_eq!(p.status().0, Some(0), "a new box runs");
    assert!(
        p.esb(&["invoke", "echo"], None).status.success(),
        "with the same key"
    );
    assert_eq!(
        std::fs::read_to_string(state.join("credentials")).expect("credentials"),
        credentials
    );

    let down = p.esb(&["down", "--volumes"], None);
    assert!(down.status.success(), "{}", text(&down.stderr));
    assert!(!state.join("logs").exists() && !state.join("async").exists());
    assert!(state.join("credentials").exists() && state.join("certs/ca.pem").exists());
}

#[test]
fn build_dry_run_prints_the_plan() {
    let template = support::repo_root().join("tests/projects/e2e/template.yaml");
    let out = support::esb_command()
        .args(["build", "--dry-run", "--template"])
        .arg(&template)
        .output()
        .expect("esb build --dry-run");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let plan = text(&out.stdout);
    let echo = plan
        .lines()
        .find(|l| l.starts_with("echo "))
        .expect("echo in the plan");
    assert!(
        echo.contains("python3.11") && echo.contains("esb/echo:"),
        "{plan}"
    );
    assert!(
        ["up to date", "to build", "unknown"]
            .iter()
            .any(|s| echo.ends_with(s)),
        "{plan}"
    );
}

#[test]
fn workers_that_die_while_idle_are_forgotten_and_provisioned_ones_replaced() {
    let p = Project::new("heal");
    let up = p.up(&["--pause-idle-after", "0"]);
    assert!(up.status.success(), "{}", text(&up.stderr));
    assert!(p.esb(&["invoke", "echo"], None).status.success());
    let warm = |f: &Value| f["workers"]["warm"].as_u64().unwrap_or(0);
    assert_eq!(warm(&p.function("echo")), 1);
    assert_eq!(warm(&p.function("warm")), 1);
    let state: Value = serde_json::from_str(
        &std::fs::read_to_string(p.dir.join(".esb/box.json")).expect("box.json"),
    )
    .expect("json");
    let box_pid = u32::try_from(state["pid"].as_u64().expect("pid")).expect("pid");
    // Every worker process dies at once, as after an OOM kill or a stray `kill`.
    for pid in support::descendants(box_pid) {
        // SAFETY: kill(2) on a pid of this test's own box.
        unsafe { libc::kill(i32::try_from(pid).expect("pid"), libc::SIGKILL) };
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (echo, provisioned) = (p.function("echo"), p.function("warm"));
        if warm(&echo) == 0 && warm(&provisioned) == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the pools did not heal: {echo} {provisioned}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(p.esb(&["invoke", "echo"], None).status.success());
    assert!(p.esb(&["invoke", "warm"], None).status.success());
    let log = std::fs::read_to_string(p.dir.join(".esb/logs/box.log")).expect("box log");
    assert!(
        log.contains("idle workers died; the pool forgot them"),
        "{log}"
    );
}

/// `--quiet` keeps the box's banner and status notes out (warnings and errors stay):
/// nothing on `esb up -q --detach`'s output, no banner in the box's own log.
#[test]
fn quiet_leaves_the_banner_and_notes_out() {
    let p = Project::new("quiet");
    let up = p.up(&["--quiet"]);
    assert!(up.status.success(), "{}", text(&up.stderr));
    assert_eq!(text(&up.stdout), "", "nothing to say");
    let (code, _) = p.status();
    assert_eq!(code, Some(0), "the box serves");
    let log = std::fs::read_to_string(p.dir.join(".esb/logs/box.log")).expect("box.log");
    assert!(!log.contains("ESB is up"), "{log}");
    assert!(!log.contains("Logs (VictoriaLogs API)"), "{log}");
}

/// Process workers run every Python function on the host's Python: one whose runtime
/// names another version is said to at start and in `esb status`, as a docker box
/// says it of a function on a stand-in base (`--nearest-python-base`).
#[test]
fn process_workers_say_when_the_hosts_python_is_not_the_runtimes() {
    let out = Command::new(support::python())
        .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        .output()
        .expect("the test venv's Python");
    let host = text(&out.stdout).trim().to_string();
    let other = if host == "3.12" { "3.11" } else { "3.12" };
    let p = Project {
        dir: support::python_project(
            "lifecycle-host-python",
            &format!(
                "  Other:\n    Type: AWS::Serverless::Function\n    Properties: {{FunctionName: other, Handler: handlers.echo, Runtime: python{other}}}\n  Same:\n    Type: AWS::Serverless::Function\n    Properties: {{FunctionName: same, Handler: handlers.echo, Runtime: python{host}}}\n"
            ),
        ),
    };
    let up = p.up(&[]);
    assert!(up.status.success(), "{}", text(&up.stderr));
    let log = std::fs::read_to_string(p.dir.join(".esb/logs/box.log")).expect("box log");
    assert!(
        log.contains(&format!(
            "esb: warning: function other asks for python{other}; process workers run it on \
             the host's Python {host}"
        )),
        "{log}"
    );
    assert!(!log.contains("function same asks"), "{log}");
    assert_eq!(
        p.function("other")["note"],
        format!("runtime python{other} runs on the host's Python {host} (process workers)")
    );
    assert_eq!(p.function("same").get("note"), None);
    let human = text(&p.esb(&["status"], None).stdout);
    assert!(
        human.contains(&format!(
            "  WARNING runtime python{other} runs on the host's Python {host}"
        )),
        "{human}"
    );
    assert!(p.esb(&["invoke", "other"], None).status.success());
}
