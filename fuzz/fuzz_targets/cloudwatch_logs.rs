//! The CloudWatch Logs API as a client reaches it: the JSON protocol's envelope
//! (`X-Amz-Target`, body limits), members read with the model's errors, names, tokens,
//! PutLogEvents' batch rules, filter patterns, over a real store and catalogue. Input:
//! a raw HTTP request, signed here with the box's key unless it carries
//! `x-fuzz-unsigned`. Invariants: every answer is JSON; none is a 500.
#![no_main]

use std::sync::{Arc, OnceLock};

use esb_cloudwatch_logs::{Catalog, LogsFront, Service};
use esb_fuzz::{Answer, credentials, exchange, raw_request, runtime, sign};
use esb_logs::collector::Collector;
use esb_logs::{Retention, Store};
use libfuzzer_sys::fuzz_target;

fn front() -> &'static LogsFront {
    static FRONT: OnceLock<(tempfile::TempDir, LogsFront)> = OnceLock::new();
    &FRONT
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("tempdir");
            let store = Arc::new(
                Store::open(&dir.path().join("store"), Retention::default()).expect("store"),
            );
            let collector = Arc::new(Collector {
                store: Some(Arc::clone(&store)),
                external: None,
                token: String::new(),
            });
            let service = Service {
                store,
                catalog: Catalog::open(&dir.path().join("cw")).expect("catalog"),
                collector,
                region: "us-east-1".into(),
                account: "123456789012".into(),
            };
            (dir, LogsFront::new(service, credentials(), None))
        })
        .1
}

fuzz_target!(|data: &[u8]| {
    let Some(mut req) = raw_request(data) else {
        return;
    };
    if req.headers_mut().remove("x-fuzz-unsigned").is_none() && !sign(&mut req, "logs", false) {
        return;
    }
    let front = front().clone();
    let answer = runtime().block_on(exchange(req, move |req, source| {
        let front = front.clone();
        async move { front.handle(req, source).await }
    }));
    if let Some(Answer { status, body, .. }) = answer {
        assert_ne!(status, 500, "500: {}", String::from_utf8_lossy(&body));
        serde_json::from_slice::<serde_json::Value>(&body).expect("every answer is JSON");
    }
});
