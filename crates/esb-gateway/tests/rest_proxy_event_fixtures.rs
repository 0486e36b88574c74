//! The REST proxy event compared key by key, level by level and type by type with
//! AWS's sample events (/work/shared/fixtures/aws-events), for the same request.
//!
//! Every difference from a sample must be listed below with the reason it is expected;
//! a listed difference that no longer occurs fails too, so the list cannot go stale.
//! Values that are request data (headers, query, body...) are compared as well; values
//! that identify one request (ids, times, addresses) are compared only where the sample
//! allows reproducing them.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use esb_gateway::rest_proxy_event::{ProxyEvent, ProxyEventInput};
use esb_gateway::route_table::{Route, RouteMethod, RouteTable};
use http::{HeaderMap, HeaderName, Method, Uri, Version};
use serde_json::Value;
use uuid::Uuid;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/aws-events")
}

fn fixture(name: &str) -> Value {
    let dir = fixtures_dir();
    assert!(
        dir.is_dir(),
        "the AWS sample events these tests compare against are missing: expected the directory {} \
         (/work/shared/fixtures/aws-events, see its README.md)",
        dir.display()
    );
    let path = dir.join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read AWS sample event {}: {e}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("AWS sample event {} is not JSON: {e}", path.display()))
}

/// A difference between a sample and our event, at a dotted path (`requestContext.stage`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Difference {
    OnlyInSample(String),
    OnlyInOurs(String),
    Type {
        path: String,
        sample: &'static str,
        ours: &'static str,
    },
}

/// An expected difference and why it is expected.
struct Allowed {
    difference: Difference,
    why: &'static str,
}

fn only_in_sample(path: &str, why: &'static str) -> Allowed {
    Allowed {
        difference: Difference::OnlyInSample(path.into()),
        why,
    }
}

fn only_in_ours(path: &str, why: &'static str) -> Allowed {
    Allowed {
        difference: Difference::OnlyInOurs(path.into()),
        why,
    }
}

fn type_differs(
    path: &str,
    sample: &'static str,
    ours: &'static str,
    why: &'static str,
) -> Allowed {
    Allowed {
        difference: Difference::Type {
            path: path.into(),
            sample,
            ours,
        },
        why,
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn differences(sample: &Value, ours: &Value, path: &str, out: &mut Vec<Difference>) {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match (sample, ours) {
        (Value::Object(s), Value::Object(o)) => {
            for (key, sv) in s {
                match o.get(key) {
                    Some(ov) => differences(sv, ov, &join(key), out),
                    None => out.push(Difference::OnlyInSample(join(key))),
                }
            }
            for key in o.keys().filter(|k| !s.contains_key(*k)) {
                out.push(Difference::OnlyInOurs(join(key)));
            }
        }
        (Value::Array(s), Value::Array(o)) => {
            for (i, (sv, ov)) in s.iter().zip(o).enumerate() {
                differences(sv, ov, &format!("{path}[{i}]"), out);
            }
        }
        _ if json_type(sample) != json_type(ours) => out.push(Difference::Type {
            path: path.to_string(),
            sample: json_type(sample),
            ours: json_type(ours),
        }),
        _ => {}
    }
}

/// The request a sample describes, and how the API serving it is configured.
struct Case {
    fixture: &'static str,
    method: Method,
    uri: &'static str,
    headers: Vec<(&'static str, &'static str)>,
    body: &'static [u8],
    routes: Vec<Route>,
    binary_media_types: Vec<String>,
    stage: &'static str,
    stage_variables: Vec<(String, String)>,
    request_id: Uuid,
    request_time_ms: u64,
    api_id: &'static str,
    account_id: &'static str,
    domain_name: &'static str,
    source_ip: IpAddr,
    allowed: Vec<Allowed>,
    /// The sample is an excerpt: keys only we have are expected.
    partial_sample: bool,
    /// Dotted paths whose values must equal the sample's.
    same_values: Vec<&'static str>,
}

impl Case {
    fn event(&self) -> Value {
        let table = RouteTable::new(self.routes.clone()).expect("valid routes");
        let uri: Uri = self.uri.parse().expect("valid uri");
        let route = table
            .lookup(&self.method, uri.path())
            .unwrap_or_else(|e| panic!("{}: {} is not routed: {e}", self.fixture, self.uri));
        let mut headers = HeaderMap::new();
        let mut raw_names = Vec::new();
        for (name, value) in &self.headers {
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).expect("header name"),
                value.parse().expect("header value"),
            );
            raw_names.push(name.to_string());
        }
        let input = ProxyEventInput {
            method: &self.method,
            uri: &uri,
            version: Version::HTTP_11,
            headers: &headers,
            raw_header_names: &raw_names,
            body: self.body,
            source_ip: self.source_ip,
            route: &route,
            stage: self.stage,
            stage_variables: &self.stage_variables,
            request_id: self.request_id,
            request_time: UNIX_EPOCH + Duration::from_millis(self.request_time_ms),
            api_id: self.api_id,
            account_id: self.account_id,
            domain_name: self.domain_name,
            binary_media_types: &self.binary_media_types,
        };
        let bytes = ProxyEvent::new(&input).to_json().expect("serialisable");
        serde_json::from_slice(&bytes).expect("our event is JSON")
    }

    fn check(&self) {
        let sample = fixture(self.fixture);
        let ours = self.event();
        let mut found = Vec::new();
        differences(&sample, &ours, "", &mut found);
        if self.partial_sample {
            found.retain(|d| !matches!(d, Difference::OnlyInOurs(_)));
        }
        let unexpected: Vec<&Difference> = found
            .iter()
            .filter(|d| !self.allowed.iter().any(|a| a.difference == **d))
            .collect();
        assert!(
            unexpected.is_empty(),
            "{}: unexpected differences from AWS's sample: {unexpected:#?}\nour event: {ours:#}",
            self.fixture
        );
        for a in &self.allowed {
            assert!(
                found.contains(&a.difference),
                "{}: allowed difference {:?} ({}) no longer occurs; remove it",
                self.fixture,
                a.difference,
                a.why
            );
        }
        for path in &self.same_values {
            let pointer = format!("/{}", path.replace('.', "/"));
            assert_eq!(
                ours.pointer(&pointer),
                sample.pointer(&pointer),
                "{}: value of {path}",
                self.fixture
            );
        }
    }
}

