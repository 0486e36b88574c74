//! `Events` of `Type: Api` (REST API routes) and `Type: HttpApi` (HTTP API routes),
//! checked the way API Gateway checks resource paths, so a route that API Gateway would
//! refuse is refused here rather than quietly never matching. Each names the API that
//! serves it (`RestApiId` / `ApiId`, else SAM's implicit API).

use crate::api_auth;
use crate::error::{ErrorKind, TemplateError};
use crate::intrinsics::Resolver;
use crate::located::Located;
use crate::model::{
    ApiEvent, ApiKind, ApiType, DEFAULT_ROUTE, IMPLICIT_HTTP_API, IMPLICIT_REST_API,
};
use crate::resources::{API, HTTP_API};
use crate::yaml_tree::{Node, Position};

const METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY",
];
const PATH_HINT: &str = "paths look like /, /items, /items/{id} or /files/{proxy+}";

/// Reads `Events` of `Type: Api` and `HttpApi`; `S3` events are `s3_event`'s,
/// `DynamoDB` events `dynamodb_event`'s, other types are reported once each and
/// skipped.
pub fn read(
    r: &Resolver<'_>,
    events: Option<&Node>,
    base: &str,
) -> Result<Vec<Located>, TemplateError> {
    let Some(events) = events else {
        return Ok(Vec::new());
    };
    if !events.is_map() {
        return Err(r.error(
            events.pos,
            &format!("{base}.Events"),
            ErrorKind::Structure(format!("must be a mapping, not {}", events.shape())),
            "Events maps event names to {Type: Api, Properties: {Path: ..., Method: ...}}",
        ));
    }
    let mut out = Vec::new();
    for e in events.entries() {
        let path = format!("{base}.Events.{}", e.key);
        let kind = e.value.get("Type").and_then(Node::as_str);
        match kind {
            Some("Api") => out.push(api(r, &e.value, e.key.as_str(), e.key_pos, &path)?),
            Some("HttpApi") => out.push(http_api(r, &e.value, e.key.as_str(), e.key_pos, &path)?),
            // Read by s3_event, dynamodb_event, sqs_event and schedule_event.
            Some("S3" | "DynamoDB" | "SQS" | "Schedule" | "ScheduleV2") => {}
            Some(other) => r.warn_once(
                &format!("event {other}"),
                e.key_pos,
                &path,
                format!("event type {other} is not supported by ESB yet; ignored"),
            ),
            None => {
                return Err(r.error(
                    e.key_pos,
                    &path,
                    ErrorKind::MissingProperty("Type".into()),
                    "an event needs a Type, e.g. Type: Api",
                ));
            }
        }
    }
    Ok(out)
}

fn api(
    r: &Resolver<'_>,
    event: &Node,
    id: &str,
    at: Position,
    path: &str,
) -> Result<Located, TemplateError> {
    let props = event
        .get("Properties")
        .filter(|p| p.is_map())
        .ok_or_else(|| {
            r.error(
                at,
                path,
                ErrorKind::MissingProperty("Properties".into()),
                "an Api event needs Properties: {Path: /items, Method: get}",
            )
        })?;
    for e in props.entries() {
        if !["Path", "Method", "RestApiId", "Auth"].contains(&e.key.as_str()) {
            r.warn_once(
                &format!("api property {}", e.key),
                e.key_pos,
                &format!("{path}.Properties.{}", e.key),
                "is not supported by ESB yet; ignored".into(),
            );
        }
    }
    let field = |key: &str| -> Result<(String, Position, String), TemplateError> {
        let p = format!("{path}.Properties.{key}");
        let entry = props.entry(key).ok_or_else(|| {
            r.error(
                at,
                &format!("{path}.Properties"),
                ErrorKind::MissingProperty(key.into()),
                "an Api event needs Path and Method",
            )
        })?;
        Ok((r.string(&entry.value, &p)?, entry.key_pos, p))
    };
    let (route, route_at, route_path) = field("Path")?;
    check_path(&route)
        .map_err(|why| r.error(route_at, &route_path, ErrorKind::BadApiPath(why), PATH_HINT))?;
    let (method, method_at, method_path) = field("Method")?;
    let method = check_method(r, method, method_at, &method_path)?;
    let api_id = api_id(r, Some(props), "RestApiId", API, IMPLICIT_REST_API, path)?;
    let (auth, authorizer_at) = api_auth::read_route(r, Some(props), ApiType::Rest, path)?;
    Ok(Located {
        event: ApiEvent {
            logical_id: id.to_string(),
            path: route,
            method,
            api: ApiKind::Rest,
            api_id,
            auth,
        },
        at: route_at,
        path: route_path,
        authorizer_at,
    })
}

