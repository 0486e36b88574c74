//! The operations against a real store and catalogue: function groups made of worker
//! output, pagination over events that share a timestamp, deletion.

use std::sync::Arc;

use esb_logs::collector::Collector;
use esb_logs::lambda_line::{Attribution, LineSource, WorkerIdentity};
use esb_logs::{Retention, Store};
use serde_json::{Value, json};

use crate::catalog::Catalog;
use crate::error::ApiError;
use crate::params::Params;
use crate::service::{Caller, Service};

struct Fixture {
    _dir: tempfile::TempDir,
    service: Arc<Service>,
    store: Arc<Store>,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let store =
            Arc::new(Store::open(&dir.path().join("store"), Retention::default()).expect("store"));
        let collector = Arc::new(Collector::new(
            Some(Arc::clone(&store)),
            None,
            String::new(),
        ));
        let service = Arc::new(Service {
            store: Arc::clone(&store),
            catalog: Catalog::open(&dir.path().join("cw")).expect("catalog"),
            collector,
            region: "us-east-1".into(),
            account: "123456789012".into(),
        });
        Self {
            _dir: dir,
            service,
            store,
        }
    }

    async fn call(&self, op: &str, body: Value) -> Result<Value, ApiError> {
        let params = Params::parse(body.to_string().as_bytes())?;
        self.service.call(op, params, Caller::default()).await
    }

    async fn ok(&self, op: &str, body: Value) -> Value {
        self.call(op, body)
            .await
            .unwrap_or_else(|e| panic!("{op}: {e}"))
    }

    /// A line of `worker` of function `f` at `time_ns`, as the box stores it.
    fn worker_line(&self, f: &str, worker: &str, source: LineSource, line: &str, time_ns: i64) {
        let who = WorkerIdentity {
            function: f.into(),
            worker: worker.into(),
            node: None,
        };
        let r = esb_logs::lambda_line::record(
            &who,
            source,
            &Attribution::default(),
            line.as_bytes(),
            time_ns,
        );
        self.store.insert(&[r]).expect("insert");
    }
}

fn messages(v: &Value) -> Vec<String> {
    v["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["message"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn now_ns() -> i64 {
    esb_logs::http::now_ns()
}

#[tokio::test]
async fn a_functions_output_is_its_group_one_stream_per_worker() {
    let fx = Fixture::new();
    let t = now_ns() - 60_000_000_000;
    for (i, w) in ["echo-a", "echo-b"].iter().enumerate() {
        let t = t + i as i64 * 1_000_000_000;
        fx.worker_line(
            "echo",
            w,
            LineSource::Platform,
            "START RequestId: 1 Version: $LATEST",
            t,
        );
        fx.worker_line(
            "echo",
            w,
            LineSource::Stdout,
            &format!("hello from {w}"),
            t + 1000,
        );
        fx.worker_line(
            "echo",
            w,
            LineSource::Platform,
            "END RequestId: 1",
            t + 2000,
        );
    }
    let groups = fx.ok("DescribeLogGroups", json!({})).await;
    assert_eq!(groups["logGroups"][0]["logGroupName"], "/aws/lambda/echo");
    let streams = fx
        .ok(
            "DescribeLogStreams",
            json!({"logGroupName": "/aws/lambda/echo"}),
        )
        .await;
    let names: Vec<&str> = streams["logStreams"]
        .as_array()
        .expect("streams")
        .iter()
        .filter_map(|s| s["logStreamName"].as_str())
        .collect();
    assert_eq!(names.len(), 2, "{streams:#}");
    assert!(names[0].ends_with("/[$LATEST]echo-a"), "{names:?}");
    let events = fx
        .ok(
            "GetLogEvents",
            json!({"logGroupName": "/aws/lambda/echo", "logStreamName": names[1], "startFromHead": true}),
        )
        .await;
    assert_eq!(
        messages(&events),
        [
            "START RequestId: 1 Version: $LATEST",
            "hello from echo-b",
            "END RequestId: 1"
        ]
    );
    let found = fx
        .ok(
            "FilterLogEvents",
            json!({"logGroupName": "/aws/lambda/echo", "filterPattern": "hello"}),
        )
        .await;
    assert_eq!(messages(&found), ["hello from echo-a", "hello from echo-b"]);
    assert_eq!(found["events"][1]["logStreamName"], names[1]);

    // Deleted, the group is gone until the function writes again.
    fx.ok(
        "DeleteLogGroup",
        json!({"logGroupName": "/aws/lambda/echo"}),
    )
    .await;
    let gone = fx
        .call(
            "DescribeLogStreams",
            json!({"logGroupName": "/aws/lambda/echo"}),
        )
        .await
        .expect_err("deleted");
    assert_eq!(gone.kind, "ResourceNotFoundException");
    fx.worker_line(
        "echo",
        "echo-c",
        LineSource::Platform,
        "START RequestId: 2",
        now_ns(),
    );
    // (Workers are looked for at most once a second.)
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let back = fx
        .ok(
            "FilterLogEvents",
            json!({"logGroupName": "/aws/lambda/echo"}),
        )
        .await;
    assert_eq!(messages(&back), ["START RequestId: 2"]);
}

#[tokio::test]
async fn pages_see_every_event_once_even_when_they_share_a_timestamp() {
    let fx = Fixture::new();
    fx.ok("CreateLogGroup", json!({"logGroupName": "/g"})).await;
    fx.ok(
        "CreateLogStream",
        json!({"logGroupName": "/g", "logStreamName": "s"}),
    )
    .await;
    let t = now_ns() / 1_000_000;
    let events: Vec<Value> = (0..30)
        .map(|i| json!({"timestamp": t, "message": format!("e{i}")}))
        .collect();
    fx.ok(
        "PutLogEvents",
        json!({"logGroupName": "/g", "logStreamName": "s", "logEvents": events}),
    )
    .await;
    let want: Vec<String> = (0..30).map(|i| format!("e{i}")).collect();

    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut req = json!({"logGroupName": "/g", "logStreamName": "s", "limit": 7});
        match &token {
            Some(t) => req["nextToken"] = json!(t),
            None => req["startFromHead"] = json!(true),
        }
        let page = fx.ok("GetLogEvents", req).await;
        let got = messages(&page);
        let next = page["nextForwardToken"].as_str().map(str::to_string);
        if got.is_empty() {
            assert_eq!(next, token, "the end: the same token back");
            break;
        }
        seen.extend(got);
        token = next;
    }
    assert_eq!(seen, want);

    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut req = json!({"logGroupName": "/g", "limit": 4});
        if let Some(t) = &token {
            req["nextToken"] = json!(t);
        }
        let page = fx.ok("FilterLogEvents", req).await;
        seen.extend(messages(&page));
        match page["nextToken"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, want);

    // The newest first page, then backwards.
    let last = fx
        .ok(
            "GetLogEvents",
            json!({"logGroupName": "/g", "logStreamName": "s", "limit": 3}),
        )
        .await;
    assert_eq!(messages(&last), ["e27", "e28", "e29"]);
    let before = fx
        .ok(
            "GetLogEvents",
            json!({"logGroupName": "/g", "logStreamName": "s", "limit": 3,
                   "nextToken": last["nextBackwardToken"]}),
        )
        .await;
    assert_eq!(messages(&before), ["e24", "e25", "e26"]);
}

