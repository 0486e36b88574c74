//! The developer commands, through the real binary: `esb init` writes a project that
//! `esb validate` accepts and `esb up` serves at once (routes, a chained call through
//! boto3, the signed Invoke API); `esb init` never overwrites without `--force`;
//! `esb validate` reports errors with file:line and warnings with their line;
//! `esb generate-event` prints events with the keys of AWS's samples.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::support;

fn esb(args: &[&str]) -> Output {
    esb_in(args, &std::env::temp_dir(), &[])
}

fn esb_in(args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> Output {
    support::esb_command()
        .args(args)
        .current_dir(cwd)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run esb")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn json_of(out: &Output, what: &str) -> Value {
    let stdout = ok(out, what);
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {stdout}"))
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("esb-dev-")
        .tempdir()
        .expect("temp dir")
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn init_writes_a_project_validate_accepts() {
    let tmp = temp_dir();
    let project = tmp.path().join("demo");
    let out = ok(&esb(&["init", path_str(&project)]), "esb init");
    assert!(out.contains("python3.12"), "{out}");
    for f in [
        "template.yaml",
        "src/hello.py",
        "src/greeter.py",
        ".gitignore",
        "README.md",
    ] {
        assert!(project.join(f).is_file(), "{f} written");
    }
    let gitignore = std::fs::read_to_string(project.join(".gitignore")).expect("gitignore");
    assert!(gitignore.lines().any(|l| l == ".esb/"), "{gitignore}");
    let readme = std::fs::read_to_string(project.join("README.md")).expect("readme");
    for needle in [
        "# demo",
        "esb up",
        "esb invoke",
        "--event -",
        "--aws-sigv4",
        ".esb/credentials",
        "esb down",
    ] {
        assert!(readme.contains(needle), "README mentions {needle}");
    }

    let template = project.join("template.yaml");
    let out = ok(
        &esb(&["validate", "--template", path_str(&template)]),
        "esb validate",
    );
    assert!(
        out.contains("is valid: 2 functions, 2 APIs, 0 warnings"),
        "{out}"
    );
    assert!(out.contains("function hello (HelloFunction)"), "{out}");
    assert!(out.contains("function greeter (GreeterFunction)"), "{out}");

    let report = json_of(
        &esb(&["validate", "--template", path_str(&template), "--json"]),
        "esb validate --json",
    );
    assert_eq!(report["valid"], true);
    let functions = report["functions"].as_array().expect("functions");
    let names: Vec<&str> = functions
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert_eq!(names, ["hello", "greeter"]);
    let hello = &functions[0];
    assert_eq!(hello["runtime"], "python3.12");
    assert_eq!(hello["handler"], "hello.handler");
    assert_eq!(hello["memoryMb"], 128);
    assert_eq!(hello["timeoutS"], 10);
    assert_eq!(hello["reservedConcurrency"], Value::Null);
    let routes: Vec<(String, String, String, String)> = hello["routes"]
        .as_array()
        .expect("routes")
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            (s("method"), s("path"), s("apiKind"), s("stage"))
        })
        .collect();
    assert_eq!(
        routes,
        [
            ("GET".into(), "/hello".into(), "REST".into(), "Prod".into()),
            (
                "GET".into(),
                "/hello/{name}".into(),
                "HTTP".into(),
                "$default".into()
            ),
        ]
    );
    let apis: Vec<&str> = report["apis"]
        .as_array()
        .expect("apis")
        .iter()
        .filter_map(|a| a["kind"].as_str())
        .collect();
    assert_eq!(apis, ["REST", "HTTP"]);
    assert_eq!(report["warnings"], json!([]));
}

