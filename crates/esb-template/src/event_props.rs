//! The `Properties` of a function's event source (`Events.<name>`), checked the same
//! way for every kind: present and a mapping, every key one the kind has (an unknown
//! one is an error naming them all), and those ESB accepts but does not act on warned
//! about once.

use crate::error::{ErrorKind, TemplateError};
use crate::intrinsics::Resolver;
use crate::yaml_tree::Entry;

/// What an event kind accepts.
pub(crate) struct EventKind<'a> {
    /// As messages name it: `SQS`, `DynamoDB`, `Schedule`...
    pub name: &'a str,
    pub properties: &'a [&'a str],
    /// Accepted, but not acted on.
    pub ignored: &'a [&'a str],
    /// Why the ignored ones are not acted on, in the warning.
    pub ignored_because: &'a str,
    pub hint: &'a str,
}

/// The checked `Properties` entry of event `e` (at `path`).
pub(crate) fn checked<'e>(
    r: &Resolver<'_>,
    e: &'e Entry,
    path: &str,
    kind: &EventKind<'_>,
) -> Result<&'e Entry, TemplateError> {
    let props = e
        .value
        .entry("Properties")
        .filter(|p| p.value.is_map())
        .ok_or_else(|| {
            r.error(
                e.key_pos,
                path,
                ErrorKind::MissingProperty("Properties".into()),
                kind.hint,
            )
        })?;
    for p in props.value.entries() {
        let p_path = format!("{path}.Properties.{}", p.key);
        if !kind.properties.contains(&p.key.as_str()) {
            return Err(r.error(
                p.key_pos,
                &p_path,
                ErrorKind::Structure(format!(
                    "is not a property of {} events ({})",
                    kind.name,
                    kind.properties.join(", ")
                )),
                kind.hint,
            ));
        }
        if kind.ignored.contains(&p.key.as_str()) {
            r.warn_once(
                &format!("{} event property {}", kind.name, p.key),
                p.key_pos,
                &p_path,
                format!("is not acted on by ESB{}; ignored", kind.ignored_because),
            );
        }
    }
    Ok(props)
}
