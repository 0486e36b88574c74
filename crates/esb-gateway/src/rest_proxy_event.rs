//! The event a function receives from an API Gateway REST API with Lambda proxy
//! integration (payload format 1.0), built from one HTTP request.
//!
//! Functions, and the frameworks adapting them (Mangum, aws-serverless-express,
//! lambda_http, Powertools...), read this document key by key and by type, so it carries
//! exactly what a REST API sends for a method without authorizer or mutual TLS:
//! - `path` is the request path still percent-encoded, `pathParameters` and query
//!   parameters are decoded (query values form-decoded: `+` is a space);
//! - single-value maps hold the last value of a repeated header or query key, the
//!   `multiValue*` maps every value in order; header names keep the case they were
//!   received in (HTTP/1 clients' `Content-Type`, HTTP/2 clients' `content-type`);
//! - absent query, path parameters and stage variables are `null`, not `{}`;
//! - the body is text unless it is not UTF-8 or its `Content-Type` is one of the API's
//!   binary media types, in which case it is base64 with `isBase64Encoded: true`;
//! - `requestContext` has a REST API's keys; `identity` has every key AWS sends, the
//!   ones that only an authorizer, API key or Cognito fills being `null`.
//!
//! Keys that exist only with features ESB does not configure are left out as AWS leaves
//! them out: `requestContext.authorizer` (authorizers), `identity.clientCert` (mutual
//! TLS), `identity.apiKey`/`apiKeyId` (API keys), and `version`, which only HTTP APIs
//! send.

use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::header::{CONTENT_TYPE, USER_AGENT};
use http::{HeaderMap, HeaderName, Method, Uri, Version};
use serde::Serialize;
use serde::ser::SerializeMap;
use time::{Month, OffsetDateTime};
use uuid::Uuid;

use crate::percent;
use crate::route_table::RouteMatch;

/// Media type assumed for a request without `Content-Type`, as API Gateway does.
const DEFAULT_MEDIA_TYPE: &str = "application/json";

/// Everything the event is built from: the request, what it was routed to, and the
/// identity of the API and stage serving it.
#[derive(Debug, Clone)]
pub struct ProxyEventInput<'a> {
    pub method: &'a Method,
    pub uri: &'a Uri,
    pub version: Version,
    pub headers: &'a HeaderMap,
    /// Header names exactly as received, when the server kept them (HTTP/1 parsing
    /// lowercases names in `headers`). Names missing here are written in canonical
    /// case (`X-Forwarded-For`).
    pub raw_header_names: &'a [String],
    pub body: &'a [u8],
    pub source_ip: IpAddr,
    pub route: &'a RouteMatch,
    pub stage: &'a str,
    /// Stage variables; an empty list is sent as `null`.
    pub stage_variables: &'a [(String, String)],
    pub request_id: Uuid,
    pub request_time: SystemTime,
    pub api_id: &'a str,
    pub account_id: &'a str,
    /// The host name the API is served on; its first label is the `domainPrefix`.
    pub domain_name: &'a str,
    /// The API's `BinaryMediaTypes` (`image/png`, `image/*`, `*/*`; SAM's `image~1png`
    /// spelling is understood too).
    pub binary_media_types: &'a [String],
}

/// A JSON object that keeps its keys in insertion order, like the events AWS sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderedMap<V>(Vec<(String, V)>);

impl<V> Default for OrderedMap<V> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<V> OrderedMap<V> {
    pub fn get(&self, key: &str) -> Option<&V> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    fn slot(&mut self, key: &str, new: impl FnOnce() -> V) -> &mut V {
        let index = match self.0.iter().position(|(k, _)| k == key) {
            Some(i) => i,
            None => {
                self.0.push((key.to_string(), new()));
                self.0.len() - 1
            }
        };
        &mut self.0[index].1
    }
}

