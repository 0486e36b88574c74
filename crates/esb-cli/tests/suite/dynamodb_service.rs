//! The box's DynamoDB service end to end, with real clients: the real `esb up` (DynamoDB
//! on a free port) driven by the stock boto3 client and resource APIs, the
//! `dynamodbstreams` client, raw signed requests (botocore's SigV4 signer over a request
//! built by hand) and functions of the box using boto3 themselves; tables, items,
//! expressions, queries and scans, batches, transactions, PartiQL, TTL, streams, tags,
//! authentication; acknowledged writes surviving `kill -9`; and hostile requests each
//! answered with an error while the box keeps serving. Where ESB still differs from
//! DynamoDB, an `#[ignore]`d test says how (run them with `--run-ignored all`).
//!
//! The clients are Python scripts (written to the project folder, run with the test
//! venv's Python) that print what they saw as JSON; the assertions are here.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support;

/// Where the box runs its workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rt {
    Process,
    Docker,
    Containerd,
}

impl Rt {
    fn flag(self) -> &'static str {
        match self {
            Rt::Process => "process",
            Rt::Docker => "docker",
            Rt::Containerd => "containerd",
        }
    }
}

/// The Python every client script starts with: `ddb` (the boto3 client pointed at the
/// box, no retries), `db` (the resource API), `client(service, **kw)` for other clients,
/// `error(call, ...)` (the DynamoDB error a call ends with, None when it succeeds),
/// `create(name, keys, ...)` (a table, waited for) and `out`, the dict the script fills
/// and that is printed as JSON.
const PRELUDE: &str = r#"
import base64, datetime, hashlib, json, os, random, ssl, sys, time, urllib.error, urllib.request, uuid
from decimal import Decimal
import boto3, botocore
from boto3.dynamodb.conditions import Attr, Key
from botocore.config import Config

URL = os.environ["DYNAMODB_URL"]
CTX = ssl.create_default_context(cafile=os.environ["AWS_CA_BUNDLE"])
CONFIG = Config(retries={"max_attempts": 1, "mode": "standard"})

def client(service="dynamodb", config=CONFIG, **kw):
    return boto3.client(service, endpoint_url=URL, region_name="us-east-1", config=config, **kw)

ddb = client()
db = boto3.resource("dynamodb", endpoint_url=URL, region_name="us-east-1", config=CONFIG)

def error(call, *args, **kw):
    try:
        call(*args, **kw)
    except botocore.exceptions.ClientError as e:
        r = e.response
        found = {"status": r["ResponseMetadata"]["HTTPStatusCode"],
                 "code": r.get("Error", {}).get("Code"),
                 "message": r.get("Error", {}).get("Message")}
        if "CancellationReasons" in r:
            found["reasons"] = r["CancellationReasons"]
        if "Item" in r:
            found["item"] = r["Item"]
        return found
    return None

def create(name, keys, attributes=None, **kw):
    """A table keyed by `keys` ([(name, type)]: hash, then range), with `attributes`
    ({name: type}) defined for its indexes; waited for with the table_exists waiter."""
    defs = dict(keys)
    defs.update(attributes or {})
    kw.setdefault("BillingMode", "PAY_PER_REQUEST")
    d = ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": n, "KeyType": t} for (n, _), t in zip(keys, ["HASH", "RANGE"])],
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": t} for n, t in defs.items()],
        **kw)["TableDescription"]
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    return d

out = {}
"#;

/// `send(target, body, ...)`: one DynamoDB request built by hand (`body` a dict or raw
/// bytes), signed with botocore's SigV4 signer unless `sign=False` (with `creds` or the
/// box's, at `at` instead of now), sent with urllib; returns status, the parsed body (or
/// its text) and `type`, the error type after `#`. `big_post(size)` streams a body of
/// `size` spaces and reads whatever the box answers. `alive()` is a normal GetItem.
const RAW_CLIENT: &str = r##"
import http.client
from unittest import mock
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
HOST = URL.split("//")[1]
CREDS = boto3.Session().get_credentials()
T = "DynamoDB_20120810."

def send(target, body, sign=True, creds=None, at=None, headers=None, region="us-east-1",
         service="dynamodb", content_type="application/x-amz-json-1.0"):
    if not isinstance(body, bytes):
        body = json.dumps(body).encode()
    h = {"Content-Type": content_type, "X-Amz-Target": target}
    h.update(headers or {})
    req = AWSRequest(method="POST", url=URL + "/", data=body, headers=h)
    if sign:
        signer = SigV4Auth(creds or CREDS, service, region)
        if at is None:
            signer.add_auth(req)
        else:
            with mock.patch("botocore.auth.get_current_datetime", return_value=at):
                signer.add_auth(req)
    r = urllib.request.Request(URL + "/", data=body, method="POST", headers=dict(req.headers.items()))
    started = time.time()
    try:
        with urllib.request.urlopen(r, context=CTX, timeout=120) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    except Exception as e:
        return {"status": None, "error": repr(e), "secs": time.time() - started}
    try:
        parsed = json.loads(raw)
    except Exception:
        parsed = raw.decode("utf-8", "replace")
    kind = parsed["__type"].split("#")[-1] if isinstance(parsed, dict) and "__type" in parsed else None
    message = (parsed.get("message") or parsed.get("Message")) if isinstance(parsed, dict) else None
    return {"status": status, "body": parsed, "type": kind, "message": message,
            "secs": time.time() - started}

def big_post(size, chunked=False):
    conn = http.client.HTTPSConnection(HOST, context=CTX, timeout=120)
    started = time.time()
    try:
        conn.putrequest("POST", "/")
        conn.putheader("Content-Type", "application/x-amz-json-1.0")
        conn.putheader("X-Amz-Target", T + "PutItem")
        conn.putheader("Transfer-Encoding" if chunked else "Content-Length", "chunked" if chunked else str(size))
        conn.endheaders()
        sent, chunk = 0, b" " * (1 << 20)
        try:
            while sent < size:
                part = chunk[: min(len(chunk), size - sent)]
                conn.send(b"%x\r\n" % len(part) + part + b"\r\n" if chunked else part)
                sent += len(part)
            if chunked:
                conn.send(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass  # the box answered before reading it all: the answer is still there
        r = conn.getresponse()
        return {"status": r.status, "body": r.read().decode("utf-8", "replace"), "secs": time.time() - started}
    except Exception as e:
        return {"status": None, "error": repr(e), "secs": time.time() - started}
    finally:
        conn.close()
"##;

/// A project folder with a template and a box running on it.
struct DdbBox {
    /// `esb up` flags beyond the harness's own.
    flags: Vec<String>,
    rt: Rt,
    dir: PathBuf,
    state: PathBuf,
    child: Child,
    /// The box's DynamoDB endpoint, from the banner.
    url: String,
    /// The gateway's port, and a client trusting the box's CA.
    port: u16,
    client: reqwest::blocking::Client,
    output: Arc<Mutex<Vec<String>>>,
}

/// One `esb up` process of a box.
struct Running {
    child: Child,
    output: Arc<Mutex<Vec<String>>>,
    url: String,
    port: u16,
    client: reqwest::blocking::Client,
}

/// The template's `Resources:` for a box with one function (`echo`), plus `extra`.
fn resources(extra: &str) -> String {
    format!(
        "  Echo:\n    Type: AWS::Serverless::Function\n    Properties: {{FunctionName: echo, Handler: handlers.echo}}\n{extra}"
    )
}

impl DdbBox {
    /// A box (process workers) with no resources beyond one function.
    fn start(name: &str) -> Self {
        Self::start_with(name, Rt::Process, "", &[])
    }

    /// A box on a template of the test functions with `extra` resources, with more
    /// `esb up` flags.
    fn start_with(name: &str, rt: Rt, extra: &str, flags: &[&str]) -> Self {
        let dir =
            support::python_project(&format!("dynamodb-{name}-{}", rt.flag()), &resources(extra));
        let state = dir.join(".esb");
        let run = Self::spawn(&dir, &state, rt, flags);
        Self {
            flags: flags.iter().map(|f| f.to_string()).collect(),
            rt,
            dir,
            state,
            child: run.child,
            url: run.url,
            port: run.port,
            client: run.client,
            output: run.output,
        }
    }

    /// `esb up` on the project (S3 off: these boxes need DynamoDB only); waits for the
    /// banner's DynamoDB line and for the endpoint to accept connections.
    fn spawn(dir: &Path, state: &Path, rt: Rt, flags: &[&str]) -> Running {
        let port = support::free_addr().port();
        let all: Vec<&str> = ["--s3-port", "off", "--dynamodb-port", "0"]
            .into_iter()
            .chain(flags.iter().copied())
            .collect();
        let (mut child, output) = support::esb_up(dir, state, rt.flag(), port, &all);
        let url =
            support::wait_for_service(&mut child, &output, "DynamoDB: ", Duration::from_secs(300));
        let client = support::https_client_within(state, port, Duration::from_secs(300));
        Running {
            child,
            output,
            url,
            port,
            client,
        }
    }

    /// Kills the box with SIGKILL (no chance to flush or clean anything).
    fn kill_hard(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// `esb up` again on the same project and state dir.
    fn restart(&mut self) {
        let flags: Vec<&str> = self.flags.iter().map(String::as_str).collect();
        let run = Self::spawn(&self.dir, &self.state, self.rt, &flags);
        self.child = run.child;
        self.output = run.output;
        self.url = run.url;
        self.port = run.port;
        self.client = run.client;
    }

    /// POSTs `body` (JSON) to the gateway's `path` over HTTPS, as a browser or curl
    /// would (the routes of these templates have no authorizer).
    fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let resp = self
            .client
            .post(format!("https://127.0.0.1:{}{path}", self.port))
            .json(&body)
            .send()
            .unwrap_or_else(|e| panic!("POST {path}: {e}\n{}", self.logs()));
        let status = resp.status().as_u16();
        let text = resp.text().expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// A command with the environment a client of this box's DynamoDB needs.
    fn client_command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        support::aws_client_command(program, &self.state, &self.dir, "DYNAMODB_URL", &self.url)
    }

    /// The command that runs `PRELUDE` + `body` as `<project>/<name>.py`.
    fn script(&self, name: &str, body: &str) -> Command {
        let mut cmd = self.client_command(support::python());
        cmd.arg(support::client_script(&self.dir, name, PRELUDE, body));
        cmd
    }

    /// Runs a client script (see `PRELUDE`) and returns the `out` it printed.
    fn python(&self, name: &str, body: &str) -> Value {
        let out = self.script(name, body).output().expect("run python");
        parse_report(name, &out)
    }

    /// `python` with `RAW_CLIENT` before `body`.
    fn python_raw(&self, name: &str, body: &str) -> Value {
        self.python(name, &format!("{RAW_CLIENT}\n{body}"))
    }

    fn logs(&self) -> String {
        self.output.lock().expect("output lock").join("\n")
    }

    /// True while the box's `esb up` process runs.
    fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for DdbBox {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            if std::thread::panicking() {
                let _ = self.child.kill();
            } else {
                support::terminate(&mut self.child, Duration::from_secs(60));
            }
        }
        let _ = self.child.wait();
        match self.rt {
            Rt::Docker => support::remove_box_objects(&self.state),
            Rt::Containerd => support::containerd::remove_box_objects(&self.state),
            Rt::Process => {}
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn parse_report(name: &str, out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{name}.py failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("{name}.py printed no JSON ({e}):\n{stdout}"))
}

/// `{"status": .., "code": ..}` of an error the script recorded with `error()`.
fn code(v: &Value) -> Value {
    json!({"status": v["status"], "code": v["code"]})
}

fn ddb_error(code: &str) -> Value {
    json!({"status": 400, "code": code})
}

/// `{"status": .., "type": ..}` of an answer the script recorded with `send()`.
fn raw_code(v: &Value) -> Value {
    json!({"status": v["status"], "type": v["type"]})
}

fn raw_error(kind: &str) -> Value {
    json!({"status": 400, "type": kind})
}

fn sorted_strings(v: &Value) -> Vec<String> {
    let mut s: Vec<String> = serde_json::from_value(v.clone()).expect("a list of strings");
    s.sort();
    s
}

// --- tables -----------------------------------------------------------------------------

#[test]
fn dynamodb_tables_with_boto3() {
    let b = DdbBox::start("tables");
    let recorded: Value =
        serde_json::from_str(&std::fs::read_to_string(b.state.join("box.json")).expect("box.json"))
            .expect("box.json is JSON");
    assert_eq!(
        recorded["dynamodb_url"], b.url,
        "box.json names the DynamoDB endpoint the banner shows"
    );
    let r = b.python(
        "tables",
        r#"
d = ddb.create_table(
    TableName="orders",
    KeySchema=[{"AttributeName": "customer", "KeyType": "HASH"}, {"AttributeName": "order", "KeyType": "RANGE"}],
    AttributeDefinitions=[{"AttributeName": n, "AttributeType": t} for n, t in
                          [("customer", "S"), ("order", "S"), ("status", "S"), ("total", "N")]],
    BillingMode="PAY_PER_REQUEST",
    GlobalSecondaryIndexes=[{"IndexName": "by-status", "Projection": {"ProjectionType": "ALL"},
                             "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"}, {"AttributeName": "total", "KeyType": "RANGE"}]}],
    LocalSecondaryIndexes=[{"IndexName": "by-total", "Projection": {"ProjectionType": "KEYS_ONLY"},
                            "KeySchema": [{"AttributeName": "customer", "KeyType": "HASH"}, {"AttributeName": "total", "KeyType": "RANGE"}]}],
)["TableDescription"]
out["created"] = {
    "name": d["TableName"], "status": d["TableStatus"],
    "billing": d.get("BillingModeSummary", {}).get("BillingMode"),
    "keys": d["KeySchema"],
    "gsi": [(i["IndexName"], i["KeySchema"], i["Projection"]) for i in d.get("GlobalSecondaryIndexes", [])],
    "lsi": [(i["IndexName"], i["KeySchema"], i["Projection"]) for i in d.get("LocalSecondaryIndexes", [])],
}
ddb.get_waiter("table_exists").wait(TableName="orders", WaiterConfig={"Delay": 1, "MaxAttempts": 30})
t = ddb.describe_table(TableName="orders")["Table"]
out["described"] = {
    "status": t["TableStatus"], "items": t["ItemCount"], "size": t["TableSizeBytes"],
    "defs": sorted([a["AttributeName"], a["AttributeType"]] for a in t["AttributeDefinitions"]),
    "gsi_status": [i["IndexStatus"] for i in t["GlobalSecondaryIndexes"]],
    "lsi": [i["IndexName"] for i in t["LocalSecondaryIndexes"]],
    "recent": abs(t["CreationDateTime"].timestamp() - time.time()) < 600,
    "arn_ends": t["TableArn"].split(":")[-1], "arn_starts": t["TableArn"].startswith("arn:aws:dynamodb:"),
    "has_id": bool(t.get("TableId")),
}

p = ddb.create_table(
    TableName="inventory",
    KeySchema=[{"AttributeName": "sku", "KeyType": "HASH"}],
    AttributeDefinitions=[{"AttributeName": "sku", "AttributeType": "S"}, {"AttributeName": "shelf", "AttributeType": "N"}],
    BillingMode="PROVISIONED",
    ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 4},
    GlobalSecondaryIndexes=[{"IndexName": "by-shelf", "Projection": {"ProjectionType": "KEYS_ONLY"},
                             "KeySchema": [{"AttributeName": "shelf", "KeyType": "HASH"}],
                             "ProvisionedThroughput": {"ReadCapacityUnits": 3, "WriteCapacityUnits": 2}}],
)["TableDescription"]
ddb.get_waiter("table_exists").wait(TableName="inventory", WaiterConfig={"Delay": 1, "MaxAttempts": 30})
t = ddb.describe_table(TableName="inventory")["Table"]
g = t["GlobalSecondaryIndexes"][0]["ProvisionedThroughput"]
out["provisioned"] = {
    "billing": t.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED"),
    "table": [t["ProvisionedThroughput"]["ReadCapacityUnits"], t["ProvisionedThroughput"]["WriteCapacityUnits"]],
    "gsi": [g["ReadCapacityUnits"], g["WriteCapacityUnits"]],
}

# The resource API: create, wait, read the table's attributes.
made = db.create_table(TableName="made-by-resource",
                       KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                       AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "B"}],
                       BillingMode="PAY_PER_REQUEST")
made.wait_until_exists()
made.reload()
out["resource"] = {"status": made.table_status, "keys": made.key_schema, "count": made.item_count}

