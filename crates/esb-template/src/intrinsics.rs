//! CloudFormation intrinsic functions, resolved at load time against parameters, pseudo
//! parameters, conditions, mappings and the template's own resources, so what ESB runs
//! is what CloudFormation would have deployed.
//!
//! Resolution is lazy: a `Ref` to a function resolves that function's `FunctionName` when
//! first asked (whatever the order of resources in the file) and is remembered. The
//! chain of names being resolved is kept, so a cycle (`A`'s name refers to `B`, whose
//! name refers to `A`) is reported instead of recursing forever.

use std::cell::RefCell;
use std::collections::BTreeMap;

use base64::Engine;

use crate::error::{Diagnostics, ErrorKind, TemplateError};
use crate::load_options::LoadOptions;
use crate::resources::ResourceTable;
use crate::sub;
use crate::value::Value;
use crate::yaml_tree::{Entry, Node, NodeValue, Position};

/// Intrinsics ESB evaluates, by their name without `Fn::`.
const SUPPORTED: [&str; 14] = [
    "Ref",
    "Condition",
    "Sub",
    "GetAtt",
    "Join",
    "If",
    "Select",
    "Split",
    "FindInMap",
    "Base64",
    "Equals",
    "Not",
    "And",
    "Or",
];
const SUPPORTED_TEXT: &str = "Ref, Fn::Sub, Fn::GetAtt, Fn::Join, Fn::If, Fn::Select, Fn::Split, Fn::FindInMap, Fn::Base64, and in Conditions Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition";
const PSEUDO_HINT: &str = "AWS::Region, AWS::AccountId, AWS::StackName, AWS::StackId, AWS::Partition, AWS::URLSuffix, AWS::NoValue";

/// The account, region and stack a template is resolved for.
#[derive(Debug, Clone)]
pub struct Pseudo {
    pub region: String,
    pub account_id: String,
    pub stack_name: String,
    /// `LoadOptions::sqs_url`, for queue URLs.
    pub sqs_url: Option<String>,
}

impl From<&LoadOptions> for Pseudo {
    fn from(opts: &LoadOptions) -> Self {
        Self {
            region: opts.region.clone(),
            account_id: opts.account_id.clone(),
            stack_name: opts.stack_name.clone(),
            sqs_url: opts.sqs_url.clone(),
        }
    }
}

/// An intrinsic call found in the tree: `!Sub x` or `{"Fn::Sub": x}`.
pub(crate) struct Call<'n> {
    /// Without `Fn::` (`Sub`, `Ref`).
    pub name: String,
    pub arg: &'n Node,
    /// Whether `arg`'s own tag is an intrinsic to honour: false in the short form, where
    /// the tag is this very call.
    pub arg_tagged: bool,
    pub at: Position,
}

impl Call<'_> {
    /// The name as CloudFormation users write it in errors.
    pub fn display(&self) -> String {
        display_name(&self.name)
    }
}

fn display_name(name: &str) -> String {
    match name {
        "Ref" | "Condition" => name.to_string(),
        _ => format!("Fn::{name}"),
    }
}

/// Resolves template values. Shared, read-only state with interior caches, so every
/// part of the loader can resolve through one `&Resolver`.
pub struct Resolver<'a> {
    diag: RefCell<Diagnostics>,
    pub(crate) pseudo: Pseudo,
    params: BTreeMap<String, Value>,
    pub(crate) conditions: BTreeMap<&'a str, &'a Entry>,
    pub(crate) condition_values: RefCell<BTreeMap<String, bool>>,
    mappings: Option<&'a Node>,
    pub(crate) resources: ResourceTable<'a>,
    pub(crate) resource_values: RefCell<BTreeMap<String, Value>>,
    /// What is being resolved right now, outermost first: the cycle detector.
    evaluating: RefCell<Vec<String>>,
}

