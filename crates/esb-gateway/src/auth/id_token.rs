//! ESB's own user login, kept for the clients of the original ESB: `POST /user/auth/v1`
//! trades an API key plus a username and password for an HS256 `IdToken`, which
//! protected routes then accept in `Authorization`.
//!
//! Secrets (API key, password) are compared in constant time over their SHA-256
//! digests, so neither their content nor their length shows in the timing; none of
//! them, nor a token, is ever logged.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::response::{IntoResponse, Response};
use esb_auth::secret_eq;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};

/// Set on every answer to a caller that showed the right API key, as the original did.
pub const USER_AUTHORIZED_HEADER: &str = "padma_user_authorized";

/// Where the original ESB serves its login (`AUTH_ENDPOINT_PATH`'s default).
pub const LOGIN_PATH: &str = "/user/auth/v1";

/// The configured user, and the secret its tokens are signed with.
#[derive(Clone)]
pub struct IdTokenAuth {
    pub api_key: String,
    pub username: String,
    pub password: String,
    pub secret: Vec<u8>,
    pub ttl: Duration,
}

impl std::fmt::Debug for IdTokenAuth {
    /// The API key, password and signing secret never reach a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdTokenAuth")
            .field("username", &self.username)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// Why a token is refused; every case answers 401 `Unauthorized`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdTokenError {
    #[error("no Authorization header")]
    Missing,
    #[error("the Authorization scheme is not Bearer")]
    Scheme,
    #[error("the token has expired")]
    Expired,
    #[error("the token is invalid")]
    Invalid,
}

impl IdTokenError {
    pub fn status(&self) -> StatusCode {
        StatusCode::UNAUTHORIZED
    }
}

impl IntoResponse for IdTokenError {
    /// The same 401 whatever the reason, so a caller learns nothing about the token.
    fn into_response(self) -> Response {
        unauthorized(false)
    }
}

#[derive(Deserialize)]
struct LoginRequest {
    #[serde(rename = "AuthParameters")]
    auth_parameters: AuthParameters,
}

#[derive(Deserialize)]
struct AuthParameters {
    #[serde(rename = "USERNAME")]
    username: String,
    #[serde(rename = "PASSWORD")]
    password: String,
}

#[derive(Serialize, Deserialize)]
struct Claims {
    sub: String,
    exp: u64,
    iat: u64,
}

impl IdTokenAuth {
    /// Answers `POST /user/auth/v1` (headers and the already-read body).
    pub fn login(&self, headers: &HeaderMap, body: &[u8]) -> Response {
        // The body is validated before the key, as the original did.
        let request: LoginRequest = match serde_json::from_slice(body) {
            Ok(r) => r,
            Err(e) => {
                let body =
                    serde_json::json!({"message": "Validation Error", "detail": e.to_string()});
                return (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response();
            }
        };
        let key = headers.get("x-api-key").map(HeaderValue::as_bytes);
        if !key.is_some_and(|k| secret_eq(k, self.api_key.as_bytes())) {
            return unauthorized(false);
        }
        let params = request.auth_parameters;
        // Both compared, always: which one was wrong does not show in the timing.
        let user_ok = secret_eq(params.username.as_bytes(), self.username.as_bytes());
        let password_ok = secret_eq(params.password.as_bytes(), self.password.as_bytes());
        if !(user_ok & password_ok) {
            return unauthorized(true);
        }
        match self.issue(&params.username, SystemTime::now()) {
            Ok(token) => {
                let body = serde_json::json!({"AuthenticationResult": {"IdToken": token}});
                (StatusCode::OK, authorized_header(), Json(body)).into_response()
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot sign an IdToken");
                let body = serde_json::json!({"message": "Internal Server Error"});
                (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
            }
        }
    }

    /// The `sub` of a valid token in the `Authorization` header value.
    pub fn verify(&self, authorization: Option<&str>) -> Result<String, IdTokenError> {
        let value = authorization.ok_or(IdTokenError::Missing)?;
        let token = match value.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            Some(_) => return Err(IdTokenError::Scheme),
            None => value,
        };
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.validate_aud = false;
        validation.required_spec_claims = ["exp".to_string(), "sub".to_string()].into();
        let claims = decode::<Claims>(token, &DecodingKey::from_secret(&self.secret), &validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => IdTokenError::Expired,
                _ => IdTokenError::Invalid,
            })?
            .claims;
        if claims.sub.is_empty() {
            return Err(IdTokenError::Invalid);
        }
        Ok(claims.sub)
    }

    /// A token for `sub`, valid from `now` for the configured TTL.
    fn issue(&self, sub: &str, now: SystemTime) -> Result<String, jsonwebtoken::errors::Error> {
        let iat = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let claims = Claims {
            sub: sub.to_string(),
            exp: iat.saturating_add(self.ttl.as_secs()),
            iat,
        };
        encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(&self.secret),
        )
    }
}

fn authorized_header() -> [(HeaderName, HeaderValue); 1] {
    [(
        HeaderName::from_static(USER_AUTHORIZED_HEADER),
        HeaderValue::from_static("true"),
    )]
}