// Why our event differs from the Powertools samples. Those are AWS's documentation
// samples, written for HTTP APIs' payload format 1.0 and with every optional feature on.
const VERSION: &str = "only HTTP APIs send `version`; REST APIs do not (and \
    apiGatewayProxyEvent_noVersionAuth.json, like real REST events, has none)";
const AUTHORIZER: &str =
    "`requestContext.authorizer` is present only when the method has an authorizer";
const CLIENT_CERT: &str = "`identity.clientCert` is present only with mutual TLS";
const RESOURCE_ID: &str = "HTTP APIs have no resources and send null; a REST API sends the \
    resource's id, a string (as in the SAM-generated REST event: \"123456\")";
const USER_AGENT: &str = "the sample has identity.userAgent but no User-Agent header; AWS \
    takes userAgent from that header, so our request sends it";

fn powertools_case(fixture: &'static str, uri: &'static str, resource: &'static str) -> Case {
    Case {
        fixture,
        method: Method::GET,
        uri,
        headers: vec![
            ("Header1", "value1"),
            ("Header2", "value1"),
            ("Header2", "value2"),
            ("Origin", "https://aws.amazon.com"),
            ("User-Agent", "user-agent"),
        ],
        body: b"Hello from Lambda!",
        routes: vec![Route::new(RouteMethod::Get, resource, "fn")],
        binary_media_types: Vec::new(),
        stage: "Prod",
        stage_variables: Vec::new(),
        request_id: Uuid::new_v4(),
        request_time_ms: 1_583_349_317_135,
        api_id: "id",
        account_id: "123456789012",
        domain_name: "id.execute-api.us-east-1.amazonaws.com",
        source_ip: "192.168.0.1".parse().expect("ip"),
        allowed: vec![
            only_in_sample("version", VERSION),
            only_in_sample("requestContext.authorizer", AUTHORIZER),
            only_in_sample("requestContext.identity.clientCert", CLIENT_CERT),
            type_differs("requestContext.resourceId", "null", "string", RESOURCE_ID),
            only_in_ours("headers.User-Agent", USER_AGENT),
            only_in_ours("multiValueHeaders.User-Agent", USER_AGENT),
        ],
        partial_sample: false,
        same_values: vec![
            "resource",
            "path",
            "httpMethod",
            // Not `queryStringParameters.parameter1`: see `powertools_rest_sample`.
            "queryStringParameters.parameter2",
            "multiValueQueryStringParameters",
            "pathParameters",
            "stageVariables",
            "isBase64Encoded",
            "headers.Header1",
            "headers.Header2",
            "multiValueHeaders.Header1",
            "multiValueHeaders.Header2",
            "requestContext.accountId",
            "requestContext.apiId",
            "requestContext.domainName",
            "requestContext.domainPrefix",
            "requestContext.httpMethod",
            "requestContext.protocol",
            "requestContext.resourcePath",
            "requestContext.requestTime",
            "requestContext.requestTimeEpoch",
            "requestContext.identity.userAgent",
        ],
    }
}