#[test]
fn init_refuses_to_overwrite_without_force() {
    let tmp = temp_dir();
    let project = tmp.path().join("twice");
    ok(&esb(&["init", path_str(&project)]), "first esb init");
    let readme = project.join("README.md");
    std::fs::write(&readme, "my own notes").expect("edit README");

    let again = esb(&["init", path_str(&project)]);
    assert!(!again.status.success(), "a second init must refuse");
    let err = text(&again.stderr);
    assert!(err.contains("template.yaml"), "{err}");
    assert!(err.contains("README.md"), "{err}");
    assert!(err.contains("--force"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&readme).expect("README"),
        "my own notes",
        "nothing overwritten"
    );

    // One file in the way is named alone, and nothing else is written either.
    let other = tmp.path().join("other");
    std::fs::create_dir_all(&other).expect("dir");
    std::fs::write(other.join("README.md"), "mine").expect("README");
    let refused = esb(&["init", path_str(&other)]);
    assert!(!refused.status.success());
    let err = text(&refused.stderr);
    assert!(err.contains("README.md already exists in"), "{err}");
    assert!(!other.join("template.yaml").exists(), "all or nothing");

    ok(
        &esb(&["init", path_str(&project), "--force"]),
        "esb init --force",
    );
    assert!(
        std::fs::read_to_string(&readme)
            .expect("README")
            .contains("esb up"),
        "--force rewrites the sample"
    );

    let bad = esb(&["init", path_str(&project), "--runtime", "nodejs20.x"]);
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("python3.8"),
        "lists what ESB runs"
    );
}

/// A box on an initialised project, with the test venv as its Python runtime.
struct Box_ {
    child: std::process::Child,
    state: PathBuf,
    url: String,
    client: reqwest::blocking::Client,
    output: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Box_ {
    fn start(project: &Path) -> Self {
        let state = project.join(".esb");
        std::fs::create_dir_all(state.join("runtimes")).expect("state dir");
        std::os::unix::fs::symlink(
            support::python()
                .parent()
                .and_then(|p| p.parent())
                .expect("venv"),
            state.join("runtimes/python"),
        )
        .expect("link venv");
        let port = support::free_addr().port();
        let mut child = support::esb_command()
            .arg("up")
            .arg("--template")
            .arg(project.join("template.yaml"))
            .args(["--port", &port.to_string(), "--runtime", "process"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("esb up");
        let output = support::capture_output(&mut child);
        let client = support::https_client_within(&state, port, Duration::from_secs(300));
        Self {
            child,
            state,
            url: format!("https://127.0.0.1:{port}"),
            client,
            output,
        }
    }

    fn get(&self, path: &str) -> Value {
        let resp = self
            .client
            .get(format!("{}{path}", self.url))
            .send()
            .expect("request");
        let status = resp.status().as_u16();
        let body = resp.text().unwrap_or_default();
        assert_eq!(
            status,
            200,
            "GET {path}: {body}\nbox output:\n{}",
            self.output.lock().expect("lock").join("\n")
        );
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    fn invoke(&self, function: &str, payload: Value) -> Value {
        let req = self
            .client
            .post(format!(
                "{}/2015-03-31/functions/{function}/invocations",
                self.url
            ))
            .body(payload.to_string());
        let resp = support::send_signed(&self.client, &self.state, req).expect("invoke");
        assert_eq!(resp.status(), 200);
        assert!(resp.headers().get("x-amz-function-error").is_none());
        resp.json().expect("json answer")
    }

    fn stop(mut self) {
        let status = support::terminate(&mut self.child, Duration::from_secs(30));
        assert!(status.success(), "esb up exits 0 on SIGTERM: {status}");
    }
}

impl Drop for Box_ {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            support::terminate(&mut self.child, Duration::from_secs(30));
        }
    }
}

#[test]
fn init_project_is_served_by_esb_up_with_its_chained_call() {
    let tmp = temp_dir();
    let project = tmp.path().join("served");
    ok(&esb(&["init", path_str(&project)]), "esb init");
    let b = Box_::start(&project);

    let rest = b.get("/hello?name=edge");
    assert_eq!(rest["message"], "Hello, edge!");
    assert_eq!(rest["api"], "REST");
    assert_eq!(
        rest["via"],
        json!(["hello", "greeter"]),
        "hello called greeter through boto3"
    );
    let http = b.get("/hello/box");
    assert_eq!(http["message"], "Hello, box!");
    assert_eq!(http["api"], "HTTP");

    let direct = b.invoke("greeter", json!({"name": "signed"}));
    assert_eq!(
        direct,
        json!({"message": "Hello, signed!", "function": "greeter"})
    );
    // The README's way in: an event from generate-event, through the Invoke API.
    let event = json_of(
        &esb(&[
            "generate-event",
            "apigateway",
            "aws-proxy",
            "--path",
            "/hello",
            "--query",
            "name=generated",
        ]),
        "generate-event",
    );
    let answer = b.invoke("hello", event);
    assert_eq!(answer["statusCode"], 200);
    let body: Value =
        serde_json::from_str(answer["body"].as_str().expect("body")).expect("json body");
    assert_eq!(body["message"], "Hello, generated!");
    b.stop();

    let down = esb(&[
        "down",
        "--template",
        path_str(&project.join("template.yaml")),
    ]);
    ok(&down, "esb down");
}

const BROKEN: &str = "AWSTemplateFormatVersion: \"2010-09-09\"
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      CodeUri: .
      Timeout: 901
";

const WITH_WARNING: &str = "AWSTemplateFormatVersion: \"2010-09-09\"
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      CodeUri: .
      Policies: AWSLambdaBasicExecutionRole
      ReservedConcurrentExecutions: 3
      FunctionUrlConfig: {AuthType: NONE}
";

#[test]
fn validate_names_file_and_line_of_errors_and_warnings() {
    let tmp = temp_dir();
    let template = tmp.path().join("template.yaml");
    std::fs::write(&template, BROKEN).expect("template");
    let out = esb(&["validate", "--template", path_str(&template)]);
    assert!(!out.status.success(), "an invalid template exits non-zero");
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("{}:10:", template.display())),
        "file:line of Timeout: {err}"
    );
    assert!(err.contains("Timeout"), "{err}");
    assert!(err.contains("hint:"), "{err}");

