//! `AWS::Serverless::LayerVersion` resources with a local `ContentUri`: what a function's
//! `Layers` may name. Each layer's directory is handed to the function as Lambda stacks
//! layers under `/opt`.

use std::path::{Path, PathBuf};

use crate::code_dir::local_dir;
use crate::error::{ErrorKind, TemplateError};
use crate::intrinsics::Resolver;
use crate::resources::Resource;

/// Properties that have no effect on a local run but are not worth a warning.
const ACCEPTED: [&str; 7] = [
    "LayerName",
    "ContentUri",
    "Description",
    "CompatibleRuntimes",
    "CompatibleArchitectures",
    "LicenseInfo",
    "RetentionPolicy",
];

/// A local layer: its ARN (what `Ref` gives) and its content directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalLayer {
    pub logical_id: String,
    pub arn: String,
    pub dir: PathBuf,
}

pub fn read(
    r: &Resolver<'_>,
    res: &Resource<'_>,
    template_dir: &Path,
) -> Result<LocalLayer, TemplateError> {
    for e in res.properties.map(|p| p.entries()).unwrap_or_default() {
        if !ACCEPTED.contains(&e.key.as_str()) {
            r.warn_once(
                &format!("layer property {}", e.key),
                e.key_pos,
                &format!("{}.Properties.{}", res.path(), e.key),
                "is not supported by ESB yet; ignored".into(),
            );
        }
    }
    let Some((content, path)) = res.property("ContentUri") else {
        return Err(r.error(
            res.key_pos,
            &format!("{}.Properties", res.path()),
            ErrorKind::MissingProperty("ContentUri".into()),
            "point ContentUri at the layer's directory (for Python, it holds python/)",
        ));
    };
    let dir = local_dir(r, content, &path, template_dir, |d| {
        ErrorKind::BadLayer(format!("layer directory {d} does not exist"))
    })?;
    Ok(LocalLayer {
        logical_id: res.id.to_string(),
        arn: r.layer_arn(res)?,
        dir,
    })
}
