//! Test helper: a resolver over a small YAML snippet, with the default pseudo parameters.

use crate::error::Diagnostics;
use crate::intrinsics::{Pseudo, Resolver};
use crate::resources::ResourceTable;
use crate::{LoadOptions, parameters, yaml_tree};

pub fn resolver_for(yaml: &str, f: impl FnOnce(&Resolver<'_>)) {
    let root = match yaml_tree::parse(yaml) {
        Ok(Some(root)) => root,
        other => panic!("test YAML: {other:?}"),
    };
    let mut diag = Diagnostics::new("t.yaml");
    let params = parameters::resolve(root.entry("Parameters"), &Default::default(), &mut diag)
        .expect("parameters");
    let table = match root.entry("Resources") {
        Some(r) => {
            ResourceTable::build(r, &|at, p, k, h| diag.error(at, p, k, h)).expect("resources")
        }
        None => ResourceTable::default(),
    };
    let r = Resolver::new(
        diag,
        Pseudo::from(&LoadOptions::default()),
        params,
        root.entry("Conditions"),
        root.entry("Mappings"),
        table,
    )
    .expect("resolver");
    f(&r);
}

/// Loads a template with a Python function `Fn` given `function_props` (YAML lines at
/// property indentation, 6 spaces) and `resources` (lines at resource indentation, 2
/// spaces), as if it were in `tests/fixtures/valid`, where `../code/python` exists.
pub fn load_with_function(
    function_props: &str,
    resources: &str,
    opts: &LoadOptions,
) -> Result<crate::model::Template, crate::error::TemplateError> {
    let path =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid/unit.yaml");
    let source = format!(
        "Transform: AWS::Serverless-2016-10-31\nConditions:\n  Never: !Equals [a, b]\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: ../code/python\n      Handler: app.handler\n      Runtime: python3.12\n{function_props}{resources}"
    );
    crate::load_str(&source, &path, opts)
}
