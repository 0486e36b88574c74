//! HTTP at the edges of a real `esb up` box, over raw TCP and TLS sockets: handshakes
//! that never finish, slow headers, stalled bodies, request smuggling
//! (`Content-Length` with `Transfer-Encoding`, `Content-Length` twice), malformed
//! request lines, pipelining, header and payload limits — on the gateway's port and on
//! the data services' listeners. Each case gets its answer or a closed connection
//! within a generous bound; the box's timeouts are set short (`ESB_*_TIMEOUT`) so the
//! bounds hold on a loaded machine. And `/metrics`: not on the gateway's port, on the
//! loopback metrics listener, or with the bearer token.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support;

/// How long any one answer or close may take here (the box's timeouts are 2 s).
const BOUND: Duration = Duration::from_secs(60);

struct Box_ {
    child: Child,
    state: PathBuf,
    port: u16,
    client: reqwest::blocking::Client,
}

impl Box_ {
    fn start(name: &str, flags: &[&str]) -> Self {
        let state = support::fresh_state_dir(&format!("edges-{name}"));
        let port = support::free_addr().port();
        let child = support::esb_command()
            .arg("up")
            .arg("--template")
            .arg(support::repo_root().join("tests/projects/e2e/template.yaml"))
            .arg("--state-dir")
            .arg(&state)
            .args(["--port", &port.to_string(), "--runtime", "process"])
            .args(flags)
            .env("ESB_HEADER_READ_TIMEOUT", "2")
            .env("ESB_BODY_IDLE_TIMEOUT", "2")
            .env("ESB_TLS_HANDSHAKE_TIMEOUT", "2")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("esb up");
        let client = support::https_client_within(&state, port, Duration::from_secs(300));
        let b = Self {
            child,
            state,
            port,
            client,
        };
        // box.json is written once the services listen.
        support::metrics_url(&b.state);
        b
    }

    /// The port of a data service, from box.json (`s3_url`, `dynamodb_url`...).
    fn service_port(&self, key: &str) -> u16 {
        let doc: Value = serde_json::from_str(
            &std::fs::read_to_string(self.state.join("box.json")).expect("box.json"),
        )
        .expect("box.json is JSON");
        doc[key]
            .as_str()
            .and_then(|u| u.rsplit(':').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("{key} in {doc}"))
    }

    fn tcp(port: u16) -> TcpStream {
        let tcp = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        tcp.set_read_timeout(Some(BOUND)).expect("timeout");
        tcp
    }

    /// A TLS connection to `port` trusting the box's CA, for writing raw bytes.
    fn tls(&self, port: u16) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
        support::raw_tls(&self.state, port, BOUND)
    }

    /// Writes `bytes` over TLS to `port` and reads until the server closes; the
    /// answer, and how long the close took.
    fn exchange(&self, port: u16, bytes: &[u8]) -> (String, Duration) {
        let mut s = self.tls(port);
        s.write_all(bytes).expect("write");
        let started = Instant::now();
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        (
            String::from_utf8_lossy(&buf).into_owned(),
            started.elapsed(),
        )
    }

    fn still_serves(&self) {
        support::assert_echo_serves(&self.client, &self.state, self.port);
    }
}

impl Drop for Box_ {
    fn drop(&mut self) {
        support::terminate(&mut self.child, Duration::from_secs(30));
        let _ = std::fs::remove_dir_all(&self.state);
    }
}

/// The status codes of every response in `text`, in order.
fn statuses(text: &str) -> Vec<u16> {
    text.match_indices("HTTP/1.1 ")
        .filter_map(|(i, _)| text.get(i + 9..i + 12)?.parse().ok())
        .collect()
}

/// Closed (EOF or reset) within the bound, without an answer.
fn assert_closed(what: &str, text: &str, took: Duration) {
    assert!(took < BOUND, "{what}: still open after {took:?}");
    assert!(statuses(text).is_empty(), "{what}: answered {text}");
}

/// A TLS handshake that never starts, and headers that never finish, are cut off on
/// every listener (gateway, S3, DynamoDB, CloudWatch Logs).
#[test]
fn silent_and_slow_clients_are_cut_off_on_every_listener() {
    let b = Box_::start("slow", &[]);
    let ports = [
        ("gateway", b.port),
        ("S3", b.service_port("s3_url")),
        ("DynamoDB", b.service_port("dynamodb_url")),
        ("CloudWatch Logs", b.service_port("cloudwatch_logs_url")),
    ];
    for (name, port) in ports {
        // TCP open, no ClientHello.
        let mut silent = Box_::tcp(port);
        let started = Instant::now();
        let mut buf = Vec::new();
        let _ = silent.read_to_end(&mut buf);
        assert!(buf.is_empty(), "{name}: {buf:?}");
        assert_closed(&format!("{name}: silent handshake"), "", started.elapsed());

        // TLS done, headers never finished (slowloris).
        let (text, took) = b.exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n");
        assert_closed(&format!("{name}: slow headers"), &text, took);
    }
    b.still_serves();
}

