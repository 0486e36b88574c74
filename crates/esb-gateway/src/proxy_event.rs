//! The API Gateway REST (payload 1.0) proxy event, with the keys, nesting and types AWS
//! sends (checked against AWS's sample events in the tests). One builder,
//! [`from_parts`], serves the gateway (a request it received: [`build`]) and
//! `esb generate-event apigateway aws-proxy` (its flags), so the two cannot drift.

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::{Map, Value, json};

use crate::proxy_request::ProxyRequest;
use crate::query_string;

/// What a payload 1.0 event is made of, already in the event's terms.
pub struct EventParts<'a> {
    pub method: &'a str,
    /// The route's resource (`/items/{id}`).
    pub resource: &'a str,
    /// The path as received: REST APIs pass it still percent-encoded.
    pub path: &'a str,
    /// Decoded; `null` in the event when there are none.
    pub path_parameters: &'a BTreeMap<String, String>,
    /// Names as the event spells them, in order: the last value of a name is in
    /// `headers`, all of them in `multiValueHeaders`.
    pub headers: &'a [(String, String)],
    /// Decoded query parameters, in order (last value wins, as for headers); `None`:
    /// no query string, `null` in the event.
    pub query: Option<&'a [(String, String)]>,
    pub user_agent: Option<&'a str>,
    /// `None`: no body, `null` in the event.
    pub body: Option<EventBody>,
    pub source_ip: &'a str,
    pub stage: &'a str,
    pub request_id: &'a str,
    pub api_id: &'a str,
    pub account_id: &'a str,
    pub region: &'a str,
    pub time: time::OffsetDateTime,
}

/// A request body as an event carries it (`isBase64Encoded` says which).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventBody {
    Text(String),
    Base64(String),
}

impl EventBody {
    /// The body's text and whether it is base64.
    pub fn parts(&self) -> (&str, bool) {
        match self {
            EventBody::Text(text) => (text, false),
            EventBody::Base64(encoded) => (encoded, true),
        }
    }
}

/// The event of a request an API route received.
pub fn build(req: &ProxyRequest<'_>) -> Value {
    let headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (canonical(name.as_str()), value)
        })
        .collect();
    let query = req
        .uri
        .query()
        .filter(|q| !q.is_empty())
        .map(query_string::pairs);
    let content_type = req
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let body = match std::str::from_utf8(req.body) {
        _ if req.body.is_empty() => None,
        Ok(text) if !req.route.api.is_binary(content_type) => {
            Some(EventBody::Text(text.to_string()))
        }
        _ => Some(EventBody::Base64(
            base64::engine::general_purpose::STANDARD.encode(req.body),
        )),
    };
    let source_ip = req.source_ip.to_string();
    from_parts(&EventParts {
        method: req.method.as_str(),
        resource: &req.route.resource,
        path: req.uri.path(),
        path_parameters: &req.route.path_parameters,
        headers: &headers,
        query: query.as_deref(),
        user_agent: req
            .headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok()),
        body,
        source_ip: &source_ip,
        stage: req.stage,
        request_id: req.request_id,
        api_id: req.api_id,
        account_id: req.account_id,
        region: req.region,
        time: time::OffsetDateTime::now_utc(),
    })
}

/// The payload 1.0 event made of `e`.
pub fn from_parts(e: &EventParts<'_>) -> Value {
    let (headers, multi_headers) = single_and_multi(e.headers);
    let (query, multi_query) = e.query.map_or((Value::Null, Value::Null), single_and_multi);
    let (body, is_base64) = match e.body.as_ref().map(EventBody::parts) {
        Some((text, base64)) => (Value::String(text.to_string()), base64),
        None => (Value::Null, false),
    };
    let path_parameters = if e.path_parameters.is_empty() {
        Value::Null
    } else {
        json!(e.path_parameters)
    };
    let t = e.time;
    let domain = format!("{}.execute-api.{}.amazonaws.com", e.api_id, e.region);
    json!({
        "resource": e.resource,
        "path": e.path,
        "httpMethod": e.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": path_parameters,
        "stageVariables": Value::Null,
        "requestContext": {
            "accountId": e.account_id,
            "apiId": e.api_id,
            "resourceId": e.api_id,
            "resourcePath": e.resource,
            "httpMethod": e.method,
            "path": format!("/{}{}", e.stage, e.path),
            "stage": e.stage,
            "protocol": "HTTP/1.1",
            "requestId": e.request_id,
            "extendedRequestId": e.request_id,
            "requestTime": request_time(t),
            "requestTimeEpoch": epoch_ms(t),
            "domainName": domain,
            "domainPrefix": e.api_id,
            "identity": {
                "cognitoIdentityPoolId": null,
                "accountId": null,
                "cognitoIdentityId": null,
                "caller": null,
                "accessKey": null,
                "sourceIp": e.source_ip,
                "principalOrgId": null,
                "cognitoAuthenticationType": null,
                "cognitoAuthenticationProvider": null,
                "userArn": null,
                "userAgent": e.user_agent,
                "user": null,
            },
        },
        "body": body,
        "isBase64Encoded": is_base64,
    })
}