impl<V: Serialize> Serialize for OrderedMap<V> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// The proxy event, in the key order AWS writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProxyEvent {
    pub resource: String,
    pub path: String,
    pub http_method: String,
    pub headers: OrderedMap<String>,
    pub multi_value_headers: OrderedMap<Vec<String>>,
    pub query_string_parameters: Option<OrderedMap<String>>,
    pub multi_value_query_string_parameters: Option<OrderedMap<Vec<String>>>,
    pub path_parameters: Option<OrderedMap<String>>,
    pub stage_variables: Option<OrderedMap<String>>,
    pub request_context: RequestContext,
    pub body: Option<String>,
    pub is_base64_encoded: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestContext {
    pub resource_id: String,
    pub resource_path: String,
    pub http_method: String,
    pub extended_request_id: String,
    /// `09/Apr/2015:12:34:56 +0000`
    pub request_time: String,
    /// `/<stage><path>`
    pub path: String,
    pub account_id: String,
    pub protocol: String,
    pub stage: String,
    pub domain_prefix: String,
    pub request_time_epoch: i64,
    pub request_id: String,
    pub identity: Identity,
    pub domain_name: String,
    pub api_id: String,
}

/// The caller. Without IAM authorization, Cognito or API keys, AWS sends only
/// `sourceIp` and `userAgent` with values and every other key as `null`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    pub cognito_identity_pool_id: Option<String>,
    pub account_id: Option<String>,
    pub cognito_identity_id: Option<String>,
    pub caller: Option<String>,
    pub source_ip: String,
    pub principal_org_id: Option<String>,
    pub access_key: Option<String>,
    pub cognito_authentication_type: Option<String>,
    pub cognito_authentication_provider: Option<String>,
    pub user_arn: Option<String>,
    pub user_agent: Option<String>,
    pub user: Option<String>,
}

impl ProxyEvent {
    pub fn new(input: &ProxyEventInput<'_>) -> Self {
        let (headers, multi_value_headers) = headers(input.headers, input.raw_header_names);
        let (query, multi_query) = query(input.uri.query());
        let path = match input.uri.path() {
            "" => "/",
            p => p,
        };
        let method = input.method.as_str().to_string();
        let (epoch_ms, request_time) = request_time(input.request_time);
        let content_type = input
            .headers
            .get(CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let (body, is_base64_encoded) = body(
            input.body,
            content_type.as_deref(),
            input.binary_media_types,
        );
        let user_agent = input
            .headers
            .get_all(USER_AGENT)
            .iter()
            .next_back()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let path_parameters = non_empty(&input.route.path_parameters);
        let stage_variables = non_empty(input.stage_variables);
        Self {
            resource: input.route.resource.clone(),
            path: path.to_string(),
            http_method: method.clone(),
            headers,
            multi_value_headers,
            query_string_parameters: query,
            multi_value_query_string_parameters: multi_query,
            path_parameters,
            stage_variables,
            request_context: RequestContext {
                resource_id: input.route.resource_id.clone(),
                resource_path: input.route.resource.clone(),
                http_method: method,
                extended_request_id: extended_request_id(input.request_id),
                request_time,
                path: format!("/{}{path}", input.stage),
                account_id: input.account_id.to_string(),
                protocol: protocol(input.version),
                stage: input.stage.to_string(),
                domain_prefix: input
                    .domain_name
                    .split('.')
                    .next()
                    .unwrap_or_default()
                    .to_string(),
                request_time_epoch: epoch_ms,
                request_id: input.request_id.to_string(),
                identity: Identity {
                    cognito_identity_pool_id: None,
                    account_id: None,
                    cognito_identity_id: None,
                    caller: None,
                    source_ip: input.source_ip.to_canonical().to_string(),
                    principal_org_id: None,
                    access_key: None,
                    cognito_authentication_type: None,
                    cognito_authentication_provider: None,
                    user_arn: None,
                    user_agent,
                    user: None,
                },
                domain_name: input.domain_name.to_string(),
                api_id: input.api_id.to_string(),
            },
            body,
            is_base64_encoded,
        }
    }

    /// The event as the JSON payload of the invocation.
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }
}

