//! `esb up` as a person sees it in a terminal (a real tmux pane): the banner with the
//! URL and each function, coloured log lines, the key file to sign with, and Ctrl-C
//! stopping the box cleanly; and no colour codes when the output is not a terminal.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support;

/// Runs tmux on a server of this test's own (named after its thread, which the test
/// harness names after the test): tests in parallel never share, or kill, a server.
fn tmux(args: &[&str]) -> String {
    let socket: String = std::thread::current()
        .name()
        .unwrap_or("main")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let out = Command::new("tmux")
        .args(["-L", &format!("esb-{socket}-{}", std::process::id())])
        .args(args)
        .output()
        .expect("tmux (scripts/test-deps.sh installs it)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A detached session running `command` in a 160 x 50 pane.
fn new_session(session: &str, command: &str) {
    tmux(&[
        "new-session",
        "-d",
        "-s",
        session,
        "-x",
        "160",
        "-y",
        "50",
        command,
    ]);
}

/// The pane's text (`escapes`: with its colour codes).
fn screen(session: &str, escapes: bool) -> String {
    let mut args = vec!["capture-pane", "-p", "-t", session];
    if escapes {
        args.push("-e");
    }
    tmux(&args)
}

fn wait_for(session: &str, what: &str, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        let text = screen(session, false);
        if text.contains(what) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "no {what:?} on the screen:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn esb_up_in_a_terminal() {
    let dir = support::fresh_state_dir("terminal");
    let port = support::free_addr().port();
    let session = format!("esb-terminal-{}", std::process::id());
    let command = format!(
        "ESB_S3_PORT=0 ESB_DYNAMODB_PORT=0 ESB_CLOUDWATCH_LOGS_PORT=0 {} up --runtime process --port {port} --state-dir {} --template {}; echo EXITED $?; sleep 30",
        support::esb_bin().display(),
        dir.display(),
        support::repo_root()
            .join("tests/projects/e2e/template.yaml")
            .display()
    );
    new_session(&session, &command);
    let text = wait_for(&session, "Ctrl-C stops the box", Duration::from_secs(120));
    assert!(
        text.contains(&format!("ESB is up: https://127.0.0.1:{port}")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "POST https://127.0.0.1:{port}/2015-03-31/functions/echo/invocations"
        )),
        "{text}"
    );
    assert!(text.contains("AWS_SHARED_CREDENTIALS_FILE="), "{text}");
    // Log lines are coloured on a terminal.
    assert!(
        screen(&session, true).contains("\u{1b}["),
        "colour codes on a terminal"
    );

    tmux(&["send-keys", "-t", &session, "C-c"]);
    let text = wait_for(&session, "EXITED", Duration::from_secs(60));
    assert!(
        text.contains("EXITED 0"),
        "Ctrl-C ends the box cleanly:\n{text}"
    );
    tmux(&["kill-session", "-t", &session]);

    // The same output into a pipe has no colour codes.
    let mut child = support::esb_command()
        .args([
            "up",
            "--runtime",
            "process",
            "--port",
            &support::free_addr().port().to_string(),
        ])
        .arg("--state-dir")
        .arg(&dir)
        .arg("--template")
        .arg(support::repo_root().join("tests/projects/e2e/template.yaml"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("esb up");
    let output = support::capture_output(&mut child);
    let deadline = Instant::now() + Duration::from_secs(120);
    while !output
        .lock()
        .expect("output")
        .iter()
        .any(|l| l.contains("Ctrl-C stops the box"))
    {
        assert!(Instant::now() < deadline, "esb up did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    support::terminate(&mut child, Duration::from_secs(30));
    let text = output.lock().expect("output").join("\n");
    assert!(text.contains(" INFO "), "log lines are there: {text}");
    assert!(
        !text.contains('\u{1b}'),
        "no colour codes off a terminal: {text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `esb logs -f` as a person sees it: the last records, then new ones as they reach
/// the store, levels coloured (errors red, warnings yellow, platform lines dim), and
/// Ctrl-C ending it with status 0; `NO_COLOR` turns the colours off.
#[test]
fn esb_logs_follow_in_a_terminal() {
    let dir = support::fresh_state_dir("terminal-logs");
    let template = support::repo_root().join("tests/projects/e2e/template.yaml");
    let esb = |args: &[&str]| {
        support::esb_command()
            .args(args)
            .arg("--state-dir")
            .arg(&dir)
            .arg("--template")
            .arg(&template)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run esb")
    };
    let port = support::free_addr().port().to_string();
    let up = esb(&[
        "up",
        "--detach",
        "--wait",
        "--runtime",
        "process",
        "--port",
        &port,
    ]);
    assert!(
        up.status.success(),
        "esb up: {}",
        String::from_utf8_lossy(&up.stderr)
    );
    let logs_url = serde_json::from_str::<serde_json::Value>(
        &std::fs::read_to_string(dir.join("box.json")).expect("box.json"),
    )
    .expect("box.json is JSON")["logs_url"]
        .as_str()
        .expect("logs_url")
        .to_string();
    let insert = |records: &[serde_json::Value]| {
        let body: String = records.iter().map(|r| format!("{r}\n")).collect();
        let resp = reqwest::blocking::Client::new()
            .post(format!(
                "{logs_url}/insert/jsonline?_stream_fields=function,job"
            ))
            .body(body)
            .send()
            .expect("insert");
        assert_eq!(resp.status(), 200);
    };
    let now = time::OffsetDateTime::now_utc();
    let at = |seconds_ago: i64| {
        (now - time::Duration::seconds(seconds_ago))
            .format(&time::format_description::well_known::Rfc3339)
            .expect("time")
    };
    let line = |ago: i64, level: &str, kind: &str, msg: &str| {
        serde_json::json!({
            "_time": at(ago), "_msg": msg, "function": "echo", "job": "lambda",
            "level": level, "type": kind,
            "aws_request_id": "5f1c2d3e-aaaa-4bbb-8ccc-000000000001",
        })
    };
    insert(&[
        line(
            30,
            "INFO",
            "platform",
            "START RequestId: 5f1c2d3e Version: $LATEST",
        ),
        line(29, "INFO", "function", "charging the card"),
        line(28, "WARN", "function", "the card expires soon"),
        line(27, "ERROR", "function", "payment failed: card declined"),
    ]);

    let session = format!("esb-logs-terminal-{}", std::process::id());
    let command = format!(
        "{} logs -f --state-dir {} --template {}; echo EXITED $?; sleep 30",
        support::esb_bin().display(),
        dir.display(),
        template.display()
    );
    new_session(&session, &command);
    let text = wait_for(&session, "payment failed", Duration::from_secs(60));
    let shown = text
        .lines()
        .find(|l| l.contains("payment failed"))
        .unwrap_or_default();
    let cols: Vec<&str> = shown.split_whitespace().collect();
    assert!(
        cols.len() > 4
            && cols[0].len() == "08:00:00.000".len()
            && cols[1..4] == ["echo", "ERROR", "5f1c2d3e"]
            && shown.ends_with("payment failed: card declined"),
        "TIME FUNCTION LEVEL REQUEST MESSAGE: {shown}\n{text}"
    );
    insert(&[line(0, "ERROR", "function", "arrived while following")]);
    wait_for(&session, "arrived while following", Duration::from_secs(30));
    let coloured = screen(&session, true);
    let line_of = |what: &str| {
        coloured
            .lines()
            .find(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no {what:?} on the screen:\n{coloured}"))
            .to_string()
    };
    assert!(
        line_of("payment failed").contains("\u{1b}[31mERROR"),
        "errors are red: {coloured:?}"
    );
    assert!(
        line_of("arrived while following").contains("\u{1b}[31mERROR"),
        "{coloured:?}"
    );
    assert!(
        line_of("expires soon").contains("\u{1b}[33mWARN"),
        "warnings are yellow: {coloured:?}"
    );
    assert!(
        line_of("START RequestId").contains("\u{1b}[2m"),
        "platform lines are dim: {coloured:?}"
    );
    let plain = screen(&session, false);
    assert_eq!(
        plain.matches("arrived while following").count(),
        1,
        "printed once: {plain}"
    );

    tmux(&["send-keys", "-t", &session, "C-c"]);
    let text = wait_for(&session, "EXITED", Duration::from_secs(10));
    assert!(text.contains("EXITED 0"), "Ctrl-C ends -f with 0:\n{text}");

    // NO_COLOR: the same lines without colours, on a terminal too. The new session
    // starts before the old one goes: killing a server's last session stops the
    // server, and a session started meanwhile can land on the dying one.
    let followed = session;
    let session = format!("esb-logs-nocolor-{}", std::process::id());
    let command = format!(
        "NO_COLOR=1 {} logs --state-dir {} --template {}; echo EXITED $?; sleep 30",
        support::esb_bin().display(),
        dir.display(),
        template.display()
    );
    new_session(&session, &command);
    tmux(&["kill-session", "-t", &followed]);
    wait_for(&session, "EXITED 0", Duration::from_secs(30));
    let coloured = screen(&session, true);
    assert!(
        coloured.contains("payment failed") && !coloured.contains("\u{1b}[31m"),
        "NO_COLOR: {coloured:?}"
    );
    tmux(&["kill-session", "-t", &session]);

    let down = esb(&["down"]);
    assert!(down.status.success());
    let _ = std::fs::remove_dir_all(&dir);
}
