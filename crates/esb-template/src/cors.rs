//! CORS rules an API applies itself (answering preflight requests and adding the
//! headers to answers): an HTTP API's `CorsConfiguration` (lists of values), and a REST
//! API's `Cors`, whose values SAM passes to API Gateway as quoted header expressions
//! (`"'GET,POST'"`), read into the same [`Cors`].

use serde::{Deserialize, Serialize};

use crate::error::{ErrorKind, TemplateError};
use crate::intrinsics::Resolver;
use crate::value::Value;
use crate::yaml_tree::{Entry, Position};

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
const REST_HINT: &str = "Cors: \"'*'\", or {AllowOrigin: \"'https://app.example'\", AllowMethods: \"'GET,POST'\", AllowHeaders: \"'content-type'\", MaxAge: \"'600'\"}: values are single-quoted inside the YAML string";

/// Reads an HTTP API's `CorsConfiguration`; `true` allows every origin, method and
/// header.
pub fn read(
    r: &Resolver<'_>,
    entry: Option<&Entry>,
    path: &str,
) -> Result<Option<Cors>, TemplateError> {
    let Some(entry) = entry else {
        return Ok(None);
    };
    let value = r.resolve(&entry.value, path)?;
    from_value(r, value, entry.key_pos, path)
}

/// An HTTP API's `CorsConfiguration`, resolved (and merged with Globals).
pub fn from_value(
    r: &Resolver<'_>,
    value: Option<Value>,
    at: Position,
    path: &str,
) -> Result<Option<Cors>, TemplateError> {
    let bad = |what: String| r.error(at, path, ErrorKind::InvalidValue(what), HINT);
    let fields = match value {
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

/// A REST API's `Cors`: a quoted origin (`"'*'"`), or a mapping of quoted,
/// comma-separated values. `AllowOrigin` is required, as SAM requires it.
pub fn from_rest_value(
    r: &Resolver<'_>,
    value: Value,
    at: Position,
    path: &str,
) -> Result<Cors, TemplateError> {
    let bad = |what: String| r.error(at, path, ErrorKind::InvalidValue(what), REST_HINT);
    let quoted = |key: &str, v: &Value| -> Result<Vec<String>, TemplateError> {
        let text = v
            .as_text()
            .ok_or_else(|| bad(format!("{key} must be a string, not {}", v.shape())))?;
        let inner = text
            .strip_prefix('\'')
            .and_then(|t| t.strip_suffix('\''))
            .ok_or_else(|| {
                bad(format!(
                    "{key} {text:?} must be single-quoted, as \"'{text}'\""
                ))
            })?;
        Ok(inner
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect())
    };
    let mut cors = Cors {
        allow_origins: Vec::new(),
        allow_methods: Vec::new(),
        allow_headers: Vec::new(),
        expose_headers: Vec::new(),
        max_age: None,
        allow_credentials: false,
    };
    match &value {
        Value::Map(fields) => {
            for (key, v) in fields {
                match key.as_str() {
                    "AllowOrigin" => cors.allow_origins = quoted(key, v)?,
                    "AllowMethods" => {
                        cors.allow_methods = quoted(key, v)?
                            .into_iter()
                            .map(|m| m.to_ascii_uppercase())
                            .collect();
                    }
                    "AllowHeaders" => cors.allow_headers = quoted(key, v)?,
                    // SAM documents a quoted string; a plain number means the same.
                    "MaxAge" => {
                        let text = match v {
                            Value::Number(n) => n.clone(),
                            other => quoted(key, other)?.join(","),
                        };
                        cors.max_age = Some(
                            text.parse()
                                .map_err(|_| bad("MaxAge must be a number of seconds".into()))?,
                        );
                    }
                    "AllowCredentials" => {
                        cors.allow_credentials = v
                            .as_bool()
                            .ok_or_else(|| bad("AllowCredentials must be true or false".into()))?;
                    }
                    other => return Err(bad(format!("{other} is not a Cors field"))),
                }
            }
            if value.get("AllowOrigin").is_none() {
                return Err(r.error(
                    at,
                    path,
                    ErrorKind::MissingProperty("AllowOrigin".into()),
                    REST_HINT,
                ));
            }
        }
        other => cors.allow_origins = quoted("Cors", other)?,
    }
    if cors.allow_origins.is_empty() {
        return Err(bad("AllowOrigin names no origin".into()));
    }
    if cors.allow_credentials && cors.allow_origins.iter().any(|o| o == "*") {
        return Err(bad(
            "AllowCredentials cannot be used with AllowOrigin '*'".into()
        ));
    }
    Ok(cors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::resolver_for;
    use crate::yaml_tree::Position;

    fn rest(yaml: &str) -> Result<Cors, String> {
        let source = format!("V: {yaml}\n");
        let mut out = Err("not run".to_string());
        resolver_for(&source, |r| {
            let root = crate::yaml_tree::parse(&source)
                .ok()
                .flatten()
                .expect("yaml");
            let node = root.get("V").expect("V");
            let value = r.resolve(node, "V").ok().flatten().expect("value");
            out = from_rest_value(r, value, Position { line: 1, col: 1 }, "V")
                .map_err(|e| e.to_string());
        });
        out
    }

    #[test]
    fn rest_cors_is_unquoted_and_split() {
        let c = rest("\"'*'\"").expect("string form");
        assert_eq!(c.allow_origins, ["*"]);
        assert!(c.allow_methods.is_empty() && c.max_age.is_none());
        let c = rest("{AllowOrigin: \"'https://a.example'\", AllowMethods: \"'get, POST'\", AllowHeaders: \"'X-A,X-B'\", MaxAge: \"'600'\", AllowCredentials: true}")
            .expect("map form");
        assert_eq!(c.allow_origins, ["https://a.example"]);
        assert_eq!(c.allow_methods, ["GET", "POST"]);
        assert_eq!(c.allow_headers, ["X-A", "X-B"]);
        assert_eq!((c.max_age, c.allow_credentials), (Some(600), true));
        assert_eq!(
            rest("{AllowOrigin: \"'*'\", MaxAge: 60}")
                .ok()
                .and_then(|c| c.max_age),
            Some(60)
        );
        for (bad, want) in [
            ("'*'", "must be single-quoted"),
            ("{AllowMethods: \"'GET'\"}", "AllowOrigin is missing"),
            (
                "{AllowOrigin: \"'*'\", AllowCredentials: true}",
                "cannot be used with AllowOrigin '*'",
            ),
            (
                "{AllowOrigin: \"'*'\", Origins: x}",
                "Origins is not a Cors field",
            ),
            (
                "{AllowOrigin: \"'*'\", MaxAge: \"'ten'\"}",
                "MaxAge must be a number",
            ),
            ("[a]", "Cors must be a string, not a list"),
        ] {
            let e = rest(bad).expect_err(bad);
            assert!(e.contains(want), "{bad}: {e}");
        }
    }
}
