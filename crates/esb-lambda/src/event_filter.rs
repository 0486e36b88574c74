//! Lambda's event filtering pattern language (`FilterCriteria`), matched against a
//! record as the function would receive it (a DynamoDB stream record's `eventName`,
//! `dynamodb.NewImage.a.S`...; an SQS message's `body` parsed as JSON, `attributes`...).
//! Shared by every poller of the box, so all filter alike.
//!
//! A pattern is a JSON object whose shape follows the record's: an object value
//! matches the nested object, an array value (a leaf) is an OR-list of conditions on
//! the values at that path. All fields of an object must match (AND); `"$or": [p, q]`
//! matches if either sub-pattern does. Arrays in the record are flattened: a leaf
//! matches if any value found at its path matches, as EventBridge (whose language
//! Lambda's is) does.
//!
//! Conditions: exact strings, numbers (compared as numbers), booleans and null;
//! `{"prefix": s}` and `{"suffix": s}` (each also `{"equals-ignore-case": s}` inside);
//! `{"equals-ignore-case": s}`; `{"anything-but": v | [v..] | {"prefix"|"suffix"|
//! "equals-ignore-case": ..}}`; `{"numeric": [op, n (, op, n)]}`; `{"exists": bool}`;
//! `{"cidr": "10.0.0.0/24"}`. `exists` looks at leaves only, as EventBridge's does.
//! Anything else is refused when the mapping is created, never at match time.

use std::net::IpAddr;

use serde_json::{Map, Value};

/// Why a pattern is not one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError(pub String);

/// One parsed pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterPattern {
    root: Object,
}

/// The conditions of one object level: every field, and one branch of every `$or`.
#[derive(Debug, Clone, PartialEq)]
struct Object {
    fields: Vec<(String, Field)>,
    ors: Vec<Vec<Object>>,
}

#[derive(Debug, Clone, PartialEq)]
enum Field {
    Nested(Object),
    Leaf(Vec<Condition>),
}

#[derive(Debug, Clone, PartialEq)]
enum Condition {
    Exact(Value),
    Prefix(Text),
    Suffix(Text),
    EqualsIgnoreCase(String),
    AnythingBut(AnythingBut),
    Numeric(Vec<(Comparison, f64)>),
    Exists(bool),
    Cidr(Cidr),
}