/// `Type: HttpApi`: `Path` and `Method` are optional (without them the event is the
/// API's `$default` route, which catches every request no other route takes);
/// `PayloadFormatVersion` is `"2.0"` unless it says `"1.0"`.
fn http_api(
    r: &Resolver<'_>,
    event: &Node,
    id: &str,
    at: Position,
    path: &str,
) -> Result<Located, TemplateError> {
    let props = event.get("Properties");
    if let Some(p) = props.filter(|p| !p.is_map()) {
        return Err(r.error(
            p.pos,
            &format!("{path}.Properties"),
            ErrorKind::Structure(format!("must be a mapping, not {}", p.shape())),
            "an HttpApi event's Properties look like {Path: /items, Method: get}",
        ));
    }
    let props = props.filter(|p| p.is_map());
    for e in props.iter().flat_map(|p| p.entries()) {
        if !["Path", "Method", "PayloadFormatVersion", "ApiId", "Auth"].contains(&e.key.as_str()) {
            r.warn_once(
                &format!("httpapi property {}", e.key),
                e.key_pos,
                &format!("{path}.Properties.{}", e.key),
                "is not supported by ESB yet; ignored".into(),
            );
        }
    }
    let field = |key: &str| -> Result<Option<(String, Position, String)>, TemplateError> {
        let p = format!("{path}.Properties.{key}");
        props
            .and_then(|props| props.entry(key))
            .map(|entry| Ok((r.string(&entry.value, &p)?, entry.key_pos, p)))
            .transpose()
    };
    let (route, route_at, route_path) = match field("Path")? {
        Some((route, route_at, route_path)) => {
            check_path(&route).map_err(|why| {
                r.error(route_at, &route_path, ErrorKind::BadApiPath(why), PATH_HINT)
            })?;
            (route, route_at, route_path)
        }
        None => (DEFAULT_ROUTE.to_string(), at, path.to_string()),
    };
    let method = match field("Method")? {
        Some((method, method_at, method_path)) => check_method(r, method, method_at, &method_path)?,
        None => "ANY".to_string(),
    };
    let payload_v2 = match field("PayloadFormatVersion")? {
        None => true,
        Some((v, _, _)) if v == "2.0" => true,
        Some((v, _, _)) if v == "1.0" => false,
        Some((v, v_at, v_path)) => {
            return Err(r.error(
                v_at,
                &v_path,
                ErrorKind::Structure(format!("PayloadFormatVersion {v:?} is not 1.0 or 2.0")),
                "HTTP APIs send payload format \"2.0\" (the default) or \"1.0\"",
            ));
        }
    };
    let api_id = api_id(r, props, "ApiId", HTTP_API, IMPLICIT_HTTP_API, path)?;
    let (auth, authorizer_at) = api_auth::read_route(r, props, ApiType::Http, path)?;
    Ok(Located {
        event: ApiEvent {
            logical_id: id.to_string(),
            path: route,
            method,
            api: ApiKind::Http { payload_v2 },
            api_id,
            auth,
        },
        at: route_at,
        path: route_path,
        authorizer_at,
    })
}

