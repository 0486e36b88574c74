//! `esb generate-event`: sample events in the shapes AWS sends, to feed a function by
//! hand (`esb generate-event ... | esb invoke fn --event -`), as `sam local
//! generate-event` does. API Gateway and function URL events are built by the
//! gateway's own builders (`esb_gateway::proxy_event`, `esb_gateway::http_event`) from
//! the flags, so they are the events the gateway sends, with the keys of AWS's sample
//! events (`tests/fixtures/aws-events`, checked by the tests) and the values ESB's
//! gateway uses (API id, stage); S3, SQS and EventBridge events follow AWS's
//! documented samples.

use std::collections::BTreeMap;
use std::io::Read;

use anyhow::{Context, Result, bail};
use base64::Engine;
use clap::{Args, Subcommand};
use esb_gateway::proxy_event::{self, EventBody, epoch_ms};
use esb_gateway::query_string;
use esb_gateway::{http_event, routes::API_ID};
use md5::Digest;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde_json::{Value, json};

#[derive(Args)]
#[command(after_help = "Examples:\n  \
    esb generate-event apigateway aws-proxy --method GET --path /items/1\n  \
    esb generate-event apigateway aws-proxy --method POST --path /items/1 --resource '/items/{id}' --body '{}'\n  \
    esb generate-event apigateway authorizer --token allow --path /items/1\n  \
    esb generate-event http-api --method POST --path /x --body '{\"k\":1}'\n  \
    esb generate-event function-url --path /report --query day=monday\n  \
    esb generate-event s3 put --bucket photos --key 'raw/cat.jpg' --size 2048\n  \
    esb generate-event sqs receive-message --body 'hello' --queue jobs\n  \
    esb generate-event schedule --rule nightly\n  \
    esb generate-event apigateway aws-proxy --path /hello | esb invoke hello --event -")]
pub struct GenerateEventArgs {
    #[command(subcommand)]
    source: Source,
}

#[derive(Subcommand)]
enum Source {
    /// API Gateway REST API: a Lambda proxy request (payload 1.0) or a TOKEN authorizer request.
    Apigateway {
        #[command(subcommand)]
        event: ApiGatewayEvent,
    },
    /// API Gateway HTTP API request (payload format 2.0).
    HttpApi(HttpApiArgs),
    /// Lambda function URL request.
    FunctionUrl(FunctionUrlArgs),
    /// S3 event notification.
    S3 {
        #[command(subcommand)]
        event: S3Event,
    },
    /// SQS message, as Lambda's event source mapping delivers it.
    Sqs {
        #[command(subcommand)]
        event: SqsEvent,
    },
    /// EventBridge (CloudWatch Events) scheduled event.
    Schedule(ScheduleArgs),
}

#[derive(Subcommand)]
enum ApiGatewayEvent {
    /// Lambda proxy integration request (what `Events: Type: Api` routes send).
    AwsProxy(RestArgs),
    /// TOKEN Lambda authorizer request.
    Authorizer(AuthorizerArgs),
}

#[derive(Subcommand)]
enum S3Event {
    /// ObjectCreated:Put.
    Put(S3Args),
    /// ObjectRemoved:Delete.
    Delete(S3Args),
}

#[derive(Subcommand)]
enum SqsEvent {
    /// One message received from a queue.
    ReceiveMessage(SqsArgs),
}

/// Where the event comes from.
#[derive(Args, Clone)]
struct Origin {
    /// Region in ARNs and host names.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Account id in ARNs.
    #[arg(long, default_value = "123456789012")]
    account_id: String,
}

/// An HTTP request, common to API Gateway and function URL events.
#[derive(Args)]
struct Request {
    /// HTTP method.
    #[arg(long, default_value = "GET")]
    method: String,
    /// Request path; a query string may follow (`/items/1?color=red`).
    #[arg(long, default_value = "/")]
    path: String,
    /// Query parameter (repeatable).
    #[arg(long = "query", value_name = "NAME=VALUE")]
    query: Vec<String>,
    /// Request header (repeatable).
    #[arg(long = "header", value_name = "NAME=VALUE")]
    headers: Vec<String>,
    /// Request body; `-` reads it from stdin.
    #[arg(long)]
    body: Option<String>,
    /// Pass the body base64-encoded (`isBase64Encoded: true`), as APIs pass binary bodies.
    #[arg(long)]
    base64: bool,
    /// Source IP of the caller.
    #[arg(long, default_value = "127.0.0.1")]
    source_ip: String,
    #[command(flatten)]
    origin: Origin,
}

