//! The SAM template reader: YAML with CloudFormation tags into the positioned tree,
//! then the whole loader (parameters, conditions, intrinsics, Globals, functions, APIs,
//! buckets, tables). Input: the template text.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The tree is a pure function of the text.
    let first = esb_template::yaml_tree::parse(text);
    let again = esb_template::yaml_tree::parse(text);
    assert_eq!(first, again, "parse is not deterministic");
    let opts = esb_template::LoadOptions {
        parameter_overrides: vec!["Stage=fuzz".into()],
        ..Default::default()
    };
    match esb_template::load_str(text, Path::new("/nonexistent/fuzz/template.yaml"), &opts) {
        Ok(template) => {
            let _ = format!("{template:?}");
        }
        Err(e) => {
            // Every refusal says something.
            assert!(!e.to_string().is_empty());
        }
    }
});