#[test]
fn powertools_rest_sample() {
    let mut case = powertools_case(
        "powertools/apiGatewayProxyEvent.json",
        "/my/path?parameter1=value1&parameter1=value2&parameter2=value",
        "/my/path",
    );
    case.same_values.extend(["body", "headers.Origin"]);
    case.check();
    // The samples give a repeated query parameter its first value; REST APIs give the
    // last, as they do for headers (captured from a live REST API in
    // floci-io/floci#3548: `?x=1&x=2&x=3` is `{"x":"3"}`).
    let sample = fixture(case.fixture);
    assert_eq!(sample["queryStringParameters"]["parameter1"], "value1");
    assert_eq!(
        sample["multiValueQueryStringParameters"]["parameter1"],
        serde_json::json!(["value1", "value2"])
    );
    assert_eq!(
        case.event()["queryStringParameters"]["parameter1"],
        "value2"
    );
}

#[test]
fn powertools_sample_without_origin() {
    let mut case = powertools_case(
        "powertools/apiGatewayProxyEventNoOrigin.json",
        "/my/path?parameter1=value1&parameter1=value2&parameter2=value",
        "/my/path",
    );
    case.headers.retain(|(name, _)| *name != "Origin");
    case.same_values.push("body");
    case.check();
}

/// These samples mark "Hello from Lambda!" as base64 (it is not valid base64: the
/// samples were edited by hand); with a binary media type configured, our body is
/// base64 too, so types and `isBase64Encoded` agree, the body value cannot.
fn binary(mut case: Case) -> Case {
    case.binary_media_types = vec!["*/*".into()];
    case.headers.retain(|(name, _)| *name != "Origin");
    case
}

#[test]
fn powertools_sample_another_path_binary() {
    binary(powertools_case(
        "powertools/apiGatewayProxyEventAnotherPath.json",
        "/my/anotherPath?parameter1=value1&parameter1=value2&parameter2=value",
        "/my/anotherPath",
    ))
    .check();
}

#[test]
fn powertools_sample_trailing_slash() {
    // `/my/path/` is routed to the `/my/path` resource and keeps its slash in `path`.
    binary(powertools_case(
        "powertools/apiGatewayProxyEventPathTrailingSlash.json",
        "/my/path/?parameter1=value1&parameter1=value2&parameter2=value",
        "/my/path",
    ))
    .check();
}

#[test]
fn powertools_sample_without_version_or_authorizer() {
    let mut case = binary(powertools_case(
        "powertools/apiGatewayProxyEvent_noVersionAuth.json",
        "/my/path?parameter1=value1&parameter1=value2&parameter2=value",
        "/my/path",
    ));
    // This is the shape of a REST API event: only the mTLS, resource id and
    // User-Agent notes remain.
    case.allowed.retain(|a| {
        !matches!(&a.difference, Difference::OnlyInSample(p) if p == "version" || p == "requestContext.authorizer")
    });
    case.check();
}

#[test]
fn powertools_other_sample() {
    let mut case = powertools_case(
        "powertools/apiGatewayProxyOtherEvent.json",
        "/other/path?parameter1=value1&parameter1=value2&parameter2=value",
        "/other/path",
    );
    case.allowed.push(only_in_ours(
        "multiValueHeaders.Origin",
        "the sample's multiValueHeaders lacks the Origin header its headers has; AWS lists \
         every header in both",
    ));
    case.same_values.extend(["body", "headers.Origin"]);
    case.check();
}

#[test]
fn powertools_principal_id_excerpt() {
    let case = Case {
        fixture: "powertools/apiGatewayProxyEventPrincipalId.json",
        method: Method::POST,
        uri: "/trip",
        headers: vec![("User-Agent", "ua")],
        body: b"{}",
        routes: vec![Route::new(RouteMethod::Post, "/trip", "fn")],
        request_id: Uuid::parse_str("34972478-2843-4ced-a657-253108738274").expect("uuid"),
        allowed: vec![only_in_sample("requestContext.authorizer", AUTHORIZER)],
        partial_sample: true,
        same_values: vec!["resource", "path", "httpMethod", "requestContext.requestId"],
        ..powertools_case("", "/", "/")
    };
    case.check();
}

// Why our event differs from the event `sam local generate-event apigateway aws-proxy`
// writes: SAM's generator predates keys AWS has added since, which the Powertools
// samples (and real events) have.
const SAM_OLDER: &str = "added to REST events after SAM's generator was written; present in \
    the Powertools samples";