#[derive(Args)]
struct RestArgs {
    #[command(flatten)]
    request: Request,
    /// The route's resource (`/items/{id}`, `/{proxy+}`): fills `pathParameters` from
    /// the path. Default: the path itself (no parameters).
    #[arg(long)]
    resource: Option<String>,
    /// API stage.
    #[arg(long, default_value = "Prod")]
    stage: String,
}

#[derive(Args)]
struct HttpApiArgs {
    #[command(flatten)]
    request: Request,
    /// The route's path (`/items/{id}`): the event's `routeKey` is `METHOD route` and
    /// `pathParameters` come from the path. Default: the `$default` route.
    #[arg(long)]
    route: Option<String>,
    /// API stage.
    #[arg(long, default_value = "$default")]
    stage: String,
    /// Cookie (repeatable), NAME=VALUE.
    #[arg(long = "cookie", value_name = "NAME=VALUE")]
    cookies: Vec<String>,
}

#[derive(Args)]
struct FunctionUrlArgs {
    #[command(flatten)]
    request: Request,
    /// The function whose URL is called (names the URL id, as ESB's gateway does).
    #[arg(long, default_value = "function")]
    function: String,
    /// Cookie (repeatable), NAME=VALUE.
    #[arg(long = "cookie", value_name = "NAME=VALUE")]
    cookies: Vec<String>,
}

#[derive(Args)]
struct AuthorizerArgs {
    /// The caller's token (the `Authorization` header's value).
    #[arg(long, default_value = "incoming-client-token")]
    token: String,
    /// HTTP method of the request being authorized.
    #[arg(long, default_value = "GET")]
    method: String,
    /// Path of the request being authorized.
    #[arg(long, default_value = "/")]
    path: String,
    /// API stage.
    #[arg(long, default_value = "Prod")]
    stage: String,
    #[command(flatten)]
    origin: Origin,
}

#[derive(Args)]
struct S3Args {
    /// Bucket name.
    #[arg(long, default_value = "example-bucket")]
    bucket: String,
    /// Object key (URL-encoded in the event, as S3 writes it).
    #[arg(long, default_value = "test/key")]
    key: String,
    /// Object size in bytes (put).
    #[arg(long, default_value_t = 1024)]
    size: u64,
    /// Object ETag (put).
    #[arg(long, default_value = "0123456789abcdef0123456789abcdef")]
    etag: String,
    #[command(flatten)]
    origin: Origin,
}

#[derive(Args)]
struct SqsArgs {
    /// Message body; `-` reads it from stdin.
    #[arg(long, default_value = "Test message.")]
    body: String,
    /// Queue name.
    #[arg(long, default_value = "my-queue")]
    queue: String,
    #[command(flatten)]
    origin: Origin,
}

#[derive(Args)]
struct ScheduleArgs {
    /// Name of the EventBridge rule.
    #[arg(long, default_value = "my-schedule")]
    rule: String,
    #[command(flatten)]
    origin: Origin,
}

/// The account ESB's gateway puts in events of unsigned function URL calls.
const URL_ACCOUNT: &str = "anonymous";

pub fn run(args: GenerateEventArgs) -> Result<()> {
    let event = match args.source {
        Source::Apigateway {
            event: ApiGatewayEvent::AwsProxy(a),
        } => rest_event(&a)?,
        Source::Apigateway {
            event: ApiGatewayEvent::Authorizer(a),
        } => authorizer_event(&a),
        Source::HttpApi(a) => http_api_event(&a)?,
        Source::FunctionUrl(a) => function_url_event(&a)?,
        Source::S3 {
            event: S3Event::Put(a),
        } => s3_event(&a, true),
        Source::S3 {
            event: S3Event::Delete(a),
        } => s3_event(&a, false),
        Source::Sqs {
            event: SqsEvent::ReceiveMessage(a),
        } => sqs_event(&a)?,
        Source::Schedule(a) => schedule_event(&a),
    };
    let text = serde_json::to_string_pretty(&event).context("cannot render the event")?;
    println!("{text}");
    Ok(())
}

/// A request's parts as the events need them.
struct Parsed {
    method: String,
    path: String,
    /// Decoded name/value pairs, in order.
    query: Vec<(String, String)>,
    /// Names as given, in order.
    headers: Vec<(String, String)>,
    body: Option<String>,
    base64: bool,
}

