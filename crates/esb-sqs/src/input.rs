//! An operation's input in the JSON protocol's shape (the query protocol's form is
//! turned into the same shape first), read member by member with SQS's errors.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::{ErrorKind, SqsError};

#[derive(Debug, Clone, Default)]
pub struct Input(pub Map<String, Value>);

fn serialization(message: impl Into<String>) -> SqsError {
    SqsError::new(ErrorKind::Serialization, message)
}

impl Input {
    /// A JSON request body: an object (an empty body reads as `{}`).
    pub fn parse(body: &[u8]) -> Result<Self, SqsError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::default());
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(m)) => Ok(Self(m)),
            Ok(_) => Err(serialization(
                "Start of structure or map found where not expected.",
            )),
            Err(e) => Err(serialization(format!(
                "Could not parse the request body: {e}"
            ))),
        }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    pub fn str(&self, key: &str) -> Result<Option<&str>, SqsError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(serialization(format!("{key} must be a string."))),
        }
    }

    /// A required string member; absent (or empty) is `MissingParameter`.
    pub fn required(&self, key: &str) -> Result<&str, SqsError> {
        match self.str(key)? {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(SqsError::missing(key)),
        }
    }

    /// An integer member; the query protocol gives numbers as strings.
    pub fn int(&self, key: &str) -> Result<Option<i64>, SqsError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| {
                SqsError::invalid(format!("Value {n} for parameter {key} is invalid."))
            }),
            Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| {
                SqsError::invalid(format!("Value {s} for parameter {key} is invalid."))
            }),
            Some(_) => Err(serialization(format!("{key} must be an integer."))),
        }
    }

    pub fn strings(&self, key: &str) -> Result<Vec<String>, SqsError> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| serialization(format!("{key} must be a list of strings.")))
                })
                .collect(),
            Some(_) => Err(serialization(format!("{key} must be a list."))),
        }
    }

    pub fn string_map(&self, key: &str) -> Result<BTreeMap<String, String>, SqsError> {
        match self.get(key) {
            None => Ok(BTreeMap::new()),
            Some(Value::Object(m)) => m
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k.clone(), s.clone())),
                    Value::Number(n) => Ok((k.clone(), n.to_string())),
                    Value::Bool(b) => Ok((k.clone(), b.to_string())),
                    _ => Err(serialization(format!("{key} must map strings to strings."))),
                })
                .collect(),
            Some(_) => Err(serialization(format!("{key} must be a map."))),
        }
    }

    /// A list of structures (batch entries).
    pub fn entries(&self, key: &str) -> Result<Vec<Input>, SqsError> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::Object(m) => Ok(Input(m.clone())),
                    _ => Err(serialization(format!(
                        "{key} must be a list of structures."
                    ))),
                })
                .collect(),
            Some(_) => Err(serialization(format!("{key} must be a list."))),
        }
    }
}
