//! SQS → Lambda mappings against an SQS server that is not ours: moto's server, a
//! real separate process on loopback, driven through the poller's own signed client.
//! A scripted invoker stands in for the function and records every batch.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use esb_sqs::queue_mapping::{
    self, InvokeOutcome, Invoker, MappingHandle, MappingSpec, MappingState, SqsClient, Timing,
};
use serde_json::{Value, json};

const REGION: &str = "us-east-1";
/// moto's account.
const ACCOUNT: &str = "123456789012";

/// moto's server on a free loopback port, killed when dropped.
struct Moto {
    child: Child,
    client: SqsClient,
}

impl Moto {
    fn start() -> Self {
        let port = esb_test_ports::reserve();
        let server = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../.esb-test/moto/bin/moto_server"
        );
        let child = Command::new(server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server (scripts/test-deps.sh installs it)");
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto did not listen");
            std::thread::sleep(Duration::from_millis(100));
        }
        let client = SqsClient::new(
            &format!("http://127.0.0.1:{port}/"),
            esb_auth::BoxCredentials {
                access_key_id: "AKIDTEST".into(),
                secret_access_key: "secret".into(),
            },
            REGION,
            None,
        )
        .unwrap();
        Self { child, client }
    }

    async fn call(&self, action: &str, body: Value) -> Value {
        self.client
            .call(action, &body)
            .await
            .unwrap_or_else(|e| panic!("{action}: {e}"))
    }

    /// Creates `name` with `attributes`; its URL and ARN.
    async fn queue(&self, name: &str, attributes: Value) -> (String, String) {
        let url = self
            .call(
                "CreateQueue",
                json!({"QueueName": name, "Attributes": attributes}),
            )
            .await["QueueUrl"]
            .as_str()
            .unwrap()
            .to_string();
        (url, format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"))
    }

    async fn send(&self, url: &str, body: &str) {
        self.call("SendMessage", json!({"QueueUrl": url, "MessageBody": body}))
            .await;
    }

    /// Messages on the queue, visible and in flight.
    async fn depth(&self, url: &str) -> u64 {
        let a = self
            .call(
                "GetQueueAttributes",
                json!({"QueueUrl": url, "AttributeNames": ["All"]}),
            )
            .await;
        let n = |k: &str| {
            a["Attributes"][k]
                .as_str()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        n("ApproximateNumberOfMessages") + n("ApproximateNumberOfMessagesNotVisible")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

type Script = Box<dyn Fn(&Value, usize) -> InvokeOutcome + Send + Sync>;

/// A function: answers as `script` says (given the event and how many invocations
/// came before), and keeps every event it was given.
struct Function {
    events: Mutex<Vec<Value>>,
    script: Script,
}

impl Function {
    fn new(script: impl Fn(&Value, usize) -> InvokeOutcome + Send + Sync + 'static) -> Arc<Self> {
        Arc::new(Self {
            events: Mutex::new(Vec::new()),
            script: Box::new(script),
        })
    }

    fn ok() -> Arc<Self> {
        Self::new(|_, _| InvokeOutcome::Ok("null".into()))
    }

    fn events(&self) -> Vec<Value> {
        self.events.lock().unwrap().clone()
    }

    /// Every record's body, in the order invoked.
    fn bodies(&self) -> Vec<String> {
        self.events()
            .iter()
            .flat_map(|e| e["Records"].as_array().cloned().unwrap_or_default())
            .map(|r| r["body"].as_str().unwrap().to_string())
            .collect()
    }
}

#[async_trait::async_trait]
impl Invoker for Function {
    async fn invoke(&self, function: &str, payload: String) -> InvokeOutcome {
        assert_eq!(function, "fn");
        let event: Value = serde_json::from_str(&payload).unwrap();
        let n = {
            let mut events = self.events.lock().unwrap();
            events.push(event.clone());
            events.len() - 1
        };
        (self.script)(&event, n)
    }
}

/// A mapping with test timing: few pollers, quick backoffs.
fn spec(arn: &str) -> MappingSpec {
    let mut s = MappingSpec::new("fn", "Queue", arn);
    s.timing = Timing {
        initial_pollers: 2,
        scale_up_interval: Duration::from_millis(50),
        not_run_backoff: Duration::from_millis(100),
        not_run_backoff_max: Duration::from_millis(400),
        error_backoff: Duration::from_millis(200),
    };
    s
}

fn start(moto: &Moto, spec: MappingSpec, function: &Arc<Function>) -> MappingHandle {
    queue_mapping::start(spec, moto.client.clone(), function.clone()).unwrap()
}

/// Waits until `check` holds (at most `secs`).
async fn until(secs: u64, what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handled_messages_are_deleted_and_events_have_lambdas_shape() {
    let moto = Moto::start();
    let (url, arn) = moto.queue("orders", json!({})).await;
    moto.call(
        "SendMessage",
        json!({"QueueUrl": url, "MessageBody": "{\"id\": 1}",
               "MessageAttributes": {"kind": {"DataType": "String", "StringValue": "order"}}}),
    )
    .await;
    moto.send(&url, "two").await;
    moto.send(&url, "three").await;
    let f = Function::ok();
    let mapping = start(&moto, spec(&arn), &f);
    until(20, "3 messages invoked", async || f.bodies().len() >= 3).await;
    until(10, "the queue emptied", async || {
        moto.depth(&url).await == 0
    })
    .await;
    let status = mapping.status();
    assert_eq!(status.state, MappingState::Enabled);
    assert_eq!(status.messages, 3);
    assert_eq!(status.failures, 0);
    assert_eq!(status.queue_url.as_deref(), Some(url.as_str()));
    mapping.stopped().await;

    let mut bodies = f.bodies();
    bodies.sort();
    assert_eq!(bodies, ["three", "two", "{\"id\": 1}"]);
    let records: Vec<Value> = f
        .events()
        .iter()
        .flat_map(|e| e["Records"].as_array().cloned().unwrap())
        .collect();
    let first = records.iter().find(|r| r["body"] == "{\"id\": 1}").unwrap();
    assert_eq!(first["eventSource"], "aws:sqs");
    assert_eq!(first["eventSourceARN"], arn.as_str());
    assert_eq!(first["awsRegion"], REGION);
    assert_eq!(first["attributes"]["ApproximateReceiveCount"], "1");
    for key in [
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    ] {
        assert!(first["attributes"][key].is_string(), "{key}: {first}");
    }
    assert_eq!(
        first["messageAttributes"]["kind"],
        json!({"stringValue": "order", "stringListValues": [], "binaryListValues": [], "dataType": "String"})
    );
    assert!(first["md5OfMessageAttributes"].is_string());
    assert_eq!(first["md5OfBody"].as_str().map(str::len), Some(32));
    assert!(first["messageId"].is_string() && first["receiptHandle"].is_string());
    let plain = records.iter().find(|r| r["body"] == "two").unwrap();
    assert!(plain.get("md5OfMessageAttributes").is_none(), "{plain}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_batch_is_delivered_again_after_the_visibility_timeout() {
    let moto = Moto::start();
    let (url, arn) = moto.queue("retry", json!({"VisibilityTimeout": "1"})).await;
    moto.send(&url, "once-failed").await;
    let f = Function::new(|_, n| {
        if n == 0 {
            InvokeOutcome::FunctionError(r#"{"errorMessage":"boom"}"#.into())
        } else {
            InvokeOutcome::Ok(String::new())
        }
    });
    let mapping = start(&moto, spec(&arn), &f);
    until(20, "a second delivery", async || f.events().len() >= 2).await;
    until(10, "the queue emptied", async || {
        moto.depth(&url).await == 0
    })
    .await;
    let status = mapping.status();
    mapping.stopped().await;
    let events = f.events();
    assert_eq!(events.len(), 2);
    let count = |e: &Value| e["Records"][0]["attributes"]["ApproximateReceiveCount"].clone();
    assert_eq!(count(&events[0]), "1");
    assert_eq!(count(&events[1]), "2");
    assert_eq!(status.failures, 1);
    assert_eq!(status.messages, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_batch_response_returns_only_the_failed_messages() {
    let moto = Moto::start();
    let (url, arn) = moto
        .queue("partial", json!({"VisibilityTimeout": "1"}))
        .await;
    for body in ["a", "b", "c"] {
        moto.send(&url, body).await;
    }
    // Fails "b" the first time it sees it.
    let failed_once = Arc::new(Mutex::new(false));
    let f = Function::new(move |event, _| {
        let mut failures = Vec::new();
        for r in event["Records"].as_array().unwrap() {
            let mut done = failed_once.lock().unwrap();
            if r["body"] == "b" && !*done {
                *done = true;
                failures.push(json!({"itemIdentifier": r["messageId"]}));
            }
        }
        InvokeOutcome::Ok(json!({ "batchItemFailures": failures }).to_string())
    });
    let mut s = spec(&arn);
    s.report_batch_item_failures = true;
    s.timing.initial_pollers = 1;
    let mapping = start(&moto, s, &f);
    until(20, "b delivered again", async || {
        f.bodies().iter().filter(|b| *b == "b").count() == 2
    })
    .await;
    until(10, "the queue emptied", async || {
        moto.depth(&url).await == 0
    })
    .await;
    // Long enough for a wrongly kept message to come back.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    mapping.stopped().await;
    let mut bodies = f.bodies();
    bodies.sort();
    assert_eq!(bodies, ["a", "b", "b", "c"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_no_filter_matches_are_deleted_without_invoking() {
    let moto = Moto::start();
    let (url, arn) = moto.queue("filtered", json!({})).await;
    for body in [
        r#"{"kind": "order", "n": 1}"#,
        r#"{"kind": "refund", "n": 2}"#,
        "plain text",
        "order",
    ] {
        moto.send(&url, body).await;
    }
    let f = Function::ok();
    let mut s = spec(&arn);
    s.filters = vec![r#"{"body": {"kind": ["order"]}}"#.into()];
    let mapping = start(&moto, s, &f);
    until(20, "the queue emptied", async || {
        moto.depth(&url).await == 0
    })
    .await;
    let status = mapping.status();
    mapping.stopped().await;
    assert_eq!(f.bodies(), [r#"{"kind": "order", "n": 1}"#]);
    assert_eq!(status.filtered, 3);
    assert_eq!(status.messages, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifo_groups_keep_their_order_under_concurrency() {
    let moto = Moto::start();
    let (url, arn) = moto
        .queue(
            "ordered.fifo",
            json!({"FifoQueue": "true", "ContentBasedDeduplication": "true", "VisibilityTimeout": "2"}),
        )
        .await;
    for i in 0..8 {
        for g in ["g1", "g2", "g3"] {
            moto.call(
                "SendMessage",
                json!({"QueueUrl": url, "MessageBody": format!("{g}-{i}"), "MessageGroupId": g}),
            )
            .await;
        }
    }
    // Slow enough that pollers overlap; fails g2-3 once (a whole-batch failure), which
    // must not let g2-4 overtake it. Notes any group in two batches at once.
    let failed = Arc::new(Mutex::new(false));
    let in_flight: Arc<Mutex<Vec<String>>> = Arc::default();
    let overlaps: Arc<Mutex<Vec<String>>> = Arc::default();
    let (was_failed, overlapping) = (failed.clone(), overlaps.clone());
    let f = Function::new(move |event, _| {
        let records = event["Records"].as_array().unwrap();
        let groups: Vec<String> = records
            .iter()
            .map(|r| {
                r["attributes"]["MessageGroupId"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        {
            let mut flying = in_flight.lock().unwrap();
            for g in &groups {
                if flying.contains(g) {
                    overlaps.lock().unwrap().push(g.clone());
                }
            }
            flying.extend(groups.iter().cloned());
        }
        std::thread::sleep(Duration::from_millis(30));
        in_flight.lock().unwrap().retain(|g| !groups.contains(g));
        let has = |b: &str| records.iter().any(|r| r["body"] == b);
        let mut failed = failed.lock().unwrap();
        if has("g2-3") && !*failed {
            *failed = true;
            return InvokeOutcome::FunctionError("{}".into());
        }
        InvokeOutcome::Ok(String::new())
    });
    let mut s = spec(&arn);
    s.batch_size = 3;
    s.timing.initial_pollers = 3;
    let mapping = start(&moto, s, &f);
    until(30, "the queue emptied", async || {
        moto.depth(&url).await == 0
    })
    .await;
    mapping.stopped().await;
    assert!(*was_failed.lock().unwrap());
    assert!(
        overlapping.lock().unwrap().is_empty(),
        "a group in two batches at once: {:?}",
        overlapping.lock().unwrap()
    );
    let events = f.events();
    assert!(events.len() >= 9, "{} batches", events.len());
    for e in &events {
        let r = &e["Records"][0];
        assert!(r["attributes"]["MessageGroupId"].is_string(), "{r}");
        assert!(r["attributes"]["MessageDeduplicationId"].is_string(), "{r}");
    }
    // Each group's successful deliveries are its messages in order; a failed batch
    // comes back whole before anything after it.
    let bodies = f.bodies();
    for g in ["g1", "g2", "g3"] {
        let seen: Vec<usize> = bodies
            .iter()
            .filter_map(|b| b.strip_prefix(&format!("{g}-")))
            .map(|i| i.parse().unwrap())
            .collect();
        let mut expected_next = 0;
        for i in &seen {
            assert!(*i <= expected_next, "{g} out of order: {seen:?}");
            expected_next = expected_next.max(i + 1);
        }
        assert_eq!(expected_next, 8, "{g}: {seen:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batching_window_gathers_messages_sent_over_time() {
    let moto = Moto::start();
    let (url, arn) = moto.queue("windowed", json!({})).await;
    let f = Function::ok();
    let mut s = spec(&arn);
    s.batch_size = 20;
    s.maximum_batching_window = Duration::from_secs(3);
    s.timing.initial_pollers = 1;
    s.concurrency_cap = 1;
    let mapping = start(&moto, s, &f);
    tokio::time::sleep(Duration::from_millis(500)).await;
    for i in 0..5 {
        moto.send(&url, &format!("m{i}")).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    until(20, "5 messages invoked", async || f.bodies().len() >= 5).await;
    mapping.stopped().await;
    let events = f.events();
    assert_eq!(events.len(), 1, "one batch: {events:?}");
    assert_eq!(f.bodies(), ["m0", "m1", "m2", "m3", "m4"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_keeps_failing_moves_to_the_dead_letter_queue() {
    let moto = Moto::start();
    let (dlq_url, dlq_arn) = moto.queue("poison-dlq", json!({})).await;
    let policy = json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}).to_string();
    let (url, arn) = moto
        .queue(
            "poison",
            json!({"VisibilityTimeout": "1", "RedrivePolicy": policy}),
        )
        .await;
    moto.send(&url, "poison").await;
    let f = Function::new(|_, _| InvokeOutcome::FunctionError("{}".into()));
    let mapping = start(&moto, spec(&arn), &f);
    until(30, "the message in the DLQ", async || {
        moto.depth(&dlq_url).await == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let status = mapping.status();
    mapping.stopped().await;
    assert_eq!(f.events().len(), 2, "invoked maxReceiveCount times");
    assert_eq!(status.failures, 2);
    assert_eq!(moto.depth(&url).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_invoke_is_retried_without_counting_a_receive() {
    let moto = Moto::start();
    let (url, arn) = moto.queue("throttled", json!({})).await;
    moto.send(&url, "later").await;
    let f = Function::new(|_, n| {
        if n < 2 {
            InvokeOutcome::Failed("TooManyRequestsException: Rate Exceeded.".into())
        } else {
            InvokeOutcome::Ok(String::new())
        }
    });
    let mapping = start(&moto, spec(&arn), &f);
    until(20, "the queue emptied", async || {
        moto.depth(&url).await == 0
    })
    .await;
    mapping.stopped().await;
    let events = f.events();
    assert_eq!(events.len(), 3);
    for e in &events {
        assert_eq!(
            e["Records"][0]["attributes"]["ApproximateReceiveCount"],
            "1"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_batch_returns_to_the_queue_before_its_visibility_timeout() {
    let moto = Moto::start();
    let (url, arn) = moto.queue("busy", json!({"VisibilityTimeout": "1"})).await;
    moto.send(&url, "again").await;
    // Throttled until the message has been received twice.
    let f = Function::new(|event, _| {
        if event["Records"][0]["attributes"]["ApproximateReceiveCount"] == "1" {
            InvokeOutcome::Failed("TooManyRequestsException".into())
        } else {
            InvokeOutcome::Ok(String::new())
        }
    });
    let mapping = start(&moto, spec(&arn), &f);
    until(20, "the queue emptied", async || {
        moto.depth(&url).await == 0
    })
    .await;
    let status = mapping.status();
    mapping.stopped().await;
    assert_eq!(status.failures, 0, "a throttle is not a function failure");
    assert_eq!(status.messages, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_mapping_does_not_poll() {
    let moto = Moto::start();
    let (url, arn) = moto.queue("idle", json!({})).await;
    moto.send(&url, "stays").await;
    let f = Function::ok();
    let mut s = spec(&arn);
    s.enabled = false;
    let mapping = start(&moto, s, &f);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(mapping.status().state, MappingState::Disabled);
    mapping.stopped().await;
    assert!(f.events().is_empty());
    assert_eq!(moto.depth(&url).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_queues_get_more_pollers_up_to_the_maximum_concurrency() {
    let moto = Moto::start();
    let (url, arn) = moto.queue("burst", json!({})).await;
    for i in 0..200 {
        moto.send(&url, &format!("m{i}")).await;
    }
    let in_flight = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let peak = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (now, top) = (in_flight.clone(), peak.clone());
    let f = Function::new(move |_, _| {
        use std::sync::atomic::Ordering::SeqCst;
        let n = now.fetch_add(1, SeqCst) + 1;
        top.fetch_max(n, SeqCst);
        std::thread::sleep(Duration::from_millis(50));
        now.fetch_sub(1, SeqCst);
        InvokeOutcome::Ok(String::new())
    });
    let mut s = spec(&arn);
    s.timing.initial_pollers = 1;
    s.maximum_concurrency = Some(4);
    let mapping = start(&moto, s, &f);
    until(60, "the queue emptied", async || {
        moto.depth(&url).await == 0
    })
    .await;
    mapping.stopped().await;
    // Every message reached the function. SQS delivers at least once: moto, under
    // concurrent receives on a loaded machine, has handed one message to two pollers.
    let distinct: std::collections::BTreeSet<String> = f.bodies().into_iter().collect();
    assert_eq!(distinct.len(), 200);
    let peak = peak.load(std::sync::atomic::Ordering::SeqCst);
    assert!(peak > 1 && peak <= 4, "peak concurrency {peak}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_second_window_still_gathers() {
    let moto = Moto::start();
    let (url, arn) = moto.queue("short-window", json!({})).await;
    let f = Function::ok();
    let mut s = spec(&arn);
    s.maximum_batching_window = Duration::from_secs(1);
    s.timing.initial_pollers = 1;
    s.concurrency_cap = 1;
    let mapping = start(&moto, s, &f);
    tokio::time::sleep(Duration::from_millis(500)).await;
    moto.send(&url, "first").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    moto.send(&url, "second").await;
    until(20, "2 messages invoked", async || f.bodies().len() >= 2).await;
    mapping.stopped().await;
    assert_eq!(f.events().len(), 1, "one batch: {:?}", f.events());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_stay_under_six_megabytes() {
    let moto = Moto::start();
    let (url, arn) = moto.queue("large", json!({})).await;
    // 30 messages of 250 KB (moto's limit is 256 KB): 7.5 MB, more than one payload.
    for i in 0..30 {
        moto.send(&url, &format!("{i:02}{}", "x".repeat(250 * 1000)))
            .await;
    }
    let f = Function::ok();
    let mut s = spec(&arn);
    s.batch_size = 100;
    // Long enough for moto to hand over all 30 (it takes a while with 2.5 MB a
    // receive): the payload limit, not the window, ends the first batch.
    s.maximum_batching_window = Duration::from_secs(8);
    s.timing.initial_pollers = 1;
    s.concurrency_cap = 1;
    let mapping = start(&moto, s, &f);
    until(40, "the queue emptied", async || {
        moto.depth(&url).await == 0
    })
    .await;
    mapping.stopped().await;
    let events = f.events();
    assert!(events.len() >= 2, "{} batches", events.len());
    // Gathered across receives up to the cap, not cut at one receive's ten.
    let first = events[0]["Records"].as_array().unwrap().len();
    assert!(first > 20, "the first batch has {first} records");
    for e in &events {
        let size = serde_json::to_string(e).unwrap().len();
        assert!(size <= 6 * 1024 * 1024, "a payload of {size} bytes");
    }
    let mut ids: Vec<String> = f.bodies().iter().map(|b| b[..2].to_string()).collect();
    ids.sort_unstable();
    let expected: Vec<String> = (0..30).map(|i| format!("{i:02}")).collect();
    assert_eq!(ids, expected);
}
