//! The template's APIs (`AWS::Serverless::Api` / `HttpApi`, explicit or implicit) and
//! their `Auth`, turned into what the gateway enforces on each route, plus the box's
//! own auth settings: API keys, JWKS locations, the original ESB's user auth.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use esb_auth::BoxCredentials;
use esb_gateway::auth::id_token::IdTokenAuth;
use esb_gateway::auth::jwt::{JwtAuthorizer, KeySource};
use esb_gateway::auth::lambda_authorizer::{AuthorizerFormat, LambdaAuthorizer};
use esb_gateway::auth::{Access, Guard};
use esb_gateway::cors::CorsRules;
use esb_gateway::routes::{ApiRoute, ApiSettings, EventFormat};
use esb_template::{ApiEvent, ApiKind, ApiSpec, ApiType, Authorizer, Template};

/// Route authentication the box adds to what the template says.
#[derive(Args, Clone, Default)]
pub struct AuthArgs {
    /// An API key `ApiKeyRequired` routes accept in `x-api-key` (repeatable).
    #[arg(
        long = "api-key",
        env = "ESB_API_KEYS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub api_keys: Vec<String>,
    /// Where a JWT authorizer's issuer keeps its keys, as ISSUER=FILE or ISSUER=URL
    /// (repeatable); otherwise they are discovered from the issuer, as AWS does.
    #[arg(
        long = "jwks",
        value_name = "ISSUER=SOURCE",
        env = "ESB_JWKS",
        value_delimiter = ','
    )]
    pub jwks: Vec<String>,
    /// The original ESB's user auth: `POST /user/auth/v1` issues IdTokens to this
    /// user, and routes without an authorizer of their own require one.
    #[arg(long, env = "AUTH_USER")]
    pub auth_user: Option<String>,
    /// The password of --auth-user.
    #[arg(long, env = "AUTH_PASS", hide_env_values = true)]
    pub auth_password: Option<String>,
    /// The `x-api-key` the login requires.
    #[arg(long, env = "X_API_KEY", hide_env_values = true)]
    pub auth_api_key: Option<String>,
    /// HS256 secret of the IdTokens (default: derived from the box's secret key).
    #[arg(long, env = "JWT_SECRET_KEY", hide_env_values = true)]
    pub auth_token_secret: Option<String>,
    /// Seconds an IdToken stays valid.
    #[arg(long, env = "JWT_EXPIRES_DELTA", default_value_t = 3600)]
    pub auth_token_ttl: u64,
}

impl AuthArgs {
    /// The original ESB's user auth, when user, password and login key are all set.
    pub fn id_token(&self, box_secret: &BoxCredentials) -> Result<Option<IdTokenAuth>> {
        match (&self.auth_user, &self.auth_password, &self.auth_api_key) {
            (None, None, None) => Ok(None),
            (Some(user), Some(password), Some(api_key)) => {
                let secret = match &self.auth_token_secret {
                    Some(s) if !s.is_empty() => s.as_bytes().to_vec(),
                    _ => {
                        use sha2::Digest;
                        sha2::Sha256::digest(
                            format!("esb-id-token:{}", box_secret.secret_access_key).as_bytes(),
                        )
                        .to_vec()
                    }
                };
                Ok(Some(IdTokenAuth {
                    api_key: api_key.clone(),
                    username: user.clone(),
                    password: password.clone(),
                    secret,
                    ttl: Duration::from_secs(self.auth_token_ttl.max(1)),
                }))
            }
            _ => bail!(
                "the user auth needs --auth-user, --auth-password and --auth-api-key (AUTH_USER, AUTH_PASS, X_API_KEY) together"
            ),
        }
    }

    fn key_source(&self, issuer: &str) -> Result<KeySource> {
        for entry in &self.jwks {
            let Some((iss, source)) = entry.split_once('=') else {
                bail!("--jwks {entry}: expected ISSUER=FILE or ISSUER=URL");
            };
            if iss == issuer {
                return Ok(
                    if source.starts_with("http://") || source.starts_with("https://") {
                        KeySource::Url(source.to_string())
                    } else {
                        KeySource::File(PathBuf::from(source))
                    },
                );
            }
        }
        Ok(KeySource::Discover)
    }
}

/// Each API's settings and authorizers, built once and shared by its routes.
pub struct Apis {
    apis: HashMap<String, Api>,
    id_token: bool,
}

struct Api {
    settings: Arc<ApiSettings>,
    /// The API's authorizers by name.
    guards: HashMap<String, Guard>,
    spec: ApiSpec,
}

