//! JWT authorizers: the bearer token (header, claims, signature, `exp`/`nbf`/`iat`,
//! issuer, audience, scopes) and the JWKS document the keys come from. Input:
//! `jwks` `%%` `token` `%%` required scopes (one per line) `%%` header JSON `%%` claims
//! JSON. The token is checked against the JWKS read from a file; the header and
//! claims are also signed with the fixture's key `key-a` and checked against its JWKS,
//! so the claim checks behind the signature are reached. Invariant: an accepted token
//! has the authorizer's issuer.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use esb_fuzz::{parts, runtime};
use esb_gateway::auth::jwt::{JwtAuthorizer, KeySource};
use libfuzzer_sys::fuzz_target;

const ISSUER: &str = "https://issuer.example.com";
const JWKS: &str = include_str!("../../crates/esb-gateway/tests/fixtures/jwt/jwks.json");
const KEY_A: &[u8] = include_bytes!("../../crates/esb-gateway/tests/fixtures/jwt/rsa-a.pem");

fn dir() -> &'static tempfile::TempDir {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("fixture.json"), JWKS).expect("jwks");
        dir
    })
}

fn authorize(jwks: PathBuf, token: &str, scopes: &[String]) {
    let authorizer = JwtAuthorizer::new(ISSUER.into(), vec!["aud".into()], KeySource::File(jwks));
    let result = runtime().block_on(authorizer.authorize(Some(token), scopes));
    match result {
        Ok(ctx) => {
            let v = ctx.to_event_value();
            assert_eq!(
                v["claims"]["iss"], ISSUER,
                "accepted a token of another issuer"
            );
        }
        Err(rejection) => {
            let _ = rejection.status();
            let _ = rejection.www_authenticate();
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let p = parts(data, 5);
    let scopes: Vec<String> = String::from_utf8_lossy(p[2])
        .lines()
        .map(str::to_string)
        .collect();
    if let Ok(token) = std::str::from_utf8(p[1]) {
        let path = dir().path().join("fuzzed.json");
        if std::fs::write(&path, p[0]).is_ok() {
            authorize(path, token, &scopes);
        }
    }
    let Ok(mut header) = serde_json::from_slice::<jsonwebtoken::Header>(p[3]) else {
        return;
    };
    let Ok(claims) = serde_json::from_slice::<serde_json::Value>(p[4]) else {
        return;
    };
    header.alg = jsonwebtoken::Algorithm::RS256;
    let Ok(key) = jsonwebtoken::EncodingKey::from_rsa_pem(KEY_A) else {
        return;
    };
    if let Ok(token) = jsonwebtoken::encode(&header, &claims, &key) {
        authorize(dir().path().join("fixture.json"), &token, &scopes);
    }
});
