//! DynamoDB Streams → Lambda end to end: a template table with a stream, a function with
//! `Events: DynamoDB` (filter criteria, batch size) run by the real `esb up`, records in
//! Lambda's shape (inserts, modifications with both images, deletions, TTL expiry as a
//! service `REMOVE`), and a box SIGKILLed while a batch is in the function: after the
//! restart every record reaches the function (at least once, nothing skipped).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::support::*;

const HANDLERS: &str = r#"
import json, os, time
import boto3

seen = boto3.resource("dynamodb").Table(os.environ["SEEN"])

def recorder(event, context):
    for r in event["Records"]:
        key = r["dynamodb"]["Keys"]["id"]["S"]
        seen.update_item(Key={"id": r["eventName"] + ":" + key},
            UpdateExpression="ADD n :one SET rec = :r, stream_env = :s",
            ExpressionAttributeValues={":one": 1, ":r": json.dumps(r), ":s": os.environ["STREAM"]})
    if any(r["dynamodb"]["Keys"]["id"]["S"].startswith("slow") for r in event["Records"]):
        time.sleep(1.5)
    return {"records": len(event["Records"])}
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
ddb = boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1", verify=state + "/certs/ca.pem",
    aws_access_key_id=creds["aws_access_key_id"], aws_secret_access_key=creds["aws_secret_access_key"])
out = {}

def seen():
    items, start = [], None
    while True:
        kw = {"TableName": "e2e-seen", "ConsistentRead": True}
        if start:
            kw["ExclusiveStartKey"] = start
        page = ddb.scan(**kw)
        items += page["Items"]
        start = page.get("LastEvaluatedKey")
        if not start:
            return {i["id"]["S"]: i for i in items}

def wait_for(keys, within):
    deadline = time.time() + within
    while time.time() < deadline:
        s = seen()
        if all(k in s for k in keys):
            return s
        time.sleep(0.5)
    return seen()

if phase == "changes":
    for i in range(10):
        ddb.put_item(TableName="e2e-items", Item={"id": {"S": "a%d" % i}, "v": {"N": str(i)}})
    for i in range(3):
        ddb.put_item(TableName="e2e-items", Item={"id": {"S": "skip%d" % i}})
    ddb.update_item(TableName="e2e-items", Key={"id": {"S": "a1"}},
        UpdateExpression="SET v = :v", ExpressionAttributeValues={":v": {"N": "100"}})
    ddb.delete_item(TableName="e2e-items", Key={"id": {"S": "a2"}})
    ddb.put_item(TableName="e2e-items", Item={"id": {"S": "ttl1"}, "exp": {"N": str(int(time.time()) - 60)}})
    want = ["INSERT:a%d" % i for i in range(10)] + ["MODIFY:a1", "REMOVE:a2", "INSERT:ttl1", "REMOVE:ttl1"]
    s = wait_for(want, 90)
    out["keys"] = sorted(s)
    out["records"] = {k: json.loads(v["rec"]["S"]) for k, v in s.items() if k in ("INSERT:a0", "MODIFY:a1", "REMOVE:a2", "REMOVE:ttl1")}
    out["stream_env"] = s["INSERT:a0"]["stream_env"]["S"]
    out["ttl_item_left"] = "Item" in ddb.get_item(TableName="e2e-items", Key={"id": {"S": "ttl1"}})
elif phase == "write-slow":
    for i in range(20):
        ddb.put_item(TableName="e2e-items", Item={"id": {"S": "slow%02d" % i}})
elif phase == "wait-slow":
    s = wait_for(["INSERT:slow%02d" % i for i in range(20)], 120)
    out["slow"] = {k: int(v["n"]["N"]) for k, v in s.items() if k.startswith("INSERT:slow")}
print(json.dumps(out))
"#;

const TEMPLATE: &str = r#"
Resources:
  Items:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: e2e-items
      BillingMode: PAY_PER_REQUEST
      KeySchema: [{AttributeName: id, KeyType: HASH}]
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      StreamSpecification: {StreamViewType: NEW_AND_OLD_IMAGES}
      TimeToLiveSpecification: {AttributeName: exp, Enabled: true}
  Seen:
    Type: AWS::Serverless::SimpleTable
    Properties:
      TableName: e2e-seen
  Recorder:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      CodeUri: fn/
      Handler: app.recorder
      Timeout: 30
      Environment:
        Variables:
          SEEN: !Ref Seen
          STREAM: !GetAtt Items.StreamArn
      Events:
        Changes:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt Items.StreamArn
            StartingPosition: TRIM_HORIZON
            BatchSize: 5
            FilterCriteria:
              Filters:
                - Pattern: '{"dynamodb": {"Keys": {"id": {"S": [{"anything-but": {"prefix": "skip"}}]}}}}'
"#;

fn write_project(dir: &Path) {
    std::fs::create_dir_all(dir.join("fn")).expect("project dir");
    std::fs::write(dir.join("fn/app.py"), HANDLERS).expect("handlers");
    std::fs::write(dir.join("template.yaml"), TEMPLATE).expect("template");
    std::fs::write(dir.join("driver.py"), DRIVER).expect("driver");
}

