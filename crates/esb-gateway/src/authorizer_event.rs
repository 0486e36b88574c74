//! The events a Lambda authorizer's function receives, as API Gateway sends them:
//! REST `TOKEN` (the token and the method's ARN) and `REQUEST` (the route's payload
//! 1.0 event without its body), HTTP API payload 1.0 and 2.0 (the route's event, with
//! the identity source).

use serde_json::{Value, json};

use crate::auth::lambda_authorizer::AuthorizerFormat;
use crate::proxy_request::ProxyRequest;

/// The event for a request to the route `arn` (`methodArn` / `routeArn`) whose
/// identity source values are `identity`.
pub fn build(
    format: &AuthorizerFormat,
    req: &ProxyRequest<'_>,
    arn: &str,
    identity: &[String],
) -> Value {
    match format {
        AuthorizerFormat::Token { .. } => json!({
            "type": "TOKEN",
            "authorizationToken": identity.first(),
            "methodArn": arn,
        }),
        AuthorizerFormat::Request | AuthorizerFormat::HttpV1 => {
            let mut event = crate::proxy_event::build(req);
            if let Some(obj) = event.as_object_mut() {
                obj.remove("body");
                obj.remove("isBase64Encoded");
                obj.insert("type".into(), "REQUEST".into());
                obj.insert("methodArn".into(), arn.into());
                // The caller's API key, as REST authorizers see it.
                let api_key = req.headers.get("x-api-key").and_then(|v| v.to_str().ok());
                if let Some(identity) = obj
                    .get_mut("requestContext")
                    .and_then(|c| c.get_mut("identity"))
                    .and_then(Value::as_object_mut)
                {
                    identity.insert("apiKey".into(), json!(api_key));
                }
                if matches!(format, AuthorizerFormat::HttpV1) {
                    obj.insert("version".into(), "1.0".into());
                    obj.insert("identitySource".into(), identity.join(",").into());
                    obj.insert("authorizationToken".into(), identity.join(",").into());
                }
            }
            event
        }
        AuthorizerFormat::HttpV2 { .. } => {
            let mut event = crate::http_event::build(req);
            if let Some(obj) = event.as_object_mut() {
                obj.remove("body");
                obj.remove("isBase64Encoded");
                obj.insert("type".into(), "REQUEST".into());
                obj.insert("routeArn".into(), arn.into());
                obj.insert("identitySource".into(), json!(identity));
            }
            event
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use http::{HeaderMap, Method, Uri};

    use super::*;
    use crate::auth::lambda_authorizer::LambdaAuthorizer;
    use crate::event_shape::{fixture, same_shape};
    use crate::routes::{ApiSettings, EventFormat, RouteMatch};

    fn authorizer(format: AuthorizerFormat) -> LambdaAuthorizer {
        LambdaAuthorizer::new(
            "auth".into(),
            format,
            vec!["authorization".into()],
            vec!["q".into()],
            Duration::from_secs(300),
        )
    }

    /// The event `format` sends for a GET /items/42?q=1 with an Authorization header.
    fn event(format: AuthorizerFormat, route_format: EventFormat) -> Value {
        let uri: Uri = "/items/42?q=1".parse().expect("uri");
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Bearer abc".parse().expect("value"));
        headers.insert("cookie", "c=1".parse().expect("value"));
        let route = RouteMatch {
            function: "f".into(),
            resource: "/items/{id}".into(),
            path_parameters: BTreeMap::from([("id".to_string(), "42".to_string())]),
            format: route_format,
            route_key: "GET /items/{id}".into(),
            api: ApiSettings::implicit(EventFormat::Rest),
            access: Default::default(),
        };
        let req = ProxyRequest {
            method: &Method::GET,
            uri: &uri,
            headers: &headers,
            body: b"",
            source_ip: "10.1.2.3".parse().expect("ip"),
            route: &route,
            stage: "Prod",
            request_id: "req-1",
            api_id: "esblocal",
            account_id: "123456789012",
            region: "us-east-1",
        };
        let a = authorizer(format);
        let identity = a.identity(req.headers, req.uri).expect("identity");
        build(
            &a.format,
            &req,
            "arn:aws:execute-api:us-east-1:123456789012:esblocal/Prod/GET/items/42",
            &identity,
        )
    }

    use crate::event_shape::V1_DATA as DATA;

    #[test]
    fn events_have_the_keys_of_aws_samples() {
        let token = event(
            AuthorizerFormat::Token {
                header: "authorization".into(),
                validation: None,
            },
            EventFormat::Rest,
        );
        same_shape(
            &token,
            &[&fixture("sam-cli/apigateway-authorizer.json")],
            "$",
            &[],
            &DATA,
            true,
        );
        assert_eq!(token["authorizationToken"], "Bearer abc");

        // Stage variables, mTLS and Cognito identities are configuration ESB does not have.
        let ignore = [
            "stageVariables",
            "authentication",
            "clientCert",
            "cognitoAmr",
        ];
        let request = event(AuthorizerFormat::Request, EventFormat::Rest);
        for sample in [
            "sam-cli/apigateway-request-authorizer.json",
            "sam-cli/ApiGatewayRestRequestAuthorizer.json",
        ] {
            same_shape(&request, &[&fixture(sample)], "$", &ignore, &DATA, false);
        }
        let v1 = event(AuthorizerFormat::HttpV1, EventFormat::HttpV1);
        same_shape(
            &v1,
            &[&fixture("powertools/apiGatewayAuthorizerRequestEvent.json")],
            "$",
            &ignore,
            &DATA,
            false,
        );
        assert_eq!(v1["identitySource"], "Bearer abc,1");

        let v2 = event(
            AuthorizerFormat::HttpV2 { simple: true },
            EventFormat::HttpV2,
        );
        same_shape(
            &v2,
            &[&fixture("powertools/apiGatewayAuthorizerV2Event.json")],
            "$",
            &ignore,
            &DATA,
            false,
        );
        assert_eq!(v2["identitySource"], json!(["Bearer abc", "1"]));
        assert!(v2.get("body").is_none());
    }
}
