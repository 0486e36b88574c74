//! Template tables on the box's DynamoDB: created by `esb up` as the template declares
//! them, read with the AWS CLI from the host (the README's commands), listed by
//! `esb status`, brought up to date by a `--watch` reload (a new GSI, TTL, the stream
//! turned off) and kept with their items when the template drops them.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::support::*;

const V1: &str = r#"
Resources:
  Orders:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: orders
      BillingMode: PAY_PER_REQUEST
      KeySchema: [{AttributeName: id, KeyType: HASH}]
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      StreamSpecification: {StreamViewType: NEW_IMAGE}
      Tags: [{Key: team, Value: shop}]
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      CodeUri: fn/
      Handler: app.handler
"#;

const V2: &str = r#"
Resources:
  Orders:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: orders
      BillingMode: PAY_PER_REQUEST
      KeySchema: [{AttributeName: id, KeyType: HASH}]
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}, {AttributeName: customer, AttributeType: S}]
      GlobalSecondaryIndexes:
        - IndexName: byCustomer
          KeySchema: [{AttributeName: customer, KeyType: HASH}]
          Projection: {ProjectionType: ALL}
      TimeToLiveSpecification: {AttributeName: expires, Enabled: true}
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      CodeUri: fn/
      Handler: app.handler
"#;

const V3: &str = r#"
Resources:
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      CodeUri: fn/
      Handler: app.handler
"#;

fn aws_cli() -> std::path::PathBuf {
    repo_root().join(".esb-test/venv/bin/aws")
}

/// `aws dynamodb <args> --endpoint-url URL` as the README shows it; its JSON output.
fn aws(state: &Path, url: &str, args: &[&str]) -> Value {
    let out = Command::new(aws_cli())
        .arg("dynamodb")
        .args(args)
        .args([
            "--endpoint-url",
            url,
            "--region",
            "us-east-1",
            "--output",
            "json",
        ])
        .env("AWS_SHARED_CREDENTIALS_FILE", state.join("credentials"))
        .env("AWS_CA_BUNDLE", state.join("certs/ca.pem"))
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .output()
        .expect("aws cli");
    assert!(
        out.status.success(),
        "aws dynamodb {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

fn start_watching(dir: &Path, state: &Path) -> (Child, String) {
    let mut up = esb_command()
        .current_dir(dir)
        .args(["up", "--watch", "--runtime", "process", "--port", "0"])
        .arg("--state-dir")
        .arg(state)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("esb up");
    let url = banner_url(&mut up, "DynamoDB: ");
    (up, url)
}

#[test]
fn dynamodb_template_tables_are_created_updated_on_reload_and_kept() {
    let dir = std::env::temp_dir().join(format!("esb-ddb-tables-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("fn")).expect("project");
    std::fs::write(dir.join("fn/app.py"), "def handler(e, c):\n    return 1\n").expect("fn");
    std::fs::write(dir.join("template.yaml"), V1).expect("template");
    let state = fresh_state_dir("dynamodb-tables");
    let (mut up, url) = start_watching(&dir, &state);

    let t = aws(&state, &url, &["describe-table", "--table-name", "orders"]);
    let table = &t["Table"];
    assert_eq!(table["TableStatus"], "ACTIVE", "{t}");
    assert_eq!(
        table["StreamSpecification"]["StreamViewType"], "NEW_IMAGE",
        "{t}"
    );
    assert_eq!(
        table["TableArn"], "arn:aws:dynamodb:us-east-1:123456789012:table/orders",
        "{t}"
    );
    let tags = aws(
        &state,
        &url,
        &[
            "list-tags-of-resource",
            "--resource-arn",
            table["TableArn"].as_str().unwrap_or_default(),
        ],
    );
    assert_eq!(
        tags["Tags"],
        serde_json::json!([{"Key": "team", "Value": "shop"}]),
        "{tags}"
    );
    aws(
        &state,
        &url,
        &[
            "put-item",
            "--table-name",
            "orders",
            "--item",
            r#"{"id": {"S": "1"}, "customer": {"S": "ann"}}"#,
        ],
    );

    // `esb status` lists the table with its items and stream.
    let status = esb_command()
        .args(["status", "--json", "--state-dir"])
        .arg(&state)
        .output()
        .expect("esb status");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let status: Value = serde_json::from_slice(&status.stdout).expect("status JSON");
    assert_eq!(status["box"]["dynamodb_url"], url.as_str(), "{status}");
    let listed = status["tables"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["name"] == "orders"))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(listed["items"], 1, "{status}");
    assert_eq!(listed["stream"], "NEW_IMAGE", "{status}");

    // A reload adds the GSI (backfilled), turns TTL on and the stream off.
    std::fs::write(dir.join("template.yaml"), V2).expect("template v2");
    wait_for("the new index", Duration::from_secs(60), || {
        let t = aws(&state, &url, &["describe-table", "--table-name", "orders"]);
        t["Table"]["GlobalSecondaryIndexes"][0]["IndexName"] == "byCustomer"
    });
    let q = aws(
        &state,
        &url,
        &[
            "query",
            "--table-name",
            "orders",
            "--index-name",
            "byCustomer",
            "--key-condition-expression",
            "customer = :c",
            "--expression-attribute-values",
            r#"{":c": {"S": "ann"}}"#,
        ],
    );
    assert_eq!(q["Count"], 1, "{q}");
    wait_for("TTL and the stream", Duration::from_secs(30), || {
        let ttl = aws(
            &state,
            &url,
            &["describe-time-to-live", "--table-name", "orders"],
        );
        let t = aws(&state, &url, &["describe-table", "--table-name", "orders"]);
        ttl["TimeToLiveDescription"]["AttributeName"] == "expires"
            && t["Table"]["StreamSpecification"]["StreamEnabled"] != true
    });

    // A template without the table keeps it, items and all.
    std::fs::write(dir.join("template.yaml"), V3).expect("template v3");
    std::thread::sleep(Duration::from_secs(3));
    let item = aws(
        &state,
        &url,
        &[
            "get-item",
            "--table-name",
            "orders",
            "--key",
            r#"{"id": {"S": "1"}}"#,
        ],
    );
    assert_eq!(item["Item"]["customer"]["S"], "ann", "{item}");
    terminate(&mut up, Duration::from_secs(20));
}
