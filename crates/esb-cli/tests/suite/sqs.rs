//! SQS end to end through the real `esb up`: template queues (standard, FIFO, a
//! dead-letter queue with a redrive policy), functions that reach the box's SQS with
//! the stock boto3 through `AWS_ENDPOINT_URL_SQS`, `Events: SQS` with partial batch
//! failures and redrive to the DLQ, a FIFO group kept in order, asynchronous
//! invocations whose failures go to an SQS destination and a `DeadLetterQueue`, and a
//! box SIGKILLed with messages in flight: nothing acknowledged is lost, and the
//! in-flight ones come back after their visibility timeout. Schedules
//! (`rate(1 minute)`, `ScheduleV2`) fire functions on a box of their own.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::support::*;

const HANDLERS: &str = r#"
import json, os, time
import boto3

sqs = boto3.client("sqs")
results = os.environ["RESULTS"]

def record(kind, **fields):
    fields["kind"] = kind
    sqs.send_message(QueueUrl=results, MessageBody=json.dumps(fields))

def worker(event, context):
    failures = []
    for r in event["Records"]:
        body = r["body"]
        if body.startswith("fail"):
            failures.append({"itemIdentifier": r["messageId"]})
            record("failed", body=body, receive_count=r["attributes"]["ApproximateReceiveCount"])
        else:
            record("done", body=body, record=r)
    return {"batchItemFailures": failures}

def fifo(event, context):
    for r in event["Records"]:
        record("fifo", body=r["body"], group=r["attributes"]["MessageGroupId"])
        time.sleep(0.05)
    return {}

def flaky(event, context):
    raise RuntimeError("flaky failed on purpose")

def tick(event, context):
    record("tick", event=event, at=time.time())
    return {}
"#;

const DRIVER: &str = r#"
import json, sys, time
import boto3
phase, state, url = sys.argv[1:4]
creds = {}
for line in open(state + "/credentials"):
    if "=" in line:
        k, v = line.split("=", 1)
        creds[k.strip()] = v.strip()
kw = dict(endpoint_url=url, region_name="us-east-1", verify=state + "/certs/ca.pem",
    aws_access_key_id=creds["aws_access_key_id"], aws_secret_access_key=creds["aws_secret_access_key"])
sqs = boto3.client("sqs", **kw)
lam = boto3.client("lambda", **dict(kw, endpoint_url=sys.argv[4] if len(sys.argv) > 4 else url))
out = {}

def q(name):
    return sqs.get_queue_url(QueueName=name)["QueueUrl"]

