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