#[tokio::test]
async fn unknown_operations_and_bad_members_get_aws_errors() {
    let fx = Fixture::new();
    let e = fx.call("StartQuery", json!({})).await.expect_err("unknown");
    assert_eq!(e.kind, "UnknownOperationException");
    let e = fx
        .call("CreateLogGroup", json!({"logGroupName": 5}))
        .await
        .expect_err("type");
    assert_eq!(e.kind, "SerializationException");
    let e = fx
        .call("CreateLogGroup", json!({}))
        .await
        .expect_err("missing");
    assert!(e.message.contains("Member must not be null"), "{e}");
    let e = fx
        .call("FilterLogEvents", json!({"logGroupName": "/nope"}))
        .await
        .expect_err("no group");
    assert_eq!(e.message, "The specified log group does not exist.");
    let e = fx
        .call("DescribeLogGroups", json!({"limit": 51}))
        .await
        .expect_err("limit");
    assert_eq!(e.kind, "InvalidParameterException");
}

#[tokio::test]
async fn hostile_members_get_errors_not_a_crash() {
    let fx = Fixture::new();
    fx.ok("CreateLogGroup", json!({"logGroupName": "/g"})).await;
    let deep = format!(
        "{{ {}$.a = 1{} }}",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    for pattern in [deep.as_str(), "{ $.a = ", "[a, b", "%(%", "\u{0}"] {
        let e = fx
            .call(
                "FilterLogEvents",
                json!({"logGroupName": "/g", "filterPattern": pattern}),
            )
            .await
            .expect_err("a bad pattern");
        assert_eq!(e.kind, "InvalidParameterException", "{pattern:.40}: {e}");
    }
    for body in [&b"\xff\xfe"[..], b"[1, 2]", b"{\"logGroupName\": ", b"null"] {
        let e = Params::parse(body).err().expect("refused");
        assert_eq!(e.kind, "SerializationException");
    }
    let e = fx
        .call(
            "GetLogEvents",
            json!({"logGroupName": "/g", "logStreamName": "s", "nextToken": "f/x/1"}),
        )
        .await
        .expect_err("no stream first");
    assert_eq!(e.kind, "ResourceNotFoundException");
    fx.ok(
        "CreateLogStream",
        json!({"logGroupName": "/g", "logStreamName": "s"}),
    )
    .await;
    for token in ["f/x/1", "garbage", "n/1/2"] {
        let e = fx
            .call(
                "GetLogEvents",
                json!({"logGroupName": "/g", "logStreamName": "s", "nextToken": token}),
            )
            .await
            .expect_err("a bad token");
        assert_eq!(e.kind, "InvalidParameterException", "{token}");
    }
}
