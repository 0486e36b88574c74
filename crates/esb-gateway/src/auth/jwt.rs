//! JWT authorizers of HTTP API routes, checked the way API Gateway checks them
//! (<https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html>):
//! the token's `kid` must name a key of the issuer's JWKS, its RSA or ECDSA signature must
//! hold, `iss` must be the configured issuer, `aud` (or, only when `aud` is absent,
//! `client_id`) one of the configured audiences, and `exp` must lie in the future. A
//! route's `AuthorizationScopes` are met by any one of them in `scope` or `scp`.
//!
//! Clocks: `exp`, `nbf` and `iat` are checked with [`LEEWAY`] (5 s) of tolerance, enough
//! for the skew between a local identity provider and the box, short enough that an
//! expired token is refused the way AWS refuses it.
//!
//! Keys are cached: a JWKS file is re-read when its modification time or size changes; a
//! fetched set is fetched again only for a `kid` it lacks, at most once per
//! [`REFETCH_INTERVAL`], so a caller cannot make the box hammer the issuer.

use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::StatusCode;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::{Map, Value};
use tokio::sync::Mutex;

/// Clock skew tolerated on `exp`, `nbf` and `iat`.
pub const LEEWAY: Duration = Duration::from_secs(5);
/// The shortest time between two fetches of a key set prompted by unknown `kid`s.
pub const REFETCH_INTERVAL: Duration = Duration::from_secs(60);
/// After a failed fetch, requests are refused without asking the issuer again for this
/// long: an issuer that is down is not asked once per request, yet one started after
/// the box is picked up quickly.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(5);
/// How long a discovery document or JWKS may take to arrive.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// The signature algorithms accepted: asymmetric ones only, as a published key set can
/// only verify those (HMAC or `none` would let anyone mint tokens).
const ALGORITHMS: [Algorithm; 5] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::ES256,
    Algorithm::ES384,
];

/// Where an authorizer finds the issuer's signing keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A JWKS document on disk, re-read when it changes.
    File(PathBuf),
    /// A JWKS document at an `http` or `https` URL.
    Url(String),
    /// The `jwks_uri` of `{issuer}/.well-known/openid-configuration`, as AWS does.
    Discover,
}

/// Why a request is refused. The message is what the `www-authenticate` header's
/// `error_description` says; it never quotes the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtRejection {
    #[error("the request has no token")]
    Missing,
    #[error("the token is malformed")]
    Malformed,
    #[error("signing method {0} is invalid")]
    UnsupportedAlgorithm(String),
    #[error("the token's kid matches none of the issuer's signing keys")]
    UnknownKey,
    #[error("the issuer's signing keys could not be loaded")]
    KeysUnavailable,
    #[error("the token's signature is invalid")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token has no valid exp claim")]
    NoExpiry,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token was issued in the future")]
    IssuedInFuture,
    #[error("the token does not have a valid issuer")]
    WrongIssuer,
    #[error("the token does not have a valid audience")]
    WrongAudience,
    #[error("the token has none of the scopes the route requires")]
    InsufficientScope,
}

impl JwtRejection {
    /// 401 for a missing/invalid token, 403 for insufficient scopes.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::InsufficientScope => StatusCode::FORBIDDEN,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// The `www-authenticate` header value AWS sends on 401, e.g.
    /// `Bearer scope="" error="invalid_token" error_description="the token has expired"`;
    /// None on 403. A request without a token gets a bare `Bearer` (RFC 6750 §3.1).
    pub fn www_authenticate(&self) -> Option<String> {
        match self {
            Self::InsufficientScope => None,
            Self::Missing => Some("Bearer".to_string()),
            other => Some(format!(
                "Bearer scope=\"\" error=\"invalid_token\" error_description=\"{other}\""
            )),
        }
    }
}

/// What lands in `requestContext.authorizer.jwt` of the payload 2.0 event.
///
/// `claims` holds every claim of the token with its value as a string, the way API
/// Gateway passes them (`"exp": "1612061676"`, `"email_verified": "true"`); arrays and
/// objects are rendered as AWS renders them, `[a b]` and `map[k:v]`. `scopes` is the
/// token's `scope`/`scp` when the route requires scopes, and `null` otherwise, as AWS
/// leaves it for routes without `AuthorizationScopes`.
#[derive(Debug, Clone, PartialEq)]
pub struct JwtContext {
    pub claims: Map<String, Value>,
    pub scopes: Option<Vec<String>>,
}

impl JwtContext {
    /// `{"claims": {...}, "scopes": [...] or null}`.
    pub fn to_event_value(&self) -> Value {
        serde_json::json!({ "claims": self.claims, "scopes": self.scopes })
    }
}

