//! `Auth` of APIs (authorizers, the default authorizer, API keys) and of their routes
//! (the route's authorizer, API key and scopes). A route may only name an authorizer its
//! API defines, and a Lambda authorizer must be a function of this template, since ESB
//! is what runs it; either mistake is an error here rather than a route that refuses
//! every caller.

use std::collections::{BTreeMap, BTreeSet};

use crate::arn::name_in_arn;
use crate::error::{ErrorKind, TemplateError};
use crate::globals::Sources;
use crate::intrinsics::Resolver;
use crate::located::Located;
use crate::model::{ApiAuth, ApiType, Authorizer, LambdaAuthorizer, RouteAuth};
use crate::value::Value;
use crate::yaml_tree::{Node, Position};

const REST_HINT: &str = "Auth: {DefaultAuthorizer: MyAuth, ApiKeyRequired: false, Authorizers: {MyAuth: {FunctionArn: !GetAtt AuthFunction.Arn, FunctionPayloadType: TOKEN, Identity: {Header: Authorization, ReauthorizeEvery: 300}}}}";
const HTTP_HINT: &str = "Auth: {DefaultAuthorizer: MyAuth, Authorizers: {MyAuth: {FunctionArn: !GetAtt AuthFunction.Arn, AuthorizerPayloadFormatVersion: \"2.0\", EnableSimpleResponses: true}, Jwt: {JwtConfiguration: {issuer: https://issuer.example, audience: [my-app]}}}}";
const ROUTE_HINT: &str =
    "an event's Auth is {Authorizer: MyAuth (or AWS_IAM, NONE), AuthorizationScopes: [...]}";
/// Where HTTP APIs look for a JWT unless told otherwise.
const JWT_SOURCE: &str = "$request.header.Authorization";
/// API Gateway's limit on caching an authorizer's answer.
const MAX_TTL: u32 = 3600;

/// What checking routes against an API needs beyond its [`ApiAuth`].
#[derive(Debug, Default)]
pub struct AuthRules {
    /// Authorizers that are declared but not supported (Cognito): routes using them
    /// are served without one, as their warning says.
    pub unsupported: BTreeSet<String>,
    /// Whether `AWS_IAM` may be named: on REST APIs always, on HTTP APIs with
    /// `EnableIamAuthorizer: true`.
    pub iam: bool,
    /// JWT authorizers' own `AuthorizationScopes`, which SAM gives routes naming none.
    pub jwt_scopes: BTreeMap<String, Vec<String>>,
}

/// Reads an API's `Auth` (Globals applied) and checks each Lambda authorizer names a
/// function of `function_names`.
pub fn read_api(
    r: &Resolver<'_>,
    src: &Sources<'_>,
    kind: ApiType,
    api: &str,
    function_names: &[String],
) -> Result<(ApiAuth, AuthRules), TemplateError> {
    let c = Ctx { r, src, kind };
    let mut auth = ApiAuth::default();
    let mut rules = AuthRules {
        iam: kind == ApiType::Rest,
        ..AuthRules::default()
    };
    let Some(merged) = src.get(r, "Auth")? else {
        return Ok((auth, rules));
    };
    let mut default = None;
    for (key, v) in c.map(&merged.value, &["Auth"])? {
        let keys = ["Auth", key.as_str()];
        match (key.as_str(), kind) {
            ("DefaultAuthorizer", _) => default = Some(c.text(v, &keys)?),
            ("ApiKeyRequired", ApiType::Rest) => auth.api_key_required = c.bool(v, &keys)?,
            ("EnableIamAuthorizer", ApiType::Http) => rules.iam = c.bool(v, &keys)?,
            ("Authorizers", _) => {
                for (name, def) in c.map(v, &keys)? {
                    match c.authorizer(name, def, function_names, &mut rules)? {
                        Some(a) => {
                            auth.authorizers.insert(name.clone(), a);
                        }
                        None => {
                            rules.unsupported.insert(name.clone());
                        }
                    }
                }
            }
            _ => c.ignore(&keys, &format!("{} auth {key}", c.noun())),
        }
    }
    if let Some(name) = default {
        let known = (name == "AWS_IAM" && rules.iam) || auth.authorizers.contains_key(&name);
        if known {
            auth.default_authorizer = Some(name);
        } else if !rules.unsupported.contains(&name) {
            let (at, path) = src.locate(&["Auth", "DefaultAuthorizer"]);
            return Err(r.error(
                at,
                &path,
                ErrorKind::UnknownAuthorizer {
                    name,
                    api: api.to_string(),
                },
                available(&auth, &rules, false),
            ));
        }
    }
    Ok((auth, rules))
}