impl<'a> Resolver<'a> {
    pub fn new(
        diag: Diagnostics,
        pseudo: Pseudo,
        params: BTreeMap<String, Value>,
        conditions: Option<&'a Entry>,
        mappings: Option<&'a Entry>,
        resources: ResourceTable<'a>,
    ) -> Result<Self, TemplateError> {
        for (section, name) in [(conditions, "Conditions"), (mappings, "Mappings")] {
            if let Some(s) = section
                && !s.value.is_map()
            {
                return Err(diag.error(
                    s.value.pos,
                    name,
                    ErrorKind::Structure(format!("must be a mapping, not {}", s.value.shape())),
                    format!("{name} maps names to their definitions"),
                ));
            }
        }
        if let Some(m) = mappings {
            check_mappings(m, &diag)?;
        }
        Ok(Self {
            diag: RefCell::new(diag),
            pseudo,
            params,
            conditions: conditions
                .map(|c| {
                    c.value
                        .entries()
                        .iter()
                        .map(|e| (e.key.as_str(), e))
                        .collect()
                })
                .unwrap_or_default(),
            condition_values: RefCell::default(),
            mappings: mappings.map(|m| &m.value),
            resources,
            resource_values: RefCell::default(),
            evaluating: RefCell::default(),
        })
    }

    pub fn error(
        &self,
        at: Position,
        path: &str,
        kind: ErrorKind,
        hint: impl Into<String>,
    ) -> TemplateError {
        self.diag.borrow().error(at, path, kind, hint)
    }

    pub fn warn_once(&self, subject: &str, at: Position, path: &str, message: String) {
        self.diag.borrow_mut().warn_once(subject, at, path, message);
    }

    pub fn into_diagnostics(self) -> Diagnostics {
        self.diag.into_inner()
    }

    /// Resolves a node; `None` is `AWS::NoValue` (the property is removed).
    pub fn resolve(&self, node: &Node, path: &str) -> Result<Option<Value>, TemplateError> {
        self.resolve_node(node, path, true)
    }

