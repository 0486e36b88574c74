//! AWS SAM `template.yaml` → the functions ESB runs.
//!
//! The YAML is read into a positioned tree that keeps CloudFormation's `!Tags`
//! (`yaml_tree`); parameters, conditions, mappings and intrinsics are resolved the way
//! CloudFormation would at deploy time (`parameters`, `conditions`, `intrinsics`,
//! `resources`, `resource_refs`); every function property is checked where it is
//! written (`function`), as are the APIs routing to them and their authorizers
//! (`api_resource`, `api_auth`), the S3 buckets whose events invoke them (`bucket`,
//! `s3_event`), the DynamoDB tables whose streams do (`table`, `dynamodb_event`),
//! the SQS queues that do (`queue`, `sqs_event`) and the schedules that run them
//! (`schedule_event`, `schedule_expression`), with where functions' asynchronous
//! results go (`destination`) and which of a box's nodes may run them (`placement`,
//! from `Metadata.Esb`), so a bad template fails before anything starts, with
//! the file, line, column, property path and a hint. What ESB accepts but does not
//! act on comes back as warnings.
//!
//! ```no_run
//! let t = esb_template::load("template.yaml".as_ref(), &Default::default())?;
//! for w in &t.warnings {
//!     eprintln!("warning: {w}");
//! }
//! # Ok::<(), esb_template::TemplateError>(())
//! ```

mod api_auth;
mod api_event;
mod api_resource;
mod arn;
mod bucket;
mod bucket_name;
mod code_dir;
mod conditions;
pub mod cors;
mod dependencies;
mod destination;
mod dynamodb_event;
pub mod error;
mod event_props;
mod function;
mod globals;
mod intrinsics;
mod layer;
mod load_options;
mod located;
mod logging_config;
mod mapping_props;
pub mod model;
mod parameters;
mod placement;
mod props;
mod queue;
mod resource_refs;
mod resources;
mod routes;
pub mod runtime;
mod s3_event;
mod s3_notification;
mod schedule_event;
pub mod schedule_expression;
pub mod schedule_spec;
mod spot;
mod sqs_event;
mod sub;
mod table;
#[cfg(test)]
mod testing;
mod value;
pub mod yaml_tree;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use error::{Diagnostic, ErrorKind, TemplateError, Warning};
pub use load_options::LoadOptions;
pub use model::{
    ApiAuth, ApiEvent, ApiKind, ApiSpec, ApiType, AttributeDefinition, AttributeType, Authorizer,
    BillingMode, BucketCorsRule, BucketSpec, DEFAULT_ROUTE, DynamoDbEventSpec, DynamoDbStream,
    EventInvoke, FunctionSpec, IMPLICIT_HTTP_API, IMPLICIT_REST_API, KeySchemaElement, KeyType,
    LambdaAuthorizer, LambdaNotification, NodePlacement, Projection, ProjectionType, RouteAuth,
    SecondaryIndex, StartingPosition, StreamViewType, TableSpec, Template, Throughput, TimeToLive,
    UrlAuth,
};
pub use model::{Destination, QueueSpec, SqsEventSpec};
pub use runtime::Runtime;
pub use schedule_expression::ScheduleExpression;
pub use schedule_spec::{ScheduleDeadLetter, ScheduleEventSpec, ScheduleKind, ScheduleRetryPolicy};
pub use yaml_tree::Position;

use crate::api_resource::LoadedApi;
use crate::error::Diagnostics;
use crate::function::{Built, FunctionBuilder};
use crate::globals::{ApiGlobals, FunctionGlobals};
use crate::intrinsics::{Pseudo, Resolver};
use crate::resources::{
    API, BUCKET, FUNCTION, HTTP_API, LAYER, Resource, ResourceTable, SIMPLE_TABLE, TABLE,
};
use crate::resources::{QUEUE, QUEUE_INLINE_POLICY, QUEUE_POLICY};
use crate::routes::RouteTable;

