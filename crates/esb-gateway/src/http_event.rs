//! The HTTP API event, payload format 2.0, with the keys, nesting and types AWS sends
//! (checked against AWS's sample events in the tests): lower-case header names with
//! repeated values joined by commas, cookies in their own list, query values joined by
//! commas, absent keys (not nulls) for what the request does not have. One builder,
//! [`from_parts`], serves the gateway (HTTP API routes and function URLs: [`build`])
//! and `esb generate-event http-api` / `function-url`, so they cannot drift.

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::{Value, json};

use crate::proxy_event::{EventBody, epoch_ms, request_time};
use crate::proxy_request::ProxyRequest;
use crate::query_string;
use crate::routes::EventFormat;

/// What a payload 2.0 event is made of, already in the event's terms.
pub struct EventParts<'a> {
    pub method: &'a str,
    /// `rawPath`, and the path in `requestContext.http`.
    pub path: &'a str,
    /// `rawQueryString`.
    pub raw_query: &'a str,
    /// Decoded query parameters, in order; values of a repeated name are joined by
    /// commas.
    pub query: &'a [(String, String)],
    /// Header names (lower-cased here) and values, in order; values of a repeated name
    /// are joined by commas. Cookies are not among them.
    pub headers: &'a [(String, String)],
    /// `cookies`, absent from the event when there are none.
    pub cookies: &'a [String],
    /// `routeKey`: `GET /items/{id}` or `$default`.
    pub route_key: &'a str,
    pub path_parameters: &'a BTreeMap<String, String>,
    /// `None`: no body (the key is absent).
    pub body: Option<EventBody>,
    pub source_ip: &'a str,
    pub account_id: &'a str,
    pub api_id: &'a str,
    /// `requestContext.domainName`: an API's `execute-api` host or a function URL's.
    pub domain: &'a str,
    pub stage: &'a str,
    pub request_id: &'a str,
    pub time: time::OffsetDateTime,
}

/// The event of a request an HTTP API route or a function URL received.
pub fn build(req: &ProxyRequest<'_>) -> Value {
    let mut headers = Vec::new();
    let mut cookies = Vec::new();
    for (name, value) in req.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if name == http::header::COOKIE {
            cookies.extend(
                value
                    .split(';')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_string),
            );
        } else {
            headers.push((name.as_str().to_string(), value));
        }
    }
    let raw_query = req.uri.query().unwrap_or("");
    let query = query_string::pairs(raw_query);
    // As the event's `content-type` header reads: repeated values joined by commas.
    let content_type: Vec<&str> = headers
        .iter()
        .filter(|(name, _)| name == "content-type")
        .map(|(_, value)| value.as_str())
        .collect();
    let content_type = (!content_type.is_empty()).then(|| content_type.join(","));
    let body = match std::str::from_utf8(req.body) {
        _ if req.body.is_empty() => None,
        Ok(text) if is_text(content_type.as_deref()) => Some(EventBody::Text(text.to_string())),
        _ => Some(EventBody::Base64(
            base64::engine::general_purpose::STANDARD.encode(req.body),
        )),
    };
    let domain = if req.route.format == EventFormat::FunctionUrl {
        format!("{}.lambda-url.{}.on.aws", req.api_id, req.region)
    } else {
        format!("{}.execute-api.{}.amazonaws.com", req.api_id, req.region)
    };
    let source_ip = req.source_ip.to_string();
    from_parts(&EventParts {
        method: req.method.as_str(),
        path: req.uri.path(),
        raw_query,
        query: &query,
        headers: &headers,
        cookies: &cookies,
        route_key: &req.route.route_key,
        path_parameters: &req.route.path_parameters,
        body,
        source_ip: &source_ip,
        account_id: req.account_id,
        api_id: req.api_id,
        domain: &domain,
        stage: req.stage,
        request_id: req.request_id,
        time: time::OffsetDateTime::now_utc(),
    })
}