/// An event's `Auth`, and where its `Authorizer` is written. REST routes may set
/// `ApiKeyRequired`; HTTP APIs have no API keys.
pub fn read_route(
    r: &Resolver<'_>,
    props: Option<&Node>,
    kind: ApiType,
    event_path: &str,
) -> Result<(RouteAuth, Option<(Position, String)>), TemplateError> {
    let mut auth = RouteAuth::default();
    let Some(entry) = props.and_then(|p| p.entry("Auth")) else {
        return Ok((auth, None));
    };
    let path = format!("{event_path}.Properties.Auth");
    let fields = match r.resolve(&entry.value, &path)? {
        None => return Ok((auth, None)),
        Some(Value::Map(fields)) => fields,
        Some(other) => {
            return Err(r.error(
                entry.key_pos,
                &path,
                ErrorKind::Structure(format!("must be a mapping, not {}", other.shape())),
                ROUTE_HINT,
            ));
        }
    };
    let place = |key: &str| {
        let at = entry.value.entry(key).map_or(entry.key_pos, |e| e.key_pos);
        (at, format!("{path}.{key}"))
    };
    let bad = |key: &str, what: &str| {
        let (at, p) = place(key);
        r.error(at, &p, ErrorKind::InvalidValue(what.into()), ROUTE_HINT)
    };
    let mut authorizer_at = None;
    for (key, v) in &fields {
        match (key.as_str(), kind) {
            ("Authorizer", _) => {
                auth.authorizer = Some(v.as_text().ok_or_else(|| bad(key, "must be a name"))?);
                authorizer_at = Some(place(key));
            }
            ("ApiKeyRequired", ApiType::Rest) => {
                auth.api_key_required = Some(
                    v.as_bool()
                        .ok_or_else(|| bad(key, "must be true or false"))?,
                );
            }
            ("AuthorizationScopes", _) => {
                auth.scopes = v
                    .as_text_list()
                    .ok_or_else(|| bad(key, "must be a list of scopes"))?;
            }
            _ => {
                let (at, p) = place(key);
                let noun = match kind {
                    ApiType::Rest => "api",
                    ApiType::Http => "httpapi",
                };
                r.warn_once(
                    &format!("{noun} event auth {key}"),
                    at,
                    &p,
                    "is not supported by ESB yet; ignored".into(),
                );
            }
        }
    }
    Ok((auth, authorizer_at))
}

/// Checks a route's authorizer against its API and completes its scopes as SAM does:
/// a route naming none gets those of the JWT authorizer that applies. A route naming
/// an unsupported (Cognito) authorizer is served without one, as warned.
pub fn check_route(
    r: &Resolver<'_>,
    e: &mut Located,
    api: &ApiAuth,
    rules: &AuthRules,
    api_id: &str,
) -> Result<(), TemplateError> {
    let auth = &mut e.event.auth;
    if let Some(name) = auth.authorizer.clone() {
        let known = name == "NONE"
            || (name == "AWS_IAM" && rules.iam)
            || api.authorizers.contains_key(&name);
        if rules.unsupported.contains(&name) {
            auth.authorizer = Some("NONE".into());
        } else if !known {
            let (at, path) = e
                .authorizer_at
                .clone()
                .unwrap_or_else(|| (e.at, e.path.clone()));
            return Err(r.error(
                at,
                &path,
                ErrorKind::UnknownAuthorizer {
                    name,
                    api: api_id.to_string(),
                },
                available(api, rules, true),
            ));
        }
    }
    if auth.scopes.is_empty() {
        let applies = auth
            .authorizer
            .as_deref()
            .or(api.default_authorizer.as_deref());
        if let Some(scopes) = applies.and_then(|a| rules.jwt_scopes.get(a)) {
            auth.scopes = scopes.clone();
        }
    }
    Ok(())
}

