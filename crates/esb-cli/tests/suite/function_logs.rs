//! Central logs end to end: real boxes (`esb up`), real Python functions writing every
//! kind of line, records found in the box's store (VictoriaLogs' query API) by request
//! id and trace id; shipping to an external VictoriaLogs checked by a test receiver
//! on the wire, and by another box's store that is killed and restarted mid-stream.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support;

fn template() -> PathBuf {
    support::repo_root().join("tests/projects/logs/template.yaml")
}

/// A box serving the logs project, stopped (SIGTERM) when dropped.
struct LogBox {
    child: Child,
    state: PathBuf,
    url: String,
    client: reqwest::blocking::Client,
    runtime: String,
}

impl LogBox {
    fn start(name: &str, runtime: &str, extra: &[&str]) -> Self {
        let state = support::fresh_state_dir(&format!("logs-{name}"));
        Self::start_in(state, runtime, support::free_addr().port(), extra)
    }

    fn start_in(state: PathBuf, runtime: &str, port: u16, extra: &[&str]) -> Self {
        let mut child = support::esb_command()
            .arg("up")
            .arg("--template")
            .arg(template())
            .arg("--state-dir")
            .arg(&state)
            .args(["--port", &port.to_string(), "--runtime", runtime])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("esb up");
        support::capture_output(&mut child);
        let client = support::https_client_within(&state, port, Duration::from_secs(300));
        Self {
            child,
            state,
            url: format!("https://127.0.0.1:{port}"),
            client,
            runtime: runtime.to_string(),
        }
    }

    /// Invokes `function` (signed); the answer's status, request id and body.
    fn invoke(&self, function: &str, event: &Value, trace: Option<&str>) -> (u16, String, Value) {
        let mut req = self
            .client
            .post(format!(
                "{}/2015-03-31/functions/{function}/invocations",
                self.url
            ))
            .body(event.to_string());
        if let Some(t) = trace {
            req = req.header("x-amzn-trace-id", t);
        }
        let resp = support::send_signed(&self.client, &self.state, req).expect("invoke");
        let status = resp.status().as_u16();
        let id = resp
            .headers()
            .get("x-amzn-requestid")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body = resp.json::<Value>().unwrap_or(Value::Null);
        (status, id, body)
    }
}

impl Drop for LogBox {
    fn drop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(Some(_))) {
            support::terminate(&mut self.child, Duration::from_secs(20));
        }
        match self.runtime.as_str() {
            "docker" => support::remove_box_objects(&self.state),
            "containerd" => support::containerd::remove_box_objects(&self.state),
            _ => {}
        }
        let _ = std::fs::remove_dir_all(&self.state);
    }
}

