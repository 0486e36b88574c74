//! `esb logs` through the real binary, against a box started with
//! `esb up --detach --wait --runtime process`: records posted to the box's log store
//! (VictoriaLogs' jsonline API) come back oldest first as `TIME FUNCTION LEVEL
//! REQUEST MESSAGE` lines, narrowed by function, `--tail`, `--since` and `--query`,
//! or unchanged with `--json`; `-f` prints new records once each and ends with status
//! 0 on Ctrl-C; a bad query is exit 1 with the store's message; with the box stopped
//! the records are read from disk, and with neither box nor store it is exit 3.
//!
//! Only records these tests insert are relied on (never the functions' own output),
//! so other records the box may store interleave without breaking them.

use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::support;

/// A project folder: a template of two Python functions, and a state dir whose Python
/// runtime is the test venv.
struct Project {
    dir: PathBuf,
}

impl Project {
    fn new(name: &str) -> Self {
        let dir = support::python_project(
            &format!("logs-{name}"),
            "  Echo:\n    Type: AWS::Serverless::Function\n    Properties: \
             {FunctionName: echo, Handler: handlers.echo}\n  Greeter:\n    Type: \
             AWS::Serverless::Function\n    Properties: {FunctionName: greeter, Handler: \
             handlers.echo}\n",
        );
        Self { dir }
    }

    /// `esb <args>` run in the project folder (the template is found there).
    fn esb(&self, args: &[&str]) -> Output {
        support::esb_command()
            .args(args)
            .current_dir(&self.dir)
            .env_remove("NO_COLOR")
            .stdin(Stdio::null())
            .output()
            .expect("run esb")
    }

    fn up(&self) {
        let port = support::free_addr().port().to_string();
        let out = self.esb(&[
            "up",
            "--detach",
            "--wait",
            "--runtime",
            "process",
            "--port",
            &port,
        ]);
        assert!(out.status.success(), "esb up: {}", text(&out.stderr));
    }

    fn logs_url(&self) -> String {
        let state = std::fs::read_to_string(self.dir.join(".esb/box.json")).expect("box.json");
        serde_json::from_str::<Value>(&state).expect("box.json is JSON")["logs_url"]
            .as_str()
            .expect("logs_url in box.json")
            .to_string()
    }

    /// Posts records to the box's log store as a log shipper would.
    fn insert(&self, records: &[Value]) {
        let body: String = records.iter().map(|r| format!("{r}\n")).collect();
        let resp = reqwest::blocking::Client::new()
            .post(format!(
                "{}/insert/jsonline?_stream_fields=function,job",
                self.logs_url()
            ))
            .body(body)
            .send()
            .expect("insert");
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["x-esb-rejected-lines"], "0");
    }

    /// `esb logs <args>`: stdout, and stderr, asserting success.
    fn logs(&self, args: &[&str]) -> (String, String) {
        let mut all = vec!["logs"];
        all.extend_from_slice(args);
        let out = self.esb(&all);
        assert!(
            out.status.success(),
            "esb {all:?} failed ({}): {}",
            out.status,
            text(&out.stderr)
        );
        (text(&out.stdout), text(&out.stderr))
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = self.esb(&["down"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn now_ms() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_millis(),
    )
    .expect("time")
}

fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .expect("time")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("format")
}

/// `HH:MM:SS.mmm` of a time, as `esb logs` prints it.
fn clock(ms: i64) -> String {
    let t =
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).expect("time");
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// A function's record as the box stores it.
fn record(ms: i64, function: &str, level: &str, request: &str, msg: &str) -> Value {
    json!({
        "_time": rfc3339(ms),
        "_msg": msg,
        "function": function,
        "job": "lambda",
        "level": level,
        "aws_request_id": request,
        "trace_id": "1-5759e988-bd862e3fe1be46a994272793",
        "worker": "w-1",
        "stream": "stdout",
        "type": "function",
    })
}

/// Where each of `needles` is in `haystack`, asserting they all are, in this order.
fn in_order(haystack: &str, needles: &[&str]) {
    let mut from = 0;
    for n in needles {
        match haystack[from..].find(n) {
            Some(i) => from += i + n.len(),
            None => panic!("{n:?} missing or out of order in:\n{haystack}"),
        }
    }
}

const RID_INFO: &str = "aaaa1111-0000-4000-8000-000000000001";
const RID_ERROR: &str = "bbbb2222-0000-4000-8000-000000000002";
const RID_WARN: &str = "cccc3333-0000-4000-8000-000000000003";

