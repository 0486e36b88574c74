//! Lambda authorizers: before a route's function runs, another function of the box is
//! asked, with the event API Gateway sends (REST `TOKEN` / `REQUEST`, HTTP API payload
//! 1.0 / 2.0), whether the caller may; its answer (an IAM policy or, for HTTP APIs, a
//! simple `isAuthorized`) is cached per identity for `ReauthorizeEvery` seconds. As in
//! API Gateway, the cached *policy* is re-evaluated for each route it is used on.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::StatusCode;
use serde_json::{Map, Value, json};

use super::policy::{self, Decision};
use crate::gateway::Gateway;
use crate::proxy_event::ProxyRequest;
use esb_lambda::headers::FUNCTION_ERROR;

/// Which event the authorizer function receives and which answer it gives.
#[derive(Debug, Clone)]
pub enum AuthorizerFormat {
    /// REST `TOKEN`: the token of one header, optionally checked against a regex first.
    Token {
        header: String,
        validation: Option<regex::Regex>,
    },
    /// REST `REQUEST`: the whole request; identity from headers and query strings.
    Request,
    /// HTTP API, `AuthorizerPayloadFormatVersion: "1.0"`.
    HttpV1,
    /// HTTP API, `"2.0"`; `simple`: `{"isAuthorized": bool, "context": {...}}` answers.
    HttpV2 { simple: bool },
}

#[derive(Debug)]
pub struct LambdaAuthorizer {
    pub function: String,
    pub format: AuthorizerFormat,
    pub identity_headers: Vec<String>,
    pub identity_query: Vec<String>,
    /// `ReauthorizeEvery`; zero disables the cache.
    pub ttl: Duration,
    cache: Mutex<HashMap<String, (Instant, Arc<Verdict>)>>,
}

/// What the authorizer function said, kept for its identity.
#[derive(Debug)]
enum Verdict {
    Policy {
        principal: Option<String>,
        policy: Value,
        context: Map<String, Value>,
    },
    Simple {
        authorized: bool,
        context: Map<String, Value>,
    },
}

/// A caller the authorizer let through: what lands in `requestContext.authorizer`.
#[derive(Debug, Clone, PartialEq)]
pub struct Allowed {
    pub principal: Option<String>,
    pub context: Map<String, Value>,
    pub latency_ms: u64,
}

/// Why the route answers without running its function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No identity, or the function said `Unauthorized`: 401.
    Unauthorized,
    /// The policy denies explicitly (REST: its own message): 403.
    ExplicitDeny,
    /// Nothing allows the route, or `isAuthorized: false`: 403.
    NotAllowed,
    /// The authorizer failed or answered nonsense: 500.
    Failed,
}

impl LambdaAuthorizer {
    pub fn new(
        function: String,
        format: AuthorizerFormat,
        identity_headers: Vec<String>,
        identity_query: Vec<String>,
        ttl: Duration,
    ) -> Self {
        Self {
            function,
            format,
            identity_headers,
            identity_query,
            ttl,
            cache: Mutex::default(),
        }
    }

    /// Asks (or remembers) whether `req` may reach its route; `arn` is the route's
    /// `methodArn` / `routeArn`.
    pub async fn authorize(
        &self,
        gw: &Gateway,
        req: &ProxyRequest<'_>,
        arn: &str,
    ) -> Result<Allowed, Refusal> {
        let identity = self.identity(req).ok_or(Refusal::Unauthorized)?;
        let key = identity.join("\u{1f}");
        let started = Instant::now();
        let verdict = match self.cached(&key) {
            Some(v) => v,
            None => {
                let event = self.event(req, arn, &identity);
                let verdict = Arc::new(self.ask(gw, event).await?);
                if !self.ttl.is_zero()
                    && let Ok(mut cache) = self.cache.lock()
                {
                    cache.retain(|_, (at, _)| at.elapsed() < self.ttl);
                    cache.insert(key, (Instant::now(), Arc::clone(&verdict)));
                }
                verdict
            }
        };
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match &*verdict {
            Verdict::Simple {
                authorized: true,
                context,
            } => Ok(Allowed {
                principal: None,
                context: context.clone(),
                latency_ms,
            }),
            Verdict::Simple { .. } => Err(Refusal::NotAllowed),
            Verdict::Policy {
                principal,
                policy,
                context,
            } => match policy::evaluate(policy, arn) {
                Ok(Decision::Allow) => Ok(Allowed {
                    principal: principal.clone(),
                    context: context.clone(),
                    latency_ms,
                }),
                Ok(Decision::ExplicitDeny) => Err(Refusal::ExplicitDeny),
                Ok(Decision::NotAllowed) => Err(Refusal::NotAllowed),
                Err(e) => {
                    tracing::warn!(authorizer = %self.function, "{e}");
                    Err(Refusal::Failed)
                }
            },
        }
    }

    fn cached(&self, key: &str) -> Option<Arc<Verdict>> {
        let cache = self.cache.lock().ok()?;
        let (at, verdict) = cache.get(key)?;
        (at.elapsed() < self.ttl).then(|| Arc::clone(verdict))
    }

