//! The S3 service as a client reaches it: s3s's routing, headers, query, XML bodies,
//! ranges, key encoding, then ESB's front (request ids, CORS, the early refusals) and
//! operations over a real store. Input: a raw HTTP request, signed here with the box's
//! key (so the parsers behind authentication are reached) unless it carries
//! `x-fuzz-unsigned`. Invariants: every answer is read whole; none is a 500.
#![no_main]

use std::sync::OnceLock;

use esb_fuzz::{Answer, credentials, exchange, raw_request, runtime, sign};
use esb_s3::{S3Front, Store};
use libfuzzer_sys::fuzz_target;

fn front() -> &'static S3Front {
    static FRONT: OnceLock<(tempfile::TempDir, S3Front)> = OnceLock::new();
    &FRONT
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("tempdir");
            let store = Store::open(dir.path(), "us-east-1").expect("store");
            let front = S3Front::new(store, credentials(), None);
            (dir, front)
        })
        .1
}

fuzz_target!(|data: &[u8]| {
    let Some(mut req) = raw_request(data) else {
        return;
    };
    if req.headers_mut().remove("x-fuzz-unsigned").is_none() && !sign(&mut req, "s3", true) {
        return;
    }
    let front = front().clone();
    let answer = runtime().block_on(exchange(req, move |req, source| {
        let front = front.clone();
        async move { front.handle(req, source).await }
    }));
    if let Some(Answer { status, body, .. }) = answer {
        assert_ne!(status, 500, "500: {}", String::from_utf8_lossy(&body));
    }
});
