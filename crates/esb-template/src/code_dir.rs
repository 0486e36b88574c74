//! `CodeUri` and `ContentUri`: ESB runs code from the project on disk, never from S3, so
//! each must name a local directory, relative to the template's directory as in SAM.

use std::path::{Path, PathBuf};

use crate::error::{ErrorKind, TemplateError};
use crate::intrinsics::Resolver;
use crate::value::Value;
use crate::yaml_tree::Entry;

/// Resolves `entry` to an existing directory (absolute when it can be made so).
/// `missing` builds the error kind for a directory that does not exist.
pub fn local_dir(
    r: &Resolver<'_>,
    entry: &Entry,
    path: &str,
    template_dir: &Path,
    missing: fn(String) -> ErrorKind,
) -> Result<PathBuf, TemplateError> {
    let text = match r.resolve(&entry.value, path)? {
        Some(Value::String(s)) if !s.starts_with("s3://") && !s.is_empty() => s,
        other => {
            return Err(r.error(
                entry.key_pos,
                path,
                ErrorKind::InvalidValue(format!(
                    "must be a local directory, not {}",
                    match &other {
                        Some(Value::String(s)) if s.is_empty() => "an empty string".to_string(),
                        Some(Value::String(s)) => format!("{s:?}"),
                        Some(v) => v.shape().to_string(),
                        None => "AWS::NoValue".to_string(),
                    }
                )),
                "ESB runs code from disk: give a directory relative to the template (S3 locations are for deployed stacks)",
            ));
        }
    };
    let dir = template_dir.join(&text);
    if dir.is_file() {
        return Err(r.error(
            entry.key_pos,
            path,
            ErrorKind::InvalidValue(format!("{} is a file, not a directory", dir.display())),
            "ESB runs unpacked code: point it at the directory the archive was built from",
        ));
    }
    if !dir.is_dir() {
        return Err(r.error(
            entry.key_pos,
            path,
            missing(dir.display().to_string()),
            "the path is relative to the template's directory; build or create it first",
        ));
    }
    Ok(dir.canonicalize().unwrap_or(dir))
}
