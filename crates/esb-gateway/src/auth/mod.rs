//! Who may call what: Signature V4 for the Invoke API and `AWS_IAM` routes, and the
//! authorizers of API routes (API keys, JWT, Lambda authorizers, ESB's IdToken).

pub mod id_token;
pub mod jwt;
pub mod lambda_authorizer;
pub mod policy;
pub mod route_auth;

use std::sync::Arc;

/// What a route demands of its caller before its function runs.
#[derive(Debug, Clone, Default)]
pub enum Guard {
    #[default]
    Open,
    /// Signature V4 with the box's credentials (`AWS_IAM`).
    Iam,
    /// The original ESB's HS256 IdToken (`POST /user/auth/v1`).
    IdToken,
    Lambda(Arc<lambda_authorizer::LambdaAuthorizer>),
    /// An HTTP API JWT authorizer, with the route's `AuthorizationScopes`.
    Jwt {
        authorizer: Arc<jwt::JwtAuthorizer>,
        /// The identity source's header (`$request.header.Authorization`).
        header: String,
        scopes: Vec<String>,
    },
}

/// Two guards are the same when they are the same rule (authorizers by identity).
impl PartialEq for Guard {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Lambda(a), Self::Lambda(b)) => Arc::ptr_eq(a, b),
            (
                Self::Jwt {
                    authorizer: a,
                    scopes: x,
                    ..
                },
                Self::Jwt {
                    authorizer: b,
                    scopes: y,
                    ..
                },
            ) => Arc::ptr_eq(a, b) && x == y,
            (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
        }
    }
}

impl Eq for Guard {}

/// A route's access rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    pub guard: Guard,
    /// `ApiKeyRequired`: `x-api-key` must be one of the box's API keys.
    pub api_key: bool,
}

/// A refused signature as the Invoke API answers it: 403 with AWS's error name.
pub fn invoke_api_error(e: esb_auth::AuthError) -> esb_lambda::InvokeApiError {
    esb_lambda::InvokeApiError::new(
        axum::http::StatusCode::FORBIDDEN,
        e.error_type(),
        e.to_string(),
    )
}
