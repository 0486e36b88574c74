//! A request's JSON members, read with CloudWatch Logs' errors: a member of the wrong
//! JSON type is a `SerializationException`, a missing required one the model's
//! "Member must not be null" (`InvalidParameterException`).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::ApiError;

pub struct Params(Map<String, Value>);

impl Params {
    /// The body of a request: a JSON object (an empty body is `{}`).
    pub fn parse(body: &[u8]) -> Result<Self, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(Map::new()));
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Ok(Self(map)),
            Ok(_) => Err(ApiError::serialization(
                "Start of structure or map found where not expected.",
            )),
            Err(e) => Err(ApiError::serialization(format!("Invalid JSON: {e}"))),
        }
    }

    fn present(&self, name: &str) -> Option<&Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    pub fn str_opt(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.present(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(wrong_type(name, "a string")),
        }
    }

    pub fn str(&self, name: &str) -> Result<&str, ApiError> {
        self.str_opt(name)?.ok_or_else(|| missing(name))
    }

    pub fn i64_opt(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.present(name) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
                .map(Some)
                .ok_or_else(|| wrong_type(name, "an integer")),
            Some(_) => Err(wrong_type(name, "a number")),
        }
    }

    pub fn bool_opt(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.present(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(wrong_type(name, "a boolean")),
        }
    }

    pub fn strings(&self, name: &str) -> Result<Option<Vec<String>>, ApiError> {
        match self.present(name) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    _ => Err(wrong_type(name, "a list of strings")),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(wrong_type(name, "a list")),
        }
    }

    pub fn tags(&self, name: &str) -> Result<Option<BTreeMap<String, String>>, ApiError> {
        match self.present(name) {
            None => Ok(None),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k.clone(), s.clone())),
                    _ => Err(wrong_type(name, "a map of strings")),
                })
                .collect::<Result<BTreeMap<_, _>, _>>()
                .map(Some),
            Some(_) => Err(wrong_type(name, "a map")),
        }
    }

    pub fn array(&self, name: &str) -> Result<Option<&Vec<Value>>, ApiError> {
        match self.present(name) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(_) => Err(wrong_type(name, "a list")),
        }
    }

    /// The group a request names: `logGroupName`, or `logGroupIdentifier` (a name or ARN).
    pub fn group(&self) -> Result<String, ApiError> {
        let name = match (
            self.str_opt("logGroupName")?,
            self.str_opt("logGroupIdentifier")?,
        ) {
            (Some(_), Some(_)) => {
                return Err(ApiError::invalid(
                    "LogGroup name and LogGroup ARN are mutually exclusive parameters.",
                ));
            }
            (Some(n), None) => n,
            (None, Some(id)) => crate::names::group_from_identifier(id),
            (None, None) => return Err(missing("logGroupName")),
        };
        crate::names::check_group(name, "logGroupName")?;
        Ok(name.to_string())
    }
}

fn wrong_type(name: &str, what: &str) -> ApiError {
    ApiError::serialization(format!("`{name}` must be {what}"))
}

pub fn missing(name: &str) -> ApiError {
    ApiError::invalid(format!(
        "1 validation error detected: Value null at '{name}' failed to satisfy constraint: Member must not be null"
    ))
}
