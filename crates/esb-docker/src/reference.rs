//! Image names: a function's repository (`esb/<name>`, in the characters Docker
//! accepts) and splitting `NAME:TAG` references.

use crate::error::ImageError;

/// Prefix of every function image repository.
pub const FUNCTION_REPOSITORY_PREFIX: &str = "esb/";

/// `esb/<name>`: lowercased; runs of characters Docker refuses in a repository
/// (`_` included, so no name can produce an invalid `__`/`___` run) become one `-`.
pub fn function_repository(name: &str) -> String {
    let mut out = String::with_capacity(FUNCTION_REPOSITORY_PREFIX.len() + name.len());
    out.push_str(FUNCTION_REPOSITORY_PREFIX);
    let mut pending_dash = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            if pending_dash && out.len() > FUNCTION_REPOSITORY_PREFIX.len() {
                out.push('-');
            }
            pending_dash = false;
            out.push(c.to_ascii_lowercase());
        } else {
            pending_dash = true;
        }
    }
    if out.len() == FUNCTION_REPOSITORY_PREFIX.len() {
        out.push_str("function");
    }
    out
}

/// `(repository, tag)` of `NAME:TAG`; the tag is required (a `:` in a registry's
/// `host:port` is not one).
pub fn split(reference: &str) -> Result<(&str, &str), ImageError> {
    let bad = || ImageError::BadReference(reference.to_string());
    let (repo, tag) = reference.rsplit_once(':').ok_or_else(bad)?;
    if repo.is_empty() || tag.is_empty() || tag.contains('/') {
        return Err(bad());
    }
    Ok((repo, tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_are_valid_docker_names() {
        assert_eq!(function_repository("HelloFunction"), "esb/hellofunction");
        assert_eq!(function_repository("my_fn--v2"), "esb/my-fn-v2");
        assert_eq!(function_repository("_x_"), "esb/x");
        assert_eq!(function_repository("__"), "esb/function");
    }

    #[test]
    fn references_split_at_the_tag() {
        assert_eq!(split("esb/a:0123").expect("ok"), ("esb/a", "0123"));
        assert_eq!(
            split("127.0.0.1:5010/esb/a:latest").expect("ok"),
            ("127.0.0.1:5010/esb/a", "latest")
        );
        assert!(split("127.0.0.1:5010/esb/a").is_err());
        assert!(split("esb/a").is_err());
    }
}
