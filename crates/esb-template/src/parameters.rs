//! Template `Parameters`: each gets its value from an override (`Key=Value`, as given to
//! `--parameter-overrides`) or its `Default`, and is checked against its `Type` and
//! constraints the way CloudFormation checks them at deploy time, so a value that would
//! be refused by AWS is refused here too.

use std::collections::BTreeMap;

use crate::error::{Diagnostics, ErrorKind, TemplateError};
use crate::value::Value;
use crate::yaml_tree::{Entry, Node, NodeValue};

const PATH: &str = "--parameter-overrides";

/// Properties a parameter declaration may have.
const PARAMETER_KEYS: [&str; 11] = [
    "Type",
    "Default",
    "AllowedValues",
    "AllowedPattern",
    "MinLength",
    "MaxLength",
    "MinValue",
    "MaxValue",
    "ConstraintDescription",
    "Description",
    "NoEcho",
];

/// Parses overrides into a map; later ones win. Accepts `Key=Value` and SAM CLI's
/// `ParameterKey=Key,ParameterValue=Value`; the value may contain `=`.
pub fn parse_overrides(
    raw: &[String],
    diag: &Diagnostics,
) -> Result<BTreeMap<String, String>, TemplateError> {
    let mut out = BTreeMap::new();
    for o in raw {
        let pair = match o.strip_prefix("ParameterKey=") {
            Some(rest) => rest
                .split_once(",ParameterValue=")
                .map(|(k, v)| (k.to_string(), v.to_string())),
            None => o
                .split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.to_string())),
        };
        match pair {
            Some((k, v)) if is_parameter_name(&k) => {
                out.insert(k, v);
            }
            _ => {
                return Err(diag.unplaced(
                    PATH,
                    ErrorKind::MalformedOverride(o.clone()),
                    "write each override as Name=value, where Name is a parameter of the template",
                ));
            }
        }
    }
    Ok(out)
}

fn is_parameter_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric())
}

/// How a parameter's value is shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    String,
    Number,
    List,
    NumberList,
}

/// The value of every parameter: override, else `Default`, else an error.
pub fn resolve(
    section: Option<&Entry>,
    overrides: &BTreeMap<String, String>,
    diag: &mut Diagnostics,
) -> Result<BTreeMap<String, Value>, TemplateError> {
    let mut values = BTreeMap::new();
    if let Some(section) = section
        && !section.value.is_map()
    {
        return Err(diag.error(
            section.value.pos,
            "Parameters",
            ErrorKind::Structure(format!("must be a mapping, not {}", section.value.shape())),
            "declare each parameter as Name: {Type: String, Default: ...}",
        ));
    }
    for p in section.map(|s| s.value.entries()).unwrap_or_default() {
        let value = parameter(p, overrides.get(&p.key), diag)?;
        values.insert(p.key.clone(), value);
    }
    if let Some(unknown) = overrides.keys().find(|k| !values.contains_key(*k)) {
        let declared: Vec<&str> = values.keys().map(String::as_str).collect();
        let hint = if declared.is_empty() {
            "the template declares no Parameters".to_string()
        } else {
            format!("declared parameters: {}", declared.join(", "))
        };
        let kind = ErrorKind::UnknownParameter(unknown.clone());
        return Err(match section {
            Some(s) => diag.error(s.key_pos, PATH, kind, hint),
            None => diag.unplaced(PATH, kind, hint),
        });
    }
    Ok(values)
}

fn parameter(
    p: &Entry,
    given: Option<&String>,
    diag: &mut Diagnostics,
) -> Result<Value, TemplateError> {
    let path = format!("Parameters.{}", p.key);
    let spec = &p.value;
    if !is_parameter_name(&p.key) {
        return Err(diag.error(
            p.key_pos,
            &path,
            ErrorKind::Structure("a parameter name must be alphanumeric".into()),
            "rename the parameter",
        ));
    }
    if !spec.is_map() {
        return Err(diag.error(
            spec.pos,
            &path,
            ErrorKind::Structure(format!("must be a mapping, not {}", spec.shape())),
            "declare it as {Type: String, Default: ...}",
        ));
    }
    for e in spec.entries() {
        if !PARAMETER_KEYS.contains(&e.key.as_str()) {
            return Err(diag.error(
                e.key_pos,
                &format!("{path}.{}", e.key),
                ErrorKind::Structure("is not a parameter property".into()),
                format!("a parameter has {}", PARAMETER_KEYS.join(", ")),
            ));
        }
    }
    let shape = shape_of(spec, &path, diag)?;
    let text = match given {
        Some(v) => v.clone(),
        None => match spec.get("Default").map(default_text) {
            Some(Some(text)) => text,
            Some(None) => {
                return Err(diag.error(
                    spec.get("Default").map_or(spec.pos, |d| d.pos),
                    &format!("{path}.Default"),
                    ErrorKind::InvalidParameter("Default must be a plain value".into()),
                    "write the default as a string; lists are comma-separated",
                ));
            }
            None => {
                return Err(diag.error(
                    p.key_pos,
                    &path,
                    ErrorKind::MissingParameterValue,
                    format!(
                        "add a Default, or pass --parameter-overrides {}=<value>",
                        p.key
                    ),
                ));
            }
        },
    };
    let items: Vec<String> = match shape {
        Shape::String | Shape::Number => vec![text.clone()],
        // CloudFormation trims the members of comma-delimited lists.
        Shape::List | Shape::NumberList => text.split(',').map(|s| s.trim().to_string()).collect(),
    };
    let fail = |kind: ErrorKind, default_hint: String| {
        let hint = spec
            .get("ConstraintDescription")
            .and_then(Node::as_str)
            .map_or(default_hint, str::to_string);
        diag.error(p.key_pos, &path, kind, hint)
    };
    for item in &items {
        if matches!(shape, Shape::Number | Shape::NumberList) && item.parse::<f64>().is_err() {
            return Err(fail(
                ErrorKind::InvalidParameter(format!("{item:?} is not a number")),
                "the parameter's Type is a number".into(),
            ));
        }
        check_constraints(spec, &p.key, item, &path, &fail, diag)?;
    }
    Ok(match shape {
        Shape::String | Shape::Number => Value::String(text),
        Shape::List | Shape::NumberList => {
            Value::List(items.into_iter().map(Value::String).collect())
        }
    })
}

