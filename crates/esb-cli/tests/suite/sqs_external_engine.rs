//! `--sqs-endpoint`: the box in front of an SQS engine that is not ours (moto's
//! server, a real separate process on loopback, standing in for AWS SQS or ElasticMQ).
//! Functions and host clients keep the box's endpoint, key and queue URLs; the
//! template's queues and the messages land on the engine; the box's own key is still
//! checked, in both protocols; a queue mapping polls the engine and runs its function;
//! a failed asynchronous invocation's dead letter lands on the engine.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::s3_external_engine::start_moto_with;
use crate::support::*;

const HANDLERS: &str = r#"
import json, os
import boto3

sqs = boto3.client("sqs")

def worker(event, context):
    for r in event["Records"]:
        sqs.send_message(QueueUrl=os.environ["RESULTS"], MessageBody=json.dumps({
            "body": r["body"],
            "source": r["eventSourceARN"],
            "endpoint": os.environ["AWS_ENDPOINT_URL_SQS"],
        }))
    return {}

def flaky(event, context):
    raise RuntimeError("flaky failed on purpose")
"#;

/// Host-side checks: through the box with the box's key (boto3's JSON protocol, and a
/// query-protocol form signed by hand), and directly on the engine with its key.
const DRIVER: &str = r#"
import json, ssl, sys, time, urllib.parse, urllib.request
import boto3, botocore
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
state, box_url, engine_url, lambda_url = sys.argv[1:5]
ca = state + "/certs/ca.pem"
creds = {}
for line in open(state + "/credentials"):
    if "=" in line:
        k, v = line.split("=", 1)
        creds[k.strip()] = v.strip()
keys = dict(aws_access_key_id=creds["aws_access_key_id"], aws_secret_access_key=creds["aws_secret_access_key"])
via_box = boto3.client("sqs", endpoint_url=box_url, region_name="us-east-1", verify=ca, **keys)
engine = boto3.client("sqs", endpoint_url=engine_url, region_name="us-east-1",
    aws_access_key_id="engine-key", aws_secret_access_key="engine-secret")
out = {}
out["engine_queues"] = engine.list_queues().get("QueueUrls", [])
out["box_queues"] = via_box.list_queues().get("QueueUrls", [])
out["engine_redrive"] = engine.get_queue_attributes(
    QueueUrl=engine.get_queue_url(QueueName="ext-jobs")["QueueUrl"],
    AttributeNames=["RedrivePolicy"]).get("Attributes", {}).get("RedrivePolicy")
jobs = via_box.get_queue_url(QueueName="ext-jobs")["QueueUrl"]
out["jobs_url"] = jobs
via_box.send_message(QueueUrl=jobs, MessageBody="hello via json")

