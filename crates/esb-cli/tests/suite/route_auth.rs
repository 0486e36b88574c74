//! Route authorization end to end (tests/projects/auth): `esb up` with explicit REST
//! and HTTP APIs whose routes use Lambda authorizers (TOKEN, REQUEST, HTTP simple
//! responses), a JWT authorizer with keys from a JWKS file, AWS_IAM (Signature V4, as
//! curl and the SDKs sign), API keys, and the original ESB's user auth — each answered
//! with API Gateway's status, body and error type, and the caller's identity landing
//! in `requestContext.authorizer` as AWS puts it.

use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::support;

struct Box_ {
    child: Child,
    state: PathBuf,
    url: String,
    client: reqwest::blocking::Client,
    output: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Box_ {
    fn start() -> Self {
        Self::start_with(&[], &[])
    }

    /// A box with more `esb up` flags and environment.
    fn start_with(extra: &[&str], env: &[(&str, &str)]) -> Self {
        let state = support::fresh_state_dir("route-auth");
        let port = support::free_addr().port();
        let jwks = support::repo_root().join("crates/esb-gateway/tests/fixtures/jwt/jwks.json");
        let mut child = support::esb_command()
            .arg("up")
            .arg("--template")
            .arg(support::repo_root().join("tests/projects/auth/template.yaml"))
            .arg("--state-dir")
            .arg(&state)
            .args(["--port", &port.to_string(), "--runtime", "process"])
            .args(["--api-key", "key-1", "--api-key", "key-2"])
            .arg("--jwks")
            .arg(format!("{ISSUER}={}", jwks.display()))
            .args(["--auth-user", "alice", "--auth-password", "wonderland"])
            .args(["--auth-api-key", "login-key"])
            .args(extra)
            .envs(env.iter().copied())
            .env_remove("AUTH_USER")
            .env_remove("X_API_KEY")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("esb up");
        let output = support::capture_output(&mut child);
        let client = support::https_client_within(&state, port, Duration::from_secs(300));
        Self {
            child,
            state,
            url: format!("https://127.0.0.1:{port}"),
            client,
            output,
        }
    }

    fn get(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let mut req = self.client.get(format!("{}{path}", self.url));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        answer(req.send().expect("request"))
    }

    /// The `requestContext.authorizer` the function saw.
    fn authorizer(&self, path: &str, headers: &[(&str, &str)]) -> Value {
        let (status, _, body) = self.get(path, headers);
        assert!((200..300).contains(&status), "{path}: {status} {body}");
        body["event"]["requestContext"]["authorizer"].clone()
    }
}

impl Drop for Box_ {
    fn drop(&mut self) {
        support::terminate(&mut self.child, Duration::from_secs(15));
        let _ = std::fs::remove_dir_all(&self.state);
    }
}

fn answer(resp: reqwest::blocking::Response) -> (u16, reqwest::header::HeaderMap, Value) {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().unwrap_or_default();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

const ISSUER: &str = "https://issuer.esb.test";

/// A token from the test's own issuer key (ES256, `key-ec` in the JWKS file).
fn jwt(claims: Value) -> String {
    let pem = std::fs::read(
        support::repo_root().join("crates/esb-gateway/tests/fixtures/jwt/ec-p256.pem"),
    )
    .expect("test key");
    let key = jsonwebtoken::EncodingKey::from_ec_pem(&pem).expect("EC key");
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some("key-ec".into());
    jsonwebtoken::encode(&header, &claims, &key).expect("sign")
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

fn error_of(
    status: u16,
    headers: &reqwest::header::HeaderMap,
    body: &Value,
) -> (u16, String, Value) {
    let kind = headers
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (status, kind, body.clone())
}

#[test]
fn lambda_authorizers_answer_as_api_gateway_and_cache_per_identity() {
    let b = Box_::start();
    // TOKEN: the policy allows the whole stage; principal and context (as strings) land
    // in the event; the explicit REST API's id and stage name the ARN and the event.
    let first = b.authorizer("/orders", &[("Authorization", "Bearer allow")]);
    assert_eq!(first["principalId"], "user-allow");
    assert_eq!(first["tenant"], "allow");
    assert_eq!(first["premium"], "true");
    assert_eq!(first["eventType"], "TOKEN");
    assert!(first["integrationLatency"].is_u64());
    // Cached for ReauthorizeEvery (300 s), and the cached policy serves other routes.
    let again = b.authorizer("/orders/7", &[("Authorization", "Bearer allow")]);
    assert_eq!(again["calls"], first["calls"], "the cache answered");
    let (_, _, body) = b.get("/orders", &[("Authorization", "Bearer allow")]);
    assert_eq!(body["event"]["requestContext"]["stage"], "v1");
    assert_eq!(body["event"]["requestContext"]["apiId"], "shop");

    for (token, expected) in [
        (
            None,
            (
                401,
                "UnauthorizedException",
                json!({"message": "Unauthorized"}),
            ),
        ),
        // ValidationExpression "Bearer [a-z]+" refuses before the function runs.
        (
            Some("Basic abc"),
            (
                401,
                "UnauthorizedException",
                json!({"message": "Unauthorized"}),
            ),
        ),
        (
            Some("Bearer unauthorized"),
            (
                401,
                "UnauthorizedException",
                json!({"message": "Unauthorized"}),
            ),
        ),
        (
            Some("Bearer deny"),
            (
                403,
                "AccessDeniedException",
                json!({"Message": "User is not authorized to access this resource with an explicit deny"}),
            ),
        ),
        (
            Some("Bearer boom"),
            (
                500,
                "AuthorizerConfigurationException",
                json!({"message": null}),
            ),
        ),
    ] {
        let headers: Vec<(&str, &str)> = token.map(|t| ("Authorization", t)).into_iter().collect();
        let (status, h, body) = b.get("/orders", &headers);
        let (s, kind, body) = error_of(status, &h, &body);
        assert_eq!((s, kind.as_str(), body), expected, "token {token:?}");
    }

    // REQUEST with ReauthorizeEvery 0: asked every time; the header is the identity.
    let one = b.authorizer("/tenant", &[("X-Tenant", "acme")]);
    let two = b.authorizer("/tenant", &[("X-Tenant", "acme")]);
    assert_eq!(one["eventType"], "REQUEST");
    assert_eq!(one["principalId"], "user-acme");
    assert_ne!(one["calls"], two["calls"], "no cache");
    assert_eq!(b.get("/tenant", &[]).0, 401, "no identity source");

    // HTTP API, payload 2.0 simple responses: the context nests under `lambda`, typed.
    let simple = b.authorizer("/simple", &[("X-Tenant", "acme")]);
    assert_eq!(simple["lambda"]["tenant"], "acme");
    assert_eq!(simple["lambda"]["premium"], true);
    let (status, h, body) = b.get("/simple", &[("X-Tenant", "deny")]);
    assert_eq!(
        error_of(status, &h, &body),
        (
            403,
            "AccessDeniedException".into(),
            json!({"message": "Forbidden"})
        )
    );
}

#[test]
fn jwt_authorizers_check_issuer_audience_expiry_and_scopes() {
    let b = Box_::start();
    let good = json!({"iss": ISSUER, "aud": "esb-tests", "sub": "u-1", "exp": now() + 600, "scope": "read admin"});
    let bearer = format!("Bearer {}", jwt(good.clone()));
    let auth = b.authorizer("/me", &[("Authorization", &bearer)]);
    assert_eq!(auth["jwt"]["claims"]["sub"], "u-1");
    assert_eq!(auth["jwt"]["claims"]["iss"], ISSUER);
    let scoped = b.authorizer("/admin", &[("Authorization", &bearer)]);
    assert_eq!(scoped["jwt"]["scopes"], json!(["read", "admin"]));

    let mut refused = Vec::new();
    for claims in [
        json!({"iss": "https://other.example", "aud": "esb-tests", "exp": now() + 600}),
        json!({"iss": ISSUER, "aud": "someone-else", "exp": now() + 600}),
        json!({"iss": ISSUER, "aud": "esb-tests", "exp": now() - 600}),
    ] {
        let (status, h, _) = b.get(
            "/me",
            &[("Authorization", &format!("Bearer {}", jwt(claims)))],
        );
        refused.push((status, h.contains_key("www-authenticate")));
    }
    assert_eq!(refused, vec![(401, true); 3]);
    assert_eq!(b.get("/me", &[]).0, 401);
    assert_eq!(
        b.get("/me", &[("Authorization", "Bearer not.a.jwt")]).0,
        401
    );
    // A valid token without the route's scope: 403, not 401.
    let reader =
        jwt(json!({"iss": ISSUER, "aud": "esb-tests", "exp": now() + 600, "scope": "read"}));
    assert_eq!(
        b.get("/admin", &[("Authorization", &format!("Bearer {reader}"))])
            .0,
        403
    );
}

#[test]
fn iam_routes_api_keys_and_the_original_user_auth() {
    let b = Box_::start();
    // AWS_IAM: unsigned → 403; signed with the box's issued key → the caller's IAM
    // identity in the payload 2.0 event; signed with another secret → 403.
    let url = format!("{}/iam", b.url);
    let (status, h, _) = answer(b.client.post(&url).body("{}").send().expect("post"));
    assert_eq!(
        (status, &h["x-amzn-errortype"]),
        (
            403,
            &"MissingAuthenticationTokenException"
                .parse::<reqwest::header::HeaderValue>()
                .expect("v")
        )
    );
    let creds = support::box_credentials(&b.state);
    let mut signed = b.client.post(&url).body("{}").build().expect("request");
    support::sign(&mut signed, &creds, SystemTime::now());
    let (status, _, body) = answer(b.client.execute(signed).expect("post"));
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["event"]["requestContext"]["authorizer"]["iam"]["accessKey"],
        json!(creds.0)
    );
    let mut forged = b.client.post(&url).body("{}").build().expect("request");
    support::sign(
        &mut forged,
        &(creds.0.clone(), "not-the-secret".into()),
        SystemTime::now(),
    );
    let (status, h, _) = answer(b.client.execute(forged).expect("post"));
    assert_eq!(
        (status, h["x-amzn-errortype"].to_str().expect("ascii")),
        (403, "InvalidSignatureException")
    );
    // A request signed ten minutes ago is a replay outside the window.
    let mut stale = b.client.post(&url).body("{}").build().expect("request");
    support::sign(
        &mut stale,
        &creds,
        SystemTime::now() - Duration::from_secs(600),
    );
    let (status, _, body) = answer(b.client.execute(stale).expect("post"));
    assert_eq!(status, 403);
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Signature expired")),
        "{body}"
    );

    // ApiKeyRequired: any of the box's keys.
    let keyed = format!("{}/keyed", b.url);
    for (key, status) in [(None, 403), (Some("wrong"), 403), (Some("key-2"), 200)] {
        let mut req = b.client.post(&keyed).body("{}");
        if let Some(k) = key {
            req = req.header("x-api-key", k);
        }
        assert_eq!(
            req.send().expect("post").status().as_u16(),
            status,
            "key {key:?}"
        );
    }

    // The original ESB's login, and routes with no authorizer of their own.
    let login = format!("{}/user/auth/v1", b.url);
    let body = json!({"AuthParameters": {"USERNAME": "alice", "PASSWORD": "wonderland"}});
    let resp = b
        .client
        .post(&login)
        .header("x-api-key", "login-key")
        .json(&body)
        .send()
        .expect("login");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["padma_user_authorized"], "true");
    let token = resp.json::<Value>().expect("json")["AuthenticationResult"]["IdToken"]
        .as_str()
        .expect("IdToken")
        .to_string();
    let wrong = json!({"AuthParameters": {"USERNAME": "alice", "PASSWORD": "guess"}});
    let resp = b
        .client
        .post(&login)
        .header("x-api-key", "login-key")
        .json(&wrong)
        .send()
        .expect("login");
    assert_eq!(resp.status(), 401);
    assert_eq!(
        b.client
            .post(&login)
            .json(&body)
            .send()
            .expect("login")
            .status(),
        401
    );
    assert_eq!(b.get("/legacy", &[]).0, 401);
    assert_eq!(
        b.get("/legacy", &[("Authorization", "Bearer forged.token.here")])
            .0,
        401
    );
    let user = b.authorizer("/legacy", &[("Authorization", &format!("Bearer {token}"))]);
    assert_eq!(user["claims"]["cognito:username"], "alice");
    // `Authorizer: NONE` opts a route out.
    assert_eq!(b.get("/public", &[]).0, 200);
}

