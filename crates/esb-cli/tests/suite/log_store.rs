//! The box's log store through VictoriaLogs' own HTTP API, as a log shipper and a
//! LogsQL client use it: jsonline ingestion with stream/message/time fields, queries
//! over the LogsQL subset, bad lines rejected alone and counted, hostile queries
//! refused, and acknowledged records still there after the box restarts.

use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::Duration;

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::support;

struct Box_ {
    child: Child,
    logs: String,
}

impl Box_ {
    fn start(state: &PathBuf) -> Self {
        let port = support::free_addr().port();
        let child = support::esb_command()
            .args(["up", "--runtime", "process", "--port", &port.to_string()])
            .arg("--state-dir")
            .arg(state)
            .arg("--template")
            .arg(support::repo_root().join("tests/projects/e2e/template.yaml"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("esb up");
        let _ = support::https_client_within(state, port, Duration::from_secs(120));
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let logs = loop {
            let json = std::fs::read_to_string(state.join("box.json")).unwrap_or_default();
            if let Some(url) = serde_json::from_str::<Value>(&json)
                .ok()
                .and_then(|v| v["logs_url"].as_str().map(str::to_string))
            {
                break url;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no logs_url in box.json"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        Self { child, logs }
    }

    fn query(&self, q: &str) -> (u16, Vec<Value>) {
        let resp = reqwest::blocking::Client::new()
            .get(format!("{}/select/logsql/query", self.logs))
            .query(&[("query", q)])
            .send()
            .expect("query");
        let status = resp.status().as_u16();
        let text = resp.text().unwrap_or_default();
        let lines = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        (status, lines)
    }
}

impl Drop for Box_ {
    fn drop(&mut self) {
        support::terminate(&mut self.child, Duration::from_secs(30));
    }
}

#[test]
fn victorialogs_api_ingests_queries_and_keeps_what_it_acknowledged() {
    let state = support::fresh_state_dir("log-store");
    let b = Box_::start(&state);
    // Two minutes ago, a second apart (older records would fall to retention).
    let t0 = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        - 120;
    let body = format!(
        "{}\n{}\n{}\nthis line is not json\n",
        json!({"ts": t0, "message": "payment accepted", "function": "pay", "job": "esb", "level": "info", "aws_request_id": "r-1"}),
        json!({"ts": t0 + 1, "message": "payment declined: card expired", "function": "pay", "job": "esb", "level": "error", "aws_request_id": "r-2"}),
        json!({"ts": t0 + 2, "message": "hello from echo", "function": "echo", "job": "esb", "level": "info"}),
    );
    let rfc3339 = |secs: u64| {
        time::OffsetDateTime::from_unix_timestamp(i64::try_from(secs).expect("time"))
            .expect("time")
            .format(&time::format_description::well_known::Rfc3339)
            .expect("format")
    };
    let resp = reqwest::blocking::Client::new()
        .post(format!(
            "{}/insert/jsonline?_stream_fields=function,job&_msg_field=message&_time_field=ts",
            b.logs
        ))
        .body(body)
        .send()
        .expect("ingest");
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["x-esb-rejected-lines"],
        "1",
        "the bad line is counted"
    );

    let (status, all) = b.query("*");
    assert_eq!(status, 200);
    assert_eq!(all.len(), 3);
    assert_eq!(all[0]["_msg"], "payment accepted");
    assert_eq!(all[0]["_stream"], r#"{function="pay",job="esb"}"#);
    assert_eq!(all[0]["_time"], rfc3339(t0));
    assert_eq!(all[0]["aws_request_id"], "r-1");

    let msgs = |q: &str| -> Vec<String> {
        let (status, lines) = b.query(q);
        assert_eq!(status, 200, "{q}");
        lines
            .iter()
            .map(|l| l["_msg"].as_str().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(
        msgs("payment"),
        vec!["payment accepted", "payment declined: card expired"]
    );
    assert_eq!(msgs("level:error"), vec!["payment declined: card expired"]);
    assert_eq!(
        msgs(r#"_stream:{function="echo"}"#),
        vec!["hello from echo"]
    );
    assert_eq!(msgs(r#""card expired" OR echo"#).len(), 2);
    assert_eq!(msgs("payment NOT declined"), vec!["payment accepted"]);
    assert_eq!(
        msgs(r#"aws_request_id:~"r-[0-9]" | sort by (_time desc) | limit 1"#),
        vec!["payment declined: card expired"]
    );
    let range = format!("_time:[{}, {})", rfc3339(t0 + 1), rfc3339(t0 + 2));
    assert_eq!(msgs(&range), vec!["payment declined: card expired"]);
    assert_eq!(msgs("_time:5m").len(), 3);
    assert!(msgs("_time:1m").is_empty(), "nothing from the last minute");

    for hostile in [
        "\"unterminated",
        "((((((((((",
        "field:~\"(\"",
        "* | stats count()",
    ] {
        let (status, _) = b.query(hostile);
        assert_eq!(status, 400, "{hostile}");
    }
    assert_eq!(b.query("*").1.len(), 3, "still serving after bad queries");

    // Acknowledged records survive a restart of the box.
    drop(b);
    let b = Box_::start(&state);
    assert_eq!(b.query("*").1.len(), 3);
    drop(b);
    let _ = std::fs::remove_dir_all(&state);
}