fn parse_request(r: &Request) -> Result<Parsed> {
    let method = r.method.to_ascii_uppercase();
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
        bail!(
            "--method {:?}: expected an HTTP method such as GET",
            r.method
        );
    }
    let (path, raw_query) = r.path.split_once('?').unwrap_or((&r.path, ""));
    if !path.starts_with('/') {
        bail!("--path {:?}: a path starts with /", r.path);
    }
    let mut query = query_string::pairs(raw_query);
    for q in &r.query {
        query.push(pair(q, "--query")?);
    }
    let mut headers = Vec::new();
    for h in &r.headers {
        // "Name: value" as curl writes it, or Name=value.
        let (k, v) = match h.split_once(':') {
            Some((k, v)) if !k.contains('=') => (k.trim().to_string(), v.trim().to_string()),
            _ => pair(h, "--header")?,
        };
        headers.push((k, v));
    }
    let body = match r.body.as_deref() {
        None => None,
        Some("-") => Some(read_stdin(r.base64)?),
        Some(text) if r.base64 => {
            Some(base64::engine::general_purpose::STANDARD.encode(text.as_bytes()))
        }
        Some(text) => Some(text.to_string()),
    };
    if body.is_some()
        && !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        let json = r
            .body
            .as_deref()
            .is_some_and(|b| serde_json::from_str::<Value>(b).is_ok());
        let ct = match (r.base64, json) {
            (true, _) => "application/octet-stream",
            (false, true) => "application/json",
            (false, false) => "text/plain",
        };
        headers.push(("Content-Type".into(), ct.into()));
    }
    Ok(Parsed {
        method,
        path: path.to_string(),
        query,
        headers,
        body,
        base64: r.base64,
    })
}

fn read_stdin(base64: bool) -> Result<String> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .context("cannot read the body from stdin")?;
    if base64 {
        return Ok(base64::engine::general_purpose::STANDARD.encode(&bytes));
    }
    String::from_utf8(bytes).context("the body on stdin is not UTF-8 text; add --base64")
}

fn pair(text: &str, flag: &str) -> Result<(String, String)> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => bail!("{flag} {text:?}: expected NAME=VALUE"),
    }
}

/// Characters left as they are in query strings and S3 keys (as Java's URLEncoder,
/// which S3 notifications follow; `/` also stays in S3 keys).
const FORM: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'*');

fn form_encode(s: &str) -> String {
    s.split(' ')
        .map(|part| utf8_percent_encode(part, FORM).to_string())
        .collect::<Vec<_>>()
        .join("+")
}

fn raw_query(query: &[(String, String)]) -> String {
    query
        .iter()
        .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// `pathParameters` of `path` under a route pattern (`{name}` one segment, `{name+}`
/// the rest); an error when the path is not one of the route's.
fn path_parameters(pattern: &str, path: &str) -> Result<BTreeMap<String, String>> {
    let mismatch = || anyhow::anyhow!("the path {path} does not match the route {pattern}");
    let mut params = BTreeMap::new();
    let mut segments = path.trim_start_matches('/').split('/');
    let parts: Vec<&str> = pattern.trim_start_matches('/').split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix("+}")) {
            if i + 1 != parts.len() {
                bail!("the route {pattern}: a greedy {{{name}+}} must be the last segment");
            }
            let rest: Vec<&str> = segments.by_ref().collect();
            let rest = rest.join("/");
            if rest.is_empty() {
                return Err(mismatch());
            }
            params.insert(name.to_string(), form_decode_path(&rest));
            return Ok(params);
        }
        let seg = segments.next().ok_or_else(mismatch)?;
        match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(name) if !seg.is_empty() => {
                params.insert(name.to_string(), form_decode_path(seg));
            }
            Some(_) => return Err(mismatch()),
            None if *part == seg => {}
            None => return Err(mismatch()),
        }
    }
    if segments.next().is_some() {
        return Err(mismatch());
    }
    Ok(params)
}

/// Path parameters arrive percent-decoded (`+` stays a plus in paths).
fn form_decode_path(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

/// ISO 8601 in UTC, with milliseconds when asked (`1970-01-01T00:00:00.000Z`).
fn iso8601(t: time::OffsetDateTime, millis: bool) -> String {
    let base = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    if millis {
        format!("{base}.{:03}Z", t.millisecond())
    } else {
        format!("{base}Z")
    }
}

fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Headers every API Gateway request carries, unless the caller gave them.
fn default_headers(host: &str, source_ip: &str) -> [(&'static str, String); 6] {
    [
        ("Accept", "*/*".to_string()),
        ("Host", host.to_string()),
        ("User-Agent", "curl/8.5.0".to_string()),
        ("X-Forwarded-For", source_ip.to_string()),
        ("X-Forwarded-Port", "443".to_string()),
        ("X-Forwarded-Proto", "https".to_string()),
    ]
}

fn with_defaults(req: &Parsed, host: &str, source_ip: &str) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = default_headers(host, source_ip)
        .into_iter()
        .filter(|(k, _)| !req.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(k)))
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    headers.extend(req.headers.iter().cloned());
    headers
}