    fn resolve_node(
        &self,
        node: &Node,
        path: &str,
        honor_tag: bool,
    ) -> Result<Option<Value>, TemplateError> {
        if let Some(call) = self.intrinsic(node, honor_tag, false, path)? {
            return self.call(&call, path);
        }
        Ok(Some(match &node.value {
            NodeValue::Scalar { text, quoted } => Value::from_scalar(text, *quoted),
            NodeValue::Seq(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    if let Some(v) = self.resolve(item, &format!("{path}[{i}]"))? {
                        out.push(v);
                    }
                }
                Value::List(out)
            }
            NodeValue::Map(entries) => {
                let mut out = Vec::with_capacity(entries.len());
                for e in entries {
                    if let Some(v) = self.resolve(&e.value, &join(path, &e.key))? {
                        out.push((e.key.clone(), v));
                    }
                }
                Value::Map(out)
            }
        }))
    }

    /// Resolves to text (numbers and booleans are written out, as CloudFormation does).
    pub fn string(&self, node: &Node, path: &str) -> Result<String, TemplateError> {
        self.string_node(node, path, true)
    }

    fn string_node(
        &self,
        node: &Node,
        path: &str,
        honor_tag: bool,
    ) -> Result<String, TemplateError> {
        match self.resolve_node(node, path, honor_tag)? {
            Some(v) => v.as_text().ok_or_else(|| {
                self.error(
                    node.pos,
                    path,
                    ErrorKind::InvalidValue(format!("must be a string, not {}", v.shape())),
                    "write a single value here",
                )
            }),
            None => Err(self.error(
                node.pos,
                path,
                ErrorKind::InvalidValue("AWS::NoValue cannot be used here".into()),
                "AWS::NoValue removes a property; this place needs a value",
            )),
        }
    }

    /// The intrinsic call a node is, if any. `condition` admits `{Condition: Name}`,
    /// which is a call only inside condition expressions.
    pub(crate) fn intrinsic<'n>(
        &self,
        node: &'n Node,
        honor_tag: bool,
        condition: bool,
        path: &str,
    ) -> Result<Option<Call<'n>>, TemplateError> {
        let call = match (&node.tag, node.entries()) {
            (Some(tag), _) if honor_tag => Call {
                name: tag.clone(),
                arg: node,
                arg_tagged: false,
                at: node.pos,
            },
            (_, [e]) if e.key == "Ref" || (condition && e.key == "Condition") => Call {
                name: e.key.clone(),
                arg: &e.value,
                arg_tagged: true,
                at: e.key_pos,
            },
            (_, [e]) if e.key.starts_with("Fn::") => Call {
                name: e.key["Fn::".len()..].to_string(),
                arg: &e.value,
                arg_tagged: true,
                at: e.key_pos,
            },
            _ => return Ok(None),
        };
        if !SUPPORTED.contains(&call.name.as_str()) {
            let shown = if node.tag.is_some() && honor_tag {
                format!("!{}", call.name)
            } else {
                call.display()
            };
            return Err(self.error(
                call.at,
                path,
                ErrorKind::UnsupportedIntrinsic(shown),
                format!("ESB resolves {SUPPORTED_TEXT}"),
            ));
        }
        Ok(Some(call))
    }

    fn call(&self, c: &Call<'_>, path: &str) -> Result<Option<Value>, TemplateError> {
        let s = |v: String| Ok(Some(Value::String(v)));
        match c.name.as_str() {
            "Ref" => {
                let target = c.arg.as_str().ok_or_else(|| {
                    self.bad(c, path, "Ref takes the name of a parameter or resource")
                })?;
                self.reference(target, c.at, path)
            }
            "GetAtt" => {
                let (res, attr) = match &c.arg.value {
                    NodeValue::Scalar { text, .. } => text
                        .split_once('.')
                        .map(|(a, b)| (a.to_string(), b.to_string())),
                    NodeValue::Seq(items) => match items.as_slice() {
                        [r, a] => match r.as_str() {
                            Some(r) => Some((r.to_string(), self.string(a, path)?)),
                            None => None,
                        },
                        _ => None,
                    },
                    NodeValue::Map(_) => None,
                }
                .ok_or_else(|| {
                    self.error(
                        c.at,
                        path,
                        ErrorKind::BadGetAtt(
                            "Fn::GetAtt takes Resource.Attribute or [Resource, Attribute]".into(),
                        ),
                        "e.g. !GetAtt MyFunction.Arn",
                    )
                })?;
                Ok(Some(self.attribute(&res, &attr, c.at, path)?))
            }
            "Sub" => {
                let (text, vars) = match &c.arg.value {
                    NodeValue::Scalar { text, .. } => (text.as_str(), None),
                    NodeValue::Seq(items) => match items.as_slice() {
                        [t, v] if t.as_str().is_some() && v.is_map() => {
                            (t.as_str().unwrap_or_default(), Some(v))
                        }
                        _ => {
                            return Err(self.bad(
                                c,
                                path,
                                "Fn::Sub takes a string or [string, {variables}]",
                            ));
                        }
                    },
                    NodeValue::Map(_) => {
                        return Err(self.bad(
                            c,
                            path,
                            "Fn::Sub takes a string or [string, {variables}]",
                        ));
                    }
                };
                let mut local = BTreeMap::new();
                for e in vars.map(Node::entries).unwrap_or_default() {
                    local.insert(e.key.as_str(), self.string(&e.value, &join(path, &e.key))?);
                }
                s(self.substitute(text, &local, c.at, path)?)
            }
            "Join" => {
                let [delim, list] = self.args(c, path, "[delimiter, [values]]")?;
                let delim = self.string(delim, path)?;
                let items = self.list(list, path, "Fn::Join")?;
                let mut parts = Vec::with_capacity(items.len());
                for v in items {
                    parts.push(v.as_text().ok_or_else(|| {
                        self.bad(
                            c,
                            path,
                            &format!("Fn::Join can only join strings, not {}", v.shape()),
                        )
                    })?);
                }
                s(parts.join(&delim))
            }
            "If" => {
                let [cond, then, otherwise] =
                    self.args(c, path, "[condition name, value if true, value if false]")?;
                let name = cond.as_str().ok_or_else(|| {
                    self.bad(c, path, "Fn::If's first argument is a condition name")
                })?;
                if self.condition_named(name, cond.pos, path)? {
                    self.resolve(then, path)
                } else {
                    self.resolve(otherwise, path)
                }
            }
            "Select" => {
                let [index, list] = self.args(c, path, "[index, [values]]")?;
                let index_text = self.string(index, path)?;
                let index: usize = index_text.parse().map_err(|_| {
                    self.bad(
                        c,
                        path,
                        &format!("Fn::Select's index {index_text:?} is not a whole number"),
                    )
                })?;
                let items = self.list(list, path, "Fn::Select")?;
                let len = items.len();
                items.into_iter().nth(index).map(Some).ok_or_else(|| {
                    self.bad(
                        c,
                        path,
                        &format!("Fn::Select index {index} is past the end of a list of {len}"),
                    )
                })
            }
            "Split" => {
                let [delim, source] = self.args(c, path, "[delimiter, string]")?;
                let delim = self.string(delim, path)?;
                let text = self.string(source, path)?;
                if delim.is_empty() {
                    return Err(self.bad(c, path, "Fn::Split's delimiter cannot be empty"));
                }
                Ok(Some(Value::List(
                    text.split(delim.as_str())
                        .map(|p| Value::String(p.into()))
                        .collect(),
                )))
            }
            "FindInMap" => {
                let [map, top, second] = self.args(c, path, "[map name, top key, second key]")?;
                let keys = [
                    self.string(map, path)?,
                    self.string(top, path)?,
                    self.string(second, path)?,
                ];
                let mut found = self.mappings;
                for k in &keys {
                    found = found.and_then(|n| n.get(k));
                }
                match found {
                    Some(v) => self.resolve(v, path),
                    None => Err(self.error(
                        c.at,
                        path,
                        ErrorKind::BadIntrinsic(format!("no Mappings entry {}", keys.join("."))),
                        "check the names under Mappings",
                    )),
                }
            }
            "Base64" => {
                let text = self.string_node(c.arg, path, c.arg_tagged)?;
                s(base64::engine::general_purpose::STANDARD.encode(text))
            }
            // Condition functions used as values: their truth.
            _ => Ok(Some(Value::Bool(self.condition_call(c, path)?))),
        }
    }

    /// Exactly `N` list arguments.
    pub(crate) fn args<'n, const N: usize>(
        &self,
        c: &Call<'n>,
        path: &str,
        form: &str,
    ) -> Result<[&'n Node; N], TemplateError> {
        let items: Option<Vec<&'n Node>> = match &c.arg.value {
            NodeValue::Seq(items) if items.len() == N => Some(items.iter().collect()),
            _ => None,
        };
        items
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| self.bad(c, path, &format!("{} takes {form}", c.display())))
    }

    fn list(&self, node: &Node, path: &str, func: &str) -> Result<Vec<Value>, TemplateError> {
        match self.resolve(node, path)? {
            Some(Value::List(items)) => Ok(items),
            other => Err(self.error(
                node.pos,
                path,
                ErrorKind::BadIntrinsic(format!(
                    "{func} needs a list here, not {}",
                    other.map_or("AWS::NoValue", |v| v.shape())
                )),
                "write a YAML list, or an intrinsic that gives one (Fn::Split, a list parameter)",
            )),
        }
    }

    pub(crate) fn bad(&self, c: &Call<'_>, path: &str, message: &str) -> TemplateError {
        self.error(
            c.at,
            path,
            ErrorKind::BadIntrinsic(message.to_string()),
            "see the CloudFormation reference of this intrinsic function",
        )
    }

    /// `Ref`: a parameter, a pseudo parameter or a resource; `None` for `AWS::NoValue`.
    pub(crate) fn reference(
        &self,
        target: &str,
        at: Position,
        path: &str,
    ) -> Result<Option<Value>, TemplateError> {
        if let Some(v) = self.params.get(target) {
            return Ok(Some(v.clone()));
        }
        let p = &self.pseudo;
        let pseudo = match target {
            "AWS::NoValue" => return Ok(None),
            "AWS::Region" => Some(p.region.clone()),
            "AWS::AccountId" => Some(p.account_id.clone()),
            "AWS::StackName" => Some(p.stack_name.clone()),
            "AWS::StackId" => Some(format!(
                "arn:aws:cloudformation:{}:{}:stack/{}/esb",
                p.region, p.account_id, p.stack_name
            )),
            "AWS::Partition" => Some("aws".into()),
            "AWS::URLSuffix" => Some("amazonaws.com".into()),
            "AWS::NotificationARNs" => return Ok(Some(Value::List(Vec::new()))),
            _ => None,
        };
        if let Some(v) = pseudo {
            return Ok(Some(Value::String(v)));
        }
        if self.resources.get(target).is_some() {
            return self.resource_ref(target, at, path).map(Some);
        }
        let params: Vec<&str> = self.params.keys().map(String::as_str).collect();
        Err(self.error(
            at,
            path,
            ErrorKind::UnknownRef(target.to_string()),
            format!(
                "Ref names a parameter ({}), a resource of this template or a pseudo parameter ({PSEUDO_HINT})",
                if params.is_empty() { "none declared".into() } else { params.join(", ") }
            ),
        ))
    }

    fn substitute(
        &self,
        template: &str,
        local: &BTreeMap<&str, String>,
        at: Position,
        path: &str,
    ) -> Result<String, TemplateError> {
        let parts = sub::parse(template).map_err(|why| {
            self.error(
                at,
                path,
                ErrorKind::BadIntrinsic(format!("Fn::Sub: {why}")),
                "write ${Name}, ${Resource.Attribute}, or ${!Literal} for a literal ${",
            )
        })?;
        let mut out = String::new();
        for part in parts {
            let name = match part {
                sub::Part::Text(t) => {
                    out.push_str(&t);
                    continue;
                }
                sub::Part::Var(name) => name,
            };
            if let Some(v) = local.get(name.as_str()) {
                out.push_str(v);
                continue;
            }
            let value = match name.split_once('.') {
                Some((res, attr)) if !name.starts_with("AWS::") => {
                    Some(self.attribute(res, attr, at, path)?)
                }
                _ => self.reference(&name, at, path)?,
            };
            let text = value.as_ref().and_then(Value::as_text).ok_or_else(|| {
                self.error(
                    at,
                    path,
                    ErrorKind::BadIntrinsic(format!(
                        "Fn::Sub cannot insert ${{{name}}}: it is {}",
                        value.as_ref().map_or("AWS::NoValue", Value::shape)
                    )),
                    "Fn::Sub inserts strings; use Fn::Join for lists",
                )
            })?;
            out.push_str(&text);
        }
        Ok(out)
    }

    /// Runs `f` with `key` marked as being resolved; reports a cycle if it already is.
    pub(crate) fn guard<T>(
        &self,
        key: &str,
        at: Position,
        path: &str,
        f: impl FnOnce() -> Result<T, TemplateError>,
    ) -> Result<T, TemplateError> {
        {
            let mut stack = self.evaluating.borrow_mut();
            if let Some(i) = stack.iter().position(|k| k == key) {
                let mut chain: Vec<&str> = stack[i..].iter().map(String::as_str).collect();
                chain.push(key);
                return Err(self.error(
                    at,
                    path,
                    ErrorKind::Circular(chain.join(" -> ")),
                    "break the cycle: one of these must not depend on the others",
                ));
            }
            stack.push(key.to_string());
        }
        let result = f();
        self.evaluating.borrow_mut().pop();
        result
    }
}