fn shape_of(spec: &Node, path: &str, diag: &mut Diagnostics) -> Result<Shape, TemplateError> {
    let Some(type_node) = spec.get("Type") else {
        return Err(diag.error(
            spec.pos,
            path,
            ErrorKind::MissingProperty("Type".into()),
            "every parameter needs a Type, e.g. String, Number or CommaDelimitedList",
        ));
    };
    let t = type_node.as_str().unwrap_or_default();
    let list = |inner: &str| {
        if inner == "Number" {
            Shape::NumberList
        } else {
            Shape::List
        }
    };
    let shape = match t {
        "String" => Shape::String,
        "Number" => Shape::Number,
        "CommaDelimitedList" => Shape::List,
        _ if t.starts_with("AWS::SSM::Parameter::Value<") => {
            diag.warn_once(
                "parameter type SSM",
                type_node.pos,
                &format!("{path}.Type"),
                "ESB does not read SSM Parameter Store; the parameter's value is used as given"
                    .into(),
            );
            if t.contains("List<") || t.contains("CommaDelimitedList") {
                Shape::List
            } else {
                Shape::String
            }
        }
        _ if t.starts_with("List<") && t.ends_with('>') => list(&t[5..t.len() - 1]),
        _ if t.starts_with("AWS::") => Shape::String,
        _ => {
            return Err(diag.error(
                type_node.pos,
                &format!("{path}.Type"),
                ErrorKind::InvalidParameter(format!("unknown parameter Type {t:?}")),
                "use String, Number, List<Number>, CommaDelimitedList or an AWS-specific type",
            ));
        }
    };
    Ok(shape)
}

fn check_constraints(
    spec: &Node,
    name: &str,
    item: &str,
    path: &str,
    fail: &dyn Fn(ErrorKind, String) -> TemplateError,
    diag: &Diagnostics,
) -> Result<(), TemplateError> {
    if let Some(allowed) = spec.get("AllowedValues") {
        let NodeValue::Seq(options) = &allowed.value else {
            return Err(diag.error(
                allowed.pos,
                &format!("{path}.AllowedValues"),
                ErrorKind::Structure("must be a list".into()),
                "write AllowedValues: [a, b]",
            ));
        };
        let options: Vec<&str> = options.iter().filter_map(Node::as_str).collect();
        if !options.contains(&item) {
            return Err(fail(
                ErrorKind::NotAllowed {
                    name: name.to_string(),
                    value: item.to_string(),
                },
                format!("use one of {}", options.join(", ")),
            ));
        }
    }
    if let Some(pattern) = spec.get("AllowedPattern") {
        let source = pattern.as_str().unwrap_or_default();
        let re = regex::Regex::new(&format!("^(?:{source})$")).map_err(|e| {
            diag.error(
                pattern.pos,
                &format!("{path}.AllowedPattern"),
                ErrorKind::InvalidParameter(format!("not a valid pattern: {e}")),
                "AllowedPattern is a regular expression the whole value must match",
            )
        })?;
        if !re.is_match(item) {
            return Err(fail(
                ErrorKind::InvalidParameter(format!(
                    "{item:?} does not match AllowedPattern {source:?}"
                )),
                format!("give {name} a value matching {source}"),
            ));
        }
    }
    let bound = |key: &str| -> Result<Option<f64>, TemplateError> {
        match spec.get(key) {
            None => Ok(None),
            Some(n) => n
                .as_str()
                .and_then(|s| s.parse().ok())
                .map(Some)
                .ok_or_else(|| {
                    diag.error(
                        n.pos,
                        &format!("{path}.{key}"),
                        ErrorKind::InvalidParameter(format!("{key} must be a number")),
                        "write the bound as a number",
                    )
                }),
        }
    };
    let len = item.chars().count() as f64;
    let number = item.parse::<f64>().ok();
    let checks = [
        ("MinLength", Some(len), true, "characters"),
        ("MaxLength", Some(len), false, "characters"),
        ("MinValue", number, true, ""),
        ("MaxValue", number, false, ""),
    ];
    for (key, actual, is_min, unit) in checks {
        if let (Some(limit), Some(actual)) = (bound(key)?, actual)
            && ((is_min && actual < limit) || (!is_min && actual > limit))
        {
            let side = if is_min { "at least" } else { "at most" };
            return Err(fail(
                ErrorKind::InvalidParameter(format!(
                    "{item:?} breaks {key}: must be {side} {limit} {unit}"
                )),
                format!("give {name} a value within its {key}"),
            ));
        }
    }
    Ok(())
}

