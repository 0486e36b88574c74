//! A route's access rules applied to one request, answering as API Gateway does when
//! they fail: the authorizer first, then the API key (as REST APIs order them).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::{Value, json};

use super::lambda_authorizer::{Allowed, LambdaAuthorizer, Refusal};
use super::{Access, Guard};
use crate::api_response::gateway_error;
use crate::gateway::Gateway;
use crate::pool::FunctionPool;
use crate::proxy_request::ProxyRequest;
use crate::routes::EventFormat;
use crate::worker_client::WorkerAnswer;

/// API Gateway's bound on a Lambda authorizer's answer.
const AUTHORIZER_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs a Lambda authorizer's function: the handlers' invocation path, handed in so
/// that auth, which the handlers use, does not use them in turn.
pub trait RunAuthorizer: Sync {
    type Error: std::fmt::Display;

    /// Runs `event` on a worker of `pool`, waiting at most `within` for its answer.
    fn run(
        &self,
        pool: &Arc<FunctionPool>,
        event: Bytes,
        within: Duration,
    ) -> impl Future<Output = Result<WorkerAnswer, Self::Error>> + Send;
}

/// Who the caller turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum Caller {
    Anonymous,
    /// Signed with the box's key (`AWS_IAM`).
    Iam {
        access_key: String,
    },
    Jwt(Value),
    Lambda(Allowed),
    /// The original ESB's IdToken: its `sub`.
    IdToken {
        user: String,
    },
}

/// The request as the client sent it (the signature covers these, not the event).
pub struct Received<'a> {
    pub method: &'a Method,
    pub uri: &'a Uri,
    pub headers: &'a HeaderMap,
}

/// Applies `access` to the request; `Err` is the answer to send instead of the function's.
/// Lambda authorizers run through `run`.
pub async fn check(
    gw: &Gateway,
    access: &Access,
    received: &Received<'_>,
    event_request: &ProxyRequest<'_>,
    run: &impl RunAuthorizer,
) -> Result<Caller, Response> {
    let format = event_request.route.format;
    let caller = match &access.guard {
        Guard::Open => Caller::Anonymous,
        Guard::Iam => {
            let signed = gw.authenticate(
                received.method.as_str(),
                received.uri,
                received.headers,
                event_request.body,
            );
            match signed {
                Ok(()) => Caller::Iam {
                    access_key: gw
                        .credentials
                        .as_ref()
                        .map(|c| c.access_key_id.clone())
                        .unwrap_or_default(),
                },
                Err(e) => {
                    let body = match format {
                        EventFormat::FunctionUrl => json!({"Message": "Forbidden"}),
                        _ => json!({"message": e.to_string()}),
                    };
                    return Err(gateway_error(StatusCode::FORBIDDEN, &body, e.error_type()));
                }
            }
        }
        Guard::IdToken => {
            let Some(auth) = &gw.id_token else {
                return Err(unauthorized());
            };
            let header = received
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok());
            match auth.verify(header) {
                Ok(user) => Caller::IdToken { user },
                Err(_) => return Err(unauthorized()),
            }
        }
        Guard::Lambda(authorizer) => {
            let arn = route_arn(gw, event_request);
            match ask_lambda(gw, authorizer, event_request, &arn, run).await {
                Ok(allowed) => Caller::Lambda(allowed),
                Err(refusal) => return Err(refused(refusal, format)),
            }
        }
        Guard::Jwt {
            authorizer,
            header,
            scopes,
        } => {
            let source = received
                .headers
                .get(header.as_str())
                .and_then(|v| v.to_str().ok());
            match authorizer.authorize(source, scopes).await {
                Ok(claims) => Caller::Jwt(claims.to_event_value()),
                Err(rejection) => {
                    let mut resp = if rejection.status() == StatusCode::FORBIDDEN {
                        gateway_error(
                            StatusCode::FORBIDDEN,
                            &json!({"message": "Forbidden"}),
                            "AccessDeniedException",
                        )
                    } else {
                        unauthorized()
                    };
                    if let Some(v) = rejection
                        .www_authenticate()
                        .and_then(|v| http::HeaderValue::from_str(&v).ok())
                    {
                        resp.headers_mut().insert("www-authenticate", v);
                    }
                    return Err(resp);
                }
            }
        }
    };
    if access.api_key {
        let key = received
            .headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok());
        if !key.is_some_and(|k| gw.api_key_valid(k)) {
            return Err(gateway_error(
                StatusCode::FORBIDDEN,
                &json!({"message": "Forbidden"}),
                "ForbiddenException",
            ));
        }
    }
    Ok(caller)
}

