//! The box's S3 service end to end, with real clients: the real `esb up` (S3 on a free
//! port, `--s3-port 0`) driven by the stock boto3 client, the AWS CLI, plain HTTP
//! (`urllib`, `curl`, presigned URLs and forms, raw signed requests) and functions of
//! the box using boto3 themselves; template buckets with CORS rules and `Events: S3`
//! notifications; acknowledged writes and accepted notifications surviving `kill -9`;
//! clients racing on one key; and hostile requests each answered with an S3 XML error
//! while the box keeps serving. Where ESB still differs from S3, an `#[ignore]`d test
//! says how (run them with `--run-ignored all`).
//!
//! The clients are Python scripts (written to the project folder, run with the test
//! venv's Python) that print what they saw as JSON; the assertions are here.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// The Python every client script starts with: `s3` (boto3 pointed at the box, no
/// retries), `client(**kw)` for other credentials, `error(call, ...)` (the S3 error a
/// call ends with, None when it succeeds), `raw(method, url_or_path, ...)` (a request
/// without an SDK) and `out`, the dict the script fills and that is printed as JSON.
const PRELUDE: &str = r#"
import base64, hashlib, json, os, ssl, sys, time, urllib.error, urllib.parse, urllib.request
import boto3, botocore
from botocore.config import Config

URL = os.environ["S3_URL"]
CTX = ssl.create_default_context(cafile=os.environ["AWS_CA_BUNDLE"])

def client(**kw):
    return boto3.client(
        "s3", endpoint_url=URL, region_name="us-east-1",
        config=Config(retries={"max_attempts": 1, "mode": "standard"},
                      s3={"addressing_style": "path"}),
        **kw)

s3 = client()

def error(call, *args, **kw):
    try:
        call(*args, **kw)
    except botocore.exceptions.ClientError as e:
        r = e.response
        return {"status": r["ResponseMetadata"]["HTTPStatusCode"],
                "code": r.get("Error", {}).get("Code"),
                "message": r.get("Error", {}).get("Message")}
    return None

def raw(method, url, headers=None, body=None):
    if url.startswith("/"):
        url = URL + url
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, context=CTX, timeout=120) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()

def status(response):
    return response["ResponseMetadata"]["HTTPStatusCode"]

out = {}
"#;

/// A project folder with a template and a box running on it.
struct S3Box {
    /// `esb up` flags beyond the harness's own.
    flags: Vec<String>,
    rt: Rt,
    dir: PathBuf,
    state: PathBuf,
    child: Child,
    /// The box's S3 endpoint, from the banner.
    s3_url: String,
    /// The gateway's port, and a client trusting the box's CA.
    port: u16,
    client: reqwest::blocking::Client,
    output: Arc<Mutex<Vec<String>>>,
}

/// One `esb up` process of a box.
struct Running {
    child: Child,
    output: Arc<Mutex<Vec<String>>>,
    s3_url: String,
    port: u16,
    client: reqwest::blocking::Client,
}

/// The template's `Resources:` for a box with one function (`echo`), plus `extra`.
fn resources(extra: &str) -> String {
    format!(
        "  Echo:\n    Type: AWS::Serverless::Function\n    Properties: {{FunctionName: echo, Handler: handlers.echo}}\n{extra}"
    )
}

impl S3Box {
    /// A box (process workers) on a template of the test functions with `extra`
    /// resources.
    fn start(name: &str, extra: &str) -> Self {
        Self::start_on(name, Rt::Process, extra)
    }

    fn start_on(name: &str, rt: Rt, extra: &str) -> Self {
        Self::start_with(name, rt, extra, &[])
    }

    /// `start_on`, with more `esb up` flags.
    fn start_with(name: &str, rt: Rt, extra: &str, flags: &[&str]) -> Self {
        let dir = support::python_project(&format!("s3-{name}-{}", rt.flag()), &resources(extra));
        let state = dir.join(".esb");
        let run = Self::spawn(&dir, &state, rt, flags);
        Self {
            flags: flags.iter().map(|f| f.to_string()).collect(),
            rt,
            dir,
            state,
            child: run.child,
            s3_url: run.s3_url,
            port: run.port,
            client: run.client,
            output: run.output,
        }
    }

