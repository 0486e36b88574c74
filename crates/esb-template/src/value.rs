//! A template value after its intrinsics are resolved. Numbers keep the text they were
//! written with, because CloudFormation hands properties to Lambda as strings: an
//! environment variable `VERSION: 1.10` must stay `1.10`, not become `1.1`.

/// A resolved value. `AWS::NoValue` is not a value: resolution returns `None` for it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    /// A plain scalar that reads as a number, as written.
    Number(String),
    String(String),
    List(Vec<Value>),
    Map(Vec<(String, Value)>),
}

impl Value {
    /// YAML 1.2 core-schema typing of a scalar; quoted scalars are always strings.
    pub fn from_scalar(text: &str, quoted: bool) -> Value {
        if quoted {
            return Value::String(text.to_string());
        }
        match text {
            "" | "~" | "null" | "Null" | "NULL" => Value::Null,
            "true" | "True" | "TRUE" => Value::Bool(true),
            "false" | "False" | "FALSE" => Value::Bool(false),
            _ if is_number(text) => Value::Number(text.to_string()),
            _ => Value::String(text.to_string()),
        }
    }

    /// The text of a scalar the way CloudFormation passes it on; `None` for null,
    /// lists and maps.
    pub fn as_text(&self) -> Option<String> {
        match self {
            Value::String(s) | Value::Number(s) => Some(s.clone()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Null | Value::List(_) | Value::Map(_) => None,
        }
    }

    /// The value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// `true`/`false`, written as a boolean or as text (CloudFormation accepts both).
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        }
    }

    /// A list of scalars as text; a lone scalar is a list of one.
    pub fn as_text_list(&self) -> Option<Vec<String>> {
        match self {
            Value::List(items) => items.iter().map(Value::as_text).collect(),
            other => other.as_text().map(|t| vec![t]),
        }
    }

    /// A short description for errors.
    pub fn shape(&self) -> &'static str {
        match self {
            Value::Null => "empty",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::List(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// Decimal integers and floats (`12`, `-3`, `1.5`, `2e3`, `.5`); not `inf`/`nan`, which
/// Rust's float parser would accept but a template means as text.
fn is_number(text: &str) -> bool {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match digits.find(['e', 'E']) {
        Some(i) => (&digits[..i], Some(&digits[i + 1..])),
        None => (digits, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = all_digits(int)
        && frac.is_none_or(all_digits)
        && (!int.is_empty() || frac.is_some_and(|f| !f.is_empty()));
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && all_digits(e)
    });
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_are_typed_like_yaml_core_schema() {
        assert_eq!(Value::from_scalar("10", false), Value::Number("10".into()));
        assert_eq!(
            Value::from_scalar("1.10", false).as_text().as_deref(),
            Some("1.10")
        );
        assert_eq!(Value::from_scalar("True", false), Value::Bool(true));
        assert_eq!(Value::from_scalar("", false), Value::Null);
        assert_eq!(Value::from_scalar("10", true), Value::String("10".into()));
        for text in ["inf", "nan", "1.2.3", "-", ".", "e5", "1e", "0x10", "yes"] {
            assert!(
                matches!(Value::from_scalar(text, false), Value::String(_)),
                "{text}"
            );
        }
        for text in ["-3", "+4", "2e3", ".5", "5.", "1E-2"] {
            assert!(
                matches!(Value::from_scalar(text, false), Value::Number(_)),
                "{text}"
            );
        }
    }

    #[test]
    fn text_of_values() {
        assert_eq!(Value::Bool(false).as_text().as_deref(), Some("false"));
        assert_eq!(Value::Null.as_text(), None);
        assert_eq!(Value::List(vec![]).as_text(), None);
    }

    #[test]
    fn fields_booleans_and_lists() {
        let m = Value::Map(vec![("A".into(), Value::String("TRUE".into()))]);
        assert_eq!(m.get("A").and_then(Value::as_bool), Some(true));
        assert_eq!(m.get("B"), None);
        assert_eq!(Value::String("yes".into()).as_bool(), None);
        assert_eq!(
            Value::String("x".into()).as_text_list(),
            Some(vec!["x".to_string()])
        );
        let nested = Value::List(vec![Value::List(vec![])]);
        assert_eq!(nested.as_text_list(), None);
    }
}