/// Top-level sections of a template.
const SECTIONS: [&str; 11] = [
    "AWSTemplateFormatVersion",
    "Transform",
    "Description",
    "Metadata",
    "Parameters",
    "Mappings",
    "Conditions",
    "Globals",
    "Resources",
    "Outputs",
    "Rules",
];
const SAM_TRANSFORM: &str = "AWS::Serverless-2016-10-31";

/// Reads, resolves and checks the template at `path`.
pub fn load(path: &Path, opts: &LoadOptions) -> Result<Template, TemplateError> {
    let file = path.display().to_string();
    let source = std::fs::read_to_string(path).map_err(|e| {
        TemplateError::new(
            &file,
            None,
            "",
            ErrorKind::Unreadable(e.to_string()),
            "run esb in the folder of template.yaml or pass --template",
        )
    })?;
    load_str(&source, path, opts)
}

/// Like [`load`], for a template already in memory. `path` names it in errors and its
/// directory is where `CodeUri` and `ContentUri` are relative to.
pub fn load_str(source: &str, path: &Path, opts: &LoadOptions) -> Result<Template, TemplateError> {
    let mut diag = Diagnostics::new(path.display().to_string());
    let start = Position { line: 1, col: 1 };
    let root = yaml_tree::parse(source)
        .map_err(|e| {
            diag.error(
                e.pos,
                "",
                ErrorKind::Yaml(e.message),
                "check the indentation and quoting around this position",
            )
        })?
        .ok_or_else(|| {
            diag.error(
                start,
                "",
                ErrorKind::MissingResources,
                "the template is empty; declare Resources with at least one AWS::Serverless::Function",
            )
        })?;
    if !root.is_map() {
        return Err(diag.error(
            root.pos,
            "",
            ErrorKind::Structure(format!("a template is a mapping, not {}", root.shape())),
            "start with sections such as Resources:",
        ));
    }
    check_sections(&root, &mut diag)?;
    let resources = root.entry("Resources").ok_or_else(|| {
        diag.error(
            start,
            "Resources",
            ErrorKind::MissingResources,
            "declare Resources with at least one AWS::Serverless::Function",
        )
    })?;
    if !resources.value.is_map() || resources.value.entries().is_empty() {
        return Err(diag.error(
            resources.key_pos,
            "Resources",
            ErrorKind::MissingResources,
            "Resources must map logical ids to resources, e.g. HelloFunction: {Type: AWS::Serverless::Function, ...}",
        ));
    }

    let overrides = parameters::parse_overrides(&opts.parameter_overrides, &diag)?;
    let params = parameters::resolve(root.entry("Parameters"), &overrides, &mut diag)?;
    let globals = FunctionGlobals::read(root.entry("Globals"), &mut diag)?;
    let api_globals = ApiGlobals::read(root.entry("Globals"));
    let table = ResourceTable::build(resources, &|at, p, k, h| diag.error(at, p, k, h))?;
    let resolver = Resolver::new(
        diag,
        Pseudo::from(opts),
        params,
        root.entry("Conditions"),
        root.entry("Mappings"),
        table,
    )?;
    let Loaded {
        functions,
        apis,
        buckets,
        tables,
        queues,
    } = functions(&resolver, globals, api_globals, path)?;
    let http_api_cors = cors::read(
        &resolver,
        root.entry("Globals")
            .and_then(|g| g.value.entry("HttpApi"))
            .and_then(|h| h.value.entry("CorsConfiguration")),
        "Globals.HttpApi.CorsConfiguration",
    )?;
    let mut warnings = resolver.into_diagnostics().into_warnings();
    warnings.sort_by_key(|w| w.position);
    Ok(Template {
        functions,
        http_api_cors,
        apis,
        buckets,
        tables,
        queues,
        warnings,
    })
}