impl Apis {
    pub fn new(template: &Template, auth: &AuthArgs, id_token: bool) -> Result<Self> {
        let mut apis = HashMap::new();
        for api in &template.apis {
            let settings = Arc::new(ApiSettings {
                id: api_id(&api.logical_id),
                stage: api.stage_name.clone(),
                binary_media_types: api.binary_media_types.clone(),
                cors: api.cors.as_ref().map(|c| CorsRules {
                    allow_origins: c.allow_origins.clone(),
                    // REST `Cors` without AllowMethods allows the path's own methods.
                    allow_methods: if c.allow_methods.is_empty() {
                        vec!["*".into()]
                    } else {
                        c.allow_methods.clone()
                    },
                    allow_headers: c.allow_headers.clone(),
                    expose_headers: c.expose_headers.clone(),
                    max_age: c.max_age,
                    allow_credentials: c.allow_credentials,
                }),
            });
            let mut guards = HashMap::new();
            for (name, authorizer) in &api.auth.authorizers {
                let guard = match authorizer {
                    Authorizer::Jwt {
                        issuer,
                        audience,
                        identity_source,
                    } => Guard::Jwt {
                        authorizer: Arc::new(JwtAuthorizer::new(
                            issuer.clone(),
                            audience.clone(),
                            auth.key_source(issuer)?,
                        )),
                        header: identity_source
                            .strip_prefix("$request.header.")
                            .unwrap_or("Authorization")
                            .to_ascii_lowercase(),
                        scopes: Vec::new(),
                    },
                    Authorizer::Lambda(l) => {
                        let format = match (api.kind, l.request, l.payload_v2) {
                            (ApiType::Rest, false, _) => AuthorizerFormat::Token {
                                header: l
                                    .identity_headers
                                    .first()
                                    .map_or("authorization".into(), |h| h.to_ascii_lowercase()),
                                validation: l
                                    .validation_expression
                                    .as_deref()
                                    .map(|re| regex::Regex::new(&format!("^(?:{re})$")))
                                    .transpose()
                                    .with_context(|| {
                                        format!("authorizer {name}: bad ValidationExpression")
                                    })?,
                            },
                            (ApiType::Rest, true, _) => AuthorizerFormat::Request,
                            (ApiType::Http, _, false) => AuthorizerFormat::HttpV1,
                            (ApiType::Http, _, true) => AuthorizerFormat::HttpV2 {
                                simple: l.simple_responses,
                            },
                        };
                        Guard::Lambda(Arc::new(LambdaAuthorizer::new(
                            l.function.clone(),
                            format,
                            l.identity_headers
                                .iter()
                                .map(|h| h.to_ascii_lowercase())
                                .collect(),
                            l.identity_query_strings.clone(),
                            Duration::from_secs(u64::from(l.ttl_s)),
                        )))
                    }
                };
                guards.insert(name.clone(), guard);
            }
            apis.insert(
                api.logical_id.clone(),
                Api {
                    settings,
                    guards,
                    spec: api.clone(),
                },
            );
        }
        Ok(Self { apis, id_token })
    }

    /// The gateway's route for `function`'s event `e`.
    pub fn route(&self, function: &str, e: &ApiEvent) -> ApiRoute {
        let format = match e.api {
            ApiKind::Rest => EventFormat::Rest,
            ApiKind::Http { payload_v2: false } => EventFormat::HttpV1,
            ApiKind::Http { payload_v2: true } => EventFormat::HttpV2,
        };
        let Some(Api {
            settings,
            guards,
            spec,
        }) = self.apis.get(&e.api_id)
        else {
            // The template loader lists every API a route names.
            tracing::error!(api = %e.api_id, "route of an unknown API");
            return ApiRoute {
                method: e.method.clone(),
                path: e.path.clone(),
                function: function.to_string(),
                format,
                api: ApiSettings::implicit(format),
                access: Access::default(),
            };
        };
        let named = e
            .auth
            .authorizer
            .as_deref()
            .or(spec.auth.default_authorizer.as_deref());
        let guard = match named {
            Some("NONE") => Guard::Open,
            Some("AWS_IAM") => Guard::Iam,
            Some(name) => match guards.get(name) {
                Some(Guard::Jwt {
                    authorizer, header, ..
                }) => Guard::Jwt {
                    authorizer: Arc::clone(authorizer),
                    header: header.clone(),
                    scopes: e.auth.scopes.clone(),
                },
                Some(guard) => guard.clone(),
                None => Guard::Open,
            },
            None if self.id_token => Guard::IdToken,
            None => Guard::Open,
        };
        ApiRoute {
            method: e.method.clone(),
            path: e.path.clone(),
            function: function.to_string(),
            format,
            api: Arc::clone(settings),
            access: Access {
                guard,
                api_key: e
                    .auth
                    .api_key_required
                    .unwrap_or(spec.auth.api_key_required),
            },
        }
    }
}

/// An API's id in events and ARNs: the implicit APIs share ESB's, an explicit one
/// gets its logical id in lower case (API Gateway ids are short lower-case strings).
fn api_id(logical_id: &str) -> String {
    if logical_id == esb_template::IMPLICIT_REST_API
        || logical_id == esb_template::IMPLICIT_HTTP_API
    {
        return esb_gateway::routes::API_ID.to_string();
    }
    logical_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}
