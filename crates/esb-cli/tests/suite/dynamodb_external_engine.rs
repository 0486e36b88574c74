//! `--dynamodb-endpoint`: the box in front of a DynamoDB engine that is not ours
//! (moto's server, a real separate process on loopback, standing in for ScyllaDB
//! Alternator or AWS). Functions and host clients keep the box's endpoint and key; the
//! template's tables and the items land on the engine; the box's own key is still
//! checked; a stream mapping polls the engine's Streams API and runs its function.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::s3_external_engine::start_moto;
use crate::support::*;

const HANDLERS: &str = r#"
import json, os
import boto3

table = boto3.resource("dynamodb").Table(os.environ["TABLE"])

def writer(event, context):
    table.put_item(Item={"id": event["id"], "body": event["body"]})
    got = table.get_item(Key={"id": event["id"]})["Item"]
    return {"endpoint": os.environ["AWS_ENDPOINT_URL_DYNAMODB"], "read": got["body"]}

def on_change(event, context):
    seen = boto3.resource("dynamodb").Table(os.environ["SEEN"])
    for r in event["Records"]:
        if r["eventName"] == "INSERT":
            seen.put_item(Item={"id": r["dynamodb"]["Keys"]["id"]["S"], "source": r["eventSource"]})
"#;

/// Host-side checks: through the box with the box's key, and directly on the engine
/// with the engine's key.
const DRIVER: &str = r#"
import json, sys, time
import boto3, botocore
state, box_url, engine_url, lambda_url = sys.argv[1:5]
ca = state + "/certs/ca.pem"
creds = {}
for line in open(state + "/credentials"):
    if "=" in line:
        k, v = line.split("=", 1)
        creds[k.strip()] = v.strip()
keys = dict(aws_access_key_id=creds["aws_access_key_id"], aws_secret_access_key=creds["aws_secret_access_key"])
via_box = boto3.client("dynamodb", endpoint_url=box_url, region_name="us-east-1", verify=ca, **keys)
engine = boto3.client("dynamodb", endpoint_url=engine_url, region_name="us-east-1",
    aws_access_key_id="engine-key", aws_secret_access_key="engine-secret")
lam = boto3.client("lambda", endpoint_url=lambda_url, region_name="us-east-1", verify=ca, **keys)
out = {}
out["engine_tables"] = engine.list_tables()["TableNames"]
via_box.put_item(TableName="ext-items", Item={"id": {"S": "host"}, "n": {"N": "42"}})
out["engine_item"] = engine.get_item(TableName="ext-items", Key={"id": {"S": "host"}}).get("Item")
r = lam.invoke(FunctionName="Writer", Payload=json.dumps({"id": "fn", "body": "from lambda"}))
out["fn"] = json.loads(r["Payload"].read())
out["engine_fn_item"] = engine.get_item(TableName="ext-items", Key={"id": {"S": "fn"}}).get("Item")
try:
    bad = boto3.client("dynamodb", endpoint_url=box_url, region_name="us-east-1", verify=ca,
        aws_access_key_id=creds["aws_access_key_id"], aws_secret_access_key="wrong")
    bad.list_tables()
    out["bad_key"] = "accepted"
except botocore.exceptions.ClientError as e:
    out["bad_key"] = e.response["Error"]["Code"]
try:
    via_box.get_item(TableName="no-such-table", Key={"id": {"S": "x"}})
    out["missing"] = "found"
except botocore.exceptions.ClientError as e:
    out["missing"] = e.response["Error"]["Code"]
# The stream mapping (polling the engine's Streams API) ran OnChange for both inserts.
deadline = time.time() + 90
out["seen"] = []
while time.time() < deadline:
    items = engine.scan(TableName="ext-seen").get("Items", [])
    out["seen"] = sorted(i["id"]["S"] for i in items)
    if len(out["seen"]) >= 2:
        break
    time.sleep(0.5)
print(json.dumps(out))
"#;

const TEMPLATE: &str = r#"
Globals:
  Function:
    Runtime: python3.11
    CodeUri: fn/
    Timeout: 20
    Environment:
      Variables:
        TABLE: !Ref Items
        SEEN: !Ref Seen
Resources:
  Items:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: ext-items
      BillingMode: PAY_PER_REQUEST
      KeySchema: [{AttributeName: id, KeyType: HASH}]
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      StreamSpecification: {StreamViewType: NEW_IMAGE}
  Seen:
    Type: AWS::Serverless::SimpleTable
    Properties:
      TableName: ext-seen
  Writer:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.writer
  OnChange:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.on_change
      Events:
        Changes:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt Items.StreamArn
            StartingPosition: TRIM_HORIZON
            BatchSize: 10
"#;

fn write_project(dir: &Path) {
    std::fs::create_dir_all(dir.join("fn")).expect("project dir");
    std::fs::write(dir.join("fn/app.py"), HANDLERS).expect("handlers");
    std::fs::write(dir.join("template.yaml"), TEMPLATE).expect("template");
}

#[test]
fn dynamodb_external_engine_keeps_the_boxs_key_and_endpoint_and_streams() {
    let (mut moto, moto_port) = start_moto();
    let dir = std::env::temp_dir().join(format!("esb-ddb-external-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    write_project(&dir);
    let state = fresh_state_dir("dynamodb-external");
    let port = free_addr().port();
    let engine_url = format!("http://127.0.0.1:{moto_port}");
    let mut up = esb_command()
        .current_dir(&dir)
        .args(["up", "--runtime", "process", "--port", &port.to_string()])
        .arg("--state-dir")
        .arg(&state)
        .args(["--dynamodb-endpoint", &engine_url])
        .args([
            "--dynamodb-access-key-id",
            "engine-key",
            "--dynamodb-secret-access-key",
            "engine-secret",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("esb up");
    let url = banner_url(&mut up, "DynamoDB: ");
    let script = dir.join("driver.py");
    std::fs::write(&script, DRIVER).expect("driver");
    let out = Command::new(python())
        .arg(&script)
        .arg(&state)
        .arg(&url)
        .arg(&engine_url)
        .arg(format!("https://127.0.0.1:{port}"))
        .output()
        .expect("driver");
    terminate(&mut up, Duration::from_secs(20));
    let _ = moto.kill();
    let _ = moto.wait();
    assert!(
        out.status.success(),
        "driver failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the driver prints JSON");
    // The template's tables were created on the engine.
    for t in ["ext-items", "ext-seen"] {
        assert!(
            v["engine_tables"]
                .as_array()
                .is_some_and(|names| names.iter().any(|n| n == t)),
            "{t}: {v}"
        );
    }
    // Host writes through the box land on the engine.
    assert_eq!(v["engine_item"]["n"]["N"], "42", "{v}");
    // A function reaches DynamoDB through the box's endpoint with the box's key.
    assert_eq!(v["fn"]["read"], "from lambda", "{v}");
    assert_eq!(v["fn"]["endpoint"], url, "{v}");
    assert_eq!(v["engine_fn_item"]["body"]["S"], "from lambda", "{v}");
    // The box checks its own key before anything reaches the engine.
    assert_eq!(v["bad_key"], "InvalidSignatureException", "{v}");
    assert_eq!(v["missing"], "ResourceNotFoundException", "{v}");
    // The stream mapping polled the engine's stream and ran OnChange for both inserts.
    assert_eq!(v["seen"], serde_json::json!(["fn", "host"]), "{v}");
}