    let out = esb(&["validate", "--template", path_str(&template), "--json"]);
    assert!(!out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON error report");
    assert_eq!(report["valid"], false);
    assert_eq!(report["error"]["line"], 10);
    assert_eq!(report["error"]["path"], "Resources.Fn.Properties.Timeout");

    std::fs::write(&template, WITH_WARNING).expect("template");
    std::fs::write(tmp.path().join("app.py"), "def handler(e, c): return e\n").expect("code");
    let out = ok(
        &esb(&["validate", "--template", path_str(&template)]),
        "validate with a warning",
    );
    assert!(out.contains("1 warning"), "{out}");
    assert!(
        out.contains(&format!("{}:10:", template.display())),
        "the warning's line: {out}"
    );
    assert!(out.contains("reserved 3"), "{out}");
    assert!(out.contains("/lambda-url/Fn/ (AuthType NONE)"), "{out}");
    let report = json_of(
        &esb(&["validate", "--template", path_str(&template), "--json"]),
        "validate --json",
    );
    assert_eq!(report["warnings"][0]["line"], 10);
    assert_eq!(report["functions"][0]["reservedConcurrency"], 3);
    assert_eq!(report["functions"][0]["functionUrl"]["authType"], "NONE");

    let missing = esb(&["validate", "--template", "/nonexistent/template.yaml"]);
    assert!(!missing.status.success());
    assert!(text(&missing.stderr).contains("/nonexistent/template.yaml"));
}

fn fixture(name: &str) -> Value {
    let path = support::repo_root()
        .join("tests/fixtures/aws-events")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("AWS sample {}: {e}", path.display()));
    serde_json::from_str(&text).expect("fixture JSON")
}