/// A string operand, compared exactly or ignoring case.
#[derive(Debug, Clone, PartialEq)]
struct Text {
    value: String,
    ignore_case: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum AnythingBut {
    Values(Vec<Value>),
    Prefix(String),
    Suffix(String),
    EqualsIgnoreCase(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Comparison {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
struct Cidr {
    net: IpAddr,
    prefix: u8,
}

/// Lambda's limit on the length of one filter pattern.
const MAX_PATTERN_CHARS: usize = 4096;

/// An event source mapping's `FilterCriteria.Filters[].Pattern`s, parsed; the first
/// invalid one is refused with the message of Lambda's `InvalidParameterValueException`.
pub fn parse_filters(patterns: &[String]) -> Result<Vec<FilterPattern>, String> {
    patterns
        .iter()
        .enumerate()
        .map(|(i, pattern)| {
            let why = if pattern.chars().count() > MAX_PATTERN_CHARS {
                format!("longer than {MAX_PATTERN_CHARS} characters")
            } else {
                match FilterPattern::parse(pattern) {
                    Ok(parsed) => return Ok(parsed),
                    Err(e) => e.0,
                }
            };
            Err(format!(
                "Invalid filter pattern definition. (FilterCriteria.Filters[{i}].Pattern: {why})"
            ))
        })
        .collect()
}

impl FilterPattern {
    /// Parses a pattern (the JSON text of `Filters[].Pattern`).
    pub fn parse(pattern: &str) -> Result<Self, PatternError> {
        let value: Value =
            serde_json::from_str(pattern).map_err(|e| PatternError(format!("not JSON: {e}")))?;
        let Value::Object(map) = value else {
            return Err(PatternError("a pattern is a JSON object".into()));
        };
        Ok(Self {
            root: parse_object(&map, "")?,
        })
    }

    /// Whether `record` (as in the Lambda event) matches.
    pub fn matches(&self, record: &Value) -> bool {
        self.root.matches(record, &mut Vec::new())
    }
}

/// Whether `record` passes `filters`: any of them matches, or there are none.
pub fn passes(filters: &[FilterPattern], record: &Value) -> bool {
    filters.is_empty() || filters.iter().any(|f| f.matches(record))
}

fn parse_object(map: &Map<String, Value>, at: &str) -> Result<Object, PatternError> {
    if map.is_empty() {
        return Err(PatternError(format!("empty object at '{at}'")));
    }
    let mut object = Object {
        fields: Vec::new(),
        ors: Vec::new(),
    };
    for (key, value) in map {
        let path = if at.is_empty() {
            key.clone()
        } else {
            format!("{at}.{key}")
        };
        if key == "$or" {
            let Value::Array(branches) = value else {
                return Err(PatternError(format!("'{path}' takes an array of patterns")));
            };
            if branches.len() < 2 {
                return Err(PatternError(format!(
                    "'{path}' takes at least two patterns"
                )));
            }
            let branches = branches
                .iter()
                .map(|b| match b {
                    Value::Object(m) => parse_object(m, at),
                    _ => Err(PatternError(format!("'{path}' takes objects"))),
                })
                .collect::<Result<Vec<_>, _>>()?;
            object.ors.push(branches);
            continue;
        }
        let field = match value {
            Value::Object(m) => Field::Nested(parse_object(m, &path)?),
            Value::Array(items) => {
                if items.is_empty() {
                    return Err(PatternError(format!("empty array at '{path}'")));
                }
                Field::Leaf(
                    items
                        .iter()
                        .map(|i| parse_condition(i, &path))
                        .collect::<Result<_, _>>()?,
                )
            }
            _ => {
                return Err(PatternError(format!(
                    "'{path}' must be an array of conditions or an object"
                )));
            }
        };
        object.fields.push((key.clone(), field));
    }
    Ok(object)
}

fn parse_condition(value: &Value, path: &str) -> Result<Condition, PatternError> {
    let bad = |why: &str| PatternError(format!("at '{path}': {why}"));
    let map = match value {
        Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null => {
            return Ok(Condition::Exact(value.clone()));
        }
        Value::Array(_) => return Err(bad("nested arrays are not conditions")),
        Value::Object(map) => map,
    };
    let mut entries = map.iter();
    let (Some((op, operand)), None) = (entries.next(), entries.next()) else {
        return Err(bad("a condition object has exactly one operator"));
    };
    match op.as_str() {
        "prefix" => Ok(Condition::Prefix(text_operand(operand).ok_or_else(
            || bad("prefix takes a string or {\"equals-ignore-case\": string}"),
        )?)),
        "suffix" => Ok(Condition::Suffix(text_operand(operand).ok_or_else(
            || bad("suffix takes a string or {\"equals-ignore-case\": string}"),
        )?)),
        "equals-ignore-case" => match operand {
            Value::String(s) => Ok(Condition::EqualsIgnoreCase(s.clone())),
            _ => Err(bad("equals-ignore-case takes a string")),
        },
        "anything-but" => parse_anything_but(operand).map_err(|why| bad(&why)),
        "numeric" => parse_numeric(operand).map_err(|why| bad(&why)),
        "exists" => match operand {
            Value::Bool(b) => Ok(Condition::Exists(*b)),
            _ => Err(bad("exists takes true or false")),
        },
        "cidr" => match operand {
            Value::String(s) => parse_cidr(s)
                .map(Condition::Cidr)
                .ok_or_else(|| bad("cidr takes an IP prefix like 10.0.0.0/24")),
            _ => Err(bad("cidr takes a string")),
        },
        other => Err(bad(&format!("unknown operator '{other}'"))),
    }
}

/// `"s"` or `{"equals-ignore-case": "s"}`.
fn text_operand(operand: &Value) -> Option<Text> {
    match operand {
        Value::String(s) => Some(Text {
            value: s.clone(),
            ignore_case: false,
        }),
        Value::Object(m) if m.len() == 1 => match m.get("equals-ignore-case") {
            Some(Value::String(s)) => Some(Text {
                value: s.clone(),
                ignore_case: true,
            }),
            _ => None,
        },
        _ => None,
    }
}

fn parse_anything_but(operand: &Value) -> Result<Condition, String> {
    let scalar = |v: &Value| matches!(v, Value::String(_) | Value::Number(_));
    let but = match operand {
        v if scalar(v) => AnythingBut::Values(vec![v.clone()]),
        Value::Array(items) if !items.is_empty() && items.iter().all(scalar) => {
            AnythingBut::Values(items.clone())
        }
        Value::Object(m) if m.len() == 1 => match m.iter().next() {
            Some((k, Value::String(s))) if k == "prefix" => AnythingBut::Prefix(s.clone()),
            Some((k, Value::String(s))) if k == "suffix" => AnythingBut::Suffix(s.clone()),
            Some((k, v)) if k == "equals-ignore-case" => match v {
                Value::String(s) => AnythingBut::EqualsIgnoreCase(vec![s.clone()]),
                Value::Array(items) if !items.is_empty() => AnythingBut::EqualsIgnoreCase(
                    items
                        .iter()
                        .map(|i| i.as_str().map(str::to_string))
                        .collect::<Option<_>>()
                        .ok_or("anything-but equals-ignore-case takes strings")?,
                ),
                _ => return Err("anything-but equals-ignore-case takes strings".into()),
            },
            _ => return Err("anything-but takes prefix, suffix or equals-ignore-case".into()),
        },
        _ => {
            return Err("anything-but takes a string, a number or a non-empty list of them".into());
        }
    };
    Ok(Condition::AnythingBut(but))
}

fn parse_numeric(operand: &Value) -> Result<Condition, String> {
    let Value::Array(items) = operand else {
        return Err("numeric takes [operator, number, ...]".into());
    };
    if items.is_empty() || items.len() % 2 != 0 || items.len() > 4 {
        return Err("numeric takes one or two [operator, number] pairs".into());
    }
    let mut bounds = Vec::new();
    for pair in items.chunks(2) {
        let (Some(op), Some(n)) = (pair.first().and_then(Value::as_str), pair.get(1)) else {
            return Err("numeric takes [operator, number, ...]".into());
        };
        let op = match op {
            "=" => Comparison::Eq,
            "<" => Comparison::Lt,
            "<=" => Comparison::Le,
            ">" => Comparison::Gt,
            ">=" => Comparison::Ge,
            other => return Err(format!("unknown numeric operator '{other}'")),
        };
        let n = n.as_f64().ok_or("numeric compares with numbers")?;
        bounds.push((op, n));
    }
    if let [(a, _), (b, _)] = bounds.as_slice() {
        let lower = |c: &Comparison| matches!(c, Comparison::Gt | Comparison::Ge);
        let upper = |c: &Comparison| matches!(c, Comparison::Lt | Comparison::Le);
        if !(lower(a) && upper(b)) {
            return Err(
                "a numeric range is a lower bound (> or >=) then an upper bound (< or <=)".into(),
            );
        }
    }
    Ok(Condition::Numeric(bounds))
}

fn parse_cidr(s: &str) -> Option<Cidr> {
    let (addr, len) = s.split_once('/')?;
    let net: IpAddr = addr.parse().ok()?;
    let prefix: u8 = len.parse().ok()?;
    let max = if net.is_ipv4() { 32 } else { 128 };
    (prefix <= max).then_some(Cidr { net, prefix })
}

impl Object {
    /// Whether the record matches this level, whose fields sit under `path`.
    fn matches(&self, record: &Value, path: &mut Vec<String>) -> bool {
        let fields = self.fields.iter().all(|(key, field)| {
            path.push(key.clone());
            let ok = match field {
                Field::Nested(object) => object.matches(record, path),
                Field::Leaf(conditions) => {
                    let values = values_at(record, path);
                    conditions.iter().any(|c| c.matches(&values))
                }
            };
            path.pop();
            ok
        });
        fields
            && self
                .ors
                .iter()
                .all(|branches| branches.iter().any(|b| b.matches(record, path)))
    }
}

/// The leaf values at `path`: arrays along the way and at the end are flattened;
/// objects are not leaves.
fn values_at<'a>(record: &'a Value, path: &[String]) -> Vec<&'a Value> {
    fn step<'a>(v: &'a Value, key: &str, out: &mut Vec<&'a Value>) {
        match v {
            Value::Object(m) => out.extend(m.get(key)),
            Value::Array(items) => items.iter().for_each(|i| step(i, key, out)),
            _ => {}
        }
    }
    fn leaves<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
        match v {
            Value::Array(items) => items.iter().for_each(|i| leaves(i, out)),
            Value::Object(_) => {}
            _ => out.push(v),
        }
    }
    let mut current = vec![record];
    for key in path {
        let mut next = Vec::new();
        for v in current {
            step(v, key, &mut next);
        }
        current = next;
    }
    let mut out = Vec::new();
    for v in current {
        leaves(v, &mut out);
    }
    out
}

