//! `Globals.HttpApi.CorsConfiguration`: the CORS rules an HTTP API applies itself
//! (answering preflight requests and adding the headers to answers), as
//! `AWS::Serverless::HttpApi` does.

use serde::{Deserialize, Serialize};

use crate::error::{ErrorKind, TemplateError};
use crate::intrinsics::Resolver;
use crate::value::Value;
use crate::yaml_tree::Entry;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cors {
    pub allow_origins: Vec<String>,
    pub allow_methods: Vec<String>,
    pub allow_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age: Option<u32>,
    pub allow_credentials: bool,
}

const HINT: &str = "CorsConfiguration: true, or {AllowOrigins: [https://app.example], AllowMethods: [GET, POST], AllowHeaders: [content-type], MaxAge: 600}";

/// Reads the configuration; `true` allows every origin, method and header.
pub fn read(
    r: &Resolver<'_>,
    entry: Option<&Entry>,
    path: &str,
) -> Result<Option<Cors>, TemplateError> {
    let Some(entry) = entry else {
        return Ok(None);
    };
    let bad = |what: String| r.error(entry.key_pos, path, ErrorKind::InvalidValue(what), HINT);
    let fields = match r.resolve(&entry.value, path)? {
        None | Some(Value::Bool(false)) => return Ok(None),
        Some(Value::Bool(true)) => {
            let all = vec!["*".to_string()];
            return Ok(Some(Cors {
                allow_origins: all.clone(),
                allow_methods: all.clone(),
                allow_headers: all,
                expose_headers: Vec::new(),
                max_age: None,
                allow_credentials: false,
            }));
        }
        Some(Value::Map(fields)) => fields,
        Some(other) => {
            return Err(bad(format!(
                "must be true or a mapping, not {}",
                other.shape()
            )));
        }
    };
    let list = |v: &Value, key: &str| -> Result<Vec<String>, TemplateError> {
        match v {
            Value::List(items) => items
                .iter()
                .map(|i| {
                    i.as_text()
                        .ok_or_else(|| bad(format!("{key} must list strings")))
                })
                .collect(),
            other => other
                .as_text()
                .map(|t| vec![t])
                .ok_or_else(|| bad(format!("{key} must be a list of strings"))),
        }
    };
    let mut cors = Cors {
        allow_origins: Vec::new(),
        allow_methods: Vec::new(),
        allow_headers: Vec::new(),
        expose_headers: Vec::new(),
        max_age: None,
        allow_credentials: false,
    };
    for (key, value) in &fields {
        match key.as_str() {
            "AllowOrigins" => cors.allow_origins = list(value, key)?,
            "AllowMethods" => {
                cors.allow_methods = list(value, key)?
                    .into_iter()
                    .map(|m| m.to_ascii_uppercase())
                    .collect();
            }
            "AllowHeaders" => cors.allow_headers = list(value, key)?,
            "ExposeHeaders" => cors.expose_headers = list(value, key)?,
            "MaxAge" => {
                cors.max_age = Some(
                    value
                        .as_text()
                        .and_then(|t| t.parse().ok())
                        .ok_or_else(|| bad("MaxAge must be a number of seconds".into()))?,
                );
            }
            "AllowCredentials" => cors.allow_credentials = matches!(value, Value::Bool(true)),
            other => return Err(bad(format!("{other} is not a CorsConfiguration field"))),
        }
    }
    if cors.allow_credentials && cors.allow_origins.iter().any(|o| o == "*") {
        return Err(bad(
            "AllowCredentials cannot be used with AllowOrigins *".into()
        ));
    }
    Ok(Some(cors))
}