/// The names a route (or `DefaultAuthorizer`) may use, for hints.
fn available(api: &ApiAuth, rules: &AuthRules, route: bool) -> String {
    let mut names: Vec<&str> = api.authorizers.keys().map(String::as_str).collect();
    if rules.iam {
        names.push("AWS_IAM");
    }
    if route {
        names.push("NONE");
    }
    if names.is_empty() {
        "declare the authorizer under the API's Auth.Authorizers".into()
    } else {
        format!(
            "name one of {}; authorizers are declared under the API's Auth.Authorizers",
            names.join(", ")
        )
    }
}

/// Reads one API's `Auth`, pointing errors at the place written.
struct Ctx<'c> {
    r: &'c Resolver<'c>,
    src: &'c Sources<'c>,
    kind: ApiType,
}

impl Ctx<'_> {
    fn noun(&self) -> &'static str {
        match self.kind {
            ApiType::Rest => "api",
            ApiType::Http => "httpapi",
        }
    }

    fn hint(&self) -> &'static str {
        match self.kind {
            ApiType::Rest => REST_HINT,
            ApiType::Http => HTTP_HINT,
        }
    }

    fn error(&self, keys: &[&str], kind: ErrorKind) -> TemplateError {
        let (at, path) = self.src.locate(keys);
        self.r.error(at, &path, kind, self.hint())
    }

    fn invalid(&self, keys: &[&str], what: String) -> TemplateError {
        self.error(keys, ErrorKind::InvalidValue(what))
    }

    fn ignore(&self, keys: &[&str], subject: &str) {
        let (at, path) = self.src.locate(keys);
        self.r.warn_once(
            subject,
            at,
            &path,
            "is not supported by ESB yet; ignored".into(),
        );
    }

    fn map<'v>(&self, v: &'v Value, keys: &[&str]) -> Result<&'v [(String, Value)], TemplateError> {
        match v {
            Value::Map(fields) => Ok(fields),
            other => Err(self.error(
                keys,
                ErrorKind::Structure(format!("must be a mapping, not {}", other.shape())),
            )),
        }
    }

    fn text(&self, v: &Value, keys: &[&str]) -> Result<String, TemplateError> {
        v.as_text()
            .ok_or_else(|| self.invalid(keys, format!("must be a string, not {}", v.shape())))
    }

    fn bool(&self, v: &Value, keys: &[&str]) -> Result<bool, TemplateError> {
        v.as_bool()
            .ok_or_else(|| self.invalid(keys, "must be true or false".into()))
    }

    fn list(&self, v: &Value, keys: &[&str]) -> Result<Vec<String>, TemplateError> {
        v.as_text_list()
            .ok_or_else(|| self.invalid(keys, "must be a list of strings".into()))
    }

    /// `Identity.ReauthorizeEvery`: seconds an answer is cached, at most an hour.
    fn ttl(&self, v: &Value, keys: &[&str]) -> Result<u32, TemplateError> {
        v.as_text()
            .and_then(|t| t.parse::<u32>().ok())
            .filter(|n| *n <= MAX_TTL)
            .ok_or_else(|| {
                self.invalid(
                    keys,
                    format!(
                        "ReauthorizeEvery must be a whole number of seconds from 0 to {MAX_TTL}, not {}",
                        v.as_text().unwrap_or_else(|| v.shape().to_string())
                    ),
                )
            })
    }

    /// `FunctionArn`: the name of a function of this template.
    fn function(
        &self,
        v: &Value,
        keys: &[&str],
        function_names: &[String],
    ) -> Result<String, TemplateError> {
        let name = name_in_arn(&self.text(v, keys)?);
        if function_names.contains(&name) {
            return Ok(name);
        }
        let (at, path) = self.src.locate(keys);
        Err(self.r.error(
            at,
            &path,
            ErrorKind::UnknownFunction(name),
            "ESB runs the authorizer: write FunctionArn: !GetAtt AuthFunction.Arn, naming an AWS::Serverless::Function of this template",
        ))
    }

    /// One of `Auth.Authorizers`; `None` for a kind ESB does not support (warned).
    fn authorizer(
        &self,
        name: &str,
        def: &Value,
        function_names: &[String],
        rules: &mut AuthRules,
    ) -> Result<Option<Authorizer>, TemplateError> {
        let base = ["Auth", "Authorizers", name];
        let fields = self.map(def, &base)?;
        let at = |key: &'static str| [&base[..], &[key]].concat();
        let has = |key: &str| def.get(key).is_some();
        if self.kind == ApiType::Rest && has("UserPoolArn") {
            let (pos, path) = self.src.locate(&base);
            self.r.warn_once(
                &format!("cognito authorizer {name}"),
                pos,
                &path,
                format!("Cognito user pool authorizers are not supported by ESB yet; routes that use {name} are served without authorization"),
            );
            return Ok(None);
        }
        if self.kind == ApiType::Http && has("JwtConfiguration") {
            if has("FunctionArn") {
                return Err(self.invalid(
                    &base,
                    "an authorizer has JwtConfiguration (JWT) or FunctionArn (Lambda), not both"
                        .into(),
                ));
            }
            return self.jwt(name, fields, rules).map(Some);
        }
        let Some(arn) = def.get("FunctionArn") else {
            let what = match self.kind {
                ApiType::Rest => "FunctionArn (or UserPoolArn)",
                ApiType::Http => "FunctionArn (or JwtConfiguration)",
            };
            return Err(self.error(&base, ErrorKind::MissingProperty(what.into())));
        };
        let function = self.function(arn, &at("FunctionArn"), function_names)?;
        let mut lambda = LambdaAuthorizer {
            function,
            request: true,
            identity_headers: Vec::new(),
            identity_query_strings: Vec::new(),
            validation_expression: None,
            ttl_s: 0,
            payload_v2: false,
            simple_responses: false,
        };
        match self.kind {
            ApiType::Rest => self.rest_lambda(name, fields, &mut lambda)?,
            ApiType::Http => self.http_lambda(name, fields, &mut lambda)?,
        }
        Ok(Some(Authorizer::Lambda(lambda)))
    }

    /// A REST Lambda authorizer: TOKEN (one header, the default) or REQUEST.
    fn rest_lambda(
        &self,
        name: &str,
        fields: &[(String, Value)],
        out: &mut LambdaAuthorizer,
    ) -> Result<(), TemplateError> {
        let base = ["Auth", "Authorizers", name];
        out.request = match fields.iter().find(|(k, _)| k == "FunctionPayloadType") {
            None => false,
            Some((key, v)) => {
                let k = [&base[..], &[key.as_str()]].concat();
                match self.text(v, &k)?.as_str() {
                    "TOKEN" => false,
                    "REQUEST" => true,
                    other => {
                        return Err(self.invalid(
                            &k,
                            format!("FunctionPayloadType {other:?} is not TOKEN or REQUEST"),
                        ));
                    }
                }
            }
        };
        out.ttl_s = 300;
        if !out.request {
            out.identity_headers = vec!["Authorization".into()];
        }
        let mut other_sources = false;
        for (key, v) in fields {
            let k = [&base[..], &[key.as_str()]].concat();
            match key.as_str() {
                "FunctionArn" | "FunctionPayloadType" => {}
                "Identity" => {
                    for (ikey, iv) in self.map(v, &k)? {
                        let ik = [&k[..], &[ikey.as_str()]].concat();
                        match (ikey.as_str(), out.request) {
                            ("Header", false) => out.identity_headers = vec![self.text(iv, &ik)?],
                            ("ValidationExpression", false) => {
                                out.validation_expression = Some(self.text(iv, &ik)?);
                            }
                            ("Headers", true) => out.identity_headers = self.list(iv, &ik)?,
                            ("QueryStrings", true) => {
                                out.identity_query_strings = self.list(iv, &ik)?;
                            }
                            ("StageVariables" | "Context", true) => {
                                other_sources |= !self.list(iv, &ik)?.is_empty();
                                self.ignore(&ik, &format!("authorizer identity {ikey}"));
                            }
                            ("ReauthorizeEvery", _) => out.ttl_s = self.ttl(iv, &ik)?,
                            _ => self.ignore(&ik, &format!("api authorizer identity {ikey}")),
                        }
                    }
                }
                _ => self.ignore(&k, &format!("api authorizer {key}")),
            }
        }
        let no_sources = out.identity_headers.is_empty() && out.identity_query_strings.is_empty();
        if out.request && no_sources && !other_sources && out.ttl_s > 0 {
            let (at, path) = self.src.locate(&[&base[..], &["Identity"]].concat());
            return Err(self.r.error(
                at,
                &path,
                ErrorKind::InvalidValue(format!(
                    "REQUEST authorizer {name} caches answers by its identity sources, and names none"
                )),
                "set Identity.Headers or Identity.QueryStrings, or ReauthorizeEvery: 0",
            ));
        }
        Ok(())
    }

    /// An HTTP Lambda authorizer: always a REQUEST authorizer; the payload version is
    /// required, as SAM requires it.
    fn http_lambda(
        &self,
        name: &str,
        fields: &[(String, Value)],
        out: &mut LambdaAuthorizer,
    ) -> Result<(), TemplateError> {
        let base = ["Auth", "Authorizers", name];
        let mut version = None;
        for (key, v) in fields {
            let k = [&base[..], &[key.as_str()]].concat();
            match key.as_str() {
                "FunctionArn" => {}
                "AuthorizerPayloadFormatVersion" => {
                    version = Some(match self.text(v, &k)?.as_str() {
                        "2.0" => true,
                        "1.0" => false,
                        other => {
                            return Err(self.invalid(
                                &k,
                                format!(
                                    "AuthorizerPayloadFormatVersion {other:?} is not 1.0 or 2.0"
                                ),
                            ));
                        }
                    });
                }
                "EnableSimpleResponses" => out.simple_responses = self.bool(v, &k)?,
                "Identity" => {
                    for (ikey, iv) in self.map(v, &k)? {
                        let ik = [&k[..], &[ikey.as_str()]].concat();
                        match ikey.as_str() {
                            "Headers" => out.identity_headers = self.list(iv, &ik)?,
                            "QueryStrings" => out.identity_query_strings = self.list(iv, &ik)?,
                            "ReauthorizeEvery" => out.ttl_s = self.ttl(iv, &ik)?,
                            _ => self.ignore(&ik, &format!("authorizer identity {ikey}")),
                        }
                    }
                }
                _ => self.ignore(&k, &format!("httpapi authorizer {key}")),
            }
        }
        let Some(v2) = version else {
            return Err(self.error(
                &base,
                ErrorKind::MissingProperty("AuthorizerPayloadFormatVersion".into()),
            ));
        };
        out.payload_v2 = v2;
        if out.simple_responses && !v2 {
            return Err(self.invalid(
                &[&base[..], &["EnableSimpleResponses"]].concat(),
                "EnableSimpleResponses needs AuthorizerPayloadFormatVersion \"2.0\"".into(),
            ));
        }
        Ok(())
    }

    /// An HTTP API JWT authorizer. `JwtConfiguration` keys are lower case, as SAM
    /// copies them into the OpenAPI document.
    fn jwt(
        &self,
        name: &str,
        fields: &[(String, Value)],
        rules: &mut AuthRules,
    ) -> Result<Authorizer, TemplateError> {
        let base = ["Auth", "Authorizers", name];
        let mut issuer = None;
        let mut audience = Vec::new();
        let mut identity_source = JWT_SOURCE.to_string();
        for (key, v) in fields {
            let k = [&base[..], &[key.as_str()]].concat();
            match key.as_str() {
                "JwtConfiguration" => {
                    for (jkey, jv) in self.map(v, &k)? {
                        let jk = [&k[..], &[jkey.as_str()]].concat();
                        match jkey.as_str() {
                            "issuer" => issuer = Some(self.text(jv, &jk)?),
                            "audience" => audience = self.list(jv, &jk)?,
                            other => {
                                return Err(self.invalid(
                                    &jk,
                                    format!(
                                        "{other} is not a JwtConfiguration field (issuer, audience)"
                                    ),
                                ));
                            }
                        }
                    }
                }
                "IdentitySource" => identity_source = self.text(v, &k)?,
                "AuthorizationScopes" => {
                    rules.jwt_scopes.insert(name.to_string(), self.list(v, &k)?);
                }
                _ => self.ignore(&k, &format!("jwt authorizer {key}")),
            }
        }
        let jwt = [&base[..], &["JwtConfiguration"]].concat();
        let Some(issuer) = issuer else {
            return Err(self.error(&jwt, ErrorKind::MissingProperty("issuer".into())));
        };
        if audience.is_empty() {
            return Err(self.error(&jwt, ErrorKind::MissingProperty("audience".into())));
        }
        Ok(Authorizer::Jwt {
            issuer,
            audience,
            identity_source,
        })
    }
}