/// Header names as clients usually write them (`Content-Type`); HTTP/1 parsing lowercases.
fn canonical(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut c = part.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// The single-value map (the last value of a name wins, as REST APIs send) and the
/// multi-value map of name/value pairs.
fn single_and_multi(pairs: &[(String, String)]) -> (Value, Value) {
    let mut single = Map::new();
    let mut multi: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (name, value) in pairs {
        single.insert(name.clone(), Value::String(value.clone()));
        multi
            .entry(name.clone())
            .or_default()
            .push(Value::String(value.clone()));
    }
    (Value::Object(single), json!(multi))
}

/// API Gateway's `requestTime`: `09/Apr/2015:12:34:56 +0000`.
pub fn request_time(t: time::OffsetDateTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{:02}/{}/{}:{:02}:{:02}:{:02} +0000",
        t.day(),
        MONTHS[usize::from(u8::from(t.month())) - 1],
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// `requestTimeEpoch` / `timeEpoch`: milliseconds since the epoch.
pub fn epoch_ms(t: time::OffsetDateTime) -> i64 {
    t.unix_timestamp() * 1000 + i64::from(t.millisecond())
}

#[cfg(test)]
mod tests {
    use http::{HeaderMap, Method, Uri};

    use super::*;
    use crate::event_shape::{fixture, same_shape};
    use crate::routes::RouteMatch;

    fn event(uri: &str, body: &[u8]) -> Value {
        let uri: Uri = uri.parse().expect("uri");
        let mut headers = HeaderMap::new();
        headers.insert("user-agent", "test-agent".parse().expect("value"));
        headers.append("x-multi", "a".parse().expect("value"));
        headers.append("x-multi", "b".parse().expect("value"));
        let route = RouteMatch {
            function: "f".into(),
            resource: "/items/{id}".into(),
            path_parameters: BTreeMap::from([("id".to_string(), "42".to_string())]),
            format: crate::routes::EventFormat::Rest,
            route_key: "POST /items/{id}".into(),
            api: crate::routes::ApiSettings::implicit(crate::routes::EventFormat::Rest),
            access: Default::default(),
        };
        build(&ProxyRequest {
            method: &Method::POST,
            uri: &uri,
            headers: &headers,
            body,
            source_ip: "10.1.2.3".parse().expect("ip"),
            route: &route,
            stage: "Prod",
            request_id: "req-1",
            api_id: "esbapi",
            account_id: "123456789012",
            region: "us-east-1",
        })
    }

    use crate::event_shape::V1_DATA as DATA;

    #[test]
    fn matches_aws_sample_events_key_by_key() {
        let ours = event("/items/42?a=1&a=2&b=x%20y", b"{\"k\":1}");
        // Keys that depend on API configuration we do not emulate (authorizers, mTLS,
        // API keys, custom domains) or on the payload format version of HTTP APIs.
        let ignore = [
            "authorizer",
            "clientCert",
            "version",
            "principalOrgId",
            "apiKey",
            "apiKeyId",
            "cognitoAuthenticationProvider",
            "multiValueQueryStringParameters",
        ];
        let samples: Vec<Value> = [
            "sam-cli/apigateway-aws-proxy.json",
            "sam-cli/apigateway-aws-proxy-post.json",
            "powertools/apiGatewayProxyEvent.json",
            "powertools/apiGatewayProxyEventAnotherPath.json",
            "powertools/apiGatewayProxyEventNoOrigin.json",
            "powertools/apiGatewayProxyEventPathTrailingSlash.json",
            "powertools/apiGatewayProxyEventPrincipalId.json",
            "powertools/apiGatewayProxyEvent_noVersionAuth.json",
            "powertools/apiGatewayProxyOtherEvent.json",
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
    fn values_follow_the_request() {
        let e = event("/items/42?a=1&a=2&b=x%20y", b"{\"k\":1}");
        assert_eq!(e["resource"], "/items/{id}");
        assert_eq!(e["path"], "/items/42");
        assert_eq!(e["httpMethod"], "POST");
        assert_eq!(e["pathParameters"]["id"], "42");
        assert_eq!(
            e["queryStringParameters"],
            json!({"a": "2", "b": "x y"}),
            "last value wins, as REST APIs send"
        );
        assert_eq!(
            e["multiValueQueryStringParameters"],
            json!({"a": ["1", "2"], "b": ["x y"]})
        );
        assert_eq!(e["headers"]["User-Agent"], "test-agent");
        assert_eq!(e["multiValueHeaders"]["X-Multi"], json!(["a", "b"]));
        assert_eq!(e["requestContext"]["identity"]["sourceIp"], "10.1.2.3");
        assert_eq!(e["requestContext"]["path"], "/Prod/items/42");
        assert_eq!(
            (e["body"].clone(), e["isBase64Encoded"].clone()),
            (json!("{\"k\":1}"), json!(false))
        );
        let encoded = event("/items/a%20b?p=1+2&q=%2B", b"");
        assert_eq!(
            encoded["path"], "/items/a%20b",
            "the path is passed as received"
        );
        assert_eq!(
            encoded["queryStringParameters"],
            json!({"p": "1 2", "q": "+"})
        );
        let binary = event("/items/42", &[0xff, 0x00, 0x01]);
        assert_eq!(
            (binary["body"].clone(), binary["isBase64Encoded"].clone()),
            (json!("/wAB"), json!(true))
        );
        let bare = event("/items/42", b"");
        assert_eq!(bare["queryStringParameters"], Value::Null);
        assert_eq!(bare["body"], Value::Null);
    }
}