impl Parsed {
    /// The body as events carry it.
    fn event_body(&self) -> Option<EventBody> {
        let body = self.body.clone()?;
        Some(if self.base64 {
            EventBody::Base64(body)
        } else {
            EventBody::Text(body)
        })
    }
}

fn rest_event(a: &RestArgs) -> Result<Value> {
    let req = parse_request(&a.request)?;
    let origin = &a.request.origin;
    let resource = a.resource.clone().unwrap_or_else(|| req.path.clone());
    let params = path_parameters(&resource, &req.path)?;
    let host = format!("{API_ID}.execute-api.{}.amazonaws.com", origin.region);
    let headers = with_defaults(&req, &host, &a.request.source_ip);
    let user_agent = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("user-agent"))
        .map(|(_, v)| v.as_str());
    Ok(proxy_event::from_parts(&proxy_event::EventParts {
        method: &req.method,
        resource: &resource,
        path: &req.path,
        path_parameters: &params,
        headers: &headers,
        query: (!req.query.is_empty()).then_some(req.query.as_slice()),
        user_agent,
        body: req.event_body(),
        source_ip: &a.request.source_ip,
        stage: &a.stage,
        request_id: &request_id(),
        api_id: API_ID,
        account_id: &origin.account_id,
        region: &origin.region,
        time: now(),
    }))
}

fn authorizer_event(a: &AuthorizerArgs) -> Value {
    json!({
        "type": "TOKEN",
        "authorizationToken": a.token,
        "methodArn": format!(
            "arn:aws:execute-api:{}:{}:{API_ID}/{}/{}{}",
            a.origin.region,
            a.origin.account_id,
            a.stage,
            a.method.to_ascii_uppercase(),
            a.path
        ),
    })
}

/// What HTTP API and function URL events (payload 2.0) share.
struct V2<'a> {
    req: Parsed,
    source_ip: &'a str,
    cookies: &'a [String],
    route_key: String,
    path_parameters: BTreeMap<String, String>,
    account_id: &'a str,
    api_id: String,
    domain: String,
    stage: &'a str,
}

fn v2_event(e: V2<'_>) -> Value {
    let headers = with_defaults(&e.req, &e.domain, e.source_ip);
    http_event::from_parts(&http_event::EventParts {
        method: &e.req.method,
        path: &e.req.path,
        raw_query: &raw_query(&e.req.query),
        query: &e.req.query,
        headers: &headers,
        cookies: e.cookies,
        route_key: &e.route_key,
        path_parameters: &e.path_parameters,
        body: e.req.event_body(),
        source_ip: e.source_ip,
        account_id: e.account_id,
        api_id: &e.api_id,
        domain: &e.domain,
        stage: e.stage,
        request_id: &request_id(),
        time: now(),
    })
}

fn check_cookies(cookies: &[String]) -> Result<()> {
    for c in cookies {
        pair(c, "--cookie")?;
    }
    Ok(())
}

fn http_api_event(a: &HttpApiArgs) -> Result<Value> {
    check_cookies(&a.cookies)?;
    let req = parse_request(&a.request)?;
    let (route_key, path_parameters) = match &a.route {
        Some(route) => (
            format!("{} {route}", req.method),
            path_parameters(route, &req.path)?,
        ),
        None => ("$default".to_string(), BTreeMap::new()),
    };
    let origin = &a.request.origin;
    Ok(v2_event(V2 {
        domain: format!("{API_ID}.execute-api.{}.amazonaws.com", origin.region),
        api_id: API_ID.to_string(),
        account_id: &origin.account_id,
        req,
        source_ip: &a.request.source_ip,
        cookies: &a.cookies,
        route_key,
        path_parameters,
        stage: &a.stage,
    }))
}

fn function_url_event(a: &FunctionUrlArgs) -> Result<Value> {
    check_cookies(&a.cookies)?;
    let req = parse_request(&a.request)?;
    let url_id = esb_gateway::function_url::url_id(&a.function);
    Ok(v2_event(V2 {
        domain: format!("{url_id}.lambda-url.{}.on.aws", a.request.origin.region),
        api_id: url_id,
        account_id: URL_ACCOUNT,
        req,
        source_ip: &a.request.source_ip,
        cookies: &a.cookies,
        route_key: "$default".into(),
        path_parameters: BTreeMap::new(),
        stage: "$default",
    }))
}

