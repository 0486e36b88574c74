//! Signature V4: the `Authorization` header, `X-Amz-Date`, the credential scope and the
//! canonical request of whatever a client sends. Input: a raw HTTP request.
//! Invariants: verification never panics; the same request signed by ESB's own signer
//! (what `esb invoke` and the box's clients send) always verifies.
#![no_main]

use std::time::SystemTime;

use esb_fuzz::{credentials, raw_request, sign};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(mut req) = raw_request(data) else {
        return;
    };
    let creds = credentials();
    let now = SystemTime::now();
    let uri = req
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let check = |req: &http::Request<bytes::Bytes>| {
        let signed = esb_auth::SignedRequest {
            method: req.method().as_str(),
            uri: &uri,
            headers: req.headers(),
            body: req.body(),
        };
        esb_auth::verify(&signed, &creds, "us-east-1", "lambda", now)
    };
    if let Err(e) = check(&req) {
        assert!(!e.to_string().is_empty());
        let _ = e.error_type();
    }
    // A declared payload hash that is not the body's is refused whoever signed it
    // (AWS: XAmzContentSHA256Mismatch); the round trip is about everything else.
    if let Some(declared) = req.headers().get("x-amz-content-sha256") {
        use sha2::Digest;
        let actual = hex::encode(sha2::Sha256::digest(req.body()));
        if declared.as_bytes() != b"UNSIGNED-PAYLOAD"
            && !declared.as_bytes().eq_ignore_ascii_case(actual.as_bytes())
        {
            req.headers_mut().remove("x-amz-content-sha256");
        }
    }
    if sign(&mut req, "lambda", false) {
        if let Err(e) = check(&req) {
            panic!("a request ESB signed does not verify: {e}");
        }
    }
});