def drain(name, until, within):
    """Receives (and deletes) messages of `name` until `until(messages)` or `within` s."""
    got, deadline = [], time.time() + within
    while time.time() < deadline and not until(got):
        r = sqs.receive_message(QueueUrl=q(name), MaxNumberOfMessages=10, WaitTimeSeconds=1,
            MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"])
        for m in r.get("Messages", []):
            got.append(m)
            sqs.delete_message(QueueUrl=q(name), ReceiptHandle=m["ReceiptHandle"])
    return got

if phase == "mappings":
    out["queues"] = sorted(u.rsplit("/", 1)[1] for u in sqs.list_queues()["QueueUrls"])
    out["redrive"] = json.loads(sqs.get_queue_attributes(QueueUrl=q("e2e-jobs"),
        AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"])
    for i in range(6):
        sqs.send_message(QueueUrl=q("e2e-jobs"), MessageBody="ok-%d" % i,
            MessageAttributes={"n": {"DataType": "Number", "StringValue": str(i)}})
    sqs.send_message(QueueUrl=q("e2e-jobs"), MessageBody="fail-1")
    for g in ("a", "b"):
        for i in range(8):
            sqs.send_message(QueueUrl=q("e2e-orders.fifo"), MessageBody="%s-%d" % (g, i), MessageGroupId=g)
    want = lambda got: (sum(1 for m in got if json.loads(m["Body"])["kind"] == "done") >= 6
        and sum(1 for m in got if json.loads(m["Body"])["kind"] == "fifo") >= 16)
    got = [json.loads(m["Body"]) for m in drain("e2e-results", want, 90)]
    out["done"] = sorted(m["body"] for m in got if m["kind"] == "done")
    out["record"] = next(m["record"] for m in got if m["kind"] == "done")
    out["fifo"] = [(m["group"], m["body"]) for m in got if m["kind"] == "fifo"]
    # The failed message is received twice (maxReceiveCount 2), then redriven.
    dlq = drain("e2e-jobs-dlq", lambda got: len(got) >= 1, 60)
    out["dlq"] = [m["Body"] for m in dlq]
    got += [json.loads(m["Body"]) for m in drain("e2e-results", lambda got: False, 2)]
    out["failed_attempts"] = sorted(m["receive_count"] for m in got if m["kind"] == "failed")
    # An asynchronous invocation that fails: its record to the OnFailure queue, its
    # payload to the DeadLetterQueue.
    lam.invoke(FunctionName="e2e-flaky", InvocationType="Event", Payload=json.dumps({"n": 7}))
    dest = drain("e2e-failed", lambda got: len(got) >= 1, 60)
    out["destination"] = [json.loads(m["Body"]) for m in dest]
    dead = drain("e2e-dead-letters", lambda got: len(got) >= 1, 60)
    out["dead_letters"] = [{"body": m["Body"], "attributes": m.get("MessageAttributes", {})} for m in dead]
    # A DynamoDB stream batch the function fails goes to the mapping's SQS destination.
    ddb = boto3.client("dynamodb", **dict(kw, endpoint_url=sys.argv[5]))
    ddb.put_item(TableName="e2e-sqs-items", Item={"id": {"S": "x1"}})
    stream = drain("e2e-stream-failures", lambda got: len(got) >= 1, 90)
    out["stream_failures"] = [json.loads(m["Body"]) for m in stream]
elif phase == "park":
    parked = q("e2e-parked")
    ids = []
    for i in range(0, 50, 10):
        r = sqs.send_message_batch(QueueUrl=parked, Entries=[
            {"Id": str(j), "MessageBody": "parked-%d" % j} for j in range(i, i + 10)])
        ids += [e["MessageId"] for e in r["Successful"]]
    r = sqs.receive_message(QueueUrl=parked, MaxNumberOfMessages=10, VisibilityTimeout=4)
    out["sent"] = sorted(ids)
    out["in_flight"] = sorted(m["MessageId"] for m in r["Messages"])
elif phase == "unpark":
    parked = q("e2e-parked")
    seen, deadline = {}, time.time() + 30
    while len(seen) < 50 and time.time() < deadline:
        r = sqs.receive_message(QueueUrl=parked, MaxNumberOfMessages=10, WaitTimeSeconds=1,
            MessageSystemAttributeNames=["ApproximateReceiveCount"])
        for m in r.get("Messages", []):
            seen[m["MessageId"]] = int(m["Attributes"]["ApproximateReceiveCount"])
    out["seen"] = seen
elif phase == "ticks":
    got = [json.loads(m["Body"]) for m in drain("e2e-results",
        lambda got: sum(1 for m in got if json.loads(m["Body"])["event"].get("source") == "aws.events") >= 1
            and sum(1 for m in got if json.loads(m["Body"])["event"].get("source") == "aws.scheduler") >= 2, 150)]
    out["ticks"] = [m["event"] for m in got if m["kind"] == "tick"]
print(json.dumps(out))
"#;

const TEMPLATE: &str = r#"
Resources:
  Jobs:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: e2e-jobs
      VisibilityTimeout: 10
      RedrivePolicy: {deadLetterTargetArn: !GetAtt JobsDlq.Arn, maxReceiveCount: 2}
  JobsDlq:
    Type: AWS::SQS::Queue
    Properties: {QueueName: e2e-jobs-dlq}
  Orders:
    Type: AWS::SQS::Queue
    Properties: {QueueName: e2e-orders.fifo, FifoQueue: true, ContentBasedDeduplication: true, VisibilityTimeout: 30}
  Results:
    Type: AWS::SQS::Queue
    Properties: {QueueName: e2e-results}
  Failed:
    Type: AWS::SQS::Queue
    Properties: {QueueName: e2e-failed}
  DeadLetters:
    Type: AWS::SQS::Queue
    Properties: {QueueName: e2e-dead-letters}
  Parked:
    Type: AWS::SQS::Queue
    Properties: {QueueName: e2e-parked}
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: e2e-worker
      Runtime: python3.11
      CodeUri: fn/
      Handler: app.worker
      Timeout: 10
      Environment: {Variables: {RESULTS: !Ref Results}}
      Events:
        Jobs:
          Type: SQS
          Properties:
            Queue: !GetAtt Jobs.Arn
            BatchSize: 10
            MaximumBatchingWindowInSeconds: 1
            FunctionResponseTypes: [ReportBatchItemFailures]
  Fifo:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: e2e-fifo
      Runtime: python3.11
      CodeUri: fn/
      Handler: app.fifo
      Timeout: 10
      Environment: {Variables: {RESULTS: !Ref Results}}
      Events:
        Orders:
          Type: SQS
          Properties: {Queue: !GetAtt Orders.Arn, BatchSize: 3}
  Flaky:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: e2e-flaky
      Runtime: python3.11
      CodeUri: fn/
      Handler: app.flaky
      Environment: {Variables: {RESULTS: !Ref Results}}
      DeadLetterQueue: {Type: SQS, TargetArn: !GetAtt DeadLetters.Arn}
      EventInvokeConfig:
        MaximumRetryAttempts: 0
        DestinationConfig:
          OnFailure: {Type: SQS, Destination: !GetAtt Failed.Arn}
      Events:
        Changes:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt Items.StreamArn
            StartingPosition: TRIM_HORIZON
            MaximumRetryAttempts: 0
            DestinationConfig: {OnFailure: {Type: SQS, Destination: !GetAtt StreamFailures.Arn}}
  StreamFailures:
    Type: AWS::SQS::Queue
    Properties: {QueueName: e2e-stream-failures}
  Items:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: e2e-sqs-items
      BillingMode: PAY_PER_REQUEST
      KeySchema: [{AttributeName: id, KeyType: HASH}]
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      StreamSpecification: {StreamViewType: NEW_IMAGE}
"#;

const SCHEDULE_TEMPLATE: &str = r#"
Resources:
  Results:
    Type: AWS::SQS::Queue
    Properties: {QueueName: e2e-results}
  Tick:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: e2e-tick
      Runtime: python3.11
      CodeUri: fn/
      Handler: app.tick
      Environment: {Variables: {RESULTS: !Ref Results}}
      Events:
        EveryMinute:
          Type: Schedule
          Properties: {Schedule: rate(1 minute)}
        Scheduler:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: rate(1 minute)
            Input: '{"source": "aws.scheduler", "from": "input"}'
        Never:
          Type: Schedule
          Properties: {Schedule: 'cron(0 0 1 1 ? 2199)', Enabled: false}
"#;

fn write_project(dir: &Path, template: &str) {
    std::fs::create_dir_all(dir.join("fn")).expect("project dir");
    std::fs::write(dir.join("fn/app.py"), HANDLERS).expect("handlers");
    std::fs::write(dir.join("template.yaml"), template).expect("template");
    std::fs::write(dir.join("driver.py"), DRIVER).expect("driver");
}

/// Starts the box; returns it with its gateway, SQS and DynamoDB endpoints (from the
/// banner).
fn start_box(dir: &Path, state: &Path) -> (Child, (String, String, String)) {
    let mut up = esb_command()
        .current_dir(dir)
        .args([
            "up",
            "--runtime",
            "process",
            "--port",
            "0",
            "--sqs-port",
            "0",
        ])
        .args(["--s3-port", "off", "--dynamodb-port", "0"])
        .args(["--async-retry-delay", "0.2"])
        .arg("--state-dir")
        .arg(state)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("esb up");
    let urls = banner_urls(&mut up);
    (up, urls)
}

/// The gateway's URL (`ESB is up: `) and the SQS and DynamoDB endpoints of the banner.
fn banner_urls(child: &mut Child) -> (String, String, String) {
    use std::io::BufRead;
    let out = child.stdout.take().expect("the box's stdout is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (mut gateway, mut dynamodb) = (None, None);
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            let first = |rest: &str| rest.split_whitespace().next().unwrap_or("").to_string();
            if let Some(rest) = line.strip_prefix("ESB is up: ") {
                gateway = Some(first(rest));
            }
            if let Some(rest) = line.strip_prefix("DynamoDB: ") {
                dynamodb = Some(first(rest));
            }
            // The banner lists SQS after the gateway and DynamoDB.
            if let (Some(rest), Some(g)) = (line.strip_prefix("SQS: "), &gateway) {
                let d = dynamodb.clone().unwrap_or_default();
                let _ = tx.send((g.clone(), first(rest), d));
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(120))
        .expect("the box printed its gateway and SQS lines")
}

fn drive(dir: &Path, phase: &str, state: &Path, urls: &(String, String, String)) -> Value {
    let (gateway, sqs, dynamodb) = urls;
    let out = Command::new(python())
        .arg(dir.join("driver.py"))
        .args([phase])
        .arg(state)
        .args([sqs, gateway, dynamodb])
        .output()
        .expect("driver");
    assert!(
        out.status.success(),
        "driver {phase} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the driver prints JSON")
}

#[test]
fn queues_drive_functions_with_lambdas_semantics_and_survive_a_kill() {
    let dir = std::env::temp_dir().join(format!("esb-sqs-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    write_project(&dir, TEMPLATE);
    let state = fresh_state_dir("sqs-e2e");
    let (mut up, urls) = start_box(&dir, &state);

    let v = drive(&dir, "mappings", &state, &urls);
    // The template's queues exist, with the redrive policy it declares.
    for name in ["e2e-jobs", "e2e-jobs-dlq", "e2e-orders.fifo", "e2e-results"] {
        assert!(
            v["queues"]
                .as_array()
                .expect("queues")
                .iter()
                .any(|q| q == name),
            "{name}: {v}"
        );
    }
    assert_eq!(v["redrive"]["maxReceiveCount"], 2, "{v}");
    assert_eq!(
        v["redrive"]["deadLetterTargetArn"], "arn:aws:sqs:us-east-1:123456789012:e2e-jobs-dlq",
        "{v}"
    );
    // Every good message reached the function once, in Lambda's record shape.
    let done: Vec<&str> = v["done"]
        .as_array()
        .expect("done")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        done,
        ["ok-0", "ok-1", "ok-2", "ok-3", "ok-4", "ok-5"],
        "{v}"
    );
    let r = &v["record"];
    assert_eq!(r["eventSource"], "aws:sqs", "{r}");
    assert_eq!(
        r["eventSourceARN"], "arn:aws:sqs:us-east-1:123456789012:e2e-jobs",
        "{r}"
    );
    assert_eq!(r["awsRegion"], "us-east-1", "{r}");
    assert!(
        r["receiptHandle"].is_string() && r["md5OfBody"].is_string(),
        "{r}"
    );
    assert_eq!(r["messageAttributes"]["n"]["dataType"], "Number", "{r}");
    assert!(r["attributes"]["SentTimestamp"].is_string(), "{r}");
    // The message the function reported failed came back, then went to the DLQ.
    assert_eq!(v["dlq"], serde_json::json!(["fail-1"]), "{v}");
    assert_eq!(
        v["failed_attempts"],
        serde_json::json!(["1", "2"]),
        "received maxReceiveCount times: {v}"
    );
    // Each FIFO group in order.
    let fifo = v["fifo"].as_array().expect("fifo");
    for g in ["a", "b"] {
        let order: Vec<&str> = fifo
            .iter()
            .filter(|p| p[0] == g)
            .filter_map(|p| p[1].as_str())
            .collect();
        let want: Vec<String> = (0..8).map(|i| format!("{g}-{i}")).collect();
        assert_eq!(order, want, "group {g}: {v}");
    }
    // The failed asynchronous invocation: Lambda's record to OnFailure, the event
    // itself to the dead-letter queue with Lambda's attributes.
    let dest = &v["destination"][0];
    assert_eq!(
        dest["requestContext"]["condition"], "RetriesExhausted",
        "{v}"
    );
    assert_eq!(dest["requestPayload"]["n"], 7, "{v}");
    assert_eq!(dest["responseContext"]["functionError"], "Unhandled", "{v}");
    let dead = &v["dead_letters"][0];
    assert_eq!(dead["body"], r#"{"n": 7}"#, "{v}");
    assert_eq!(
        dead["attributes"]["ErrorMessage"]["StringValue"], "flaky failed on purpose",
        "{v}"
    );
    assert!(
        dead["attributes"]["RequestID"]["StringValue"].is_string(),
        "{v}"
    );
    // The stream batch's record, as Lambda describes a discarded batch.
    let failure = &v["stream_failures"][0];
    assert_eq!(
        failure["requestContext"]["condition"], "RetryAttemptsExhausted",
        "{v}"
    );
    assert_eq!(failure["DDBStreamBatchInfo"]["batchSize"], 1, "{v}");

    // SIGKILL with messages acknowledged and some in flight: after a restart every
    // message is there, and the in-flight ones come back once their visibility ends.
    let parked = drive(&dir, "park", &state, &urls);
    assert_eq!(
        parked["sent"].as_array().map(Vec::len),
        Some(50),
        "{parked}"
    );
    up.kill().expect("kill -9 the box");
    let _ = up.wait();
    let (mut up, urls) = start_box(&dir, &state);
    let after = drive(&dir, "unpark", &state, &urls);
    terminate(&mut up, Duration::from_secs(20));
    let seen = after["seen"].as_object().expect("seen");
    let mut ids: Vec<&String> = seen.keys().collect();
    ids.sort();
    let sent: Vec<&str> = parked["sent"]
        .as_array()
        .expect("sent")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(ids, sent, "every acknowledged message survived: {after}");
    for id in parked["in_flight"].as_array().expect("in flight") {
        let id = id.as_str().expect("id");
        assert_eq!(
            seen[id], 2,
            "{id} was in flight and is received again: {after}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn schedules_fire_their_functions_with_eventbridges_events() {
    let dir = std::env::temp_dir().join(format!("esb-schedules-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    write_project(&dir, SCHEDULE_TEMPLATE);
    let state = fresh_state_dir("schedules-e2e");
    let (mut up, urls) = start_box(&dir, &state);
    let v = drive(&dir, "ticks", &state, &urls);
    // `esb status` shows each schedule's next run while the box runs.
    let status = esb_command()
        .args(["status", "--state-dir"])
        .arg(&state)
        .output()
        .expect("esb status");
    terminate(&mut up, Duration::from_secs(20));
    let ticks = v["ticks"].as_array().expect("ticks");
    let rule: Vec<&Value> = ticks
        .iter()
        .filter(|t| t["source"] == "aws.events")
        .collect();
    assert_eq!(
        rule.len(),
        1,
        "rate(1 minute) fired once in its first minute: {v}"
    );
    let event = rule[0];
    assert_eq!(event["detail-type"], "Scheduled Event", "{event}");
    assert_eq!(event["region"], "us-east-1", "{event}");
    assert_eq!(event["account"], "123456789012", "{event}");
    assert!(
        event["resources"][0]
            .as_str()
            .is_some_and(|r| r.starts_with("arn:aws:events:us-east-1:123456789012:rule/")),
        "{event}"
    );
    assert!(
        event["time"]
            .as_str()
            .is_some_and(|t| t.ends_with(":00Z") || t.ends_with('Z')),
        "{event}"
    );
    // ScheduleV2 sends its Input verbatim, at once and then every minute.
    let v2: Vec<&Value> = ticks
        .iter()
        .filter(|t| t["source"] == "aws.scheduler")
        .collect();
    assert!(v2.len() >= 2, "{v}");
    assert!(v2.iter().all(|t| t["from"] == "input"), "{v}");
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.contains("EveryMinute") && text.contains("rate(1 minute)"),
        "{text}"
    );
    assert!(
        text.contains("disabled"),
        "the disabled schedule says so: {text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
