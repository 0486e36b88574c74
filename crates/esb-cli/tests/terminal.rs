//! `esb up` as a person sees it in a terminal (a real tmux pane): the banner with the
//! URL and each function, coloured log lines, the key file to sign with, and Ctrl-C
//! stopping the box cleanly; and no colour codes when the output is not a terminal.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

fn tmux(args: &[&str]) -> String {
    let out = Command::new("tmux")
        .args(args)
        .output()
        .expect("tmux (scripts/test-deps.sh installs it)");
    String::from_utf8_lossy(&out.stdout).into_owned()
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
        "{} up --runtime process --port {port} --state-dir {} --template {}; echo EXITED $?; sleep 30",
        support::esb_bin().display(),
        dir.display(),
        support::repo_root()
            .join("tests/projects/e2e/template.yaml")
            .display()
    );
    tmux(&[
        "new-session",
        "-d",
        "-s",
        &session,
        "-x",
        "160",
        "-y",
        "50",
        &command,
    ]);
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
    let mut child = Command::new(support::esb_bin())
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