impl Condition {
    /// Whether the leaf values found at this condition's path satisfy it.
    fn matches(&self, values: &[&Value]) -> bool {
        match self {
            Self::Exists(wanted) => values.is_empty() != *wanted,
            other => values.iter().any(|v| other.matches_value(v)),
        }
    }

    fn matches_value(&self, v: &Value) -> bool {
        let s = v.as_str();
        match self {
            Self::Exact(Value::Number(n)) => {
                matches!((n.as_f64(), v.as_f64()), (Some(a), Some(b)) if a == b)
            }
            Self::Exact(want) => want == v,
            Self::Prefix(t) => s.is_some_and(|s| t.is_prefix_of(s)),
            Self::Suffix(t) => s.is_some_and(|s| t.is_suffix_of(s)),
            Self::EqualsIgnoreCase(want) => {
                s.is_some_and(|s| s.to_lowercase() == want.to_lowercase())
            }
            Self::AnythingBut(but) => but.matches(v),
            Self::Numeric(bounds) => v.as_f64().is_some_and(|x| {
                bounds.iter().all(|(op, n)| match op {
                    Comparison::Eq => x == *n,
                    Comparison::Lt => x < *n,
                    Comparison::Le => x <= *n,
                    Comparison::Gt => x > *n,
                    Comparison::Ge => x >= *n,
                })
            }),
            Self::Cidr(c) => s
                .and_then(|s| s.parse().ok())
                .is_some_and(|ip| c.contains(ip)),
            Self::Exists(_) => false,
        }
    }
}