/// 401 `{"message":"Unauthorized"}`; `key_ok` once the API key was right, which the
/// original signalled with its header even when the password was wrong.
fn unauthorized(key_ok: bool) -> Response {
    let body = Json(serde_json::json!({"message": "Unauthorized"}));
    if key_ok {
        (StatusCode::UNAUTHORIZED, authorized_header(), body).into_response()
    } else {
        (StatusCode::UNAUTHORIZED, body).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> IdTokenAuth {
        IdTokenAuth {
            api_key: "key-123".into(),
            username: "alice".into(),
            password: "s3cret-pw".into(),
            secret: b"signing-secret".to_vec(),
            ttl: Duration::from_secs(3600),
        }
    }

    fn headers(api_key: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(k) = api_key {
            h.insert("x-api-key", HeaderValue::from_str(k).expect("value"));
        }
        h
    }

    fn login_body(user: &str, password: &str) -> Vec<u8> {
        serde_json::json!({"AuthParameters": {"USERNAME": user, "PASSWORD": password}})
            .to_string()
            .into_bytes()
    }

    async fn answer(resp: Response) -> (StatusCode, Option<String>, serde_json::Value) {
        let status = resp.status();
        let flag = resp
            .headers()
            .get(USER_AUTHORIZED_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .expect("body");
        (status, flag, serde_json::from_slice(&bytes).expect("json"))
    }

    #[tokio::test]
    async fn the_right_user_gets_a_token_that_verifies() {
        let a = auth();
        let resp = a.login(&headers(Some("key-123")), &login_body("alice", "s3cret-pw"));
        let (status, flag, body) = answer(resp).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(flag.as_deref(), Some("true"));
        let token = body["AuthenticationResult"]["IdToken"]
            .as_str()
            .expect("token");
        assert_eq!(
            a.verify(Some(&format!("Bearer {token}"))),
            Ok("alice".into())
        );
        assert_eq!(
            a.verify(Some(&format!("bearer {token}"))),
            Ok("alice".into())
        );
        assert_eq!(a.verify(Some(token)), Ok("alice".into()));

        let header = jsonwebtoken::decode_header(token).expect("header");
        assert_eq!(header.alg, Algorithm::HS256);
        let mut v = Validation::new(Algorithm::HS256);
        v.validate_aud = false;
        let claims = decode::<Claims>(token, &DecodingKey::from_secret(b"signing-secret"), &v)
            .expect("claims")
            .claims;
        assert_eq!(claims.exp - claims.iat, 3600);
    }

    #[tokio::test]
    async fn a_malformed_body_is_422_before_the_key_is_looked_at() {
        let a = auth();
        for body in [
            &b"not json"[..],
            br#"{"AuthParameters":{"USERNAME":"alice"}}"#,
            br#"{"USERNAME":"alice","PASSWORD":"x"}"#,
            br#"{"AuthParameters":{"USERNAME":1,"PASSWORD":"x"}}"#,
        ] {
            let (status, flag, json) = answer(a.login(&headers(None), body)).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
            assert_eq!(flag, None);
            assert_eq!(json["message"], "Validation Error");
            assert!(
                json["detail"].as_str().is_some_and(|d| !d.is_empty()),
                "{json}"
            );
        }
    }

    #[tokio::test]
    async fn a_missing_or_wrong_api_key_is_401_without_the_header() {
        let a = auth();
        for key in [None, Some("key-124"), Some(""), Some("key-1234")] {
            let resp = a.login(&headers(key), &login_body("alice", "s3cret-pw"));
            let (status, flag, json) = answer(resp).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            assert_eq!(flag, None);
            assert_eq!(json, serde_json::json!({"message": "Unauthorized"}));
        }
    }

    #[tokio::test]
    async fn a_wrong_user_or_password_is_401_with_the_header() {
        let a = auth();
        for (user, password) in [("alice", "wrong"), ("bob", "s3cret-pw"), ("", "")] {
            let resp = a.login(&headers(Some("key-123")), &login_body(user, password));
            let (status, flag, json) = answer(resp).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            assert_eq!(flag.as_deref(), Some("true"));
            assert_eq!(json, serde_json::json!({"message": "Unauthorized"}));
        }
    }

    #[test]
    fn expired_foreign_and_odd_tokens_are_refused() {
        let a = auth();
        let now = SystemTime::now();
        let old = IdTokenAuth {
            ttl: Duration::from_secs(60),
            ..auth()
        }
        .issue("alice", now - Duration::from_secs(61))
        .expect("sign");
        assert_eq!(a.verify(Some(&old)), Err(IdTokenError::Expired));

        let foreign = IdTokenAuth {
            secret: b"another-secret".to_vec(),
            ..auth()
        }
        .issue("alice", now)
        .expect("sign");
        assert_eq!(a.verify(Some(&foreign)), Err(IdTokenError::Invalid));

        let good = a.issue("alice", now).expect("sign");
        assert_eq!(
            a.verify(Some(&format!("Basic {good}"))),
            Err(IdTokenError::Scheme)
        );
        assert_eq!(a.verify(Some("Basic xyz")), Err(IdTokenError::Scheme));
        assert_eq!(a.verify(None), Err(IdTokenError::Missing));
        assert_eq!(a.verify(Some("Bearer garbage")), Err(IdTokenError::Invalid));
        assert_eq!(a.verify(Some("")), Err(IdTokenError::Invalid));

        let nobody = a.issue("", now).expect("sign");
        assert_eq!(a.verify(Some(&nobody)), Err(IdTokenError::Invalid));
        let e = a.verify(None).expect_err("missing");
        assert_eq!(e.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(e.into_response().status(), StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let shown = format!("{:?}", auth());
        assert!(shown.contains("alice"), "{shown}");
        for secret in ["key-123", "s3cret-pw", "signing-secret", "115, 105"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
