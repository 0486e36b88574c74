//! Whether a message matches a parsed pattern. Everything was checked when the pattern
//! was parsed, so this never fails: a message a pattern cannot apply to (text for a
//! JSON pattern, too few fields for a space-delimited one) simply does not match.

use std::borrow::Cow;

use serde_json::Value as Json;

use super::ast::{
    CompareOp, Comparison, Delimited, FieldCondition, Glob, JsonCheck, JsonExpr, Pattern, Selector,
    Slot, Step, Terms, Value,
};
use super::fields::split_fields;
use super::number::parse_number;

pub(super) fn matches(pattern: &Pattern, message: &str) -> bool {
    match pattern {
        Pattern::Everything => true,
        Pattern::Terms(terms) => terms_match(terms, message),
        Pattern::Regex(re) => re.is_match(message),
        Pattern::Json(expr) => {
            serde_json::from_str::<Json>(message).is_ok_and(|json| json_match(expr, &json))
        }
        Pattern::Delimited(pattern) => delimited_match(pattern, &split_fields(message)),
    }
}

// ---- Unstructured terms ----

/// Terms match anywhere, case-sensitively: `ERROR` is in `ERRORCODE`. A blank phrase
/// (AWS's match-everything `" "`) is always there.
fn contains(message: &str, term: &str) -> bool {
    term.trim().is_empty() || message.contains(term)
}

fn terms_match(terms: &Terms, message: &str) -> bool {
    terms.required.iter().all(|t| contains(message, t))
        && !terms.excluded.iter().any(|t| contains(message, t))
        && (terms.any_of.is_empty() || terms.any_of.iter().any(|t| contains(message, t)))
}

// ---- JSON ----

fn json_match(expr: &JsonExpr, json: &Json) -> bool {
    match expr {
        JsonExpr::Any(any) => any.iter().any(|e| json_match(e, json)),
        JsonExpr::All(all) => all.iter().all(|e| json_match(e, json)),
        JsonExpr::Test(selector, check) => {
            let values = select(json, selector);
            match check {
                JsonCheck::NotExists => values.is_empty(),
                JsonCheck::IsNull => values.iter().any(|v| v.is_null()),
                JsonCheck::IsTrue => values.iter().any(|v| **v == Json::Bool(true)),
                JsonCheck::IsFalse => values.iter().any(|v| **v == Json::Bool(false)),
                // With a wildcard, one selected value that compares is enough.
                JsonCheck::Compare(c) => values
                    .iter()
                    .any(|v| scalar(v).is_some_and(|s| compare(c, &s))),
            }
        }
    }
}

/// The values a selector points to: none when a step finds nothing (a missing key, an
/// index past the end, an index into something that is not an array), several when a
/// step is a wildcard.
fn select<'a>(root: &'a Json, selector: &Selector) -> Vec<&'a Json> {
    let mut current = vec![root];
    for step in &selector.steps {
        let mut next = Vec::new();
        for value in current {
            match (step, value) {
                (Step::Key(key), Json::Object(map)) => next.extend(map.get(key)),
                (Step::AnyKey, Json::Object(map)) => next.extend(map.values()),
                (Step::Index(i), Json::Array(items)) => next.extend(items.get(*i)),
                (Step::AnyIndex, Json::Array(items)) => next.extend(items.iter()),
                _ => {}
            }
        }
        current = next;
    }
    current
}

/// A value a comparison can look at: a field of a space-delimited message, or a JSON
/// string, number or boolean. JSON objects, arrays and null compare with nothing (AWS:
/// "If a property selector points to an array or object, the metric filter won't match").
enum Scalar<'a> {
    Text(&'a str),
    Number(&'a serde_json::Number),
    Bool(bool),
}

fn scalar(json: &Json) -> Option<Scalar<'_>> {
    match json {
        Json::String(s) => Some(Scalar::Text(s)),
        Json::Number(n) => Some(Scalar::Number(n)),
        Json::Bool(b) => Some(Scalar::Bool(*b)),
        Json::Null | Json::Array(_) | Json::Object(_) => None,
    }
}

impl Scalar<'_> {
    fn text(&self) -> Cow<'_, str> {
        match self {
            Scalar::Text(s) => Cow::Borrowed(s),
            Scalar::Number(n) => Cow::Owned(n.to_string()),
            Scalar::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
        }
    }

    /// Numbers, and strings written as numbers (a space-delimited `1534`).
    fn number(&self) -> Option<f64> {
        match self {
            Scalar::Text(s) => parse_number(s),
            Scalar::Number(n) => n.as_f64(),
            Scalar::Bool(_) => None,
        }
    }
}

fn compare(c: &Comparison, value: &Scalar<'_>) -> bool {
    let equal = match &c.value {
        Value::Anything => true,
        Value::Text(glob) => glob_match(glob, &value.text()),
        Value::Regex(re) => re.is_match(&value.text()),
        Value::Number(n) => {
            return match value.number() {
                Some(x) => match c.op {
                    CompareOp::Eq => x == *n,
                    CompareOp::Ne => x != *n,
                    CompareOp::Lt => x < *n,
                    CompareOp::Le => x <= *n,
                    CompareOp::Gt => x > *n,
                    CompareOp::Ge => x >= *n,
                },
                // Not a number: unequal to every number, and never ordered.
                None => c.op == CompareOp::Ne,
            };
        }
    };
    // The parser allows only `=` and `!=` with values that are not numbers.
    if c.op == CompareOp::Ne { !equal } else { equal }
}

fn glob_match(glob: &Glob, text: &str) -> bool {
    match (glob.any_prefix, glob.any_suffix) {
        (false, false) => text == glob.text,
        (false, true) => text.starts_with(glob.text.as_str()),
        (true, false) => text.ends_with(glob.text.as_str()),
        (true, true) => text.contains(glob.text.as_str()),
    }
}

// ---- Space-delimited ----

fn delimited_match(pattern: &Delimited, fields: &[&str]) -> bool {
    let head = &pattern.head;
    match &pattern.tail {
        None => fields.len() == head.len() && slots_match(head, fields),
        Some(tail) => {
            let Some(middle) = fields.len().checked_sub(head.len() + tail.len()) else {
                return false;
            };
            slots_match(head, &fields[..head.len()])
                && slots_match(tail, &fields[head.len() + middle..])
        }
    }
}

fn slots_match(slots: &[Slot], fields: &[&str]) -> bool {
    slots.iter().zip(fields).all(|(slot, field)| {
        slot.condition
            .as_ref()
            .is_none_or(|c| field_match(c, &Scalar::Text(field)))
    })
}

fn field_match(condition: &FieldCondition, field: &Scalar<'_>) -> bool {
    match condition {
        FieldCondition::Any(any) => any.iter().any(|c| field_match(c, field)),
        FieldCondition::All(all) => all.iter().all(|c| field_match(c, field)),
        FieldCondition::Compare(c) => compare(c, field),
    }
}