/// Asks (or remembers) whether `req` may reach its route; `arn` is the route's
/// `methodArn` / `routeArn`.
async fn ask_lambda(
    gw: &Gateway,
    authorizer: &LambdaAuthorizer,
    req: &ProxyRequest<'_>,
    arn: &str,
    run: &impl RunAuthorizer,
) -> Result<Allowed, Refusal> {
    let identity = authorizer
        .identity(req.headers, req.uri)
        .ok_or(Refusal::Unauthorized)?;
    let key = identity.join("\u{1f}");
    let started = Instant::now();
    let verdict = match authorizer.cached(&key) {
        Some(v) => v,
        None => {
            let event = crate::authorizer_event::build(&authorizer.format, req, arn, &identity);
            let Some(pool) = gw.plan().pools.get(&authorizer.function).cloned() else {
                tracing::error!(authorizer = %authorizer.function, "authorizer function is not in the box");
                return Err(Refusal::Failed);
            };
            let answer = run
                .run(&pool, Bytes::from(event.to_string()), AUTHORIZER_TIMEOUT)
                .await
                .map_err(|e| {
                    tracing::warn!(authorizer = %authorizer.function, "authorizer failed: {e}");
                    Refusal::Failed
                })?;
            let verdict = Arc::new(authorizer.read_answer(&answer)?);
            authorizer.remember(key, &verdict);
            verdict
        }
    };
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    authorizer.decide(&verdict, arn, latency_ms)
}

fn unauthorized() -> Response {
    gateway_error(
        StatusCode::UNAUTHORIZED,
        &json!({"message": "Unauthorized"}),
        "UnauthorizedException",
    )
}

/// API Gateway's answers to an authorizer's refusal, REST and HTTP APIs differing.
fn refused(refusal: Refusal, format: EventFormat) -> Response {
    let rest = format == EventFormat::Rest;
    match refusal {
        Refusal::Unauthorized => unauthorized(),
        Refusal::ExplicitDeny if rest => gateway_error(
            StatusCode::FORBIDDEN,
            &json!({"Message": "User is not authorized to access this resource with an explicit deny"}),
            "AccessDeniedException",
        ),
        Refusal::NotAllowed if rest => gateway_error(
            StatusCode::FORBIDDEN,
            &json!({"Message": "User is not authorized to access this resource"}),
            "AccessDeniedException",
        ),
        Refusal::ExplicitDeny | Refusal::NotAllowed => gateway_error(
            StatusCode::FORBIDDEN,
            &json!({"message": "Forbidden"}),
            "AccessDeniedException",
        ),
        Refusal::Failed if rest => gateway_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({"message": null}),
            "AuthorizerConfigurationException",
        ),
        Refusal::Failed => gateway_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({"message": "Internal Server Error"}),
            "AuthorizerConfigurationException",
        ),
    }
}

/// `arn:aws:execute-api:<region>:<account>:<api>/<stage>/<METHOD>/<path>`: REST's
/// `methodArn` and HTTP APIs' `routeArn`, as authorizer policies match them.
fn route_arn(gw: &Gateway, req: &ProxyRequest<'_>) -> String {
    format!(
        "arn:aws:execute-api:{}:{}:{}/{}/{}/{}",
        gw.region,
        gw.account_id,
        req.route.api.id,
        req.route.api.stage,
        req.method,
        req.uri.path().trim_start_matches('/')
    )
}