/// A JWT authorizer of an HTTP API: one issuer, its audiences, and its keys.
pub struct JwtAuthorizer {
    issuer: String,
    audience: Vec<String>,
    keys: KeySource,
    refetch_interval: Duration,
    cache: Mutex<KeyCache>,
}

impl std::fmt::Debug for JwtAuthorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtAuthorizer")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

/// A usable public key of the set, with the algorithm the set pins it to, if any.
#[derive(Clone)]
struct VerifyingKey {
    key: DecodingKey,
    alg: Option<KeyAlgorithm>,
}

type KeySet = Arc<HashMap<String, VerifyingKey>>;

#[derive(Default)]
struct KeyCache {
    keys: Option<KeySet>,
    /// The modification time and size of the JWKS file the keys were read from.
    file_stamp: Option<(SystemTime, u64)>,
    /// When the set was last fetched (or a refetch failed), for [`REFETCH_INTERVAL`].
    fetched_at: Option<Instant>,
    /// When a fetch with nothing cached last failed, for [`RETRY_AFTER_FAILURE`].
    failed_at: Option<Instant>,
}

/// Why the key set could not be had; logged, never shown to the caller.
#[derive(Debug, thiserror::Error)]
enum KeyError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a JWKS document: {source}")]
    FileJson {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{from} has no \"keys\" array")]
    NotJwks { from: String },
    #[error("cannot build an HTTP client: {0}")]
    Client(reqwest::Error),
    #[error("cannot fetch {url}: {source}")]
    Fetch { url: String, source: reqwest::Error },
    #[error("{url} answered {status}")]
    Status { url: String, status: StatusCode },
    #[error("{url} has no jwks_uri")]
    NoJwksUri { url: String },
    #[error("{url} is not an http or https URL")]
    BadUrl { url: String },
}

impl JwtAuthorizer {
    pub fn new(issuer: String, audience: Vec<String>, keys: KeySource) -> Self {
        Self {
            issuer,
            audience,
            keys,
            refetch_interval: REFETCH_INTERVAL,
            cache: Mutex::new(KeyCache::default()),
        }
    }