#[test]
fn logs_of_a_running_box_then_of_a_stopped_one() {
    let p = Project::new("box");
    p.up();
    let t = now_ms() - 120_000;
    let old = now_ms() - 2 * 3600 * 1000;
    let mut platform = record(
        t + 3,
        "echo",
        "INFO",
        RID_ERROR,
        "REPORT RequestId: bbbb2222 Duration: 1.00 ms",
    );
    platform["type"] = json!("platform");
    let access = json!({
        "_time": rfc3339(t + 4), "_msg": "GET /echo 200 3ms", "function": "esb-gateway",
        "job": "gateway", "level": "INFO", "type": "access",
    });
    p.insert(&[
        record(old, "echo", "INFO", RID_INFO, "an old record"),
        record(t, "echo", "INFO", RID_INFO, "hello from echo"),
        record(t + 1, "echo", "ERROR", RID_ERROR, "echo failed: boom"),
        record(
            t + 2,
            "greeter",
            "WARN",
            RID_WARN,
            "greeter is slow\n  second line",
        ),
        platform,
        access,
    ]);

    // Every function and the box, oldest first, one line each (multi-line as is).
    let (all, _) = p.logs(&[]);
    in_order(
        &all,
        &[
            "an old record",
            "hello from echo",
            "echo failed: boom",
            "greeter is slow\n  second line\n",
            "REPORT RequestId: bbbb2222",
            "GET /echo 200 3ms",
        ],
    );
    assert!(!all.contains('\u{1b}'), "no colour off a terminal: {all}");
    let line = all
        .lines()
        .find(|l| l.contains("echo failed: boom"))
        .expect("the error line");
    let mut cols: Vec<&str> = line.split_whitespace().collect();
    // Records that span midnight (UTC) are printed with their date first.
    if cols[0].len() == 10 && cols[0].as_bytes()[4] == b'-' {
        cols.remove(0);
    }
    assert_eq!(
        cols[..4],
        [clock(t + 1).as_str(), "echo", "ERROR", "bbbb2222"],
        "TIME FUNCTION LEVEL REQUEST MESSAGE: {line}"
    );
    assert!(line.ends_with(" bbbb2222 echo failed: boom"), "{line}");
    let gateway = all
        .lines()
        .find(|l| l.contains("GET /echo 200"))
        .expect("the access line");
    assert!(
        gateway.contains(" esb-gateway ") && gateway.contains(" INFO  GET /echo"),
        "a record without request id: {gateway}"
    );

    // One function; the last N.
    let (echo, _) = p.logs(&["echo"]);
    in_order(
        &echo,
        &[
            "an old record",
            "hello from echo",
            "echo failed: boom",
            "REPORT",
        ],
    );
    assert!(
        !echo.contains("greeter") && !echo.contains("GET /echo"),
        "{echo}"
    );
    let (two, _) = p.logs(&["echo", "--tail", "2"]);
    let lines: Vec<&str> = two.lines().collect();
    assert_eq!(lines.len(), 2, "{two}");
    assert!(lines[0].ends_with("echo failed: boom"), "{two}");
    assert!(lines[1].contains("REPORT RequestId"), "{two}");
    let (box_only, _) = p.logs(&["esb-gateway"]);
    assert!(box_only.contains("GET /echo 200") && !box_only.contains("boom"));

    // A function the template does not define: a warning naming those it does.
    let (none, warning) = p.logs(&["nope"]);
    assert!(none.is_empty(), "{none}");
    assert!(
        warning.contains("defines no function \"nope\"")
            && warning.contains("echo, greeter")
            && warning.contains("esb-gateway"),
        "{warning}"
    );

    // --since: a duration or a time; records days apart are printed with their date.
    let (recent, _) = p.logs(&["--since", "10m"]);
    in_order(&recent, &["hello from echo", "GET /echo 200"]);
    assert!(!recent.contains("an old record"), "{recent}");
    let (recent, _) = p.logs(&["echo", "--since", &rfc3339(now_ms() - 30 * 60 * 1000)]);
    assert!(
        recent.contains("echo failed") && !recent.contains("an old record"),
        "{recent}"
    );
    let (days, _) = p.logs(&["echo", "--since", "3d"]);
    let first = days.lines().next().expect("a line");
    let day =
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(old) * 1_000_000).expect("time");
    let date = format!(
        "{:04}-{:02}-{:02}",
        day.year(),
        u8::from(day.month()),
        day.day()
    );
    assert!(
        first.starts_with(&format!("{date} {}", clock(old))) && first.ends_with("an old record"),
        "{first}"
    );

    // --query: any LogsQL filter, ANDed.
    let (one, _) = p.logs(&["--query", &format!("aws_request_id:={RID_ERROR}")]);
    let lines: Vec<&str> = one.lines().collect();
    assert_eq!(lines.len(), 2, "the error and its REPORT line: {one}");
    let (one, _) = p.logs(&["--query", "level:ERROR OR level:WARN", "echo"]);
    assert_eq!(one.lines().count(), 1, "OR stays inside --query: {one}");
    assert!(one.contains("echo failed: boom"), "{one}");

    // --json: the store's lines, unchanged, oldest first.
    let (json, _) = p.logs(&["echo", "--json"]);
    let records: Vec<Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let msgs: Vec<&str> = records.iter().filter_map(|r| r["_msg"].as_str()).collect();
    assert_eq!(
        msgs,
        [
            "an old record",
            "hello from echo",
            "echo failed: boom",
            "REPORT RequestId: bbbb2222 Duration: 1.00 ms"
        ]
    );
    assert_eq!(records[2]["aws_request_id"], RID_ERROR);
    assert_eq!(records[2]["level"], "ERROR");
    assert_eq!(records[2]["_stream"], r#"{function="echo",job="lambda"}"#);
    assert_eq!(records[2]["_time"], rfc3339(t + 1));

    // A query the store cannot parse: its message, exit 1.
    let bad = p.esb(&["logs", "--query", "level:(ERROR"]);
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad.stderr));
    assert!(
        text(&bad.stderr).contains("refused the query")
            && text(&bad.stderr).contains("cannot parse query"),
        "{}",
        text(&bad.stderr)
    );

    follow_prints_new_records_once_and_ends_on_ctrl_c(&p);

    // The box stops: the records are read from disk.
    let down = p.esb(&["down"]);
    assert!(down.status.success(), "{}", text(&down.stderr));
    let (after, note) = p.logs(&["echo"]);
    in_order(
        &after,
        &["hello from echo", "echo failed: boom", "arrived live"],
    );
    assert!(note.contains("no box is running; reading"), "{note}");
    let bad = p.esb(&["logs", "--query", "level:(ERROR"]);
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad.stderr));
}