    /// `esb up` on the project; waits for the banner's S3 line and for the endpoint to
    /// accept connections.
    fn spawn(dir: &Path, state: &Path, rt: Rt, flags: &[&str]) -> Running {
        let port = support::free_addr().port();
        let all: Vec<&str> = ["--s3-port", "0"]
            .into_iter()
            .chain(flags.iter().copied())
            .collect();
        let (mut child, output) = support::esb_up(dir, state, rt.flag(), port, &all);
        let url = support::wait_for_service(&mut child, &output, "S3: ", Duration::from_secs(300));
        // The gateway serves once the template's buckets exist.
        let client = support::https_client_within(state, port, Duration::from_secs(300));
        Running {
            child,
            output,
            s3_url: url,
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
        self.s3_url = run.s3_url;
        self.port = run.port;
        self.client = run.client;
    }

    /// Invokes `function` synchronously (signed with the box's key).
    fn invoke(&self, function: &str, event: &Value) -> (u16, Value) {
        let resp = support::send_signed(
            &self.client,
            &self.state,
            self.client
                .post(format!(
                    "https://127.0.0.1:{}/2015-03-31/functions/{function}/invocations",
                    self.port
                ))
                .json(event),
        )
        .expect("invoke");
        let status = resp.status().as_u16();
        let text = resp.text().expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// A command with the environment a client of this box's S3 needs.
    fn client_command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        support::aws_client_command(program, &self.state, &self.dir, "S3_URL", &self.s3_url)
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

    /// Runs the venv's AWS CLI with `args`.
    fn aws(&self, args: &[&str]) -> Output {
        let aws = support::python().with_file_name("aws");
        assert!(
            aws.exists(),
            "the AWS CLI is missing at {}: run scripts/test-deps.sh",
            aws.display()
        );
        self.client_command(aws)
            .args(args)
            .args(["--endpoint-url", &self.s3_url])
            .output()
            .expect("run aws")
    }

    fn logs(&self) -> String {
        self.output.lock().expect("output lock").join("\n")
    }
}

impl Drop for S3Box {
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

/// `{"status": .., "code": ..}` of an S3 error the script recorded with `error()`.
fn code(v: &Value) -> Value {
    json!({"status": v["status"], "code": v["code"]})
}

fn s3_error(status: u16, code: &str) -> Value {
    json!({"status": status, "code": code})
}

// --- boto3 from the host -------------------------------------------------------------

#[test]
fn s3_buckets_with_boto3() {
    let b = S3Box::start("buckets", "");
    let r = b.python(
        "buckets",
        r#"
out["create"] = status(s3.create_bucket(Bucket="alpha"))
# us-east-1 (the box's region) answers its owner creating a bucket again with 200.
out["create_again"] = status(s3.create_bucket(Bucket="alpha"))
out["listed"] = [x["Name"] for x in s3.list_buckets()["Buckets"]]
out["head"] = status(s3.head_bucket(Bucket="alpha"))
out["head_missing"] = error(s3.head_bucket, Bucket="no-such-bucket")
out["location"] = s3.get_bucket_location(Bucket="alpha").get("LocationConstraint")
s3.put_object(Bucket="alpha", Key="k", Body=b"x")
out["delete_not_empty"] = error(s3.delete_bucket, Bucket="alpha")
s3.delete_object(Bucket="alpha", Key="k")
out["delete"] = status(s3.delete_bucket(Bucket="alpha"))
out["delete_again"] = error(s3.delete_bucket, Bucket="alpha")
out["put_in_missing"] = error(s3.put_object, Bucket="alpha", Key="k", Body=b"x")
out["get_in_missing"] = error(s3.get_object, Bucket="alpha", Key="k")
out["listed_after"] = [x["Name"] for x in s3.list_buckets()["Buckets"]]
out["invalid"] = {
    name: error(s3.create_bucket, Bucket=name)
    for name in ["Upper-Case", "ab", "-leading-dash", "a" * 64, "192.168.1.1",
                 "double..dot", "under_score", "xn--reserved"]
}
# The error as it travels: XML with Code, Message and RequestId, and the request id
# in the headers too (a presigned URL: no SDK parses it).
url = s3.generate_presigned_url("get_object", Params={"Bucket": "no-such-bucket", "Key": "k"})
st, headers, body = raw("GET", url)
out["raw_error"] = {"status": st, "content_type": headers.get("content-type"),
                    "request_id": headers.get("x-amz-request-id"), "body": body.decode()}
ok = s3.list_buckets()
out["ok_request_id"] = ok["ResponseMetadata"]["HTTPHeaders"].get("x-amz-request-id")
"#,
    );
    assert_eq!(r["create"], 200, "{r:#}");
    assert_eq!(r["create_again"], 200, "{r:#}");
    assert!(
        r["listed"]
            .as_array()
            .is_some_and(|l| l.contains(&json!("alpha"))),
        "{r:#}"
    );
    assert_eq!(r["head"], 200);
    assert_eq!(code(&r["head_missing"]), s3_error(404, "404"));
    // us-east-1 buckets have no location constraint.
    assert_eq!(r["location"], Value::Null);
    assert_eq!(
        code(&r["delete_not_empty"]),
        s3_error(409, "BucketNotEmpty")
    );
    assert_eq!(r["delete"], 204);
    assert_eq!(code(&r["delete_again"]), s3_error(404, "NoSuchBucket"));
    assert_eq!(code(&r["put_in_missing"]), s3_error(404, "NoSuchBucket"));
    assert_eq!(code(&r["get_in_missing"]), s3_error(404, "NoSuchBucket"));
    assert!(
        !r["listed_after"]
            .as_array()
            .is_some_and(|l| l.contains(&json!("alpha"))),
        "{r:#}"
    );
    for (name, err) in r["invalid"].as_object().expect("invalid names") {
        assert_eq!(
            code(err),
            s3_error(400, "InvalidBucketName"),
            "bucket name {name:?}: {err}"
        );
    }
    let raw = &r["raw_error"];
    assert_eq!(raw["status"], 404, "{raw:#}");
    let body = raw["body"].as_str().expect("body");
    let request_id = raw["request_id"].as_str().expect("x-amz-request-id header");
    assert!(!request_id.is_empty());
    assert!(
        body.starts_with("<?xml")
            && body.contains("<Error>")
            && body.contains("<Code>NoSuchBucket</Code>")
            && body.contains("<Message>")
            && body.contains(&format!("<RequestId>{request_id}</RequestId>")),
        "an S3 error document with the request id of the headers: {body}"
    );
    assert!(
        raw["content_type"]
            .as_str()
            .is_some_and(|c| c.contains("xml")),
        "{raw:#}"
    );
    assert!(
        r["ok_request_id"].as_str().is_some_and(|s| !s.is_empty()),
        "successful answers carry x-amz-request-id too: {r:#}"
    );
}

#[test]
fn s3_objects_with_boto3() {
    let b = S3Box::start("objects", "");
    let r = b.python(
        "objects",
        r#"
import datetime
B = "objs"
s3.create_bucket(Bucket=B)
put = s3.put_object(
    Bucket=B, Key="doc.txt", Body=b"hello world", ContentType="text/plain",
    ContentDisposition='attachment; filename="doc.txt"', CacheControl="max-age=60",
    ContentLanguage="en", ContentEncoding="identity",
    Metadata={"colour": "blue", "Mixed-Case": "Value Kept"})
out["put_etag"] = put["ETag"]
g = s3.get_object(Bucket=B, Key="doc.txt")
out["get"] = {k: g.get(k) for k in ["ContentType", "ContentDisposition", "CacheControl",
    "ContentLanguage", "ContentEncoding", "Metadata", "ETag", "ContentLength"]}
out["get"]["body"] = g["Body"].read().decode()
out["get"]["accept_ranges"] = g.get("AcceptRanges")
last_modified = g["LastModified"]
s3.put_object(Bucket=B, Key="plain.txt", Body=b"plain")
out["no_encoding"] = s3.get_object(Bucket=B, Key="plain.txt").get("ContentEncoding")
h = s3.head_object(Bucket=B, Key="doc.txt")
out["head"] = {k: h.get(k) for k in ["ContentType", "Metadata", "ETag", "ContentLength"]}
o = s3.get_object(Bucket=B, Key="doc.txt", ResponseContentType="application/json",
    ResponseContentDisposition="inline", ResponseCacheControl="no-cache",
    ResponseContentLanguage="fr", ResponseExpires=datetime.datetime(2030, 1, 1))
out["override"] = {"ContentType": o["ContentType"], "ContentDisposition": o["ContentDisposition"],
    "CacheControl": o["CacheControl"], "ContentLanguage": o["ContentLanguage"],
    "expires": o["ResponseMetadata"]["HTTPHeaders"].get("expires"),
    "body": o["Body"].read().decode()}
# The overrides answer one request; the object keeps its own.
out["after_override"] = s3.head_object(Bucket=B, Key="doc.txt")["ContentType"]

def ranged(r):
    g = s3.get_object(Bucket=B, Key="doc.txt", Range=r)
    return {"status": status(g), "body": g["Body"].read().decode(),
            "content_range": g.get("ContentRange"), "length": g["ContentLength"]}
out["range_first5"] = ranged("bytes=0-4")
out["range_suffix5"] = ranged("bytes=-5")
out["range_from6"] = ranged("bytes=6-")
out["range_past_end"] = ranged("bytes=6-100")
out["range_unsatisfiable"] = error(s3.get_object, Bucket=B, Key="doc.txt", Range="bytes=20-30")

etag = put["ETag"]
hour = datetime.timedelta(hours=1)
out["if_none_match_same"] = error(s3.get_object, Bucket=B, Key="doc.txt", IfNoneMatch=etag)
out["if_none_match_other"] = error(s3.get_object, Bucket=B, Key="doc.txt", IfNoneMatch='"0123"')
out["if_match_wrong"] = error(s3.get_object, Bucket=B, Key="doc.txt", IfMatch='"0123"')
out["if_match_right"] = error(s3.get_object, Bucket=B, Key="doc.txt", IfMatch=etag)
out["if_modified_since_later"] = error(s3.get_object, Bucket=B, Key="doc.txt", IfModifiedSince=last_modified + hour)
out["if_modified_since_earlier"] = error(s3.get_object, Bucket=B, Key="doc.txt", IfModifiedSince=last_modified - hour)
out["if_unmodified_since_earlier"] = error(s3.get_object, Bucket=B, Key="doc.txt", IfUnmodifiedSince=last_modified - hour)
out["head_if_none_match"] = error(s3.head_object, Bucket=B, Key="doc.txt", IfNoneMatch=etag)

out["put_if_none_match_new"] = error(s3.put_object, Bucket=B, Key="once.txt", Body=b"1", IfNoneMatch="*")
out["put_if_none_match_again"] = error(s3.put_object, Bucket=B, Key="once.txt", Body=b"2", IfNoneMatch="*")
out["once_body"] = s3.get_object(Bucket=B, Key="once.txt")["Body"].read().decode()
out["put_if_match_wrong"] = error(s3.put_object, Bucket=B, Key="once.txt", Body=b"3", IfMatch='"0123"')
once_etag = s3.head_object(Bucket=B, Key="once.txt")["ETag"]
out["put_if_match_right"] = error(s3.put_object, Bucket=B, Key="once.txt", Body=b"4", IfMatch=once_etag)
out["once_body_after"] = s3.get_object(Bucket=B, Key="once.txt")["Body"].read().decode()

c = s3.copy_object(Bucket=B, Key="copy.txt", CopySource={"Bucket": B, "Key": "doc.txt"})
out["copy_etag"] = c["CopyObjectResult"]["ETag"]
h = s3.head_object(Bucket=B, Key="copy.txt")
out["copy_head"] = {"ContentType": h["ContentType"], "Metadata": h["Metadata"]}
s3.copy_object(Bucket=B, Key="replaced.txt", CopySource={"Bucket": B, "Key": "doc.txt"},
    MetadataDirective="REPLACE", Metadata={"fresh": "1"}, ContentType="application/x-new")
h = s3.head_object(Bucket=B, Key="replaced.txt")
out["replace_head"] = {"ContentType": h["ContentType"], "Metadata": h["Metadata"]}
out["replaced_body"] = s3.get_object(Bucket=B, Key="replaced.txt")["Body"].read().decode()
out["copy_onto_itself"] = error(s3.copy_object, Bucket=B, Key="doc.txt", CopySource={"Bucket": B, "Key": "doc.txt"})
out["copy_onto_itself_replace"] = error(s3.copy_object, Bucket=B, Key="doc.txt",
    CopySource={"Bucket": B, "Key": "doc.txt"}, MetadataDirective="REPLACE",
    Metadata={"colour": "red"}, ContentType="text/plain")
out["self_replaced_meta"] = s3.head_object(Bucket=B, Key="doc.txt")["Metadata"]
# Copying an object onto itself with another storage class is how one changes it.
s3.put_object(Bucket=B, Key="cold.txt", Body=b"cold")
out["restore_class"] = error(s3.copy_object, Bucket=B, Key="cold.txt", CopySource={"Bucket": B, "Key": "cold.txt"}, StorageClass="STANDARD_IA")
out["class_after_copy"] = s3.head_object(Bucket=B, Key="cold.txt").get("StorageClass")
out["class_listed"] = [o.get("StorageClass") for o in s3.list_objects_v2(Bucket=B, Prefix="cold")["Contents"]]
out["unknown_class"] = error(s3.put_object, Bucket=B, Key="x.txt", Body=b"x", StorageClass="NO_SUCH_CLASS")
out["metadata_too_large"] = error(s3.put_object, Bucket=B, Key="x.txt", Body=b"x", Metadata={"big": "v" * 2100})
out["metadata_too_large_multipart"] = error(s3.create_multipart_upload, Bucket=B, Key="x.txt", Metadata={"big": "v" * 2100})
out["metadata_just_fits"] = error(s3.put_object, Bucket=B, Key="x.txt", Body=b"x", Metadata={"big": "v" * 2000})
out["copy_missing"] = error(s3.copy_object, Bucket=B, Key="x", CopySource={"Bucket": B, "Key": "nope"})

for k in ["d1", "d2", "d3", "d4", "d5"]:
    s3.put_object(Bucket=B, Key="del/" + k, Body=k.encode())
loud = s3.delete_objects(Bucket=B, Delete={"Objects": [{"Key": "del/d1"}, {"Key": "del/d2"}, {"Key": "del/missing"}]})
out["delete_loud"] = {"deleted": sorted(d["Key"] for d in loud.get("Deleted", [])), "errors": loud.get("Errors", [])}
quiet = s3.delete_objects(Bucket=B, Delete={"Objects": [{"Key": "del/d3"}, {"Key": "del/d4"}], "Quiet": True})
out["delete_quiet"] = {"deleted": quiet.get("Deleted", []), "errors": quiet.get("Errors", [])}
out["delete_left"] = [x["Key"] for x in s3.list_objects_v2(Bucket=B, Prefix="del/").get("Contents", [])]

s3.put_object_tagging(Bucket=B, Key="doc.txt", Tagging={"TagSet": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "two words"}]})
out["tags"] = sorted((t["Key"], t["Value"]) for t in s3.get_object_tagging(Bucket=B, Key="doc.txt")["TagSet"])
out["tag_count"] = s3.get_object(Bucket=B, Key="doc.txt").get("TagCount")
s3.delete_object_tagging(Bucket=B, Key="doc.txt")
out["tags_after_delete"] = s3.get_object_tagging(Bucket=B, Key="doc.txt")["TagSet"]
s3.put_object(Bucket=B, Key="tagged.txt", Body=b"t", Tagging="x=1&y=2")
out["tags_from_put"] = sorted((t["Key"], t["Value"]) for t in s3.get_object_tagging(Bucket=B, Key="tagged.txt")["TagSet"])

out["delete"] = status(s3.delete_object(Bucket=B, Key="doc.txt"))
out["get_deleted"] = error(s3.get_object, Bucket=B, Key="doc.txt")
out["head_deleted"] = error(s3.head_object, Bucket=B, Key="doc.txt")
out["delete_missing"] = status(s3.delete_object(Bucket=B, Key="doc.txt"))
"#,
    );
    let etag = "\"5eb63bbbe01eeed093cb22bb8f5acdc3\""; // md5("hello world")
    assert_eq!(r["put_etag"], etag, "{r:#}");
    assert_eq!(
        r["get"],
        json!({
            "ContentType": "text/plain",
            "ContentDisposition": "attachment; filename=\"doc.txt\"",
            "CacheControl": "max-age=60",
            "ContentLanguage": "en",
            "ContentEncoding": "identity",
            "Metadata": {"colour": "blue", "mixed-case": "Value Kept"},
            "ETag": etag,
            "ContentLength": 11,
            "body": "hello world",
            "accept_ranges": "bytes",
        })
    );
    // Botocore sends bodies aws-chunked (trailing checksums): how the body travelled is
    // not the object's encoding.
    assert_eq!(r["no_encoding"], Value::Null);
    assert_eq!(
        r["head"],
        json!({"ContentType": "text/plain", "Metadata": {"colour": "blue", "mixed-case": "Value Kept"}, "ETag": etag, "ContentLength": 11})
    );
    assert_eq!(
        r["override"],
        json!({
            "ContentType": "application/json",
            "ContentDisposition": "inline",
            "CacheControl": "no-cache",
            "ContentLanguage": "fr",
            "expires": "Tue, 01 Jan 2030 00:00:00 GMT",
            "body": "hello world",
        })
    );
    assert_eq!(r["after_override"], "text/plain");

    assert_eq!(
        r["range_first5"],
        json!({"status": 206, "body": "hello", "content_range": "bytes 0-4/11", "length": 5})
    );
    assert_eq!(
        r["range_suffix5"],
        json!({"status": 206, "body": "world", "content_range": "bytes 6-10/11", "length": 5})
    );
    assert_eq!(
        r["range_from6"],
        json!({"status": 206, "body": "world", "content_range": "bytes 6-10/11", "length": 5})
    );
    assert_eq!(
        r["range_past_end"],
        json!({"status": 206, "body": "world", "content_range": "bytes 6-10/11", "length": 5})
    );
    assert_eq!(
        code(&r["range_unsatisfiable"]),
        s3_error(416, "InvalidRange")
    );

    assert_eq!(code(&r["if_none_match_same"]), s3_error(304, "304"));
    assert_eq!(r["if_none_match_other"], Value::Null);
    assert_eq!(
        code(&r["if_match_wrong"]),
        s3_error(412, "PreconditionFailed")
    );
    assert_eq!(r["if_match_right"], Value::Null);
    assert_eq!(code(&r["if_modified_since_later"]), s3_error(304, "304"));
    assert_eq!(r["if_modified_since_earlier"], Value::Null);
    assert_eq!(
        code(&r["if_unmodified_since_earlier"]),
        s3_error(412, "PreconditionFailed")
    );
    assert_eq!(code(&r["head_if_none_match"]), s3_error(304, "304"));

    assert_eq!(r["put_if_none_match_new"], Value::Null, "{r:#}");
    assert_eq!(
        code(&r["put_if_none_match_again"]),
        s3_error(412, "PreconditionFailed")
    );
    assert_eq!(r["once_body"], "1");
    assert_eq!(
        code(&r["put_if_match_wrong"]),
        s3_error(412, "PreconditionFailed")
    );
    assert_eq!(r["put_if_match_right"], Value::Null);
    assert_eq!(r["once_body_after"], "4");

    assert_eq!(r["copy_etag"], etag);
    assert_eq!(
        r["copy_head"],
        json!({"ContentType": "text/plain", "Metadata": {"colour": "blue", "mixed-case": "Value Kept"}})
    );
    assert_eq!(
        r["replace_head"],
        json!({"ContentType": "application/x-new", "Metadata": {"fresh": "1"}})
    );
    assert_eq!(r["replaced_body"], "hello world");
    assert_eq!(
        code(&r["copy_onto_itself"]),
        s3_error(400, "InvalidRequest")
    );
    assert_eq!(r["copy_onto_itself_replace"], Value::Null, "{r:#}");
    assert_eq!(r["self_replaced_meta"], json!({"colour": "red"}));
    assert_eq!(code(&r["copy_missing"]), s3_error(404, "NoSuchKey"));
    assert_eq!(r["restore_class"], Value::Null, "{r:#}");
    assert_eq!(r["class_after_copy"], "STANDARD_IA");
    assert_eq!(r["class_listed"], json!(["STANDARD_IA"]));
    assert_eq!(
        code(&r["unknown_class"]),
        s3_error(400, "InvalidStorageClass")
    );
    for too_large in ["metadata_too_large", "metadata_too_large_multipart"] {
        assert_eq!(
            code(&r[too_large]),
            s3_error(400, "MetadataTooLarge"),
            "{too_large}"
        );
    }
    assert_eq!(r["metadata_just_fits"], Value::Null);

    assert_eq!(
        r["delete_loud"],
        json!({"deleted": ["del/d1", "del/d2", "del/missing"], "errors": []})
    );
    assert_eq!(r["delete_quiet"], json!({"deleted": [], "errors": []}));
    assert_eq!(r["delete_left"], json!(["del/d5"]));

    assert_eq!(r["tags"], json!([["a", "1"], ["b", "two words"]]));
    assert_eq!(r["tag_count"], 2);
    assert_eq!(r["tags_after_delete"], json!([]));
    assert_eq!(r["tags_from_put"], json!([["x", "1"], ["y", "2"]]));

    assert_eq!(r["delete"], 204);
    assert_eq!(code(&r["get_deleted"]), s3_error(404, "NoSuchKey"));
    assert_eq!(code(&r["head_deleted"]), s3_error(404, "404"));
    assert_eq!(r["delete_missing"], 204);
}

/// A `Range` header S3 cannot use (several ranges, or not a byte range at all) is
/// ignored, as RFC 9110 says: the whole object with 200 (AWS answers multi-range GETs so).
/// ESB answers 400 InvalidArgument: s3s rejects the header while parsing the request,
/// and the header is signed, so the front cannot drop it.
#[test]
#[ignore = "esb-s3 (s3s) answers GET with Range: bytes=0-1,4-5 or bytes=abc with 400 InvalidArgument; S3 ignores the header and returns the whole object (200)"]
fn s3_a_range_s3_cannot_use_is_ignored() {
    let b = S3Box::start("ranges", "");
    let r = b.python(
        "ranges",
        r#"
s3.create_bucket(Bucket="ranges")
s3.put_object(Bucket="ranges", Key="k", Body=b"0123456789")
for name, spec in [("multi", "bytes=0-1,4-5"), ("garbage", "bytes=abc"), ("units", "items=0-1")]:
    try:
        g = s3.get_object(Bucket="ranges", Key="k", Range=spec)
        out[name] = {"status": status(g), "body": g["Body"].read().decode(), "range": g.get("ContentRange")}
    except botocore.exceptions.ClientError as e:
        out[name] = {"status": e.response["ResponseMetadata"]["HTTPStatusCode"], "code": e.response["Error"]["Code"]}
"#,
    );
    for name in ["multi", "garbage", "units"] {
        assert_eq!(
            r[name],
            json!({"status": 200, "body": "0123456789", "range": null}),
            "{name}: {r:#}"
        );
    }
}

#[test]
fn s3_listings_with_boto3() {
    let b = S3Box::start("listings", "");
    let r = b.python(
        "listings",
        r#"
B = "lists"
s3.create_bucket(Bucket=B)
keys = ([f"photos/2024/img{i:02}.jpg" for i in range(10)]
        + [f"photos/2025/img{i:02}.jpg" for i in range(10)]
        + [f"docs/d{i}.txt" for i in range(5)]
        + [f"top{i}.txt" for i in range(5)])
for k in keys:
    s3.put_object(Bucket=B, Key=k, Body=k.encode())
out["expected"] = sorted(keys)

def v2_pages(**kw):
    pages, token = [], None
    while True:
        args = dict(kw, ContinuationToken=token) if token else dict(kw)
        p = s3.list_objects_v2(Bucket=B, **args)
        pages.append({"keys": [c["Key"] for c in p.get("Contents", [])],
                      "prefixes": [c["Prefix"] for c in p.get("CommonPrefixes", [])],
                      "truncated": p["IsTruncated"], "key_count": p["KeyCount"],
                      "sizes_ok": all(c["Size"] == len(c["Key"]) for c in p.get("Contents", []))})
        if not p["IsTruncated"]:
            return pages
        token = p["NextContinuationToken"]
        if len(pages) > 100:
            return pages

out["v2_by_7"] = v2_pages(MaxKeys=7)
out["v2_all"] = v2_pages()
out["v2_prefix_delimiter"] = v2_pages(Prefix="photos/", Delimiter="/")
out["v2_root_delimiter_by_2"] = v2_pages(Delimiter="/", MaxKeys=2)
out["v2_start_after"] = v2_pages(StartAfter="photos/2025/img07.jpg")
out["v2_prefix_by_4"] = v2_pages(Prefix="photos/2024/", MaxKeys=4)
out["v2_nothing"] = v2_pages(Prefix="nothing/")

pages, marker = [], None
while True:
    p = s3.list_objects(Bucket=B, MaxKeys=10, **({"Marker": marker} if marker else {}))
    ks = [c["Key"] for c in p.get("Contents", [])]
    pages.append({"keys": ks, "truncated": p["IsTruncated"], "next_marker": p.get("NextMarker")})
    if not p["IsTruncated"] or len(pages) > 100:
        break
    marker = ks[-1]
out["v1_by_10"] = pages
pages, marker = [], None
while True:
    p = s3.list_objects(Bucket=B, MaxKeys=1, Delimiter="/", **({"Marker": marker} if marker else {}))
    pages.append({"keys": [c["Key"] for c in p.get("Contents", [])],
                  "prefixes": [c["Prefix"] for c in p.get("CommonPrefixes", [])],
                  "truncated": p["IsTruncated"], "next_marker": p.get("NextMarker")})
    if not p["IsTruncated"] or len(pages) > 100:
        break
    marker = p["NextMarker"]
out["v1_delimiter_by_1"] = pages

odd = "dir with space/ünïcödé + plus&amp.txt"
s3.put_object(Bucket=B, Key=odd, Body=b"odd")
# boto3 asks for url encoding itself and decodes what it gets.
out["odd_decoded"] = [c["Key"] for c in s3.list_objects_v2(Bucket=B, Prefix="dir ")["Contents"]]
out["odd_v1_decoded"] = [c["Key"] for c in s3.list_objects(Bucket=B, Prefix="dir ")["Contents"]]
# Asked for explicitly, the keys come back encoded, as S3 encodes them.
p = s3.list_objects_v2(Bucket=B, Prefix="dir ", EncodingType="url")
out["odd_encoded"] = {"keys": [c["Key"] for c in p["Contents"]], "encoding": p.get("EncodingType")}
p = s3.list_objects_v2(Bucket=B, Delimiter="/", Prefix="dir ", EncodingType="url")
out["odd_encoded_prefixes"] = [c["Prefix"] for c in p.get("CommonPrefixes", [])]
out["odd_key"] = odd
out["odd_get"] = s3.get_object(Bucket=B, Key=odd)["Body"].read().decode()

# Past S3's page size: 1000 keys a page by default, the SDK's paginator sees them all,
# and one DeleteObjects takes 1000 keys.
from concurrent.futures import ThreadPoolExecutor
s3.create_bucket(Bucket="lists-many")
many = [f"m{i:05d}" for i in range(1005)]
with ThreadPoolExecutor(8) as pool:
    list(pool.map(lambda k: s3.put_object(Bucket="lists-many", Key=k, Body=b"."), many))
first = s3.list_objects_v2(Bucket="lists-many")
out["many_first_page"] = [first["KeyCount"], first["IsTruncated"]]
out["many_paginated"] = sum(p["KeyCount"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket="lists-many"))
gone = s3.delete_objects(Bucket="lists-many", Delete={"Objects": [{"Key": k} for k in many[:1000]], "Quiet": True})
out["many_delete_errors"] = gone.get("Errors", [])
out["many_left"] = [o["Key"] for o in s3.list_objects_v2(Bucket="lists-many").get("Contents", [])]
"#,
    );
    let expected: Vec<String> = serde_json::from_value(r["expected"].clone()).expect("keys");
    let collect = |pages: &Value, field: &str| -> Vec<String> {
        pages
            .as_array()
            .expect("pages")
            .iter()
            .flat_map(|p| p[field].as_array().cloned().unwrap_or_default())
            .map(|k| k.as_str().expect("key").to_string())
            .collect()
    };
    let pages = &r["v2_by_7"];
    assert_eq!(collect(pages, "keys"), expected, "{pages:#}");
    let n = pages.as_array().expect("pages").len();
    assert_eq!(n, 5, "30 keys, 7 a page: {pages:#}");
    for (i, p) in pages.as_array().expect("pages").iter().enumerate() {
        assert_eq!(p["truncated"], i + 1 < n, "{pages:#}");
        let len = p["keys"].as_array().expect("keys").len();
        assert_eq!(p["key_count"], len);
        assert_eq!(len, if i + 1 < n { 7 } else { 2 });
        assert_eq!(p["sizes_ok"], true);
    }
    assert_eq!(collect(&r["v2_all"], "keys"), expected);
    assert_eq!(r["v2_all"].as_array().expect("pages").len(), 1);

    assert_eq!(
        r["v2_prefix_delimiter"],
        json!([{"keys": [], "prefixes": ["photos/2024/", "photos/2025/"], "truncated": false, "key_count": 2, "sizes_ok": true}])
    );
    let pages = &r["v2_root_delimiter_by_2"];
    let mut both: Vec<String> = collect(pages, "keys");
    both.extend(collect(pages, "prefixes"));
    both.sort();
    let mut want: Vec<String> = (0..5).map(|i| format!("top{i}.txt")).collect();
    want.extend(["docs/".to_string(), "photos/".to_string()]);
    want.sort();
    assert_eq!(both, want, "{pages:#}");
    assert_eq!(
        pages.as_array().expect("pages").len(),
        4,
        "7 entries, 2 a page: {pages:#}"
    );
    let after: Vec<String> = expected
        .iter()
        .filter(|k| k.as_str() > "photos/2025/img07.jpg")
        .cloned()
        .collect();
    assert_eq!(collect(&r["v2_start_after"], "keys"), after);
    let in_2024: Vec<String> = (0..10)
        .map(|i| format!("photos/2024/img{i:02}.jpg"))
        .collect();
    assert_eq!(collect(&r["v2_prefix_by_4"], "keys"), in_2024);
    assert_eq!(r["v2_prefix_by_4"].as_array().expect("pages").len(), 3);
    assert_eq!(
        r["v2_nothing"],
        json!([{"keys": [], "prefixes": [], "truncated": false, "key_count": 0, "sizes_ok": true}])
    );

    let pages = &r["v1_by_10"];
    assert_eq!(collect(pages, "keys"), expected, "{pages:#}");
    assert_eq!(pages.as_array().expect("pages").len(), 3, "{pages:#}");
    let pages = &r["v1_delimiter_by_1"];
    let mut both: Vec<String> = collect(pages, "keys");
    both.extend(collect(pages, "prefixes"));
    both.sort();
    assert_eq!(both, want, "{pages:#}");
    for p in pages.as_array().expect("pages") {
        if p["truncated"] == true {
            // With a delimiter, v1 says where to go on.
            assert!(p["next_marker"].is_string(), "{pages:#}");
        }
    }

    let odd = r["odd_key"].as_str().expect("key");
    assert_eq!(r["odd_decoded"], json!([odd]));
    assert_eq!(r["odd_v1_decoded"], json!([odd]));
    assert_eq!(r["odd_get"], "odd");
    let encoded = &r["odd_encoded"];
    assert_eq!(encoded["encoding"], "url", "{encoded:#}");
    let raw_key = encoded["keys"][0].as_str().expect("encoded key");
    assert!(
        raw_key.is_ascii() && !raw_key.contains(' ') && !raw_key.contains('&'),
        "encoding-type=url leaves no space, & or non-ASCII byte: {raw_key}"
    );
    assert_eq!(
        form_decode(raw_key),
        odd,
        "the encoded key decodes to the key: {raw_key}"
    );
    assert_eq!(r["many_first_page"], json!([1000, true]));
    assert_eq!(r["many_paginated"], 1005);
    assert_eq!(r["many_delete_errors"], json!([]));
    assert_eq!(
        r["many_left"],
        json!(["m01000", "m01001", "m01002", "m01003", "m01004"])
    );
    let prefixes = r["odd_encoded_prefixes"].as_array().expect("prefixes");
    assert_eq!(prefixes.len(), 1, "{r:#}");
    assert_eq!(
        form_decode(prefixes[0].as_str().expect("prefix")),
        "dir with space/"
    );
}

/// Decodes `application/x-www-form-urlencoded` text (`+` is a space), as SDKs decode
/// listings asked for with `encoding-type=url`.
fn form_decode(s: &str) -> String {
    let bytes = s.replace('+', " ");
    let mut out = Vec::new();
    let mut it = bytes.bytes();
    while let Some(b) = it.next() {
        if b == b'%' {
            let hex: String = [it.next(), it.next()]
                .iter()
                .map(|c| char::from(c.expect("two hex digits after %")))
                .collect();
            out.push(u8::from_str_radix(&hex, 16).expect("hex"));
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).expect("UTF-8")
}

#[test]
fn s3_multipart_with_boto3() {
    let b = S3Box::start("multipart", "");
    let r = b.python(
        "multipart",
        r#"
from boto3.s3.transfer import TransferConfig
B = "big"
s3.create_bucket(Bucket=B)
src, dst = "upload.bin", "download.bin"
data = os.urandom(20 * 1024 * 1024 + 12345)
with open(src, "wb") as f:
    f.write(data)
cfg = TransferConfig(multipart_threshold=8 * 1024 * 1024, multipart_chunksize=8 * 1024 * 1024)
s3.upload_file(src, B, "twenty.bin", Config=cfg)
h = s3.head_object(Bucket=B, Key="twenty.bin")
out["etag"] = h["ETag"]
out["length"] = h["ContentLength"]
out["expected_length"] = len(data)
s3.download_file(B, "twenty.bin", dst, Config=cfg)
out["same_bytes"] = hashlib.sha256(open(dst, "rb").read()).hexdigest() == hashlib.sha256(data).hexdigest()
# The ETag of a multipart object: md5 of the parts' md5s, dash, part count.
md5s = b"".join(hashlib.md5(data[i:i + 8 * 1024 * 1024]).digest() for i in range(0, len(data), 8 * 1024 * 1024))
out["expected_etag"] = '"%s-%d"' % (hashlib.md5(md5s).hexdigest(), 3)
p1 = s3.get_object(Bucket=B, Key="twenty.bin", PartNumber=1)
out["part1"] = {"status": status(p1), "length": p1["ContentLength"], "parts": p1.get("PartsCount"),
                "same": p1["Body"].read() == data[:8 * 1024 * 1024]}

up = s3.create_multipart_upload(Bucket=B, Key="pending.bin", ContentType="application/x-pending")
uid = up["UploadId"]
e1 = s3.upload_part(Bucket=B, Key="pending.bin", UploadId=uid, PartNumber=1, Body=b"a" * (5 * 1024 * 1024))["ETag"]
e2 = s3.upload_part(Bucket=B, Key="pending.bin", UploadId=uid, PartNumber=2, Body=b"tail")["ETag"]
ups = s3.list_multipart_uploads(Bucket=B)
out["uploads"] = [(u["Key"], u["UploadId"] == uid) for u in ups.get("Uploads", [])]
parts = s3.list_parts(Bucket=B, Key="pending.bin", UploadId=uid)
out["parts"] = [(p["PartNumber"], p["Size"], p["ETag"]) for p in parts["Parts"]]
out["part_etags"] = [e1, e2]
out["parts_by_1"] = [[p["PartNumber"] for p in s3.list_parts(Bucket=B, Key="pending.bin", UploadId=uid, MaxParts=1)["Parts"]],
                     s3.list_parts(Bucket=B, Key="pending.bin", UploadId=uid, MaxParts=1)["IsTruncated"]]
out["not_yet_visible"] = error(s3.head_object, Bucket=B, Key="pending.bin")
# Pages of uploads, several for one key: every upload once.
extra = [s3.create_multipart_upload(Bucket=B, Key=f"many/{i % 2}")["UploadId"] for i in range(10)]
seen, kw, pages = [], {}, 0
while pages < 20:
    p = s3.list_multipart_uploads(Bucket=B, Prefix="many/", MaxUploads=2, **kw)
    seen += [u["UploadId"] for u in p.get("Uploads", [])]
    pages += 1
    if not p["IsTruncated"]:
        break
    kw = {"KeyMarker": p["NextKeyMarker"], "UploadIdMarker": p["NextUploadIdMarker"]}
out["uploads_paged"] = {"pages": pages, "all_once": sorted(seen) == sorted(extra)}
for i, other in enumerate(extra):
    s3.abort_multipart_upload(Bucket=B, Key=f"many/{i % 2}", UploadId=other)
out["abort"] = status(s3.abort_multipart_upload(Bucket=B, Key="pending.bin", UploadId=uid))
out["uploads_after_abort"] = s3.list_multipart_uploads(Bucket=B).get("Uploads", [])
out["parts_after_abort"] = error(s3.list_parts, Bucket=B, Key="pending.bin", UploadId=uid)
out["upload_after_abort"] = error(s3.upload_part, Bucket=B, Key="pending.bin", UploadId=uid, PartNumber=3, Body=b"x")

# A complete by hand: what it lists is what the object is.
up = s3.create_multipart_upload(Bucket=B, Key="manual.bin", Metadata={"m": "1"})
uid = up["UploadId"]
a = s3.upload_part(Bucket=B, Key="manual.bin", UploadId=uid, PartNumber=1, Body=b"A" * (5 * 1024 * 1024))["ETag"]
z = s3.upload_part(Bucket=B, Key="manual.bin", UploadId=uid, PartNumber=2, Body=b"Z" * 10)["ETag"]
done = s3.complete_multipart_upload(Bucket=B, Key="manual.bin", UploadId=uid,
    MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": a}, {"PartNumber": 2, "ETag": z}]})
out["manual_etag"] = done["ETag"]
g = s3.get_object(Bucket=B, Key="manual.bin")
body = g["Body"].read()
out["manual"] = {"length": len(body), "head_ok": body[:3] == b"AAA", "tail": body[-10:].decode(),
                 "metadata": g["Metadata"]}
"#,
    );
    assert_eq!(r["length"], r["expected_length"], "{r:#}");
    assert_eq!(r["same_bytes"], true);
    assert_eq!(r["etag"], r["expected_etag"]);
    assert!(r["etag"].as_str().is_some_and(|e| e.ends_with("-3\"")));
    assert_eq!(
        r["part1"],
        json!({"status": 206, "length": 8 * 1024 * 1024, "parts": 3, "same": true})
    );
    assert_eq!(r["uploads"], json!([["pending.bin", true]]));
    let etags = &r["part_etags"];
    assert_eq!(
        r["parts"],
        json!([[1, 5 * 1024 * 1024, etags[0]], [2, 4, etags[1]]])
    );
    assert_eq!(r["parts_by_1"], json!([[1], true]));
    assert_eq!(code(&r["not_yet_visible"]), s3_error(404, "404"));
    assert_eq!(
        r["uploads_paged"],
        json!({"pages": 5, "all_once": true}),
        "ListMultipartUploads pages, 2 at a time, over 10 uploads of 2 keys"
    );
    assert_eq!(r["abort"], 204);
    assert_eq!(r["uploads_after_abort"], json!([]));
    assert_eq!(code(&r["parts_after_abort"]), s3_error(404, "NoSuchUpload"));
    assert_eq!(
        code(&r["upload_after_abort"]),
        s3_error(404, "NoSuchUpload")
    );
    assert!(
        r["manual_etag"]
            .as_str()
            .is_some_and(|e| e.ends_with("-2\"")),
        "{r:#}"
    );
    assert_eq!(
        r["manual"],
        json!({"length": 5 * 1024 * 1024 + 10, "head_ok": true, "tail": "ZZZZZZZZZZ", "metadata": {"m": "1"}})
    );
}

#[test]
fn s3_versioning_with_boto3() {
    let b = S3Box::start("versioning", "");
    let r = b.python(
        "versioning",
        r#"
B = "versions"
s3.create_bucket(Bucket=B)
out["initial"] = s3.get_bucket_versioning(Bucket=B).get("Status")
s3.put_object(Bucket=B, Key="before.txt", Body=b"unversioned")
s3.put_bucket_versioning(Bucket=B, VersioningConfiguration={"Status": "Enabled"})
out["enabled"] = s3.get_bucket_versioning(Bucket=B).get("Status")
v1 = s3.put_object(Bucket=B, Key="k", Body=b"one")["VersionId"]
v2 = s3.put_object(Bucket=B, Key="k", Body=b"two")["VersionId"]
out["ids"] = [v1, v2]
out["latest"] = s3.get_object(Bucket=B, Key="k")["Body"].read().decode()
g = s3.get_object(Bucket=B, Key="k", VersionId=v1)
out["by_id"] = [g["Body"].read().decode(), g["VersionId"]]
out["head_by_id"] = s3.head_object(Bucket=B, Key="k", VersionId=v1)["ContentLength"]

def versions(prefix=""):
    lv = s3.list_object_versions(Bucket=B, Prefix=prefix)
    return {"versions": [(v["Key"], v["VersionId"], v["IsLatest"], v["Size"]) for v in lv.get("Versions", [])],
            "markers": [(m["Key"], m["VersionId"], m["IsLatest"]) for m in lv.get("DeleteMarkers", [])]}
out["versions"] = versions("k")
out["before_version"] = versions("before")
d = s3.delete_object(Bucket=B, Key="k")
out["delete"] = {"marker": d.get("DeleteMarker"), "id": d.get("VersionId")}
out["get_after_delete"] = error(s3.get_object, Bucket=B, Key="k")
try:
    s3.get_object(Bucket=B, Key="k")
except botocore.exceptions.ClientError as e:
    out["delete_marker_header"] = e.response["ResponseMetadata"]["HTTPHeaders"].get("x-amz-delete-marker")
out["old_still_there"] = s3.get_object(Bucket=B, Key="k", VersionId=v1)["Body"].read().decode()
out["after_delete"] = versions("k")
out["listed_after_delete"] = [c["Key"] for c in s3.list_objects_v2(Bucket=B).get("Contents", [])]
out["get_marker_by_id"] = error(s3.get_object, Bucket=B, Key="k", VersionId=d.get("VersionId"))
# Removing the delete marker brings the latest version back.
s3.delete_object(Bucket=B, Key="k", VersionId=d["VersionId"])
out["restored"] = s3.get_object(Bucket=B, Key="k")["Body"].read().decode()
# Deleting a version by id removes that version for good.
out["delete_v1"] = s3.delete_object(Bucket=B, Key="k", VersionId=v1).get("VersionId")
out["v1_gone"] = error(s3.get_object, Bucket=B, Key="k", VersionId=v1)
out["bad_version_id"] = error(s3.get_object, Bucket=B, Key="k", VersionId="not-a-version")
out["delete_bad_version_id"] = error(s3.delete_object, Bucket=B, Key="k", VersionId="not-a-version")
s3.put_bucket_versioning(Bucket=B, VersioningConfiguration={"Status": "Suspended"})
out["suspended"] = s3.get_bucket_versioning(Bucket=B).get("Status")
out["suspended_put_id"] = s3.put_object(Bucket=B, Key="k", Body=b"three").get("VersionId")
out["suspended_put_again_id"] = s3.put_object(Bucket=B, Key="k", Body=b"four").get("VersionId")
out["after_suspend"] = versions("k")
out["latest_after_suspend"] = s3.get_object(Bucket=B, Key="k")["Body"].read().decode()
"#,
    );
    assert_eq!(r["initial"], Value::Null, "{r:#}");
    assert_eq!(r["enabled"], "Enabled");
    let (v1, v2) = (r["ids"][0].clone(), r["ids"][1].clone());
    assert!(
        v1.is_string() && v2.is_string() && v1 != v2 && v1 != "null",
        "{r:#}"
    );
    assert_eq!(r["latest"], "two");
    assert_eq!(r["by_id"], json!(["one", v1]));
    assert_eq!(r["head_by_id"], 3);
    assert_eq!(
        r["versions"],
        json!({"versions": [["k", v2, true, 3], ["k", v1, false, 3]], "markers": []})
    );
    // What was written before versioning is the `null` version.
    assert_eq!(
        r["before_version"],
        json!({"versions": [["before.txt", "null", true, 11]], "markers": []})
    );
    assert_eq!(r["delete"]["marker"], true);
    let marker = r["delete"]["id"].clone();
    assert!(marker.is_string() && marker != v1 && marker != v2);
    assert_eq!(code(&r["get_after_delete"]), s3_error(404, "NoSuchKey"));
    assert_eq!(r["delete_marker_header"], "true");
    assert_eq!(r["old_still_there"], "one");
    assert_eq!(
        r["after_delete"],
        json!({"versions": [["k", v2, false, 3], ["k", v1, false, 3]], "markers": [["k", marker, true]]})
    );
    assert_eq!(r["listed_after_delete"], json!(["before.txt"]));
    assert_eq!(
        code(&r["get_marker_by_id"]),
        s3_error(405, "MethodNotAllowed")
    );
    assert_eq!(r["restored"], "two");
    assert_eq!(r["delete_v1"], v1);
    assert_eq!(code(&r["v1_gone"]), s3_error(404, "NoSuchVersion"));
    // A version id that no version could have: 400 InvalidArgument, as S3 answers.
    assert_eq!(code(&r["bad_version_id"]), s3_error(400, "InvalidArgument"));
    assert_eq!(
        code(&r["delete_bad_version_id"]),
        s3_error(400, "InvalidArgument")
    );
    assert_eq!(r["suspended"], "Suspended");
    assert_eq!(r["suspended_put_id"], "null");
    assert_eq!(r["suspended_put_again_id"], "null");
    // Suspended: new writes replace the `null` version; the versions before stay.
    assert_eq!(
        r["after_suspend"],
        json!({"versions": [["k", "null", true, 4], ["k", v2, false, 3]], "markers": []})
    );
    assert_eq!(r["latest_after_suspend"], "four");
}

#[test]
fn s3_presigned_urls_and_signatures() {
    let b = S3Box::start("presigned", "");
    let r = b.python(
        "presigned",
        r#"
B = "shared"
s3.create_bucket(Bucket=B)
s3.put_object(Bucket=B, Key="report.csv", Body=b"a,b\n1,2\n", ContentType="text/csv")
# boto3 presigns with Signature V2 by default here (us-east-1, an endpoint URL of its
# own), with V4 when told: both open the object to a client without an SDK.
v4 = boto3.client("s3", endpoint_url=URL, region_name="us-east-1",
                  config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
get_url = s3.generate_presigned_url("get_object", Params={"Bucket": B, "Key": "report.csv"}, ExpiresIn=600)
st, h, body = raw("GET", get_url)
out["presigned_get"] = {"status": st, "body": body.decode(), "type": h.get("content-type"),
                        "request_id": bool(h.get("x-amz-request-id"))}
v4_get_url = v4.generate_presigned_url("get_object", Params={"Bucket": B, "Key": "report.csv"}, ExpiresIn=600)
out["v4_url"] = "X-Amz-Signature=" in v4_get_url
import subprocess
curl = subprocess.run(["curl", "-sS", "--cacert", os.environ["AWS_CA_BUNDLE"], "-w", "\n%{http_code}", v4_get_url],
                      capture_output=True, text=True)
out["presigned_get_v4_curl"] = curl.stdout.rsplit("\n", 1)
# A V2 URL signs the Content-Type: the uploader sends the one it was made for.
put_url = s3.generate_presigned_url("put_object", Params={"Bucket": B, "Key": "upload.txt", "ContentType": "text/plain"}, ExpiresIn=600)
st, h, _ = raw("PUT", put_url, headers={"Content-Type": "text/plain"}, body=b"sent without an SDK")
out["presigned_put"] = {"status": st, "etag": h.get("etag")}
out["uploaded"] = s3.get_object(Bucket=B, Key="upload.txt")["Body"].read().decode()
st, _, body = raw("PUT", put_url, headers={"Content-Type": "text/html"}, body=b"other type")
out["presigned_put_other_type"] = {"status": st, "body": body.decode()}
with open("curl-upload.txt", "wb") as f:
    f.write(b"uploaded with curl")
v4_put_url = v4.generate_presigned_url("put_object", Params={"Bucket": B, "Key": "curl.txt"}, ExpiresIn=600)
curl = subprocess.run(["curl", "-sS", "--cacert", os.environ["AWS_CA_BUNDLE"], "-w", "%{http_code}", "-T", "curl-upload.txt", v4_put_url],
                      capture_output=True, text=True)
out["presigned_put_v4_curl"] = curl.stdout
out["curl_uploaded"] = s3.get_object(Bucket=B, Key="curl.txt")["Body"].read().decode()

sig = v4_get_url.split("X-Amz-Signature=")[1].split("&")[0]
bad = v4_get_url.replace("X-Amz-Signature=" + sig, "X-Amz-Signature=" + sig[:-1] + ("0" if sig[-1] != "0" else "1"))
st, _, body = raw("GET", bad)
out["tampered_signature"] = {"status": st, "body": body.decode()}
sig = get_url.split("Signature=")[1].split("&")[0]
bad = get_url.replace("Signature=" + sig, "Signature=" + ("A" if sig[0] != "A" else "B") + sig[1:])
st, _, body = raw("GET", bad)
out["tampered_v2_signature"] = {"status": st, "body": body.decode()}
# A signed URL for one key does not open another.
st, _, body = raw("GET", v4_get_url.replace("report.csv", "upload.txt"))
out["other_key"] = {"status": st, "body": body.decode()}
short = v4.generate_presigned_url("get_object", Params={"Bucket": B, "Key": "report.csv"}, ExpiresIn=1)
time.sleep(3)
st, _, body = raw("GET", short)
out["expired"] = {"status": st, "body": body.decode()}

creds = boto3.Session().get_credentials()
out["wrong_secret"] = error(client(aws_access_key_id=creds.access_key, aws_secret_access_key="not-the-secret").list_buckets)
out["unknown_key"] = error(client(aws_access_key_id="AKIAUNKNOWNKEY000000", aws_secret_access_key=creds.secret_key).list_buckets)
out["wrong_secret_put"] = error(client(aws_access_key_id=creds.access_key, aws_secret_access_key="not-the-secret").put_object,
                                Bucket=B, Key="intruder.txt", Body=b"x")
out["intruder_absent"] = error(s3.head_object, Bucket=B, Key="intruder.txt")
unsigned = {}
for method, path, data in [("GET", "/", None), ("GET", "/shared/report.csv", None),
                           ("PUT", "/shared/anon.txt", b"anon"), ("DELETE", "/shared/report.csv", None)]:
    st, h, body = raw(method, path, body=data)
    unsigned[method + " " + path] = {"status": st, "body": body.decode(), "request_id": h.get("x-amz-request-id")}
out["unsigned"] = unsigned
# A client whose clock is off by more than 15 minutes signs requests S3 refuses (and a
# captured request cannot be replayed later); 5 minutes is within the allowance.
import datetime
import botocore.auth
real_now = botocore.auth.get_current_datetime
for name, minutes in [("clock_20min_behind", -20), ("clock_20min_ahead", 20), ("clock_5min_behind", -5)]:
    botocore.auth.get_current_datetime = lambda m=minutes: real_now() + datetime.timedelta(minutes=m)
    out[name] = error(s3.list_buckets)
botocore.auth.get_current_datetime = real_now
# A presigned URL lives at most a week.
week = v4.generate_presigned_url("get_object", Params={"Bucket": B, "Key": "report.csv"}, ExpiresIn=604800)
out["expires_a_week"] = raw("GET", week)[0]
too_long = v4.generate_presigned_url("get_object", Params={"Bucket": B, "Key": "report.csv"}, ExpiresIn=604801)
st, _, body = raw("GET", too_long)
out["expires_too_long"] = {"status": st, "body": body.decode()}
out["still_there"] = s3.get_object(Bucket=B, Key="report.csv")["Body"].read().decode()
out["anon_absent"] = error(s3.head_object, Bucket=B, Key="anon.txt")
"#,
    );
    assert_eq!(
        r["presigned_get"],
        json!({"status": 200, "body": "a,b\n1,2\n", "type": "text/csv", "request_id": true})
    );
    assert_eq!(r["v4_url"], true);
    assert_eq!(r["presigned_get_v4_curl"], json!(["a,b\n1,2\n", "200"]));
    assert_eq!(r["presigned_put"]["status"], 200, "{r:#}");
    assert!(r["presigned_put"]["etag"].is_string());
    assert_eq!(r["uploaded"], "sent without an SDK");
    let has_code = |v: &Value, status: u16, code: &str| {
        assert_eq!(v["status"], status, "{v:#}");
        let body = v["body"].as_str().unwrap_or_default();
        assert!(
            body.contains(&format!("<Code>{code}</Code>"))
                && body.contains("<Message>")
                && body.contains("<RequestId>"),
            "expected {code}: {body}"
        );
    };
    has_code(&r["presigned_put_other_type"], 403, "SignatureDoesNotMatch");
    assert_eq!(r["presigned_put_v4_curl"], "200");
    assert_eq!(r["curl_uploaded"], "uploaded with curl");
    has_code(&r["tampered_signature"], 403, "SignatureDoesNotMatch");
    has_code(&r["tampered_v2_signature"], 403, "SignatureDoesNotMatch");
    has_code(&r["other_key"], 403, "SignatureDoesNotMatch");
    has_code(&r["expired"], 403, "AccessDenied");
    assert_eq!(
        code(&r["wrong_secret"]),
        s3_error(403, "SignatureDoesNotMatch")
    );
    assert_eq!(code(&r["unknown_key"]), s3_error(403, "InvalidAccessKeyId"));
    assert_eq!(
        code(&r["wrong_secret_put"]),
        s3_error(403, "SignatureDoesNotMatch")
    );
    assert_eq!(code(&r["intruder_absent"]), s3_error(404, "404"));
    for (what, v) in r["unsigned"].as_object().expect("unsigned") {
        has_code(v, 403, "AccessDenied");
        assert!(v["request_id"].is_string(), "{what}: {v:#}");
    }
    for skewed in ["clock_20min_behind", "clock_20min_ahead"] {
        assert_eq!(
            code(&r[skewed]),
            s3_error(403, "RequestTimeTooSkewed"),
            "{skewed}: {r:#}"
        );
    }
    assert_eq!(r["clock_5min_behind"], Value::Null);
    assert_eq!(r["expires_a_week"], 200);
    has_code(
        &r["expires_too_long"],
        400,
        "AuthorizationQueryParametersError",
    );
    assert_eq!(r["still_there"], "a,b\n1,2\n");
    assert_eq!(code(&r["anon_absent"]), s3_error(404, "404"));
}

#[test]
fn s3_aws_cli_cp_ls_sync() {
    let b = S3Box::start("awscli", "");
    let run = |args: &[&str]| -> String {
        let out = b.aws(args);
        assert!(
            out.status.success(),
            "aws {args:?}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let work = b.dir.join("cli");
    let local = work.join("local");
    std::fs::create_dir_all(local.join("nested/deeper")).expect("dirs");
    let big: Vec<u8> = (0..12 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(local.join("big.bin"), &big).expect("big");
    std::fs::write(local.join("a.txt"), "alpha\n").expect("a");
    std::fs::write(local.join("nested/b.txt"), "beta\n").expect("b");
    std::fs::write(local.join("nested/deeper/c with space.txt"), "gamma\n").expect("c");

    run(&["s3", "mb", "s3://cli-bucket"]);
    assert!(run(&["s3", "ls"]).contains("cli-bucket"));
    // cp up and down; 12 MiB goes multipart (the CLI's threshold is 8 MiB).
    run(&[
        "s3",
        "cp",
        local.join("big.bin").to_str().expect("path"),
        "s3://cli-bucket/one/big.bin",
    ]);
    let back = work.join("big-back.bin");
    run(&[
        "s3",
        "cp",
        "s3://cli-bucket/one/big.bin",
        back.to_str().expect("path"),
    ]);
    assert!(
        std::fs::read(&back).expect("downloaded") == big,
        "aws s3 cp round trip changed the bytes"
    );
    let listed = run(&["s3", "ls", "s3://cli-bucket/one/"]);
    assert!(
        listed.contains(&format!("{} big.bin", big.len())),
        "{listed}"
    );

    // sync up, then down into an empty folder: the same tree.
    run(&[
        "s3",
        "sync",
        local.to_str().expect("path"),
        "s3://cli-bucket/tree",
    ]);
    let listed = run(&["s3", "ls", "--recursive", "s3://cli-bucket/tree/"]);
    for key in [
        "tree/a.txt",
        "tree/big.bin",
        "tree/nested/b.txt",
        "tree/nested/deeper/c with space.txt",
    ] {
        assert!(listed.contains(key), "{key} not in:\n{listed}");
    }
    let top = run(&["s3", "ls", "s3://cli-bucket/tree/"]);
    assert!(
        top.contains("PRE nested/") && top.contains("a.txt"),
        "{top}"
    );
    let down = work.join("down");
    run(&[
        "s3",
        "sync",
        "s3://cli-bucket/tree",
        down.to_str().expect("path"),
    ]);
    for file in [
        "a.txt",
        "big.bin",
        "nested/b.txt",
        "nested/deeper/c with space.txt",
    ] {
        assert_eq!(
            std::fs::read(down.join(file)).expect("synced file"),
            std::fs::read(local.join(file)).expect("local file"),
            "{file}"
        );
    }
    // A second sync has nothing to do; a changed file is sent again; --delete removes.
    let again = run(&[
        "s3",
        "sync",
        local.to_str().expect("path"),
        "s3://cli-bucket/tree",
    ]);
    assert!(!again.contains("upload:"), "nothing changed: {again}");
    std::fs::write(local.join("a.txt"), "alpha, changed\n").expect("a");
    std::fs::remove_file(local.join("nested/b.txt")).expect("rm b");
    let changed = run(&[
        "s3",
        "sync",
        "--delete",
        local.to_str().expect("path"),
        "s3://cli-bucket/tree",
    ]);
    assert!(
        changed.contains("upload:") && changed.contains("a.txt"),
        "{changed}"
    );
    assert!(
        changed.contains("delete:") && changed.contains("nested/b.txt"),
        "{changed}"
    );
    let listed = run(&["s3", "ls", "--recursive", "s3://cli-bucket/tree/"]);
    assert!(!listed.contains("nested/b.txt"), "{listed}");
    let out = b.aws(&["s3", "cp", "s3://cli-bucket/tree/a.txt", "-"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "alpha, changed\n");

    // Errors come back as the CLI shows S3's.
    let missing = b.aws(&["s3", "cp", "s3://no-such-bucket/x", "-"]);
    assert!(!missing.status.success());
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(err.contains("404") || err.contains("NoSuchBucket"), "{err}");
    run(&["s3", "rb", "--force", "s3://cli-bucket"]);
    assert!(!run(&["s3", "ls"]).contains("cli-bucket"));
}

// --- CORS ----------------------------------------------------------------------------

#[test]
fn s3_cors_preflights_follow_the_bucket_rules() {
    let b = S3Box::start(
        "cors",
        "  Site:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketName: web-assets\n      \
         CorsConfiguration:\n        CorsRules:\n          - AllowedOrigins: ['https://*.example.com']\n            \
         AllowedMethods: [GET, PUT]\n            AllowedHeaders: ['*']\n            ExposedHeaders: [ETag]\n            \
         MaxAge: 3000\n",
    );
    let r = b.python(
        "cors",
        r#"
def preflight(bucket, origin, method, headers=None):
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        h["Access-Control-Request-Headers"] = headers
    st, rh, body = raw("OPTIONS", f"/{bucket}/some/key.txt", headers=h)
    return {"status": st, "allow_origin": rh.get("access-control-allow-origin"),
            "allow_methods": rh.get("access-control-allow-methods"),
            "allow_headers": rh.get("access-control-allow-headers"),
            "max_age": rh.get("access-control-max-age"),
            "error": body.decode() if st >= 400 else None}

# The template's rules.
rules = s3.get_bucket_cors(Bucket="web-assets")["CORSRules"]
out["template_rules"] = [{k: r.get(k) for k in ["AllowedOrigins", "AllowedMethods", "AllowedHeaders", "ExposeHeaders", "MaxAgeSeconds"]} for r in rules]
out["template_allowed"] = preflight("web-assets", "https://app.example.com", "PUT", "content-type, x-amz-meta-a")
out["template_other_origin"] = preflight("web-assets", "https://evil.test", "GET")
out["template_other_method"] = preflight("web-assets", "https://app.example.com", "DELETE")

# Rules put with boto3.
s3.create_bucket(Bucket="api-data")
out["no_rules"] = preflight("api-data", "https://app.test", "GET")
out["get_no_rules"] = error(s3.get_bucket_cors, Bucket="api-data")
s3.put_bucket_cors(Bucket="api-data", CORSConfiguration={"CORSRules": [
    {"AllowedOrigins": ["https://app.test"], "AllowedMethods": ["GET", "HEAD"], "AllowedHeaders": ["x-custom"], "MaxAgeSeconds": 600, "ExposeHeaders": ["x-amz-request-id"]},
    {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]},
]})
out["allowed"] = preflight("api-data", "https://app.test", "GET", "x-custom")
out["header_not_allowed_falls_to_star"] = preflight("api-data", "https://app.test", "GET", "x-other")
out["star_origin"] = preflight("api-data", "https://anyone.test", "GET")
out["method_not_allowed"] = preflight("api-data", "https://app.test", "PUT")
out["no_origin"] = raw("OPTIONS", "/api-data/k", headers={"Access-Control-Request-Method": "GET"})[0]

# Real requests with an Origin get the headers of the rule that allows them.
s3.put_object(Bucket="api-data", Key="k.txt", Body=b"cors body")
url = s3.generate_presigned_url("get_object", Params={"Bucket": "api-data", "Key": "k.txt"})
st, h, body = raw("GET", url, headers={"Origin": "https://app.test"})
out["get_with_origin"] = {"status": st, "allow_origin": h.get("access-control-allow-origin"),
                          "expose": h.get("access-control-expose-headers"), "body": body.decode()}
st, h, _ = raw("GET", url)
out["get_without_origin"] = {"status": st, "allow_origin": h.get("access-control-allow-origin")}
s3.delete_bucket_cors(Bucket="api-data")
out["after_delete"] = preflight("api-data", "https://app.test", "GET")
out["get_after_delete"] = error(s3.get_bucket_cors, Bucket="api-data")
st, h, _ = raw("GET", url, headers={"Origin": "https://app.test"})
out["get_with_origin_after_delete"] = {"status": st, "allow_origin": h.get("access-control-allow-origin")}
out["invalid_rule"] = error(s3.put_bucket_cors, Bucket="api-data", CORSConfiguration={"CORSRules": [
    {"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}]})
"#,
    );
    assert_eq!(
        r["template_rules"],
        json!([{
            "AllowedOrigins": ["https://*.example.com"],
            "AllowedMethods": ["GET", "PUT"],
            "AllowedHeaders": ["*"],
            "ExposeHeaders": ["ETag"],
            "MaxAgeSeconds": 3000,
        }]),
        "{r:#}"
    );
    let allowed = &r["template_allowed"];
    assert_eq!(allowed["status"], 200, "{allowed:#}");
    assert_eq!(allowed["allow_origin"], "https://app.example.com");
    assert!(
        allowed["allow_methods"]
            .as_str()
            .is_some_and(|m| m.contains("PUT")),
        "{allowed:#}"
    );
    assert!(
        allowed["allow_headers"]
            .as_str()
            .is_some_and(|h| h.contains("content-type") && h.contains("x-amz-meta-a")),
        "{allowed:#}"
    );
    assert_eq!(allowed["max_age"], "3000");
    for denied in [
        "template_other_origin",
        "template_other_method",
        "no_rules",
        "method_not_allowed",
        "after_delete",
    ] {
        let v = &r[denied];
        assert_eq!(v["status"], 403, "{denied}: {v:#}");
        assert_eq!(v["allow_origin"], Value::Null, "{denied}: {v:#}");
        let body = v["error"].as_str().unwrap_or_default();
        assert!(
            body.contains("<Code>AccessForbidden</Code>") && body.contains("<RequestId>"),
            "{denied}: {body}"
        );
    }
    assert_eq!(
        code(&r["get_no_rules"]),
        s3_error(404, "NoSuchCORSConfiguration")
    );
    let v = &r["allowed"];
    assert_eq!(
        (
            &v["status"],
            &v["allow_origin"],
            &v["max_age"],
            &v["allow_headers"]
        ),
        (
            &json!(200),
            &json!("https://app.test"),
            &json!("600"),
            &json!("x-custom")
        ),
        "{v:#}"
    );
    // The first rule does not allow x-other; the second allows any origin but no headers.
    assert_eq!(r["header_not_allowed_falls_to_star"]["status"], 403);
    assert_eq!(r["star_origin"]["status"], 200);
    assert_eq!(r["star_origin"]["allow_origin"], "*");
    assert_eq!(r["no_origin"], 400, "{r:#}");
    assert_eq!(
        r["get_with_origin"],
        json!({"status": 200, "allow_origin": "https://app.test", "expose": "x-amz-request-id", "body": "cors body"})
    );
    assert_eq!(
        r["get_without_origin"],
        json!({"status": 200, "allow_origin": null})
    );
    assert_eq!(
        code(&r["get_after_delete"]),
        s3_error(404, "NoSuchCORSConfiguration")
    );
    assert_eq!(
        r["get_with_origin_after_delete"],
        json!({"status": 200, "allow_origin": null})
    );
    assert_eq!(code(&r["invalid_rule"]), s3_error(400, "InvalidRequest"));
}

// --- functions using S3 ---------------------------------------------------------------

/// A function of the box writes and reads S3 with `boto3.client("s3")` and nothing
/// else: endpoint, CA and credentials come from the box.
fn a_function_reads_and_writes_s3(rt: Rt) {
    let b = S3Box::start_on(
        "function",
        rt,
        "  Data:\n    Type: AWS::S3::Bucket\n    Properties: {BucketName: fn-data}\n  \
         ReadWrite:\n    Type: AWS::Serverless::Function\n    Properties: {FunctionName: s3rw, \
         Handler: s3_handlers.read_write, Timeout: 60}\n",
    );
    let seeded = b.python(
        "seed",
        r#"
s3.put_object(Bucket="fn-data", Key="seed.txt", Body=b"put from the host")
out["ok"] = True
"#,
    );
    assert_eq!(seeded["ok"], true);
    let (status, v) = b.invoke(
        "s3rw",
        &json!({"bucket": "fn-data", "key": "from-fn.txt", "body": "written inside", "seed_key": "seed.txt"}),
    );
    assert_eq!(status, 200, "{v:#}\n{}", b.logs());
    assert_eq!(v["got"], "written inside", "{v:#}");
    assert_eq!(v["metadata"], json!({"written-by": "s3rw"}));
    assert_eq!(v["seed"], "put from the host");
    assert_eq!(v["listed"], json!(["from-fn.txt", "seed.txt"]));
    let endpoint = v["endpoint"]
        .as_str()
        .expect("AWS_ENDPOINT_URL_S3 in the function");
    assert_eq!(v["s3_endpoint"], endpoint);
    let port = b.s3_url.rsplit(':').next().expect("port");
    match rt {
        Rt::Process => assert_eq!(endpoint, b.s3_url),
        // A container reaches the box by another name, on the same port.
        Rt::Docker | Rt::Containerd => {
            assert!(endpoint.ends_with(&format!(":{port}")), "{endpoint}")
        }
    }
    let back = b.python(
        "read-back",
        r#"
g = s3.get_object(Bucket="fn-data", Key="from-fn.txt")
out["body"] = g["Body"].read().decode()
out["type"] = g["ContentType"]
"#,
    );
    assert_eq!(
        back,
        json!({"body": "written inside", "type": "text/plain"})
    );
}

#[test]
fn s3_a_process_function_reads_and_writes_s3() {
    a_function_reads_and_writes_s3(Rt::Process);
}

#[test]
fn s3_a_docker_function_reads_and_writes_s3() {
    a_function_reads_and_writes_s3(Rt::Docker);
}

#[test]
fn s3_a_containerd_function_reads_and_writes_s3() {
    a_function_reads_and_writes_s3(Rt::Containerd);
}

// --- notifications ---------------------------------------------------------------------

/// A bucket whose `incoming/*.csv` objects invoke `on-upload`, which records each
/// event in the `markers` bucket; `SLEEP_S` delays it.
fn notified_resources(sleep_s: u32) -> String {
    format!(
        "  Markers:\n    Type: AWS::S3::Bucket\n    Properties: {{BucketName: markers}}\n  \
         Uploads:\n    Type: AWS::S3::Bucket\n    Properties: {{BucketName: uploads}}\n  \
         OnUpload:\n    Type: AWS::Serverless::Function\n    Properties:\n      \
         FunctionName: on-upload\n      Handler: s3_handlers.record_event\n      Timeout: 60\n      \
         Environment: {{Variables: {{MARKERS: markers, SLEEP_S: '{sleep_s}'}}}}\n      \
         Events:\n        Up:\n          Type: S3\n          Properties:\n            \
         Bucket: !Ref Uploads\n            Events: s3:ObjectCreated:*\n            \
         Filter: {{S3Key: {{Rules: [{{Name: prefix, Value: incoming/}}, {{Name: suffix, Value: .csv}}]}}}}\n"
    )
}

impl S3Box {
    /// The markers `on-upload` wrote so far: marker key → what it recorded.
    fn markers(&self) -> serde_json::Map<String, Value> {
        let r = self.python(
            "markers",
            r#"
for page in s3.get_paginator("list_objects_v2").paginate(Bucket="markers", Prefix="seen/"):
    for o in page.get("Contents", []):
        out[o["Key"]] = json.loads(s3.get_object(Bucket="markers", Key=o["Key"])["Body"].read())
"#,
        );
        r.as_object().cloned().unwrap_or_default()
    }

    fn wait_for_markers(&self, keys: &[&str]) -> serde_json::Map<String, Value> {
        let deadline = Instant::now() + Duration::from_secs(240);
        loop {
            let markers = self.markers();
            if keys.iter().all(|k| markers.contains_key(*k)) {
                return markers;
            }
            assert!(
                Instant::now() < deadline,
                "markers {keys:?} never all appeared; got {:?}\n{}",
                markers.keys().collect::<Vec<_>>(),
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

#[test]
fn s3_notifications_invoke_functions() {
    let b = S3Box::start("notify", &notified_resources(0));
    let r = b.python(
        "notify",
        r#"
def put(key, body):
    return s3.put_object(Bucket="uploads", Key=key, Body=body)["ETag"].strip('"')
out["etags"] = {}
out["etags"]["incoming/skip.txt"] = put("incoming/skip.txt", b"wrong suffix")
out["etags"]["other/x.csv"] = put("other/x.csv", b"wrong prefix")
out["etags"]["incoming/a b+c.csv"] = put("incoming/a b+c.csv", b"a,b\n1,2\n")
s3.copy_object(Bucket="uploads", Key="incoming/copied.csv", CopySource={"Bucket": "uploads", "Key": "incoming/a b+c.csv"})
up = s3.create_multipart_upload(Bucket="uploads", Key="incoming/multi.csv")
e = s3.upload_part(Bucket="uploads", Key="incoming/multi.csv", UploadId=up["UploadId"], PartNumber=1, Body=b"m" * 100)["ETag"]
s3.complete_multipart_upload(Bucket="uploads", Key="incoming/multi.csv", UploadId=up["UploadId"],
                             MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e}]})
conf = s3.get_bucket_notification_configuration(Bucket="uploads")
out["config"] = [{"arn": c["LambdaFunctionArn"], "events": c["Events"],
                  "rules": sorted((r["Name"].lower(), r["Value"]) for r in c.get("Filter", {}).get("Key", {}).get("FilterRules", []))}
                 for c in conf.get("LambdaFunctionConfigurations", [])]

# A bucket configured with boto3, for deletions.
s3.create_bucket(Bucket="manual")
arn = out["config"][0]["arn"] if out["config"] else "arn:aws:lambda:us-east-1:123456789012:function:on-upload"
s3.put_bucket_notification_configuration(Bucket="manual", NotificationConfiguration={
    "LambdaFunctionConfigurations": [
        {"Id": "gone", "LambdaFunctionArn": arn, "Events": ["s3:ObjectRemoved:*"],
         "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "logs/"}]}}},
        {"Id": "tagged", "LambdaFunctionArn": arn, "Events": ["s3:ObjectTagging:*"],
         "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "tags/"}]}}}]})
out["manual_config"] = [c["Id"] for c in s3.get_bucket_notification_configuration(Bucket="manual").get("LambdaFunctionConfigurations", [])]
s3.put_object(Bucket="manual", Key="logs/old.log", Body=b"old")
s3.put_object(Bucket="manual", Key="keep/old.log", Body=b"old")
s3.delete_object(Bucket="manual", Key="keep/old.log")
s3.delete_object(Bucket="manual", Key="logs/old.log")
for k in ["logs/batch1.log", "logs/batch2.log"]:
    s3.put_object(Bucket="manual", Key=k, Body=b"b")
s3.delete_objects(Bucket="manual", Delete={"Objects": [{"Key": "logs/batch1.log"}, {"Key": "logs/batch2.log"}], "Quiet": True})
s3.put_object(Bucket="manual", Key="tags/t.txt", Body=b"t")
s3.put_object_tagging(Bucket="manual", Key="tags/t.txt", Tagging={"TagSet": [{"Key": "a", "Value": "1"}]})
s3.put_object(Bucket="manual", Key="tags/d.txt", Body=b"d", Tagging="a=1")
s3.delete_object_tagging(Bucket="manual", Key="tags/d.txt")
# In a versioned bucket a delete leaves a delete marker, and says so.
s3.create_bucket(Bucket="manual-versioned")
s3.put_bucket_versioning(Bucket="manual-versioned", VersioningConfiguration={"Status": "Enabled"})
s3.put_bucket_notification_configuration(Bucket="manual-versioned", NotificationConfiguration={
    "LambdaFunctionConfigurations": [{"LambdaFunctionArn": arn, "Events": ["s3:ObjectRemoved:*"]}]})
s3.put_object(Bucket="manual-versioned", Key="logs/versioned.log", Body=b"v")
out["delete_marker_id"] = s3.delete_object(Bucket="manual-versioned", Key="logs/versioned.log").get("VersionId")
out["invalid_event"] = error(s3.put_bucket_notification_configuration, Bucket="manual", NotificationConfiguration={
    "LambdaFunctionConfigurations": [{"LambdaFunctionArn": arn, "Events": ["s3:NoSuchEvent"]}]})
"#,
    );
    let arn = "arn:aws:lambda:us-east-1:123456789012:function:on-upload";
    assert_eq!(
        r["config"],
        json!([{"arn": arn, "events": ["s3:ObjectCreated:*"], "rules": [["prefix", "incoming/"], ["suffix", ".csv"]]}]),
        "{r:#}"
    );
    assert_eq!(r["manual_config"], json!(["gone", "tagged"]));
    assert_eq!(
        code(&r["invalid_event"]),
        s3_error(400, "InvalidArgument"),
        "{r:#}"
    );
    let expected = [
        "seen/incoming/a+b%2Bc.csv",
        "seen/incoming/copied.csv",
        "seen/incoming/multi.csv",
        "seen/logs/batch1.log",
        "seen/logs/batch2.log",
        "seen/logs/old.log",
        "seen/logs/versioned.log",
        "seen/tags/d.txt",
        "seen/tags/t.txt",
    ];
    let markers = b.wait_for_markers(&expected);
    let record = &markers["seen/incoming/a+b%2Bc.csv"]["record"];
    assert_eq!(record["eventVersion"], "2.1", "{record:#}");
    assert_eq!(record["eventSource"], "aws:s3");
    assert_eq!(record["awsRegion"], "us-east-1");
    assert_eq!(record["eventName"], "ObjectCreated:Put");
    assert!(
        record["eventTime"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z') && t.contains('T')),
        "{record:#}"
    );
    let s3 = &record["s3"];
    assert_eq!(s3["s3SchemaVersion"], "1.0");
    assert_eq!(s3["bucket"]["name"], "uploads");
    assert_eq!(s3["bucket"]["arn"], "arn:aws:s3:::uploads");
    // The key as S3 sends it: URL-encoded, a space as `+` (and `+` as %2B).
    assert_eq!(s3["object"]["key"], "incoming/a+b%2Bc.csv");
    assert_eq!(s3["object"]["size"], 8);
    assert_eq!(s3["object"]["eTag"], r["etags"]["incoming/a b+c.csv"]);
    let sequencer = s3["object"]["sequencer"].as_str().expect("sequencer");
    assert!(
        !sequencer.is_empty() && sequencer.chars().all(|c| c.is_ascii_hexdigit()),
        "{sequencer}"
    );
    assert_eq!(
        markers["seen/incoming/copied.csv"]["record"]["eventName"],
        "ObjectCreated:Copy"
    );
    assert_eq!(
        markers["seen/incoming/multi.csv"]["record"]["eventName"],
        "ObjectCreated:CompleteMultipartUpload"
    );
    let later = markers["seen/incoming/multi.csv"]["record"]["s3"]["object"]["sequencer"]
        .as_str()
        .expect("sequencer");
    // Sequencers of one key order its events; across keys they at least differ.
    assert_ne!(later, sequencer);
    let deleted = &markers["seen/logs/old.log"]["record"];
    assert_eq!(deleted["eventName"], "ObjectRemoved:Delete", "{deleted:#}");
    assert_eq!(deleted["s3"]["bucket"]["name"], "manual");
    assert_eq!(deleted["s3"]["configurationId"], "gone");
    for batch in ["seen/logs/batch1.log", "seen/logs/batch2.log"] {
        assert_eq!(
            markers[batch]["record"]["eventName"], "ObjectRemoved:Delete",
            "DeleteObjects notifies per key"
        );
    }
    let tagged = &markers["seen/tags/t.txt"]["record"];
    assert_eq!(tagged["eventName"], "ObjectTagging:Put", "{tagged:#}");
    assert_eq!(tagged["s3"]["configurationId"], "tagged");
    assert_eq!(
        markers["seen/tags/d.txt"]["record"]["eventName"],
        "ObjectTagging:Delete"
    );
    let marker = &markers["seen/logs/versioned.log"]["record"];
    assert_eq!(
        marker["eventName"], "ObjectRemoved:DeleteMarkerCreated",
        "{marker:#}"
    );
    assert_eq!(marker["s3"]["object"]["versionId"], r["delete_marker_id"]);
    // The rest of the record, as S3 fills it.
    assert!(
        record["userIdentity"]["principalId"].is_string(),
        "{record:#}"
    );
    assert!(record["requestParameters"]["sourceIPAddress"].is_string());
    assert!(record["responseElements"]["x-amz-request-id"].is_string());
    assert!(s3["bucket"]["ownerIdentity"]["principalId"].is_string());
    assert!(s3["configurationId"].is_string(), "{record:#}");
    // The objects the filters leave out never invoked the function (their events would
    // have been queued before the ones that arrived).
    std::thread::sleep(Duration::from_secs(3));
    let mut seen: Vec<String> = b.markers().keys().cloned().collect();
    seen.sort();
    assert_eq!(seen, expected, "only matching objects notify");
}

/// S3 checks a notification's destination when the configuration is put: a function
/// that does not exist is `400 InvalidArgument` ("Unable to validate the following
/// destination configurations").
#[test]
fn s3_a_notification_to_a_missing_function_is_refused() {
    let b = S3Box::start("notify-missing", "");
    let r = b.python(
        "notify-missing",
        r#"
s3.create_bucket(Bucket="lonely")
out["put"] = error(s3.put_bucket_notification_configuration, Bucket="lonely", NotificationConfiguration={
    "LambdaFunctionConfigurations": [{"LambdaFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:nope",
                                      "Events": ["s3:ObjectCreated:*"]}]})
out["config"] = s3.get_bucket_notification_configuration(Bucket="lonely").get("LambdaFunctionConfigurations", [])
"#,
    );
    assert_eq!(code(&r["put"]), s3_error(400, "InvalidArgument"), "{r:#}");
    assert_eq!(r["config"], json!([]));
}

/// An event's `responseElements.x-amz-request-id` is the request id of the request that
/// caused it (what the client got as `x-amz-request-id`), so an event can be traced to
/// its request.
#[test]
fn s3_an_event_names_the_request_that_caused_it() {
    let b = S3Box::start("notify-request-id", &notified_resources(0));
    let r = b.python(
        "request-id",
        r#"
put = s3.put_object(Bucket="uploads", Key="incoming/traced.csv", Body=b"t")
out["request_id"] = put["ResponseMetadata"]["RequestId"]
"#,
    );
    let markers = b.wait_for_markers(&["seen/incoming/traced.csv"]);
    assert_eq!(
        markers["seen/incoming/traced.csv"]["record"]["responseElements"]["x-amz-request-id"],
        r["request_id"]
    );
}

// --- durability --------------------------------------------------------------------------

/// Writes objects until the box goes away: each write's intent (key, md5; md5 null for
/// a delete) is logged before the request, each acknowledged write after the answer.
/// Every fourth write overwrites the key `hot`, every fifth deletes an earlier object.
const WRITER: &str = r#"
import random
intents = open("intents.jsonl", "a")
acks = open("acks.jsonl", "a")
sizes = [0, 1, 1000, 70000, 300000, 1500000]
written = []
i = 0
while True:
    if i % 5 == 4 and written:
        key, md5, body = written.pop(random.randrange(len(written))), None, None
    else:
        key = "hot" if i % 4 == 3 else f"obj-{i:05d}"
        body = os.urandom(random.choice(sizes))
        md5 = hashlib.md5(body).hexdigest()
    intents.write(json.dumps({"key": key, "md5": md5}) + "\n")
    intents.flush()
    try:
        if body is None:
            s3.delete_object(Bucket="durable", Key=key)
        else:
            s3.put_object(Bucket="durable", Key=key, Body=body)
    except Exception as e:
        out["stopped_by"] = type(e).__name__
        break
    acks.write(json.dumps({"key": key, "md5": md5}) + "\n")
    acks.flush()
    if body is not None and key != "hot":
        written.append(key)
    i += 1
    if i > 100000:
        break
"#;

/// After the restart: every acknowledged object is there and whole, every acknowledged
/// delete stays done; anything else is the one write in flight at the kill, whole too.
const VERIFIER: &str = r#"
intents = [json.loads(l) for l in open("intents.jsonl") if l.strip()]
acks = [json.loads(l) for l in open("acks.jsonl") if l.strip()]
last_ack = {}
for a in acks:
    last_ack[a["key"]] = a["md5"]
in_flight = intents[-1] if len(intents) > len(acks) else None
listed = {}
for page in s3.get_paginator("list_objects_v2").paginate(Bucket="durable"):
    for o in page.get("Contents", []):
        listed[o["Key"]] = o
bad = []
for key in sorted(set(last_ack) | set(listed)):
    allowed = set()
    if key in last_ack:
        allowed.add(last_ack[key])
    if in_flight and in_flight["key"] == key:
        allowed.add(in_flight["md5"])
    try:
        g = s3.get_object(Bucket="durable", Key=key)
        body = g["Body"].read()
    except botocore.exceptions.ClientError as e:
        if e.response["Error"]["Code"] == "NoSuchKey" and None in allowed:
            continue
        bad.append({"key": key, "error": e.response["Error"]["Code"], "allowed": sorted(map(str, allowed))})
        continue
    md5 = hashlib.md5(body).hexdigest()
    if md5 not in allowed:
        bad.append({"key": key, "md5": md5, "allowed": sorted(map(str, allowed)), "size": len(body)})
    elif g["ETag"].strip('"') != md5 or (key in listed and listed[key]["Size"] != len(body)):
        bad.append({"key": key, "etag": g["ETag"], "md5": md5, "listed": listed.get(key, {}).get("Size")})
out["acked"] = len(acks)
out["deletes_acked"] = sum(1 for a in acks if a["md5"] is None)
out["intents"] = len(intents)
out["listed"] = len(listed)
out["bad"] = bad
s3.put_object(Bucket="durable", Key="after-restart", Body=b"still serving")
out["after"] = s3.get_object(Bucket="durable", Key="after-restart")["Body"].read().decode()
"#;

#[test]
fn s3_acknowledged_writes_survive_kill_9() {
    let mut b = S3Box::start(
        "durable",
        "  Durable:\n    Type: AWS::S3::Bucket\n    Properties: {BucketName: durable}\n",
    );
    // A multipart upload with one acknowledged part, to finish after the restart.
    let pending = b.python(
        "pending-upload",
        r#"
up = s3.create_multipart_upload(Bucket="durable", Key="resumed.bin")
part = os.urandom(5 * 1024 * 1024)
out["upload_id"] = up["UploadId"]
out["etag1"] = s3.upload_part(Bucket="durable", Key="resumed.bin", UploadId=up["UploadId"], PartNumber=1, Body=part)["ETag"]
out["md5_1"] = hashlib.md5(part).hexdigest()
# Bucket configuration made through the API, acknowledged before the kill.
s3.create_bucket(Bucket="configured")
s3.put_bucket_versioning(Bucket="configured", VersioningConfiguration={"Status": "Enabled"})
s3.put_bucket_cors(Bucket="configured", CORSConfiguration={"CORSRules": [{"AllowedOrigins": ["https://a.test"], "AllowedMethods": ["GET"]}]})
s3.put_bucket_tagging(Bucket="configured", Tagging={"TagSet": [{"Key": "team", "Value": "data"}]})
"#,
    );
    let mut writer = b
        .script("writer", WRITER)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the writer");
    let acks = b.dir.join("acks.jsonl");
    support::wait_for_acks(&mut writer, &acks, 40);
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
    assert!(r["acked"].as_u64().is_some_and(|n| n >= 40), "{r:#}");
    assert!(r["deletes_acked"].as_u64().is_some_and(|n| n >= 5), "{r:#}");
    assert_eq!(
        r["bad"],
        json!([]),
        "acknowledged writes lost or torn: {r:#}"
    );
    assert_eq!(r["after"], "still serving");
    let resumed = b.python(
        "resume-upload",
        &format!(
            r#"
uid, etag1, md5_1 = {upload_id}, {etag1}, {md5_1}
parts = s3.list_parts(Bucket="durable", Key="resumed.bin", UploadId=uid)["Parts"]
out["parts"] = [(p["PartNumber"], p["ETag"], p["Size"]) for p in parts]
etag2 = s3.upload_part(Bucket="durable", Key="resumed.bin", UploadId=uid, PartNumber=2, Body=b"tail")["ETag"]
s3.complete_multipart_upload(Bucket="durable", Key="resumed.bin", UploadId=uid,
    MultipartUpload={{"Parts": [{{"PartNumber": 1, "ETag": etag1}}, {{"PartNumber": 2, "ETag": etag2}}]}})
body = s3.get_object(Bucket="durable", Key="resumed.bin")["Body"].read()
out["whole"] = hashlib.md5(body[:5 * 1024 * 1024]).hexdigest() == md5_1 and body[5 * 1024 * 1024:] == b"tail"
out["configured"] = {{
    "versioning": s3.get_bucket_versioning(Bucket="configured").get("Status"),
    "cors": [r["AllowedOrigins"] for r in s3.get_bucket_cors(Bucket="configured")["CORSRules"]],
    "tags": s3.get_bucket_tagging(Bucket="configured")["TagSet"],
}}
"#,
            upload_id = pending["upload_id"],
            etag1 = pending["etag1"],
            md5_1 = pending["md5_1"],
        ),
    );
    assert_eq!(
        resumed["parts"],
        json!([[1, pending["etag1"], 5 * 1024 * 1024]]),
        "an acknowledged part survives the kill"
    );
    assert_eq!(resumed["whole"], true);
    assert_eq!(
        resumed["configured"],
        json!({"versioning": "Enabled", "cors": [["https://a.test"]], "tags": [{"Key": "team", "Value": "data"}]})
    );
}

#[test]
fn s3_a_notification_accepted_before_kill_9_is_delivered_after_restart() {
    // The function sleeps before recording: killed with the box if it started.
    let mut b = S3Box::start("notify-kill", &notified_resources(3));
    let script = format!(
        r#"
import signal
s3.put_object(Bucket="uploads", Key="incoming/before-kill.csv", Body=b"x,y\n")
os.kill({pid}, signal.SIGKILL)
out["killed"] = True
"#,
        pid = b.child.id()
    );
    let r = b.python("put-then-kill", &script);
    assert_eq!(r["killed"], true);
    let _ = b.child.wait();
    let first_url = b.s3_url.clone();
    // Held so that the restarted box's S3 gets another port: the function's record
    // then tells which box ran it.
    let old_port = first_url.rsplit(':').next().expect("port");
    let _hold = std::net::TcpListener::bind(format!("0.0.0.0:{old_port}"));
    b.restart();
    assert_ne!(b.s3_url, first_url, "a new box, on another free port");
    let markers = b.wait_for_markers(&["seen/incoming/before-kill.csv"]);
    let marker = &markers["seen/incoming/before-kill.csv"];
    assert_eq!(marker["record"]["eventName"], "ObjectCreated:Put");
    assert_eq!(
        marker["endpoint"], b.s3_url,
        "the function that recorded it ran in the restarted box"
    );
}

// --- hostile input -------------------------------------------------------------------------

/// `send(method, path, ...)`: one request with the path exactly as given (no client
/// encoding or normalisation), signed with SigV4 over that raw path unless `sign=False`;
/// returns status, body and request id, or the transport error.
const RAW_CLIENT: &str = r#"
import http.client
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
HOST = URL.split("//")[1]
CREDS = boto3.Session().get_credentials()

def send(method, path, body=b"", headers=None, sign=True):
    headers = dict(headers or {})
    if sign:
        req = AWSRequest(method=method, url=URL + path, data=body, headers=headers)
        req.headers["X-Amz-Content-SHA256"] = hashlib.sha256(body).hexdigest()
        S3SigV4Auth(CREDS, "s3", "us-east-1").add_auth(req)
        headers = dict(req.headers.items())
    conn = http.client.HTTPSConnection(HOST, context=CTX, timeout=120)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for k, v in headers.items():
            conn.putheader(k, v)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        if body:
            conn.send(body)
        r = conn.getresponse()
        return {"status": r.status, "body": r.read().decode("utf-8", "replace"),
                "request_id": r.getheader("x-amz-request-id")}
    except Exception as e:
        return {"status": None, "error": repr(e)}
    finally:
        conn.close()

def md5_header(body):
    return base64.b64encode(hashlib.md5(body).digest()).decode()
"#;

#[test]
fn s3_hostile_requests_get_s3_errors_and_the_box_keeps_serving() {
    let b = S3Box::start("hostile", "");
    let r = b.python(
        "hostile",
        &format!(
            "{RAW_CLIENT}\n{}",
            r#"
B = "hostile"
s3.create_bucket(Bucket=B)
s3.put_object(Bucket=B, Key="plain.txt", Body=b"plain")
x = {}
x["header_100k"] = send("GET", "/hostile/plain.txt", headers={"x-big": "A" * 100 * 1024})
x["header_100k_unsigned"] = send("GET", "/hostile/plain.txt", headers={"x-big": "A" * 100 * 1024}, sign=False)
out["header_1m"] = send("GET", "/hostile/plain.txt", headers={"x-big": "A" * 1024 * 1024}, sign=False)
garbage = (os.urandom(64) * (10 * 1024 * 1024 // 64))
x["delete_objects_garbage"] = send("POST", "/hostile?delete", garbage, headers={"Content-MD5": md5_header(garbage)})
almost = b"<Delete>" + b"<Object><Key>k</Key></Object>" * 350000
x["delete_objects_unclosed"] = send("POST", "/hostile?delete", almost, headers={"Content-MD5": md5_header(almost)})
uid = s3.create_multipart_upload(Bucket=B, Key="mp")["UploadId"]
x["complete_garbage"] = send("POST", f"/hostile/mp?uploadId={uid}", garbage)
deep = b"<CompleteMultipartUpload>" + b"<Part>" * 200000 + b"</Part>" * 200000 + b"</CompleteMultipartUpload>"
x["complete_deep"] = send("POST", f"/hostile/mp?uploadId={uid}", deep)
x["invalid_utf8_key"] = send("PUT", "/hostile/bad%FFkey", b"ff")
x["invalid_utf8_get"] = send("GET", "/hostile/bad%C3key")
x["unsigned_put"] = send("PUT", "/hostile/anon", b"anon", sign=False)
out["raw"] = x

# Keys S3 takes as they are: stored under exactly that name, nothing else touched.
out["dotdot_put"] = send("PUT", "/hostile/../../escape.txt", b"dots")
out["dotdot_keys"] = [k for k in [o["Key"] for o in s3.list_objects_v2(Bucket=B).get("Contents", [])] if "escape" in k]
out["dotdot_get"] = s3.get_object(Bucket=B, Key="../../escape.txt")["Body"].read().decode()
out["nul_put"] = send("PUT", "/hostile/nul%00byte", b"nul")
try:
    out["nul_get"] = s3.get_object(Bucket=B, Key="nul\x00byte")["Body"].read().decode()
except botocore.exceptions.ClientError as e:
    out["nul_get"] = e.response["Error"]["Code"]
out["slash_put"] = send("PUT", "/hostile/a%2Fb.txt", b"slash")
out["slash_keys"] = [o["Key"] for o in s3.list_objects_v2(Bucket=B, Prefix="a").get("Contents", [])]

out["key_1025"] = error(s3.put_object, Bucket=B, Key="k" * 1025, Body=b"x")
out["key_1025_bytes_utf8"] = error(s3.put_object, Bucket=B, Key="é" * 512 + "k", Body=b"x")
out["key_1024"] = error(s3.put_object, Bucket=B, Key="k" * 1024, Body=b"x1024")
out["key_1024_get"] = s3.get_object(Bucket=B, Key="k" * 1024)["Body"].read().decode()
out["key_1024_listed"] = any(o["Key"] == "k" * 1024 for o in s3.list_objects_v2(Bucket=B, Prefix="kkk").get("Contents", []))

big = b"a" * (5 * 1024 * 1024)
e1 = s3.upload_part(Bucket=B, Key="mp", UploadId=uid, PartNumber=1, Body=big)["ETag"]
e2 = s3.upload_part(Bucket=B, Key="mp", UploadId=uid, PartNumber=2, Body=b"b" * 100)["ETag"]
e3 = s3.upload_part(Bucket=B, Key="mp", UploadId=uid, PartNumber=3, Body=b"c" * 100)["ETag"]
complete = lambda parts: error(s3.complete_multipart_upload, Bucket=B, Key="mp", UploadId=uid, MultipartUpload={"Parts": parts})
out["upload_part_10001"] = error(s3.upload_part, Bucket=B, Key="mp", UploadId=uid, PartNumber=10001, Body=b"x")
out["complete_part_10001"] = complete([{"PartNumber": 1, "ETag": e1}, {"PartNumber": 10001, "ETag": e2}])
out["complete_out_of_order"] = complete([{"PartNumber": 2, "ETag": e2}, {"PartNumber": 1, "ETag": e1}])
out["complete_unknown_part"] = complete([{"PartNumber": 1, "ETag": e1}, {"PartNumber": 4, "ETag": e2}])
out["complete_wrong_etag"] = complete([{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": '"0123456789abcdef0123456789abcdef"'}])
out["complete_small_middle"] = complete([{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}, {"PartNumber": 3, "ETag": e3}])
out["not_completed"] = error(s3.head_object, Bucket=B, Key="mp")
# The upload survives every refused completion: a right one still works.
out["complete_right"] = complete([{"PartNumber": 1, "ETag": e1}, {"PartNumber": 3, "ETag": e3}])
out["completed_size"] = s3.head_object(Bucket=B, Key="mp")["ContentLength"]

out["still_serving"] = s3.get_object(Bucket=B, Key="plain.txt")["Body"].read().decode()
out["keys_left"] = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=B).get("Contents", []) if len(o["Key"]) < 100)
"#
        ),
    );
    let xml_error = |what: &str, v: &Value, codes: &[&str]| {
        let status = v["status"].as_u64().unwrap_or(0);
        assert!((400..500).contains(&status), "{what}: a 4xx, got {v:#}");
        let body = v["body"].as_str().unwrap_or_default();
        assert!(
            codes
                .iter()
                .any(|c| body.contains(&format!("<Code>{c}</Code>")))
                && body.contains("<Message>")
                && body.contains("<RequestId>"),
            "{what}: an S3 error {codes:?}, got {v:#}"
        );
        assert!(v["request_id"].is_string(), "{what}: {v:#}");
    };
    let raw = &r["raw"];
    xml_error(
        "a 100 KB header",
        &raw["header_100k"],
        &["RequestHeaderSectionTooLarge"],
    );
    xml_error(
        "a 100 KB header, unsigned",
        &raw["header_100k_unsigned"],
        &["RequestHeaderSectionTooLarge"],
    );
    // Past what the server reads at all: the connection's 431 (no S3 document), which a
    // client still sending may see as the connection closing.
    let h = &r["header_1m"];
    assert!(h["status"] == 431 || h["error"].is_string(), "{h:#}");
    xml_error(
        "10 MB of garbage to DeleteObjects",
        &raw["delete_objects_garbage"],
        &["MalformedXML", "MaxMessageLengthExceeded"],
    );
    xml_error(
        "an unclosed 10 MB DeleteObjects",
        &raw["delete_objects_unclosed"],
        &["MalformedXML", "MaxMessageLengthExceeded"],
    );
    xml_error(
        "10 MB of garbage to CompleteMultipartUpload",
        &raw["complete_garbage"],
        &["MalformedXML", "MaxMessageLengthExceeded"],
    );
    xml_error(
        "deeply nested XML to CompleteMultipartUpload",
        &raw["complete_deep"],
        &["MalformedXML"],
    );
    xml_error(
        "a key of invalid UTF-8",
        &raw["invalid_utf8_key"],
        &["InvalidURI"],
    );
    xml_error(
        "a GET of invalid UTF-8",
        &raw["invalid_utf8_get"],
        &["InvalidURI"],
    );
    xml_error("unsigned", &raw["unsigned_put"], &["AccessDenied"]);

    // `..` segments are part of the key (S3 does not normalise paths).
    assert_eq!(r["dotdot_put"]["status"], 200, "{r:#}");
    assert_eq!(r["dotdot_keys"], json!(["../../escape.txt"]));
    assert_eq!(r["dotdot_get"], "dots");
    // A NUL is a character of the key like any other.
    assert_eq!(r["nul_put"]["status"], 200, "{r:#}");
    assert_eq!(r["nul_get"], "nul");
    // %2F is a `/` of the key: stored as a/b.txt, or refused with an S3 error.
    if r["slash_put"]["status"] == 200 {
        assert_eq!(r["slash_keys"], json!(["a/b.txt"]), "{r:#}");
    } else {
        xml_error(
            "a key with %2F",
            &r["slash_put"],
            &["SignatureDoesNotMatch", "InvalidURI", "InvalidArgument"],
        );
        assert_eq!(r["slash_keys"], json!([]));
    }

    assert_eq!(code(&r["key_1025"]), s3_error(400, "KeyTooLongError"));
    assert_eq!(
        code(&r["key_1025_bytes_utf8"]),
        s3_error(400, "KeyTooLongError")
    );
    assert_eq!(r["key_1024"], Value::Null, "{r:#}");
    assert_eq!(r["key_1024_get"], "x1024");
    assert_eq!(r["key_1024_listed"], true);

    assert_eq!(
        code(&r["upload_part_10001"]),
        s3_error(400, "InvalidArgument")
    );
    let c = code(&r["complete_part_10001"]);
    assert!(
        c == s3_error(400, "InvalidPart") || c == s3_error(400, "InvalidArgument"),
        "{c}"
    );
    assert_eq!(
        code(&r["complete_out_of_order"]),
        s3_error(400, "InvalidPartOrder")
    );
    assert_eq!(
        code(&r["complete_unknown_part"]),
        s3_error(400, "InvalidPart")
    );
    assert_eq!(
        code(&r["complete_wrong_etag"]),
        s3_error(400, "InvalidPart")
    );
    assert_eq!(
        code(&r["complete_small_middle"]),
        s3_error(400, "EntityTooSmall")
    );
    assert_eq!(code(&r["not_completed"]), s3_error(404, "404"));
    assert_eq!(r["complete_right"], Value::Null, "{r:#}");
    assert_eq!(r["completed_size"], 5 * 1024 * 1024 + 100);

    assert_eq!(r["still_serving"], "plain");
    let mut left: Vec<String> = serde_json::from_value(r["keys_left"].clone()).expect("keys");
    left.retain(|k| k != "a/b.txt");
    assert_eq!(
        left,
        ["../../escape.txt", "mp", "nul\u{0}byte", "plain.txt"],
        "nothing else was created by the refused requests"
    );
}

// --- how the service is offered ------------------------------------------------------------

#[test]
fn s3_over_plain_http() {
    let b = S3Box::start_with(
        "plain-http",
        Rt::Process,
        "  Data:\n    Type: AWS::S3::Bucket\n    Properties: {BucketName: fn-data}\n  \
         ReadWrite:\n    Type: AWS::Serverless::Function\n    Properties: {FunctionName: s3rw, \
         Handler: s3_handlers.read_write, Timeout: 60}\n",
        &["--s3-plain-http"],
    );
    assert!(b.s3_url.starts_with("http://127.0.0.1:"), "{}", b.s3_url);
    let r = b.python(
        "plain",
        r#"
s3.put_object(Bucket="fn-data", Key="seed.txt", Body=b"over http")
out["get"] = s3.get_object(Bucket="fn-data", Key="seed.txt")["Body"].read().decode()
"#,
    );
    assert_eq!(r["get"], "over http");
    let (status, v) = b.invoke(
        "s3rw",
        &json!({"bucket": "fn-data", "key": "in.txt", "body": "from the function", "seed_key": "seed.txt"}),
    );
    assert_eq!(status, 200, "{v:#}");
    assert_eq!(v["endpoint"], b.s3_url.as_str());
    assert_eq!(v["seed"], "over http");
}

#[test]
fn s3_port_off_leaves_the_service_out() {
    let dir = support::python_project(
        "s3-off",
        "  Env:\n    Type: AWS::Serverless::Function\n    Properties: {FunctionName: env, Handler: s3_handlers.endpoints}\n",
    );
    let state = dir.join(".esb");
    let port = support::free_addr().port();
    let (mut child, output) = support::esb_up(&dir, &state, "process", port, &["--s3-port", "off"]);
    let client = support::https_client_within(&state, port, Duration::from_secs(300));
    let resp = support::send_signed(
        &client,
        &state,
        client
            .post(format!(
                "https://127.0.0.1:{port}/2015-03-31/functions/env/invocations"
            ))
            .body("{}"),
    )
    .expect("invoke");
    let status = resp.status().as_u16();
    let env: Value = resp.json().unwrap_or_default();
    support::wait_for("the banner", Duration::from_secs(60), || {
        output
            .lock()
            .expect("output")
            .iter()
            .any(|l| l.contains("Ctrl-C stops the box"))
    });
    let lines = output.lock().expect("output").join("\n");
    assert!(support::terminate(&mut child, Duration::from_secs(60)).success());
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(status, 200, "{env}");
    assert_eq!(
        env,
        json!({"AWS_ENDPOINT_URL_S3": null, "S3_ENDPOINT": null}),
        "no S3 endpoint for functions of a box without S3"
    );
    assert!(
        !lines.contains("S3: "),
        "no S3 line in the banner:\n{lines}"
    );
}

// --- virtual-hosted-style addressing -------------------------------------------------------

/// `request(method, bucket_host, path)`: a SigV4-signed request over TLS to the box's
/// address whose Host header names the bucket (`<bucket>.localhost:<port>`), as a client
/// using virtual-hosted-style URLs sends it; `verify_name` is the name the TLS
/// certificate is checked against.
const VHOST_CLIENT: &str = r#"
import http.client, socket
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
PORT = int(URL.rsplit(":", 1)[1])
CREDS = boto3.Session().get_credentials()

def request(method, host, path, body=b"", verify_name="127.0.0.1"):
    url = f"https://{host}:{PORT}{path}"
    req = AWSRequest(method=method, url=url, data=body)
    req.headers["X-Amz-Content-SHA256"] = hashlib.sha256(body).hexdigest()
    S3SigV4Auth(CREDS, "s3", "us-east-1").add_auth(req)
    sock = socket.create_connection(("127.0.0.1", PORT), timeout=60)
    try:
        tls = CTX.wrap_socket(sock, server_hostname=verify_name)
    except ssl.SSLError as e:
        sock.close()
        return {"status": None, "tls_error": str(e)}
    conn = http.client.HTTPSConnection("127.0.0.1", PORT, context=CTX)
    conn.sock = tls
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    conn.putheader("Host", f"{host}:{PORT}")
    for k, v in req.headers.items():
        conn.putheader(k, v)
    conn.putheader("Content-Length", str(len(body)))
    conn.endheaders()
    if body:
        conn.send(body)
    r = conn.getresponse()
    out = {"status": r.status, "body": r.read().decode("utf-8", "replace")}
    conn.close()
    return out
"#;

#[test]
fn s3_virtual_hosted_style_addressing() {
    let b = S3Box::start("vhost", "");
    let r = b.python(
        "vhost",
        &format!(
            "{VHOST_CLIENT}\n{}",
            r#"
s3.create_bucket(Bucket="vhost-bucket")
out["put"] = request("PUT", "vhost-bucket.localhost", "/dir/file.txt", b"virtually hosted")["status"]
out["get_path_style"] = s3.get_object(Bucket="vhost-bucket", Key="dir/file.txt")["Body"].read().decode()
out["get_s3_localhost"] = request("GET", "vhost-bucket.s3.localhost", "/dir/file.txt")
out["list"] = request("GET", "vhost-bucket.localhost", "/?list-type=2")
out["missing_bucket"] = request("GET", "no-such-bucket.localhost", "/k")
"#
        ),
    );
    assert_eq!(r["put"], 200, "{r:#}");
    assert_eq!(r["get_path_style"], "virtually hosted");
    assert_eq!(
        r["get_s3_localhost"],
        json!({"status": 200, "body": "virtually hosted"})
    );
    assert_eq!(r["list"]["status"], 200);
    let list = r["list"]["body"].as_str().expect("listing");
    assert!(
        list.contains("<Name>vhost-bucket</Name>") && list.contains("<Key>dir/file.txt</Key>"),
        "{list}"
    );
    assert_eq!(r["missing_bucket"]["status"], 404);
    assert!(
        r["missing_bucket"]["body"]
            .as_str()
            .is_some_and(|b| b.contains("<Code>NoSuchBucket</Code>")),
        "{r:#}"
    );
}

/// Virtual-hosted-style URLs over HTTPS (`https://<bucket>.s3.localhost:<port>/key`, as
/// a browser or an SDK with virtual addressing uses them): the box's certificate covers
/// `*.s3.localhost`.
#[test]
fn s3_virtual_hosted_style_https_verifies() {
    let b = S3Box::start("vhost-tls", "");
    let r = b.python(
        "vhost-tls",
        &format!(
            "{VHOST_CLIENT}\n{}",
            r#"
s3.create_bucket(Bucket="tls-bucket")
s3.put_object(Bucket="tls-bucket", Key="k", Body=b"ok")
out["get"] = request("GET", "tls-bucket.s3.localhost", "/k", verify_name="tls-bucket.s3.localhost")
"#
        ),
    );
    assert_eq!(r["get"], json!({"status": 200, "body": "ok"}), "{r:#}");
}

// --- browser form uploads -------------------------------------------------------------------

/// A browser form upload (`generate_presigned_post`) as a browser sends it:
/// multipart/form-data with the policy fields, then the file.
const FORM_POST: &str = r#"
import uuid
def form_post(key, content, conditions, filename="hello.txt"):
    post = s3.generate_presigned_post("forms", key, Fields={"Content-Type": "text/plain"},
                                      Conditions=[{"Content-Type": "text/plain"}] + conditions)
    boundary = uuid.uuid4().hex
    body = b"".join(
        [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in post["fields"].items()]
        + [f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\nContent-Type: text/plain\r\n\r\n'.encode()
           + content + b"\r\n", f"--{boundary}--\r\n".encode()])
    st, _, answer = raw("POST", post["url"], headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}, body=body)
    return {"status": st, "body": answer.decode()}
s3.create_bucket(Bucket="forms")
"#;

#[test]
fn s3_browser_form_uploads() {
    let b = S3Box::start("form-post", "");
    let r = b.python(
        "form-post",
        &format!(
            "{FORM_POST}\n{}",
            r#"
out["post"] = form_post("uploads/fixed.txt", b"posted from a form", [["starts-with", "$key", "uploads/"], ["content-length-range", 1, 1000]])
g = s3.get_object(Bucket="forms", Key="uploads/fixed.txt")
out["stored"] = {"body": g["Body"].read().decode(), "type": g["ContentType"]}
out["too_big"] = form_post("uploads/big.txt", b"x" * 2000, [["content-length-range", 1, 1000]])
out["wrong_prefix"] = form_post("elsewhere/x.txt", b"x", [["starts-with", "$key", "uploads/"]])
out["left"] = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="forms").get("Contents", []))
"#
        ),
    );
    assert_eq!(r["post"]["status"], 204, "{r:#}");
    assert_eq!(
        r["stored"],
        json!({"body": "posted from a form", "type": "text/plain"})
    );
    for refused in ["too_big", "wrong_prefix"] {
        let v = &r[refused];
        let status = v["status"].as_u64().unwrap_or(0);
        assert!(
            (400..500).contains(&status)
                && v["body"].as_str().is_some_and(|b| b.contains("<Code>")),
            "{refused}: {v:#}"
        );
    }
    assert_eq!(r["left"], json!(["uploads/fixed.txt"]));
}

/// A form whose key ends in `${filename}` stores the file under the name the browser
/// gave it (`uploads/hello.txt`), as S3 documents; ESB stores it under the literal key
/// `uploads/${filename}`.
#[test]
#[ignore = "esb-s3 does not replace ${filename} in a browser form upload's key (s3s passes no file name to put_object)"]
fn s3_browser_form_uploads_name_the_file() {
    let b = S3Box::start("form-filename", "");
    let r = b.python(
        "form-filename",
        &format!(
            "{FORM_POST}\n{}",
            r#"
out["post"] = form_post("uploads/${filename}", b"named by the browser", [["starts-with", "$key", "uploads/"]])
out["keys"] = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="forms").get("Contents", []))
"#
        ),
    );
    assert_eq!(r["post"]["status"], 204, "{r:#}");
    assert_eq!(r["keys"], json!(["uploads/hello.txt"]));
}

// --- concurrency ---------------------------------------------------------------------------

/// Clients racing on one key: every GET delivers the whole of one version (never a
/// broken body), every copy made while its source is overwritten is a whole copy of one
/// version, and conditional writes let exactly one writer win.
#[test]
fn s3_racing_clients_see_whole_objects() {
    let b = S3Box::start("races", "");
    let r = b.python(
        "races",
        r#"
import threading, collections
B = "races"
s3.create_bucket(Bucket=B)
SIZES = [300 * 1024, 1024 * 1024]
s3.put_object(Bucket=B, Key="hot", Body=b"A" * SIZES[0])
stop = threading.Event()
problems = []
counts = collections.Counter()

def overwriter(n):
    c = client()
    i = 0
    while not stop.is_set():
        c.put_object(Bucket=B, Key="hot", Body=bytes([66 + (i + n) % 20]) * SIZES[i % 2])
        counts["puts"] += 1
        i += 1

def reader():
    c = client()
    while not stop.is_set():
        try:
            g = c.get_object(Bucket=B, Key="hot")
            body = g["Body"].read()
        except Exception as e:
            problems.append(("get", repr(e)[:200]))
            continue
        counts["gets"] += 1
        if len(body) != g["ContentLength"] or len(set(body)) != 1 or hashlib.md5(body).hexdigest() != g["ETag"].strip('"'):
            problems.append(("torn get", len(body), g["ContentLength"]))

copies = []
def copier():
    c = client()
    i = 0
    while not stop.is_set():
        try:
            c.copy_object(Bucket=B, Key=f"copies/{i}", CopySource={"Bucket": B, "Key": "hot"})
            copies.append(f"copies/{i}")
        except botocore.exceptions.ClientError as e:
            problems.append(("copy", e.response["Error"]["Code"]))
        i += 1

threads = ([threading.Thread(target=overwriter, args=(n,)) for n in range(2)]
           + [threading.Thread(target=reader) for _ in range(3)]
           + [threading.Thread(target=copier)])
for t in threads:
    t.start()
deadline = time.time() + 60
while time.time() < deadline and (counts["puts"] < 150 or len(copies) < 100):
    time.sleep(0.2)
stop.set()
for t in threads:
    t.join()
for k in copies:
    try:
        body = s3.get_object(Bucket=B, Key=k)["Body"].read()
        if len(body) not in SIZES or len(set(body)) != 1:
            problems.append(("torn copy", k, len(body)))
    except Exception as e:
        problems.append(("broken copy", k, repr(e)[:200]))
out["problems"] = problems[:20]
out["counts"] = {"puts": counts["puts"], "gets": counts["gets"], "copies": len(copies)}

# Twenty writers, If-None-Match: *: one creates the key, the rest get 412.
results = collections.Counter()
def racer(i):
    e = error(client().put_object, Bucket=B, Key="once", Body=f"racer {i}".encode(), IfNoneMatch="*")
    results[(e or {}).get("code") or "created"] += 1
racers = [threading.Thread(target=racer, args=(i,)) for i in range(20)]
for t in racers:
    t.start()
for t in racers:
    t.join()
out["if_none_match_race"] = dict(results)

# Eight completions of one upload: one completes it, the rest find it gone.
up = s3.create_multipart_upload(Bucket=B, Key="mp")
etag = s3.upload_part(Bucket=B, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"z" * 100)["ETag"]
done = collections.Counter()
def completer():
    e = error(client().complete_multipart_upload, Bucket=B, Key="mp", UploadId=up["UploadId"],
              MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    done[(e or {}).get("code") or "completed"] += 1
completers = [threading.Thread(target=completer) for _ in range(8)]
for t in completers:
    t.start()
for t in completers:
    t.join()
out["complete_race"] = dict(done)
out["mp"] = s3.get_object(Bucket=B, Key="mp")["Body"].read().decode()
"#,
    );
    assert_eq!(r["problems"], json!([]), "{r:#}");
    let counts = &r["counts"];
    assert!(
        counts["gets"].as_u64().is_some_and(|n| n > 0)
            && counts["copies"].as_u64().is_some_and(|n| n > 0),
        "{counts}"
    );
    assert_eq!(
        r["if_none_match_race"],
        json!({"created": 1, "PreconditionFailed": 19})
    );
    assert_eq!(
        r["complete_race"],
        json!({"completed": 1, "NoSuchUpload": 7})
    );
    assert_eq!(r["mp"], "z".repeat(100));
}