    /// `header_value`: the identity source's value (None when the request lacks it).
    /// A leading `Bearer ` is dropped, as AWS drops it.
    pub async fn authorize(
        &self,
        header_value: Option<&str>,
        required_scopes: &[String],
    ) -> Result<JwtContext, JwtRejection> {
        let token = header_value
            .map(strip_bearer)
            .filter(|t| !t.is_empty())
            .ok_or(JwtRejection::Missing)?;
        let header = decode_header(token).map_err(|_| JwtRejection::Malformed)?;
        let alg = header.alg;
        if !ALGORITHMS.contains(&alg) {
            return Err(JwtRejection::UnsupportedAlgorithm(format!("{alg:?}")));
        }
        // Keys embedded in the token (`jwk`, `jku`, `x5u`) are ignored: only the issuer's
        // own set is trusted.
        let kid = header.kid.as_deref().ok_or(JwtRejection::UnknownKey)?;
        let key = self.key(kid).await?;
        if let Some(pinned) = key.alg
            && Algorithm::from_str(&pinned.to_string()).ok() != Some(alg)
        {
            return Err(JwtRejection::UnsupportedAlgorithm(format!("{alg:?}")));
        }

        let mut validation = Validation::new(alg);
        validation.leeway = LEEWAY.as_secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        // Issuer and audience are checked below, with AWS's `client_id` fallback.
        validation.validate_aud = false;
        validation.required_spec_claims = ["exp".to_string()].into();
        let claims = decode::<Map<String, Value>>(token, &key.key, &validation)
            .map_err(|e| rejection(&e, alg))?
            .claims;

        if claims.get("iss").and_then(Value::as_str) != Some(self.issuer.as_str()) {
            return Err(JwtRejection::WrongIssuer);
        }
        if !self.audience_matches(&claims) {
            return Err(JwtRejection::WrongAudience);
        }
        // `nbf` was checked with `exp`, but only if it is a number.
        if claims.get("nbf").is_some_and(|nbf| !nbf.is_number()) {
            return Err(JwtRejection::Malformed);
        }
        if let Some(iat) = claims.get("iat") {
            let iat = iat.as_f64().ok_or(JwtRejection::Malformed)?;
            if iat > (unix_now() + LEEWAY.as_secs()) as f64 {
                return Err(JwtRejection::IssuedInFuture);
            }
        }

        let scopes = if required_scopes.is_empty() {
            None
        } else {
            let granted = token_scopes(&claims);
            if !required_scopes.iter().any(|s| granted.contains(s)) {
                return Err(JwtRejection::InsufficientScope);
            }
            Some(granted)
        };
        let claims = claims
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(claim_string(v))))
            .collect();
        Ok(JwtContext { claims, scopes })
    }

    /// AWS checks `aud` when the token has one, and `client_id` only when it has not.
    fn audience_matches(&self, claims: &Map<String, Value>) -> bool {
        let known = |s: &str| self.audience.iter().any(|a| a == s);
        match claims.get("aud") {
            Some(Value::String(aud)) => known(aud),
            Some(Value::Array(auds)) => auds.iter().filter_map(Value::as_str).any(known),
            Some(_) => false,
            None => claims
                .get("client_id")
                .and_then(Value::as_str)
                .is_some_and(known),
        }
    }

    /// The key named `kid`, from the cache or, when that is stale, from the source.
    async fn key(&self, kid: &str) -> Result<VerifyingKey, JwtRejection> {
        let mut cache = self.cache.lock().await;
        let keys = match &self.keys {
            KeySource::File(path) => self.file_keys(&mut cache, path).await?,
            KeySource::Url(_) | KeySource::Discover => self.fetched_keys(&mut cache, kid).await?,
        };
        keys.get(kid).cloned().ok_or(JwtRejection::UnknownKey)
    }

    async fn file_keys(
        &self,
        cache: &mut KeyCache,
        path: &std::path::Path,
    ) -> Result<KeySet, JwtRejection> {
        let read = async {
            let meta = tokio::fs::metadata(path)
                .await
                .map_err(|source| KeyError::Read {
                    path: path.to_path_buf(),
                    source,
                })?;
            let stamp = (meta.modified().unwrap_or(UNIX_EPOCH), meta.len());
            if let (Some(keys), Some(cached)) = (&cache.keys, cache.file_stamp)
                && cached == stamp
            {
                return Ok(keys.clone());
            }
            let bytes = tokio::fs::read(path)
                .await
                .map_err(|source| KeyError::Read {
                    path: path.to_path_buf(),
                    source,
                })?;
            let keys = parse_jwks(&bytes, path)?;
            cache.keys = Some(keys.clone());
            cache.file_stamp = Some(stamp);
            Ok::<_, KeyError>(keys)
        };
        read.await.map_err(|e| self.unavailable(&e))
    }

    async fn fetched_keys(&self, cache: &mut KeyCache, kid: &str) -> Result<KeySet, JwtRejection> {
        let recently =
            |at: Option<Instant>, within: Duration| at.is_some_and(|t| t.elapsed() < within);
        if let Some(keys) = &cache.keys {
            if keys.contains_key(kid) || recently(cache.fetched_at, self.refetch_interval) {
                return Ok(keys.clone());
            }
        } else if recently(cache.failed_at, RETRY_AFTER_FAILURE) {
            return Err(JwtRejection::KeysUnavailable);
        }
        match self.fetch().await {
            Ok(keys) => {
                cache.keys = Some(keys.clone());
                cache.fetched_at = Some(Instant::now());
                cache.failed_at = None;
                Ok(keys)
            }
            Err(e) => {
                if cache.keys.is_some() {
                    cache.fetched_at = Some(Instant::now());
                } else {
                    cache.failed_at = Some(Instant::now());
                }
                Err(self.unavailable(&e))
            }
        }
    }

    fn unavailable(&self, e: &KeyError) -> JwtRejection {
        tracing::warn!(issuer = %self.issuer, error = %e, "JWT authorizer has no signing keys");
        JwtRejection::KeysUnavailable
    }

    async fn fetch(&self) -> Result<KeySet, KeyError> {
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .build()
            .map_err(KeyError::Client)?;
        let jwks_uri = match &self.keys {
            KeySource::Url(url) => url.clone(),
            _ => {
                let url = format!(
                    "{}/.well-known/openid-configuration",
                    self.issuer.trim_end_matches('/')
                );
                let config: Value = get_json(&client, &url).await?;
                config
                    .get("jwks_uri")
                    .and_then(Value::as_str)
                    .ok_or(KeyError::NoJwksUri { url })?
                    .to_string()
            }
        };
        let raw: Value = get_json(&client, &jwks_uri).await?;
        parse_jwks_value(raw, &jwks_uri)
    }
}

async fn get_json(client: &reqwest::Client, url: &str) -> Result<Value, KeyError> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(KeyError::BadUrl { url: url.into() });
    }
    let fetch_error = |source: reqwest::Error| KeyError::Fetch {
        url: url.into(),
        source: source.without_url(),
    };
    let response = client.get(url).send().await.map_err(fetch_error)?;
    let status = response.status();
    if !status.is_success() {
        return Err(KeyError::Status {
            url: url.into(),
            status,
        });
    }
    response.json().await.map_err(fetch_error)
}

