//! AWS SAM `template.yaml` → the functions ESB runs. Parses YAML with CloudFormation
//! tags and positions, resolves parameters, conditions, mappings and intrinsics, and
//! validates every property so a bad template fails before anything starts, with the
//! file, line, property and a hint.

pub mod error;
pub mod function;
pub mod intrinsics;
pub mod model;
pub mod parameters;
pub mod yaml_tree;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub use error::{TemplateError, Warning};
pub use model::{ApiEvent, FunctionSpec, Runtime, Template};

use crate::error::Locator;
use crate::function::FunctionContext;
use crate::intrinsics::{Resolver, ResourceRef};

#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// `Key=Value` strings, as given to `--parameter-overrides`.
    pub parameter_overrides: Vec<String>,
    pub region: String,
    pub account_id: String,
    pub stack_name: String,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            parameter_overrides: Vec::new(),
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            stack_name: "esb".into(),
        }
    }
}

pub fn load(path: &Path, opts: &LoadOptions) -> Result<Template, TemplateError> {
    let file = path.display().to_string();
    let fail = |message: String, hint: &str| TemplateError {
        file: file.clone(),
        line: 0,
        col: 0,
        path: String::new(),
        message,
        hint: Some(hint.to_string()),
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        fail(
            format!("cannot read the template: {e}"),
            "run esb in the folder of template.yaml or pass --template",
        )
    })?;
    let loc = Locator { file: file.clone() };
    let root = yaml_tree::parse(&text)
        .map_err(|e| TemplateError {
            line: e.line,
            col: e.col,
            ..fail(
                format!("invalid YAML: {}", e.message),
                "check the indentation and quoting around this position",
            )
        })?
        .ok_or_else(|| {
            fail(
                "the template is empty".into(),
                "a SAM template needs a Resources section",
            )
        })?;
    let resources = root
        .get("Resources")
        .filter(|r| !r.entries().is_empty())
        .ok_or_else(|| {
            loc.hinted(
                &root,
                "Resources",
                "no Resources",
                "declare at least one AWS::Serverless::Function",
            )
        })?;

    let overrides = parameters::parse_overrides(&opts.parameter_overrides, &file)?;
    let mut resolver = Resolver {
        loc: loc.clone(),
        params: parameters::resolve(&loc, root.get("Parameters"), &overrides)?,
        pseudo: BTreeMap::from([
            ("AWS::Region", opts.region.clone()),
            ("AWS::AccountId", opts.account_id.clone()),
            ("AWS::StackName", opts.stack_name.clone()),
            (
                "AWS::StackId",
                format!(
                    "arn:aws:cloudformation:{}:{}:stack/{}/esb",
                    opts.region, opts.account_id, opts.stack_name
                ),
            ),
            ("AWS::Partition", "aws".into()),
            ("AWS::URLSuffix", "amazonaws.com".into()),
        ]),
        conditions: BTreeMap::new(),
        mappings: root.get("Mappings"),
        resources: BTreeMap::new(),
    };
    for (k, expr) in root
        .get("Conditions")
        .map(yaml_tree::Node::entries)
        .unwrap_or_default()
    {
        let name = k.as_str().unwrap_or_default().to_string();
        let value = resolver.condition(expr, &format!("Conditions.{name}"))?;
        resolver.conditions.insert(name, value);
    }

    let template_dir = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let mut warnings = Vec::new();
    let mut warned = BTreeSet::new();
    let mut layer_dirs = BTreeMap::new();
    let mut active = Vec::new();
    // Pass 1: what every resource answers to Ref / Fn::GetAtt.
    for (k, res) in resources.entries() {
        let id = k.as_str().unwrap_or_default().to_string();
        let rpath = format!("Resources.{id}");
        if let Some(c) = res.get("Condition") {
            let cname = c.as_str().unwrap_or_default();
            match resolver.conditions.get(cname) {
                Some(false) => continue,
                Some(true) => {}
                None => {
                    return Err(loc.hinted(
                        c,
                        &format!("{rpath}.Condition"),
                        format!("unknown condition {cname:?}"),
                        "declare it under Conditions",
                    ));
                }
            }
        }
        let rtype = res
            .get("Type")
            .and_then(yaml_tree::Node::as_str)
            .ok_or_else(|| loc.at(res, &rpath, "a resource needs a Type"))?
            .to_string();
        let props = res.get("Properties");
        let named = |key: &str| -> Result<String, TemplateError> {
            match props.and_then(|p| p.get(key)) {
                Some(n) => resolver.string(n, &format!("{rpath}.Properties.{key}")),
                None => Ok(id.clone()),
            }
        };
        let entry = match rtype.as_str() {
            "AWS::Serverless::Function" => {
                let name = named("FunctionName")?;
                let arn = format!(
                    "arn:aws:lambda:{}:{}:function:{name}",
                    opts.region, opts.account_id
                );
                ResourceRef {
                    resource_type: rtype.clone(),
                    ref_value: name,
                    attributes: BTreeMap::from([("Arn".to_string(), arn)]),
                }
            }
            "AWS::Serverless::LayerVersion" => {
                let name = named("LayerName")?;
                let arn = format!(
                    "arn:aws:lambda:{}:{}:layer:{name}:1",
                    opts.region, opts.account_id
                );
                let content = props.and_then(|p| p.get("ContentUri")).ok_or_else(|| {
                    loc.hinted(
                        res,
                        &rpath,
                        "a layer needs ContentUri",
                        "point ContentUri at the layer's directory",
                    )
                })?;
                let cpath = format!("{rpath}.Properties.ContentUri");
                let dir = template_dir.join(resolver.string(content, &cpath)?);
                if !dir.is_dir() {
                    return Err(loc.hinted(
                        content,
                        &cpath,
                        format!("layer directory {} does not exist", dir.display()),
                        "ContentUri is relative to the template's directory",
                    ));
                }
                layer_dirs.insert(arn.clone(), dir.canonicalize().unwrap_or(dir));
                ResourceRef {
                    resource_type: rtype.clone(),
                    ref_value: arn.clone(),
                    attributes: BTreeMap::from([("LayerVersionArn".to_string(), arn)]),
                }
            }
            other => {
                if warned.insert(format!("type {other}")) {
                    warnings.push(loc.warn(
                        res,
                        &rpath,
                        format!("resource type {other} is not run by ESB yet; ignored"),
                    ));
                }
                ResourceRef {
                    resource_type: rtype.clone(),
                    ref_value: id.clone(),
                    attributes: BTreeMap::new(),
                }
            }
        };
        resolver.resources.insert(id.clone(), entry);
        if rtype == "AWS::Serverless::Function" {
            active.push((id, res));
        }
    }
    // Pass 2: the functions themselves.
    let ctx = FunctionContext {
        resolver: &resolver,
        globals: root.get("Globals").and_then(|g| g.get("Function")),
        template_dir: &template_dir,
        layer_dirs: &layer_dirs,
    };
    let mut functions: Vec<FunctionSpec> = Vec::new();
    let mut routes: BTreeMap<(String, String), String> = BTreeMap::new();
    for (id, res) in active {
        let f = ctx.build(&id, res, &mut warned, &mut warnings)?;
        if let Some(other) = functions.iter().find(|o| o.name == f.name) {
            return Err(loc.hinted(
                res,
                &format!("Resources.{id}"),
                format!(
                    "function name {:?} is also used by {}",
                    f.name, other.logical_id
                ),
                "give each function its own FunctionName",
            ));
        }
        for e in &f.api_events {
            if let Some(other) =
                routes.insert((e.method.clone(), e.path.clone()), f.logical_id.clone())
            {
                return Err(loc.hinted(
                    res,
                    &format!("Resources.{id}.Properties.Events.{}", e.logical_id),
                    format!("route {} {} is also served by {other}", e.method, e.path),
                    "each method and path goes to one function",
                ));
            }
        }
        functions.push(f);
    }
    if functions.is_empty() {
        return Err(loc.hinted(
            resources,
            "Resources",
            "no AWS::Serverless::Function to run",
            "declare at least one function (or check its Condition)",
        ));
    }
    Ok(Template {
        functions,
        warnings,
    })
}
