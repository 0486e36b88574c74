//! Shared by the integration tests: fixture paths and loading.
// Each test crate uses a different subset of these helpers.
#![allow(dead_code)]

use std::path::PathBuf;

use esb_template::{LoadOptions, Template, TemplateError};

pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// The fixtures' file modes matter (an executable `bootstrap`, one that is not); set
/// them in case the checkout did not keep them.
fn fix_modes() {
    use std::os::unix::fs::PermissionsExt;
    for (rel, mode) in [
        ("code/rust/bootstrap", 0o755),
        ("code/not-executable/bootstrap", 0o644),
    ] {
        std::fs::set_permissions(fixture(rel), std::fs::Permissions::from_mode(mode))
            .expect("fixture modes");
    }
}

pub fn load_with(rel: &str, opts: &LoadOptions) -> Result<Template, TemplateError> {
    fix_modes();
    esb_template::load(&fixture(rel), opts)
}

pub fn load(rel: &str, overrides: &[&str]) -> Result<Template, TemplateError> {
    let opts = LoadOptions {
        parameter_overrides: overrides.iter().map(|s| s.to_string()).collect(),
        ..LoadOptions::default()
    };
    load_with(rel, &opts)
}