/// The usable keys of a JWKS file, by `kid`.
fn parse_jwks(bytes: &[u8], path: &std::path::Path) -> Result<KeySet, KeyError> {
    let raw = serde_json::from_slice(bytes).map_err(|source| KeyError::FileJson {
        path: path.to_path_buf(),
        source,
    })?;
    parse_jwks_value(raw, &path.display().to_string())
}

/// Keys the box cannot use (no `kid`, meant for encryption, symmetric, or of a type or
/// curve it does not know) are skipped one by one, so that one exotic key does not take
/// the whole set down with it.
fn parse_jwks_value(mut raw: Value, from: &str) -> Result<KeySet, KeyError> {
    let Some(Value::Array(entries)) = raw.get_mut("keys").map(Value::take) else {
        return Err(KeyError::NotJwks { from: from.into() });
    };
    let mut keys = HashMap::new();
    for entry in entries {
        let Ok(jwk) = serde_json::from_value::<Jwk>(entry) else {
            continue;
        };
        let Some(kid) = jwk.common.key_id.clone() else {
            continue;
        };
        if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption))
            || matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_))
        {
            continue;
        }
        if let Ok(key) = DecodingKey::from_jwk(&jwk) {
            let alg = jwk.common.key_algorithm;
            keys.insert(kid, VerifyingKey { key, alg });
        }
    }
    Ok(Arc::new(keys))
}

fn rejection(e: &jsonwebtoken::errors::Error, alg: Algorithm) -> JwtRejection {
    use jsonwebtoken::errors::ErrorKind;
    match e.kind() {
        ErrorKind::ExpiredSignature => JwtRejection::Expired,
        ErrorKind::ImmatureSignature => JwtRejection::NotYetValid,
        ErrorKind::MissingRequiredClaim(_) => JwtRejection::NoExpiry,
        ErrorKind::InvalidSignature
        | ErrorKind::Crypto(_)
        | ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidRsaKey(_) => JwtRejection::BadSignature,
        // The key `kid` names is of another family than the token's `alg`.
        ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => {
            JwtRejection::UnsupportedAlgorithm(format!("{alg:?}"))
        }
        _ => JwtRejection::Malformed,
    }
}

/// The identity source's value without its `Bearer ` scheme, in any case.
fn strip_bearer(value: &str) -> &str {
    let value = value.trim();
    if value.eq_ignore_ascii_case("bearer") {
        return "";
    }
    match value.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("bearer ") => value[7..].trim_start(),
        _ => value,
    }
}

