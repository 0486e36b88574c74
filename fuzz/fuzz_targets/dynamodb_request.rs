//! The DynamoDB front's request limits and nesting guard (`limits::check`): what it
//! reads of every request body before the engine does (expressions, attribute values,
//! item collections, tags). Input: `X-Amz-Target` `%%` the JSON body. Invariants: no
//! panic, no stack overflow on deep nesting, a refusal has DynamoDB's type and a message.
#![no_main]

use esb_dynamodb::Operation;
use esb_fuzz::parts;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let p = parts(data, 2);
    let Ok(target) = std::str::from_utf8(p[0]) else {
        return;
    };
    let Some(op) = Operation::from_target(target.trim()) else {
        return;
    };
    assert_eq!(Operation::from_target(&op.target()), Some(op));
    if let Err(e) = esb_dynamodb::limits::check(op, p[1]) {
        assert!(!e.to_string().is_empty());
        assert!(e.error_type().ends_with("ValidationException"));
    }
});
