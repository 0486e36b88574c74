//! `AWS::Serverless::Function` resources (with `Globals.Function` defaults) turned into
//! [`FunctionSpec`]s, every property validated where it is written.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{TemplateError, Warning};
use crate::intrinsics::{Resolver, join, value_text};
use crate::model::{ApiEvent, FunctionSpec, Runtime};
use crate::yaml_tree::Node;

/// Properties ESB acts on; anything else is reported once as ignored.
const SUPPORTED: [&str; 12] = [
    "FunctionName",
    "CodeUri",
    "Handler",
    "Runtime",
    "Timeout",
    "MemorySize",
    "Environment",
    "Layers",
    "ReservedConcurrentExecutions",
    "Events",
    "Description",
    "Architectures",
];
const METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY",
];

pub struct FunctionContext<'a> {
    pub resolver: &'a Resolver<'a>,
    pub globals: Option<&'a Node>,
    pub template_dir: &'a Path,
    /// Layer ARN (what `Ref` to a layer gives) → its content directory.
    pub layer_dirs: &'a BTreeMap<String, PathBuf>,
}

impl FunctionContext<'_> {
    pub fn build(
        &self,
        logical_id: &str,
        resource: &Node,
        warned: &mut BTreeSet<String>,
        warnings: &mut Vec<Warning>,
    ) -> Result<FunctionSpec, TemplateError> {
        let r = self.resolver;
        let base = format!("Resources.{logical_id}.Properties");
        let props = resource.get("Properties");
        for source in [props, self.globals].into_iter().flatten() {
            for (k, v) in source.entries() {
                let key = k.as_str().unwrap_or_default();
                if !SUPPORTED.contains(&key) && warned.insert(format!("property {key}")) {
                    warnings.push(r.loc.warn(
                        v,
                        &join(&base, key),
                        "not supported by ESB yet; ignored",
                    ));
                }
            }
        }
        // The function's own value wins over Globals.Function.
        let prop = |key: &str| -> Option<(&Node, String)> {
            props
                .and_then(|p| p.get(key).map(|n| (n, join(&base, key))))
                .or_else(|| {
                    self.globals
                        .and_then(|g| g.get(key).map(|n| (n, format!("Globals.Function.{key}"))))
                })
        };
        let name = match prop("FunctionName") {
            Some((n, path)) => {
                let name = r.string(n, &path)?;
                if name.is_empty()
                    || name.len() > 64
                    || !name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                {
                    return Err(r.loc.hinted(
                        n,
                        &path,
                        format!("{name:?} is not a valid function name"),
                        "use 1 to 64 letters, digits, - or _",
                    ));
                }
                name
            }
            None => logical_id.to_string(),
        };
        let (runtime_node, runtime_path) = prop("Runtime").ok_or_else(|| {
            r.loc.hinted(
                resource,
                &base,
                "Runtime is missing",
                "set Runtime (e.g. python3.12 or provided.al2023) here or in Globals.Function",
            )
        })?;
        let runtime = parse_runtime(&r.string(runtime_node, &runtime_path)?).ok_or_else(|| {
            r.loc.hinted(
                runtime_node,
                &runtime_path,
                "unsupported Runtime",
                "ESB runs python3.8 to python3.14 and provided, provided.al2, provided.al2023",
            )
        })?;
        let (code_node, code_path) = prop("CodeUri").ok_or_else(|| {
            r.loc.hinted(
                resource,
                &base,
                "CodeUri is missing",
                "point CodeUri at the function's code directory",
            )
        })?;
        let code_dir = self.template_dir.join(r.string(code_node, &code_path)?);
        if !code_dir.is_dir() {
            return Err(r.loc.hinted(
                code_node,
                &code_path,
                format!("code directory {} does not exist", code_dir.display()),
                "CodeUri is relative to the template's directory",
            ));
        }
        let code_dir = code_dir.canonicalize().unwrap_or(code_dir);
        if let Runtime::Provided { .. } = runtime
            && !is_executable(&code_dir.join("bootstrap"))
        {
            return Err(r.loc.hinted(
                code_node,
                &code_path,
                format!("{} has no executable bootstrap", code_dir.display()),
                "provided runtimes start CodeUri/bootstrap (e.g. built with the lambda_runtime crate)",
            ));
        }
        let handler = match prop("Handler") {
            Some((n, path)) => Some(r.string(n, &path)?),
            None if matches!(runtime, Runtime::Python { .. }) => {
                return Err(r.loc.hinted(
                    resource,
                    &base,
                    "Handler is missing",
                    "Python functions need Handler: module.function",
                ));
            }
            None => None,
        };
        let timeout_s = number(
            r,
            prop("Timeout"),
            3,
            1,
            900,
            "a timeout is a whole number of seconds from 1 to 900",
        )?;
        let memory_mb = number(
            r,
            prop("MemorySize"),
            128,
            128,
            10240,
            "a memory size is a whole number of MB from 128 to 10240",
        )?;
        let reserved_concurrency = match prop("ReservedConcurrentExecutions") {
            Some(p) => Some(number(
                r,
                Some(p),
                0,
                0,
                10000,
                "reserved concurrency is a whole number from 0 to 10000",
            )?),
            None => None,
        };
        let mut environment = BTreeMap::new();
        for source in [
            self.globals.map(|g| (g, "Globals.Function".to_string())),
            props.map(|p| (p, base.clone())),
        ]
        .into_iter()
        .flatten()
        {
            let (node, path) = source;
            if let Some(vars) = node.get("Environment").and_then(|e| e.get("Variables")) {
                let path = join(&path, "Environment.Variables");
                match r.resolve(vars, &path)? {
                    Some(Value::Object(map)) => {
                        environment.extend(map.iter().map(|(k, v)| (k.clone(), value_text(v))))
                    }
                    None => {}
                    _ => return Err(r.loc.at(vars, &path, "must be a map of names to values")),
                }
            }
        }
        let layers = self.layers(prop("Layers"))?;
        let api_events =
            self.events(props.and_then(|p| p.get("Events")), &base, warned, warnings)?;
        Ok(FunctionSpec {
            logical_id: logical_id.to_string(),
            name,
            code_dir,
            handler,
            runtime,
            timeout_s,
            memory_mb,
            environment,
            layers,
            reserved_concurrency,
            api_events,
        })
    }

    fn layers(&self, prop: Option<(&Node, String)>) -> Result<Vec<PathBuf>, TemplateError> {
        let Some((node, path)) = prop else {
            return Ok(Vec::new());
        };
        let r = self.resolver;
        let Some(Value::Array(items)) = r.resolve(node, &path)? else {
            return Err(r.loc.at(node, &path, "Layers must be a list"));
        };
        items
            .iter()
            .map(|v| {
                let arn = value_text(v);
                self.layer_dirs.get(&arn).cloned().ok_or_else(|| {
                    r.loc.hinted(
                        node,
                        &path,
                        format!("layer {arn} is not a local layer"),
                        "use !Ref to an AWS::Serverless::LayerVersion with a local ContentUri",
                    )
                })
            })
            .collect()
    }

    fn events(
        &self,
        events: Option<&Node>,
        base: &str,
        warned: &mut BTreeSet<String>,
        warnings: &mut Vec<Warning>,
    ) -> Result<Vec<ApiEvent>, TemplateError> {
        let r = self.resolver;
        let mut out = Vec::new();
        for (k, event) in events.map(Node::entries).unwrap_or_default() {
            let id = k.as_str().unwrap_or_default();
            let path = format!("{base}.Events.{id}");
            let kind = event
                .get("Type")
                .map(|t| r.string(t, &join(&path, "Type")))
                .transpose()?;
            if kind.as_deref() != Some("Api") {
                let kind = kind.unwrap_or_default();
                if warned.insert(format!("event {kind}")) {
                    warnings.push(r.loc.warn(
                        event,
                        &path,
                        format!("event type {kind:?} is not supported by ESB yet; ignored"),
                    ));
                }
                continue;
            }
            let props = event.get("Properties");
            let route_path = props
                .and_then(|p| p.get("Path"))
                .ok_or_else(|| r.loc.at(event, &path, "an Api event needs Properties.Path"))?;
            let route = r.string(route_path, &join(&path, "Properties.Path"))?;
            check_route(&route).map_err(|why| {
                r.loc.hinted(
                    route_path,
                    &join(&path, "Properties.Path"),
                    why,
                    "paths look like /items/{id} or /files/{proxy+}",
                )
            })?;
            let method_node = props.and_then(|p| p.get("Method")).ok_or_else(|| {
                r.loc
                    .at(event, &path, "an Api event needs Properties.Method")
            })?;
            let method = r
                .string(method_node, &join(&path, "Properties.Method"))?
                .to_ascii_uppercase();
            if !METHODS.contains(&method.as_str()) {
                return Err(r.loc.hinted(
                    method_node,
                    &join(&path, "Properties.Method"),
                    format!("unknown method {method}"),
                    format!("use one of {}", METHODS.join(", ")),
                ));
            }
            out.push(ApiEvent {
                logical_id: id.to_string(),
                path: route,
                method,
            });
        }
        Ok(out)
    }
}