/// The token's scopes: `scope` is a space-separated string, `scp` an array or a string.
fn token_scopes(claims: &Map<String, Value>) -> Vec<String> {
    let mut scopes: Vec<String> = Vec::new();
    for name in ["scope", "scp"] {
        let found: Vec<&str> = match claims.get(name) {
            Some(Value::String(s)) => s.split_whitespace().collect(),
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        for s in found {
            if !scopes.iter().any(|have| have == s) {
                scopes.push(s.to_string());
            }
        }
    }
    scopes
}

/// A claim value as API Gateway hands it to the integration: strings as they are,
/// other values in the Go `%v` form AWS produces (`[a b]`, `map[k:v]`).
fn claim_string(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "<nil>".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(claim_string).collect();
            format!("[{}]", items.join(" "))
        }
        Value::Object(fields) => {
            let mut fields: Vec<(&String, &Value)> = fields.iter().collect();
            fields.sort_by(|a, b| a.0.cmp(b.0));
            let fields: Vec<String> = fields
                .into_iter()
                .map(|(k, v)| format!("{k}:{}", claim_string(v)))
                .collect();
            format!("map[{}]", fields.join(" "))
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use jsonwebtoken::{EncodingKey, Header, encode};
    use std::sync::atomic::{AtomicUsize, Ordering};

    const ISSUER: &str = "https://idp.example.test/";
    const JWKS: &str = include_str!("../../tests/fixtures/jwt/jwks.json");
    const RSA_A: &str = include_str!("../../tests/fixtures/jwt/rsa-a.pem");
    const RSA_B: &str = include_str!("../../tests/fixtures/jwt/rsa-b.pem");
    const EC: &str = include_str!("../../tests/fixtures/jwt/ec-p256.pem");

    fn der(pem: &str) -> Vec<u8> {
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        STANDARD.decode(body).expect("pem body")
    }

    /// The fixture set reduced to the keys named.
    fn jwks(kids: &[&str]) -> Value {
        let all: Value = serde_json::from_str(JWKS).expect("fixture jwks");
        let keys: Vec<Value> = all["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .filter(|k| kids.contains(&k["kid"].as_str().unwrap_or_default()))
            .cloned()
            .collect();
        serde_json::json!({ "keys": keys })
    }

    fn now() -> i64 {
        unix_now() as i64
    }

    fn claims(extra: Value) -> Value {
        let mut c = serde_json::json!({
            "iss": ISSUER,
            "aud": "my-api",
            "sub": "user-1",
            "exp": now() + 300,
            "iat": now(),
        });
        if let (Some(c), Value::Object(extra)) = (c.as_object_mut(), extra) {
            for (k, v) in extra {
                if v.is_null() {
                    c.remove(&k);
                } else {
                    c.insert(k, v);
                }
            }
        }
        c
    }

    fn sign_with(pem: &str, alg: Algorithm, kid: Option<&str>, claims: &Value) -> String {
        let mut header = Header::new(alg);
        header.kid = kid.map(str::to_string);
        let key = match alg {
            Algorithm::ES256 => EncodingKey::from_ec_der(&der(pem)),
            _ => EncodingKey::from_rsa_der(&der(pem)),
        };
        encode(&header, claims, &key).expect("sign")
    }

    fn token(extra: Value) -> String {
        sign_with(RSA_A, Algorithm::RS256, Some("key-a"), &claims(extra))
    }

    struct Fixture {
        _dir: tempfile::TempDir,
        path: PathBuf,
        auth: JwtAuthorizer,
    }

    fn file_authorizer(kids: &[&str]) -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("jwks.json");
        std::fs::write(&path, jwks(kids).to_string()).expect("write jwks");
        let auth = JwtAuthorizer::new(
            ISSUER.into(),
            vec!["other-api".into(), "my-api".into()],
            KeySource::File(path.clone()),
        );
        Fixture {
            _dir: dir,
            path,
            auth,
        }
    }

    async fn check(auth: &JwtAuthorizer, token: &str) -> Result<JwtContext, JwtRejection> {
        auth.authorize(Some(token), &[]).await
    }

    #[tokio::test]
    async fn a_valid_token_yields_its_claims_as_aws_passes_them() {
        let f = file_authorizer(&["key-a", "key-b"]);
        let t = token(serde_json::json!({
            "cognito:groups": ["admin", "dev"],
            "email_verified": true,
            "address": {"zip": "1000", "city": "X"},
        }));
        let ctx = check(&f.auth, &t).await.expect("valid");
        assert_eq!(ctx.claims["sub"], "user-1");
        assert_eq!(ctx.claims["exp"], Value::String((now() + 300).to_string()));
        assert_eq!(ctx.claims["cognito:groups"], "[admin dev]");
        assert_eq!(ctx.claims["email_verified"], "true");
        assert_eq!(ctx.claims["address"], "map[city:X zip:1000]");
        assert_eq!(ctx.scopes, None);
        let event = ctx.to_event_value();
        assert_eq!(event["claims"]["aud"], "my-api");
        assert_eq!(event["scopes"], Value::Null);
    }

    #[tokio::test]
    async fn the_bearer_scheme_is_dropped_in_any_case() {
        let f = file_authorizer(&["key-a"]);
        let t = token(Value::Null);
        for value in [
            format!("Bearer {t}"),
            format!("bearer {t}"),
            format!("BEARER  {t} "),
        ] {
            assert!(
                f.auth.authorize(Some(&value), &[]).await.is_ok(),
                "{value:.10}"
            );
        }
    }

    #[tokio::test]
    async fn a_missing_token_is_401_with_a_bare_challenge() {
        let f = file_authorizer(&["key-a"]);
        for value in [None, Some(""), Some("Bearer "), Some("  ")] {
            let e = f.auth.authorize(value, &[]).await.expect_err("missing");
            assert_eq!(e, JwtRejection::Missing);
            assert_eq!(e.status(), StatusCode::UNAUTHORIZED);
            assert_eq!(e.www_authenticate().as_deref(), Some("Bearer"));
        }
        let e = check(&f.auth, "not-a-jwt").await.expect_err("garbage");
        assert_eq!(e, JwtRejection::Malformed);
    }

    #[tokio::test]
    async fn issuer_must_match_exactly() {
        let f = file_authorizer(&["key-a"]);
        let other = token(serde_json::json!({"iss": "https://idp.example.test"}));
        assert_eq!(check(&f.auth, &other).await, Err(JwtRejection::WrongIssuer));
        let none = token(serde_json::json!({"iss": null}));
        assert_eq!(check(&f.auth, &none).await, Err(JwtRejection::WrongIssuer));
    }

    #[tokio::test]
    async fn audience_is_a_string_or_an_array() {
        let f = file_authorizer(&["key-a"]);
        let wrong = token(serde_json::json!({"aud": "someone-else"}));
        let e = check(&f.auth, &wrong).await.expect_err("wrong aud");
        assert_eq!(e, JwtRejection::WrongAudience);
        assert_eq!(
            e.www_authenticate().as_deref(),
            Some(
                "Bearer scope=\"\" error=\"invalid_token\" error_description=\"the token does not have a valid audience\""
            )
        );
        let array = token(serde_json::json!({"aud": ["x", "my-api"]}));
        assert!(check(&f.auth, &array).await.is_ok());
        let array = token(serde_json::json!({"aud": ["x", "y"]}));
        assert_eq!(
            check(&f.auth, &array).await,
            Err(JwtRejection::WrongAudience)
        );
    }

    #[tokio::test]
    async fn client_id_stands_in_only_for_a_missing_aud() {
        let f = file_authorizer(&["key-a"]);
        let access = token(serde_json::json!({"aud": null, "client_id": "my-api"}));
        assert!(check(&f.auth, &access).await.is_ok());
        let neither = token(serde_json::json!({"aud": null, "client_id": "nope"}));
        assert_eq!(
            check(&f.auth, &neither).await,
            Err(JwtRejection::WrongAudience)
        );
        let aud_wins = token(serde_json::json!({"aud": "nope", "client_id": "my-api"}));
        assert_eq!(
            check(&f.auth, &aud_wins).await,
            Err(JwtRejection::WrongAudience)
        );
    }

    #[tokio::test]
    async fn time_claims_are_enforced() {
        let f = file_authorizer(&["key-a"]);
        let expired = token(serde_json::json!({"exp": now() - 60}));
        let e = check(&f.auth, &expired).await.expect_err("expired");
        assert_eq!(e, JwtRejection::Expired);
        assert_eq!(
            e.www_authenticate().as_deref(),
            Some(
                "Bearer scope=\"\" error=\"invalid_token\" error_description=\"the token has expired\""
            )
        );
        let early = token(serde_json::json!({"nbf": now() + 60}));
        assert_eq!(check(&f.auth, &early).await, Err(JwtRejection::NotYetValid));
        let future = token(serde_json::json!({"iat": now() + 60}));
        assert_eq!(
            check(&f.auth, &future).await,
            Err(JwtRejection::IssuedInFuture)
        );
        let no_exp = token(serde_json::json!({"exp": null}));
        assert_eq!(check(&f.auth, &no_exp).await, Err(JwtRejection::NoExpiry));
        let odd = token(serde_json::json!({"nbf": "soon"}));
        assert_eq!(check(&f.auth, &odd).await, Err(JwtRejection::Malformed));
        let skewed = token(serde_json::json!({"nbf": now() + 2, "iat": now() + 2}));
        assert!(check(&f.auth, &skewed).await.is_ok());
    }

    #[tokio::test]
    async fn the_key_must_be_the_issuers_and_the_signature_its() {
        let f = file_authorizer(&["key-a"]);
        let unknown = sign_with(RSA_A, Algorithm::RS256, Some("nope"), &claims(Value::Null));
        assert_eq!(
            check(&f.auth, &unknown).await,
            Err(JwtRejection::UnknownKey)
        );
        let no_kid = sign_with(RSA_A, Algorithm::RS256, None, &claims(Value::Null));
        assert_eq!(check(&f.auth, &no_kid).await, Err(JwtRejection::UnknownKey));
        let forged = sign_with(RSA_B, Algorithm::RS256, Some("key-a"), &claims(Value::Null));
        assert_eq!(
            check(&f.auth, &forged).await,
            Err(JwtRejection::BadSignature)
        );
        // The set pins key-a to RS256.
        let other_alg = sign_with(RSA_A, Algorithm::RS512, Some("key-a"), &claims(Value::Null));
        assert!(matches!(
            check(&f.auth, &other_alg).await,
            Err(JwtRejection::UnsupportedAlgorithm(_))
        ));
    }

    #[tokio::test]
    async fn es256_keys_are_accepted() {
        let f = file_authorizer(&["key-a", "key-ec"]);
        let t = sign_with(EC, Algorithm::ES256, Some("key-ec"), &claims(Value::Null));
        assert!(check(&f.auth, &t).await.is_ok());
        // An RSA token claiming the EC key's kid.
        let t = sign_with(
            RSA_A,
            Algorithm::RS256,
            Some("key-ec"),
            &claims(Value::Null),
        );
        assert!(check(&f.auth, &t).await.is_err());
    }

    #[tokio::test]
    async fn unsigned_and_hmac_tokens_are_refused() {
        let f = file_authorizer(&["key-a"]);
        let payload = URL_SAFE_NO_PAD.encode(claims(Value::Null).to_string());
        let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT","kid":"key-a"}"#);
        let unsigned = format!("{none_header}.{payload}.");
        assert!(check(&f.auth, &unsigned).await.is_err());
        // HS256 keyed with the public modulus: the classic algorithm-confusion forgery.
        let n = jwks(&["key-a"])["keys"][0]["n"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("key-a".into());
        let hmac = encode(
            &header,
            &claims(Value::Null),
            &EncodingKey::from_secret(n.as_bytes()),
        )
        .expect("sign");
        assert_eq!(
            check(&f.auth, &hmac).await,
            Err(JwtRejection::UnsupportedAlgorithm("HS256".into()))
        );
    }

    #[tokio::test]
    async fn route_scopes_need_one_match_else_403() {
        let f = file_authorizer(&["key-a"]);
        let required = vec!["orders/write".to_string(), "admin".to_string()];
        let reader = token(serde_json::json!({"scope": "orders/read profile"}));
        let e = f
            .auth
            .authorize(Some(&reader), &required)
            .await
            .expect_err("scope");
        assert_eq!(e, JwtRejection::InsufficientScope);
        assert_eq!(e.status(), StatusCode::FORBIDDEN);
        assert_eq!(e.www_authenticate(), None);
        let no_scope = token(Value::Null);
        assert_eq!(
            f.auth.authorize(Some(&no_scope), &required).await,
            Err(JwtRejection::InsufficientScope)
        );

        let writer = token(serde_json::json!({"scope": "orders/read orders/write"}));
        let ctx = f
            .auth
            .authorize(Some(&writer), &required)
            .await
            .expect("scope");
        assert_eq!(
            ctx.scopes,
            Some(vec!["orders/read".into(), "orders/write".into()])
        );
        assert_eq!(ctx.to_event_value()["scopes"][1], "orders/write");
        let scp = token(serde_json::json!({"scp": ["admin"]}));
        let ctx = f.auth.authorize(Some(&scp), &required).await.expect("scp");
        assert_eq!(ctx.scopes, Some(vec!["admin".into()]));
    }

    #[tokio::test]
    async fn a_replaced_jwks_file_is_read_again() {
        let f = file_authorizer(&["key-a"]);
        let new = sign_with(RSA_B, Algorithm::RS256, Some("key-b"), &claims(Value::Null));
        assert!(check(&f.auth, &token(Value::Null)).await.is_ok());
        assert_eq!(check(&f.auth, &new).await, Err(JwtRejection::UnknownKey));

        std::fs::write(&f.path, jwks(&["key-b"]).to_string()).expect("rotate");
        // Both sets are the same size: make the change visible even on a coarse clock.
        let file = std::fs::File::options()
            .write(true)
            .open(&f.path)
            .expect("open");
        file.set_modified(SystemTime::now() + Duration::from_secs(10))
            .expect("mtime");
        assert!(check(&f.auth, &new).await.is_ok());
        assert_eq!(
            check(&f.auth, &token(Value::Null)).await,
            Err(JwtRejection::UnknownKey)
        );

        std::fs::remove_file(&f.path).expect("remove");
        assert_eq!(
            check(&f.auth, &new).await,
            Err(JwtRejection::KeysUnavailable)
        );
    }

    /// An identity provider on 127.0.0.1 serving discovery and a JWKS that tests swap.
    struct Idp {
        issuer: String,
        jwks: Arc<std::sync::Mutex<Value>>,
        jwks_hits: Arc<AtomicUsize>,
        server: tokio::task::JoinHandle<()>,
    }

    impl Drop for Idp {
        fn drop(&mut self) {
            self.server.abort();
        }
    }

    async fn idp(kids: &[&str]) -> Idp {
        use axum::routing::get;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let issuer = format!("http://{}", listener.local_addr().expect("addr"));
        let jwks = Arc::new(std::sync::Mutex::new(jwks(kids)));
        let jwks_hits = Arc::new(AtomicUsize::new(0));
        let config = serde_json::json!({"issuer": issuer, "jwks_uri": format!("{issuer}/keys")});
        let (set, hits) = (jwks.clone(), jwks_hits.clone());
        let app = axum::Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(move || async move { axum::Json(config) }),
            )
            .route(
                "/keys",
                get(move || async move {
                    hits.fetch_add(1, Ordering::SeqCst);
                    let body = set.lock().map(|v| v.clone()).unwrap_or(Value::Null);
                    axum::Json(body)
                }),
            );
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Idp {
            issuer,
            jwks,
            jwks_hits,
            server,
        }
    }

    fn token_for(issuer: &str, pem: &str, kid: &str) -> String {
        sign_with(
            pem,
            Algorithm::RS256,
            Some(kid),
            &claims(serde_json::json!({"iss": issuer})),
        )
    }

    #[tokio::test]
    async fn keys_are_discovered_from_the_issuer_and_cached() {
        let idp = idp(&["key-a"]).await;
        let auth = JwtAuthorizer::new(
            idp.issuer.clone(),
            vec!["my-api".into()],
            KeySource::Discover,
        );
        let t = token_for(&idp.issuer, RSA_A, "key-a");
        let ctx = check(&auth, &t).await.expect("discovered");
        assert_eq!(ctx.claims["iss"], Value::String(idp.issuer.clone()));
        assert!(check(&auth, &t).await.is_ok());
        assert_eq!(idp.jwks_hits.load(Ordering::SeqCst), 1, "the set is cached");
    }

    #[tokio::test]
    async fn an_unknown_kid_refetches_at_most_once_per_interval() {
        let idp = idp(&["key-a"]).await;
        let url = format!("{}/keys", idp.issuer);
        let mut auth = JwtAuthorizer::new(
            idp.issuer.clone(),
            vec!["my-api".into()],
            KeySource::Url(url),
        );
        let rotated = token_for(&idp.issuer, RSA_B, "key-b");
        assert!(
            check(&auth, &token_for(&idp.issuer, RSA_A, "key-a"))
                .await
                .is_ok()
        );
        *idp.jwks.lock().expect("lock") = jwks(&["key-b"]);
        // Within the interval the cached set answers, however many unknown kids arrive.
        assert_eq!(check(&auth, &rotated).await, Err(JwtRejection::UnknownKey));
        assert_eq!(check(&auth, &rotated).await, Err(JwtRejection::UnknownKey));
        assert_eq!(idp.jwks_hits.load(Ordering::SeqCst), 1);

        auth.refetch_interval = Duration::ZERO;
        assert!(check(&auth, &rotated).await.is_ok());
        assert_eq!(idp.jwks_hits.load(Ordering::SeqCst), 2);
        assert!(check(&auth, &rotated).await.is_ok());
        assert_eq!(
            idp.jwks_hits.load(Ordering::SeqCst),
            2,
            "a known kid does not refetch"
        );
    }

    #[tokio::test]
    async fn an_unreachable_issuer_means_401() {
        // Nothing listens there, and no port-0 bind is given it meanwhile.
        let issuer = format!("http://{}", esb_test_ports::reserve_addr());
        let auth = JwtAuthorizer::new(issuer.clone(), vec!["my-api".into()], KeySource::Discover);
        let e = check(&auth, &token_for(&issuer, RSA_A, "key-a"))
            .await
            .expect_err("no keys");
        assert_eq!(e, JwtRejection::KeysUnavailable);
        assert_eq!(e.status(), StatusCode::UNAUTHORIZED);
        let ftp = JwtAuthorizer::new(
            issuer.clone(),
            vec!["my-api".into()],
            KeySource::Url("ftp://127.0.0.1/keys".into()),
        );
        let e = check(&ftp, &token_for(&issuer, RSA_A, "key-a")).await;
        assert_eq!(e, Err(JwtRejection::KeysUnavailable));
    }

    #[test]
    fn unusable_keys_are_skipped_not_fatal() {
        let mut doc = jwks(&["key-a"]);
        if let Some(keys) = doc["keys"].as_array_mut() {
            keys.push(serde_json::json!({"kty": "oct", "kid": "sym", "k": "c2VjcmV0"}));
            keys.push(serde_json::json!({"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"}));
            keys.push(serde_json::json!({"kty": "weird", "kid": "w"}));
            keys.push(serde_json::json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"}));
        }
        let keys = parse_jwks(doc.to_string().as_bytes(), "t".as_ref()).expect("parses");
        let mut kids: Vec<&String> = keys.keys().collect();
        kids.sort();
        assert_eq!(kids, vec!["key-a"]);
        let not_a_set = parse_jwks(br#"{"kty":"RSA"}"#, "t".as_ref());
        assert!(matches!(not_a_set, Err(KeyError::NotJwks { .. })));
        let not_json = parse_jwks(b"{", "t".as_ref());
        assert!(matches!(not_json, Err(KeyError::FileJson { .. })));
    }
}
