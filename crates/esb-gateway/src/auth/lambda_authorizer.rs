//! Lambda authorizers: before a route's function runs, another function of the box is
//! asked, with the event API Gateway sends (REST `TOKEN` / `REQUEST`, HTTP API payload
//! 1.0 / 2.0), whether the caller may; its answer (an IAM policy or, for HTTP APIs, a
//! simple `isAuthorized`) is cached per identity for `ReauthorizeEvery` seconds. As in
//! API Gateway, the cached *policy* is re-evaluated for each route it is used on.
//!
//! This file is the authorizer as routes carry it: its settings, the identity it
//! caches on, how its answers read and what they decide. Asking it (its event, running
//! its function) is `route_auth.rs`'s, with the events built in `authorizer_event.rs`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::{HeaderMap, StatusCode, Uri};
use serde_json::{Map, Value, json};

use super::policy::{self, Decision};
use crate::query_string;
use crate::worker_client::WorkerAnswer;
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
pub enum Verdict {
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

    /// What `verdict` decides for the route `arn` (`methodArn` / `routeArn`);
    /// `latency_ms` is how long the decision took, as the route's event reports it.
    pub fn decide(
        &self,
        verdict: &Verdict,
        arn: &str,
        latency_ms: u64,
    ) -> Result<Allowed, Refusal> {
        match verdict {
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

    /// The verdict remembered for the identity `key`, while it is fresh.
    pub fn cached(&self, key: &str) -> Option<Arc<Verdict>> {
        let cache = self.cache.lock().ok()?;
        let (at, verdict) = cache.get(key)?;
        (at.elapsed() < self.ttl).then(|| Arc::clone(verdict))
    }

    /// Keeps `verdict` for the identity `key` for `ReauthorizeEvery` (not at all when
    /// that is zero), dropping the verdicts that expired.
    pub fn remember(&self, key: String, verdict: &Arc<Verdict>) {
        if !self.ttl.is_zero()
            && let Ok(mut cache) = self.cache.lock()
        {
            cache.retain(|_, (at, _)| at.elapsed() < self.ttl);
            cache.insert(key, (Instant::now(), Arc::clone(verdict)));
        }
    }

    /// The identity source values of a request, all present and non-empty, else
    /// `None` (401).
    pub fn identity(&self, headers: &HeaderMap, uri: &Uri) -> Option<Vec<String>> {
        let header = |name: &str| {
            headers
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
        let query = query_string::pairs(uri.query().unwrap_or(""));
        let mut values = Vec::new();
        for h in &self.identity_headers {
            values.push(header(h)?);
        }
        for q in &self.identity_query {
            // The last value of a repeated parameter, as REST APIs pass it.
            let (_, v) = query
                .iter()
                .rev()
                .find(|(name, _)| name == q)
                .filter(|(_, v)| !v.is_empty())?;
            values.push(v.clone());
        }
        // No identity source configured: nothing to cache on, every request is asked.
        if values.is_empty() {
            values.push(uuid::Uuid::new_v4().to_string());
        }
        Some(values)
    }

    /// Reads the authorizer function's answer.
    pub fn read_answer(&self, answer: &WorkerAnswer) -> Result<Verdict, Refusal> {
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
    use super::*;
    use crate::event_shape::fixture;

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