fn follow_prints_new_records_once_and_ends_on_ctrl_c(p: &Project) {
    let mut child = support::esb_command()
        .args(["logs", "-f", "echo", "--tail", "2"])
        .current_dir(&p.dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("esb logs -f");
    let output = support::capture_output(&mut child);
    let wait_for = |what: &str| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let lines = output.lock().expect("output").clone();
            if lines.iter().any(|l| l.contains(what)) {
                return lines;
            }
            assert!(
                Instant::now() < deadline,
                "no {what:?} from esb logs -f:\n{}",
                lines.join("\n")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait_for("REPORT RequestId");
    let now = now_ms();
    // Two identical records (same time, stream, message) are two records.
    let twice = record(now, "echo", "INFO", RID_INFO, "said twice");
    p.insert(&[
        record(now - 1, "echo", "WARN", RID_WARN, "arrived live"),
        twice.clone(),
        twice,
        record(now, "greeter", "INFO", RID_INFO, "not echo's"),
    ]);
    wait_for("said twice");
    // A few more polls: nothing is printed again.
    std::thread::sleep(Duration::from_secs(2));
    let lines = output.lock().expect("output").clone();
    let count = |what: &str| lines.iter().filter(|l| l.contains(what)).count();
    assert_eq!(count("arrived live"), 1, "{lines:#?}");
    assert_eq!(count("said twice"), 2, "{lines:#?}");
    assert_eq!(count("echo failed: boom"), 1, "{lines:#?}");
    assert_eq!(count("not echo's"), 0, "{lines:#?}");
    assert_eq!(count("hello from echo"), 0, "--tail 2: {lines:#?}");

    // SAFETY: kill(2) on our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "esb logs -f ignored Ctrl-C");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0), "Ctrl-C ends -f with status 0");
}

#[test]
fn without_box_or_store_it_says_so_with_status_3() {
    let p = Project::new("nothing");
    let out = p.esb(&["logs"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("no box is running"),
        "{}",
        text(&out.stderr)
    );
    let out = p.esb(&["logs", "-f"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));

    let out = p.esb(&["logs", "--since", "yesterday"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("invalid --since"),
        "{}",
        text(&out.stderr)
    );
    let help = p.esb(&["logs", "--help"]);
    assert!(
        text(&help.stdout).contains("Examples:")
            && text(&help.stdout).contains("esb logs hello -f"),
        "{}",
        text(&help.stdout)
    );
}