/// Starts the box and returns it with its DynamoDB endpoint (from the banner).
fn start_box(dir: &Path, state: &Path) -> (Child, String) {
    let mut up = esb_command()
        .current_dir(dir)
        .args(["up", "--runtime", "process", "--port", "0"])
        .args(["--dynamodb-ttl-sweep", "1"])
        .arg("--state-dir")
        .arg(state)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("esb up");
    let url = banner_url(&mut up, "DynamoDB: ");
    (up, url)
}

fn drive(dir: &Path, phase: &str, state: &Path, url: &str) -> Value {
    let out = Command::new(python())
        .arg(dir.join("driver.py"))
        .arg(phase)
        .arg(state)
        .arg(url)
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
fn dynamodb_stream_records_reach_the_function_in_lambdas_shape_and_survive_a_kill() {
    let dir = std::env::temp_dir().join(format!("esb-ddb-streams-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    write_project(&dir);
    let state = fresh_state_dir("dynamodb-streams");
    let (mut up, url) = start_box(&dir, &state);

    let v = drive(&dir, "changes", &state, &url);
    let keys: Vec<&str> = v["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for i in 0..10 {
        assert!(keys.contains(&format!("INSERT:a{i}").as_str()), "{v}");
    }
    for k in ["MODIFY:a1", "REMOVE:a2", "INSERT:ttl1", "REMOVE:ttl1"] {
        assert!(keys.contains(&k), "{k}: {v}");
    }
    // The filter kept the skip* records from the function.
    assert!(!keys.iter().any(|k| k.contains("skip")), "{v}");
    // Lambda's record shape.
    let insert = &v["records"]["INSERT:a0"];
    assert_eq!(insert["eventSource"], "aws:dynamodb", "{insert}");
    assert_eq!(insert["eventVersion"], "1.1", "{insert}");
    assert_eq!(insert["awsRegion"], "us-east-1", "{insert}");
    assert!(
        insert["eventSourceARN"]
            .as_str()
            .is_some_and(|a| a
                .starts_with("arn:aws:dynamodb:us-east-1:123456789012:table/e2e-items/stream/")),
        "{insert}"
    );
    assert_eq!(insert["dynamodb"]["Keys"]["id"]["S"], "a0", "{insert}");
    // `GetAtt StreamArn` in a function's variables is the stream's real ARN.
    assert_eq!(v["stream_env"], insert["eventSourceARN"], "{v}");
    assert_eq!(insert["dynamodb"]["NewImage"]["v"]["N"], "0", "{insert}");
    assert_eq!(
        insert["dynamodb"]["StreamViewType"], "NEW_AND_OLD_IMAGES",
        "{insert}"
    );
    assert!(insert["dynamodb"]["SequenceNumber"].is_string(), "{insert}");
    assert!(insert["dynamodb"]["SizeBytes"].is_u64(), "{insert}");
    assert!(
        insert["dynamodb"]["ApproximateCreationDateTime"].is_number(),
        "{insert}"
    );
    let modify = &v["records"]["MODIFY:a1"];
    assert_eq!(modify["dynamodb"]["OldImage"]["v"]["N"], "1", "{modify}");
    assert_eq!(modify["dynamodb"]["NewImage"]["v"]["N"], "100", "{modify}");
    let remove = &v["records"]["REMOVE:a2"];
    assert_eq!(remove["dynamodb"]["OldImage"]["v"]["N"], "2", "{remove}");
    assert!(remove.get("userIdentity").is_none(), "{remove}");
    // TTL expiry: deleted by the service, and streamed as such.
    assert_eq!(v["ttl_item_left"], false, "{v}");
    let expired = &v["records"]["REMOVE:ttl1"];
    assert_eq!(expired["userIdentity"]["type"], "Service", "{expired}");
    assert_eq!(
        expired["userIdentity"]["principalId"], "dynamodb.amazonaws.com",
        "{expired}"
    );

    // The mapping polls a few times a second; the access log has no line for it.
    let dynamodb_lines = || {
        std::fs::read_to_string(state.join("logs/access.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(r#""service":"dynamodb""#))
            .count()
    };
    let before = dynamodb_lines();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        dynamodb_lines(),
        before,
        "the box's own polls are not logged"
    );
    assert!(before > 0, "clients' requests are logged");

    // A batch in the function when the box is SIGKILLed is delivered again after the
    // restart, and the records after it are not skipped.
    drive(&dir, "write-slow", &state, &url);
    std::thread::sleep(Duration::from_millis(2000));
    up.kill().expect("kill -9 the box");
    let _ = up.wait();
    let (mut up, url) = start_box(&dir, &state);
    let v = drive(&dir, "wait-slow", &state, &url);
    terminate(&mut up, Duration::from_secs(20));
    let slow = v["slow"].as_object().expect("slow");
    assert_eq!(slow.len(), 20, "every record reached the function: {v}");
    assert!(
        slow.values().all(|n| n.as_u64().is_some_and(|n| n >= 1)),
        "{v}"
    );
}