/// Every key the AWS samples all have is in ours (at every level, except `ignore`d
/// keys), with the same JSON type; with `exhaustive`, every key of ours is in some
/// sample too. Maps whose keys are request data (`data`) are not compared.
fn same_shape(
    ours: &Value,
    samples: &[&Value],
    path: &str,
    ignore: &[&str],
    data: &[&str],
    exhaustive: bool,
) {
    let Value::Object(o) = ours else { return };
    if data.contains(&path) {
        return;
    }
    let objects: Vec<&Map<String, Value>> = samples.iter().filter_map(|s| s.as_object()).collect();
    if let Some(first) = objects.first() {
        for k in first.keys().filter(|k| !ignore.contains(&k.as_str())) {
            if objects.iter().all(|a| a.contains_key(k)) {
                assert!(o.contains_key(k), "missing {path}.{k}");
            }
        }
    }
    for (k, v) in o {
        let theirs: Vec<&Value> = objects.iter().filter_map(|a| a.get(k)).collect();
        assert!(
            !exhaustive || !theirs.is_empty(),
            "{path}.{k} is in no AWS sample"
        );
        for t in &theirs {
            if !t.is_null() && !v.is_null() {
                assert_eq!(
                    std::mem::discriminant(v),
                    std::mem::discriminant(*t),
                    "type of {path}.{k}: {v} vs {t}"
                );
            }
        }
        same_shape(v, &theirs, &format!("{path}.{k}"), ignore, data, exhaustive);
    }
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

fn generate(args: &[&str]) -> Value {
    let mut all = vec!["generate-event"];
    all.extend_from_slice(args);
    json_of(&esb(&all), &all.join(" "))
}

#[test]
fn generate_event_rest_and_authorizer_match_aws_samples() {
    let ours = generate(&[
        "apigateway",
        "aws-proxy",
        "--method",
        "POST",
        "--path",
        "/items/1?color=red",
        "--resource",
        "/items/{id}",
        "--body",
        "{}",
        "--header",
        "X-Trace: abc",
    ]);
    let sam = fixture("sam-cli/apigateway-aws-proxy.json");
    assert_eq!(keys(&ours), keys(&sam), "top-level keys of sam's sample");
    assert_eq!(
        keys(&ours["requestContext"]["identity"]),
        keys(&{
            let mut id = sam["requestContext"]["identity"].clone();
            id["principalOrgId"] = Value::Null;
            id
        })
    );
    let samples: Vec<Value> = [
        "sam-cli/apigateway-aws-proxy.json",
        "sam-cli/apigateway-aws-proxy-post.json",
        "powertools/apiGatewayProxyEvent.json",
    ]
    .iter()
    .map(|f| fixture(f))
    .collect();
    let data = [
        "$.headers",
        "$.multiValueHeaders",
        "$.queryStringParameters",
        "$.multiValueQueryStringParameters",
        "$.pathParameters",
        "$.stageVariables",
    ];
    let all: Vec<&Value> = samples.iter().collect();
    same_shape(&ours, &all, "$", &["authorizer"], &data, true);
    same_shape(&ours, &[&sam], "$", &[], &data, false);
    assert_eq!(ours["httpMethod"], "POST");
    assert_eq!(ours["path"], "/items/1");
    assert_eq!(ours["resource"], "/items/{id}");
    assert_eq!(ours["pathParameters"], json!({"id": "1"}));
    assert_eq!(ours["queryStringParameters"], json!({"color": "red"}));
    assert_eq!(ours["body"], "{}");
    assert_eq!(ours["isBase64Encoded"], false);
    assert_eq!(ours["headers"]["X-Trace"], "abc");
    assert_eq!(ours["headers"]["Content-Type"], "application/json");
    assert_eq!(ours["requestContext"]["stage"], "Prod");
    assert_eq!(ours["requestContext"]["path"], "/Prod/items/1");

    let token = generate(&["apigateway", "authorizer", "--token", "t0k", "--path", "/x"]);
    assert_eq!(
        keys(&token),
        keys(&fixture("sam-cli/apigateway-authorizer.json"))
    );
    assert_eq!(token["authorizationToken"], "t0k");
    assert_eq!(
        token["methodArn"],
        "arn:aws:execute-api:us-east-1:123456789012:esblocal/Prod/GET/x"
    );

    let bad = esb(&[
        "generate-event",
        "apigateway",
        "aws-proxy",
        "--path",
        "/other",
        "--resource",
        "/items/{id}",
    ]);
    assert!(!bad.status.success());
    assert!(text(&bad.stderr).contains("does not match"));
}

#[test]
fn generate_event_http_api_and_function_url_match_aws_samples() {
    let ours = generate(&[
        "http-api", "--method", "POST", "--path", "/x/7", "--route", "/x/{n}", "--query", "a=1",
        "--query", "a=2", "--cookie", "c=1", "--body", "hi",
    ]);
    let sample = fixture("powertools/apiGatewayProxyV2Event.json");
    // Authorizer, mTLS and stage variables come from API configuration, not the request.
    let ignore = ["authorizer", "authentication", "stageVariables"];
    let mut expected = keys(&sample);
    expected.retain(|k| !ignore.contains(&k.as_str()));
    assert_eq!(keys(&ours), expected);
    let mut context = keys(&sample["requestContext"]);
    context.retain(|k| !ignore.contains(&k.as_str()));
    assert_eq!(keys(&ours["requestContext"]), context);
    let data = [
        "$.headers",
        "$.queryStringParameters",
        "$.pathParameters",
        "$.stageVariables",
    ];
    same_shape(&ours, &[&sample], "$", &ignore, &data, true);
    assert_eq!(ours["routeKey"], "POST /x/{n}");
    assert_eq!(ours["rawPath"], "/x/7");
    assert_eq!(ours["rawQueryString"], "a=1&a=2");
    assert_eq!(ours["queryStringParameters"], json!({"a": "1,2"}));
    assert_eq!(ours["pathParameters"], json!({"n": "7"}));
    assert_eq!(ours["cookies"], json!(["c=1"]));
    assert_eq!(ours["requestContext"]["http"]["method"], "POST");
    assert_eq!(ours["headers"]["content-type"], "text/plain");

    let bare = generate(&["http-api", "--path", "/"]);
    assert_eq!(bare["routeKey"], "$default");
    for absent in ["body", "cookies", "queryStringParameters", "pathParameters"] {
        assert!(bare.get(absent).is_none(), "{absent} absent, as AWS sends");
    }

    let url = generate(&["function-url", "--function", "hello", "--path", "/r"]);
    let sample = fixture("powertools/lambdaFunctionUrlEvent.json");
    assert_eq!(keys(&url), keys(&sample));
    assert_eq!(
        keys(&url["requestContext"]),
        keys(&sample["requestContext"])
    );
    same_shape(&url, &[&sample], "$", &[], &data, true);
    assert_eq!(url["requestContext"]["accountId"], "anonymous");
    assert_eq!(
        url["requestContext"]["domainName"],
        "hello.lambda-url.us-east-1.on.aws"
    );
    let with_body = generate(&["function-url", "--body", "x", "--base64", "--query", "q=1"]);
    let samples = [
        fixture("powertools/lambdaFunctionUrlEvent.json"),
        fixture("powertools/lambdaFunctionUrlIAMEvent.json"),
    ];
    let all: Vec<&Value> = samples.iter().collect();
    same_shape(&with_body, &all, "$", &[], &data, true);
    assert_eq!(with_body["body"], "eA==");
    assert_eq!(with_body["isBase64Encoded"], true);
}

/// AWS's documented samples (S3 event message structure 2.1, Lambda's SQS and
/// EventBridge scheduled events), values aside.
fn documented_sample(kind: &str) -> Value {
    match kind {
        "s3" => json!({"Records": [{
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "1970-01-01T00:00:00.000Z", "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "EXAMPLE"},
            "requestParameters": {"sourceIPAddress": "127.0.0.1"},
            "responseElements": {"x-amz-request-id": "EXAMPLE123456789", "x-amz-id-2": "EXAMPLE"},
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "testConfigRule",
                "bucket": {"name": "b", "ownerIdentity": {"principalId": "EXAMPLE"}, "arn": "arn:aws:s3:::b"},
                "object": {"key": "k", "size": 1024, "eTag": "0123456789abcdef0123456789abcdef", "sequencer": "0A1B2C3D4E5F678901"}}
        }]}),
        "sqs" => json!({"Records": [{
            "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
            "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...",
            "body": "Test message.",
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1545082649183",
                "SenderId": "AIDAIENQZJOLO23YVJ4VO", "ApproximateFirstReceiveTimestamp": "1545082649185"},
            "messageAttributes": {}, "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
            "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-2:123456789012:my-queue",
            "awsRegion": "us-east-2"
        }]}),
        _ => json!({
            "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
            "detail-type": "Scheduled Event", "source": "aws.events", "account": "123456789012",
            "time": "2015-10-08T16:53:06Z", "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/my-scheduled-rule"],
            "detail": {}
        }),
    }
}