out["duplicate"] = error(ddb.create_table, TableName="orders",
                         KeySchema=[{"AttributeName": "customer", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "customer", "AttributeType": "S"}],
                         BillingMode="PAY_PER_REQUEST")
out["describe_missing"] = error(ddb.describe_table, TableName="no-such-table")
out["update_missing"] = error(ddb.update_table, TableName="no-such-table", BillingMode="PAY_PER_REQUEST")
out["delete_missing"] = error(ddb.delete_table, TableName="no-such-table")
out["put_missing"] = error(ddb.put_item, TableName="no-such-table", Item={"k": {"S": "v"}})
out["name_too_short"] = error(ddb.describe_table, TableName="ab")
out["undefined_key"] = error(ddb.create_table, TableName="broken",
                             KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                             AttributeDefinitions=[{"AttributeName": "other", "AttributeType": "S"}],
                             BillingMode="PAY_PER_REQUEST")
waited = ddb.get_waiter("table_exists")
try:
    waited.wait(TableName="no-such-table", WaiterConfig={"Delay": 1, "MaxAttempts": 2})
    out["waiter_missing"] = "returned"
except botocore.exceptions.WaiterError as e:
    out["waiter_missing"] = "gave up"

# Listing, in pages.
for i in range(7):
    create(f"list-{i:02d}", [("id", "S")])
everything = ddb.list_tables()["TableNames"]
out["listed"] = everything
pages, start = [], {}
while True:
    page = ddb.list_tables(Limit=3, **start)
    pages.append(page["TableNames"])
    if "LastEvaluatedTableName" not in page:
        break
    start = {"ExclusiveStartTableName": page["LastEvaluatedTableName"]}
out["limit_pages"] = pages
out["paginated"] = [p["TableNames"] for p in ddb.get_paginator("list_tables").paginate(PaginationConfig={"PageSize": 4})]
out["after_list_03"] = ddb.list_tables(ExclusiveStartTableName="list-03", Limit=2)["TableNames"]
out["limit_101"] = error(ddb.list_tables, Limit=101)
out["resource_listed"] = sorted(t.name for t in db.tables.all())

# UpdateTable: a GSI added to a table with items is backfilled.
ddb.put_item(TableName="list-00", Item={"id": {"S": "before"}, "colour": {"S": "red"}})
u = ddb.update_table(TableName="list-00",
                     AttributeDefinitions=[{"AttributeName": "colour", "AttributeType": "S"}],
                     GlobalSecondaryIndexUpdates=[{"Create": {"IndexName": "by-colour",
                         "KeySchema": [{"AttributeName": "colour", "KeyType": "HASH"}],
                         "Projection": {"ProjectionType": "ALL"}}}])["TableDescription"]
out["gsi_added"] = [i["IndexName"] for i in u.get("GlobalSecondaryIndexes", [])]
for _ in range(60):
    idx = ddb.describe_table(TableName="list-00")["Table"]["GlobalSecondaryIndexes"]
    if all(i["IndexStatus"] == "ACTIVE" for i in idx):
        break
    time.sleep(0.5)
out["gsi_active"] = [i["IndexStatus"] for i in idx]
ddb.put_item(TableName="list-00", Item={"id": {"S": "after"}, "colour": {"S": "red"}})
ddb.put_item(TableName="list-00", Item={"id": {"S": "blue"}, "colour": {"S": "blue"}})
q = ddb.query(TableName="list-00", IndexName="by-colour", KeyConditionExpression="colour = :c",
              ExpressionAttributeValues={":c": {"S": "red"}})
out["gsi_query"] = sorted(i["id"]["S"] for i in q["Items"])
out["gsi_delete"] = [i["IndexName"] for i in ddb.update_table(TableName="list-00",
    GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "by-colour"}}])["TableDescription"].get("GlobalSecondaryIndexes", [])
    if i.get("IndexStatus") != "DELETING"]
for _ in range(60):
    if not ddb.describe_table(TableName="list-00")["Table"].get("GlobalSecondaryIndexes"):
        break
    time.sleep(0.5)
out["gsi_gone"] = error(ddb.query, TableName="list-00", IndexName="by-colour", KeyConditionExpression="colour = :c",
                        ExpressionAttributeValues={":c": {"S": "red"}})

# Billing modes, both ways.
ddb.update_table(TableName="inventory", BillingMode="PAY_PER_REQUEST")
out["to_on_demand"] = ddb.describe_table(TableName="inventory")["Table"]["BillingModeSummary"]["BillingMode"]
ddb.update_table(TableName="list-01", BillingMode="PROVISIONED",
                 ProvisionedThroughput={"ReadCapacityUnits": 7, "WriteCapacityUnits": 3})
t = ddb.describe_table(TableName="list-01")["Table"]
out["to_provisioned"] = {
    "billing": t.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED"),
    "throughput": [t["ProvisionedThroughput"]["ReadCapacityUnits"], t["ProvisionedThroughput"]["WriteCapacityUnits"]],
}

# Delete, and the name is free again.
ddb.put_item(TableName="list-02", Item={"id": {"S": "old"}})
out["deleted"] = ddb.delete_table(TableName="list-02")["TableDescription"]["TableStatus"]
ddb.get_waiter("table_not_exists").wait(TableName="list-02", WaiterConfig={"Delay": 1, "MaxAttempts": 30})
out["describe_deleted"] = error(ddb.describe_table, TableName="list-02")
out["get_deleted"] = error(ddb.get_item, TableName="list-02", Key={"id": {"S": "old"}})
out["listed_after_delete"] = "list-02" in ddb.list_tables()["TableNames"]
create("list-02", [("id", "S")])
out["recreated_empty"] = ddb.scan(TableName="list-02")["Count"]
made.delete()
made.wait_until_not_exists()
out["resource_deleted"] = "made-by-resource" in ddb.list_tables()["TableNames"]

# Tags on the table's ARN.
arn = ddb.describe_table(TableName="orders")["Table"]["TableArn"]
ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "team", "Value": "data"}, {"Key": "env", "Value": "dev"}])
out["tags"] = sorted([t["Key"], t["Value"]] for t in ddb.list_tags_of_resource(ResourceArn=arn)["Tags"])
ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "env", "Value": "prod"}])
out["tags_replaced"] = sorted([t["Key"], t["Value"]] for t in ddb.list_tags_of_resource(ResourceArn=arn)["Tags"])
ddb.untag_resource(ResourceArn=arn, TagKeys=["env", "not-there"])
out["tags_after_untag"] = sorted([t["Key"], t["Value"]] for t in ddb.list_tags_of_resource(ResourceArn=arn)["Tags"])
out["tags_other_table"] = ddb.list_tags_of_resource(
    ResourceArn=ddb.describe_table(TableName="inventory")["Table"]["TableArn"])["Tags"]
out["tags_missing_table"] = error(ddb.list_tags_of_resource, ResourceArn=arn.rsplit("/", 1)[0] + "/no-such-table")
"#,
    );
    let key = |n: &str, t: &str| json!({"AttributeName": n, "KeyType": t});
    assert_eq!(r["created"]["name"], "orders", "{r:#}");
    assert!(
        r["created"]["status"] == "CREATING" || r["created"]["status"] == "ACTIVE",
        "{r:#}"
    );
    assert_eq!(r["created"]["billing"], "PAY_PER_REQUEST");
    assert_eq!(
        r["created"]["keys"],
        json!([key("customer", "HASH"), key("order", "RANGE")])
    );
    assert_eq!(
        r["created"]["gsi"],
        json!([["by-status", [key("status", "HASH"), key("total", "RANGE")], {"ProjectionType": "ALL"}]])
    );
    assert_eq!(
        r["created"]["lsi"],
        json!([["by-total", [key("customer", "HASH"), key("total", "RANGE")], {"ProjectionType": "KEYS_ONLY"}]])
    );
    assert_eq!(
        r["described"],
        json!({
            "status": "ACTIVE", "items": 0, "size": 0,
            "defs": [["customer", "S"], ["order", "S"], ["status", "S"], ["total", "N"]],
            "gsi_status": ["ACTIVE"], "lsi": ["by-total"], "recent": true,
            "arn_ends": "table/orders", "arn_starts": true, "has_id": true,
        })
    );
    assert_eq!(
        r["provisioned"],
        json!({"billing": "PROVISIONED", "table": [5, 4], "gsi": [3, 2]})
    );
    assert_eq!(
        r["resource"],
        json!({"status": "ACTIVE", "keys": [key("id", "HASH")], "count": 0})
    );
    assert_eq!(code(&r["duplicate"]), ddb_error("ResourceInUseException"));
    for missing in [
        "describe_missing",
        "update_missing",
        "delete_missing",
        "put_missing",
    ] {
        assert_eq!(
            code(&r[missing]),
            ddb_error("ResourceNotFoundException"),
            "{missing}: {r:#}"
        );
    }
    assert_eq!(code(&r["name_too_short"]), ddb_error("ValidationException"));
    assert_eq!(code(&r["undefined_key"]), ddb_error("ValidationException"));
    assert_eq!(r["waiter_missing"], "gave up");

    let all = [
        "inventory",
        "list-00",
        "list-01",
        "list-02",
        "list-03",
        "list-04",
        "list-05",
        "list-06",
        "made-by-resource",
        "orders",
    ];
    assert_eq!(
        r["listed"],
        json!(all),
        "ListTables names every table, in order"
    );
    let pages: Vec<Vec<String>> = serde_json::from_value(r["limit_pages"].clone()).expect("pages");
    assert!(pages.iter().all(|p| p.len() <= 3), "{pages:?}");
    assert_eq!(pages.concat(), all, "Limit + ExclusiveStartTableName pages");
    let pages: Vec<Vec<String>> = serde_json::from_value(r["paginated"].clone()).expect("pages");
    assert!(pages.iter().all(|p| p.len() <= 4), "{pages:?}");
    assert_eq!(pages.concat(), all, "the list_tables paginator");
    assert_eq!(r["after_list_03"], json!(["list-04", "list-05"]));
    assert_eq!(code(&r["limit_101"]), ddb_error("ValidationException"));
    assert_eq!(r["resource_listed"], json!(all));

    assert_eq!(r["gsi_added"], json!(["by-colour"]), "{r:#}");
    assert_eq!(r["gsi_active"], json!(["ACTIVE"]));
    assert_eq!(
        r["gsi_query"],
        json!(["after", "before"]),
        "a new index holds the items written before it (backfill) and after"
    );
    assert_eq!(r["gsi_delete"], json!([]), "{r:#}");
    assert_eq!(code(&r["gsi_gone"]), ddb_error("ValidationException"));
    assert_eq!(r["to_on_demand"], "PAY_PER_REQUEST");
    assert_eq!(
        r["to_provisioned"],
        json!({"billing": "PROVISIONED", "throughput": [7, 3]})
    );

    assert_eq!(r["deleted"], "DELETING");
    assert_eq!(
        code(&r["describe_deleted"]),
        ddb_error("ResourceNotFoundException")
    );
    assert_eq!(
        code(&r["get_deleted"]),
        ddb_error("ResourceNotFoundException")
    );
    assert_eq!(r["listed_after_delete"], false);
    assert_eq!(r["recreated_empty"], 0, "a re-created table starts empty");
    assert_eq!(r["resource_deleted"], false);

    assert_eq!(r["tags"], json!([["env", "dev"], ["team", "data"]]));
    assert_eq!(
        r["tags_replaced"],
        json!([["env", "prod"], ["team", "data"]])
    );
    assert_eq!(r["tags_after_untag"], json!([["team", "data"]]));
    assert_eq!(r["tags_other_table"], json!([]));
    // DynamoDB has answered both over time for an ARN that names no table.
    let missing = code(&r["tags_missing_table"]);
    assert!(
        missing == ddb_error("ResourceNotFoundException")
            || missing == ddb_error("AccessDeniedException"),
        "{r:#}"
    );
}

// --- items --------------------------------------------------------------------------------

