//! What the RIE reads from a runtime and a caller: the body (and `Lambda-Runtime-
//! Function-Error-Type`) a runtime posts to `/invocation/{id}/error` and `/init/error`,
//! rendered as the caller's function error, and `X-Amz-Client-Context`. Input:
//! error type `%%` body `%%` client context. Invariants: every rendered error is a
//! JSON object; an accepted client context is a JSON object a header can carry.
#![no_main]

use bytes::Bytes;
use esb_fuzz::parts;
use esb_rie::failure::Failure;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let p = parts(data, 3);
    let error_type = String::from_utf8_lossy(p[0]).into_owned();
    let body = Bytes::copy_from_slice(p[1]);
    for failure in [
        Failure::Function {
            body: body.clone(),
            error_type: error_type.clone(),
        },
        Failure::Init {
            body: body.clone(),
            error_type: error_type.clone(),
        },
        Failure::Exit {
            description: String::from_utf8_lossy(p[1]).into_owned(),
        },
    ] {
        let rendered = failure.render("8476a536-e9f4-11e8-9739-2dfe598c3fcd");
        let v: serde_json::Value =
            serde_json::from_slice(&rendered.body).expect("a function error is JSON");
        assert!(v.is_object(), "a function error is a JSON object");
    }
    if let Ok(encoded) = std::str::from_utf8(p[2]) {
        if let Ok(decoded) = esb_rie::invoke_api::decode_client_context(encoded) {
            let v: serde_json::Value =
                serde_json::from_str(&decoded).expect("a client context is JSON");
            assert!(v.is_object());
            assert!(
                http::HeaderValue::from_str(&decoded).is_ok(),
                "a client context the runtime cannot be given in a header"
            );
        }
    }
});
