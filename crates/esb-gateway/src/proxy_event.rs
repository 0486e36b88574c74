//! The API Gateway REST (payload v1) proxy event, with the keys, nesting and types AWS
//! sends (checked against AWS's sample events in the tests).

use std::collections::BTreeMap;

use base64::Engine;
use http::HeaderMap;
use serde_json::{Map, Value, json};

use crate::proxy_request::ProxyRequest;
use crate::query_string;

pub fn build(req: &ProxyRequest<'_>) -> Value {
    // REST APIs pass the path as received (still percent-encoded); path parameters are decoded.
    let path = req.uri.path().to_string();
    let (headers, multi_headers) = headers(req.headers);
    let (query, multi_query) = query(req.uri.query());
    let now = time::OffsetDateTime::now_utc();
    let content_type = req
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let binary = req.route.api.is_binary(content_type);
    let (body, is_base64) = match std::str::from_utf8(req.body) {
        _ if req.body.is_empty() => (Value::Null, false),
        Ok(text) if !binary => (Value::String(text.to_string()), false),
        _ => (
            Value::String(base64::engine::general_purpose::STANDARD.encode(req.body)),
            true,
        ),
    };
    let path_parameters = if req.route.path_parameters.is_empty() {
        Value::Null
    } else {
        json!(req.route.path_parameters)
    };
    let user_agent = req
        .headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map_or(Value::Null, |v| Value::String(v.to_string()));
    let domain = format!("{}.execute-api.{}.amazonaws.com", req.api_id, req.region);
    json!({
        "resource": req.route.resource,
        "path": path,
        "httpMethod": req.method.as_str(),
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": path_parameters,
        "stageVariables": Value::Null,
        "requestContext": {
            "accountId": req.account_id,
            "apiId": req.api_id,
            "resourceId": req.api_id,
            "resourcePath": req.route.resource,
            "httpMethod": req.method.as_str(),
            "path": format!("/{}{}", req.stage, path),
            "stage": req.stage,
            "protocol": "HTTP/1.1",
            "requestId": req.request_id,
            "extendedRequestId": req.request_id,
            "requestTime": request_time(now),
            "requestTimeEpoch": now.unix_timestamp() * 1000 + i64::from(now.millisecond()),
            "domainName": domain,
            "domainPrefix": req.api_id,
            "identity": {
                "cognitoIdentityPoolId": null,
                "accountId": null,
                "cognitoIdentityId": null,
                "caller": null,
                "accessKey": null,
                "sourceIp": req.source_ip.to_string(),
                "principalOrgId": null,
                "cognitoAuthenticationType": null,
                "cognitoAuthenticationProvider": null,
                "userArn": null,
                "userAgent": user_agent,
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

fn headers(map: &HeaderMap) -> (Value, Value) {
    let mut single = Map::new();
    let mut multi: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (name, value) in map {
        let name = canonical(name.as_str());
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        single.insert(name.clone(), Value::String(value.clone()));
        multi.entry(name).or_default().push(Value::String(value));
    }
    (Value::Object(single), json!(multi))
}

/// `null` when there is no query string, as API Gateway sends.
fn query(raw: Option<&str>) -> (Value, Value) {
    let Some(raw) = raw.filter(|q| !q.is_empty()) else {
        return (Value::Null, Value::Null);
    };
    let mut single = Map::new();
    let mut multi: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (k, v) in query_string::pairs(raw) {
        single.insert(k.clone(), Value::String(v.clone()));
        multi.entry(k).or_default().push(Value::String(v));
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

#[cfg(test)]
mod tests {
    use http::{Method, Uri};

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