/// A body that stalls mid-way: 408 with the Invoke API's and API Gateway's shapes on
/// the gateway, and on a data service an answer or a close, never a hang.
#[test]
fn a_stalled_body_is_answered_or_closed() {
    let b = Box_::start("stall", &[]);
    let (text, took) = b.exchange(
        b.port,
        b"POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"a\":",
    );
    assert!(took < BOUND, "{took:?}");
    assert_eq!(statuses(&text), [408], "{text}");
    assert!(text.contains("RequestTimeoutException"), "{text}");

    let (text, took) = b.exchange(
        b.port,
        b"POST /short HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"a\":",
    );
    assert!(took < BOUND, "{took:?}");
    assert_eq!(statuses(&text), [408], "{text}");
    assert!(text.contains(r#"{"message":"Request Timeout"}"#), "{text}");

    let s3 = b.service_port("s3_url");
    let (text, took) = b.exchange(
        s3,
        b"PUT /bucket/key HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc",
    );
    assert!(took < BOUND, "S3 held a stalled body for {took:?}: {text}");
    b.still_serves();
}

/// Request smuggling: `Content-Length` with `Transfer-Encoding`, and `Content-Length`
/// twice (even equal), get 400 and a closed connection; the request hidden behind them
/// is never answered. A malformed request line gets 400 too.
#[test]
fn ambiguous_framing_and_malformed_requests_get_400_and_a_close() {
    let b = Box_::start("smuggle", &[]);
    let smuggled = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
    let cases = [
        format!(
            "POST /short HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{smuggled}"
        ),
        format!(
            "POST /short HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n0\r\n\r\n{smuggled}"
        ),
        format!(
            "POST /short HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{{}}{smuggled}"
        ),
        format!("GARBAGE\r\n\r\n{smuggled}"),
        format!("GET /health HTTP/1.1 extra\r\nHost: x\r\n\r\n{smuggled}"),
    ];
    let ports = [("gateway", b.port), ("S3", b.service_port("s3_url"))];
    for (name, port) in ports {
        for case in &cases {
            let (text, took) = b.exchange(port, case.as_bytes());
            assert!(took < BOUND, "{name}: {case:?} left open for {took:?}");
            assert_eq!(statuses(&text), [400], "{name}: {case:?} -> {text}");
        }
    }
    b.still_serves();
}

/// Pipelined requests are answered one after the other, in order.
#[test]
fn pipelined_requests_are_answered_in_order() {
    let b = Box_::start("pipeline", &[]);
    let (text, took) = b.exchange(
        b.port,
        b"GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /no-such-route HTTP/1.1\r\nHost: x\r\n\r\nGET /items/7 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(took < BOUND, "{took:?}");
    assert_eq!(statuses(&text), [200, 404, 200], "{text}");
    let health = text.find("healthy").expect("the health answer");
    let item = text.find("/items/{id}").expect("the item's event");
    assert!(health < item, "{text}");
}

/// API Gateway's limits on the gateway's port: 10 KB of request line and headers
/// (431), 10 MB API payloads (413 `Request Too Long`), and Lambda's 256 KB for `Event`
/// invocations (413 `RequestEntityTooLargeException`). The data services keep larger
/// headers (S3 metadata, presigned URLs).
#[test]
fn header_and_payload_limits_are_aws_ones() {
    let b = Box_::start("limits", &[]);
    let big_header = |n: usize| {
        format!(
            "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
            "a".repeat(n)
        )
    };
    let (text, _) = b.exchange(b.port, big_header(11 * 1024).as_bytes());
    assert_eq!(statuses(&text), [431], "{text}");
    let (text, _) = b.exchange(b.port, big_header(9 * 1024).as_bytes());
    assert_eq!(statuses(&text), [200], "{text}");
    let s3 = b.service_port("s3_url");
    let (text, _) = b.exchange(s3, big_header(11 * 1024).as_bytes());
    assert!(!statuses(&text).contains(&431), "{text}");

    let url = format!("https://127.0.0.1:{}", b.port);
    let resp = b
        .client
        .post(format!("{url}/short"))
        .body(vec![b'a'; 10 * 1024 * 1024 + 1])
        .send()
        .expect("a too large API payload");
    assert_eq!(resp.status(), 413);
    assert_eq!(
        resp.json::<Value>().expect("JSON"),
        serde_json::json!({"message": "Request Too Long"})
    );

    let event = format!("\"{}\"", "a".repeat(256 * 1024));
    let resp = support::send_signed(
        &b.client,
        &b.state,
        b.client
            .post(format!("{url}/2015-03-31/functions/echo/invocations"))
            .header("X-Amz-Invocation-Type", "Event")
            .body(event),
    )
    .expect("a too large event");
    assert_eq!(resp.status(), 413);
    assert_eq!(
        resp.headers()["x-amzn-errortype"],
        "RequestEntityTooLargeException"
    );
    let doc: Value = resp.json().expect("JSON");
    assert_eq!(
        doc["message"],
        "Request must be smaller than 262144 bytes for the InvokeAsync operation"
    );
    b.still_serves();
}

/// `/metrics` names every function and its traffic: the gateway's port (0.0.0.0)
/// does not serve it, even to a loopback client, nor to one from another address;
/// the loopback metrics listener does. With `--metrics-token-file`, the token is asked
/// everywhere and opens the gateway's port too.
#[test]
fn metrics_are_served_where_the_operator_chooses() {
    let b = Box_::start("metrics", &[]);
    b.still_serves();
    let on_gateway = b
        .client
        .get(format!("https://127.0.0.1:{}/metrics", b.port))
        .send()
        .expect("gateway /metrics");
    assert_eq!(on_gateway.status(), 404);
    // The same from another local address, as a client on the network would come.
    let outside = reqwest::blocking::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .danger_accept_invalid_certs(true)
        .build()
        .expect("client");
    let from_outside = outside
        .get(format!("https://127.0.0.2:{}/metrics", b.port))
        .send()
        .expect("gateway /metrics from 127.0.0.2");
    assert_eq!(from_outside.status(), 404);
    let listener = support::metrics_url(&b.state);
    assert!(listener.starts_with("http://127.0.0.1:"), "{listener}");
    let text = b
        .client
        .get(&listener)
        .send()
        .and_then(|r| r.text())
        .expect("metrics listener");
    assert!(
        text.contains("esb_lambda_invocations_total{function=\"echo\"} 1"),
        "{text}"
    );
    drop(b);

    let token_dir = support::fresh_state_dir("edges-metrics-token");
    let token_file = token_dir.join("token");
    std::fs::write(&token_file, "s3cret-token\n").expect("token");
    let b = Box_::start(
        "metrics-token",
        &["--metrics-token-file", &token_file.to_string_lossy()],
    );
    b.still_serves();
    let listener = support::metrics_url(&b.state);
    for url in [format!("https://127.0.0.1:{}/metrics", b.port), listener] {
        let none = b.client.get(&url).send().expect("no token");
        assert_eq!(none.status(), 401, "{url}");
        let wrong = b
            .client
            .get(&url)
            .bearer_auth("guess")
            .send()
            .expect("a wrong token");
        assert_eq!(wrong.status(), 401, "{url}");
        let right = b
            .client
            .get(&url)
            .bearer_auth("s3cret-token")
            .send()
            .expect("the token");
        assert_eq!(right.status(), 200, "{url}");
        assert!(
            right
                .text()
                .expect("text")
                .contains("esb_lambda_invocations_total{function=\"echo\"} 1"),
            "{url}"
        );
    }
    drop(b);
    let _ = std::fs::remove_dir_all(&token_dir);
}

/// The state dir (created by the test with the umask's 0755) is the box's user's only
/// once the box runs; the credentials and the TLS key are 0600 themselves.
#[test]
fn the_state_dir_keeps_its_secrets_to_its_user() {
    use std::os::unix::fs::PermissionsExt;
    let b = Box_::start("modes", &[]);
    let mode = |p: PathBuf| {
        std::fs::metadata(&p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(b.state.clone()), 0o700);
    assert_eq!(mode(b.state.join("credentials")), 0o600);
    assert_eq!(mode(b.state.join("certs/server-key.pem")), 0o600);
    let box_json = std::fs::read_to_string(b.state.join("box.json")).expect("box.json");
    let (_, secret) = support::box_credentials(&b.state);
    assert!(!box_json.contains(&secret), "{box_json}");
}
