//! `--s3-endpoint`: the box in front of an S3 engine that is not ours (moto's server,
//! a real separate process on loopback). Functions and host clients keep the box's
//! endpoint and key; the objects land on the engine; notifications of writes made
//! through the box still reach Lambda.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

fn moto_server() -> PathBuf {
    repo_root().join(".esb-test/moto/bin/moto_server")
}

/// Starts moto's server on a free loopback port.
pub fn start_moto() -> (Child, u16) {
    start_moto_with(&[])
}

/// [`start_moto`] with environment variables (`MOTO_ACCOUNT_ID`...).
pub fn start_moto_with(env: &[(&str, &str)]) -> (Child, u16) {
    let port = free_addr().port();
    let child = Command::new(moto_server())
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server (scripts/test-deps.sh installs it)");
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto did not listen");
        std::thread::sleep(Duration::from_millis(100));
    }
    (child, port)
}

const HANDLERS: &str = r#"
import json, os, urllib.parse
import boto3

s3 = boto3.client("s3")

def writer(event, context):
    s3.put_object(Bucket=os.environ["BUCKET"], Key="from-fn/" + event["name"], Body=event["body"].encode())
    got = s3.get_object(Bucket=os.environ["BUCKET"], Key="from-fn/" + event["name"])["Body"].read().decode()
    return {"endpoint": os.environ["AWS_ENDPOINT_URL_S3"], "read": got}

def on_upload(event, context):
    record = event["Records"][0]
    key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
    s3.put_object(Bucket=os.environ["BUCKET"], Key="seen/" + key, Body=json.dumps(record).encode())
"#;

/// Host-side checks: through the box with the box's key, and directly on the engine
/// with the engine's key.
const DRIVER: &str = r#"
import json, sys, time, urllib.parse
import boto3, botocore, botocore.config
state, box_url, engine_url, lambda_url = sys.argv[1:5]
ca = state + "/certs/ca.pem"
creds = {}
for line in open(state + "/credentials"):
    if "=" in line:
        k, v = line.split("=", 1)
        creds[k.strip()] = v.strip()
via_box = boto3.client("s3", endpoint_url=box_url, region_name="us-east-1", verify=ca,
    aws_access_key_id=creds["aws_access_key_id"], aws_secret_access_key=creds["aws_secret_access_key"])
# moto reports a wrong CRC32 for multipart objects (seen uploading to it directly), so
# its answers are compared byte for byte here instead of by checksum.
engine = boto3.client("s3", endpoint_url=engine_url, region_name="us-east-1",
    aws_access_key_id="engine-key", aws_secret_access_key="engine-secret",
    config=botocore.config.Config(response_checksum_validation="when_required"))
lam = boto3.client("lambda", endpoint_url=lambda_url, region_name="us-east-1", verify=ca,
    aws_access_key_id=creds["aws_access_key_id"], aws_secret_access_key=creds["aws_secret_access_key"])
out = {}
out["engine_buckets"] = [b["Name"] for b in engine.list_buckets()["Buckets"]]
via_box.put_object(Bucket="ext-data", Key="host/a b.txt", Body=b"through the box", Metadata={"m": "1"})
o = engine.get_object(Bucket="ext-data", Key="host/a b.txt")
out["engine_body"] = o["Body"].read().decode()
out["engine_meta"] = o["Metadata"]
big = bytes(range(256)) * (4 * 4096 * 8)  # 8 MiB: a multipart upload through the box
import io
via_box.upload_fileobj(io.BytesIO(big), "ext-data", "host/big.bin")
out["big_same"] = engine.get_object(Bucket="ext-data", Key="host/big.bin")["Body"].read() == big
r = lam.invoke(FunctionName="Writer", Payload=json.dumps({"name": "x.txt", "body": "from lambda"}))
out["fn"] = json.loads(r["Payload"].read())
out["engine_fn_body"] = engine.get_object(Bucket="ext-data", Key="from-fn/x.txt")["Body"].read().decode()
try:
    bad = boto3.client("s3", endpoint_url=box_url, region_name="us-east-1", verify=ca,
        aws_access_key_id=creds["aws_access_key_id"], aws_secret_access_key="wrong")
    bad.list_objects_v2(Bucket="ext-data")
    out["bad_key"] = "accepted"