/// Whether a request or response with this `Content-Type` is binary for an API with
/// these binary media types. Parameters (`; charset=...`) and case are ignored;
/// `type/*` and `*/*` are wildcards, as in API Gateway.
pub fn is_binary_media_type(content_type: &str, binary_media_types: &[String]) -> bool {
    let media_type = essence(content_type);
    binary_media_types.iter().any(|pattern| {
        let pattern = essence(&pattern.replace("~1", "/"));
        match pattern.split_once('/') {
            Some(("*", "*")) => true,
            Some((kind, "*")) => media_type.split_once('/').is_some_and(|(k, _)| k == kind),
            _ => !pattern.is_empty() && pattern == media_type,
        }
    })
}

/// `Text/HTML; charset=utf-8` -> `text/html`
fn essence(media_type: &str) -> String {
    media_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

fn non_empty(pairs: &[(String, String)]) -> Option<OrderedMap<String>> {
    (!pairs.is_empty()).then(|| {
        let mut map = OrderedMap::default();
        for (k, v) in pairs {
            *map.slot(k, String::new) = v.clone();
        }
        map
    })
}

fn headers(
    headers: &HeaderMap,
    raw_names: &[String],
) -> (OrderedMap<String>, OrderedMap<Vec<String>>) {
    let mut single = OrderedMap::default();
    let mut multi = OrderedMap::default();
    for name in headers.keys() {
        let shown = received_name(name, raw_names);
        let values: Vec<String> = headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        if let Some(last) = values.last() {
            *single.slot(&shown, String::new) = last.clone();
        }
        multi.slot(&shown, Vec::new).extend(values);
    }
    (single, multi)
}

/// The name as the client wrote it if known, else in canonical case.
fn received_name(name: &HeaderName, raw_names: &[String]) -> String {
    raw_names
        .iter()
        .find(|raw| raw.eq_ignore_ascii_case(name.as_str()))
        .cloned()
        .unwrap_or_else(|| canonical_header_name(name.as_str()))
}

/// `x-forwarded-for` -> `X-Forwarded-For` (first letter and each letter after `-`
/// upper case, the rest lower case), the case HTTP/1 clients conventionally send.
pub fn canonical_header_name(name: &str) -> String {
    let mut upper = true;
    name.chars()
        .map(|c| {
            let out = if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            upper = c == '-';
            out
        })
        .collect()
}

type QueryMaps = (Option<OrderedMap<String>>, Option<OrderedMap<Vec<String>>>);

fn query(raw: Option<&str>) -> QueryMaps {
    let pairs = percent::parse_query(raw.unwrap_or_default());
    if pairs.is_empty() {
        return (None, None);
    }
    let mut single = OrderedMap::default();
    let mut multi = OrderedMap::default();
    for (key, value) in pairs {
        *single.slot(&key, String::new) = value.clone();
        multi.slot(&key, Vec::new).push(value);
    }
    (Some(single), Some(multi))
}

fn body(
    body: &[u8],
    content_type: Option<&str>,
    binary_media_types: &[String],
) -> (Option<String>, bool) {
    if body.is_empty() {
        return (None, false);
    }
    let media_type = content_type.unwrap_or(DEFAULT_MEDIA_TYPE);
    if !is_binary_media_type(media_type, binary_media_types)
        && let Ok(text) = std::str::from_utf8(body)
    {
        return (Some(text.to_string()), false);
    }
    (Some(STANDARD.encode(body)), true)
}

fn protocol(version: Version) -> String {
    match version {
        Version::HTTP_09 => "HTTP/0.9".into(),
        Version::HTTP_10 => "HTTP/1.0".into(),
        Version::HTTP_11 => "HTTP/1.1".into(),
        Version::HTTP_2 => "HTTP/2.0".into(),
        Version::HTTP_3 => "HTTP/3.0".into(),
        other => format!("{other:?}"),
    }
}

/// API Gateway's extended request id looks like `JJbxmHc3IAMFvFw=`: 11 bytes in base64.
/// Derived from the request id so that both name the same request.
fn extended_request_id(request_id: Uuid) -> String {
    let bytes = request_id.as_bytes();
    STANDARD.encode(&bytes[..11])
}

/// The epoch milliseconds and `09/Apr/2015:12:34:56 +0000` rendering of `at` (UTC).
/// Times outside what the formats can hold are clamped to the epoch.
fn request_time(at: SystemTime) -> (i64, String) {
    let millis = at
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_millis()).ok())
        .unwrap_or(0);
    let (millis, t) =
        match OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000) {
            Ok(t) if t.year() <= 9999 => (millis, t),
            _ => (0, OffsetDateTime::UNIX_EPOCH),
        };
    let month = match t.month() {
        Month::January => "Jan",
        Month::February => "Feb",
        Month::March => "Mar",
        Month::April => "Apr",
        Month::May => "May",
        Month::June => "Jun",
        Month::July => "Jul",
        Month::August => "Aug",
        Month::September => "Sep",
        Month::October => "Oct",
        Month::November => "Nov",
        Month::December => "Dec",
    };
    let text = format!(
        "{:02}/{month}/{:04}:{:02}:{:02}:{:02} +0000",
        t.day(),
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    );
    (millis, text)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::{Value, json};

    use super::*;

    struct Request {
        method: Method,
        uri: Uri,
        version: Version,
        headers: HeaderMap,
        raw_names: Vec<String>,
        body: Vec<u8>,
        route: RouteMatch,
        binary: Vec<String>,
        stage_variables: Vec<(String, String)>,
        source_ip: IpAddr,
    }

    fn request(method: Method, uri: &str) -> Request {
        Request {
            method,
            uri: uri.parse().expect("test uri"),
            version: Version::HTTP_11,
            headers: HeaderMap::new(),
            raw_names: Vec::new(),
            body: Vec::new(),
            route: RouteMatch {
                function: "fn".into(),
                resource: "/items/{id}".into(),
                resource_id: "abc123".into(),
                path_parameters: vec![("id".into(), "42".into())],
            },
            binary: Vec::new(),
            stage_variables: Vec::new(),
            source_ip: "203.0.113.7".parse().expect("ip"),
        }
    }

    impl Request {
        fn header(mut self, raw_name: &str, value: &str) -> Self {
            let name = HeaderName::from_bytes(raw_name.as_bytes()).expect("name");
            self.headers
                .append(name, value.parse().expect("header value"));
            self.raw_names.push(raw_name.to_string());
            self
        }

        fn input(&self) -> ProxyEventInput<'_> {
            ProxyEventInput {
                method: &self.method,
                uri: &self.uri,
                version: self.version,
                headers: &self.headers,
                raw_header_names: &self.raw_names,
                body: &self.body,
                source_ip: self.source_ip,
                route: &self.route,
                stage: "Prod",
                stage_variables: &self.stage_variables,
                request_id: Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
                request_time: UNIX_EPOCH + Duration::from_millis(1_428_582_896_123),
                api_id: "esbapi0001",
                account_id: "123456789012",
                domain_name: "esbapi0001.execute-api.localhost",
                binary_media_types: &self.binary,
            }
        }

        fn event(&self) -> Value {
            let bytes = ProxyEvent::new(&self.input())
                .to_json()
                .expect("serialisable");
            serde_json::from_slice(&bytes).expect("valid JSON")
        }
    }

    #[test]
    fn top_level_values_follow_the_request() {
        let e = request(Method::POST, "/items/42?x=1").event();
        assert_eq!(e["resource"], "/items/{id}");
        assert_eq!(e["path"], "/items/42");
        assert_eq!(e["httpMethod"], "POST");
        assert_eq!(e["pathParameters"], json!({"id": "42"}));
        assert_eq!(e["stageVariables"], Value::Null);
        assert_eq!(e["body"], Value::Null);
        assert_eq!(e["isBase64Encoded"], false);
    }

    #[test]
    fn keys_are_written_in_aws_order() {
        let r = request(Method::GET, "/items/42");
        let json = ProxyEvent::new(&r.input()).to_json().expect("json");
        let text = String::from_utf8(json).expect("utf-8");
        let keys = [
            "resource",
            "path",
            "httpMethod",
            "headers",
            "multiValueHeaders",
            "queryStringParameters",
            "multiValueQueryStringParameters",
            "pathParameters",
            "stageVariables",
            "requestContext",
            "body",
            "isBase64Encoded",
        ];
        let positions: Vec<usize> = keys
            .iter()
            .map(|k| {
                text.find(&format!("\"{k}\":"))
                    .unwrap_or_else(|| panic!("{k} missing from {text}"))
            })
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
    }

    #[test]
    fn path_stays_encoded_while_parameters_are_decoded() {
        let mut r = request(Method::GET, "/items/a%20b%2Fc");
        r.route.path_parameters = vec![("id".into(), "a b/c".into())];
        let e = r.event();
        assert_eq!(e["path"], "/items/a%20b%2Fc");
        assert_eq!(e["requestContext"]["path"], "/Prod/items/a%20b%2Fc");
        assert_eq!(e["pathParameters"]["id"], "a b/c");
    }

    #[test]
    fn no_path_parameters_is_null() {
        let mut r = request(Method::GET, "/");
        r.route.path_parameters.clear();
        r.route.resource = "/".into();
        let e = r.event();
        assert_eq!(e["pathParameters"], Value::Null);
        assert_eq!(e["requestContext"]["path"], "/Prod/");
        assert_eq!(e["requestContext"]["resourcePath"], "/");
    }

    #[test]
    fn query_parameters_last_value_wins_and_are_form_decoded() {
        let e = request(
            Method::GET,
            "/items/42?sort=-+createdAt&tag=a&tag=b%2Bc&flag&empty=&caf%C3%A9=%E2%9C%93",
        )
        .event();
        assert_eq!(
            e["queryStringParameters"],
            json!({"sort": "- createdAt", "tag": "b+c", "flag": "", "empty": "", "café": "✓"})
        );
        assert_eq!(
            e["multiValueQueryStringParameters"],
            json!({"sort": ["- createdAt"], "tag": ["a", "b+c"], "flag": [""], "empty": [""], "café": ["✓"]})
        );
    }

    #[test]
    fn no_query_or_an_empty_one_is_null() {
        for uri in ["/items/42", "/items/42?", "/items/42?&&"] {
            let e = request(Method::GET, uri).event();
            assert_eq!(e["queryStringParameters"], Value::Null, "{uri}");
            assert_eq!(e["multiValueQueryStringParameters"], Value::Null, "{uri}");
        }
    }

    #[test]
    fn headers_keep_received_case_and_last_value() {
        let e = request(Method::GET, "/items/42")
            .header("Header1", "value1")
            .header("Header2", "value1")
            .header("Header2", "value2")
            .header("content-type", "text/plain")
            .event();
        assert_eq!(
            e["headers"],
            json!({"Header1": "value1", "Header2": "value2", "content-type": "text/plain"})
        );
        assert_eq!(
            e["multiValueHeaders"],
            json!({"Header1": ["value1"], "Header2": ["value1", "value2"], "content-type": ["text/plain"]})
        );
    }

    #[test]
    fn headers_without_received_names_are_canonical() {
        let mut r = request(Method::GET, "/items/42")
            .header("x-forwarded-for", "1.2.3.4")
            .header("user-agent", "curl/8");
        r.raw_names.clear();
        let e = r.event();
        assert_eq!(e["headers"]["X-Forwarded-For"], "1.2.3.4");
        assert_eq!(e["multiValueHeaders"]["User-Agent"], json!(["curl/8"]));
        assert_eq!(canonical_header_name("x-amz-cf-id"), "X-Amz-Cf-Id");
        assert_eq!(canonical_header_name("ETAG"), "Etag");
        assert_eq!(canonical_header_name(""), "");
    }

    #[test]
    fn no_headers_is_an_empty_object() {
        let e = request(Method::GET, "/items/42").event();
        assert_eq!(e["headers"], json!({}));
        assert_eq!(e["multiValueHeaders"], json!({}));
        assert_eq!(e["requestContext"]["identity"]["userAgent"], Value::Null);
    }

    #[test]
    fn non_utf8_header_values_do_not_fail() {
        let mut r = request(Method::GET, "/items/42");
        r.headers.insert(
            HeaderName::from_static("x-bin"),
            http::HeaderValue::from_bytes(b"caf\xe9").expect("obs-text is allowed"),
        );
        let e = r.event();
        assert_eq!(e["headers"]["X-Bin"], "caf\u{FFFD}");
    }

    #[test]
    fn text_bodies_are_passed_as_text() {
        let mut r = request(Method::POST, "/items/42").header("Content-Type", "application/json");
        r.body = br#"{"k": "v"}"#.to_vec();
        let e = r.event();
        assert_eq!(e["body"], r#"{"k": "v"}"#);
        assert_eq!(e["isBase64Encoded"], false);
    }

    #[test]
    fn invalid_utf8_bodies_are_base64() {
        let mut r = request(Method::POST, "/items/42");
        r.body = vec![0xff, 0x00, 0x01];
        let e = r.event();
        assert_eq!(e["body"], "/wAB");
        assert_eq!(e["isBase64Encoded"], true);
    }

    #[test]
    fn binary_media_types_make_even_text_bodies_base64() {
        let mut r = request(Method::POST, "/items/42").header("Content-Type", "image/png");
        r.body = b"not really a png".to_vec();
        r.binary = vec!["image/png".into()];
        let e = r.event();
        assert_eq!(e["body"], STANDARD.encode(b"not really a png"));
        assert_eq!(e["isBase64Encoded"], true);

        r.binary = vec!["image/jpeg".into()];
        assert_eq!(r.event()["isBase64Encoded"], false);
    }

    #[test]
    fn missing_content_type_is_treated_as_json() {
        let mut r = request(Method::POST, "/items/42");
        r.body = b"{}".to_vec();
        r.binary = vec!["application/json".into()];
        assert_eq!(r.event()["isBase64Encoded"], true);
        r.binary = vec!["text/plain".into()];
        assert_eq!(r.event()["isBase64Encoded"], false);
    }

    #[test]
    fn binary_media_type_matching() {
        let types = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(is_binary_media_type("image/png", &types(&["image/png"])));
        assert!(is_binary_media_type(
            "Image/PNG; charset=binary",
            &types(&["image/png"])
        ));
        assert!(is_binary_media_type("image/gif", &types(&["image/*"])));
        assert!(!is_binary_media_type("text/gif", &types(&["image/*"])));
        assert!(is_binary_media_type("anything/at-all", &types(&["*/*"])));
        assert!(is_binary_media_type("image/png", &types(&["image~1png"])));
        assert!(!is_binary_media_type("image/png", &types(&[])));
        assert!(!is_binary_media_type("", &types(&[""])));
        assert!(!is_binary_media_type("garbage", &types(&["image/*"])));
    }

    #[test]
    fn request_context_values() {
        let r = request(Method::DELETE, "/items/42").header("User-Agent", "test-agent/1.0");
        let e = r.event();
        let c = &e["requestContext"];
        assert_eq!(c["resourceId"], "abc123");
        assert_eq!(c["resourcePath"], "/items/{id}");
        assert_eq!(c["httpMethod"], "DELETE");
        assert_eq!(c["path"], "/Prod/items/42");
        assert_eq!(c["stage"], "Prod");
        assert_eq!(c["protocol"], "HTTP/1.1");
        assert_eq!(c["accountId"], "123456789012");
        assert_eq!(c["apiId"], "esbapi0001");
        assert_eq!(c["domainName"], "esbapi0001.execute-api.localhost");
        assert_eq!(c["domainPrefix"], "esbapi0001");
        assert_eq!(c["requestId"], "01234567-89ab-cdef-0123-456789abcdef");
        assert_eq!(c["extendedRequestId"], "ASNFZ4mrze8BI0U=");
        assert_eq!(c["requestTime"], "09/Apr/2015:12:34:56 +0000");
        assert_eq!(c["requestTimeEpoch"], 1_428_582_896_123_i64);
        let id = &c["identity"];
        assert_eq!(id["sourceIp"], "203.0.113.7");
        assert_eq!(id["userAgent"], "test-agent/1.0");
        for key in [
            "cognitoIdentityPoolId",
            "accountId",
            "cognitoIdentityId",
            "caller",
            "principalOrgId",
            "accessKey",
            "cognitoAuthenticationType",
            "cognitoAuthenticationProvider",
            "userArn",
            "user",
        ] {
            assert_eq!(id[key], Value::Null, "{key}");
        }
    }

    #[test]
    fn ipv4_mapped_addresses_are_shown_as_ipv4() {
        let mut r = request(Method::GET, "/items/42");
        r.source_ip = "::ffff:198.51.100.4".parse().expect("ip");
        assert_eq!(
            r.event()["requestContext"]["identity"]["sourceIp"],
            "198.51.100.4"
        );
        r.source_ip = "2001:db8::1".parse().expect("ip");
        assert_eq!(
            r.event()["requestContext"]["identity"]["sourceIp"],
            "2001:db8::1"
        );
    }

    #[test]
    fn protocol_follows_the_http_version() {
        let mut r = request(Method::GET, "/items/42");
        r.version = Version::HTTP_2;
        assert_eq!(r.event()["requestContext"]["protocol"], "HTTP/2.0");
        r.version = Version::HTTP_10;
        assert_eq!(r.event()["requestContext"]["protocol"], "HTTP/1.0");
    }

    #[test]
    fn stage_variables_when_configured() {
        let mut r = request(Method::GET, "/items/42");
        r.stage_variables = vec![("baz".into(), "qux".into())];
        assert_eq!(r.event()["stageVariables"], json!({"baz": "qux"}));
    }

    #[test]
    fn domain_without_dots_is_its_own_prefix() {
        let r = request(Method::GET, "/items/42");
        let mut input = r.input();
        input.domain_name = "localhost";
        input.request_time = UNIX_EPOCH;
        let e = ProxyEvent::new(&input);
        assert_eq!(e.request_context.domain_prefix, "localhost");
        assert_eq!(e.request_context.request_time, "01/Jan/1970:00:00:00 +0000");
        assert_eq!(e.request_context.request_time_epoch, 0);
    }

    #[test]
    fn request_times_out_of_range_do_not_panic() {
        let before_epoch = UNIX_EPOCH - Duration::from_secs(10);
        assert_eq!(request_time(before_epoch).0, 0);
        let far = UNIX_EPOCH + Duration::from_secs(400_000_000_000);
        assert_eq!(request_time(far), (0, "01/Jan/1970:00:00:00 +0000".into()));
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(request_time(leap).1, "29/Feb/2000:00:00:00 +0000");
    }

    #[test]
    fn ordered_map_accessors() {
        let (single, multi) = query(Some("b=1&a=2&b=3"));
        let single = single.expect("query");
        assert_eq!(single.len(), 2);
        assert!(!single.is_empty());
        assert_eq!(single.get("b").map(String::as_str), Some("3"));
        assert_eq!(single.get("zz"), None);
        assert_eq!(
            single.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            vec!["b", "a"]
        );
        assert_eq!(
            multi.expect("query").get("b"),
            Some(&vec!["1".to_string(), "3".to_string()])
        );
    }
}