fn number(
    r: &Resolver<'_>,
    prop: Option<(&Node, String)>,
    default: u32,
    min: u32,
    max: u32,
    rule: &str,
) -> Result<u32, TemplateError> {
    let Some((node, path)) = prop else {
        return Ok(default);
    };
    r.string(node, &path)?
        .parse::<u32>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| r.loc.at(node, &path, format!("must be {rule}")))
}

fn parse_runtime(id: &str) -> Option<Runtime> {
    if let Some(minor) = id
        .strip_prefix("python3.")
        .and_then(|m| m.parse().ok())
        .filter(|m| (8..=14).contains(m))
    {
        return Some(Runtime::Python { minor });
    }
    matches!(id, "provided" | "provided.al2" | "provided.al2023").then(|| Runtime::Provided {
        variant: id.to_string(),
    })
}

/// API Gateway resource paths: `/` or `/seg/{param}/.../{proxy+}` (greedy only last).
fn check_route(path: &str) -> Result<(), String> {
    if path == "/" {
        return Ok(());
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Err(format!("{path:?} must start with /"));
    };
    let segments: Vec<&str> = rest.split('/').collect();
    for (i, seg) in segments.iter().enumerate() {
        if seg.is_empty() {
            return Err(format!("{path:?} has an empty segment"));
        }
        if let Some(inner) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            let (name, greedy) = inner
                .strip_suffix('+')
                .map_or((inner, false), |n| (n, true));
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("{path:?}: {seg} is not a valid parameter"));
            }
            if greedy && i + 1 != segments.len() {
                return Err(format!("{path:?}: a greedy {seg} must be the last segment"));
            }
        } else if !seg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~:@".contains(c))
        {
            return Err(format!(
                "{path:?}: segment {seg:?} has characters API Gateway does not allow"
            ));
        }
    }
    Ok(())
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_checked_like_api_gateway() {
        for ok in ["/", "/items", "/items/{id}", "/files/{proxy+}", "/a-b/c.d"] {
            assert!(check_route(ok).is_ok(), "{ok}");
        }
        for bad in ["items", "/a//b", "/{proxy+}/x", "/{}", "/a b"] {
            assert!(check_route(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn runtimes() {
        assert_eq!(
            parse_runtime("python3.12"),
            Some(Runtime::Python { minor: 12 })
        );
        assert_eq!(
            parse_runtime("provided.al2023"),
            Some(Runtime::Provided {
                variant: "provided.al2023".into()
            })
        );
        assert_eq!(parse_runtime("nodejs20.x"), None);
        assert_eq!(parse_runtime("python3.2"), None);
    }
}
