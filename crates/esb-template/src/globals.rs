//! The `Globals` section. `Globals.Function` gives every function defaults; SAM's merge
//! rules apply in `function.rs` (a function's own value wins, maps such as
//! `Environment.Variables` merge key by key, lists such as `Layers` are concatenated
//! with the globals first). `Globals.Api` and `Globals.HttpApi` apply the same way to
//! every API of their type, explicit or implicit ([`Sources`]). Other sections configure
//! resources ESB does not run.

use crate::error::{Diagnostics, ErrorKind, TemplateError};
use crate::intrinsics::Resolver;
use crate::model::ApiType;
use crate::value::Value;
use crate::yaml_tree::{Entry, Node, Position};

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
                // Read with each API (api_resource.rs).
                "Api" | "HttpApi" if e.value.is_map() => {}
                "Api" | "HttpApi" => return Err(not_a_map(&e.value, &path)),
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

/// `Globals.Api` and `Globals.HttpApi` (mappings: [`FunctionGlobals::read`] refuses
/// anything else).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiGlobals<'a> {
    rest: Option<&'a Entry>,
    http: Option<&'a Entry>,
}

impl<'a> ApiGlobals<'a> {
    pub fn read(section: Option<&'a Entry>) -> Self {
        let get = |key: &str| {
            section
                .and_then(|s| s.value.entry(key))
                .filter(|e| e.value.is_map())
        };
        Self {
            rest: get("Api"),
            http: get("HttpApi"),
        }
    }

    /// The section for APIs of `kind`, and its path.
    pub fn section(&self, kind: ApiType) -> Option<(&'a Entry, &'static str)> {
        match kind {
            ApiType::Rest => self.rest.map(|e| (e, "Globals.Api")),
            ApiType::Http => self.http.map(|e| (e, "Globals.HttpApi")),
        }
    }
}

/// Where a resource's properties come from: its own `Properties` and a Globals
/// section, merged as SAM merges them.
pub struct Sources<'a> {
    /// The resource's `Properties` and their path.
    pub own: Option<(&'a Node, String)>,
    /// The Globals section and its path.
    pub globals: Option<(&'a Node, &'static str)>,
    /// Where to point when neither says more: the resource, or the first thing that
    /// made an implicit API.
    pub at: Position,
    pub path: String,
}

/// A property with Globals applied, and where it is written (the resource's own value
/// when it has one).
pub struct Merged {
    pub value: Value,
    pub at: Position,
    pub path: String,
}

impl Sources<'_> {
    /// Property `key`: the resource's value merged over the global one. The resource's
    /// `AWS::NoValue` removes the property, global value included.
    pub fn get(&self, r: &Resolver<'_>, key: &str) -> Result<Option<Merged>, TemplateError> {
        let global = match self
            .globals
            .and_then(|(n, base)| Some((n.entry(key)?, base)))
        {
            Some((e, base)) => {
                let path = format!("{base}.{key}");
                r.resolve(&e.value, &path)?.map(|value| Merged {
                    value,
                    at: e.key_pos,
                    path,
                })
            }
            None => None,
        };
        let Some((e, base)) = self
            .own
            .as_ref()
            .and_then(|(n, base)| Some((n.entry(key)?, base)))
        else {
            return Ok(global);
        };
        let path = format!("{base}.{key}");
        let Some(own) = r.resolve(&e.value, &path)? else {
            return Ok(None);
        };
        Ok(Some(Merged {
            value: match global {
                Some(g) => merge(g.value, own),
                None => own,
            },
            at: e.key_pos,
            path,
        }))
    }

    /// The most precise place written for the property path `keys` (e.g. `Auth`,
    /// `Authorizers`, `A`): the deepest entry found, the resource's on a tie.
    pub fn locate(&self, keys: &[&str]) -> (Position, String) {
        let mut best: Option<(usize, Position, String)> = None;
        let sources = [
            self.own.as_ref().map(|(n, base)| (*n, base.as_str())),
            self.globals,
        ];
        for (node, base) in sources.into_iter().flatten() {
            let mut at = None;
            let mut n = node;
            let mut depth = 0;
            for key in keys {
                let Some(e) = n.entry(key) else { break };
                at = Some(e.key_pos);
                n = &e.value;
                depth += 1;
            }
            let better = best.as_ref().is_none_or(|(d, _, _)| depth > *d);
            if better {
                best = Some((
                    depth,
                    at.unwrap_or(self.at),
                    format!("{base}.{}", keys.join(".")),
                ));
            }
        }
        best.map_or((self.at, self.path.clone()), |(_, at, path)| (at, path))
    }
}

/// SAM's merge of a global value and a resource's: mappings merge key by key
/// (recursively), lists concatenate with the global items first, and otherwise the
/// resource's value wins.
pub fn merge(global: Value, own: Value) -> Value {
    match (global, own) {
        (Value::Map(mut fields), Value::Map(own)) => {
            for (key, value) in own {
                match fields.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, slot)) => {
                        let old = std::mem::replace(slot, Value::Null);
                        *slot = merge(old, value);
                    }
                    None => fields.push((key, value)),
                }
            }
            Value::Map(fields)
        }
        (Value::List(mut items), Value::List(own)) => {
            items.extend(own);
            Value::List(items)
        }
        (_, own) => own,
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
            read("Globals:\n  Function: {Timeout: 3}\n  Api: {}\n  SimpleTable: {}\n"),
            (Ok(true), 1),
            "Api is read with each API; SimpleTable is not run"
        );
        let (r, _) = read("Globals:\n  HttpApi: [x]\n");
        assert!(
            r.expect_err("not a map")
                .contains("Globals.HttpApi: must be a mapping, not a list")
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

    #[test]
    fn merge_like_sam() {
        let s = |t: &str| Value::String(t.into());
        let map = |f: Vec<(&str, Value)>| {
            Value::Map(f.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
        };
        let global = map(vec![
            ("A", map(vec![("X", s("g")), ("Y", s("g"))])),
            ("L", Value::List(vec![s("1")])),
            ("S", s("g")),
        ]);
        let own = map(vec![
            ("A", map(vec![("Y", s("o"))])),
            ("L", Value::List(vec![s("2")])),
            ("S", map(vec![])),
        ]);
        assert_eq!(
            merge(global, own),
            map(vec![
                ("A", map(vec![("X", s("g")), ("Y", s("o"))])),
                ("L", Value::List(vec![s("1"), s("2")])),
                ("S", map(vec![])),
            ])
        );
    }
}