impl Caller {
    /// Writes the caller into the route's event as API Gateway does: into
    /// `requestContext.authorizer`, or for a signed caller of a payload 1.0 event, into
    /// `requestContext.identity`.
    pub fn describe(&self, event: &mut Value, format: EventFormat, account_id: &str) {
        let Some(context) = event
            .get_mut("requestContext")
            .and_then(Value::as_object_mut)
        else {
            return;
        };
        match (self, format.is_v2()) {
            (Caller::Iam { access_key }, false) => {
                if let Some(identity) = context.get_mut("identity").and_then(Value::as_object_mut) {
                    let user_arn = format!("arn:aws:iam::{account_id}:user/esb-box");
                    identity.insert("accessKey".into(), json!(access_key));
                    identity.insert("accountId".into(), json!(account_id));
                    identity.insert("caller".into(), json!(access_key));
                    identity.insert("user".into(), json!(access_key));
                    identity.insert("userArn".into(), json!(user_arn));
                }
            }
            _ => {
                if let Some(authorizer) = self.event_value(format, account_id) {
                    context.insert("authorizer".into(), authorizer);
                }
            }
        }
    }

    /// `requestContext.authorizer` of the route's event (`None`: the key is absent).
    fn event_value(&self, format: EventFormat, account_id: &str) -> Option<Value> {
        let v2 = format.is_v2();
        match self {
            Caller::Anonymous => None,
            Caller::Iam { access_key } => Some(json!({"iam": {
                "accessKey": access_key,
                "accountId": account_id,
                "callerId": access_key,
                "cognitoIdentity": null,
                "principalOrgId": null,
                "userArn": format!("arn:aws:iam::{account_id}:user/esb-box"),
                "userId": access_key,
            }})),
            Caller::Jwt(jwt) => Some(json!({ "jwt": jwt })),
            Caller::Lambda(allowed) => Some(allowed.event_value(v2)),
            Caller::IdToken { user } => Some(json!({
                "claims": {"cognito:username": user, "username": user},
                "cognito:username": user,
            })),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use super::*;
    use crate::auth::lambda_authorizer::AuthorizerFormat;
    use crate::event_shape::{fixture, same_shape};
    use crate::gateway::{test_config, test_entry};
    use crate::routes::{ApiSettings, RouteMatch};

    /// An authorizer function that always gives `answer`, keeping the events it got.
    struct Answering {
        answer: Value,
        events: Mutex<Vec<Value>>,
    }

    impl RunAuthorizer for Answering {
        type Error = String;

        fn run(
            &self,
            _pool: &Arc<FunctionPool>,
            event: Bytes,
            _within: Duration,
        ) -> impl Future<Output = Result<WorkerAnswer, String>> + Send {
            let event = serde_json::from_slice(&event).unwrap_or(Value::Null);
            self.events.lock().expect("events").push(event);
            std::future::ready(Ok(WorkerAnswer {
                status: StatusCode::OK,
                headers: HeaderMap::new(),
                body: Bytes::from(self.answer.to_string()),
            }))
        }
    }

    /// The status of `check`'s refusal, or 200 with the caller it found.
    async fn check_get(
        gw: &Gateway,
        access: &Access,
        path: &str,
        authorization: Option<&str>,
        run: &Answering,
    ) -> Result<Caller, StatusCode> {
        let uri: Uri = path.parse().expect("uri");
        let mut headers = HeaderMap::new();
        if let Some(token) = authorization {
            headers.insert("authorization", token.parse().expect("header"));
        }
        let route = RouteMatch {
            function: "api".into(),
            resource: "/items/{id}".into(),
            path_parameters: BTreeMap::new(),
            format: EventFormat::Rest,
            route_key: "GET /items/{id}".into(),
            api: ApiSettings::implicit(EventFormat::Rest),
            access: access.clone(),
        };
        let request = ProxyRequest {
            method: &Method::GET,
            uri: &uri,
            headers: &headers,
            body: b"",
            source_ip: "10.1.2.3".parse().expect("ip"),
            route: &route,
            stage: &route.api.stage,
            request_id: "req-1",
            api_id: &route.api.id,
            account_id: &gw.account_id,
            region: &gw.region,
        };
        let received = Received {
            method: &Method::GET,
            uri: &uri,
            headers: &headers,
        };
        check(gw, access, &received, &request, run)
            .await
            .map_err(|refusal| refusal.status())
    }

    #[tokio::test]
    async fn a_lambda_authorizer_is_asked_once_per_identity_and_its_policy_decides_per_route() {
        let dir = tempfile::tempdir().expect("tempdir");
        let gw = Gateway::new(test_config(
            vec![test_entry("auth"), test_entry("api")],
            dir.path(),
        ))
        .expect("gateway");
        let authorizer = LambdaAuthorizer::new(
            "auth".into(),
            AuthorizerFormat::Request,
            vec!["authorization".into()],
            Vec::new(),
            Duration::from_secs(300),
        );
        let access = Access {
            guard: Guard::Lambda(Arc::new(authorizer)),
            api_key: false,
        };
        let items = "arn:aws:execute-api:us-east-1:123456789012:esblocal/Prod/GET/items/*";
        let function = Answering {
            answer: json!({
                "principalId": "u-1",
                "policyDocument": {"Version": "2012-10-17", "Statement": [
                    {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": items},
                ]},
                "context": {"tier": "gold"},
            }),
            events: Mutex::default(),
        };

        let Ok(Caller::Lambda(allowed)) =
            check_get(&gw, &access, "/items/1", Some("Bearer a"), &function).await
        else {
            panic!("the policy allows /items/*");
        };
        assert_eq!(allowed.principal.as_deref(), Some("u-1"));
        assert_eq!(allowed.context["tier"], "gold");
        {
            let events = function.events.lock().expect("events");
            assert_eq!(events.len(), 1);
            assert_eq!(events[0]["type"], "REQUEST");
            assert_eq!(
                events[0]["methodArn"],
                "arn:aws:execute-api:us-east-1:123456789012:esblocal/Prod/GET/items/1"
            );
        }

        let again = check_get(&gw, &access, "/items/2", Some("Bearer a"), &function).await;
        assert!(matches!(again, Ok(Caller::Lambda(_))));
        let elsewhere = check_get(&gw, &access, "/orders/1", Some("Bearer a"), &function).await;
        assert_eq!(
            elsewhere.err(),
            Some(StatusCode::FORBIDDEN),
            "the remembered policy is evaluated for each route"
        );
        assert_eq!(
            function.events.lock().expect("events").len(),
            1,
            "one identity, one question within ReauthorizeEvery"
        );

        let anonymous = check_get(&gw, &access, "/items/1", None, &function).await;
        assert_eq!(anonymous.err(), Some(StatusCode::UNAUTHORIZED));
        check_get(&gw, &access, "/items/1", Some("Bearer b"), &function)
            .await
            .expect("another identity is allowed too");
        assert_eq!(function.events.lock().expect("events").len(), 2);
    }

    #[test]
    fn signed_callers_look_like_aws_iam_identities() {
        let ours = Caller::Iam {
            access_key: "ESBKEXAMPLE".into(),
        }
        .event_value(EventFormat::FunctionUrl, "123456789012")
        .expect("authorizer");
        for sample in [
            "powertools/lambdaFunctionUrlIAMEvent.json",
            "powertools/apiGatewayProxyV2IamEvent.json",
        ] {
            let theirs = fixture(sample)["requestContext"]["authorizer"].clone();
            // Cognito identities do not exist in a box; the key stays, null.
            same_shape(&ours, &[&theirs], "$", &["cognitoIdentity"], &[], true);
        }
    }
}