/// Same keys at every level, same JSON types.
fn exact_shape(ours: &Value, theirs: &Value, path: &str) {
    match (ours, theirs) {
        (Value::Object(o), Value::Object(t)) => {
            assert_eq!(keys(ours), keys(theirs), "keys of {path}");
            for (k, v) in o {
                exact_shape(v, &t[k], &format!("{path}.{k}"));
            }
        }
        (Value::Array(o), Value::Array(t)) => {
            assert_eq!(o.len(), t.len(), "length of {path}");
            for (i, (a, b)) in o.iter().zip(t).enumerate() {
                exact_shape(a, b, &format!("{path}[{i}]"));
            }
        }
        _ => assert_eq!(
            std::mem::discriminant(ours),
            std::mem::discriminant(theirs),
            "type of {path}: {ours} vs {theirs}"
        ),
    }
}

#[test]
fn generate_event_s3_sqs_schedule_follow_aws_documented_samples() {
    let put = generate(&["s3", "put", "--bucket", "photos", "--key", "raw/my cat.jpg"]);
    exact_shape(&put, &documented_sample("s3"), "$");
    let record = &put["Records"][0];
    assert_eq!(record["s3"]["bucket"]["name"], "photos");
    assert_eq!(record["s3"]["bucket"]["arn"], "arn:aws:s3:::photos");
    assert_eq!(
        record["s3"]["object"]["key"], "raw/my+cat.jpg",
        "keys arrive URL-encoded"
    );
    assert_eq!(record["eventName"], "ObjectCreated:Put");
    let delete = generate(&["s3", "delete", "--bucket", "b", "--key", "k"]);
    assert_eq!(delete["Records"][0]["eventName"], "ObjectRemoved:Delete");
    assert_eq!(
        keys(&delete["Records"][0]["s3"]["object"]),
        ["key", "sequencer"]
    );

    let sqs = generate(&[
        "sqs",
        "receive-message",
        "--body",
        "hello",
        "--queue",
        "jobs",
    ]);
    exact_shape(&sqs, &documented_sample("sqs"), "$");
    let record = &sqs["Records"][0];
    assert_eq!(record["body"], "hello");
    assert_eq!(record["md5OfBody"], "5d41402abc4b2a76b9719d911017c592");
    assert_eq!(
        record["eventSourceARN"],
        "arn:aws:sqs:us-east-1:123456789012:jobs"
    );

    let schedule = generate(&["schedule", "--rule", "nightly", "--region", "eu-west-1"]);
    exact_shape(&schedule, &documented_sample("schedule"), "$");
    assert_eq!(schedule["detail-type"], "Scheduled Event");
    assert_eq!(
        schedule["resources"],
        json!(["arn:aws:events:eu-west-1:123456789012:rule/nightly"])
    );
}

