//! `esb rie` on its own: bad input, concurrency, logs, memory figures, shutdown and
//! process hygiene. Each failure mode must give a clear answer, never a hang, a crash
//! or a leaked process.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{self, Emulator, SIGKILL, SIGTERM, Spec, wait_gone};

fn esb(handler: &str) -> support::Rie {
    Spec::python(handler).start(Emulator::Esb)
}

#[test]
fn malformed_bodies_get_invalid_request_content() {
    let rie = esb("handlers.echo");
    for body in ["not json", "{\"a\":", "[1,2", "\u{1}"] {
        let a = rie.invoke(body);
        assert_eq!(a.status, 400, "{body:?}");
        assert_eq!(
            a.header("x-amzn-errortype"),
            Some("InvalidRequestContentException")
        );
        let message = a.json()["message"].as_str().unwrap_or_default().to_string();
        assert!(
            message.starts_with("Could not parse request body into json"),
            "{message}"
        );
    }
    // An empty payload is `{}`, as with Lambda.
    assert_eq!(rie.invoke("").json(), json!({}));
    assert_eq!(
        rie.invoke("\"still serving\"").json(),
        json!("still serving")
    );
}

#[test]
fn invalid_headers_and_qualifiers_are_rejected_with_aws_errors() {
    let rie = esb("handlers.echo");
    let cc = rie.invoke_with("{}", &[("X-Amz-Client-Context", "%%%not-base64")]);
    assert_eq!(
        (cc.status, cc.header("x-amzn-errortype")),
        (400, Some("InvalidRequestContentException"))
    );
    let it = rie.invoke_with("{}", &[("X-Amz-Invocation-Type", "Sometimes")]);
    assert_eq!(
        (it.status, it.header("x-amzn-errortype")),
        (400, Some("ValidationException"))
    );
    let lt = rie.invoke_with("{}", &[("X-Amz-Log-Type", "Everything")]);
    assert_eq!(lt.status, 400);

    let base = format!("http://{}/2015-03-31/functions", rie.addr);
    let missing = rie.request(
        &format!("{base}/any-name/invocations?Qualifier=prod"),
        b"{}".to_vec(),
        &[],
    );
    assert_eq!(
        (missing.status, missing.header("x-amzn-errortype")),
        (404, Some("ResourceNotFoundException"))
    );
    let latest = rie.request(
        &format!("{base}/my-function/invocations?Qualifier=$LATEST"),
        b"[1]".to_vec(),
        &[],
    );
    assert_eq!((latest.status, latest.json()), (200, json!([1])));
    let unknown = rie.request(
        &format!("http://{}/2015-03-31/functions", rie.addr),
        Vec::new(),
        &[],
    );
    assert_eq!(
        (unknown.status, unknown.header("x-amzn-errortype")),
        (404, Some("UnknownOperationException"))
    );
}

#[test]
fn dry_run_and_event_invocations() {
    let rie = esb("handlers.log");
    let dry = rie.invoke_with("{}", &[("X-Amz-Invocation-Type", "DryRun")]);
    assert_eq!(dry.status, 204);
    let event = rie.invoke_with("{}", &[("X-Amz-Invocation-Type", "Event")]);
    assert_eq!(event.status, 202);
    assert!(event.body.is_empty());
    // The accepted event really runs: its logs and REPORT appear.
    let line = rie.wait_for_log("from the async event", |l| l.starts_with("log line 1 for "));
    let id = line.trim_start_matches("log line 1 for ").to_string();
    rie.report_for(&id);
    let big = rie.invoke_with(
        vec![b' '; 300 * 1024],
        &[("X-Amz-Invocation-Type", "Event")],
    );
    assert_eq!(
        (big.status, big.header("x-amzn-errortype")),
        (413, Some("RequestEntityTooLargeException"))
    );
}