impl Text {
    fn is_prefix_of(&self, s: &str) -> bool {
        if self.ignore_case {
            s.to_lowercase().starts_with(&self.value.to_lowercase())
        } else {
            s.starts_with(&self.value)
        }
    }

    fn is_suffix_of(&self, s: &str) -> bool {
        if self.ignore_case {
            s.to_lowercase().ends_with(&self.value.to_lowercase())
        } else {
            s.ends_with(&self.value)
        }
    }
}

impl AnythingBut {
    fn matches(&self, v: &Value) -> bool {
        match self {
            Self::Values(list) => !list
                .iter()
                .any(|x| Condition::Exact(x.clone()).matches_value(v)),
            Self::Prefix(p) => v.as_str().is_some_and(|s| !s.starts_with(p.as_str())),
            Self::Suffix(p) => v.as_str().is_some_and(|s| !s.ends_with(p.as_str())),
            Self::EqualsIgnoreCase(list) => v.as_str().is_some_and(|s| {
                let s = s.to_lowercase();
                !list.iter().any(|x| x.to_lowercase() == s)
            }),
        }
    }
}

impl Cidr {
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn matches(pattern: &str, record: &Value) -> bool {
        FilterPattern::parse(pattern)
            .unwrap_or_else(|e| panic!("{pattern}: {e:?}"))
            .matches(record)
    }

    fn insert() -> Value {
        json!({
            "eventName": "INSERT",
            "awsRegion": "us-east-1",
            "dynamodb": {
                "Keys": {"pk": {"S": "order#1"}},
                "NewImage": {
                    "pk": {"S": "order#1"},
                    "status": {"S": "Shipped"},
                    "total": {"N": "42"},
                    "tags": {"L": [{"S": "red"}, {"S": "blue"}]},
                    "gone": {"NULL": true}
                },
                "SizeBytes": 120
            },
            "ip": "10.1.2.3",
            "nothing": null
        })
    }