/// Slow (compiles the lambda_runtime crate once; the target dir is kept under
/// target/ for the next run): the Rust sample builds, validates and serves.
#[test]
fn init_rust_project_builds_its_bootstrap_and_is_served() {
    let tmp = temp_dir();
    let project = tmp.path().join("rusty");
    let target_dir = support::repo_root().join("target/esb-init-rust-test");
    let out = esb_in(
        &[
            "init",
            path_str(&project),
            "--runtime",
            "provided.al2023",
            "--name",
            "rusty",
        ],
        tmp.path(),
        &[("CARGO_TARGET_DIR", path_str(&target_dir))],
    );
    let stdout = ok(&out, "esb init --runtime provided.al2023");
    assert!(stdout.contains("cargo build --release"), "{stdout}");
    let bootstrap = project.join("hello/dist/bootstrap");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&bootstrap)
            .expect("bootstrap placed where CodeUri points")
            .permissions(),
    );
    assert!(mode & 0o111 != 0, "bootstrap is executable");

    let report = json_of(
        &esb(&[
            "validate",
            "--template",
            path_str(&project.join("template.yaml")),
            "--json",
        ]),
        "validate the Rust project",
    );
    let runtimes: Vec<&str> = report["functions"]
        .as_array()
        .expect("functions")
        .iter()
        .filter_map(|f| f["runtime"].as_str())
        .collect();
    assert_eq!(runtimes, ["provided.al2023", "python3.12"]);

    let b = Box_::start(&project);
    let http = b.get("/hello/rust");
    assert_eq!(http["message"], "Hello, rust!");
    assert_eq!(http["api"], "HTTP");
    let chained = b.get("/chain?name=boto3");
    assert_eq!(chained["via"], "chain");
    assert_eq!(
        chained["hello"],
        json!({"message": "Hello, boto3!", "function": "hello"})
    );
    b.stop();
}