fn sam_case(fixture: &'static str, uri: &'static str, body: &'static [u8]) -> Case {
    Case {
        fixture,
        method: Method::POST,
        uri,
        headers: vec![
            (
                "Accept",
                "text/html,application/xhtml+xml,application/xml;q=0.9,image/webp,*/*;q=0.8",
            ),
            ("Accept-Encoding", "gzip, deflate, sdch"),
            ("Accept-Language", "en-US,en;q=0.8"),
            ("Cache-Control", "max-age=0"),
            ("CloudFront-Forwarded-Proto", "https"),
            ("CloudFront-Is-Desktop-Viewer", "true"),
            ("CloudFront-Is-Mobile-Viewer", "false"),
            ("CloudFront-Is-SmartTV-Viewer", "false"),
            ("CloudFront-Is-Tablet-Viewer", "false"),
            ("CloudFront-Viewer-Country", "US"),
            ("Host", "1234567890.execute-api.us-east-1.amazonaws.com"),
            ("Upgrade-Insecure-Requests", "1"),
            ("User-Agent", "Custom User Agent String"),
            (
                "Via",
                "1.1 08f323deadbeefa7af34d5feb414ce27.cloudfront.net (CloudFront)",
            ),
            (
                "X-Amz-Cf-Id",
                "cDehVQoZnx43VYQb9j2-nvCh-9z396Uhbp027Y2JvkCPNLmGJHqlaA==",
            ),
            ("X-Forwarded-For", "127.0.0.1, 127.0.0.2"),
            ("X-Forwarded-Port", "443"),
            ("X-Forwarded-Proto", "https"),
        ],
        body,
        routes: vec![
            Route::new(RouteMethod::Any, "/{proxy+}", "fn"),
            Route::new(RouteMethod::Get, "/", "root"),
        ],
        // SAM marks its sample body as base64; an API with binary media types does too.
        binary_media_types: vec!["*/*".into()],
        stage: "prod",
        stage_variables: vec![("baz".into(), "qux".into())],
        request_id: Uuid::parse_str("c6af9ac6-7b61-11e6-9a41-93e8deadbeef").expect("uuid"),
        request_time_ms: 1_428_582_896_000,
        api_id: "1234567890",
        account_id: "123456789012",
        domain_name: "1234567890.execute-api.us-east-1.amazonaws.com",
        source_ip: "127.0.0.1".parse().expect("ip"),
        allowed: vec![
            only_in_ours("requestContext.domainName", SAM_OLDER),
            only_in_ours("requestContext.domainPrefix", SAM_OLDER),
            only_in_ours("requestContext.extendedRequestId", SAM_OLDER),
            only_in_ours("requestContext.identity.principalOrgId", SAM_OLDER),
        ],
        partial_sample: false,
        same_values: vec![
            "body",
            "isBase64Encoded",
            "resource",
            "path",
            "httpMethod",
            "queryStringParameters",
            "multiValueQueryStringParameters",
            "stageVariables",
            "headers.User-Agent",
            "headers.X-Forwarded-For",
            "requestContext.accountId",
            "requestContext.stage",
            "requestContext.requestId",
            "requestContext.requestTime",
            "requestContext.requestTimeEpoch",
            "requestContext.path",
            "requestContext.resourcePath",
            "requestContext.httpMethod",
            "requestContext.apiId",
            "requestContext.protocol",
            "requestContext.identity.sourceIp",
            "requestContext.identity.userAgent",
        ],
    }
}

#[test]
fn sam_rest_proxy_event() {
    let case = sam_case(
        "sam-cli/apigateway-aws-proxy.json",
        "/path/to/resource?foo=bar",
        br#"{"test":"body"}"#,
    );
    let ours = case.event();
    // SAM writes the greedy parameter with a leading slash; AWS (and ESB) without.
    assert_eq!(ours["pathParameters"]["proxy"], "path/to/resource");
    case.check();
}

#[test]
fn sam_rest_proxy_post_event() {
    sam_case(
        "sam-cli/apigateway-aws-proxy-post.json",
        "/hello/world?foo=bar",
        br#"{"a":1}"#,
    )
    .check();
}

#[test]
fn every_v1_proxy_sample_is_covered() {
    let covered = [
        "apiGatewayProxyEvent.json",
        "apiGatewayProxyEventAnotherPath.json",
        "apiGatewayProxyEventNoOrigin.json",
        "apiGatewayProxyEventPathTrailingSlash.json",
        "apiGatewayProxyEventPrincipalId.json",
        "apiGatewayProxyEvent_noVersionAuth.json",
        "apiGatewayProxyOtherEvent.json",
    ];
    let dir = fixtures_dir().join("powertools");
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| {
        panic!(
            "the AWS sample events are missing: cannot list {}: {e}",
            dir.display()
        )
    });
    let mut v1: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("apiGatewayProxy") && !n.contains("V2"))
        .collect();
    v1.sort();
    let mut expected: Vec<String> = covered.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(
        v1, expected,
        "a v1 proxy sample was added or removed: compare it here"
    );
}