/// The payload 2.0 event made of `e`; keys the request does not have are absent, not
/// null, as AWS sends them.
pub fn from_parts(e: &EventParts<'_>) -> Value {
    let headers = joined(e.headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v)));
    let query = joined(e.query.iter().map(|(k, v)| (k.clone(), v)));
    let user_agent = headers.get("user-agent").cloned().unwrap_or_default();
    let mut event = json!({
        "version": "2.0",
        "routeKey": e.route_key,
        "rawPath": e.path,
        "rawQueryString": e.raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": e.account_id,
            "apiId": e.api_id,
            "domainName": e.domain,
            "domainPrefix": e.api_id,
            "http": {
                "method": e.method,
                "path": e.path,
                "protocol": "HTTP/1.1",
                "sourceIp": e.source_ip,
                "userAgent": user_agent,
            },
            "requestId": e.request_id,
            "routeKey": e.route_key,
            "stage": e.stage,
            "time": request_time(e.time),
            "timeEpoch": epoch_ms(e.time),
        },
        "isBase64Encoded": false,
    });
    let Some(obj) = event.as_object_mut() else {
        return event;
    };
    if !e.cookies.is_empty() {
        obj.insert("cookies".into(), json!(e.cookies));
    }
    if !query.is_empty() {
        obj.insert("queryStringParameters".into(), json!(query));
    }
    if !e.path_parameters.is_empty() {
        obj.insert("pathParameters".into(), json!(e.path_parameters));
    }
    if let Some((text, base64)) = e.body.as_ref().map(EventBody::parts) {
        obj.insert("body".into(), Value::String(text.to_string()));
        obj.insert("isBase64Encoded".into(), Value::Bool(base64));
    }
    event
}

/// Name/value pairs as payload 2.0 maps them: values of a repeated name joined by
/// commas.
fn joined<'v>(pairs: impl Iterator<Item = (String, &'v String)>) -> BTreeMap<String, String> {
    let mut map: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in pairs {
        map.entry(name)
            .and_modify(|v| {
                v.push(',');
                v.push_str(value);
            })
            .or_insert_with(|| value.clone());
    }
    map
}