#[test]
fn dynamodb_items_with_boto3() {
    let b = DdbBox::start("items");
    let r = b.python(
        "items",
        r##"
create("items", [("pk", "S")])
K = {"pk": {"S": "a"}}
out["put_new"] = ddb.put_item(TableName="items", Item={**K, "n": {"N": "1"}}, ReturnValues="ALL_OLD").get("Attributes")
out["put_over"] = ddb.put_item(TableName="items", Item={**K, "n": {"N": "2"}}, ReturnValues="ALL_OLD").get("Attributes")
out["put_all_new"] = error(ddb.put_item, TableName="items", Item=K, ReturnValues="ALL_NEW")
out["get"] = ddb.get_item(TableName="items", Key=K, ConsistentRead=True).get("Item")
out["get_missing"] = "Item" in ddb.get_item(TableName="items", Key={"pk": {"S": "nobody"}})

# Conditions.
out["create_only"] = error(ddb.put_item, TableName="items", Item={**K, "n": {"N": "100"}},
                           ConditionExpression="attribute_not_exists(pk)")
out["create_only_new"] = error(ddb.put_item, TableName="items", Item={"pk": {"S": "fresh"}},
                               ConditionExpression="attribute_not_exists(pk)")
out["compare_fails"] = error(ddb.put_item, TableName="items", Item={**K, "n": {"N": "100"}},
                             ConditionExpression="n > :five", ExpressionAttributeValues={":five": {"N": "5"}})
out["compare_fails_old"] = error(ddb.update_item, TableName="items", Key=K, UpdateExpression="SET n = :x",
                                 ConditionExpression="n > :five", ReturnValuesOnConditionCheckFailure="ALL_OLD",
                                 ExpressionAttributeValues={":five": {"N": "5"}, ":x": {"N": "9"}})
out["delete_fails"] = error(ddb.delete_item, TableName="items", Key=K, ConditionExpression="attribute_exists(nope)")
out["unchanged"] = ddb.get_item(TableName="items", Key=K)["Item"]["n"]

# UpdateExpression.
ddb.put_item(TableName="items", Item={"pk": {"S": "u"}, "n": {"N": "10"}, "tags": {"SS": ["a", "b"]},
                                      "nums": {"NS": ["1", "2"]}, "list": {"L": [{"S": "x"}, {"S": "y"}]},
                                      "map": {"M": {"in": {"M": {"deep": {"N": "1"}}}}}, "gone": {"S": "bye"}})
U = {"pk": {"S": "u"}}
def update(expr, values=None, names=None, rv="ALL_NEW"):
    kw = {"ReturnValues": rv}
    if values: kw["ExpressionAttributeValues"] = values
    if names: kw["ExpressionAttributeNames"] = names
    return ddb.update_item(TableName="items", Key=U, UpdateExpression=expr, **kw).get("Attributes")
one = {":one": {"N": "1"}}
out["arith"] = update("SET n = n + :one, m = n - :one", one, rv="UPDATED_NEW")
out["if_not_exists"] = update("SET c = if_not_exists(c, :zero) + :one, n = if_not_exists(n, :zero)",
                              {":zero": {"N": "0"}, **one}, rv="UPDATED_NEW")
out["list_append"] = update("SET #l = list_append(#l, :tail), fresh = list_append(if_not_exists(fresh, :empty), :tail)",
                            {":tail": {"L": [{"S": "z"}]}, ":empty": {"L": []}}, {"#l": "list"})
out["prepend"] = update("SET #l = list_append(:head, #l)", {":head": {"L": [{"S": "w"}]}}, {"#l": "list"})["list"]
out["remove"] = update("REMOVE gone", rv="UPDATED_OLD")
out["remove_index"] = update("REMOVE #l[0]", names={"#l": "list"})["list"]
out["add_sets"] = update("ADD tags :t, nums :n, hits :five", {":t": {"SS": ["c"]}, ":n": {"NS": ["3"]}, ":five": {"N": "5"}}, rv="UPDATED_NEW")
d = update("DELETE tags :t, nums :n", {":t": {"SS": ["a", "zz"]}, ":n": {"NS": ["1", "2", "3"]}})
out["delete_sets"] = {k: d.get(k) for k in ["tags", "nums"]}
out["nested"] = update("SET #m.#in.deep = #m.#in.deep + :one, #m.#in.added = :s, #m.top = :s",
                       {**one, ":s": {"S": "here"}}, {"#m": "map", "#in": "in"}, rv="UPDATED_NEW")
out["nested_old"] = update("SET #m.#in.deep = :one", one, {"#m": "map", "#in": "in"}, rv="UPDATED_OLD")
out["list_index"] = update("SET #l[1] = :s, #l[10] = :e", {":s": {"S": "second"}, ":e": {"S": "end"}}, {"#l": "list"})["list"]
out["after_updates"] = ddb.get_item(TableName="items", Key=U)["Item"]
out["update_creates"] = ddb.update_item(TableName="items", Key={"pk": {"S": "new-by-update"}}, UpdateExpression="SET v = :v",
                                        ExpressionAttributeValues={":v": {"S": "made"}}, ReturnValues="ALL_NEW")["Attributes"]
out["update_key"] = error(update, "SET pk = :v", {":v": {"S": "b"}})
out["missing_operand"] = error(update, "SET c = nope + :one", one)
out["overlap"] = error(update, "SET #m = :v, #m.top = :v", {":v": {"N": "1"}}, {"#m": "map"})
out["wrong_set_type"] = error(update, "ADD tags :n", {":n": {"NS": ["1"]}})
out["undefined_value"] = error(update, "SET x = :nope")
out["unused_value"] = error(update, "SET x = :a", {":a": {"N": "1"}, ":b": {"N": "2"}})
out["unused_name"] = error(update, "SET x = :a", {":a": {"N": "1"}}, {"#b": "b"})

# ProjectionExpression and reserved words.
def project(expr, names=None):
    kw = {"ExpressionAttributeNames": names} if names else {}
    return ddb.get_item(TableName="items", Key=U, ProjectionExpression=expr, **kw).get("Item")
out["projected"] = project("#m.#in.deep, #l[0], #l[2], n", {"#m": "map", "#in": "in", "#l": "list"})
out["projected_missing"] = project("nothing, #m.nothing", {"#m": "map"})
out["reserved"] = error(project, "name, size")
ddb.put_item(TableName="items", Item={"pk": {"S": "words"}, "name": {"S": "n"}, "size": {"N": "3"}, "status": {"S": "s"}})
out["reserved_named"] = ddb.get_item(TableName="items", Key={"pk": {"S": "words"}}, ProjectionExpression="#n, #s",
                                     ExpressionAttributeNames={"#n": "name", "#s": "size"})["Item"]
out["overlapping_projection"] = error(project, "#m, #m.top", {"#m": "map"})

# Every type, as stored and read back.
big = "1" + "2" * 36 + "3"
typed = {"pk": {"S": "types"}, "s": {"S": "héllo \u2603"}, "n": {"N": big}, "neg": {"N": "-0.000000000000000000000000000000000000012"},
         "dec": {"N": "12.3400"}, "b": {"B": b"\x00\xff\x10"}, "t": {"BOOL": True}, "f": {"BOOL": False}, "z": {"NULL": True},
         "l": {"L": [{"N": "1"}, {"S": "x"}, {"L": []}, {"M": {}}]}, "m": {"M": {"k": {"S": "v"}, "inner": {"M": {"n": {"N": "2"}}}}},
         "ss": {"SS": ["x", "y"]}, "ns": {"NS": ["1", "2.5", "-3"]}, "bs": {"BS": [b"a", b"\x00"]}, "empty_s": {"S": ""}, "empty_b": {"B": b""}}
ddb.put_item(TableName="items", Item=typed)
got = ddb.get_item(TableName="items", Key={"pk": {"S": "types"}})["Item"]
def plain(v):
    (t, x), = v.items()
    if t == "B": return {t: base64.b64encode(x).decode()}
    if t == "BS": return {t: sorted(base64.b64encode(i).decode() for i in x)}
    if t in ("SS", "NS"): return {t: sorted(x)}
    if t == "L": return {t: [plain(i) for i in x]}
    if t == "M": return {t: {k: plain(i) for k, i in x.items()}}
    return v
out["types"] = {k: plain(v) for k, v in got.items()}
out["n_39_digits"] = error(ddb.put_item, TableName="items", Item={"pk": {"S": "x"}, "n": {"N": "1" * 39}})
out["n_overflow"] = error(ddb.put_item, TableName="items", Item={"pk": {"S": "x"}, "n": {"N": "1E+126"}})
out["n_underflow"] = error(ddb.put_item, TableName="items", Item={"pk": {"S": "x"}, "n": {"N": "1E-131"}})
out["n_not_a_number"] = error(ddb.put_item, TableName="items", Item={"pk": {"S": "x"}, "n": {"N": "12abc"}})
out["empty_set"] = error(ddb.put_item, TableName="items", Item={"pk": {"S": "x"}, "ss": {"SS": []}})
out["duplicate_in_set"] = error(ddb.put_item, TableName="items", Item={"pk": {"S": "x"}, "ss": {"SS": ["a", "a"]}})
out["empty_key"] = error(ddb.put_item, TableName="items", Item={"pk": {"S": ""}})
out["key_type"] = error(ddb.put_item, TableName="items", Item={"pk": {"N": "1"}})
out["key_missing"] = error(ddb.put_item, TableName="items", Item={"other": {"S": "1"}})
out["key_extra"] = error(ddb.get_item, TableName="items", Key={"pk": {"S": "a"}, "x": {"S": "1"}})

# The resource API: Python values, numbers as Decimal, exact.
t = db.Table("items")
t.put_item(Item={"pk": "dec", "price": Decimal("12.3400"), "big": Decimal(big), "tiny": Decimal("1E-130"),
                 "nested": {"list": [Decimal("1.5"), "s", True, None, b"\x01"], "set": {Decimal("1"), Decimal("2")}}, "strs": {"a", "b"}})
item = t.get_item(Key={"pk": "dec"}, ConsistentRead=True)["Item"]
out["decimal"] = {
    "price": str(item["price"]), "price_type": type(item["price"]).__name__,
    "big": str(item["big"]), "big_exact": item["big"] == Decimal(big),
    "tiny_exact": item["tiny"] == Decimal("1E-130"),
    "list": [str(x) if isinstance(x, Decimal) else (x.value.hex() if hasattr(x, "value") else x) for x in item["nested"]["list"]],
    "set": sorted(str(x) for x in item["nested"]["set"]), "strs": sorted(item["strs"]),
}
r = t.update_item(Key={"pk": "dec"}, UpdateExpression="SET price = price + :p", ExpressionAttributeValues={":p": Decimal("0.0066")},
                  ReturnValues="UPDATED_NEW")["Attributes"]
out["decimal_add"] = str(r["price"])
out["resource_condition"] = None
try:
    t.put_item(Item={"pk": "dec"}, ConditionExpression=Attr("pk").not_exists())
except t.meta.client.exceptions.ConditionalCheckFailedException as e:
    out["resource_condition"] = e.response["Error"]["Code"]
out["resource_delete"] = t.delete_item(Key={"pk": "dec"}, ReturnValues="ALL_OLD")["Attributes"]["pk"]
out["resource_gone"] = "Item" in t.get_item(Key={"pk": "dec"})

out["delete_old"] = ddb.delete_item(TableName="items", Key=K, ReturnValues="ALL_OLD").get("Attributes")
out["delete_again"] = ddb.delete_item(TableName="items", Key=K, ReturnValues="ALL_OLD").get("Attributes")
"##,
    );
    let item_a = |n: &str| json!({"pk": {"S": "a"}, "n": {"N": n}});
    assert_eq!(r["put_new"], Value::Null, "{r:#}");
    assert_eq!(r["put_over"], item_a("1"));
    assert_eq!(code(&r["put_all_new"]), ddb_error("ValidationException"));
    assert_eq!(r["get"], item_a("2"));
    assert_eq!(r["get_missing"], false);

    assert_eq!(
        code(&r["create_only"]),
        ddb_error("ConditionalCheckFailedException")
    );
    assert_eq!(r["create_only_new"], Value::Null);
    assert_eq!(
        code(&r["compare_fails"]),
        ddb_error("ConditionalCheckFailedException")
    );
    assert!(
        r["compare_fails"].get("item").is_none(),
        "no item without ReturnValuesOnConditionCheckFailure: {r:#}"
    );
    assert_eq!(
        code(&r["compare_fails_old"]),
        ddb_error("ConditionalCheckFailedException")
    );
    assert_eq!(
        r["compare_fails_old"]["item"],
        item_a("2"),
        "ALL_OLD returns the item"
    );
    assert_eq!(
        code(&r["delete_fails"]),
        ddb_error("ConditionalCheckFailedException")
    );
    assert_eq!(r["unchanged"], json!({"N": "2"}));

    assert_eq!(
        r["arith"],
        json!({"n": {"N": "11"}, "m": {"N": "9"}}),
        "{r:#}"
    );
    assert_eq!(
        r["if_not_exists"],
        json!({"c": {"N": "1"}, "n": {"N": "11"}})
    );
    let strings = |l: &[&str]| json!({"L": l.iter().map(|s| json!({"S": s})).collect::<Vec<_>>()});
    assert_eq!(r["list_append"]["list"], strings(&["x", "y", "z"]), "{r:#}");
    assert_eq!(r["list_append"]["fresh"], strings(&["z"]));
    assert_eq!(r["prepend"], strings(&["w", "x", "y", "z"]));
    assert_eq!(
        r["remove"],
        json!({"gone": {"S": "bye"}}),
        "UPDATED_OLD of REMOVE is what was removed: {r:#}"
    );
    assert_eq!(r["remove_index"], strings(&["x", "y", "z"]), "{r:#}");
    assert_eq!(
        r["add_sets"],
        json!({"tags": {"SS": ["a", "b", "c"]}, "nums": {"NS": ["1", "2", "3"]}, "hits": {"N": "5"}}),
        "{r:#}"
    );
    assert_eq!(
        r["delete_sets"],
        json!({"tags": {"SS": ["b", "c"]}, "nums": null}),
        "a set emptied by DELETE is removed: {r:#}"
    );
    assert_eq!(
        r["nested"],
        json!({"map": {"M": {"in": {"M": {"deep": {"N": "2"}, "added": {"S": "here"}}}, "top": {"S": "here"}}}}),
        "{r:#}"
    );
    assert_eq!(
        r["nested_old"],
        json!({"map": {"M": {"in": {"M": {"deep": {"N": "2"}}}}}})
    );
    assert_eq!(
        r["list_index"],
        strings(&["x", "second", "z", "end"]),
        "an index past the end appends: {r:#}"
    );
    let after = &r["after_updates"];
    assert_eq!(
        after["list"],
        strings(&["x", "second", "z", "end"]),
        "{r:#}"
    );
    assert!(
        after.get("gone").is_none() && after.get("nums").is_none(),
        "{r:#}"
    );
    assert_eq!(after["hits"], json!({"N": "5"}));
    assert_eq!(
        r["update_creates"],
        json!({"pk": {"S": "new-by-update"}, "v": {"S": "made"}})
    );
    for refused in [
        "update_key",
        "missing_operand",
        "overlap",
        "wrong_set_type",
        "undefined_value",
        "unused_value",
        "unused_name",
    ] {
        assert_eq!(
            code(&r[refused]),
            ddb_error("ValidationException"),
            "{refused}: {r:#}"
        );
    }

    assert_eq!(
        r["projected"],
        json!({"map": {"M": {"in": {"M": {"deep": {"N": "1"}}}}}, "list": strings(&["x", "z"]), "n": {"N": "11"}}),
        "{r:#}"
    );
    assert_eq!(r["projected_missing"], json!({}));
    assert_eq!(code(&r["reserved"]), ddb_error("ValidationException"));
    assert!(
        r["reserved"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("reserved keyword")),
        "{r:#}"
    );
    assert_eq!(
        r["reserved_named"],
        json!({"name": {"S": "n"}, "size": {"N": "3"}})
    );
    assert_eq!(
        code(&r["overlapping_projection"]),
        ddb_error("ValidationException")
    );

    assert_eq!(
        r["types"],
        json!({
            "pk": {"S": "types"}, "s": {"S": "héllo \u{2603}"},
            "n": {"N": "12222222222222222222222222222222222223"},
            "neg": {"N": "-0.000000000000000000000000000000000000012"},
            "dec": {"N": "12.34"},
            "b": {"B": "AP8Q"}, "t": {"BOOL": true}, "f": {"BOOL": false}, "z": {"NULL": true},
            "l": {"L": [{"N": "1"}, {"S": "x"}, {"L": []}, {"M": {}}]},
            "m": {"M": {"k": {"S": "v"}, "inner": {"M": {"n": {"N": "2"}}}}},
            "ss": {"SS": ["x", "y"]}, "ns": {"NS": ["-3", "1", "2.5"]}, "bs": {"BS": ["AA==", "YQ=="]},
            "empty_s": {"S": ""}, "empty_b": {"B": ""},
        }),
        "every type round-trips (38 digits exact, numbers normalised)"
    );
    for refused in [
        "n_39_digits",
        "n_overflow",
        "n_underflow",
        "n_not_a_number",
        "empty_set",
        "duplicate_in_set",
        "empty_key",
        "key_type",
        "key_missing",
        "key_extra",
    ] {
        assert_eq!(
            code(&r[refused]),
            ddb_error("ValidationException"),
            "{refused}: {r:#}"
        );
    }

    assert_eq!(
        r["decimal"],
        json!({
            "price": "12.34", "price_type": "Decimal",
            "big": "12222222222222222222222222222222222223", "big_exact": true, "tiny_exact": true,
            "list": ["1.5", "s", true, null, "01"], "set": ["1", "2"], "strs": ["a", "b"],
        }),
        "{r:#}"
    );
    assert_eq!(r["decimal_add"], "12.3466");
    assert_eq!(r["resource_condition"], "ConditionalCheckFailedException");
    assert_eq!(r["resource_delete"], "dec");
    assert_eq!(r["resource_gone"], false);
    assert_eq!(r["delete_old"], item_a("2"));
    assert_eq!(r["delete_again"], Value::Null);
}

// --- queries and scans ----------------------------------------------------------------------