#[test]
fn a_runtime_that_never_polls_times_out_and_is_killed() {
    let rie = Spec::command(&["sleep", "1000"])
        .timeout(1)
        .start(Emulator::Esb);
    // The worker listens first and starts its runtime right after.
    let deadline = Instant::now() + Duration::from_secs(10);
    let before = loop {
        let found = rie.descendants();
        if !found.is_empty() || Instant::now() > deadline {
            break found;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(before.len(), 1, "the runtime is running: {before:?}");
    let started = Instant::now();
    let a = rie.invoke("{}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "bounded by the timeout"
    );
    assert_eq!((a.status, a.function_error()), (200, Some("Unhandled")));
    assert_eq!(a.json()["errorType"], "Sandbox.Timedout");
    wait_gone(&before, Duration::from_secs(5));
    // The next invocation starts a fresh runtime and fails the same clear way.
    assert_eq!(rie.invoke("{}").json()["errorType"], "Sandbox.Timedout");
}

#[test]
fn a_missing_runtime_command_is_reported_not_fatal() {
    let rie = Spec::command(&["/nonexistent/bootstrap"]).start(Emulator::Esb);
    for _ in 0..2 {
        let a = rie.invoke("{}");
        assert_eq!((a.status, a.function_error()), (200, Some("Unhandled")));
        let doc = a.json();
        assert_eq!(doc["errorType"], "Runtime.InvalidEntrypoint");
        assert!(
            doc["errorMessage"]
                .as_str()
                .is_some_and(|m| m.contains("/nonexistent/bootstrap")),
            "{doc}"
        );
    }
}

#[test]
fn logs_are_attributed_and_tail_is_returned() {
    let rie = esb("handlers.log");
    let a = rie.invoke_with("{}", &[("X-Amz-Log-Type", "Tail")]);
    assert_eq!((a.status, a.json()), (200, json!("logged")));
    let id = a
        .header("x-amzn-requestid")
        .expect("request id")
        .to_string();
    let tail = a.log_tail();
    let lines: Vec<&str> = tail.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some(format!("START RequestId: {id} Version: $LATEST").as_str()),
        "{tail}"
    );
    assert!(
        lines.contains(&format!("log line 1 for {id}").as_str()),
        "{tail}"
    );
    assert!(
        lines.contains(&format!("stderr line for {id}").as_str()),
        "{tail}"
    );
    assert!(
        lines.contains(&format!("END RequestId: {id}").as_str()),
        "{tail}"
    );
    let report = lines.last().expect("REPORT last");
    assert!(
        report.starts_with(&format!("REPORT RequestId: {id}\tDuration: ")),
        "{report}"
    );
    for field in [
        "Billed Duration: ",
        "Memory Size: 3008 MB",
        "Max Memory Used: ",
        "Init Duration: ",
    ] {
        assert!(report.contains(field), "{field} in {report}");
    }
    // Without Tail there is no log header, and the second REPORT has no Init Duration.
    let b = rie.invoke("{}");
    assert_eq!(b.header("x-amz-log-result"), None);
    let id_b = b.header("x-amzn-requestid").expect("id").to_string();
    let report_b = rie.report_for(&id_b);
    assert!(!report_b.contains("Init Duration"), "{report_b}");
    // On stdout, each function line sits between its invocation's START and END.
    let logs = rie.logs();
    let pos = |needle: &str| {
        logs.iter()
            .position(|l| l == needle)
            .unwrap_or_else(|| panic!("{needle} in {logs:?}"))
    };
    let start = pos(&format!("START RequestId: {id_b} Version: $LATEST"));
    let line = pos(&format!("log line 1 for {id_b}"));
    let end = pos(&format!("END RequestId: {id_b}"));
    assert!(start < line && line < end, "{logs:?}");
}

#[test]
fn log_tail_is_the_last_4kb() {
    let rie = esb("handlers.chatty");
    let a = rie.invoke_with(
        json!({"lines": 500}).to_string(),
        &[("X-Amz-Log-Type", "Tail")],
    );
    let raw_len = a.log_tail().len();
    assert!(raw_len <= 4096 && raw_len > 3500, "tail is 4 KB: {raw_len}");
    assert!(a.log_tail().contains("chatty line 499"));
    assert!(!a.log_tail().contains("chatty line 1 "));
}

#[test]
fn json_log_format_carries_the_request_id() {
    let rie = Spec::python("handlers.log")
        .arg("--log-format")
        .arg("json")
        .start(Emulator::Esb);
    let a = rie.invoke("{}");
    let id = a.header("x-amzn-requestid").expect("id").to_string();
    let line = rie.wait_for_log("json function line", |l| l.contains("log line 1 for"));
    let record: serde_json::Value = serde_json::from_str(&line).expect("a JSON record");
    assert_eq!(record["requestId"], id.as_str());
    assert_eq!(record["stream"], "stdout");
    assert_eq!(record["type"], "function");
}

#[test]
fn max_memory_used_is_measured() {
    let rie = Spec::python("handlers.memory")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .start(Emulator::Esb);
    let a = rie.invoke_with(json!({"mb": 80}).to_string(), &[("X-Amz-Log-Type", "Tail")]);
    assert_eq!(a.status, 200, "{}", a.text());
    let tail = a.log_tail();
    let report = tail.lines().last().expect("REPORT");
    let used: u64 = report
        .split('\t')
        .find_map(|f| f.strip_prefix("Max Memory Used: "))
        .and_then(|v| v.trim_end_matches(" MB").parse().ok())
        .expect("Max Memory Used figure");
    assert!(
        (80..512).contains(&used),
        "80 MiB allocated, figure is real: {report}"
    );
    assert!(report.contains("Memory Size: 512 MB"), "{report}");
}

#[test]
fn sigterm_fails_the_invocation_in_flight_and_exits_zero() {
    let mut rie = Spec::python("handlers.sleep")
        .timeout(60)
        .arg("--shutdown-grace")
        .arg("0.5")
        .start(Emulator::Esb);
    let (answer, runtime) = std::thread::scope(|s| {
        let slow = s.spawn(|| rie.invoke_json(json!({"seconds": 30})));
        std::thread::sleep(Duration::from_millis(800));
        let runtime = rie.descendants();
        assert!(!runtime.is_empty(), "the runtime runs the invocation");
        rie.signal(SIGTERM);
        (slow.join().expect("in-flight invocation"), runtime)
    });
    assert_eq!(
        (answer.status, answer.function_error()),
        (200, Some("Unhandled"))
    );
    assert_eq!(answer.json()["errorType"], "Sandbox.Terminated");
    assert_eq!(rie.wait_exit(Duration::from_secs(10)), Some(0));
    wait_gone(&runtime, Duration::from_secs(5));
}

#[test]
fn sigterm_lets_a_short_invocation_finish() {
    let mut rie = Spec::python("handlers.sleep")
        .arg("--shutdown-grace")
        .arg("5")
        .start(Emulator::Esb);
    let answer = std::thread::scope(|s| {
        let slow = s.spawn(|| rie.invoke_json(json!({"seconds": 1})));
        std::thread::sleep(Duration::from_millis(400));
        rie.signal(SIGTERM);
        slow.join().expect("in-flight invocation")
    });
    assert_eq!((answer.status, answer.json()), (200, json!("late")));
    assert_eq!(rie.wait_exit(Duration::from_secs(10)), Some(0));
}

#[test]
fn no_runtime_outlives_a_killed_worker() {
    let mut rie = esb("handlers.echo");
    assert_eq!(rie.invoke("{}").status, 200);
    let runtime = rie.descendants();
    assert!(!runtime.is_empty());
    rie.signal(SIGKILL);
    rie.wait_exit(Duration::from_secs(5));
    wait_gone(&runtime, Duration::from_secs(5));
}

fn initialized_status(rie: &support::Rie) -> u16 {
    reqwest::blocking::Client::new()
        .get(format!("http://{}/esb/v1/initialized", rie.addr))
        .timeout(Duration::from_secs(30))
        .send()
        .expect("GET /esb/v1/initialized")
        .status()
        .as_u16()
}

/// `GET /esb/v1/initialized` answers once init has settled: the runtime polled `/next`
/// (or its init failed, which the first invocation then reports); a runtime that
/// never gets there is still initialising after Lambda's 10 s limit (503).
#[test]
fn initialized_answers_once_init_has_settled() {
    let ready = esb("handlers.echo");
    assert_eq!(initialized_status(&ready), 200);
    let failing = esb("init_error.handler");
    assert_eq!(initialized_status(&failing), 200);
    assert_eq!(failing.invoke("{}").function_error(), Some("Unhandled"));
    let stuck = Spec::command(&["sleep", "1000"]).start(Emulator::Esb);
    let started = Instant::now();
    assert_eq!(initialized_status(&stuck), 503);
    assert!(
        started.elapsed() >= Duration::from_secs(9),
        "waited for the init limit"
    );
}

/// A worker given a token refuses (421, not run) a request carrying another worker's
/// token: the gateway then sends the event elsewhere. Requests without a token (curl,
/// AWS's tools) are served; the runtime never sees the token.
#[test]
fn a_request_meant_for_another_worker_is_refused_unrun() {
    let rie = Spec::python("handlers.context")
        .env("ESB_WORKER_TOKEN", "mine")
        .start(Emulator::Esb);
    let stray = rie.invoke_with("{}", &[("X-Esb-Worker-Token", "another")]);
    assert_eq!(
        (stray.status, stray.header("x-amzn-errortype")),
        (421, Some("EsbWorkerMismatch"))
    );
    assert!(
        !rie.logs().iter().any(|l| l.starts_with("START")),
        "nothing ran: {:?}",
        rie.logs()
    );
    let meant = rie.invoke_with("{}", &[("X-Esb-Worker-Token", "mine")]);
    assert_eq!(meant.status, 200);
    assert_eq!(meant.json()["env"]["ESB_WORKER_TOKEN"], json!(null));
    assert_eq!(rie.invoke("{}").status, 200);
}