    /// The identity source values, all present and non-empty, else `None` (401).
    fn identity(&self, req: &ProxyRequest<'_>) -> Option<Vec<String>> {
        let header = |name: &str| {
            req.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        if let AuthorizerFormat::Token {
            header: name,
            validation,
        } = &self.format
        {
            let token = header(name)?;
            return match validation {
                Some(re) if !re.is_match(&token) => None,
                _ => Some(vec![token]),
            };
        }
        let (query, _) = crate::proxy_event::query(req.uri.query());
        let mut values = Vec::new();
        for h in &self.identity_headers {
            values.push(header(h)?);
        }
        for q in &self.identity_query {
            let v = query
                .get(q)
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())?;
            values.push(v.to_string());
        }
        // No identity source configured: nothing to cache on, every request is asked.
        if values.is_empty() {
            values.push(uuid::Uuid::new_v4().to_string());
        }
        Some(values)
    }

    fn event(&self, req: &ProxyRequest<'_>, arn: &str, identity: &[String]) -> Value {
        match &self.format {
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
                    if matches!(self.format, AuthorizerFormat::HttpV1) {
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

    /// Runs the authorizer function and reads its answer.
    async fn ask(&self, gw: &Gateway, event: Value) -> Result<Verdict, Refusal> {
        let Some(pool) = gw.plan().pools.get(&self.function).cloned() else {
            tracing::error!(authorizer = %self.function, "authorizer function is not in the box");
            return Err(Refusal::Failed);
        };
        let bound = crate::call::worker_bound(&pool).min(Duration::from_secs(30));
        let answer = crate::call::call(
            gw,
            &pool,
            Bytes::from(event.to_string()),
            &http::HeaderMap::new(),
            bound,
        )
        .await
        .map_err(|e| {
            tracing::warn!(authorizer = %self.function, "authorizer failed: {e}");
            Refusal::Failed
        })?;
        let body: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
        if answer.status != StatusCode::OK || answer.headers.contains_key(FUNCTION_ERROR) {
            // `raise Exception("Unauthorized")` is how an authorizer says 401.
            return Err(if body["errorMessage"] == "Unauthorized" {
                Refusal::Unauthorized
            } else {
                tracing::warn!(authorizer = %self.function, "authorizer raised {}", body["errorType"]);
                Refusal::Failed
            });
        }
        let context = match body.get("context") {
            Some(Value::Object(c)) => c.clone(),
            None | Some(Value::Null) => Map::new(),
            Some(_) => return Err(Refusal::Failed),
        };
        if let AuthorizerFormat::HttpV2 { simple: true } = self.format {
            return match body.get("isAuthorized").and_then(Value::as_bool) {
                Some(authorized) => Ok(Verdict::Simple {
                    authorized,
                    context,
                }),
                None => {
                    tracing::warn!(authorizer = %self.function, "simple response without isAuthorized");
                    Err(Refusal::Failed)
                }
            };
        }
        let Some(policy) = body.get("policyDocument").cloned() else {
            tracing::warn!(authorizer = %self.function, "answer without policyDocument");
            return Err(Refusal::Failed);
        };
        Ok(Verdict::Policy {
            principal: body
                .get("principalId")
                .and_then(Value::as_str)
                .map(str::to_string),
            policy,
            context,
        })
    }
}

impl Allowed {
    /// `requestContext.authorizer` of the route's event: REST and payload 1.0 put the
    /// principal and the context (values as strings) at the top; payload 2.0 nests the
    /// context under `lambda`.
    pub fn event_value(&self, v2: bool) -> Value {
        if v2 {
            return json!({ "lambda": self.context });
        }
        let mut out = Map::new();
        out.insert(
            "principalId".into(),
            self.principal.clone().map_or(Value::Null, Value::String),
        );
        for (k, v) in &self.context {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            out.insert(k.clone(), Value::String(text));
        }
        out.insert("integrationLatency".into(), json!(self.latency_ms));
        Value::Object(out)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use http::{HeaderMap, Method, Uri};

    use super::*;
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
        let identity = a.identity(&req).expect("identity");
        a.event(
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

    #[test]
    fn context_lands_as_api_gateway_puts_it() {
        let allowed = Allowed {
            principal: Some("u-1".into()),
            context: json!({"n": 1, "ok": true, "s": "x"})
                .as_object()
                .cloned()
                .expect("map"),
            latency_ms: 3,
        };
        assert_eq!(
            allowed.event_value(false),
            json!({"principalId": "u-1", "n": "1", "ok": "true", "s": "x", "integrationLatency": 3})
        );
        assert_eq!(
            allowed.event_value(true),
            json!({"lambda": {"n": 1, "ok": true, "s": "x"}})
        );
        let sample = fixture("powertools/apiGatewayProxyV2LambdaAuthorizerEvent.json");
        assert!(sample["requestContext"]["authorizer"]["lambda"].is_object());
    }
}