/// `RestApiId` / `ApiId`: a `Ref` to an API resource of type `want` that exists, else
/// the `implicit` API. SAM accepts nothing else: an API outside the template is not
/// one ESB could serve.
fn api_id(
    r: &Resolver<'_>,
    props: Option<&Node>,
    key: &str,
    want: &str,
    implicit: &str,
    path: &str,
) -> Result<String, TemplateError> {
    let Some(entry) = props.and_then(|p| p.entry(key)) else {
        return Ok(implicit.to_string());
    };
    let p = format!("{path}.Properties.{key}");
    let at = entry.value.pos;
    let hint = format!("write {key}: !Ref MyApi, naming an {want} of this template");
    let target = match r.intrinsic(&entry.value, true, false, &p)? {
        Some(call) if call.name == "Ref" => call.arg.as_str(),
        _ => None,
    };
    let Some(target) = target else {
        return Err(r.error(
            at,
            &p,
            ErrorKind::InvalidValue(format!("{key} must be a Ref to an {want}")),
            hint,
        ));
    };
    let Some(res) = r.resources.get(target) else {
        return Err(r.error(at, &p, ErrorKind::UnknownRef(target.to_string()), hint));
    };
    if res.type_name != want {
        return Err(r.error(
            at,
            &p,
            ErrorKind::InvalidValue(format!("{target} is an {}, not an {want}", res.type_name)),
            hint,
        ));
    }
    if !r.is_created(res)? {
        let cond = res.condition.map(|c| c.0).unwrap_or_default();
        return Err(r.error(
            at,
            &p,
            ErrorKind::ResourceNotCreated(target.to_string(), cond.to_string()),
            format!("give this function the same Condition as {target}, or drop it"),
        ));
    }
    Ok(target.to_string())
}

/// The method in upper case, if API Gateway knows it.
fn check_method(
    r: &Resolver<'_>,
    method: String,
    at: Position,
    path: &str,
) -> Result<String, TemplateError> {
    let method = method.to_ascii_uppercase();
    if METHODS.contains(&method.as_str()) {
        return Ok(method);
    }
    Err(r.error(
        at,
        path,
        ErrorKind::BadApiMethod(method),
        format!("use one of {} (any case)", METHODS.join(", ")),
    ))
}

/// API Gateway resource paths: `/`, or `/`-separated parts that are literal
/// (`A-Z a-z 0-9 - . _ ~ : @`) or whole-part parameters `{name}`; a greedy `{name+}`
/// only as the last part; no parameter name twice.
pub fn check_path(path: &str) -> Result<(), String> {
    if path == "/" {
        return Ok(());
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Err(format!("{path:?} must start with /"));
    };
    let parts: Vec<&str> = rest.split('/').collect();
    let mut names: Vec<&str> = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() {
            return Err(if i + 1 == parts.len() {
                format!("{path:?} ends with /")
            } else {
                format!("{path:?} has an empty part (//)")
            });
        }
        if let Some(inner) = part.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            let (name, greedy) = match inner.strip_suffix('+') {
                Some(n) => (n, true),
                None => (inner, false),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!(
                    "{path:?}: {part} is not a valid parameter (letters, digits and _)"
                ));
            }
            if greedy && i + 1 != parts.len() {
                return Err(format!("{path:?}: the greedy {part} must be the last part"));
            }
            if names.contains(&name) {
                return Err(format!("{path:?}: parameter {{{name}}} appears twice"));
            }
            names.push(name);
        } else if part.contains(['{', '}']) {
            return Err(format!(
                "{path:?}: a parameter must be a whole part, as in /items/{{id}}, not {part:?}"
            ));
        } else if !part
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~:@".contains(c))
        {
            return Err(format!(
                "{path:?}: part {part:?} has characters API Gateway does not allow"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_checked_like_api_gateway() {
        for ok in [
            "/",
            "/items",
            "/items/{id}",
            "/files/{proxy+}",
            "/a-b/c.d",
            "/{a}/{b}",
        ] {
            assert!(check_path(ok).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("items", "must start with /"),
            ("", "must start with /"),
            ("/a//b", "empty part"),
            ("/a/", "ends with /"),
            ("/{proxy+}/x", "must be the last part"),
            ("/{}", "not a valid parameter"),
            ("/{+}", "not a valid parameter"),
            ("/a b", "does not allow"),
            ("/x{id}", "whole part"),
            ("/{id}/{id}", "appears twice"),
        ] {
            let e = check_path(bad).expect_err(bad);
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