#[test]
fn dynamodb_queries_and_scans() {
    let b = DdbBox::start("queries");
    let r = b.python(
        "queries",
        r##"
create("events", [("device", "S"), ("at", "S")], {"kind": "S", "seq": "N"},
       GlobalSecondaryIndexes=[{"IndexName": "by-kind", "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["note"]},
                                "KeySchema": [{"AttributeName": "kind", "KeyType": "HASH"}, {"AttributeName": "seq", "KeyType": "RANGE"}]}],
       LocalSecondaryIndexes=[{"IndexName": "by-seq", "Projection": {"ProjectionType": "KEYS_ONLY"},
                               "KeySchema": [{"AttributeName": "device", "KeyType": "HASH"}, {"AttributeName": "seq", "KeyType": "RANGE"}]}])
t = db.Table("events")
with t.batch_writer() as w:
    for i in range(90):
        w.put_item(Item={"device": f"dev-{i % 3}", "at": f"2024-01-{1 + i // 3:02d}T00:00:{i:02d}", "seq": i,
                         "kind": "even" if i % 2 == 0 else "odd", "note": "n" * (i % 4), "hidden": "h"})
ALL = {(f"dev-{i % 3}", f"2024-01-{1 + i // 3:02d}T00:00:{i:02d}") for i in range(90)}
keys = lambda items: [(x["device"], x["at"]) for x in items]
ats = lambda items: [x["at"] for x in items]

out["begins_with"] = ats(t.query(KeyConditionExpression=Key("device").eq("dev-0") & Key("at").begins_with("2024-01-0"))["Items"])
out["between_desc"] = ats(t.query(KeyConditionExpression=Key("device").eq("dev-1") & Key("at").between("2024-01-10", "2024-01-13"),
                                  ScanIndexForward=False)["Items"])
out["client_between"] = [x["seq"]["N"] for x in ddb.query(TableName="events",
    KeyConditionExpression="device = :d AND #at BETWEEN :lo AND :hi", ExpressionAttributeNames={"#at": "at"},
    ExpressionAttributeValues={":d": {"S": "dev-2"}, ":lo": {"S": "2024-01-29"}, ":hi": {"S": "2024-01-31"}})["Items"]]
out["less_than"] = len(t.query(KeyConditionExpression=Key("device").eq("dev-0") & Key("at").lt("2024-01-05"))["Items"])
f = t.query(KeyConditionExpression=Key("device").eq("dev-1"), FilterExpression=Attr("seq").gt(60) & Attr("note").size().eq(2), Limit=10)
out["filter_page"] = {"count": f["Count"], "scanned": f["ScannedCount"], "more": "LastEvaluatedKey" in f}
f = t.query(KeyConditionExpression=Key("device").eq("dev-1"), FilterExpression=Attr("seq").gt(60) & Attr("note").size().eq(2))
out["filter_all"] = {"seqs": [int(x["seq"]) for x in f["Items"]], "scanned": f["ScannedCount"]}
c = ddb.query(TableName="events", KeyConditionExpression="device = :d", ExpressionAttributeValues={":d": {"S": "dev-2"}}, Select="COUNT")
out["count"] = {"count": c["Count"], "scanned": c["ScannedCount"], "items": "Items" in c}
out["projection"] = t.query(KeyConditionExpression=Key("device").eq("dev-0"), ProjectionExpression="seq, note", Limit=1)["Items"]

# Limit + LastEvaluatedKey by hand, and the paginator: every item of the partition exactly once.
seen, start, pages = [], {}, 0
while True:
    page = t.query(KeyConditionExpression=Key("device").eq("dev-2"), Limit=7, **start)
    seen += ats(page["Items"])
    pages += 1
    if "LastEvaluatedKey" not in page:
        break
    start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}
out["by_hand"] = {"items": len(seen), "distinct": len(set(seen)), "pages": pages, "ordered": seen == sorted(seen)}
seen = []
for page in ddb.get_paginator("query").paginate(TableName="events", KeyConditionExpression="device = :d",
        ExpressionAttributeValues={":d": {"S": "dev-0"}}, ScanIndexForward=False, PaginationConfig={"PageSize": 4}):
    seen += [x["at"]["S"] for x in page["Items"]]
out["paginator"] = {"items": len(seen), "distinct": len(set(seen)), "descending": seen == sorted(seen, reverse=True)}

# Indexes.
g = t.query(IndexName="by-kind", KeyConditionExpression=Key("kind").eq("odd") & Key("seq").gte(81))
out["gsi"] = g["Items"]
seen = []
for page in ddb.get_paginator("query").paginate(TableName="events", IndexName="by-kind", KeyConditionExpression="kind = :k",
        ExpressionAttributeValues={":k": {"S": "even"}}, PaginationConfig={"PageSize": 8}):
    seen += [int(x["seq"]["N"]) for x in page["Items"]]
out["gsi_pages"] = seen == list(range(0, 90, 2))
out["lsi"] = t.query(IndexName="by-seq", KeyConditionExpression=Key("device").eq("dev-0") & Key("seq").lt(10), ScanIndexForward=False)["Items"]
out["gsi_consistent"] = error(t.query, IndexName="by-kind", KeyConditionExpression=Key("kind").eq("odd"), ConsistentRead=True)
out["no_such_index"] = error(t.query, IndexName="nope", KeyConditionExpression=Key("kind").eq("odd"))
out["no_hash_key"] = error(t.query, KeyConditionExpression=Key("at").eq("x"))
out["filter_on_key"] = error(t.query, KeyConditionExpression=Key("device").eq("dev-0"), FilterExpression=Attr("at").eq("x"))

# Scans: pages, filters, counts, and a parallel scan in 4 segments.
seen = []
for page in ddb.get_paginator("scan").paginate(TableName="events", PaginationConfig={"PageSize": 16}):
    seen += [(x["device"]["S"], x["at"]["S"]) for x in page["Items"]]
out["scan"] = {"items": len(seen), "all": set(seen) == ALL}
s = t.scan(FilterExpression=Attr("kind").eq("odd") & Attr("seq").lt(10))
out["scan_filter"] = sorted(int(x["seq"]) for x in s["Items"])
out["scan_count"] = t.scan(Select="COUNT", FilterExpression=Attr("note").exists() & Attr("note").ne(""))["Count"]
s = t.scan(Limit=5)
out["scan_limit"] = {"count": s["Count"], "more": "LastEvaluatedKey" in s}
create("spread", [("id", "S")])
with db.Table("spread").batch_writer() as w:
    for i in range(300):
        w.put_item(Item={"id": f"item-{i}", "n": i})
segments = []
for seg in range(4):
    got = []
    for page in ddb.get_paginator("scan").paginate(TableName="spread", Segment=seg, TotalSegments=4, PaginationConfig={"PageSize": 13}):
        got += [x["id"]["S"] for x in page["Items"]]
    segments.append(got)
flat = [i for s in segments for i in s]
out["parallel"] = {"items": len(flat), "distinct": len(set(flat)), "all": set(flat) == {f"item-{i}" for i in range(300)}}
out["segment_out_of_range"] = error(ddb.scan, TableName="spread", Segment=4, TotalSegments=4)
out["segment_without_total"] = error(ddb.scan, TableName="spread", Segment=1)
"##,
    );
    assert_eq!(
        r["begins_with"],
        json!([
            "2024-01-01T00:00:00",
            "2024-01-02T00:00:03",
            "2024-01-03T00:00:06",
            "2024-01-04T00:00:09",
            "2024-01-05T00:00:12",
            "2024-01-06T00:00:15",
            "2024-01-07T00:00:18",
            "2024-01-08T00:00:21",
            "2024-01-09T00:00:24"
        ]),
        "{r:#}"
    );
    assert_eq!(
        r["between_desc"],
        json!([
            "2024-01-12T00:00:34",
            "2024-01-11T00:00:31",
            "2024-01-10T00:00:28"
        ]),
        "BETWEEN, newest first"
    );
    assert_eq!(r["client_between"], json!(["86", "89"]));
    assert_eq!(r["less_than"], 4);
    // Limit counts items read, before the filter.
    assert_eq!(
        r["filter_page"],
        json!({"count": 0, "scanned": 10, "more": true}),
        "{r:#}"
    );
    assert_eq!(
        r["filter_all"],
        json!({"seqs": [70, 82], "scanned": 30}),
        "{r:#}"
    );
    assert_eq!(
        r["count"],
        json!({"count": 30, "scanned": 30, "items": false})
    );
    assert_eq!(r["projection"], json!([{"seq": "0", "note": ""}]));
    assert_eq!(
        r["by_hand"],
        json!({"items": 30, "distinct": 30, "pages": 5, "ordered": true}),
        "{r:#}"
    );
    assert_eq!(
        r["paginator"],
        json!({"items": 30, "distinct": 30, "descending": true})
    );
    let gsi: Vec<Value> = serde_json::from_value(r["gsi"].clone()).expect("items");
    assert_eq!(
        gsi.iter().map(|i| i["seq"].clone()).collect::<Vec<_>>(),
        [
            json!("81"),
            json!("83"),
            json!("85"),
            json!("87"),
            json!("89")
        ],
        "{r:#}"
    );
    for item in &gsi {
        let mut names: Vec<&str> = item
            .as_object()
            .expect("item")
            .keys()
            .map(String::as_str)
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["at", "device", "kind", "note", "seq"],
            "an INCLUDE projection: the keys and `note`, not `hidden`"
        );
    }
    assert_eq!(r["gsi_pages"], true, "{r:#}");
    assert_eq!(
        r["lsi"],
        json!([
            {"device": "dev-0", "at": "2024-01-04T00:00:09", "seq": "9"},
            {"device": "dev-0", "at": "2024-01-03T00:00:06", "seq": "6"},
            {"device": "dev-0", "at": "2024-01-02T00:00:03", "seq": "3"},
            {"device": "dev-0", "at": "2024-01-01T00:00:00", "seq": "0"},
        ]),
        "a KEYS_ONLY LSI: table and index keys"
    );
    for refused in [
        "gsi_consistent",
        "no_such_index",
        "no_hash_key",
        "filter_on_key",
    ] {
        assert_eq!(
            code(&r[refused]),
            ddb_error("ValidationException"),
            "{refused}: {r:#}"
        );
    }
    assert_eq!(r["scan"], json!({"items": 90, "all": true}));
    assert_eq!(r["scan_filter"], json!([1, 3, 5, 7, 9]));
    assert_eq!(r["scan_count"], 67);
    assert_eq!(r["scan_limit"], json!({"count": 5, "more": true}));
    assert_eq!(
        r["parallel"],
        json!({"items": 300, "distinct": 300, "all": true}),
        "the segments of a parallel scan cover every item exactly once"
    );
    assert_eq!(
        code(&r["segment_out_of_range"]),
        ddb_error("ValidationException")
    );
    assert_eq!(
        code(&r["segment_without_total"]),
        ddb_error("ValidationException")
    );
}

// --- batches and transactions ------------------------------------------------------------------

