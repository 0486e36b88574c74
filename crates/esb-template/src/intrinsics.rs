//! CloudFormation intrinsic functions, resolved at load time against parameters,
//! pseudo parameters, conditions, mappings and the template's own resources.

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::Value;

use crate::error::{Locator, TemplateError};
use crate::yaml_tree::{Kind, Node};

/// What a resource contributes to `Ref` / `Fn::GetAtt`.
#[derive(Debug, Clone)]
pub struct ResourceRef {
    pub resource_type: String,
    /// Value of `Ref`.
    pub ref_value: String,
    /// `Fn::GetAtt` attributes.
    pub attributes: BTreeMap<String, String>,
}

pub struct Resolver<'a> {
    pub loc: Locator,
    pub params: BTreeMap<String, String>,
    pub pseudo: BTreeMap<&'static str, String>,
    pub conditions: BTreeMap<String, bool>,
    pub mappings: Option<&'a Node>,
    pub resources: BTreeMap<String, ResourceRef>,
}

const SUPPORTED: &str = "Ref, Fn::Sub, Fn::GetAtt, Fn::Join, Fn::If, Fn::Select, Fn::Split, Fn::FindInMap, Fn::Base64, Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition";

impl Resolver<'_> {
    /// Resolves a node to a value; `None` is `AWS::NoValue` (the property disappears).
    pub fn resolve(&self, node: &Node, path: &str) -> Result<Option<Value>, TemplateError> {
        if let Some((name, arg)) = intrinsic(node) {
            return self.call(&name, node, &arg, path);
        }
        Ok(Some(match &node.kind {
            Kind::Scalar { text, plain } => scalar(text, *plain),
            Kind::Seq(items) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    if let Some(v) = self.resolve(item, &format!("{path}[{i}]"))? {
                        out.push(v);
                    }
                }
                Value::Array(out)
            }
            Kind::Map(entries) => {
                let mut out = serde_json::Map::new();
                for (k, v) in entries {
                    let key = k.as_str().unwrap_or_default().to_string();
                    if let Some(val) = self.resolve(v, &join(path, &key))? {
                        out.insert(key, val);
                    }
                }
                Value::Object(out)
            }
        }))
    }

    /// Resolves to a string (numbers and booleans are written out, as CloudFormation does).
    pub fn string(&self, node: &Node, path: &str) -> Result<String, TemplateError> {
        match self.resolve(node, path)? {
            Some(Value::String(s)) => Ok(s),
            Some(Value::Number(n)) => Ok(n.to_string()),
            Some(Value::Bool(b)) => Ok(b.to_string()),
            _ => Err(self.loc.at(node, path, "must be a string")),
        }
    }

    fn call(
        &self,
        name: &str,
        node: &Node,
        arg: &Node,
        path: &str,
    ) -> Result<Option<Value>, TemplateError> {
        let s = |v: String| Ok(Some(Value::String(v)));
        match name {
            "Ref" => {
                let target = arg.as_str().ok_or_else(|| {
                    self.loc
                        .at(node, path, "Ref takes the name of a parameter or resource")
                })?;
                if target == "AWS::NoValue" {
                    return Ok(None);
                }
                s(self.reference(target, node, path)?)
            }
            "GetAtt" => {
                let (res, attr) = match &arg.kind {
                    Kind::Scalar { text, .. } => text
                        .split_once('.')
                        .map(|(a, b)| (a.to_string(), b.to_string())),
                    Kind::Seq(items) if items.len() == 2 => {
                        Some((self.string(&items[0], path)?, self.string(&items[1], path)?))
                    }
                    _ => None,
                }
                .ok_or_else(|| {
                    self.loc.at(
                        node,
                        path,
                        "Fn::GetAtt takes `Resource.Attribute` or [Resource, Attribute]",
                    )
                })?;
                s(self.attribute(&res, &attr, node, path)?)
            }
            "Sub" => {
                let (template, vars) = match &arg.kind {
                    Kind::Scalar { text, .. } => (text.clone(), BTreeMap::new()),
                    Kind::Seq(items) if items.len() == 2 => {
                        let mut vars = BTreeMap::new();
                        for (k, v) in items[1].entries() {
                            let key = k.as_str().unwrap_or_default().to_string();
                            vars.insert(key.clone(), self.string(v, &join(path, &key))?);
                        }
                        (self.string(&items[0], path)?, vars)
                    }
                    _ => {
                        return Err(self.loc.at(
                            node,
                            path,
                            "Fn::Sub takes a string or [string, {variables}]",
                        ));
                    }
                };
                s(self.substitute(&template, &vars, node, path)?)
            }
            "Join" => {
                let items = seq(arg, 2).ok_or_else(|| {
                    self.loc
                        .at(node, path, "Fn::Join takes [delimiter, [values]]")
                })?;
                let delim = self.string(&items[0], path)?;
                let values = match self.resolve(&items[1], path)? {
                    Some(Value::Array(v)) => v,
                    _ => {
                        return Err(self.loc.at(
                            node,
                            path,
                            "Fn::Join's second argument must be a list",
                        ));
                    }
                };
                let parts: Vec<String> = values.iter().map(value_text).collect();
                s(parts.join(&delim))
            }
            "If" => {
                let items = seq(arg, 3).ok_or_else(|| {
                    self.loc.at(
                        node,
                        path,
                        "Fn::If takes [condition, value if true, value if false]",
                    )
                })?;
                let cond = items[0].as_str().unwrap_or_default();
                let chosen = match self.conditions.get(cond) {
                    Some(true) => &items[1],
                    Some(false) => &items[2],
                    None => {
                        return Err(self.loc.hinted(
                            node,
                            path,
                            format!("unknown condition {cond:?}"),
                            "declare it under Conditions",
                        ));
                    }
                };
                self.resolve(chosen, path)
            }
            "Select" => {
                let items = seq(arg, 2).ok_or_else(|| {
                    self.loc
                        .at(node, path, "Fn::Select takes [index, [values]]")
                })?;
                let index: usize = self.string(&items[0], path)?.parse().map_err(|_| {
                    self.loc
                        .at(node, path, "Fn::Select's index must be a number")
                })?;
                match self.resolve(&items[1], path)? {
                    Some(Value::Array(v)) => v.get(index).cloned().map(Some).ok_or_else(|| {
                        self.loc.at(
                            node,
                            path,
                            format!(
                                "Fn::Select index {index} is past the end of a list of {}",
                                v.len()
                            ),
                        )
                    }),
                    _ => {
                        Err(self
                            .loc
                            .at(node, path, "Fn::Select's second argument must be a list"))
                    }
                }
            }
            "Split" => {
                let items = seq(arg, 2).ok_or_else(|| {
                    self.loc
                        .at(node, path, "Fn::Split takes [delimiter, string]")
                })?;
                let delim = self.string(&items[0], path)?;
                let text = self.string(&items[1], path)?;
                if delim.is_empty() {
                    return Err(self
                        .loc
                        .at(node, path, "Fn::Split's delimiter cannot be empty"));
                }
                Ok(Some(Value::Array(
                    text.split(delim.as_str())
                        .map(|p| Value::String(p.into()))
                        .collect(),
                )))
            }
            "FindInMap" => {
                let items = seq(arg, 3).ok_or_else(|| {
                    self.loc
                        .at(node, path, "Fn::FindInMap takes [map, top key, second key]")
                })?;
                let keys = [
                    self.string(&items[0], path)?,
                    self.string(&items[1], path)?,
                    self.string(&items[2], path)?,
                ];
                let found = keys
                    .iter()
                    .try_fold(self.mappings, |n, k| n.and_then(|n| n.get(k)).map(Some));
                match found.flatten() {
                    Some(v) => self.resolve(v, path),
                    None => Err(self.loc.hinted(
                        node,
                        path,
                        format!("no Mappings entry {}", keys.join(".")),
                        "check the names under Mappings",
                    )),
                }
            }
            "Base64" => {
                s(base64::engine::general_purpose::STANDARD.encode(self.string(arg, path)?))
            }
            "Equals" | "Not" | "And" | "Or" | "Condition" => {
                Ok(Some(Value::Bool(self.condition(node, path)?)))
            }
            other => Err(self.loc.hinted(
                node,
                path,
                format!("unsupported intrinsic function {other}"),
                format!("ESB resolves {SUPPORTED}"),
            )),
        }
    }

    /// Evaluates a condition expression (`Fn::Equals`, `Fn::Not`, `Fn::And`, `Fn::Or`, `Condition`).
    pub fn condition(&self, node: &Node, path: &str) -> Result<bool, TemplateError> {
        let Some((name, arg)) = intrinsic(node) else {
            return match self.resolve(node, path)? {
                Some(Value::Bool(b)) => Ok(b),
                Some(Value::String(s)) if s == "true" || s == "false" => Ok(s == "true"),
                _ => Err(self.loc.at(
                    node,
                    path,
                    "a condition must be Fn::Equals, Fn::Not, Fn::And, Fn::Or or Condition",
                )),
            };
        };
        let list = |min: usize| match &arg.kind {
            Kind::Seq(items) if items.len() >= min => Ok(items.clone()),
            _ => Err(self.loc.at(node, path, format!("Fn::{name} takes a list"))),
        };
        match name.as_str() {
            "Equals" => {
                let items = list(2)?;
                Ok(self.resolve(&items[0], path)?.map(|v| value_text(&v))
                    == self.resolve(&items[1], path)?.map(|v| value_text(&v)))
            }
            "Not" => Ok(!self.condition(&list(1)?[0], path)?),
            "And" => list(1)?
                .iter()
                .try_fold(true, |acc, c| Ok(acc && self.condition(c, path)?)),
            "Or" => list(1)?
                .iter()
                .try_fold(false, |acc, c| Ok(acc || self.condition(c, path)?)),
            "Condition" => {
                let cname = arg.as_str().unwrap_or_default();
                self.conditions.get(cname).copied().ok_or_else(|| {
                    self.loc.hinted(
                        node,
                        path,
                        format!("unknown condition {cname:?}"),
                        "declare it under Conditions (before it is used)",
                    )
                })
            }
            _ => match self.resolve(node, path)? {
                Some(Value::Bool(b)) => Ok(b),
                _ => Err(self
                    .loc
                    .at(node, path, format!("Fn::{name} is not a condition"))),
            },
        }
    }

    fn reference(&self, target: &str, node: &Node, path: &str) -> Result<String, TemplateError> {
        if let Some(v) = self.params.get(target) {
            return Ok(v.clone());
        }
        if let Some(v) = self.pseudo.get(target) {
            return Ok(v.clone());
        }
        if let Some(r) = self.resources.get(target) {
            return Ok(r.ref_value.clone());
        }
        Err(self.loc.hinted(
            node,
            path,
            format!("Ref to unknown {target:?}"),
            "Ref names a parameter, a resource of this template or a pseudo parameter (AWS::Region, AWS::AccountId, AWS::StackName...)",
        ))
    }

    fn attribute(
        &self,
        res: &str,
        attr: &str,
        node: &Node,
        path: &str,
    ) -> Result<String, TemplateError> {
        let r = self.resources.get(res).ok_or_else(|| {
            self.loc.hinted(
                node,
                path,
                format!("Fn::GetAtt on unknown resource {res:?}"),
                "name a resource of this template",
            )
        })?;
        r.attributes.get(attr).cloned().ok_or_else(|| {
            let known: Vec<&str> = r.attributes.keys().map(String::as_str).collect();
            self.loc.hinted(
                node,
                path,
                format!(
                    "{} has no attribute {attr:?} that ESB can resolve",
                    r.resource_type
                ),
                format!(
                    "available: {}",
                    if known.is_empty() {
                        "none".into()
                    } else {
                        known.join(", ")
                    }
                ),
            )
        })
    }

    fn substitute(
        &self,
        template: &str,
        vars: &BTreeMap<String, String>,
        node: &Node,
        path: &str,
    ) -> Result<String, TemplateError> {
        let mut out = String::new();
        let mut rest = template;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| self.loc.at(node, path, "Fn::Sub has an unclosed ${"))?;
            let name = after[..end].trim();
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else if let Some(v) = vars.get(name) {
                out.push_str(v);
            } else if let Some((res, attr)) = name.split_once('.') {
                out.push_str(&self.attribute(res, attr, node, path)?);
            } else {
                out.push_str(&self.reference(name, node, path)?);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// `(function name, argument)` when the node is an intrinsic call, short or long form.
fn intrinsic(node: &Node) -> Option<(String, Node)> {
    if let Some(tag) = &node.tag {
        let mut arg = node.clone();
        arg.tag = None;
        return Some((tag.clone(), arg));
    }
    match node.entries() {
        [(k, v)] => {
            let key = k.as_str()?;
            let name = key
                .strip_prefix("Fn::")
                .or((key == "Ref" || key == "Condition").then_some(key))?;
            Some((name.to_string(), v.clone()))
        }
        _ => None,
    }
}

fn seq(node: &Node, len: usize) -> Option<&[Node]> {
    match &node.kind {
        Kind::Seq(items) if items.len() == len => Some(items),
        _ => None,
    }
}

/// YAML 1.2 core-schema typing of a plain scalar; quoted scalars stay strings.
fn scalar(text: &str, plain: bool) -> Value {
    if !plain {
        return Value::String(text.to_string());
    }
    match text {
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        "null" | "~" | "" => Value::Null,
        _ => text
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| text.parse::<f64>().map(Value::from))
            .unwrap_or_else(|_| Value::String(text.to_string())),
    }
}

pub fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}