    #[test]
    fn exact_values_or_lists_and_nested_fields() {
        let r = insert();
        assert!(matches(r#"{"eventName":["INSERT"]}"#, &r));
        assert!(matches(r#"{"eventName":["MODIFY","INSERT"]}"#, &r));
        assert!(!matches(r#"{"eventName":["REMOVE"]}"#, &r));
        assert!(matches(
            r#"{"eventName":["INSERT"],"dynamodb":{"NewImage":{"status":{"S":["Shipped"]}}}}"#,
            &r
        ));
        assert!(!matches(
            r#"{"eventName":["INSERT"],"dynamodb":{"NewImage":{"status":{"S":["Lost"]}}}}"#,
            &r
        ));
        // A number matches a number, not the string DynamoDB writes numbers as.
        assert!(matches(r#"{"dynamodb":{"SizeBytes":[120.0]}}"#, &r));
        assert!(!matches(
            r#"{"dynamodb":{"NewImage":{"total":{"N":[42]}}}}"#,
            &r
        ));
        assert!(matches(
            r#"{"dynamodb":{"NewImage":{"total":{"N":["42"]}}}}"#,
            &r
        ));
        assert!(matches(
            r#"{"dynamodb":{"NewImage":{"gone":{"NULL":[true]}}}}"#,
            &r
        ));
        assert!(matches(r#"{"nothing":[null]}"#, &r));
        assert!(!matches(r#"{"missing":[null]}"#, &r));
        // A pattern path that ends on an object is not a leaf.
        assert!(!matches(r#"{"dynamodb":["x"]}"#, &r));
    }

    #[test]
    fn arrays_in_the_record_are_flattened() {
        let r = insert();
        assert!(matches(
            r#"{"dynamodb":{"NewImage":{"tags":{"L":{"S":["blue"]}}}}}"#,
            &r
        ));
        assert!(!matches(
            r#"{"dynamodb":{"NewImage":{"tags":{"L":{"S":["green"]}}}}}"#,
            &r
        ));
        assert!(matches(r#"{"a":[2]}"#, &json!({"a": [1, [2, 3]]})));
    }

    #[test]
    fn string_operators() {
        let r = insert();
        let status =
            |cond: &str| format!(r#"{{"dynamodb":{{"NewImage":{{"status":{{"S":[{cond}]}}}}}}}}"#);
        assert!(matches(&status(r#"{"prefix":"Ship"}"#), &r));
        assert!(!matches(&status(r#"{"prefix":"ship"}"#), &r));
        assert!(matches(
            &status(r#"{"prefix":{"equals-ignore-case":"SHIP"}}"#),
            &r
        ));
        assert!(matches(&status(r#"{"suffix":"ped"}"#), &r));
        assert!(!matches(&status(r#"{"suffix":"Ship"}"#), &r));
        assert!(matches(
            &status(r#"{"suffix":{"equals-ignore-case":"PED"}}"#),
            &r
        ));
        assert!(matches(&status(r#"{"equals-ignore-case":"shipped"}"#), &r));
        assert!(!matches(&status(r#"{"equals-ignore-case":"ship"}"#), &r));
        // Prefixes do not apply to numbers.
        assert!(!matches(
            r#"{"dynamodb":{"SizeBytes":[{"prefix":"1"}]}}"#,
            &r
        ));
    }

    #[test]
    fn anything_but() {
        let r = insert();
        assert!(matches(
            r#"{"eventName":[{"anything-but":["REMOVE","MODIFY"]}]}"#,
            &r
        ));
        assert!(!matches(
            r#"{"eventName":[{"anything-but":["INSERT"]}]}"#,
            &r
        ));
        assert!(!matches(r#"{"eventName":[{"anything-but":"INSERT"}]}"#, &r));
        assert!(matches(
            r#"{"dynamodb":{"SizeBytes":[{"anything-but":[7]}]}}"#,
            &r
        ));
        assert!(!matches(
            r#"{"dynamodb":{"SizeBytes":[{"anything-but":120}]}}"#,
            &r
        ));
        assert!(!matches(
            r#"{"eventName":[{"anything-but":{"prefix":"INS"}}]}"#,
            &r
        ));
        assert!(matches(
            r#"{"eventName":[{"anything-but":{"prefix":"MOD"}}]}"#,
            &r
        ));
        assert!(!matches(
            r#"{"eventName":[{"anything-but":{"suffix":"ERT"}}]}"#,
            &r
        ));
        assert!(!matches(
            r#"{"eventName":[{"anything-but":{"equals-ignore-case":["insert"]}}]}"#,
            &r
        ));
        // A field that is not there is not "anything but".
        assert!(!matches(r#"{"missing":[{"anything-but":["x"]}]}"#, &r));
    }

    #[test]
    fn numeric_ranges() {
        let r = insert();
        let size = |cond: &str| format!(r#"{{"dynamodb":{{"SizeBytes":[{{"numeric":{cond}}}]}}}}"#);
        assert!(matches(&size(r#"[">", 0, "<=", 120]"#), &r));
        assert!(!matches(&size(r#"[">", 0, "<", 120]"#), &r));
        assert!(matches(&size(r#"["=", 120]"#), &r));
        assert!(matches(&size(r#"[">=", 120]"#), &r));
        assert!(!matches(&size(r#"["<", 5]"#), &r));
        // Numbers DynamoDB writes as strings are strings.
        assert!(!matches(
            r#"{"dynamodb":{"NewImage":{"total":{"N":[{"numeric":[">",1]}]}}}}"#,
            &r
        ));
    }

    #[test]
    fn exists() {
        let r = insert();
        assert!(matches(
            r#"{"dynamodb":{"NewImage":{"status":{"S":[{"exists":true}]}}}}"#,
            &r
        ));
        assert!(!matches(
            r#"{"dynamodb":{"OldImage":{"status":{"S":[{"exists":true}]}}}}"#,
            &r
        ));
        assert!(matches(
            r#"{"dynamodb":{"OldImage":[{"exists":false}]}}"#,
            &r
        ));
        assert!(!matches(r#"{"eventName":[{"exists":false}]}"#, &r));
        // exists is about leaves: an object is not one.
        assert!(!matches(
            r#"{"dynamodb":{"NewImage":[{"exists":true}]}}"#,
            &r
        ));
        assert!(matches(r#"{"nothing":[{"exists":true}]}"#, &r));
        // An OR of "missing" and a value.
        assert!(matches(r#"{"missing":[{"exists":false},"x"]}"#, &r));
    }

    #[test]
    fn or_of_patterns() {
        let r = insert();
        assert!(matches(
            r#"{"$or":[{"eventName":["REMOVE"]},{"awsRegion":["us-east-1"]}]}"#,
            &r
        ));
        assert!(!matches(
            r#"{"$or":[{"eventName":["REMOVE"]},{"awsRegion":["eu-west-1"]}]}"#,
            &r
        ));
        assert!(matches(
            r#"{"dynamodb":{"$or":[{"SizeBytes":[1]},{"NewImage":{"status":{"S":["Shipped"]}}}]}}"#,
            &r
        ));
        assert!(!matches(
            r#"{"eventName":["MODIFY"],"$or":[{"eventName":["REMOVE"]},{"awsRegion":["us-east-1"]}]}"#,
            &r
        ));
    }

    #[test]
    fn cidr() {
        let r = insert();
        assert!(matches(r#"{"ip":[{"cidr":"10.1.0.0/16"}]}"#, &r));
        assert!(!matches(r#"{"ip":[{"cidr":"10.2.0.0/16"}]}"#, &r));
        assert!(matches(r#"{"ip":[{"cidr":"0.0.0.0/0"}]}"#, &r));
        assert!(matches(
            r#"{"v6":[{"cidr":"2001:db8::/32"}]}"#,
            &json!({"v6": "2001:db8::1"})
        ));
    }

    #[test]
    fn any_of_several_filters_lets_a_record_through() {
        let r = insert();
        let parse = |p: &str| FilterPattern::parse(p).unwrap();
        assert!(passes(&[], &r));
        assert!(passes(
            &[
                parse(r#"{"eventName":["REMOVE"]}"#),
                parse(r#"{"eventName":["INSERT"]}"#)
            ],
            &r
        ));
        assert!(!passes(&[parse(r#"{"eventName":["REMOVE"]}"#)], &r));
    }

    #[test]
    fn invalid_patterns_are_refused() {
        for bad in [
            "",
            "[]",
            r#""eventName""#,
            "{}",
            r#"{"eventName":"INSERT"}"#,
            r#"{"eventName":5}"#,
            r#"{"eventName":[]}"#,
            r#"{"eventName":[["INSERT"]]}"#,
            r#"{"a":{}}"#,
            r#"{"a":[{"prefix":5}]}"#,
            r#"{"a":[{"prefix":"x","suffix":"y"}]}"#,
            r#"{"a":[{}]}"#,
            r#"{"a":[{"wildcard":"x*"}]}"#,
            r#"{"a":[{"numeric":[">"]}]}"#,
            r#"{"a":[{"numeric":["<", 5, ">", 1]}]}"#,
            r#"{"a":[{"numeric":["~", 5]}]}"#,
            r#"{"a":[{"numeric":[">", "5"]}]}"#,
            r#"{"a":[{"numeric":[">", 1, "<", 5, "=", 3]}]}"#,
            r#"{"a":[{"exists":"yes"}]}"#,
            r#"{"a":[{"anything-but":[]}]}"#,
            r#"{"a":[{"anything-but":{"wildcard":"x"}}]}"#,
            r#"{"a":[{"anything-but":true}]}"#,
            r#"{"a":[{"cidr":"10.0.0.0/33"}]}"#,
            r#"{"a":[{"cidr":"nope"}]}"#,
            r#"{"$or":[{"a":["x"]}]}"#,
            r#"{"$or":{"a":["x"]}}"#,
        ] {
            assert!(FilterPattern::parse(bad).is_err(), "{bad} was accepted");
        }
    }
}
