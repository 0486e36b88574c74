//! The `Globals` section. `Globals.Function` gives every function defaults; SAM's merge
//! rules apply in `function.rs` (a function's own value wins, maps such as
//! `Environment.Variables` merge key by key, lists such as `Layers` are concatenated
//! with the globals first). Other sections configure resources ESB does not run.

use crate::error::{Diagnostics, ErrorKind, TemplateError};
use crate::yaml_tree::{Entry, Node};

/// Globals sections SAM defines.
const SECTIONS: [&str; 7] = [
    "Function",
    "Api",
    "HttpApi",
    "SimpleTable",
    "StateMachine",
    "LayerVersion",
    "CapacityProvider",
];
/// Function properties SAM does not accept in Globals.
const NOT_GLOBAL: [&str; 2] = ["FunctionName", "Events"];

/// `Globals.Function`, checked.
#[derive(Debug, Clone, Copy, Default)]
pub struct FunctionGlobals<'a> {
    pub node: Option<&'a Node>,
}

impl<'a> FunctionGlobals<'a> {
    pub fn read(section: Option<&'a Entry>, diag: &mut Diagnostics) -> Result<Self, TemplateError> {
        let Some(section) = section else {
            return Ok(Self::default());
        };
        let file = diag.file.clone();
        let not_a_map = |node: &Node, path: &str| {
            TemplateError::new(
                &file,
                Some(node.pos),
                path,
                ErrorKind::Structure(format!("must be a mapping, not {}", node.shape())),
                "e.g. Globals: {Function: {Timeout: 10}}",
            )
        };
        if !section.value.is_map() {
            return Err(not_a_map(&section.value, "Globals"));
        }
        let mut function = None;
        for e in section.value.entries() {
            let path = format!("Globals.{}", e.key);
            match e.key.as_str() {
                "Function" if e.value.is_map() => function = Some(&e.value),
                "Function" => return Err(not_a_map(&e.value, &path)),
                // CorsConfiguration is acted on (cors.rs); the rest is not.
                "HttpApi" if e.value.is_map() => {
                    for h in e
                        .value
                        .entries()
                        .iter()
                        .filter(|h| h.key != "CorsConfiguration")
                    {
                        diag.warn_once(
                            &format!("globals HttpApi {}", h.key),
                            h.key_pos,
                            &format!("{path}.{}", h.key),
                            "is not supported by ESB yet; ignored".into(),
                        );
                    }
                }
                known if SECTIONS.contains(&known) => diag.warn_once(
                    &format!("globals {known}"),
                    e.key_pos,
                    &path,
                    "configures resources ESB does not run; ignored".into(),
                ),
                _ => {
                    return Err(diag.error(
                        e.key_pos,
                        &path,
                        ErrorKind::Structure("is not a Globals section".into()),
                        format!("Globals has {}", SECTIONS.join(", ")),
                    ));
                }
            }
        }
        for e in function.map(Node::entries).unwrap_or_default() {
            if NOT_GLOBAL.contains(&e.key.as_str()) {
                return Err(diag.error(
                    e.key_pos,
                    &format!("Globals.Function.{}", e.key),
                    ErrorKind::Structure(format!("{} cannot be set in Globals", e.key)),
                    "set it on each function",
                ));
            }
        }
        Ok(Self { node: function })
    }

    /// A global property and the path to it.
    pub fn property(&self, key: &str) -> Option<(&'a Entry, String)> {
        self.node
            .and_then(|n| n.entry(key))
            .map(|e| (e, format!("Globals.Function.{key}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml_tree::parse;

    fn read(yaml: &str) -> (Result<bool, String>, usize) {
        let root = parse(yaml).ok().flatten().expect("yaml");
        let mut diag = Diagnostics::new("t.yaml");
        let r = FunctionGlobals::read(root.entry("Globals"), &mut diag)
            .map(|g| g.property("Timeout").is_some())
            .map_err(|e| e.to_string());
        (r, diag.into_warnings().len())
    }

    #[test]
    fn sections() {
        assert_eq!(
            read("Globals:\n  Function: {Timeout: 3}\n  Api: {}\n"),
            (Ok(true), 1)
        );
        let (r, _) = read("Globals:\n  Functions: {}\n");
        assert!(
            r.expect_err("typo")
                .contains("t.yaml:2:3: Globals.Functions: is not a Globals section")
        );
        let (r, _) = read("Globals:\n  Function: {FunctionName: x}\n");
        assert!(
            r.expect_err("not global")
                .contains("FunctionName cannot be set in Globals")
        );
    }
}