#[test]
fn binary_media_types_and_rest_cors() {
    let b = Box_::start();
    let png = [0x89, b'P', b'N', b'G', 0x00, 0x01];
    let upload = format!("{}/upload", b.url);
    let (_, _, body) = answer(
        b.client
            .post(&upload)
            .header("content-type", "image/png")
            .body(png.to_vec())
            .send()
            .expect("post"),
    );
    assert_eq!(body["event"]["isBase64Encoded"], true);
    assert_eq!(body["event"]["body"], "iVBORwAB");
    let (_, _, body) = answer(
        b.client
            .post(&upload)
            .header("content-type", "text/plain")
            .body("hello")
            .send()
            .expect("post"),
    );
    assert_eq!(
        (
            body["event"]["body"].clone(),
            body["event"]["isBase64Encoded"].clone()
        ),
        (json!("hello"), json!(false))
    );
    // The REST API's Cors: preflight answered by the gateway, answers decorated.
    let resp = b
        .client
        .request(reqwest::Method::OPTIONS, format!("{}/orders", b.url))
        .header("Origin", "https://shop.example")
        .header("Access-Control-Request-Method", "GET")
        .send()
        .expect("preflight");
    assert_eq!(resp.status(), 204);
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
}

#[test]
fn the_invoke_api_opens_only_when_asked_and_keys_can_be_given() {
    let url = |b: &Box_| format!("{}/2015-03-31/functions/rest/invocations", b.url);
    // ESB_ACCESS_KEY_ID / ESB_SECRET_ACCESS_KEY replace the issued pair.
    let own = Box_::start_with(
        &[],
        &[
            ("ESB_ACCESS_KEY_ID", "ESBKOWNKEY0000000001"),
            ("ESB_SECRET_ACCESS_KEY", "own-secret"),
        ],
    );
    let mut req = own
        .client
        .post(url(&own))
        .body("{}")
        .build()
        .expect("request");
    support::sign(
        &mut req,
        &("ESBKOWNKEY0000000001".into(), "own-secret".into()),
        SystemTime::now(),
    );
    assert_eq!(own.client.execute(req).expect("invoke").status(), 200);
    assert_eq!(
        own.client
            .post(url(&own))
            .body("{}")
            .send()
            .expect("invoke")
            .status(),
        403
    );
    drop(own);
    // --open-invoke-api: unsigned calls pass (AWS_IAM routes too), and the box says so.
    let open = Box_::start_with(&["--open-invoke-api"], &[]);
    assert_eq!(
        open.client
            .post(url(&open))
            .body("{}")
            .send()
            .expect("invoke")
            .status(),
        200
    );
    assert_eq!(
        open.client
            .post(format!("{}/iam", open.url))
            .body("{}")
            .send()
            .expect("post")
            .status(),
        201
    );
    let output = open.output.lock().expect("output").join("\n");
    assert!(
        output.contains("WARNING: the Invoke API and AWS_IAM routes are OPEN"),
        "{output}"
    );
}