/// A `Default` as text: scalars as written, a YAML list joined with commas (the way a
/// list parameter's default is usually written).
fn default_text(node: &Node) -> Option<String> {
    match &node.value {
        NodeValue::Scalar { text, .. } => Some(text.clone()),
        NodeValue::Seq(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .map(|v| v.join(",")),
        NodeValue::Map(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml_tree::parse;

    fn params(yaml: &str, overrides: &[&str]) -> Result<BTreeMap<String, Value>, TemplateError> {
        let root = parse(yaml).ok().flatten().expect("valid yaml");
        let mut diag = Diagnostics::new("t.yaml");
        let raw: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        let o = parse_overrides(&raw, &diag)?;
        resolve(root.entry("Parameters"), &o, &mut diag)
    }

    #[test]
    fn overrides_beat_defaults() {
        let y = "Parameters:\n  A: {Type: String, Default: x}\n  B: {Type: String, Default: y}\n";
        let v = params(y, &["A=1=2", "ParameterKey=B,ParameterValue=z"]).expect("valid");
        assert_eq!(v["A"], Value::String("1=2".into()));
        assert_eq!(v["B"], Value::String("z".into()));
    }

    #[test]
    fn lists_split_and_trim() {
        let y = "Parameters:\n  L: {Type: CommaDelimitedList, Default: 'a, b,c'}\n  N: {Type: List<Number>, Default: [1, 2]}\n";
        let v = params(y, &[]).expect("valid");
        let strings = |items: &[&str]| {
            Value::List(items.iter().map(|s| Value::String(s.to_string())).collect())
        };
        assert_eq!(v["L"], strings(&["a", "b", "c"]));
        assert_eq!(v["N"], strings(&["1", "2"]));
    }

    #[test]
    fn constraints() {
        let y = "Parameters:\n  S:\n    Type: String\n    Default: abc\n    AllowedPattern: '[a-z]+'\n    MaxLength: 3\n  N: {Type: Number, Default: 5, MinValue: 1, MaxValue: 10}\n";
        assert!(params(y, &[]).is_ok());
        for (o, expect) in [
            ("S=ab1", "does not match AllowedPattern"),
            ("S=abcd", "breaks MaxLength"),
            ("N=11", "breaks MaxValue"),
            ("N=x", "is not a number"),
        ] {
            let e = params(y, &[o]).expect_err(o).to_string();
            assert!(e.contains(expect), "{o}: {e}");
        }
        let described =
            "Parameters:\n  S: {Type: String, AllowedValues: [a], ConstraintDescription: pick a}\n";
        let e = params(described, &["S=b"])
            .expect_err("not allowed")
            .to_string();
        assert!(e.ends_with("(hint: pick a)"), "{e}");
    }

    #[test]
    fn bad_overrides() {
        let y = "Parameters:\n  A: {Type: String, Default: x}\n";
        for (o, kind) in [
            ("garbage", "is not Key=Value"),
            ("=v", "is not Key=Value"),
            ("B=1", "no parameter \"B\""),
        ] {
            let e = params(y, &[o]).expect_err(o).to_string();
            assert!(e.contains(kind), "{o}: {e}");
        }
        let e = params(y, &["B=1"]).expect_err("unknown");
        assert_eq!(
            e.position().map(|p| p.line),
            Some(1),
            "points at Parameters"
        );
        assert!(e.hint().contains("declared parameters: A"));
    }

    #[test]
    fn declarations_are_checked() {
        for (y, expect) in [
            ("Parameters:\n  A: {Default: x}\n", "Type is missing"),
            (
                "Parameters:\n  A: {Type: Strin}\n",
                "unknown parameter Type",
            ),
            (
                "Parameters:\n  A: {Type: String, Defualt: x}\n",
                "is not a parameter property",
            ),
            (
                "Parameters:\n  A: {Type: String}\n",
                "has no Default and no override",
            ),
            ("Parameters:\n  A: x\n", "must be a mapping"),
            (
                "Parameters:\n  A: {Type: String, Default: [x], AllowedPattern: '('}\n",
                "not a valid pattern",
            ),
        ] {
            let e = params(y, &[]).expect_err(y).to_string();
            assert!(e.contains(expect), "{y}: {e}");
        }
    }
}