/// Records a LogsQL query selects from the store at `logs` (`http://host:port`).
fn query(logs: &str, q: &str) -> Vec<Value> {
    let resp = reqwest::blocking::Client::new()
        .get(format!("{logs}/select/logsql/query"))
        .query(&[("query", q)])
        .send()
        .expect("query the store");
    assert!(resp.status().is_success(), "{q}: {:?}", resp.text());
    resp.text()
        .expect("body")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// Polls `q` until `done` holds for its records (within a generous bound).
fn wait_for(logs: &str, q: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let found = query(logs, q);
        if done(&found) {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "{q}: still {} records: {found:#?}",
            found.len()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_default()
}

/// What `chatty` writes for `tag` with `n` plain lines: (message, level, type, stream).
fn chatty_lines(tag: &str, n: usize, json_format: bool) -> Vec<(String, &'static str)> {
    let mut out: Vec<(String, &'static str)> = (0..n)
        .map(|i| (format!("plain {tag} {i}"), "INFO"))
        .collect();
    out.push((format!("json {tag}"), "WARN"));
    for part in ["a", "b", "c"] {
        out.push((format!("multi {tag} {part}"), "INFO"));
    }
    out.push((format!("err {tag}"), "ERROR"));
    if json_format {
        out.push((format!("info {tag}"), "INFO"));
        out.push((format!("logged {tag}"), "WARN"));
    }
    out
}

/// Checks the records of one invocation of `chatty`/`jsonlogs` against what it wrote.
fn check_invocation(records: &[Value], function: &str, request_id: &str, tag: &str, n: usize) {
    let json_format = function == "jsonlogs";
    let mine: Vec<&Value> = records
        .iter()
        .filter(|r| s(r, "function") == function)
        .collect();
    for r in &mine {
        assert_eq!(s(r, "aws_request_id"), request_id, "{r}");
        assert_eq!(s(r, "job"), "lambda", "{r}");
        assert_eq!(s(r, "container_name"), function, "the original's name: {r}");
        assert!(s(r, "worker").starts_with(function), "{r}");
    }
    let function_lines: BTreeMap<String, (String, String)> = mine
        .iter()
        .filter(|r| s(r, "type") == "function")
        .map(|r| {
            (
                s(r, "_msg").to_string(),
                (s(r, "level").to_string(), s(r, "stream").to_string()),
            )
        })
        .collect();
    for (msg, level) in chatty_lines(tag, n, json_format) {
        let (got_level, stream) = function_lines.get(&msg).unwrap_or_else(|| {
            panic!("{msg:?} of {request_id} is in the store: {function_lines:#?}")
        });
        assert_eq!(got_level, level, "{msg}");
        let want_stream = if msg.starts_with("err ") {
            "stderr"
        } else {
            "stdout"
        };
        assert_eq!(stream, want_stream, "{msg}");
    }
    if !json_format {
        // awslambdaric's text format: `[LEVEL]\t<time>\t<request id>\t<message>`.
        let logged: Vec<(&String, &String)> = function_lines
            .iter()
            .filter(|(m, _)| m.starts_with('['))
            .map(|(m, (l, _))| (m, l))
            .collect();
        assert_eq!(logged.len(), 2, "{logged:?}");
        for (m, l) in logged {
            assert!(m.contains(request_id), "{m}");
            let want = if m.ends_with(&format!("\tlogged {tag}")) {
                "WARN"
            } else {
                "INFO"
            };
            assert_eq!(l, want, "{m}");
        }
    } else {
        let logged = mine
            .iter()
            .find(|r| s(r, "_msg") == format!("logged {tag}"))
            .expect("the JSON log line");
        assert_eq!(s(logged, "logger"), "root", "{logged}");
    }
    let json_line = mine
        .iter()
        .find(|r| s(r, "_msg") == format!("json {tag}"))
        .expect("the JSON line");
    assert_eq!(s(json_line, "tag"), tag, "its fields are kept: {json_line}");
    assert_eq!(
        mine.iter().filter(|r| s(r, "type") == "function").count(),
        function_lines.len(),
        "no line twice"
    );
    assert_eq!(
        function_lines.len(),
        chatty_lines(tag, n, json_format).len() + if json_format { 0 } else { 2 },
        "no line twice, none extra: {function_lines:#?}"
    );
    let platform: Vec<&str> = mine
        .iter()
        .filter(|r| s(r, "type") == "platform")
        .map(|r| s(r, "_msg"))
        .collect();
    assert_eq!(platform.len(), 3, "{platform:?}");
    assert!(platform[0].starts_with("START RequestId: "), "{platform:?}");
    assert!(platform[1].starts_with("END RequestId: "), "{platform:?}");
    assert!(
        platform[2].starts_with("REPORT RequestId: "),
        "{platform:?}"
    );
}

fn logs_url(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

/// Every line of concurrent invocations is found by its request id, with the right
/// function, level and stream; the gateway's access line joins them.
fn every_line_is_found_by_request_id(runtime: &str) {
    let logs_port = support::free_addr().port();
    let b = LogBox::start(
        &format!("concurrent-{runtime}"),
        runtime,
        &["--logs-listen", &format!("127.0.0.1:{logs_port}")],
    );
    let logs = logs_url(logs_port);
    let calls: Mutex<Vec<(String, String, String)>> = Mutex::default();
    std::thread::scope(|scope| {
        for t in 0..4 {
            let (b, calls) = (&b, &calls);
            scope.spawn(move || {
                for i in 0..4 {
                    let function = if (t + i) % 2 == 0 {
                        "chatty"
                    } else {
                        "jsonlogs"
                    };
                    let tag = format!("t{t}i{i}");
                    let (status, id, body) = b.invoke(function, &json!({"tag": tag, "n": 5}), None);
                    assert_eq!(status, 200, "{body}");
                    assert_eq!(body["tag"], tag.as_str());
                    calls
                        .lock()
                        .expect("calls")
                        .push((function.into(), id, tag));
                }
            });
        }
    });
    let calls = calls.into_inner().expect("calls");
    assert_eq!(calls.len(), 16);
    for (function, id, tag) in &calls {
        let records = wait_for(&logs, &format!("aws_request_id:{id:?}"), |found| {
            found.iter().any(|r| s(r, "_msg").starts_with("REPORT"))
                && found.iter().any(|r| s(r, "type") == "access")
        });
        check_invocation(&records, function, id, tag, 5);
        let access: Vec<&Value> = records
            .iter()
            .filter(|r| s(r, "type") == "access")
            .collect();
        assert_eq!(access.len(), 1, "{access:?}");
        assert_eq!(s(access[0], "function"), "esb-gateway");
        assert_eq!(s(access[0], "status"), "200");
        assert_eq!(
            s(access[0], "path"),
            format!("/2015-03-31/functions/{function}/invocations")
        );
    }
    // Level and stream filters work on the pipeline's records as on any others.
    let errors = query(&logs, "_stream:{function=\"chatty\"} level:ERROR");
    assert!(!errors.is_empty() && errors.iter().all(|r| s(r, "_msg").starts_with("err ")));
}

#[test]
fn every_line_is_found_by_request_id_process() {
    every_line_is_found_by_request_id("process");
}

#[test]
fn every_line_is_found_by_request_id_docker() {
    every_line_is_found_by_request_id("docker");
}

#[test]
fn every_line_is_found_by_request_id_containerd() {
    every_line_is_found_by_request_id("containerd");
}

#[test]
fn chained_calls_are_found_by_one_trace_id() {
    let logs_port = support::free_addr().port();
    let b = LogBox::start(
        "trace",
        "process",
        &["--logs-listen", &format!("127.0.0.1:{logs_port}")],
    );
    let root = "1-6b0c0000-0123456789abcdef01234567";
    let (status, relay_id, body) = b.invoke(
        "relay",
        &json!({"tag": "chained", "n": 1}),
        Some(&format!("Root={root};Parent=53995c3f42cd8ad8;Sampled=1")),
    );
    assert_eq!(status, 200, "{body}");
    let records = wait_for(
        &logs_url(logs_port),
        &format!("trace_id:{root:?}"),
        |found| {
            // Both REPORTs, and both access lines (relay's call and its call of chatty),
            // which travel separately through the box's own shipper.
            let count = |kind: &str| found.iter().filter(|r| s(r, "type") == kind).count();
            found
                .iter()
                .filter(|r| s(r, "_msg").starts_with("REPORT"))
                .count()
                == 2
                && count("access") == 2
        },
    );
    let functions: BTreeSet<&str> = records.iter().map(|r| s(r, "function")).collect();
    assert_eq!(
        functions,
        BTreeSet::from(["chatty", "esb-gateway", "relay"]),
        "both functions and the gateway's access lines share the trace"
    );
    assert!(
        records
            .iter()
            .any(|r| s(r, "_msg") == "relaying chained" && s(r, "aws_request_id") == relay_id)
    );
    assert!(records.iter().any(|r| s(r, "_msg") == "plain chained 0"));
}

/// Queries written for the original ESB's VictoriaLogs (its test_lambda, test_id_specs
/// and test_observability) work on the box's store: its `container_name` stream field
/// names the function, or `esb-gateway` for the gateway's own lines.
#[test]
fn the_original_esbs_log_queries_find_function_and_gateway_lines() {
    let logs_port = support::free_addr().port();
    let b = LogBox::start(
        "original",
        "process",
        &["--logs-listen", &format!("127.0.0.1:{logs_port}")],
    );
    let logs = logs_url(logs_port);
    let root = "1-6b0c0001-0123456789abcdef76543210";
    let (status, id, body) = b.invoke(
        "chatty",
        &json!({"tag": "original", "n": 2}),
        Some(&format!("Root={root};Sampled=1")),
    );
    assert_eq!(status, 200, "{body}");
    let lines = wait_for(
        &logs,
        &format!("trace_id:\"{root}\" AND container_name:\"chatty\""),
        |found| found.iter().any(|r| s(r, "_msg").starts_with("REPORT")),
    );
    assert!(
        lines.iter().any(|r| s(r, "_msg") == "plain original 0"),
        "{lines:#?}"
    );
    for r in &lines {
        assert_eq!(s(r, "container_name"), "chatty", "{r}");
        assert_eq!(s(r, "job"), "lambda", "{r}");
        assert_eq!(s(r, "aws_request_id"), id, "{r}");
        assert!(
            s(r, "_stream").contains(r#"container_name="chatty""#),
            "a stream field, as in the original: {r}"
        );
        assert!(
            !s(r, "level").is_empty() && !s(r, "_time").is_empty(),
            "{r}"
        );
    }
    let access = wait_for(
        &logs,
        &format!("trace_id:\"{root}\" AND container_name:\"esb-gateway\""),
        |found| !found.is_empty(),
    );
    assert_eq!(access.len(), 1, "{access:#?}");
    let a = &access[0];
    assert!(s(a, "container_name").contains("gateway"), "{a}");
    assert_eq!(s(a, "path"), "/2015-03-31/functions/chatty/invocations");
    assert_eq!(s(a, "status"), "200");
    assert_eq!(s(a, "client_ip"), "127.0.0.1", "{a}");
    assert!(s(a, "latency_ms").parse::<f64>().is_ok(), "{a}");
    // Stream selectors and the original's `container_name` contains-"gateway" check.
    let streamed = query(
        &logs,
        &format!("_stream:{{container_name=\"chatty\"}} trace_id:\"{root}\""),
    );
    assert_eq!(streamed.len(), lines.len());
    let everything = query(&logs, &format!("trace_id:\"{root}\""));
    assert!(
        everything
            .iter()
            .all(|r| !s(r, "container_name").is_empty() && s(r, "container_name") != "UNKNOWN"),
        "{everything:#?}"
    );
}

/// `LoggingConfig: {SystemLogLevel: WARN}` leaves START, END and REPORT out of the
/// store, as Lambda leaves them out of CloudWatch; the function's lines still arrive.
#[test]
fn system_log_level_warn_leaves_platform_lines_out() {
    let logs_port = support::free_addr().port();
    let b = LogBox::start(
        "quiet",
        "process",
        &["--logs-listen", &format!("127.0.0.1:{logs_port}")],
    );
    let (status, id, body) = b.invoke("quiet", &json!({"tag": "q", "n": 1}), None);
    assert_eq!(status, 200, "{body}");
    let q = format!("aws_request_id:{id:?}");
    wait_for(&logs_url(logs_port), &q, |found| {
        found.iter().any(|r| s(r, "_msg") == "err q")
    });
    // Platform lines would follow within a flush (200 ms); give them ample time.
    std::thread::sleep(Duration::from_millis(1500));
    let records = query(&logs_url(logs_port), &q);
    let quiet: Vec<&Value> = records
        .iter()
        .filter(|r| s(r, "function") == "quiet")
        .collect();
    assert!(
        quiet.iter().all(|r| s(r, "type") == "function"),
        "{quiet:#?}"
    );
    assert!(quiet.iter().any(|r| s(r, "_msg") == "plain q 0"));
}

/// Requests a test receiver got: (request line, headers, body).
type Requests = Arc<Mutex<Vec<(String, BTreeMap<String, String>, Vec<u8>)>>>;

/// A minimal HTTP/1.1 server on loopback that records every request and answers 204,
/// standing in for VictoriaLogs so the exact wire format can be checked.
fn receiver() -> (u16, Requests) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let got: Requests = Arc::default();
    let sink = Arc::clone(&got);
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let sink = Arc::clone(&sink);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut headers = BTreeMap::new();
                    loop {
                        let mut h = String::new();
                        if reader.read_line(&mut h).unwrap_or(0) == 0 {
                            return;
                        }
                        let h = h.trim_end();
                        if h.is_empty() {
                            break;
                        }
                        if let Some((k, v)) = h.split_once(':') {
                            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                        }
                    }
                    let len: usize = headers
                        .get("content-length")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    let mut body = vec![0; len];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    sink.lock().expect("requests").push((
                        line.trim_end().to_string(),
                        headers,
                        body,
                    ));
                    let out = reader.get_mut();
                    if out
                        .write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (port, got)
}

#[test]
fn records_are_shipped_in_victorialogs_jsonline_format() {
    let (port, got) = receiver();
    let b = LogBox::start(
        "ship",
        "process",
        &[
            "--logs-listen",
            "off",
            "--logs-ship-url",
            &format!("http://127.0.0.1:{port}"),
        ],
    );
    let (status, id, _) = b.invoke("chatty", &json!({"tag": "shipped", "n": 2}), None);
    assert_eq!(status, 200);
    let deadline = Instant::now() + Duration::from_secs(60);
    let lines: Vec<Value> = loop {
        let lines: Vec<Value> = got
            .lock()
            .expect("requests")
            .iter()
            .flat_map(|(_, _, body)| {
                String::from_utf8_lossy(body)
                    .lines()
                    .map(|l| serde_json::from_str::<Value>(l).expect("one JSON object per line"))
                    .collect::<Vec<_>>()
            })
            .collect();
        // The function's REPORT and the gateway's access line travel separately (the
        // latter through the box's own shipper): wait for both.
        let mine = |pred: &dyn Fn(&Value) -> bool| {
            lines
                .iter()
                .any(|l| s(l, "aws_request_id") == id && pred(l))
        };
        if mine(&|l| s(l, "_msg").starts_with("REPORT")) && mine(&|l| s(l, "type") == "access") {
            break lines;
        }
        assert!(Instant::now() < deadline, "nothing shipped: {lines:?}");
        std::thread::sleep(Duration::from_millis(200));
    };
    for (request_line, headers, body) in got.lock().expect("requests").iter() {
        assert_eq!(
            request_line,
            "POST /insert/jsonline?_stream_fields=function,job,container_name&_msg_field=_msg&_time_field=_time HTTP/1.1"
        );
        assert_eq!(
            headers.get("content-type").map(String::as_str),
            Some("application/stream+json")
        );
        assert!(body.ends_with(b"\n"), "newline-delimited");
    }
    let mine: Vec<&Value> = lines
        .iter()
        .filter(|l| s(l, "aws_request_id") == id)
        .collect();
    for l in &mine {
        assert!(esb_logs::jsonline::parse_time(&l["_time"]).is_some(), "{l}");
        assert!(!s(l, "_msg").is_empty());
    }
    assert!(mine.iter().any(|l| s(l, "_msg") == "plain shipped 1"
        && s(l, "function") == "chatty"
        && s(l, "container_name") == "chatty"
        && s(l, "job") == "lambda"
        && s(l, "level") == "INFO"));
    assert!(mine.iter().any(|l| s(l, "function") == "esb-gateway"
        && s(l, "container_name") == "esb-gateway"
        && s(l, "job") == "gateway"));
    // `esb logs` and friends find the store in box.json: here the external one.
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(b.state.join("box.json")).expect("box.json"))
            .expect("json");
    assert_eq!(state["logs_url"], format!("http://127.0.0.1:{port}"));
}

/// A box's store stands in for an external VictoriaLogs; it is SIGKILLed and started
/// again while functions log. Nothing the functions wrote is lost: the shipping box
/// spools while the store is away and delivers once it is back.
#[test]
fn a_store_killed_and_restarted_mid_stream_loses_nothing() {
    let store_port = support::free_addr().port();
    let store_state = support::fresh_state_dir("logs-store-kill");
    let store_gateway = support::free_addr().port();
    let listen = format!("127.0.0.1:{store_port}");
    let mut store = LogBox::start_in(
        store_state.clone(),
        "process",
        store_gateway,
        &["--logs-listen", &listen],
    );
    let store_url = logs_url(store_port);
    let b = LogBox::start(
        "shipper",
        "process",
        &["--logs-listen", "off", "--logs-ship-url", &store_url],
    );
    let ids: Mutex<Vec<(String, String)>> = Mutex::default();
    std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            for i in 0..30 {
                let tag = format!("k{i}");
                let (status, id, body) = b.invoke("chatty", &json!({"tag": tag, "n": 20}), None);
                assert_eq!(status, 200, "{body}");
                ids.lock().expect("ids").push((id, tag));
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        std::thread::sleep(Duration::from_millis(1200));
        // SAFETY: kill(2) on the store box this test started.
        unsafe {
            libc::kill(store.child.id() as i32, libc::SIGKILL);
        }
        let _ = store.child.wait();
        // While the store is away, the shipping box keeps the batches on disk.
        let spool = b.state.join("logs/external-spool/box");
        let deadline = Instant::now() + Duration::from_secs(20);
        while !std::fs::read_dir(&spool)
            .map(|d| {
                d.flatten()
                    .any(|e| e.path().extension().is_some_and(|x| x == "jsonl"))
            })
            .unwrap_or(false)
        {
            assert!(
                Instant::now() < deadline,
                "nothing spooled in {}",
                spool.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let killed = std::mem::replace(
            &mut store,
            LogBox::start_in(
                store_state.clone(),
                "process",
                store_gateway,
                &["--logs-listen", &listen],
            ),
        );
        // The new box owns the state dir now; the old handle must not delete it.
        std::mem::forget(killed);
        writer.join().expect("writer");
    });
    let ids = ids.into_inner().expect("ids");
    assert_eq!(ids.len(), 30);
    for (id, tag) in &ids {
        let records = wait_for(&store_url, &format!("aws_request_id:{id:?}"), |found| {
            // 20 plain lines, a JSON one, 3 of a multi-line print, stderr, 2 logging
            // lines, START, END, REPORT.
            dedup(found.to_vec())
                .iter()
                .filter(|r| s(r, "function") == "chatty")
                .count()
                >= 30
        });
        check_invocation(&dedup(records), "chatty", id, tag, 20);
    }
}

/// A batch the store committed just before it was killed is sent again (at least
/// once): drop such exact repeats before comparing.
fn dedup(records: Vec<Value>) -> Vec<Value> {
    let mut seen = BTreeSet::new();
    records
        .into_iter()
        .filter(|r| seen.insert((s(r, "_time").to_string(), s(r, "_msg").to_string())))
        .collect()
}

/// The box's own warnings are records too: a failing asynchronous invocation is
/// reported by the gateway, and found in the store beside the function's error.
#[test]
fn the_box_warnings_reach_the_store() {
    let logs_port = support::free_addr().port();
    let b = LogBox::start(
        "box-errors",
        "process",
        &[
            "--logs-listen",
            &format!("127.0.0.1:{logs_port}"),
            "--async-retry-delay",
            "0.05",
        ],
    );
    let req = b
        .client
        .post(format!("{}/2015-03-31/functions/chatty/invocations", b.url))
        .header("x-amz-invocation-type", "Event")
        .body(r#"{"n": "not a number"}"#);
    let resp = support::send_signed(&b.client, &b.state, req).expect("invoke");
    assert_eq!(resp.status().as_u16(), 202);
    let found = wait_for(
        &logs_url(logs_port),
        "type:error \"asynchronous invocation failed\"",
        |found| !found.is_empty(),
    );
    let r = &found[0];
    assert_eq!(s(r, "function"), "esb-gateway", "{r}");
    assert_eq!(s(r, "job"), "gateway", "{r}");
    assert_eq!(s(r, "level"), "WARN", "{r}");
    assert_eq!(s(r, "log.function"), "chatty", "{r}");
    // The function's own traceback is there too, as an error of `chatty`.
    wait_for(
        &logs_url(logs_port),
        "_stream:{function=\"chatty\"} level:ERROR ValueError",
        |found| !found.is_empty(),
    );
}

/// Bad input on both doors: a function writing a 1 MiB line, invalid UTF-8 and
/// pathological JSON; and malformed jsonline posted to the store's API. Everything is
/// stored or counted, with clear answers, and the box keeps serving.
#[test]
fn hostile_lines_and_payloads_are_stored_or_counted_never_fatal() {
    let logs_port = support::free_addr().port();
    let b = LogBox::start(
        "hostile",
        "process",
        &["--logs-listen", &format!("127.0.0.1:{logs_port}")],
    );
    let logs = logs_url(logs_port);
    let (status, id, body) = b.invoke("hostile", &json!({}), None);
    assert_eq!(status, 200, "{body}");
    let records = wait_for(&logs, &format!("aws_request_id:{id:?}"), |found| {
        found.iter().any(|r| s(r, "_msg").starts_with("REPORT"))
    });
    let lines: Vec<&str> = records
        .iter()
        .filter(|r| s(r, "type") == "function")
        .map(|r| s(r, "_msg"))
        .collect();
    // The 1 MiB line arrives whole, in 64 KiB records.
    let xs: Vec<&&str> = lines.iter().filter(|l| l.starts_with('x')).collect();
    assert_eq!(
        xs.len(),
        16,
        "{:?}",
        xs.iter().map(|l| l.len()).collect::<Vec<_>>()
    );
    assert_eq!(xs.iter().map(|l| l.len()).sum::<usize>(), 1 << 20);
    assert!(
        lines.contains(&"bad \u{fffd}\u{fffd} bytes"),
        "invalid UTF-8 is replaced"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.len() == 10000 && l.starts_with("{{"))
    );
    assert!(
        lines.iter().any(|l| l.starts_with(r#"{"n": {"n":"#)),
        "JSON nested past the parser's limit is kept as text"
    );

    let client = reqwest::blocking::Client::new();
    let post = |query: &str, body: Vec<u8>| {
        client
            .post(format!("{logs}/insert/jsonline?{query}"))
            .body(body)
            .send()
            .expect("post")
    };
    let mut bad = Vec::new();
    bad.extend_from_slice(b"{\"_msg\":\"ok one\"}\n");
    bad.extend_from_slice(b"{\"_msg\":\"bad \xff utf8\"}\n");
    bad.extend_from_slice(b"[1,2,3]\n");
    bad.extend_from_slice(b"{\"_msg\":\"bad time\",\"_time\":\"yesterday\"}\n");
    bad.extend_from_slice(format!("{{\"_msg\":\"{}\"}}\n", "y".repeat(300 * 1024)).as_bytes());
    bad.extend_from_slice(b"{\"_msg\":\"ok two\"}");
    let resp = post("_stream_fields=function", bad);
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["x-esb-rejected-lines"], "4");
    assert_eq!(
        post("", Vec::new()).status().as_u16(),
        200,
        "an empty body stores nothing"
    );
    let too_big = post("", vec![b'a'; 65 * 1024 * 1024]);
    assert_eq!(too_big.status().as_u16(), 413);
    let ok = query(&logs, "\"ok one\" OR \"ok two\"");
    assert_eq!(ok.len(), 2, "good lines around bad ones are kept: {ok:?}");
    // The box still answers.
    let (status, _, _) = b.invoke("chatty", &json!({"tag": "after", "n": 1}), None);
    assert_eq!(status, 200);
}

#[test]
fn the_ingest_route_wants_the_box_token() {
    let b = LogBox::start(
        "token",
        "process",
        &[
            "--logs-listen",
            "off",
            "--logs-ship-url",
            "http://127.0.0.1:9",
        ],
    );
    let url = format!(
        "{}/esb/v1/logs/insert/jsonline?_stream_fields=function,job",
        b.url
    );
    let body = r#"{"_msg":"forged","function":"chatty","job":"lambda"}"#;
    let refused = b.client.post(&url).body(body).send().expect("post");
    assert_eq!(refused.status().as_u16(), 403);
    let refused = b
        .client
        .post(&url)
        .header("x-esb-log-token", "guess")
        .body(body)
        .send()
        .expect("post");
    assert_eq!(refused.status().as_u16(), 403);
    assert!(refused.text().expect("text").contains("log token"));
}

/// A writer's spool orphaned while the box idles (its worker died after every live
/// shipper had looked, and nothing is being logged) still reaches the store: the box
/// itself delivers it once the writer's lock is gone, and not before.
#[test]
fn a_spool_orphaned_while_the_box_idles_is_delivered() {
    let logs_port = support::free_addr().port();
    let b = LogBox::start(
        "orphan-idle",
        "process",
        &["--logs-listen", &format!("127.0.0.1:{logs_port}")],
    );
    let logs = logs_url(logs_port);
    let (status, _, body) = b.invoke("chatty", &json!({"tag": "warm", "n": 1}), None);
    assert_eq!(status, 200, "{body}");
    wait_for(&logs, "\"plain warm 0\"", |found| !found.is_empty());

    // A writer as a worker leaves one: locked while it lives, a batch it could not send.
    let dir = b.state.join("logs/spool/w-dying");
    std::fs::create_dir_all(&dir).expect("spool dir");
    let lock = std::fs::File::create(dir.join(".lock")).expect("lock file");
    lock.lock().expect("lock");
    let line = json!({"_time": "2026-12-05T10:00:00Z", "_msg": "orphaned line 1",
        "function": "chatty", "job": "lambda", "container_name": "chatty"});
    std::fs::write(dir.join(format!("{:020}.jsonl", 0)), format!("{line}\n")).expect("batch");
    lock.set_modified(std::time::SystemTime::now() - Duration::from_secs(60))
        .expect("age the lock");
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        query(&logs, "\"orphaned line 1\"").is_empty(),
        "delivered while its writer was alive"
    );
    drop(lock); // the writer dies
    let found = wait_for(&logs, "\"orphaned line 1\"", |found| !found.is_empty());
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(s(&found[0], "function"), "chatty");
    wait_for_gone(&dir);
}

fn wait_for_gone(path: &std::path::Path) {
    support::wait_for(
        &format!("{} removed", path.display()),
        Duration::from_secs(60),
        || !path.exists(),
    );
}

/// The issue 17 defect as a user met it: process workers, 30 `Event` invocations that
/// print a line each, the box SIGKILLed just after the last 202, then `esb up` again on
/// the same state dir. Every event runs and every line it printed reaches the store,
/// whether the old workers deliver it to the new box or leave it in their spools.
#[test]
fn a_box_killed_after_async_events_loses_no_line() {
    let logs_port = support::free_addr().port();
    let port = support::free_addr().port();
    let state = support::fresh_state_dir("logs-box-kill");
    let listen = format!("127.0.0.1:{logs_port}");
    let extra = ["--logs-listen", listen.as_str()];
    let mut first = LogBox::start_in(state.clone(), "process", port, &extra);
    for i in 0..30 {
        let req = first
            .client
            .post(format!(
                "{}/2015-03-31/functions/chatty/invocations",
                first.url
            ))
            .header("x-amz-invocation-type", "Event")
            .body(json!({"tag": format!("ev{i}"), "n": 1}).to_string());
        let resp = support::send_signed(&first.client, &first.state, req).expect("invoke");
        assert_eq!(resp.status().as_u16(), 202);
    }
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: kill(2) on the box this test started.
    unsafe {
        libc::kill(first.child.id() as i32, libc::SIGKILL);
    }
    let _ = first.child.wait();
    let second = LogBox::start_in(state, "process", port, &extra);
    // The new box owns the state dir now; the old handle must not delete it.
    std::mem::forget(first);
    let logs = logs_url(logs_port);
    let found = wait_for(&logs, "_stream:{function=\"chatty\"} \"plain\"", |found| {
        (0..30).all(|i| {
            let want = format!("plain ev{i} 0");
            found.iter().any(|r| s(r, "_msg") == want)
        })
    });
    assert!(found.len() >= 30);
    drop(second);
}