/// S3 writes object keys URL-encoded, spaces as `+`, slashes as they are.
const S3_KEY: &AsciiSet = &FORM.remove(b'/');

fn s3_event(a: &S3Args, put: bool) -> Value {
    let key: String = a
        .key
        .split(' ')
        .map(|part| utf8_percent_encode(part, S3_KEY).to_string())
        .collect::<Vec<_>>()
        .join("+");
    let t = now();
    let object = if put {
        json!({
            "key": key,
            "size": a.size,
            "eTag": a.etag,
            "sequencer": format!("{:018X}", epoch_ms(t)),
        })
    } else {
        json!({
            "key": key,
            "sequencer": format!("{:018X}", epoch_ms(t)),
        })
    };
    json!({
        "Records": [{
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": a.origin.region,
            "eventTime": iso8601(t, true),
            "eventName": if put { "ObjectCreated:Put" } else { "ObjectRemoved:Delete" },
            "userIdentity": {"principalId": "EXAMPLE"},
            "requestParameters": {"sourceIPAddress": "127.0.0.1"},
            "responseElements": {
                "x-amz-request-id": "EXAMPLE123456789",
                "x-amz-id-2": "EXAMPLE123/5678abcdefghijklambdaisawesome/mnopqrstuvwxyzABCDEFGH",
            },
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "testConfigRule",
                "bucket": {
                    "name": a.bucket,
                    "ownerIdentity": {"principalId": "EXAMPLE"},
                    "arn": format!("arn:aws:s3:::{}", a.bucket),
                },
                "object": object,
            },
        }],
    })
}

fn sqs_event(a: &SqsArgs) -> Result<Value> {
    let body = if a.body == "-" {
        read_stdin(false)?
    } else {
        a.body.clone()
    };
    let md5 = md5::Md5::digest(body.as_bytes());
    let md5: String = md5.iter().map(|b| format!("{b:02x}")).collect();
    let sent = epoch_ms(now());
    // Receipt handles are opaque; this one has the look of SQS's.
    let random: Vec<u8> = [uuid::Uuid::new_v4(), uuid::Uuid::new_v4()]
        .iter()
        .flat_map(|u| u.into_bytes())
        .collect();
    let receipt = format!(
        "AQEB{}",
        base64::engine::general_purpose::STANDARD.encode(random)
    );
    Ok(json!({
        "Records": [{
            "messageId": request_id(),
            "receiptHandle": receipt,
            "body": body,
            "attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": sent.to_string(),
                "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                "ApproximateFirstReceiveTimestamp": (sent + 2).to_string(),
            },
            "messageAttributes": {},
            "md5OfBody": md5,
            "eventSource": "aws:sqs",
            "eventSourceARN": format!("arn:aws:sqs:{}:{}:{}", a.origin.region, a.origin.account_id, a.queue),
            "awsRegion": a.origin.region,
        }],
    }))
}

fn schedule_event(a: &ScheduleArgs) -> Value {
    json!({
        "version": "0",
        "id": request_id(),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": a.origin.account_id,
        "time": iso8601(now(), false),
        "region": a.origin.region,
        "resources": [format!(
            "arn:aws:events:{}:{}:rule/{}",
            a.origin.region, a.origin.account_id, a.rule
        )],
        "detail": {},
    })
}

#[cfg(test)]
mod tests {
    use esb_gateway::query_string::form_decode;

    use super::*;

    #[test]
    fn path_parameters_follow_the_route() {
        let p = path_parameters("/items/{id}", "/items/42").expect("match");
        assert_eq!(p, BTreeMap::from([("id".to_string(), "42".to_string())]));
        let p = path_parameters("/files/{proxy+}", "/files/a/b%20c").expect("match");
        assert_eq!(p["proxy"], "a/b c");
        assert!(path_parameters("/items/{id}", "/other/42").is_err());
        assert!(path_parameters("/items/{id}", "/items/42/more").is_err());
        assert!(path_parameters("/files/{proxy+}", "/files").is_err());
        assert!(
            path_parameters("/hello", "/hello")
                .expect("literal")
                .is_empty()
        );
    }

    #[test]
    fn query_and_keys_are_encoded_as_aws_does() {
        let q = vec![("a b".to_string(), "1+2/3".to_string())];
        assert_eq!(raw_query(&q), "a+b=1%2B2%2F3");
        assert_eq!(form_decode("a+b%2B"), "a b+");
    }
}