/// Unknown top-level sections are mistakes; transforms other than SAM's are not applied.
fn check_sections(root: &yaml_tree::Node, diag: &mut Diagnostics) -> Result<(), TemplateError> {
    for e in root.entries() {
        if !SECTIONS.contains(&e.key.as_str()) {
            return Err(diag.error(
                e.key_pos,
                &e.key,
                ErrorKind::Structure("is not a template section".into()),
                format!("a template has {}", SECTIONS.join(", ")),
            ));
        }
        if e.key == "Rules" {
            diag.warn_once("Rules", e.key_pos, "Rules", "are not checked by ESB".into());
        }
    }
    let transforms: Vec<&str> = match root.get("Transform").map(|t| &t.value) {
        None => Vec::new(),
        Some(yaml_tree::NodeValue::Scalar { text, .. }) => vec![text.as_str()],
        Some(yaml_tree::NodeValue::Seq(items)) => items.iter().filter_map(|i| i.as_str()).collect(),
        Some(yaml_tree::NodeValue::Map(_)) => Vec::new(),
    };
    let at = root.entry("Transform").map_or(root.pos, |e| e.key_pos);
    if !transforms.contains(&SAM_TRANSFORM) {
        diag.warn_once(
            "no SAM transform",
            at,
            "Transform",
            format!("without Transform: {SAM_TRANSFORM}, CloudFormation will not accept AWS::Serverless resources"),
        );
    }
    for t in transforms.iter().filter(|t| **t != SAM_TRANSFORM) {
        diag.warn_once(
            &format!("transform {t}"),
            at,
            "Transform",
            format!("{t} is not applied by ESB"),
        );
    }
    Ok(())
}

/// What the resources that exist become.
struct Loaded {
    functions: Vec<FunctionSpec>,
    apis: Vec<ApiSpec>,
    buckets: Vec<BucketSpec>,
    tables: Vec<TableSpec>,
    queues: Vec<QueueSpec>,
}

