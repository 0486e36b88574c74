//! Hostile and broken input at the gateway, over real TLS connections: slow clients,
//! huge headers, invalid UTF-8, path traversal in `{proxy+}`, bodies that never
//! arrive. Each gets a clear answer (or a closed connection) and nothing else is
//! affected: the box keeps serving other clients meanwhile.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support;

struct Box_ {
    child: Child,
    state: PathBuf,
    port: u16,
    client: reqwest::blocking::Client,
}

impl Box_ {
    fn start(name: &str) -> Self {
        let state =
            std::env::temp_dir().join(format!("esb-bad-input-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&state);
        std::fs::create_dir_all(state.join("runtimes")).expect("state dir");
        let venv = support::python()
            .parent()
            .and_then(Path::parent)
            .expect("venv")
            .to_path_buf();
        std::os::unix::fs::symlink(venv, state.join("runtimes/python")).expect("link venv");
        let port = support::free_addr().port();
        let child = support::esb_command()
            .arg("up")
            .arg("--template")
            .arg(support::repo_root().join("tests/projects/e2e/template.yaml"))
            .arg("--state-dir")
            .arg(&state)
            .args(["--port", &port.to_string(), "--runtime", "process"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("esb up");
        let client = support::https_client(&state, port);
        Self {
            child,
            state,
            port,
            client,
        }
    }

    /// A TLS connection trusting the box's CA, for writing raw bytes.
    fn raw(&self) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
        support::raw_tls(&self.state, self.port, Duration::from_secs(60))
    }

    /// Sends raw request bytes; returns the status line's code, or None when the
    /// server closed the connection without an answer.
    fn send_raw(&self, bytes: &[u8]) -> (Option<u16>, String) {
        let mut s = self.raw();
        // A server refusing a request it has read enough of (431 at 10 KB of headers)
        // closes while the rest is still being written: the write may fail.
        let _ = s.write_all(bytes);
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        let text = String::from_utf8_lossy(&buf).into_owned();
        let status = text
            .strip_prefix("HTTP/1.1 ")
            .and_then(|r| r.get(..3))
            .and_then(|c| c.parse().ok());
        (status, text)
    }

    fn still_serves(&self) {
        support::assert_echo_serves(&self.client, &self.state, self.port);
    }

    fn body_of(text: &str) -> Value {
        let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
        serde_json::from_str(body).unwrap_or(Value::Null)
    }
}

impl Drop for Box_ {
    fn drop(&mut self) {
        support::terminate(&mut self.child, Duration::from_secs(30));
        let _ = std::fs::remove_dir_all(&self.state);
    }
}

/// A client that never finishes its headers is cut off; others are served meanwhile.
#[test]
fn a_slowloris_client_is_cut_off_without_harming_others() {
    let b = Box_::start("slowloris");
    let mut slow = b.raw();
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n")
        .expect("partial headers");
    let started = Instant::now();
    b.still_serves();
    let mut buf = Vec::new();
    let _ = slow.read_to_end(&mut buf);
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(40),
        "the half-sent request was dropped after {waited:?}"
    );
    b.still_serves();
}

/// A body announced but never sent gets 408 once the read deadline passes.
#[test]
fn a_body_that_never_arrives_gets_408() {
    let b = Box_::start("slowbody");
    let (status, text) = b.send_raw(
        b"POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"a\":",
    );
    assert_eq!(status, Some(408), "{text}");
    assert!(text.contains("RequestTimeoutException"), "{text}");
    b.still_serves();
}

/// Too many or too large headers: refused (431) or the connection closed, never a
/// crash; the box keeps serving.
#[test]
fn huge_headers_are_refused() {
    let b = Box_::start("headers");
    let mut request = b"GET /items/1 HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..200 {
        request.extend(format!("X-Filler-{i}: {}\r\n", "a".repeat(1000)).as_bytes());
    }
    request.extend(b"\r\n");
    let (status, text) = b.send_raw(&request);
    assert!(
        status.is_none() || status == Some(431),
        "{status:?}: {}",
        &text[..text.len().min(300)]
    );
    b.still_serves();
}

/// Invalid UTF-8 in the path, query and a header value reaches the function as
/// replacement characters; nothing breaks.
#[test]
fn invalid_utf8_is_carried_not_crashed_on() {
    let b = Box_::start("utf8");
    let mut request =
        b"GET /items/%FF%FE?q=%C3%28 HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Bad: ".to_vec();
    request.extend([0xff, 0xfe, b'o', b'k']);
    request.extend(b"\r\n\r\n");
    let (status, text) = b.send_raw(&request);
    assert_eq!(status, Some(200), "{text}");
    let event = &Box_::body_of(&text)["event"];
    assert_eq!(event["pathParameters"]["id"], "\u{fffd}\u{fffd}");
    assert!(
        event["headers"]["X-Bad"]
            .as_str()
            .is_some_and(|v| v.ends_with("ok")),
        "{event}"
    );
    b.still_serves();
}

/// `..` in a greedy path is data for the function, never a way to another route.
#[test]
fn path_traversal_stays_inside_the_proxy_route() {
    let b = Box_::start("traversal");
    for (raw_path, proxy) in [
        ("/files/..%2F..%2Fetc%2Fpasswd", "../../etc/passwd"),
        ("/files/../items/5", "../items/5"),
    ] {
        let (status, text) = b.send_raw(
            format!("GET {raw_path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        assert_eq!(status, Some(200), "{raw_path}: {text}");
        let event = &Box_::body_of(&text)["event"];
        assert_eq!(event["resource"], "/files/{proxy+}", "{raw_path}");
        assert_eq!(event["pathParameters"]["proxy"], proxy, "{raw_path}");
    }
    b.still_serves();
}

/// The Invoke API takes any content type (as Lambda does) but only JSON payloads.
#[test]
fn invoke_payloads_must_be_json_whatever_the_content_type() {
    let b = Box_::start("payloads");
    let url = format!(
        "https://127.0.0.1:{}/2015-03-31/functions/echo/invocations",
        b.port
    );
    let ok = support::send_signed(
        &b.client,
        &b.state,
        b.client
            .post(&url)
            .header("Content-Type", "text/plain")
            .body(r#"{"k": 1}"#),
    )
    .expect("invoke");
    assert_eq!(ok.status(), 200);
    for bad in [&b"{\"k\": "[..], &[0xff, 0xfe, 0x00][..], &b"<xml/>"[..]] {
        let resp =
            support::send_signed(&b.client, &b.state, b.client.post(&url).body(bad.to_vec()))
                .expect("invoke");
        assert_eq!(resp.status(), 400);
        assert_eq!(
            resp.headers()["x-amzn-errortype"],
            "InvalidRequestContentException"
        );
    }
    b.still_serves();
}