/// Whether HTTP APIs pass a body of this type as text (others arrive base64-encoded).
fn is_text(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else {
        return true;
    };
    let ct = ct.to_ascii_lowercase();
    ct.starts_with("text/")
        || ["json", "xml", "javascript", "x-www-form-urlencoded", "yaml"]
            .iter()
            .any(|t| ct.contains(t))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use http::{HeaderMap, Method, Uri};
    use serde_json::json;

    use super::*;
    use crate::event_shape::{fixture, same_shape};
    use crate::routes::{EventFormat, RouteMatch};

    fn event(uri: &str, body: &[u8], content_type: Option<&str>) -> Value {
        event_as(uri, body, content_type, EventFormat::HttpV2)
    }

    fn event_as(uri: &str, body: &[u8], content_type: Option<&str>, format: EventFormat) -> Value {
        let uri: Uri = uri.parse().expect("uri");
        let mut headers = HeaderMap::new();
        headers.insert("user-agent", "test-agent".parse().expect("value"));
        headers.append("x-multi", "a".parse().expect("value"));
        headers.append("x-multi", "b".parse().expect("value"));
        headers.insert("cookie", "c1=v1; c2=v2".parse().expect("value"));
        if let Some(ct) = content_type {
            headers.insert("content-type", ct.parse().expect("value"));
        }
        let route = match format {
            EventFormat::FunctionUrl => RouteMatch {
                function: "f".into(),
                resource: "$default".into(),
                path_parameters: BTreeMap::new(),
                format,
                route_key: "$default".into(),
                api: crate::routes::ApiSettings::implicit(EventFormat::HttpV2),
                access: Default::default(),
            },
            _ => RouteMatch {
                function: "f".into(),
                resource: "/items/{id}".into(),
                path_parameters: BTreeMap::from([("id".to_string(), "42".to_string())]),
                format,
                route_key: "POST /items/{id}".into(),
                api: crate::routes::ApiSettings::implicit(EventFormat::HttpV2),
                access: Default::default(),
            },
        };
        build(&ProxyRequest {
            method: &Method::POST,
            uri: &uri,
            headers: &headers,
            body,
            source_ip: "10.1.2.3".parse().expect("ip"),
            route: &route,
            stage: "$default",
            request_id: "req-1",
            api_id: "esbapi",
            account_id: "123456789012",
            region: "us-east-1",
        })
    }

    /// Maps whose keys are request data, not shape.
    const DATA: [&str; 4] = [
        "$.headers",
        "$.queryStringParameters",
        "$.pathParameters",
        "$.stageVariables",
    ];

    #[test]
    fn matches_aws_sample_events_key_by_key() {
        let ours = event(
            "/items/42?a=1&a=2&b=x%20y",
            b"{\"k\":1}",
            Some("application/json"),
        );
        // Configuration ESB does not emulate yet: authorizers, mTLS, stage variables.
        let ignore = ["authorizer", "authentication", "stageVariables"];
        let samples: Vec<Value> = [
            "powertools/apiGatewayProxyV2Event.json",
            "powertools/apiGatewayProxyV2Event_GET.json",
            "powertools/apiGatewayProxyV2OtherGetEvent.json",
            "powertools/apiGatewayProxyV2EventPathTrailingSlash.json",
        ]
        .iter()
        .map(|f| fixture(f))
        .collect();
        for sample in &samples {
            same_shape(&ours, &[sample], "$", &ignore, &DATA, false);
        }
        same_shape(
            &ours,
            &samples.iter().collect::<Vec<_>>(),
            "$",
            &ignore,
            &DATA,
            true,
        );
    }

    #[test]
    fn values_follow_payload_format_2() {
        let e = event(
            "/items/42?a=1&a=2&b=x%20y",
            b"{\"k\":1}",
            Some("application/json"),
        );
        assert_eq!(e["version"], "2.0");
        assert_eq!(e["routeKey"], "POST /items/{id}");
        assert_eq!(e["rawPath"], "/items/42");
        assert_eq!(e["rawQueryString"], "a=1&a=2&b=x%20y");
        assert_eq!(e["queryStringParameters"], json!({"a": "1,2", "b": "x y"}));
        assert_eq!(
            e["headers"]["x-multi"], "a,b",
            "repeated headers joined by commas"
        );
        assert_eq!(e["cookies"], json!(["c1=v1", "c2=v2"]));
        assert!(
            e["headers"].get("cookie").is_none(),
            "cookies move out of headers"
        );
        assert_eq!(e["pathParameters"], json!({"id": "42"}));
        assert_eq!(e["requestContext"]["http"]["method"], "POST");
        assert_eq!(e["requestContext"]["http"]["sourceIp"], "10.1.2.3");
        assert_eq!(e["requestContext"]["stage"], "$default");
        assert_eq!(
            (e["body"].clone(), e["isBase64Encoded"].clone()),
            (json!("{\"k\":1}"), json!(false))
        );
        let bare = event("/", b"", None);
        for absent in ["body", "queryStringParameters"] {
            assert!(bare.get(absent).is_none(), "{absent} is absent, not null");
        }
        assert_eq!(bare["rawQueryString"], "");
        let binary = event("/", &[0xff, 0x00, 0x01], Some("application/octet-stream"));
        assert_eq!(
            (binary["body"].clone(), binary["isBase64Encoded"].clone()),
            (json!("/wAB"), json!(true))
        );
    }

    #[test]
    fn function_url_events_match_aws_samples_key_by_key() {
        let ours = event_as(
            "/a/b?x=1",
            b"{}",
            Some("application/json"),
            EventFormat::FunctionUrl,
        );
        let ignore = [
            "authorizer",
            "authentication",
            "stageVariables",
            "pathParameters",
        ];
        let samples: Vec<Value> = [
            "powertools/lambdaFunctionUrlEvent.json",
            "powertools/lambdaFunctionUrlEventWithHeaders.json",
            "powertools/lambdaFunctionUrlIAMEvent.json",
            "powertools/lambdaFunctionUrlEventPathTrailingSlash.json",
        ]
        .iter()
        .map(|f| fixture(f))
        .collect();
        same_shape(
            &ours,
            &samples.iter().collect::<Vec<_>>(),
            "$",
            &ignore,
            &DATA,
            true,
        );
        assert_eq!(ours["routeKey"], "$default");
        assert_eq!(ours["rawPath"], "/a/b");
        assert_eq!(
            ours["requestContext"]["domainName"],
            "esbapi.lambda-url.us-east-1.on.aws"
        );
    }
}