except botocore.exceptions.ClientError as e:
    out["bad_key"] = e.response["Error"]["Code"]
try:
    via_box.get_object(Bucket="ext-data", Key="missing")
    out["missing"] = "found"
except botocore.exceptions.ClientError as e:
    out["missing"] = e.response["Error"]["Code"]
# The notified function wrote seen/<key> for the upload under in/.
via_box.put_object(Bucket="ext-data", Key="in/photo 1.jpg", Body=b"jpeg")
deadline = time.time() + 60
out["seen"] = None
while time.time() < deadline:
    try:
        out["seen"] = json.loads(engine.get_object(Bucket="ext-data", Key="seen/in/photo 1.jpg")["Body"].read())
        break
    except botocore.exceptions.ClientError:
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
        BUCKET: ext-data
Resources:
  Data:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: ext-data
  Writer:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.writer
  OnUpload:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.on_upload
      Events:
        Up:
          Type: S3
          Properties:
            Bucket: !Ref Data
            Events: s3:ObjectCreated:*
            Filter:
              S3Key:
                Rules:
                  - Name: prefix
                    Value: in/
"#;

fn write_project(dir: &Path) {
    std::fs::create_dir_all(dir.join("fn")).expect("project dir");
    std::fs::write(dir.join("fn/app.py"), HANDLERS).expect("handlers");
    std::fs::write(dir.join("template.yaml"), TEMPLATE).expect("template");
}

#[test]
fn s3_external_engine_keeps_the_boxs_key_and_endpoint_and_still_notifies() {
    let (mut moto, moto_port) = start_moto();
    let dir = std::env::temp_dir().join(format!("esb-s3-external-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    write_project(&dir);
    let state = fresh_state_dir("s3-external");
    let port = free_addr().port();
    let engine_url = format!("http://127.0.0.1:{moto_port}");
    let mut up = esb_command()
        .current_dir(&dir)
        .args([
            "up",
            "--runtime",
            "process",
            "--port",
            &port.to_string(),
            "--s3-port",
            "0",
        ])
        .arg("--state-dir")
        .arg(&state)
        .args(["--s3-endpoint", &engine_url])
        .args([
            "--s3-access-key-id",
            "engine-key",
            "--s3-secret-access-key",
            "engine-secret",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("esb up");
    let s3_url = banner_url(&mut up, "S3: ");
    let script = dir.join("driver.py");
    std::fs::write(&script, DRIVER).expect("driver");
    let out = Command::new(python())
        .arg(&script)
        .arg(&state)
        .arg(&s3_url)
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
    // The template's bucket was created on the engine.
    assert!(
        v["engine_buckets"]
            .as_array()
            .is_some_and(|b| b.iter().any(|n| n == "ext-data")),
        "{v}"
    );
    // Host writes through the box land on the engine, body and metadata intact.
    assert_eq!(v["engine_body"], "through the box", "{v}");
    assert_eq!(v["engine_meta"]["m"], "1", "{v}");
    assert_eq!(v["big_same"], true, "{v}");
    // A function reaches S3 through the box's endpoint with the box's key.
    assert_eq!(v["fn"]["read"], "from lambda", "{v}");
    assert_eq!(v["fn"]["endpoint"], s3_url, "{v}");
    assert_eq!(v["engine_fn_body"], "from lambda", "{v}");
    // The box checks its own key before anything reaches the engine.
    assert_eq!(v["bad_key"], "SignatureDoesNotMatch", "{v}");
    assert_eq!(v["missing"], "NoSuchKey", "{v}");
    // The notification of a write through the box ran the function.
    let seen = &v["seen"];
    assert_eq!(seen["eventName"], "ObjectCreated:Put", "{v}");
    assert_eq!(seen["s3"]["bucket"]["name"], "ext-data", "{v}");
    assert_eq!(seen["s3"]["object"]["key"], "in/photo+1.jpg", "{v}");
    assert_eq!(seen["s3"]["object"]["size"], 4, "{v}");
}