#[test]
fn dynamodb_batches_and_transactions() {
    let b = DdbBox::start("batches");
    let r = b.python(
        "batches",
        r##"
create("stock", [("sku", "S")])
create("ledger", [("account", "S"), ("entry", "N")])
puts = lambda lo, hi: [{"PutRequest": {"Item": {"sku": {"S": f"sku-{i:03d}"}, "qty": {"N": str(i)}}}} for i in range(lo, hi)]
w = ddb.batch_write_item(RequestItems={"stock": puts(0, 25)})
out["write_25"] = w["UnprocessedItems"]
for lo in range(25, 100, 25):
    left = {"stock": puts(lo, lo + 25)}
    while left:
        left = ddb.batch_write_item(RequestItems=left)["UnprocessedItems"]
out["write_26"] = error(ddb.batch_write_item, RequestItems={"stock": puts(100, 126)})
out["write_26_wrote"] = "Item" in ddb.get_item(TableName="stock", Key={"sku": {"S": "sku-100"}})
out["write_duplicate_keys"] = error(ddb.batch_write_item, RequestItems={"stock": puts(0, 1) + puts(0, 1)})
out["write_missing_table"] = error(ddb.batch_write_item, RequestItems={"no-such-table": puts(0, 1)})
out["write_two_tables"] = ddb.batch_write_item(RequestItems={
    "stock": [{"DeleteRequest": {"Key": {"sku": {"S": "sku-099"}}}}],
    "ledger": [{"PutRequest": {"Item": {"account": {"S": "x"}, "entry": {"N": "1"}}}}]})["UnprocessedItems"]

keys = [{"sku": {"S": f"sku-{i:03d}"}} for i in range(100)]
got, ask = [], {"stock": {"Keys": keys}}
first = ddb.batch_get_item(RequestItems=ask)
got += first["Responses"]["stock"]
out["get_100_unprocessed"] = first["UnprocessedKeys"]
ask = first["UnprocessedKeys"]
while ask:
    page = ddb.batch_get_item(RequestItems=ask)
    got += page["Responses"]["stock"]
    ask = page["UnprocessedKeys"]
out["get_100"] = {"items": len(got), "skus": sorted({x["sku"]["S"] for x in got}) == [f"sku-{i:03d}" for i in range(99)]}
out["get_101"] = error(ddb.batch_get_item, RequestItems={"stock": {"Keys": keys + [{"sku": {"S": "sku-100"}}]}})
out["get_duplicate_keys"] = error(ddb.batch_get_item, RequestItems={"stock": {"Keys": keys[:1] * 2}})
p = ddb.batch_get_item(RequestItems={"stock": {"Keys": keys[:3], "ProjectionExpression": "qty"}})
out["get_projected"] = sorted(int(x["qty"]["N"]) for x in p["Responses"]["stock"])

# The resource API's batch_writer sends in batches of 25 and resends unprocessed items.
t = db.Table("stock")
with t.batch_writer(overwrite_by_pkeys=["sku"]) as bw:
    for i in range(260):
        bw.put_item(Item={"sku": f"bw-{i % 250:03d}", "blob": "x" * 2000, "round": i // 250})
    bw.delete_item(Key={"sku": "sku-000"})
n, start = 0, {}
while True:
    page = t.scan(FilterExpression=Attr("sku").begins_with("bw-"), **start)
    n += len(page["Items"])
    if "LastEvaluatedKey" not in page:
        break
    start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}
out["batch_writer"] = {"items": n, "overwritten": int(t.get_item(Key={"sku": "bw-005"})["Item"]["round"]),
                       "deleted": "Item" in t.get_item(Key={"sku": "sku-000"})}

# Transactions: a transfer between two accounts with a log entry, a delete and a check.
ddb.put_item(TableName="ledger", Item={"account": {"S": "alice"}, "entry": {"N": "0"}, "balance": {"N": "100"}})
ddb.put_item(TableName="ledger", Item={"account": {"S": "bob"}, "entry": {"N": "0"}, "balance": {"N": "0"}})
ddb.put_item(TableName="ledger", Item={"account": {"S": "temp"}, "entry": {"N": "0"}})
def balance(who):
    return int(ddb.get_item(TableName="ledger", Key={"account": {"S": who}, "entry": {"N": "0"}}, ConsistentRead=True)["Item"]["balance"]["N"])
def transfer(amount, entry, token=None):
    kw = {"ClientRequestToken": token} if token else {}
    return ddb.transact_write_items(TransactItems=[
        {"Update": {"TableName": "ledger", "Key": {"account": {"S": "alice"}, "entry": {"N": "0"}},
                    "UpdateExpression": "SET balance = balance - :a", "ConditionExpression": "balance >= :a",
                    "ExpressionAttributeValues": {":a": {"N": str(amount)}}}},
        {"Update": {"TableName": "ledger", "Key": {"account": {"S": "bob"}, "entry": {"N": "0"}},
                    "UpdateExpression": "SET balance = balance + :a", "ExpressionAttributeValues": {":a": {"N": str(amount)}}}},
        {"Put": {"TableName": "ledger", "Item": {"account": {"S": "log"}, "entry": {"N": str(entry)}, "amount": {"N": str(amount)}},
                 "ConditionExpression": "attribute_not_exists(account)"}},
        {"Delete": {"TableName": "ledger", "Key": {"account": {"S": "temp"}, "entry": {"N": str(entry - 1)}}}},
        {"ConditionCheck": {"TableName": "stock", "Key": {"sku": {"S": "sku-001"}}, "ConditionExpression": "attribute_exists(sku)"}},
    ], **kw)
transfer(30, 1)
out["after_transfer"] = [balance("alice"), balance("bob"),
                         "Item" in ddb.get_item(TableName="ledger", Key={"account": {"S": "log"}, "entry": {"N": "1"}}),
                         "Item" in ddb.get_item(TableName="ledger", Key={"account": {"S": "temp"}, "entry": {"N": "0"}})]
failed = error(transfer, 1000, 2)
out["overdraft"] = failed
out["after_overdraft"] = [balance("alice"), balance("bob"),
                          "Item" in ddb.get_item(TableName="ledger", Key={"account": {"S": "log"}, "entry": {"N": "2"}})]
out["check_fails_old"] = error(ddb.transact_write_items, TransactItems=[
    {"Put": {"TableName": "stock", "Item": {"sku": {"S": "never"}}}},
    {"ConditionCheck": {"TableName": "ledger", "Key": {"account": {"S": "alice"}, "entry": {"N": "0"}},
                        "ConditionExpression": "balance > :x", "ExpressionAttributeValues": {":x": {"N": "1000"}},
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}])
out["never_written"] = "Item" in ddb.get_item(TableName="stock", Key={"sku": {"S": "never"}})
out["same_item_twice"] = error(ddb.transact_write_items, TransactItems=[
    {"Put": {"TableName": "stock", "Item": {"sku": {"S": "twice"}}}},
    {"Delete": {"TableName": "stock", "Key": {"sku": {"S": "twice"}}}}])
out["over_100"] = error(ddb.transact_write_items, TransactItems=[
    {"Put": {"TableName": "stock", "Item": {"sku": {"S": f"tx-{i}"}}}} for i in range(101)])
out["missing_table"] = error(ddb.transact_write_items, TransactItems=[
    {"Put": {"TableName": "no-such-table", "Item": {"sku": {"S": "x"}}}}])

# Idempotency: the same token and request is done once; the token with another request is refused.
token = str(uuid.uuid4())
transfer(10, 3, token)
transfer(10, 3, token)
out["idempotent"] = [balance("alice"), balance("bob")]
out["token_reused"] = error(transfer, 11, 4, token)
out["without_token"] = error(transfer, 10, 3)

tg = ddb.transact_get_items(TransactItems=[
    {"Get": {"TableName": "ledger", "Key": {"account": {"S": "alice"}, "entry": {"N": "0"}}}},
    {"Get": {"TableName": "stock", "Key": {"sku": {"S": "sku-001"}}}},
    {"Get": {"TableName": "stock", "Key": {"sku": {"S": "no-such-sku"}}}}])["Responses"]
out["transact_get"] = tg
out["transact_get_missing_table"] = error(ddb.transact_get_items, TransactItems=[
    {"Get": {"TableName": "no-such-table", "Key": {"sku": {"S": "x"}}}}])
"##,
    );
    assert_eq!(r["write_25"], json!({}), "{r:#}");
    assert_eq!(code(&r["write_26"]), ddb_error("ValidationException"));
    assert_eq!(r["write_26_wrote"], false, "a refused batch writes nothing");
    assert_eq!(
        code(&r["write_duplicate_keys"]),
        ddb_error("ValidationException")
    );
    assert_eq!(
        code(&r["write_missing_table"]),
        ddb_error("ResourceNotFoundException")
    );
    assert_eq!(r["write_two_tables"], json!({}));
    assert_eq!(r["get_100_unprocessed"], json!({}), "{r:#}");
    assert_eq!(r["get_100"], json!({"items": 99, "skus": true}), "{r:#}");
    assert_eq!(code(&r["get_101"]), ddb_error("ValidationException"));
    assert_eq!(
        code(&r["get_duplicate_keys"]),
        ddb_error("ValidationException")
    );
    assert_eq!(r["get_projected"], json!([0, 1, 2]));
    assert_eq!(
        r["batch_writer"],
        json!({"items": 250, "overwritten": 1, "deleted": false}),
        "{r:#}"
    );

    assert_eq!(r["after_transfer"], json!([70, 30, true, false]), "{r:#}");
    let overdraft = &r["overdraft"];
    assert_eq!(
        code(overdraft),
        ddb_error("TransactionCanceledException"),
        "{r:#}"
    );
    let reasons: Vec<&str> = overdraft["reasons"]
        .as_array()
        .expect("CancellationReasons")
        .iter()
        .map(|c| c["Code"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        reasons,
        ["ConditionalCheckFailed", "None", "None", "None", "None"],
        "one reason per action, in order"
    );
    assert_eq!(
        r["after_overdraft"],
        json!([70, 30, false]),
        "a cancelled transaction changes nothing"
    );
    let failed = &r["check_fails_old"];
    assert_eq!(code(failed), ddb_error("TransactionCanceledException"));
    assert_eq!(failed["reasons"][0]["Code"], "None", "{r:#}");
    assert_eq!(failed["reasons"][1]["Code"], "ConditionalCheckFailed");
    assert_eq!(
        failed["reasons"][1]["Item"],
        json!({"account": {"S": "alice"}, "entry": {"N": "0"}, "balance": {"N": "70"}}),
        "ALL_OLD puts the item in the reason"
    );
    assert_eq!(r["never_written"], false);
    assert_eq!(
        code(&r["same_item_twice"]),
        ddb_error("ValidationException")
    );
    assert_eq!(code(&r["over_100"]), ddb_error("ValidationException"));
    assert_eq!(
        code(&r["missing_table"]),
        ddb_error("ResourceNotFoundException")
    );
    assert_eq!(
        r["idempotent"],
        json!([60, 40]),
        "a retried request with its token is done once"
    );
    assert_eq!(
        code(&r["token_reused"]),
        ddb_error("IdempotentParameterMismatchException")
    );
    // Without a token the same request is a new one: its Put finds the log entry.
    assert_eq!(
        code(&r["without_token"]),
        ddb_error("TransactionCanceledException")
    );
    assert_eq!(
        r["transact_get"],
        json!([
            {"Item": {"account": {"S": "alice"}, "entry": {"N": "0"}, "balance": {"N": "60"}}},
            {"Item": {"sku": {"S": "sku-001"}, "qty": {"N": "1"}}},
            {},
        ])
    );
    assert_eq!(
        code(&r["transact_get_missing_table"]),
        ddb_error("ResourceNotFoundException")
    );
}

// --- PartiQL ---------------------------------------------------------------------------------

#[test]
fn dynamodb_partiql() {
    let b = DdbBox::start("partiql");
    let r = b.python(
        "partiql",
        r##"
create("music", [("artist", "S"), ("song", "N")])
run = lambda stmt, *params, **kw: ddb.execute_statement(Statement=stmt, Parameters=list(params), **kw) if params else ddb.execute_statement(Statement=stmt, **kw)
for i in range(7):
    run("INSERT INTO music VALUE {'artist': ?, 'song': ?, 'tags': ?, 'plays': ?}",
        {"S": "band"}, {"N": str(i)}, {"SS": ["rock", "live"]}, {"N": "0"})
out["insert"] = run("INSERT INTO \"music\" VALUE {'artist': ?, 'song': ?}", {"S": "solo"}, {"N": "1"})["Items"]
out["insert_duplicate"] = error(run, "INSERT INTO music VALUE {'artist': ?, 'song': ?}", {"S": "solo"}, {"N": "1"})
out["select"] = run("SELECT * FROM music WHERE artist = ? AND song = ?", {"S": "solo"}, {"N": "1"})["Items"]
out["select_where"] = [x["song"]["N"] for x in run("SELECT song FROM music WHERE artist = 'band' AND song > 4 ORDER BY song DESC")["Items"]]
pages, kw = [], {}
while True:
    page = run("SELECT song FROM music WHERE artist = ?", {"S": "band"}, Limit=3, **kw)
    pages.append([x["song"]["N"] for x in page["Items"]])
    if "NextToken" not in page:
        break
    kw = {"NextToken": page["NextToken"]}
out["select_pages"] = [s for p in pages for s in p]
out["update"] = run("UPDATE music SET plays = plays + ? SET tags = set_add(tags, ?) WHERE artist = ? AND song = ? RETURNING ALL NEW *",
                    {"N": "5"}, {"SS": ["loud"]}, {"S": "band"}, {"N": "0"})["Items"]
out["update_remove"] = run("UPDATE music REMOVE tags WHERE artist = 'band' AND song = 1 RETURNING ALL OLD *")["Items"]
out["update_missing"] = error(run, "UPDATE music SET plays = 1 WHERE artist = 'band' AND song = 99")
out["delete_condition"] = error(run, "DELETE FROM music WHERE artist = 'band' AND song = 2 AND plays = 5")
out["delete"] = run("DELETE FROM music WHERE artist = ? AND song = ?", {"S": "band"}, {"N": "2"})["Items"]
out["deleted"] = run("SELECT * FROM music WHERE artist = 'band' AND song = 2")["Items"]
out["syntax"] = error(run, "SELEKT * FROM music")
out["missing_table"] = error(run, "SELECT * FROM no_such_table")
out["wrong_parameters"] = error(run, "SELECT * FROM music WHERE artist = ?")

batch = ddb.batch_execute_statement(Statements=[
    {"Statement": "INSERT INTO music VALUE {'artist': 'duo', 'song': 1}"},
    {"Statement": "INSERT INTO music VALUE {'artist': 'solo', 'song': 1}"},
    {"Statement": "UPDATE music SET plays = 9 WHERE artist = ? AND song = ?", "Parameters": [{"S": "band"}, {"N": "3"}]},
])["Responses"]
out["batch_writes"] = [x.get("Error", {}).get("Code") for x in batch]
reads = ddb.batch_execute_statement(Statements=[
    {"Statement": "SELECT plays FROM music WHERE artist = 'band' AND song = 3"},
    {"Statement": "SELECT * FROM music WHERE artist = 'duo' AND song = 1"},
    {"Statement": "SELECT * FROM music WHERE artist = 'nobody' AND song = 1"},
])["Responses"]
out["batch_reads"] = [x.get("Item") for x in reads]
out["batch_mixed"] = error(ddb.batch_execute_statement, Statements=[
    {"Statement": "INSERT INTO music VALUE {'artist': 'trio', 'song': 1}"},
    {"Statement": "SELECT * FROM music WHERE artist = 'band' AND song = 3"}])

ddb.execute_transaction(TransactStatements=[
    {"Statement": "UPDATE music SET plays = plays - 1 WHERE artist = 'band' AND song = 3"},
    {"Statement": "INSERT INTO music VALUE {'artist': 'trio', 'song': 1}"},
    {"Statement": "DELETE FROM music WHERE artist = 'duo' AND song = 1"},
])
out["after_transaction"] = [
    run("SELECT plays FROM music WHERE artist = 'band' AND song = 3")["Items"],
    len(run("SELECT * FROM music WHERE artist = 'trio' AND song = 1")["Items"]),
    len(run("SELECT * FROM music WHERE artist = 'duo' AND song = 1")["Items"]),
]
out["transaction_cancelled"] = error(ddb.execute_transaction, TransactStatements=[
    {"Statement": "UPDATE music SET plays = 100 WHERE artist = 'band' AND song = 3"},
    {"Statement": "INSERT INTO music VALUE {'artist': 'trio', 'song': 1}"}])
out["after_cancel"] = run("SELECT plays FROM music WHERE artist = 'band' AND song = 3")["Items"]
tx_reads = ddb.execute_transaction(TransactStatements=[
    {"Statement": "SELECT plays FROM music WHERE artist = 'band' AND song = 3"},
    {"Statement": "SELECT * FROM music WHERE artist = 'nobody' AND song = 1"}])["Responses"]
out["transaction_reads"] = [x.get("Item") for x in tx_reads]
"##,
    );
    assert_eq!(r["insert"], json!([]), "{r:#}");
    assert_eq!(
        code(&r["insert_duplicate"]),
        ddb_error("DuplicateItemException")
    );
    assert_eq!(
        r["select"],
        json!([{"artist": {"S": "solo"}, "song": {"N": "1"}}])
    );
    assert_eq!(r["select_where"], json!(["6", "5"]));
    assert_eq!(
        r["select_pages"],
        json!(["0", "1", "2", "3", "4", "5", "6"]),
        "Limit + NextToken pages through every item once: {r:#}"
    );
    assert_eq!(
        r["update"],
        json!([{"artist": {"S": "band"}, "song": {"N": "0"}, "plays": {"N": "5"}, "tags": {"SS": ["live", "loud", "rock"]}}]),
        "{r:#}"
    );
    assert_eq!(
        r["update_remove"],
        json!([{"artist": {"S": "band"}, "song": {"N": "1"}, "plays": {"N": "0"}, "tags": {"SS": ["live", "rock"]}}])
    );
    // UPDATE and DELETE of PartiQL hold a condition on the item's existence and WHERE.
    assert_eq!(
        code(&r["update_missing"]),
        ddb_error("ConditionalCheckFailedException")
    );
    assert_eq!(
        code(&r["delete_condition"]),
        ddb_error("ConditionalCheckFailedException")
    );
    assert_eq!(r["delete"], json!([]));
    assert_eq!(r["deleted"], json!([]));
    assert_eq!(code(&r["syntax"]), ddb_error("ValidationException"));
    assert_eq!(
        code(&r["missing_table"]),
        ddb_error("ResourceNotFoundException")
    );
    assert_eq!(
        code(&r["wrong_parameters"]),
        ddb_error("ValidationException")
    );

    assert_eq!(
        r["batch_writes"],
        json!([null, "DuplicateItem", null]),
        "one statement's error leaves the others done"
    );
    assert_eq!(
        r["batch_reads"],
        json!([{"plays": {"N": "9"}}, {"artist": {"S": "duo"}, "song": {"N": "1"}}, null])
    );
    assert_eq!(code(&r["batch_mixed"]), ddb_error("ValidationException"));
    assert_eq!(
        r["after_transaction"],
        json!([[{"plays": {"N": "8"}}], 1, 0])
    );
    let cancelled = &r["transaction_cancelled"];
    assert_eq!(code(cancelled), ddb_error("TransactionCanceledException"));
    let reasons: Vec<&str> = cancelled["reasons"]
        .as_array()
        .expect("CancellationReasons")
        .iter()
        .map(|c| c["Code"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(reasons, ["None", "DuplicateItem"], "{r:#}");
    assert_eq!(r["after_cancel"], json!([{"plays": {"N": "8"}}]));
    assert_eq!(r["transaction_reads"], json!([{"plays": {"N": "8"}}, null]));
}

// --- TTL and streams -------------------------------------------------------------------------

/// `streams`: the stock `dynamodbstreams` client; `records(table)`: every record of the
/// table's stream so far, from TRIM_HORIZON of each shard.
const STREAMS: &str = r#"
streams = client("dynamodbstreams")

def records(table, view=None):
    arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    found = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        for _ in range(100):
            page = streams.get_records(ShardIterator=it, Limit=100)
            found += page["Records"]
            it = page.get("NextShardIterator")
            if not page["Records"] or not it:
                break
    return found

def brief(record):
    d = record["dynamodb"]
    return {"event": record["eventName"], "keys": d["Keys"], "old": d.get("OldImage"), "new": d.get("NewImage"),
            "view": d.get("StreamViewType"), "identity": record.get("userIdentity")}
"#;

#[test]
fn dynamodb_ttl_deletes_expired_items() {
    let b = DdbBox::start_with("ttl", Rt::Process, "", &["--dynamodb-ttl-sweep", "1"]);
    let r = b.python(
        "ttl",
        &format!(
            "{STREAMS}\n{}",
            r##"
create("sessions", [("id", "S")], StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
out["before"] = ddb.describe_time_to_live(TableName="sessions")["TimeToLiveDescription"]
out["enable"] = ddb.update_time_to_live(TableName="sessions", TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"})["TimeToLiveSpecification"]
out["after"] = ddb.describe_time_to_live(TableName="sessions")["TimeToLiveDescription"]
out["missing_table"] = error(ddb.describe_time_to_live, TableName="no-such-table")
now = int(time.time())
t = db.Table("sessions")
t.put_item(Item={"id": "expired", "expires": now - 60, "user": "ann"})
t.put_item(Item={"id": "future", "expires": now + 3600})
t.put_item(Item={"id": "string-ttl", "expires": str(now - 60)})
t.put_item(Item={"id": "no-ttl"})
t.put_item(Item={"id": "nested-ttl", "inner": {"expires": now - 60}})
deadline = time.time() + 60
while time.time() < deadline and "Item" in t.get_item(Key={"id": "expired"}):
    time.sleep(0.25)
out["expired_gone"] = "Item" not in t.get_item(Key={"id": "expired"})
time.sleep(2)  # two more sweeps
out["left"] = sorted(x["id"] for x in t.scan()["Items"])
removes = [brief(x) for x in records("sessions") if x["eventName"] == "REMOVE"]
out["removes"] = removes
"##
        ),
    );
    assert_eq!(
        r["before"],
        json!({"TimeToLiveStatus": "DISABLED"}),
        "{r:#}"
    );
    assert_eq!(
        r["enable"],
        json!({"Enabled": true, "AttributeName": "expires"})
    );
    let status = r["after"]["TimeToLiveStatus"].as_str().unwrap_or_default();
    assert!(status == "ENABLING" || status == "ENABLED", "{r:#}");
    assert_eq!(r["after"]["AttributeName"], "expires");
    assert_eq!(
        code(&r["missing_table"]),
        ddb_error("ResourceNotFoundException")
    );
    assert_eq!(r["expired_gone"], true, "{r:#}\n{}", b.logs());
    assert_eq!(
        r["left"],
        json!(["future", "nested-ttl", "no-ttl", "string-ttl"]),
        "only a top-level Number in the past expires an item"
    );
    let removes = r["removes"].as_array().expect("records");
    assert_eq!(removes.len(), 1, "{r:#}");
    assert_eq!(removes[0]["keys"], json!({"id": {"S": "expired"}}));
    assert_eq!(
        removes[0]["old"]["user"],
        json!({"S": "ann"}),
        "the REMOVE record has the expired item's old image"
    );
}

#[test]
fn dynamodb_streams_record_every_change() {
    let b = DdbBox::start("streams");
    let r = b.python(
        "streams",
        &format!(
            "{STREAMS}\n{}",
            r##"
d = create("feed", [("id", "S")], StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
out["created"] = {"spec": d.get("StreamSpecification"), "arn": bool(d.get("LatestStreamArn")), "label": bool(d.get("LatestStreamLabel"))}
arn = d["LatestStreamArn"]
create("quiet", [("id", "S")])
out["quiet"] = "LatestStreamArn" in ddb.describe_table(TableName="quiet")["Table"]
out["listed"] = [(s["TableName"], s["StreamArn"] == arn) for s in streams.list_streams()["Streams"]]
out["listed_for_table"] = [s["TableName"] for s in streams.list_streams(TableName="feed")["Streams"]]
sd = streams.describe_stream(StreamArn=arn)["StreamDescription"]
out["described"] = {"status": sd["StreamStatus"], "view": sd["StreamViewType"], "table": sd["TableName"],
                    "shards": len(sd["Shards"]) >= 1}
out["describe_missing"] = error(streams.describe_stream, StreamArn=arn.replace("table/feed/", "table/no-such-table/"))

ddb.put_item(TableName="feed", Item={"id": {"S": "a"}, "v": {"N": "1"}})
ddb.update_item(TableName="feed", Key={"id": {"S": "a"}}, UpdateExpression="SET v = :v, w = :w",
                ExpressionAttributeValues={":v": {"N": "2"}, ":w": {"S": "new"}})
ddb.put_item(TableName="feed", Item={"id": {"S": "a"}, "v": {"N": "3"}})
ddb.delete_item(TableName="feed", Key={"id": {"S": "a"}})
ddb.delete_item(TableName="feed", Key={"id": {"S": "never-there"}})  # nothing deleted: no record
ddb.transact_write_items(TransactItems=[{"Put": {"TableName": "feed", "Item": {"id": {"S": "tx"}}}}])
ddb.batch_write_item(RequestItems={"feed": [{"PutRequest": {"Item": {"id": {"S": "batch"}}}}]})
ddb.execute_statement(Statement="UPDATE feed SET p = 1 WHERE id = 'batch'")
recs = records("feed")
out["records"] = [brief(x) for x in recs]
out["shape"] = [{"source": x["eventSource"], "version": x["eventVersion"], "id": bool(x["eventID"]),
                 "seq": x["dynamodb"]["SequenceNumber"].isdigit(), "size": x["dynamodb"]["SizeBytes"] > 0,
                 "when": abs(x["dynamodb"]["ApproximateCreationDateTime"].timestamp() - time.time()) < 600} for x in recs]
seqs = [int(x["dynamodb"]["SequenceNumber"]) for x in recs]
out["ordered"] = seqs == sorted(seqs) and len(set(seqs)) == len(seqs)

# Iterator types.
shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
def first(kind, **kw):
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType=kind, **kw)["ShardIterator"]
    return [x["eventName"] for x in streams.get_records(ShardIterator=it)["Records"]]
out["at_sequence"] = first("AT_SEQUENCE_NUMBER", SequenceNumber=str(seqs[1]))[:1]
out["after_sequence"] = first("AFTER_SEQUENCE_NUMBER", SequenceNumber=str(seqs[1]))[:1]
latest = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")["ShardIterator"]
out["latest_empty"] = streams.get_records(ShardIterator=latest)["Records"]
ddb.put_item(TableName="feed", Item={"id": {"S": "late"}})
page = streams.get_records(ShardIterator=latest)
out["latest_then"] = [x["dynamodb"]["Keys"] for x in page["Records"]]
out["next_iterator"] = bool(page.get("NextShardIterator"))
out["bad_iterator"] = error(streams.get_records, ShardIterator="not-an-iterator")

# Other view types.
for view in ["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE"]:
    name = "view-" + view.lower().replace("_", "-")
    create(name, [("id", "S")], StreamSpecification={"StreamEnabled": True, "StreamViewType": view})
    ddb.put_item(TableName=name, Item={"id": {"S": "k"}, "v": {"N": "1"}})
    ddb.put_item(TableName=name, Item={"id": {"S": "k"}, "v": {"N": "2"}})
    out[view] = [brief(x) for x in records(name)]

# A stream turned on later records from then on; turned off, the table has no current stream.
ddb.put_item(TableName="quiet", Item={"id": {"S": "before"}})
u = ddb.update_table(TableName="quiet", StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})["TableDescription"]
out["enabled_later"] = bool(u.get("LatestStreamArn"))
ddb.put_item(TableName="quiet", Item={"id": {"S": "after"}})
out["enabled_later_records"] = [x["dynamodb"]["Keys"]["id"]["S"] for x in records("quiet")]
ddb.update_table(TableName="quiet", StreamSpecification={"StreamEnabled": False})
out["disabled_spec"] = ddb.describe_table(TableName="quiet")["Table"].get("StreamSpecification", {"StreamEnabled": False})["StreamEnabled"]
"##
        ),
    );
    assert_eq!(
        r["created"],
        json!({"spec": {"StreamEnabled": true, "StreamViewType": "NEW_AND_OLD_IMAGES"}, "arn": true, "label": true}),
        "{r:#}"
    );
    assert_eq!(r["quiet"], false);
    assert_eq!(r["listed"], json!([["feed", true]]));
    assert_eq!(r["listed_for_table"], json!(["feed"]));
    assert_eq!(
        r["described"],
        json!({"status": "ENABLED", "view": "NEW_AND_OLD_IMAGES", "table": "feed", "shards": true})
    );
    assert_eq!(
        code(&r["describe_missing"]),
        ddb_error("ResourceNotFoundException")
    );

    let a = |v: &str| json!({"id": {"S": "a"}, "v": {"N": v}});
    let view = "NEW_AND_OLD_IMAGES";
    let rec = |event: &str, id: &str, old: Value, new: Value| json!({"event": event, "keys": {"id": {"S": id}}, "old": old, "new": new, "view": view, "identity": null});
    assert_eq!(
        r["records"],
        json!([
            rec("INSERT", "a", Value::Null, a("1")),
            rec(
                "MODIFY",
                "a",
                a("1"),
                json!({"id": {"S": "a"}, "v": {"N": "2"}, "w": {"S": "new"}})
            ),
            rec(
                "MODIFY",
                "a",
                json!({"id": {"S": "a"}, "v": {"N": "2"}, "w": {"S": "new"}}),
                a("3")
            ),
            rec("REMOVE", "a", a("3"), Value::Null),
            rec("INSERT", "tx", Value::Null, json!({"id": {"S": "tx"}})),
            rec(
                "INSERT",
                "batch",
                Value::Null,
                json!({"id": {"S": "batch"}})
            ),
            rec(
                "MODIFY",
                "batch",
                json!({"id": {"S": "batch"}}),
                json!({"id": {"S": "batch"}, "p": {"N": "1"}})
            ),
        ]),
        "a record for each change, none for a delete that deletes nothing: {r:#}"
    );
    for shape in r["shape"].as_array().expect("records") {
        assert_eq!(
            shape,
            &json!({"source": "aws:dynamodb", "version": "1.1", "id": true, "seq": true, "size": true, "when": true})
        );
    }
    assert_eq!(r["ordered"], true, "sequence numbers grow");
    assert_eq!(r["at_sequence"], json!(["MODIFY"]), "{r:#}");
    assert_eq!(r["after_sequence"], json!(["MODIFY"]));
    assert_eq!(r["latest_empty"], json!([]));
    assert_eq!(r["latest_then"], json!([{"id": {"S": "late"}}]));
    assert_eq!(r["next_iterator"], true);
    assert_eq!(code(&r["bad_iterator"]), ddb_error("ValidationException"));

    let k = json!({"id": {"S": "k"}});
    let k1 = json!({"id": {"S": "k"}, "v": {"N": "1"}});
    let k2 = json!({"id": {"S": "k"}, "v": {"N": "2"}});
    let records = |view: &str, images: [(Value, Value); 2]| {
        let [(o1, n1), (o2, n2)] = images;
        json!([
            {"event": "INSERT", "keys": k, "old": o1, "new": n1, "view": view, "identity": null},
            {"event": "MODIFY", "keys": k, "old": o2, "new": n2, "view": view, "identity": null},
        ])
    };
    assert_eq!(
        r["KEYS_ONLY"],
        records(
            "KEYS_ONLY",
            [(Value::Null, Value::Null), (Value::Null, Value::Null)]
        )
    );
    assert_eq!(
        r["NEW_IMAGE"],
        records("NEW_IMAGE", [(Value::Null, k1.clone()), (Value::Null, k2)])
    );
    assert_eq!(
        r["OLD_IMAGE"],
        records("OLD_IMAGE", [(Value::Null, Value::Null), (k1, Value::Null)])
    );
    assert_eq!(r["enabled_later"], true);
    assert_eq!(r["enabled_later_records"], json!(["after"]));
    assert_eq!(r["disabled_spec"], false);
}

// --- authentication ---------------------------------------------------------------------------

#[test]
fn dynamodb_requests_are_signed_with_the_box_key() {
    let b = DdbBox::start("auth");
    let r = b.python_raw(
        "auth",
        r##"
out["signed"] = send(T + "ListTables", {})
out["unsigned"] = send(T + "ListTables", {}, sign=False)
out["wrong_key"] = send(T + "ListTables", {}, creds=Credentials("AKIAIOSFODNN7EXAMPLE", CREDS.secret_key))
out["wrong_secret"] = send(T + "ListTables", {}, creds=Credentials(CREDS.access_key, "x" * 40))
now = datetime.datetime.now(datetime.timezone.utc)
out["ten_minutes_old"] = send(T + "ListTables", {}, at=now - datetime.timedelta(minutes=10))
out["ten_minutes_ahead"] = send(T + "ListTables", {}, at=now + datetime.timedelta(minutes=10))
out["four_minutes_old"] = send(T + "ListTables", {}, at=now - datetime.timedelta(minutes=4))
out["other_region"] = send(T + "ListTables", {}, region="eu-west-1")
out["other_service"] = send(T + "ListTables", {}, service="s3")
out["json_content_type"] = send(T + "ListTables", {}, content_type="application/json")
# The signature covers the body: a body changed after signing is refused.
req = AWSRequest(method="POST", url=URL + "/", data=b'{"Limit": 1}',
                 headers={"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": T + "ListTables"})
SigV4Auth(CREDS, "dynamodb", "us-east-1").add_auth(req)
tampered = urllib.request.Request(URL + "/", data=b'{"Limit": 2}', method="POST", headers=dict(req.headers.items()))
try:
    urllib.request.urlopen(tampered, context=CTX, timeout=60)
    out["tampered"] = "accepted"
except urllib.error.HTTPError as e:
    out["tampered"] = json.loads(e.read())["__type"].split("#")[-1]

# boto3 with other credentials.
for name, kw in [("boto3_wrong_key", {"aws_access_key_id": "AKIAIOSFODNN7EXAMPLE", "aws_secret_access_key": CREDS.secret_key}),
                 ("boto3_wrong_secret", {"aws_access_key_id": CREDS.access_key, "aws_secret_access_key": "y" * 40})]:
    out[name] = error(client("dynamodb", **kw).list_tables)
anonymous = client("dynamodb", config=CONFIG.merge(Config(signature_version=botocore.UNSIGNED)))
out["boto3_unsigned"] = error(anonymous.list_tables)

e = ddb.describe_endpoints()["Endpoints"]
out["endpoints"] = [{"address": x["Address"], "cache": x["CachePeriodInMinutes"]} for x in e]
out["endpoints_unsigned"] = send(T + "DescribeEndpoints", {}, sign=False)
limits = ddb.describe_limits()
out["limits"] = {k: limits[k] for k in ("AccountMaxReadCapacityUnits", "TableMaxWriteCapacityUnits")}
"##,
    );
    assert_eq!(r["signed"]["status"], 200, "{r:#}");
    assert_eq!(r["signed"]["body"], json!({"TableNames": []}));
    assert_eq!(
        raw_code(&r["unsigned"]),
        raw_error("MissingAuthenticationTokenException")
    );
    assert_eq!(
        raw_code(&r["wrong_key"]),
        raw_error("UnrecognizedClientException")
    );
    assert_eq!(
        raw_code(&r["wrong_secret"]),
        raw_error("InvalidSignatureException")
    );
    assert_eq!(
        raw_code(&r["ten_minutes_old"]),
        raw_error("InvalidSignatureException")
    );
    assert!(
        r["ten_minutes_old"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Signature expired")),
        "{r:#}"
    );
    assert_eq!(
        raw_code(&r["ten_minutes_ahead"]),
        raw_error("InvalidSignatureException")
    );
    assert!(
        r["ten_minutes_ahead"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Signature not yet current")),
        "{r:#}"
    );
    assert_eq!(
        r["four_minutes_old"]["status"], 200,
        "within the 5 minutes DynamoDB allows: {r:#}"
    );
    assert_eq!(
        raw_code(&r["other_region"]),
        raw_error("InvalidSignatureException")
    );
    assert_eq!(
        raw_code(&r["other_service"]),
        raw_error("InvalidSignatureException")
    );
    assert_eq!(r["json_content_type"]["status"], 200, "{r:#}");
    assert_eq!(r["tampered"], "InvalidSignatureException");
    assert_eq!(
        code(&r["boto3_wrong_key"]),
        ddb_error("UnrecognizedClientException")
    );
    assert_eq!(
        code(&r["boto3_wrong_secret"]),
        ddb_error("InvalidSignatureException")
    );
    assert_eq!(
        code(&r["boto3_unsigned"]),
        ddb_error("MissingAuthenticationTokenException")
    );
    let host = b.url.rsplit_once("//").map(|(_, h)| h).expect("host");
    assert_eq!(
        r["endpoints"],
        json!([{"address": host, "cache": 1440}]),
        "DescribeEndpoints names the endpoint the client uses"
    );
    assert_eq!(
        raw_code(&r["endpoints_unsigned"]),
        raw_error("MissingAuthenticationTokenException")
    );
    // DescribeLimits, which the engine does not know, answers DynamoDB's default quotas.
    assert_eq!(
        r["limits"],
        json!({"AccountMaxReadCapacityUnits": 80000, "TableMaxWriteCapacityUnits": 40000}),
        "{r:#}"
    );
}

// --- hostile input -------------------------------------------------------------------------------

#[test]
fn dynamodb_hostile_requests_get_errors_and_the_box_keeps_serving() {
    let mut b = DdbBox::start("hostile");
    let r = b.python_raw(
        "hostile",
        r##"
create("target", [("pk", "S")])
ddb.put_item(TableName="target", Item={"pk": {"S": "canary"}, "v": {"S": "still here"}})
def alive():
    try:
        return ddb.get_item(TableName="target", Key={"pk": {"S": "canary"}})["Item"]["v"]["S"]
    except Exception as e:
        return repr(e)
x = {}
def check(name, answer):
    answer["alive"] = alive()
    x[name] = answer

def put(item, **kw):
    return send(T + "PutItem", {"TableName": "target", "Item": item, **kw})
def update(expr, **kw):
    return send(T + "UpdateItem", {"TableName": "target", "Key": {"pk": {"S": "h"}}, "UpdateExpression": expr, **kw})
V = {":v": {"S": "x"}}
check("update_4k", update("SET a = :v" + " " * (4096 - 10), ExpressionAttributeValues=V))
check("update_4k_plus_1", update("SET a = :v" + " " * (4097 - 10), ExpressionAttributeValues=V))
cond = "attribute_not_exists(zz)"
check("condition_4k_plus_1", put({"pk": {"S": "h"}}, ConditionExpression=cond + " " * (4097 - len(cond))))
check("parens_within_4k", put({"pk": {"S": "h"}}, ConditionExpression="(" * 2030 + cond + ")" * 2030))
check("parens_past_4k", put({"pk": {"S": "h"}}, ConditionExpression="(" * 3000 + cond + ")" * 3000))
check("parens_200k", put({"pk": {"S": "h"}}, ConditionExpression="(" * 200000 + cond + ")" * 200000))
check("parens_unbalanced", put({"pk": {"S": "h"}}, ConditionExpression="(" * 2000 + cond))
check("not_even", put({"pk": {"S": "h"}}, ConditionExpression="NOT " * 1000 + cond))
check("not_odd", put({"pk": {"S": "h"}}, ConditionExpression="NOT " * 1001 + cond))
check("not_100k", put({"pk": {"S": "h"}}, ConditionExpression="NOT " * 100000 + cond))
check("update_nested_functions", update("SET a = " + "if_not_exists(a, " * 200 + ":v" + ")" * 200, ExpressionAttributeValues=V))
check("projection_deep_path", send(T + "GetItem", {"TableName": "target", "Key": {"pk": {"S": "canary"}},
                                                     "ProjectionExpression": "a" + "[0]" * 1300}))
def statement(s):
    return send(T + "ExecuteStatement", {"Statement": s})
check("partiql_parens_within_8k", statement("SELECT * FROM target WHERE pk = " + "(" * 4000 + "'a'" + ")" * 4000))
check("partiql_parens_10k", statement("SELECT * FROM target WHERE pk = " + "(" * 5000 + "'a'" + ")" * 5000))
check("partiql_parens_200k", statement("SELECT * FROM target WHERE pk = " + "(" * 200000 + "'a'" + ")" * 200000))
check("partiql_nested_lists", statement("INSERT INTO target VALUE {'pk': 'deep', 'l': " + "[" * 3000 + "]" * 3000 + "}"))

def nest(n):
    return b'{"L": [' * n + b'{"S": "leaf"}' + b']}' * n
def put_raw(attr):
    return send(T + "PutItem", b'{"TableName": "target", "Item": {"pk": {"S": "nested"}, "d": ' + attr + b'}}')
check("nested_31", put_raw(nest(31)))
check("nested_33", put_raw(nest(33)))
check("nested_100k", put_raw(nest(100000)))
check("maps_nested_100k", put_raw(b'{"M": {"k": ' * 100000 + b'{"S": "leaf"}' + b'}}' * 100000))
check("json_nested_500k", send(T + "PutItem", b'{"TableName": "target", "Item": ' + b"[" * 500000 + b"]" * 500000 + b"}"))
check("item_400k", put({"pk": {"S": "big"}, "d": {"S": "x" * (400 * 1024)}}))
check("item_399k", put({"pk": {"S": "big"}, "d": {"S": "x" * (399 * 1024)}}))
check("item_many_attributes", put({"pk": {"S": "wide"}, **{f"a{i}": {"N": "1"} for i in range(60000)}}))
check("body_17m", big_post(17 * 1024 * 1024))
check("body_17m_chunked", big_post(17 * 1024 * 1024, chunked=True))
check("invalid_json", send(T + "PutItem", b'{"TableName": "target", "Item": '))
check("not_json", send(T + "ListTables", b"\x00\x01garbage"))
check("invalid_utf8", send(T + "GetItem", b'{"TableName": "\xff\xfe", "Key": {"pk": {"S": "a"}}}'))
check("number_for_string", send(T + "GetItem", {"TableName": 5, "Key": {"pk": {"S": "a"}}}))
check("number_for_attribute_string", send(T + "GetItem", {"TableName": "target", "Key": {"pk": {"S": 5}}}))
check("list_for_map", send(T + "PutItem", {"TableName": "target", "Item": [1, 2]}))
check("two_types_in_value", send(T + "PutItem", {"TableName": "target", "Item": {"pk": {"S": "a", "N": "1"}}}))
check("unknown_operation", send(T + "FrobnicateTable", {}))
check("unknown_service", send("DynamoDB_20991231.ListTables", {}))
check("no_target", send("", {}))
out["x"] = x
out["after"] = alive()
out["items"] = sorted(i["pk"]["S"] for i in ddb.scan(TableName="target")["Items"])
"##,
    );
    let x = &r["x"];
    for (name, v) in x.as_object().expect("answers") {
        assert_eq!(
            v["alive"], "still here",
            "{name}: the box serves after it: {v:#}"
        );
        let status = v["status"].as_u64();
        assert!(
            status.is_none_or(|s| s < 500),
            "{name}: answered with an error of the client's, not the server's: {v:#}"
        );
        assert!(
            v["secs"].as_f64().is_some_and(|s| s < 30.0),
            "{name}: answered promptly: {v:#}"
        );
    }
    let validation = raw_error("ValidationException");
    assert_eq!(x["update_4k"]["status"], 200, "4 KB is allowed: {x:#}");
    for refused in [
        "update_4k_plus_1",
        "condition_4k_plus_1",
        "parens_past_4k",
        "parens_200k",
        "parens_unbalanced",
        "not_100k",
        "partiql_parens_10k",
        "partiql_parens_200k",
        "nested_33",
        "item_400k",
    ] {
        assert_eq!(raw_code(&x[refused]), validation, "{refused}: {x:#}");
    }
    assert!(
        x["update_4k_plus_1"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("Expression size has exceeded the maximum allowed size")),
        "{x:#}"
    );
    assert!(
        x["item_400k"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("Item size has exceeded the maximum allowed size")),
        "{x:#}"
    );
    // Deep but within the size limits: evaluated (an even number of NOTs is the
    // condition itself, an odd one its negation) or refused, never a crash.
    let done_or_refused = |name: &str, done: Value| {
        let got = raw_code(&x[name]);
        assert!(
            got == done || got == validation,
            "{name}: {got} is neither {done} nor {validation}: {x:#}"
        );
    };
    done_or_refused("parens_within_4k", json!({"status": 200, "type": null}));
    done_or_refused("not_even", json!({"status": 200, "type": null}));
    done_or_refused("not_odd", raw_error("ConditionalCheckFailedException"));
    done_or_refused(
        "update_nested_functions",
        json!({"status": 200, "type": null}),
    );
    done_or_refused("projection_deep_path", json!({"status": 200, "type": null}));
    done_or_refused(
        "partiql_parens_within_8k",
        json!({"status": 200, "type": null}),
    );
    done_or_refused("partiql_nested_lists", json!({"status": 200, "type": null}));
    assert_eq!(
        x["nested_31"]["status"], 200,
        "32 levels are allowed: {x:#}"
    );
    let refused_body = |name: &str| {
        let got = raw_code(&x[name]);
        assert!(
            got == raw_error("SerializationException") || got == validation,
            "{name}: {x:#}"
        );
    };
    refused_body("nested_100k");
    refused_body("maps_nested_100k");
    refused_body("json_nested_500k");
    assert_eq!(x["item_399k"]["status"], 200, "{x:#}");
    let wide = raw_code(&x["item_many_attributes"]);
    assert!(
        wide == json!({"status": 200, "type": null}) || wide == validation,
        "{x:#}"
    );
    for big in ["body_17m", "body_17m_chunked"] {
        let v = &x[big];
        assert!(
            v["status"] == 413 || v["error"].is_string(),
            "{big}: 413, or the connection closed: {v:#}"
        );
    }
    for garbled in [
        "invalid_json",
        "not_json",
        "number_for_string",
        "number_for_attribute_string",
        "list_for_map",
    ] {
        assert_eq!(
            raw_code(&x[garbled]),
            raw_error("SerializationException"),
            "{garbled}: {x:#}"
        );
    }
    assert_eq!(x["invalid_utf8"]["status"], 400, "{x:#}");
    assert_eq!(raw_code(&x["two_types_in_value"]), validation);
    for unknown in ["unknown_operation", "unknown_service", "no_target"] {
        assert_eq!(
            raw_code(&x[unknown]),
            raw_error("UnknownOperationException"),
            "{unknown}: {x:#}"
        );
    }
    assert_eq!(r["after"], "still here");
    let items = sorted_strings(&r["items"]);
    assert!(
        items.contains(&"canary".to_string()) && items.contains(&"big".to_string()),
        "{items:?}"
    );
    if x["item_many_attributes"]["status"] != 200 {
        assert!(
            !items.contains(&"wide".to_string()),
            "a refused write wrote nothing: {items:?}"
        );
    }
    assert!(b.running(), "the box is still running:\n{}", b.logs());
}

// --- durability ------------------------------------------------------------------------------------

/// Writes until the box goes away: each write's intent is logged before the request,
/// each acknowledged write after the answer. Items carry a random body and its MD5;
/// every fourth write adds 1 to the `counter` item, every fifth deletes an earlier item.
const WRITER: &str = r#"
intents = open("intents.jsonl", "a")
acks = open("acks.jsonl", "a")
sizes = [0, 1, 1000, 50000, 300000]
written = []
i = 0
while i < 100000:
    if i % 5 == 4 and written:
        intent = {"op": "delete", "id": written.pop(random.randrange(len(written))), "md5": None}
    elif i % 4 == 3:
        intent = {"op": "add", "id": "counter", "md5": None}
    else:
        body = os.urandom(random.choice(sizes))
        intent = {"op": "put", "id": f"item-{i:05d}", "md5": hashlib.md5(body).hexdigest()}
    intents.write(json.dumps(intent) + "\n")
    intents.flush()
    try:
        if intent["op"] == "delete":
            ddb.delete_item(TableName="durable", Key={"id": {"S": intent["id"]}})
        elif intent["op"] == "add":
            ddb.update_item(TableName="durable", Key={"id": {"S": "counter"}}, UpdateExpression="ADD hits :one",
                            ExpressionAttributeValues={":one": {"N": "1"}})
        else:
            ddb.put_item(TableName="durable", Item={"id": {"S": intent["id"]}, "body": {"B": body},
                                                    "md5": {"S": intent["md5"]}, "size": {"N": str(len(body))}})
    except Exception as e:
        out["stopped_by"] = type(e).__name__
        break
    acks.write(json.dumps(intent) + "\n")
    acks.flush()
    if intent["op"] == "put":
        written.append(intent["id"])
    i += 1
"#;

/// After the restart: every acknowledged item is there and whole, every acknowledged
/// delete stays done, the counter has every acknowledged increment; anything else is
/// the one write in flight at the kill.
const VERIFIER: &str = r#"
intents = [json.loads(l) for l in open("intents.jsonl") if l.strip()]
acks = [json.loads(l) for l in open("acks.jsonl") if l.strip()]
in_flight = intents[-1] if len(intents) > len(acks) else None
last = {}
for a in acks:
    if a["op"] != "add":
        last[a["id"]] = a["md5"]
stored = {}
for page in ddb.get_paginator("scan").paginate(TableName="durable", ConsistentRead=True):
    for item in page["Items"]:
        stored[item["id"]["S"]] = item
bad = []
for key in sorted((set(last) | set(stored)) - {"counter"}):
    allowed = {last[key]} if key in last else set()
    if in_flight and in_flight["id"] == key:
        allowed.add(in_flight["md5"])
    item = stored.get(key)
    if item is None:
        if None not in allowed:
            bad.append({"id": key, "missing": True, "allowed": sorted(map(str, allowed))})
        continue
    body = item["body"]["B"]
    md5 = hashlib.md5(body).hexdigest()
    if md5 not in allowed or item["md5"]["S"] != md5 or int(item["size"]["N"]) != len(body):
        bad.append({"id": key, "md5": md5, "stored_md5": item["md5"]["S"], "size": len(body), "allowed": sorted(map(str, allowed))})
adds = sum(1 for a in acks if a["op"] == "add")
hits = int(stored["counter"]["hits"]["N"]) if "counter" in stored else 0
out["acked"] = len(acks)
out["deletes_acked"] = sum(1 for a in acks if a["op"] == "delete")
out["adds_acked"] = adds
out["counter_ok"] = adds <= hits <= adds + (1 if in_flight and in_flight["op"] == "add" else 0)
out["counter"] = hits
out["bad"] = bad
ddb.put_item(TableName="durable", Item={"id": {"S": "after-restart"}})
out["after"] = "Item" in ddb.get_item(TableName="durable", Key={"id": {"S": "after-restart"}})
"#;

#[test]
fn dynamodb_acknowledged_writes_survive_kill_9() {
    let mut b = DdbBox::start("durable");
    let setup = b.python(
        "setup",
        r#"
create("durable", [("id", "S")], StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
ddb.update_time_to_live(TableName="durable", TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"})
create("indexed", [("id", "S")], {"group": "S"},
       GlobalSecondaryIndexes=[{"IndexName": "by-group", "Projection": {"ProjectionType": "ALL"},
                                "KeySchema": [{"AttributeName": "group", "KeyType": "HASH"}]}])
ddb.put_item(TableName="indexed", Item={"id": {"S": "one"}, "group": {"S": "g"}})
arn = ddb.describe_table(TableName="durable")["Table"]["TableArn"]
ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "team", "Value": "data"}])
out["ok"] = True
"#,
    );
    assert_eq!(setup["ok"], true);
    let mut writer = b
        .script("writer", WRITER)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the writer");
    let acks = b.dir.join("acks.jsonl");
    support::wait_for_acks(&mut writer, &acks, 60);
    // Mid-stream: the writer has a request in flight or about to be.
    b.kill_hard();
    let out = writer.wait_with_output().expect("writer output");
    let stopped = parse_report("writer", &out);
    assert!(
        stopped["stopped_by"].is_string(),
        "the writer saw the box go: {stopped}"
    );
    b.restart();
    let r = b.python("verify", VERIFIER);
    assert!(r["acked"].as_u64().is_some_and(|n| n >= 60), "{r:#}");
    assert!(r["deletes_acked"].as_u64().is_some_and(|n| n >= 5), "{r:#}");
    assert!(r["adds_acked"].as_u64().is_some_and(|n| n >= 5), "{r:#}");
    assert_eq!(
        r["bad"],
        json!([]),
        "acknowledged writes lost or torn: {r:#}"
    );
    assert_eq!(r["counter_ok"], true, "{r:#}");
    assert_eq!(r["after"], true);
    let tables = b.python(
        "tables-after",
        r##"
t = ddb.describe_table(TableName="durable")["Table"]
out["stream"] = t.get("StreamSpecification")
out["ttl"] = ddb.describe_time_to_live(TableName="durable")["TimeToLiveDescription"].get("AttributeName")
out["tags"] = ddb.list_tags_of_resource(ResourceArn=t["TableArn"])["Tags"]
out["gsi"] = [i["id"]["S"] for i in ddb.query(TableName="indexed", IndexName="by-group", KeyConditionExpression="#g = :g",
              ExpressionAttributeNames={"#g": "group"}, ExpressionAttributeValues={":g": {"S": "g"}})["Items"]]
"##,
    );
    assert_eq!(
        tables,
        json!({
            "stream": {"StreamEnabled": true, "StreamViewType": "NEW_AND_OLD_IMAGES"},
            "ttl": "expires",
            "tags": [{"Key": "team", "Value": "data"}],
            "gsi": ["one"],
        }),
        "tables and their settings survive the kill too"
    );
}

// --- functions using DynamoDB -----------------------------------------------------------------------

/// The original ESB's `lambda-dynamo` behind `POST /api/dynamo` (the resource API, no
/// endpoint of its own), and the same flow as the seed wrote it behind
/// `POST /api/dynamo-seed` (the client on `DYNAMODB_ENDPOINT`, set by the template to the
/// original ESB's address).
const DYNAMO_FUNCTIONS: &str = "  LambdaDynamo:\n    Type: AWS::Serverless::Function\n    Properties:\n      \
    FunctionName: lambda-dynamo\n      Handler: dynamodb_handlers.resource_api\n      Timeout: 60\n      \
    Events:\n        Api: {Type: Api, Properties: {Path: /api/dynamo, Method: post}}\n  \
    LambdaDynamoSeed:\n    Type: AWS::Serverless::Function\n    Properties:\n      \
    FunctionName: lambda-dynamo-seed\n      Handler: dynamodb_handlers.seed_client\n      Timeout: 60\n      \
    Environment: {Variables: {DYNAMODB_ENDPOINT: 'http://10.88.0.1:8001'}}\n      \
    Events:\n        Api: {Type: Api, Properties: {Path: /api/dynamo-seed, Method: post}}\n";

fn functions_use_the_box_dynamodb(rt: Rt) {
    let b = DdbBox::start_with("function", rt, DYNAMO_FUNCTIONS, &[]);
    let setup = b.python(
        "e2e-table",
        r#"
create("e2e-test-table", [("id", "S")])
db.Table("e2e-test-table").put_item(Item={"id": "from-host", "message": "put by the host", "timestamp": 1})
out["ok"] = True
"#,
    );
    assert_eq!(setup["ok"], true);
    let port = b.url.rsplit(':').next().expect("port").to_string();
    let endpoint_ok = |endpoint: &Value| match rt {
        Rt::Process => endpoint.as_str() == Some(b.url.as_str()),
        // A container reaches the box by another name, on the same port.
        Rt::Docker | Rt::Containerd => endpoint
            .as_str()
            .is_some_and(|e| e.starts_with("https://") && e.ends_with(&format!(":{port}"))),
    };

    // The resource API, with nothing of the function's own.
    let (status, v) = b.post(
        "/api/dynamo",
        json!({"action": "put_get", "message": "hello from the test"}),
    );
    assert_eq!(status, 200, "{v:#}\n{}", b.logs());
    assert_eq!(v["success"], true, "{v:#}");
    let id = v["item_id"].as_str().expect("item_id").to_string();
    assert_eq!(v["retrieved_item"]["id"], id.as_str());
    assert_eq!(v["retrieved_item"]["message"], "hello from the test");
    let endpoints = &v["endpoints"];
    assert!(
        endpoint_ok(&endpoints["AWS_ENDPOINT_URL_DYNAMODB"]),
        "{v:#}"
    );
    assert_eq!(
        endpoints["AWS_ENDPOINT_URL_DYNAMODB_STREAMS"],
        endpoints["AWS_ENDPOINT_URL_DYNAMODB"]
    );
    assert_eq!(
        endpoints["DYNAMODB_ENDPOINT"],
        endpoints["AWS_ENDPOINT_URL_DYNAMODB"]
    );
    let (status, v) = b.post("/api/dynamo", json!({"action": "get", "id": id}));
    assert_eq!(status, 200, "{v:#}");
    assert_eq!(v["found"], true);
    let (status, v) = b.post("/api/dynamo", json!({"action": "update", "id": id}));
    assert_eq!(status, 200, "{v:#}");
    assert_eq!(v["item"]["message"], "Updated message", "{v:#}");
    assert!(v["item"]["timestamp"].is_string(), "a Decimal: {v:#}");
    let (_, v) = b.post("/api/dynamo", json!({"action": "get", "id": id}));
    assert_eq!(v["item"]["message"], "Updated message", "{v:#}");
    let (status, v) = b.post(
        "/api/dynamo",
        json!({"action": "put", "id": "from-fn", "message": "put by the function"}),
    );
    assert_eq!(status, 200, "{v:#}");
    let (_, v) = b.post("/api/dynamo", json!({"action": "get", "id": "from-host"}));
    assert_eq!(
        v["item"]["message"], "put by the host",
        "the function sees what the host wrote: {v:#}"
    );
    let (status, v) = b.post("/api/dynamo", json!({"action": "delete", "id": id}));
    assert_eq!((status, &v["deleted"]), (200, &json!(true)), "{v:#}");
    let (_, v) = b.post("/api/dynamo", json!({"action": "get", "id": id}));
    assert_eq!(
        (&v["success"], &v["found"], &v["item"]),
        (&json!(true), &json!(false), &Value::Null),
        "{v:#}"
    );
    let (_, v) = b.post("/api/dynamo", json!({"action": "get", "id": "no-such-id"}));
    assert_eq!((&v["found"], &v["item"]), (&json!(false), &Value::Null));
    let (status, v) = b.post("/api/dynamo", json!({"action": "get"}));
    assert_eq!(status, 400, "a missing id: {v:#}");

    // The seed's own function: the client on DYNAMODB_ENDPOINT=http://10.88.0.1:8001.
    let (status, v) = b.post(
        "/api/dynamo-seed",
        json!({"action": "put_get", "message": "hello, seed"}),
    );
    assert_eq!(status, 200, "{v:#}\n{}", b.logs());
    let seed_id = v["item_id"].as_str().expect("item_id").to_string();
    assert_eq!(v["retrieved_item"]["id"]["S"], seed_id.as_str(), "{v:#}");
    assert_eq!(v["retrieved_item"]["message"]["S"], "hello, seed");
    assert!(
        endpoint_ok(&v["endpoints"]["DYNAMODB_ENDPOINT"]),
        "the original ESB's address means the box's DynamoDB: {v:#}"
    );
    let (status, _) = b.post(
        "/api/dynamo-seed",
        json!({"action": "update", "id": seed_id}),
    );
    assert_eq!(status, 200);
    let (_, v) = b.post("/api/dynamo-seed", json!({"action": "get", "id": seed_id}));
    assert_eq!(v["item"]["message"]["S"], "Updated message", "{v:#}");
    let (_, v) = b.post(
        "/api/dynamo-seed",
        json!({"action": "delete", "id": seed_id}),
    );
    assert_eq!(v["deleted"], true);
    let (_, v) = b.post("/api/dynamo-seed", json!({"action": "get", "id": seed_id}));
    assert_eq!((&v["found"], &v["item"]), (&json!(false), &Value::Null));

    // What the functions wrote, as the host sees it.
    let seen = b.python(
        "seen-from-host",
        r#"
t = db.Table("e2e-test-table")
out["ids"] = sorted(i["id"] for i in t.scan()["Items"])
out["from_fn"] = t.get_item(Key={"id": "from-fn"})["Item"]["message"]
"#,
    );
    assert_eq!(
        seen,
        json!({"ids": ["from-fn", "from-host"], "from_fn": "put by the function"})
    );
}

#[test]
fn dynamodb_a_process_function_uses_the_box_dynamodb() {
    functions_use_the_box_dynamodb(Rt::Process);
}

#[test]
fn dynamodb_a_docker_function_uses_the_box_dynamodb() {
    functions_use_the_box_dynamodb(Rt::Docker);
}

#[test]
fn dynamodb_a_containerd_function_uses_the_box_dynamodb() {
    functions_use_the_box_dynamodb(Rt::Containerd);
}

// --- where the box still differs from DynamoDB -------------------------------------------------------

#[test]
fn dynamodb_arns_name_the_box_region() {
    let b = DdbBox::start("arns");
    let r = b.python(
        "arns",
        &format!(
            "{STREAMS}\n{}",
            r#"
d = create("regional", [("id", "S")], {"g": "S"}, StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
           GlobalSecondaryIndexes=[{"IndexName": "by-g", "Projection": {"ProjectionType": "ALL"},
                                    "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}]}])
t = ddb.describe_table(TableName="regional")["Table"]
ddb.put_item(TableName="regional", Item={"id": {"S": "a"}})
out["arns"] = [t["TableArn"], t["GlobalSecondaryIndexes"][0]["IndexArn"], t["LatestStreamArn"]]
out["regions"] = [x["awsRegion"] for x in records("regional")]
"#
        ),
    );
    let arns = sorted_strings(&r["arns"]);
    for arn in &arns {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        assert_eq!(&parts[..3], ["arn", "aws", "dynamodb"], "{arn}");
        assert_eq!(parts[3], "us-east-1", "{arn}");
        assert!(
            parts[4].len() == 12 && parts[4].chars().all(|c| c.is_ascii_digit()),
            "{arn}"
        );
        assert!(parts[5].starts_with("table/regional"), "{arn}");
    }
    assert_eq!(r["regions"], json!(["us-east-1"]));
}

#[test]
fn dynamodb_streams_with_the_stock_boto3_client() {
    let b = DdbBox::start("stock-streams");
    let r = b.python(
        "stock-streams",
        r#"
d = create("feed", [("id", "S")], StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
ddb.put_item(TableName="feed", Item={"id": {"S": "a"}})
streams = client("dynamodbstreams")
shards = streams.describe_stream(StreamArn=d["LatestStreamArn"])["StreamDescription"]["Shards"]
out["shard_ids"] = [s["ShardId"] for s in shards]
it = streams.get_shard_iterator(StreamArn=d["LatestStreamArn"], ShardId=shards[0]["ShardId"],
                                ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
out["events"] = [x["eventName"] for x in streams.get_records(ShardIterator=it)["Records"]]
"#,
    );
    assert_eq!(r["events"], json!(["INSERT"]), "{r:#}");
    for id in r["shard_ids"].as_array().expect("ids") {
        let id = id.as_str().unwrap_or_default();
        assert!((28..=65).contains(&id.len()), "{id}");
    }
}

#[test]
fn dynamodb_stream_descriptions_have_dynamodbs_shape() {
    let b = DdbBox::start("stream-shape");
    let r = b.python(
        "stream-shape",
        &format!(
            "{STREAMS}\n{}",
            r#"
import re
d = create("feed", [("id", "S"), ("at", "N")], StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
ddb.put_item(TableName="feed", Item={"id": {"S": "a"}, "at": {"N": "1"}})
sd = streams.describe_stream(StreamArn=d["LatestStreamArn"])["StreamDescription"]
out["keys"] = sd.get("KeySchema")
label = d["LatestStreamLabel"]
out["label_iso"] = bool(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}", label))
out["arn_ends_with_label"] = d["LatestStreamArn"].endswith("/stream/" + label)
out["open_shards_end"] = [s["SequenceNumberRange"].get("EndingSequenceNumber") for s in sd["Shards"]
                          if "ParentShardId" not in s]
"#
        ),
    );
    assert_eq!(
        r["keys"],
        json!([{"AttributeName": "id", "KeyType": "HASH"}, {"AttributeName": "at", "KeyType": "RANGE"}]),
        "{r:#}"
    );
    assert_eq!(r["label_iso"], true, "{r:#}");
    assert_eq!(r["arn_ends_with_label"], true);
    assert_eq!(r["open_shards_end"], json!([null]), "{r:#}");
}

#[test]
fn dynamodb_a_write_that_changes_nothing_has_no_stream_record() {
    let b = DdbBox::start("stream-noop");
    let r = b.python(
        "stream-noop",
        &format!(
            "{STREAMS}\n{}",
            r#"
create("feed", [("id", "S")], StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
ddb.put_item(TableName="feed", Item={"id": {"S": "a"}, "v": {"N": "1"}})
ddb.put_item(TableName="feed", Item={"id": {"S": "a"}, "v": {"N": "1"}})
ddb.update_item(TableName="feed", Key={"id": {"S": "a"}}, UpdateExpression="SET v = :v", ExpressionAttributeValues={":v": {"N": "1"}})
out["events"] = [x["eventName"] for x in records("feed")]
"#
        ),
    );
    assert_eq!(r["events"], json!(["INSERT"]), "{r:#}");
}

#[test]
fn dynamodb_a_ttl_deletion_is_a_service_deletion_in_the_stream() {
    let b = DdbBox::start_with(
        "ttl-identity",
        Rt::Process,
        "",
        &["--dynamodb-ttl-sweep", "1"],
    );
    let r = b.python(
        "ttl-identity",
        &format!(
            "{STREAMS}\n{}",
            r#"
create("sessions", [("id", "S")], StreamSpecification={"StreamEnabled": True, "StreamViewType": "OLD_IMAGE"})
ddb.update_time_to_live(TableName="sessions", TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"})
ddb.put_item(TableName="sessions", Item={"id": {"S": "by-user"}})
ddb.delete_item(TableName="sessions", Key={"id": {"S": "by-user"}})
ddb.put_item(TableName="sessions", Item={"id": {"S": "by-ttl"}, "expires": {"N": str(int(time.time()) - 10)}})
deadline = time.time() + 60
while time.time() < deadline and "Item" in ddb.get_item(TableName="sessions", Key={"id": {"S": "by-ttl"}}):
    time.sleep(0.25)
out["removes"] = {x["dynamodb"]["Keys"]["id"]["S"]: x.get("userIdentity") for x in records("sessions") if x["eventName"] == "REMOVE"}
"#
        ),
    );
    assert_eq!(
        r["removes"],
        json!({
            "by-user": null,
            "by-ttl": {"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"},
        }),
        "{r:#}"
    );
}

#[test]
fn dynamodb_a_stream_arn_names_one_stream() {
    let b = DdbBox::start("stream-arns");
    let r = b.python(
        "stream-arns",
        &format!(
            "{STREAMS}\n{}",
            r#"
first = create("feed", [("id", "S")], StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})["LatestStreamArn"]
ddb.put_item(TableName="feed", Item={"id": {"S": "old-table"}})
made_up = first.rsplit("/", 1)[0] + "/2001-01-01T00:00:00.000"
out["made_up"] = error(streams.describe_stream, StreamArn=made_up)
ddb.delete_table(TableName="feed")
ddb.get_waiter("table_not_exists").wait(TableName="feed", WaiterConfig={"Delay": 1, "MaxAttempts": 30})
time.sleep(1.1)
second = create("feed", [("id", "S")], StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})["LatestStreamArn"]
ddb.put_item(TableName="feed", Item={"id": {"S": "new-table"}})
out["new_arn"] = first != second
out["new_records"] = [x["dynamodb"]["Keys"]["id"]["S"] for x in records("feed")]
"#
        ),
    );
    assert_eq!(
        code(&r["made_up"]),
        ddb_error("ResourceNotFoundException"),
        "{r:#}"
    );
    assert_eq!(r["new_arn"], true);
    assert_eq!(r["new_records"], json!(["new-table"]), "{r:#}");
}

#[test]
#[ignore = "the TTL sweep deletes an item whose TTL attribute is six years in the past; DynamoDB's TTL ignores an item whose TTL is more than five years in the past (the Developer Guide: \"no more than five years in the past\")"]
fn dynamodb_ttl_leaves_items_expired_over_five_years_ago() {
    let b = DdbBox::start_with(
        "ttl-five-years",
        Rt::Process,
        "",
        &["--dynamodb-ttl-sweep", "1"],
    );
    let r = b.python(
        "ttl-five-years",
        r#"
create("sessions", [("id", "S")])
ddb.update_time_to_live(TableName="sessions", TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"})
now = int(time.time())
ddb.put_item(TableName="sessions", Item={"id": {"S": "ancient"}, "expires": {"N": str(now - 6 * 366 * 86400)}})
ddb.put_item(TableName="sessions", Item={"id": {"S": "recent"}, "expires": {"N": str(now - 60)}})
deadline = time.time() + 60
while time.time() < deadline and "Item" in ddb.get_item(TableName="sessions", Key={"id": {"S": "recent"}}):
    time.sleep(0.25)
time.sleep(2)
out["left"] = sorted(x["id"]["S"] for x in ddb.scan(TableName="sessions")["Items"])
"#,
    );
    assert_eq!(r["left"], json!(["ancient"]), "{r:#}");
}

#[test]
fn dynamodb_update_time_to_live_refuses_a_change_that_is_none() {
    let b = DdbBox::start("ttl-again");
    let r = b.python(
        "ttl-again",
        r#"
create("sessions", [("id", "S")])
spec = lambda enabled, name: {"TableName": "sessions", "TimeToLiveSpecification": {"Enabled": enabled, "AttributeName": name}}
ddb.update_time_to_live(**spec(True, "expires"))
out["enable_again"] = error(ddb.update_time_to_live, **spec(True, "expires"))
out["disable_other"] = error(ddb.update_time_to_live, **spec(False, "other"))
out["still"] = ddb.describe_time_to_live(TableName="sessions")["TimeToLiveDescription"].get("AttributeName")
"#,
    );
    assert_eq!(
        code(&r["enable_again"]),
        ddb_error("ValidationException"),
        "{r:#}"
    );
    assert_eq!(
        code(&r["disable_other"]),
        ddb_error("ValidationException"),
        "{r:#}"
    );
    assert_eq!(r["still"], "expires");
}

#[test]
#[ignore = "TransactGetItems ignores a Get's ProjectionExpression and answers the whole item; DynamoDB answers only the projected attributes"]
fn dynamodb_transact_get_items_projects() {
    let b = DdbBox::start("transact-get-projection");
    let r = b.python(
        "transact-get-projection",
        r##"
create("stock", [("sku", "S")])
ddb.put_item(TableName="stock", Item={"sku": {"S": "a"}, "qty": {"N": "1"}, "name": {"S": "apple"}})
got = ddb.transact_get_items(TransactItems=[{"Get": {"TableName": "stock", "Key": {"sku": {"S": "a"}},
                                                     "ProjectionExpression": "qty, #n", "ExpressionAttributeNames": {"#n": "name"}}}])
out["item"] = got["Responses"][0]["Item"]
"##,
    );
    assert_eq!(
        r["item"],
        json!({"qty": {"N": "1"}, "name": {"S": "apple"}}),
        "{r:#}"
    );
}

#[test]
fn dynamodb_an_invalid_utf8_body_is_a_serialization_error() {
    let b = DdbBox::start("invalid-utf8");
    let r = b.python_raw(
        "invalid-utf8",
        r#"
out["answer"] = send(T + "GetItem", b'{"TableName": "\xff\xfe", "Key": {"pk": {"S": "a"}}}')
"#,
    );
    assert_eq!(
        raw_code(&r["answer"]),
        raw_error("SerializationException"),
        "{r:#}"
    );
}

#[test]
fn dynamodb_conditions_are_validated_before_they_are_evaluated() {
    let b = DdbBox::start("condition-validation");
    let r = b.python(
        "condition-validation",
        r#"
create("cond", [("pk", "S")])
K = {"pk": {"S": "a"}}
ddb.put_item(TableName="cond", Item={**K, "a": {"N": "5"}})
def check(expr, values=None):
    return error(ddb.update_item, TableName="cond", Key=K, UpdateExpression="SET touched = :t", ConditionExpression=expr,
                 ExpressionAttributeValues={**(values or {}), ":t": {"BOOL": True}})
out["same_operand"] = check("a = a")
out["bad_type_name"] = check("attribute_type(a, :x)", {":x": {"S": "XX"}})
out["in_101"] = check("a IN (" + ", ".join(f":v{i}" for i in range(101)) + ")", {f":v{i}": {"N": str(i)} for i in range(101)})
out["touched"] = "touched" in ddb.get_item(TableName="cond", Key=K)["Item"]
"#,
    );
    for refused in ["same_operand", "bad_type_name", "in_101"] {
        assert_eq!(
            code(&r[refused]),
            ddb_error("ValidationException"),
            "{refused}: {r:#}"
        );
    }
    assert_eq!(r["touched"], false);
}

#[test]
fn dynamodb_tags_with_the_aws_prefix_are_refused() {
    let b = DdbBox::start("tags-aws-prefix");
    let r = b.python(
        "tags-aws-prefix",
        r#"
create("tagged", [("pk", "S")])
arn = ddb.describe_table(TableName="tagged")["Table"]["TableArn"]
out["tag"] = error(ddb.tag_resource, ResourceArn=arn, Tags=[{"Key": "aws:owner", "Value": "me"}])
out["tags"] = ddb.list_tags_of_resource(ResourceArn=arn)["Tags"]
"#,
    );
    assert_eq!(code(&r["tag"]), ddb_error("ValidationException"), "{r:#}");
    assert_eq!(r["tags"], json!([]));
}