/// `Mappings` is three levels: map name → top key → second key → value.
fn check_mappings(section: &Entry, diag: &Diagnostics) -> Result<(), TemplateError> {
    for map in section.value.entries() {
        for top in std::iter::once(map).chain(map.value.entries()) {
            if !top.value.is_map() {
                return Err(diag.error(
                    top.value.pos,
                    &format!("Mappings.{}", map.key),
                    ErrorKind::Structure(format!("{} must be a mapping", top.key)),
                    "Mappings are Name: {TopKey: {SecondKey: value}}",
                ));
            }
        }
    }
    Ok(())
}

/// `path.key`, or `key` at the top.
pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Whether a node is an intrinsic call (short or long form), whatever its name.
pub fn looks_like_call(node: &Node) -> bool {
    node.tag.is_some()
        || matches!(node.entries(), [e] if e.key == "Ref" || e.key.starts_with("Fn::"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::resolver_for;

    const CONTEXT: &str = "Parameters:\n  Stage: {Type: String, Default: dev}\n  Ports: {Type: CommaDelimitedList, Default: '1,2'}\nConditions:\n  IsDev: !Equals [!Ref Stage, dev]\nMappings:\n  M: {dev: {Size: 5}}\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n";

    /// Resolves the value of `V:` in `yaml`, appended to the shared context.
    fn value(yaml: &str) -> Result<Option<Value>, String> {
        let source = format!("{CONTEXT}V: {yaml}\n");
        let mut out = Err("not run".to_string());
        resolver_for(&source, |r| {
            let root = crate::yaml_tree::parse(&source)
                .ok()
                .flatten()
                .expect("yaml");
            let node = root.get("V").expect("V");
            out = r.resolve(node, "V").map_err(|e| e.to_string());
        });
        out
    }

    fn text(yaml: &str) -> String {
        match value(yaml) {
            Ok(Some(v)) => v.as_text().unwrap_or_else(|| format!("{v:?}")),
            other => panic!("{yaml}: {other:?}"),
        }
    }

    #[test]
    fn short_and_long_forms() {
        for (yaml, want) in [
            ("!Ref Stage", "dev"),
            ("{Ref: AWS::Region}", "us-east-1"),
            ("!Sub '${Stage}-${AWS::AccountId}'", "dev-123456789012"),
            ("!Sub ['${A}${B}', {A: x, B: !Ref Stage}]", "xdev"),
            (
                "!Sub '${Fn.Arn}'",
                "arn:aws:lambda:us-east-1:123456789012:function:Fn",
            ),
            ("!Join ['-', !Ref Ports]", "1-2"),
            ("{'Fn::Join': ['', [a, 1, true]]}", "a1true"),
            ("!Select [1, !Ref Ports]", "2"),
            ("!If [IsDev, yes, no]", "yes"),
            ("!FindInMap [M, !Ref Stage, Size]", "5"),
            ("!Base64 abc", "YWJj"),
            ("{'Fn::Base64': !Sub '${Stage}'}", "ZGV2"),
            ("!Equals [a, a]", "true"),
            (
                "!Ref AWS::StackId",
                "arn:aws:cloudformation:us-east-1:123456789012:stack/esb/esb",
            ),
        ] {
            assert_eq!(text(yaml), want, "{yaml}");
        }
        assert_eq!(value("!Ref AWS::NoValue"), Ok(None));
        assert_eq!(
            value("[a, !Ref AWS::NoValue, b]"),
            Ok(Some(Value::List(vec![
                Value::String("a".into()),
                Value::String("b".into())
            ])))
        );
    }

    #[test]
    fn misuse_is_reported() {
        for (yaml, want) in [
            (
                "!Select [5, [a]]",
                "Fn::Select index 5 is past the end of a list of 1",
            ),
            ("!Select [x, [a]]", "is not a whole number"),
            ("!Split ['', abc]", "delimiter cannot be empty"),
            (
                "!Join [',', abc]",
                "Fn::Join needs a list here, not a string",
            ),
            (
                "!Join [',', [[a]]]",
                "Fn::Join can only join strings, not a list",
            ),
            (
                "!FindInMap [M, prod, Size]",
                "no Mappings entry M.prod.Size",
            ),
            (
                "!Sub '${Ports}'",
                "Fn::Sub cannot insert ${Ports}: it is a list",
            ),
            (
                "!Sub '${AWS::NoValue}'",
                "Fn::Sub cannot insert ${AWS::NoValue}",
            ),
            ("!Sub 'x ${open'", "unclosed ${"),
            (
                "!Sub [a, b, c]",
                "Fn::Sub takes a string or [string, {variables}]",
            ),
            ("!GetAtt Fn", "Fn::GetAtt takes Resource.Attribute"),
            ("!If [Nope, a, b]", "unknown condition \"Nope\""),
            ("!If [IsDev, a]", "Fn::If takes [condition name"),
            ("!Ref [a]", "Ref takes the name of a parameter or resource"),
            (
                "{'Fn::GetAZs': ''}",
                "unsupported intrinsic function Fn::GetAZs",
            ),
            ("!Cidr [a, 1, 2]", "unsupported intrinsic function !Cidr"),
            ("!Base64 [a]", "must be a string, not a list"),
        ] {
            let e = value(yaml).expect_err(yaml);
            assert!(e.contains(want), "{yaml}: {e}");
            assert!(e.starts_with("t.yaml:"), "{e}");
        }
    }
}
