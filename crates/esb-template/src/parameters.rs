//! Template `Parameters`: defaults, `AllowedValues` and `--parameter-overrides Key=Value`.

use std::collections::BTreeMap;

use crate::error::{Locator, TemplateError};
use crate::yaml_tree::Node;

/// Splits `Key=Value` overrides; the value may itself contain `=`.
pub fn parse_overrides(
    raw: &[String],
    file: &str,
) -> Result<BTreeMap<String, String>, TemplateError> {
    raw.iter()
        .map(|o| {
            o.split_once('=')
                .filter(|(k, _)| !k.is_empty())
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| TemplateError {
                    file: file.to_string(),
                    line: 0,
                    col: 0,
                    path: "--parameter-overrides".into(),
                    message: format!("{o:?} is not Key=Value"),
                    hint: Some("write each override as Name=value".into()),
                })
        })
        .collect()
}

/// The value of every parameter: override, else `Default`, else an error.
pub fn resolve(
    loc: &Locator,
    params: Option<&Node>,
    overrides: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, TemplateError> {
    let mut values = BTreeMap::new();
    for (k, spec) in params.map(Node::entries).unwrap_or_default() {
        let name = k.as_str().unwrap_or_default().to_string();
        let path = format!("Parameters.{name}");
        let value = match overrides.get(&name) {
            Some(v) => v.clone(),
            None => spec.get("Default").and_then(default_text).ok_or_else(|| {
                loc.hinted(
                    spec,
                    &path,
                    "has no Default and no override",
                    format!("pass --parameter-overrides {name}=<value>"),
                )
            })?,
        };
        if let Some(allowed) = spec.get("AllowedValues") {
            let options: Vec<String> = match &allowed.kind {
                crate::yaml_tree::Kind::Seq(items) => items
                    .iter()
                    .filter_map(|i| i.as_str().map(str::to_string))
                    .collect(),
                _ => Vec::new(),
            };
            if !options.contains(&value) {
                return Err(loc.hinted(
                    allowed,
                    &path,
                    format!("{value:?} is not allowed"),
                    format!("use one of {}", options.join(", ")),
                ));
            }
        }
        values.insert(name, value);
    }
    if let Some(unknown) = overrides.keys().find(|k| !values.contains_key(*k)) {
        let declared: Vec<&str> = values.keys().map(String::as_str).collect();
        return Err(TemplateError {
            file: loc.file.clone(),
            line: params.map_or(1, |p| p.line),
            col: params.map_or(1, |p| p.col),
            path: "--parameter-overrides".into(),
            message: format!("the template has no parameter {unknown:?}"),
            hint: Some(format!(
                "declared parameters: {}",
                if declared.is_empty() {
                    "none".into()
                } else {
                    declared.join(", ")
                }
            )),
        });
    }
    Ok(values)
}

fn default_text(node: &Node) -> Option<String> {
    match &node.kind {
        crate::yaml_tree::Kind::Scalar { text, .. } => Some(text.clone()),
        crate::yaml_tree::Kind::Seq(items) => Some(
            items
                .iter()
                .filter_map(Node::as_str)
                .collect::<Vec<_>>()
                .join(","),
        ),
        crate::yaml_tree::Kind::Map(_) => None,
    }
}