/// Resolves the resources that exist and builds the functions, the APIs serving their
/// routes, the buckets whose events invoke them and the tables, checking what must be
/// unique or consistent across them.
fn functions<'a>(
    r: &Resolver<'a>,
    globals: FunctionGlobals<'a>,
    api_globals: ApiGlobals<'a>,
    path: &Path,
) -> Result<Loaded, TemplateError> {
    r.check_conditions()?;
    let mut active = Vec::new();
    for res in &r.resources.list {
        r.check_attributes(res);
        if r.is_created(res)? {
            active.push(res);
        }
    }
    dependencies::check(r, &active)?;

    let template_dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut layers = BTreeMap::new();
    let mut buckets = Vec::new();
    let mut tables = Vec::new();
    let mut queues = Vec::new();
    for res in &active {
        match res.type_name {
            FUNCTION | API | HTTP_API => {}
            BUCKET => buckets.push(bucket::read(r, res)?),
            TABLE | SIMPLE_TABLE => tables.push(table::read(r, res)?),
            QUEUE => queues.push(queue::read(r, res)?),
            QUEUE_POLICY | QUEUE_INLINE_POLICY => r.warn_once(
                "queue policies",
                res.key_pos,
                &res.path(),
                format!("{} is not enforced by ESB (any caller with the box's keys may use its queues); ignored", res.type_name),
            ),
            LAYER => {
                let layer = layer::read(r, res, &template_dir)?;
                if let Some(other) = layers
                    .get(&layer.arn)
                    .map(|l: &layer::LocalLayer| l.logical_id.clone())
                {
                    let at = res
                        .property("LayerName")
                        .map_or(res.key_pos, |(e, _)| e.key_pos);
                    return Err(r.error(
                        at,
                        &res.path(),
                        ErrorKind::BadLayer(format!(
                            "layer {} has the same LayerName as {other}",
                            res.id
                        )),
                        "give each layer its own LayerName",
                    ));
                }
                layers.insert(layer.arn.clone(), layer);
            }
            other => r.warn_once(
                &format!("type {other}"),
                res.key_pos,
                &res.path(),
                format!("resource type {other} is not run by ESB yet; ignored"),
            ),
        }
    }

    let queues = queue::finish(r, queues)?;
    let builder = FunctionBuilder {
        queues: &queues,
        resolver: r,
        globals,
        template_dir: &template_dir,
        layers: &layers,
    };
    builder.check_globals()?;
    let mut built: Vec<Built> = Vec::new();
    for res in active.iter().filter(|res| res.type_name == FUNCTION) {
        let b = builder.build(res)?;
        if let Some(other) = built.iter().find(|o| o.spec.name == b.spec.name) {
            return Err(r.error(
                b.name_at,
                &b.name_path,
                ErrorKind::DuplicateFunctionName {
                    name: b.spec.name.clone(),
                    other: other.spec.logical_id.clone(),
                },
                "give each function its own FunctionName",
            ));
        }
        built.push(b);
    }
    if built.is_empty() {
        let at = r
            .resources
            .list
            .first()
            .map_or(Position { line: 1, col: 1 }, |x| x.key_pos);
        return Err(r.error(
            at,
            "Resources",
            ErrorKind::NoFunctions,
            "declare at least one AWS::Serverless::Function (or check its Condition)",
        ));
    }

    let mut queues = queues;
    for (q, at, path) in built.iter_mut().flat_map(|b| b.generated_queues.drain(..)) {
        if let Some(other) = queues.iter().find(|o| o.name == q.name) {
            return Err(r.error(
                at,
                &path,
                ErrorKind::DuplicateQueueName {
                    name: q.name.clone(),
                    other: other.logical_id.clone(),
                },
                format!(
                    "SAM creates queue {} for this destination; rename the queue that has its name",
                    q.logical_id
                ),
            ));
        }
        queues.push(q);
    }
    // The dead-letter queues SAM creates for schedules (`DeadLetterConfig: {Type: SQS}`).
    for b in &built {
        for e in &b.spec.schedule_events {
            let Some(id) = e.dead_letter.as_ref().and_then(|d| d.sam_queue.as_ref()) else {
                continue;
            };
            if !queues.iter().any(|q| &q.logical_id == id) {
                queues.push(QueueSpec {
                    name: queue::generated_name(id, false),
                    logical_id: id.clone(),
                    fifo: false,
                    attributes: Default::default(),
                    tags: Vec::new(),
                });
            }
        }
    }
    let names: Vec<String> = built.iter().map(|b| b.spec.name.clone()).collect();
    let s3_events = built.iter().flat_map(|b| &b.s3_events).collect();
    let buckets = bucket::finish(r, buckets, s3_events, &names)?;
    let tables = table::finish(r, tables)?;
    let apis = apis(r, &active, &api_globals, &built)?;
    let mut routes = RouteTable::default();
    let mut functions = Vec::with_capacity(built.len());
    for mut b in built {
        for e in &mut b.events {
            if let Some(api) = apis.iter().find(|a| a.spec.logical_id == e.event.api_id) {
                let id = &api.spec.logical_id;
                api_auth::check_route(r, e, &api.spec.auth, &api.rules, id)?;
            }
            routes.add(r, &b.spec.logical_id, e)?;
        }
        b.spec.api_events = b.events.into_iter().map(|e| e.event).collect();
        functions.push(b.spec);
    }
    Ok(Loaded {
        functions,
        apis: apis.into_iter().map(|a| a.spec).collect(),
        buckets,
        tables,
        queues,
    })
}

/// Every API resource that exists, then each implicit API some event uses.
fn apis(
    r: &Resolver<'_>,
    active: &[&Resource<'_>],
    globals: &ApiGlobals<'_>,
    built: &[Built],
) -> Result<Vec<LoadedApi>, TemplateError> {
    api_resource::check_globals(r, globals);
    let names: Vec<String> = built.iter().map(|b| b.spec.name.clone()).collect();
    let mut apis = Vec::new();
    for res in active
        .iter()
        .filter(|res| [API, HTTP_API].contains(&res.type_name))
    {
        apis.push(api_resource::read(r, res, globals, &names)?);
    }
    for (id, kind) in [
        (IMPLICIT_REST_API, ApiType::Rest),
        (IMPLICIT_HTTP_API, ApiType::Http),
    ] {
        let first = built
            .iter()
            .flat_map(|b| &b.events)
            .find(|e| e.event.api_id == id);
        if let Some(e) = first {
            apis.push(api_resource::implicit(
                r, kind, globals, &names, e.at, &e.path,
            )?);
        }
    }
    Ok(apis)
}