def query(url, params, secret=creds["aws_secret_access_key"]):
    body = urllib.parse.urlencode(params)
    req = AWSRequest(method="POST", url=url, data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(Credentials(creds["aws_access_key_id"], secret), "sqs", "us-east-1").add_auth(req)
    prepared = req.prepare()
    r = urllib.request.Request(url, data=body.encode(), method="POST", headers=dict(prepared.headers))
    ctx = ssl.create_default_context(cafile=ca)
    try:
        with urllib.request.urlopen(r, context=ctx) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()

# The query protocol, posted to the box's queue URL, and to the root.
out["query_send"] = query(jobs, {"Action": "SendMessage", "Version": "2012-11-05", "MessageBody": "hello via query"})
out["query_get_url"] = query(box_url + "/", {"Action": "GetQueueUrl", "Version": "2012-11-05", "QueueName": "ext-results"})
# A wrong key is refused by the box: the queue is never created on the engine.
out["bad_query"] = query(box_url + "/", {"Action": "CreateQueue", "Version": "2012-11-05", "QueueName": "ext-sneaky"}, secret="wrong")
try:
    bad = boto3.client("sqs", endpoint_url=box_url, region_name="us-east-1", verify=ca,
        aws_access_key_id=creds["aws_access_key_id"], aws_secret_access_key="wrong")
    bad.create_queue(QueueName="ext-sneaky-json")
    out["bad_json"] = "accepted"
except botocore.exceptions.ClientError as e:
    out["bad_json"] = [e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"]]
try:
    via_box.get_queue_url(QueueName="no-such-queue")
    out["missing"] = "found"
except botocore.exceptions.ClientError as e:
    out["missing"] = e.response["Error"]["Code"]
out["engine_queues_after"] = engine.list_queues().get("QueueUrls", [])
# An asynchronous invocation that fails: its dead letter lands on the engine.
lam = boto3.client("lambda", endpoint_url=lambda_url, region_name="us-east-1", verify=ca, **keys)
lam.invoke(FunctionName="Flaky", InvocationType="Event", Payload=json.dumps({"n": 1}))
dead = engine.get_queue_url(QueueName="ext-dead-letters")["QueueUrl"]
out["dead_letter"] = None
deadline = time.time() + 60
while time.time() < deadline and out["dead_letter"] is None:
    got = engine.receive_message(QueueUrl=dead, WaitTimeSeconds=1, MessageAttributeNames=["All"]).get("Messages", [])
    if got:
        m = got[0]
        out["dead_letter"] = {"body": json.loads(m["Body"]),
            "attributes": {k: v["StringValue"] for k, v in m.get("MessageAttributes", {}).items()}}
# The mapping (polling the engine) ran Worker for both, whose sends through the box
# landed on the engine.
results = engine.get_queue_url(QueueName="ext-results")["QueueUrl"]
out["results"] = []
deadline = time.time() + 90
while time.time() < deadline and len(out["results"]) < 2:
    got = engine.receive_message(QueueUrl=results, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    for m in got:
        out["results"].append(json.loads(m["Body"]))
        engine.delete_message(QueueUrl=results, ReceiptHandle=m["ReceiptHandle"])
out["results"].sort(key=lambda r: r["body"])
print(json.dumps(out))
"#;

const TEMPLATE: &str = r#"
Resources:
  Jobs:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: ext-jobs
      VisibilityTimeout: 30
      RedrivePolicy: {deadLetterTargetArn: !GetAtt DeadLetters.Arn, maxReceiveCount: 3}
  DeadLetters:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: ext-dead-letters
  Results:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: ext-results
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      CodeUri: fn/
      Handler: app.worker
      Timeout: 20
      Environment: {Variables: {RESULTS: !Ref Results}}
      Events:
        Jobs:
          Type: SQS
          Properties: {Queue: !GetAtt Jobs.Arn, BatchSize: 10}
  Flaky:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      CodeUri: fn/
      Handler: app.flaky
      DeadLetterQueue: {Type: SQS, TargetArn: !GetAtt DeadLetters.Arn}
      EventInvokeConfig: {MaximumRetryAttempts: 0}
"#;

fn write_project(dir: &Path) {
    std::fs::create_dir_all(dir.join("fn")).expect("project dir");
    std::fs::write(dir.join("fn/app.py"), HANDLERS).expect("handlers");
    std::fs::write(dir.join("template.yaml"), TEMPLATE).expect("template");
    std::fs::write(dir.join("driver.py"), DRIVER).expect("driver");
}

/// The engine's account (moto's `MOTO_ACCOUNT_ID`), not the box's.
const ENGINE_ACCOUNT: &str = "111122223333";
/// The box's account, in the template's ARNs and the box's queue URLs.
const BOX_ACCOUNT: &str = "123456789012";

#[test]
fn sqs_external_engine_keeps_the_boxs_key_and_queue_urls_and_runs_mappings() {
    let (mut moto, moto_port) = start_moto_with(&[("MOTO_ACCOUNT_ID", ENGINE_ACCOUNT)]);
    let dir = std::env::temp_dir().join(format!("esb-sqs-external-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    write_project(&dir);
    let state = fresh_state_dir("sqs-external");
    let engine_url = format!("http://127.0.0.1:{moto_port}");
    let port = free_addr().port();
    let mut up = esb_command()
        .current_dir(&dir)
        .args([
            "up",
            "--runtime",
            "process",
            "--port",
            &port.to_string(),
            "--sqs-port",
            "0",
        ])
        .args(["--s3-port", "off", "--dynamodb-port", "off"])
        .args(["--async-retry-delay", "0.2"])
        .arg("--state-dir")
        .arg(&state)
        .args(["--sqs-endpoint", &engine_url])
        .args([
            "--sqs-access-key-id",
            "engine-key",
            "--sqs-secret-access-key",
            "engine-secret",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("esb up");
    let url = banner_url(&mut up, "SQS: ");
    let out = Command::new(python())
        .arg(dir.join("driver.py"))
        .arg(&state)
        .arg(&url)
        .arg(&engine_url)
        .arg(format!("https://127.0.0.1:{port}"))
        .output()
        .expect("driver");
    // `esb status` asks through the box's listener: the engine's queues, box URLs.
    let status = esb_command()
        .args(["status", "--json", "--state-dir"])
        .arg(&state)
        .output()
        .expect("esb status");
    terminate(&mut up, Duration::from_secs(20));
    let _ = moto.kill();
    let _ = moto.wait();
    assert!(
        out.status.success(),
        "driver failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the driver prints JSON");
    let has = |list: &serde_json::Value, suffix: &str| {
        list.as_array().is_some_and(|urls| {
            urls.iter()
                .any(|u| u.as_str().is_some_and(|u| u.ends_with(suffix)))
        })
    };
    // The template's queues were created on the engine, the redrive policy naming the
    // engine's dead-letter queue.
    for q in ["ext-jobs", "ext-dead-letters", "ext-results"] {
        let q = format!("/{ENGINE_ACCOUNT}/{q}");
        assert!(has(&v["engine_queues"], &q), "{q}: {v}");
    }
    let redrive: serde_json::Value =
        serde_json::from_str(v["engine_redrive"].as_str().expect("a redrive policy"))
            .expect("JSON");
    assert!(
        redrive["deadLetterTargetArn"]
            .as_str()
            .is_some_and(|a| a.ends_with(&format!(":{ENGINE_ACCOUNT}:ext-dead-letters"))),
        "{v}"
    );
    // Through the box, queue URLs are the box's.
    assert!(
        v["box_queues"]
            .as_array()
            .is_some_and(|urls| urls.len() == 3
                && urls
                    .iter()
                    .all(|u| u.as_str().is_some_and(|u| u.starts_with(&url)))),
        "{v}"
    );
    assert!(
        v["jobs_url"]
            .as_str()
            .is_some_and(|u| u.starts_with(&url) && u.ends_with("/ext-jobs")),
        "{v}"
    );
    // The query protocol goes through too, its answers with the box's URLs.
    assert_eq!(v["query_send"][0], 200, "{v}");
    assert!(
        v["query_send"][1]
            .as_str()
            .is_some_and(|x| x.contains("<MessageId>")),
        "{v}"
    );
    assert_eq!(v["query_get_url"][0], 200, "{v}");
    assert!(
        v["query_get_url"][1]
            .as_str()
            .is_some_and(|x| x.contains(&format!("<QueueUrl>{url}/"))
                && x.contains("/ext-results</QueueUrl>")),
        "{v}"
    );
    // The box checks its own key before anything reaches the engine.
    assert_eq!(v["bad_query"][0], 403, "{v}");
    assert!(
        v["bad_query"][1]
            .as_str()
            .is_some_and(|x| x.contains("SignatureDoesNotMatch")),
        "{v}"
    );
    assert_eq!(v["bad_json"][0], 403, "{v}");
    assert!(!has(&v["engine_queues_after"], "/ext-sneaky"), "{v}");
    assert!(!has(&v["engine_queues_after"], "/ext-sneaky-json"), "{v}");
    assert_eq!(
        v["missing"], "AWS.SimpleQueueService.NonExistentQueue",
        "{v}"
    );
    // The failed asynchronous invocation's dead letter (the gateway's, sent by the box
    // with Lambda's attributes) landed on the engine.
    assert_eq!(v["dead_letter"]["body"], serde_json::json!({"n": 1}), "{v}");
    assert_eq!(
        v["dead_letter"]["attributes"]["ErrorMessage"], "flaky failed on purpose",
        "{v}"
    );
    assert!(
        v["dead_letter"]["attributes"]["RequestID"].is_string(),
        "{v}"
    );
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).expect("status JSON");
    let queues: Vec<(&str, &str)> = status["queues"]
        .as_array()
        .map(|q| {
            q.iter()
                .filter_map(|q| Some((q["name"].as_str()?, q["url"].as_str()?)))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(queues.len(), 3, "{status}");
    assert!(
        queues
            .iter()
            .all(|(name, u)| *u == format!("{url}/{BOX_ACCOUNT}/{name}")),
        "{status}"
    );
    // The mapping found the template's queue (an ARN of the box's account) on the
    // engine by name, polled it and ran Worker for both messages; its sends
    // through the box's endpoint landed on the engine.
    let bodies: Vec<&str> = v["results"]
        .as_array()
        .map(|r| r.iter().filter_map(|x| x["body"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(bodies, ["hello via json", "hello via query"], "{v}");
    assert_eq!(v["results"][0]["endpoint"], url, "{v}");
    assert!(
        v["results"][0]["source"]
            .as_str()
            .is_some_and(|a| a == format!("arn:aws:sqs:us-east-1:{BOX_ACCOUNT}:ext-jobs")),
        "{v}"
    );
}
