//! Test support: does an event ESB builds have the keys, nesting and JSON types of
//! AWS's sample events? (Values such as ids, times and addresses naturally differ.)

use serde_json::{Map, Value};

/// Every key AWS's sample has, at every level, with the same JSON type where the
/// sample has a value; and no key that neither sample has.
pub fn same_shape(
    ours: &Value,
    samples: &[&Value],
    path: &str,
    ignore: &[&str],
    data: &[&str],
    exhaustive: bool,
) {
    let (Value::Object(o), true) = (ours, !data.contains(&path)) else {
        return;
    };
    let objects: Vec<&Map<String, Value>> = samples.iter().filter_map(|s| s.as_object()).collect();
    for a in &objects {
        for k in a.keys().filter(|k| !ignore.contains(&k.as_str())) {
            assert!(o.contains_key(k), "missing {path}.{k}");
        }
    }
    for (k, v) in o {
        let theirs: Vec<&Value> = objects.iter().filter_map(|a| a.get(k)).collect();
        assert!(
            !exhaustive || !theirs.is_empty(),
            "{path}.{k} is in no AWS sample"
        );
        for t in &theirs {
            if !t.is_null() && !v.is_null() {
                assert_eq!(
                    std::mem::discriminant(v),
                    std::mem::discriminant(*t),
                    "type at {path}.{k}: {v} vs {t}"
                );
            }
        }
        same_shape(v, &theirs, &format!("{path}.{k}"), ignore, data, exhaustive);
    }
}

pub fn fixture(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/aws-events")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("AWS sample event {} is needed: {e}", path.display()));
    serde_json::from_str(&text).expect("fixture json")
}

/// Maps of payload 1.0 events whose keys are request data (header names, query
/// keys...), not shape.
pub const V1_DATA: [&str; 7] = [
    "$.headers",
    "$.multiValueHeaders",
    "$.queryStringParameters",
    "$.multiValueQueryStringParameters",
    "$.pathParameters",
    "$.stageVariables",
    "$.requestContext.authorizer",
];
