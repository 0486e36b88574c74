//! `AWS::Serverless::Function` resources, with `Globals.Function` applied, turned into
//! [`FunctionSpec`]s. Every property is checked against what Lambda accepts where it is
//! written, so the error points at the line to fix rather than at a failure at run time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::api_event;
use crate::code_dir::local_dir;
use crate::destination;
use crate::dynamodb_event;
use crate::error::{ErrorKind, TemplateError};
use crate::globals::FunctionGlobals;
use crate::intrinsics::{Resolver, looks_like_call};
use crate::layer::LocalLayer;
use crate::located::Located;
use crate::logging_config;
use crate::model::{EventInvoke, FunctionSpec, QueueSpec, Runtime, UrlAuth};
use crate::placement;
use crate::resources::Resource;
use crate::s3_event::{self, S3Event};
use crate::schedule_event;
use crate::spot::Spot;
use crate::sqs_event;
use crate::value::Value;
use crate::yaml_tree::{Entry, Position};

/// Properties ESB acts on.
const ACTED_ON: [&str; 17] = [
    "EventInvokeConfig",
    "DeadLetterQueue",
    "FunctionUrlConfig",
    "ProvisionedConcurrencyConfig",
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
    "Architectures",
    "PackageType",
    "LoggingConfig",
];
/// Properties with no effect on how a function runs: accepted without a warning.
const NO_EFFECT: [&str; 2] = ["Description", "Tags"];
/// Properties that mean the code is not a local directory.
const NOT_LOCAL_CODE: [&str; 3] = ["InlineCode", "ImageUri", "ImageConfig"];

/// Variables Lambda sets itself and refuses in a function's configuration.
const RESERVED_VARIABLES: [&str; 18] = [
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];
/// Lambda's limit on the total size of a function's environment variables.
const ENVIRONMENT_BYTES: usize = 4096;
/// Lambda's limit on layers per function.
const MAX_LAYERS: usize = 5;

/// A function and where the things checked across functions are written.
#[derive(Debug)]
pub struct Built {
    pub spec: FunctionSpec,
    pub name_at: Position,
    pub name_path: String,
    pub events: Vec<Located>,
    /// `Type: S3` events, for their buckets.
    pub s3_events: Vec<S3Event>,
    /// Queues SAM creates for `Type: SQS` destinations without `Destination`, each
    /// with where it is asked for.
    pub generated_queues: Vec<(QueueSpec, Position, String)>,
}

pub struct FunctionBuilder<'r, 'a> {
    pub resolver: &'r Resolver<'a>,
    pub globals: FunctionGlobals<'a>,
    pub template_dir: &'r Path,
    /// Local layers by ARN (what `Ref` to a layer gives).
    pub layers: &'r BTreeMap<String, LocalLayer>,
    /// The template's queues, for `Type: SQS` events.
    pub queues: &'r [QueueSpec],
}

/// `EventInvokeConfig` and the queues SAM creates for its destinations.
type GeneratedInvoke = (EventInvoke, Vec<(QueueSpec, Position, String)>);

/// A property as found (on the function or in Globals) and the path to it.
struct Prop<'e> {
    entry: &'e Entry,
    path: String,
}

impl<'a> FunctionBuilder<'_, 'a> {
    /// Reports `Globals.Function` properties ESB does not act on, once.
    pub fn check_globals(&self) -> Result<(), TemplateError> {
        for e in self.globals.node.map(|n| n.entries()).unwrap_or_default() {
            self.classify(e, &format!("Globals.Function.{}", e.key))?;
        }
        Ok(())
    }

    pub fn build(&self, res: &Resource<'a>) -> Result<Built, TemplateError> {
        let r = self.resolver;
        let base = format!("{}.Properties", res.path());
        for e in res.properties.map(|p| p.entries()).unwrap_or_default() {
            self.classify(e, &format!("{base}.{}", e.key))?;
        }
        let missing = |what: &str, hint: &str| {
            r.error(
                res.key_pos,
                &base,
                ErrorKind::MissingProperty(what.into()),
                hint,
            )
        };

        let (name_at, name_path) = match res.property("FunctionName") {
            Some((e, path)) => (e.key_pos, path),
            None => (res.key_pos, res.path()),
        };
        let name = r.function_name(res)?;
        if name.is_empty()
            || name.len() > 64
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(r.error(
                name_at,
                &name_path,
                ErrorKind::InvalidValue(format!("{name:?} is not a valid function name")),
                "use 1 to 64 letters, digits, - or _",
            ));
        }

        let runtime_prop = self.prop(res, "Runtime").ok_or_else(|| {
            missing(
                "Runtime",
                "set Runtime (e.g. python3.12 or provided.al2023) here or in Globals.Function",
            )
        })?;
        let runtime_text = self.text(&runtime_prop)?;
        let runtime = Runtime::parse(&runtime_text).ok_or_else(|| {
            r.error(
                runtime_prop.entry.key_pos,
                &runtime_prop.path,
                ErrorKind::UnsupportedRuntime(runtime_text.clone()),
                format!("ESB runs {}", Runtime::supported()),
            )
        })?;

        let code = self.prop(res, "CodeUri").ok_or_else(|| {
            missing(
                "CodeUri",
                "point CodeUri at the function's code directory, here or in Globals.Function",
            )
        })?;
        let code_dir = local_dir(
            r,
            code.entry,
            &code.path,
            self.template_dir,
            ErrorKind::MissingCodeDir,
        )?;
        if matches!(runtime, Runtime::Provided { .. }) {
            check_bootstrap(r, &code_dir, &code)?;
        }

        let handler = match self.prop(res, "Handler") {
            Some(p) => Some(self.handler(&p, &runtime)?),
            None if matches!(runtime, Runtime::Python { .. }) => {
                return Err(missing(
                    "Handler",
                    "Python functions need Handler: module.function (e.g. app.handler)",
                ));
            }
            None => None,
        };

        let timeout_s = self.number(res, "Timeout", 1, 900, "seconds")?.unwrap_or(3);
        let memory_mb = self
            .number(res, "MemorySize", 128, 10240, "MB")?
            .unwrap_or(128);
        let reserved_concurrency =
            self.number(res, "ReservedConcurrentExecutions", 0, 10000, "")?;

        self.check_package(res)?;
        self.check_architectures(res)?;
        let environment = self.environment(res)?;
        let layers = self.layers(res)?;
        let function_url = self.function_url(res)?;
        let provisioned_concurrency = self.provisioned(res, reserved_concurrency)?;
        let (event_invoke, generated_queues) = self.event_invoke(res)?;
        let events_node = res.properties.and_then(|p| p.get("Events"));
        let events = api_event::read(r, events_node, &base)?;
        let s3_events = s3_event::read(r, events_node, &base, &r.function_arn(res)?)?;
        let dynamodb_events = dynamodb_event::read(r, events_node, &base)?;
        let sqs_events = sqs_event::read(r, events_node, &base, self.queues, timeout_s)?;
        let dead_letter_target = self.dead_letter(res)?;
        let schedule_events = schedule_event::read(r, events_node, &base, res.id)?;
        let placement = placement::read(r, res)?;
        Ok(Built {
            spec: FunctionSpec {
                logical_id: res.id.to_string(),
                name,
                code_dir,
                handler,
                runtime,
                timeout_s,
                memory_mb,
                environment,
                layers,
                reserved_concurrency,
                api_events: events.iter().map(|e| e.event.clone()).collect(),
                function_url,
                provisioned_concurrency,
                event_invoke,
                dynamodb_events,
                sqs_events,
                dead_letter_target,
                schedule_events,
                placement,
            },
            name_at,
            name_path,
            events,
            s3_events,
            generated_queues,
        })
    }

    /// Warns about a property ESB does not act on; refuses code that is not local.
    fn classify(&self, e: &Entry, path: &str) -> Result<(), TemplateError> {
        let key = e.key.as_str();
        if NOT_LOCAL_CODE.contains(&key) {
            return Err(self.resolver.error(
                e.key_pos,
                path,
                ErrorKind::InvalidValue(format!(
                    "{key} is not supported: ESB runs Zip functions from a CodeUri directory"
                )),
                "put the code in a directory and point CodeUri at it",
            ));
        }
        if !ACTED_ON.contains(&key) && !NO_EFFECT.contains(&key) {
            self.resolver.warn_once(
                &format!("property {key}"),
                e.key_pos,
                path,
                "is not supported by ESB yet; ignored".into(),
            );
        }
        Ok(())
    }

    /// The function's own property, else the global one.
    fn prop<'e>(&self, res: &'e Resource<'a>, key: &str) -> Option<Prop<'e>>
    where
        'a: 'e,
    {
        res.property(key)
            .or_else(|| self.globals.property(key))
            .map(|(entry, path)| Prop { entry, path })
    }

    /// A scalar property as text; `AWS::NoValue` is an error (these have no default).
    fn text(&self, p: &Prop<'_>) -> Result<String, TemplateError> {
        let r = self.resolver;
        match r.resolve(&p.entry.value, &p.path)? {
            Some(v) => v.as_text().ok_or_else(|| {
                r.error(
                    p.entry.key_pos,
                    &p.path,
                    ErrorKind::InvalidValue(format!("must be a string, not {}", v.shape())),
                    "write a single value",
                )
            }),
            None => Err(r.error(
                p.entry.key_pos,
                &p.path,
                ErrorKind::InvalidValue("cannot be AWS::NoValue".into()),
                "this property has no default; give it a value",
            )),
        }
    }

    /// A whole number within `min..=max`; `None` when absent or `AWS::NoValue`.
    fn number(
        &self,
        res: &Resource<'a>,
        key: &str,
        min: u32,
        max: u32,
        unit: &str,
    ) -> Result<Option<u32>, TemplateError> {
        let Some(p) = self.prop(res, key) else {
            return Ok(None);
        };
        let r = self.resolver;
        let Some(v) = r.resolve(&p.entry.value, &p.path)? else {
            return Ok(None);
        };
        let text = v.as_text().unwrap_or_else(|| v.shape().to_string());
        let unit = if unit.is_empty() {
            String::new()
        } else {
            format!(" of {unit}")
        };
        match (&v, text.parse::<u32>()) {
            (Value::Number(_) | Value::String(_), Ok(n)) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(r.error(
                p.entry.key_pos,
                &p.path,
                ErrorKind::InvalidValue(format!(
                    "must be a whole number{unit} from {min} to {max}"
                )),
                format!("got {text}"),
            )),
        }
    }

    fn handler(&self, p: &Prop<'_>, runtime: &Runtime) -> Result<String, TemplateError> {
        let handler = self.text(p)?;
        let python = matches!(runtime, Runtime::Python { .. });
        let well_formed = !handler.is_empty()
            && handler.len() <= 128
            && !handler.chars().any(char::is_whitespace)
            && (!python
                || handler
                    .rsplit_once('.')
                    .is_some_and(|(m, f)| !m.is_empty() && !f.is_empty()));
        if well_formed {
            return Ok(handler);
        }
        Err(self.resolver.error(
            p.entry.key_pos,
            &p.path,
            ErrorKind::InvalidValue(format!("{handler:?} is not a valid handler")),
            if python {
                "a Python handler is module.function, e.g. app.handler"
            } else {
                "a handler is up to 128 characters without spaces"
            },
        ))
    }

    /// `EventInvokeConfig`: retries, maximum age and destinations (see `destination`).
    /// Also the queues SAM creates for it.
    fn event_invoke(&self, res: &Resource<'a>) -> Result<GeneratedInvoke, TemplateError> {
        let mut out = EventInvoke::default();
        let mut generated = Vec::new();
        let Some(p) = self.prop(res, "EventInvokeConfig") else {
            return Ok((out, generated));
        };
        let r = self.resolver;
        let Some(Value::Map(fields)) = r.resolve(&p.entry.value, &p.path)? else {
            return Ok((out, generated));
        };
        let bad = |what: String| {
            r.error(
                p.entry.key_pos,
                &p.path,
                ErrorKind::InvalidValue(what),
                "EventInvokeConfig: {MaximumRetryAttempts: 0..2, MaximumEventAgeInSeconds: 60..21600, DestinationConfig: {OnFailure: {Type: Lambda, Destination: !GetAtt Fn.Arn}}}",
            )
        };
        let number = |v: &Value| v.as_text().and_then(|t| t.parse::<u32>().ok());
        for (key, value) in &fields {
            match key.as_str() {
                "MaximumRetryAttempts" => {
                    out.max_retries = number(value)
                        .filter(|n| *n <= 2)
                        .ok_or_else(|| bad("MaximumRetryAttempts must be 0, 1 or 2".into()))?;
                }
                "MaximumEventAgeInSeconds" => {
                    out.max_age_s = number(value)
                        .filter(|n| (60..=21600).contains(n))
                        .ok_or_else(|| bad("MaximumEventAgeInSeconds must be 60..21600".into()))?;
                }
                "DestinationConfig" => {
                    let spot = Spot::of(p.entry, p.path.clone()).key("DestinationConfig");
                    let d = destination::event_invoke(r, value, &spot, res.id)?;
                    (out.on_success, out.on_failure) = (d.on_success, d.on_failure);
                    generated = d.generated_queues;
                }
                other => r.warn_once(
                    &format!("event invoke {other}"),
                    p.entry.key_pos,
                    &format!("{}.{other}", p.path),
                    "is not supported by ESB yet; ignored".into(),
                ),
            }
        }
        Ok((out, generated))
    }

    /// `DeadLetterQueue` (the function's, else the global one): its target's ARN.
    fn dead_letter(&self, res: &Resource<'a>) -> Result<Option<String>, TemplateError> {
        let Some(p) = self.prop(res, "DeadLetterQueue") else {
            return Ok(None);
        };
        match self.resolver.resolve(&p.entry.value, &p.path)? {
            None => Ok(None),
            Some(v) => {
                let spot = Spot::of(p.entry, p.path.clone());
                destination::dead_letter(self.resolver, &v, &spot).map(Some)
            }
        }
    }

    /// `ProvisionedConcurrencyConfig: {ProvisionedConcurrentExecutions: N}`, at most the
    /// reserved concurrency when there is one (as Lambda requires).
    fn provisioned(&self, res: &Resource<'a>, reserved: Option<u32>) -> Result<u32, TemplateError> {
        let Some(p) = self.prop(res, "ProvisionedConcurrencyConfig") else {
            return Ok(0);
        };
        let r = self.resolver;
        let hint = "ProvisionedConcurrencyConfig: {ProvisionedConcurrentExecutions: 2}";
        let n = match r.resolve(&p.entry.value, &p.path)? {
            None => return Ok(0),
            Some(Value::Map(fields)) => fields
                .iter()
                .find(|(k, _)| k == "ProvisionedConcurrentExecutions")
                .and_then(|(_, v)| v.as_text())
                .and_then(|t| t.parse::<u32>().ok())
                .filter(|n| (1..=1000).contains(n)),
            Some(_) => None,
        };
        let Some(n) = n else {
            return Err(r.error(
                p.entry.key_pos,
                &p.path,
                ErrorKind::InvalidValue(
                    "needs ProvisionedConcurrentExecutions, a whole number from 1 to 1000".into(),
                ),
                hint,
            ));
        };
        if let Some(reserved) = reserved.filter(|reserved| n > *reserved) {
            return Err(r.error(
                p.entry.key_pos,
                &p.path,
                ErrorKind::InvalidValue(format!(
                    "{n} provisioned workers exceed ReservedConcurrentExecutions ({reserved})"
                )),
                "provision at most the reserved concurrency",
            ));
        }
        Ok(n)
    }

    /// `FunctionUrlConfig: {AuthType: NONE | AWS_IAM}`; `Cors` and `InvokeMode` are not
    /// acted on yet (warned).
    fn function_url(&self, res: &Resource<'a>) -> Result<Option<UrlAuth>, TemplateError> {
        let Some(p) = self.prop(res, "FunctionUrlConfig") else {
            return Ok(None);
        };
        let r = self.resolver;
        let hint = "FunctionUrlConfig: {AuthType: NONE} (or AWS_IAM)";
        let fields = match r.resolve(&p.entry.value, &p.path)? {
            None => return Ok(None),
            Some(Value::Map(fields)) => fields,
            Some(other) => {
                return Err(r.error(
                    p.entry.key_pos,
                    &p.path,
                    ErrorKind::InvalidValue(format!("must be a mapping, not {}", other.shape())),
                    hint,
                ));
            }
        };
        let mut auth = None;
        for (key, value) in &fields {
            match key.as_str() {
                "AuthType" => auth = Some(value.as_text().unwrap_or_default()),
                other => r.warn_once(
                    &format!("function url {other}"),
                    p.entry.key_pos,
                    &format!("{}.{other}", p.path),
                    "is not supported by ESB yet; ignored".into(),
                ),
            }
        }
        match auth.as_deref() {
            Some("NONE") => Ok(Some(UrlAuth::None)),
            Some("AWS_IAM") => Ok(Some(UrlAuth::AwsIam)),
            Some(other) => Err(r.error(
                p.entry.key_pos,
                &format!("{}.AuthType", p.path),
                ErrorKind::InvalidValue(format!("AuthType {other:?} is not NONE or AWS_IAM")),
                hint,
            )),
            None => Err(r.error(
                p.entry.key_pos,
                &p.path,
                ErrorKind::MissingProperty("AuthType".into()),
                hint,
            )),
        }
    }

    fn check_package(&self, res: &Resource<'a>) -> Result<(), TemplateError> {
        if let Some(p) = self.prop(res, "PackageType") {
            let kind = self.text(&p)?;
            if kind != "Zip" {
                return Err(self.resolver.error(
                    p.entry.key_pos,
                    &p.path,
                    ErrorKind::InvalidValue(format!("PackageType {kind} is not supported")),
                    "ESB runs Zip functions (code in a CodeUri directory)",
                ));
            }
        }
        Ok(())
    }

    fn check_architectures(&self, res: &Resource<'a>) -> Result<(), TemplateError> {
        let Some(p) = self.prop(res, "Architectures") else {
            return Ok(());
        };
        let r = self.resolver;
        let arch = match r.resolve(&p.entry.value, &p.path)? {
            None => return Ok(()),
            Some(Value::List(items)) => match items.as_slice() {
                [one] => one.as_text(),
                _ => None,
            },
            Some(_) => None,
        };
        let host = match std::env::consts::ARCH {
            "aarch64" => "arm64",
            other => other,
        };
        match arch.as_deref() {
            Some(a) if a == host => Ok(()),
            Some(a @ ("x86_64" | "arm64")) => {
                r.warn_once(
                    "architecture",
                    p.entry.key_pos,
                    &p.path,
                    format!("ESB runs functions on this machine's architecture ({host}), not {a}"),
                );
                Ok(())
            }
            _ => Err(r.error(
                p.entry.key_pos,
                &p.path,
                ErrorKind::InvalidValue("must be [x86_64] or [arm64]".into()),
                "a function has one architecture",
            )),
        }
    }

    /// `Environment.Variables` of Globals, then of the function (its values win), then
    /// the variables `LoggingConfig` sets: Lambda reserves those, so they win over
    /// written ones and do not count towards the size limit.
    fn environment(&self, res: &Resource<'a>) -> Result<BTreeMap<String, String>, TemplateError> {
        let r = self.resolver;
        let mut out = BTreeMap::new();
        let mut at = res.key_pos;
        let mut at_path = res.path();
        for source in [
            self.globals.property("Environment"),
            res.property("Environment"),
        ]
        .into_iter()
        .flatten()
        {
            let (entry, path) = source;
            at = entry.key_pos;
            at_path = path.clone();
            for Variable {
                name,
                value,
                pos,
                path: var_path,
            } in self.variables(entry, &path)?
            {
                match value {
                    Some(v) => {
                        check_variable_name(r, &name, pos, &var_path)?;
                        out.insert(name, v);
                    }
                    None => {
                        out.remove(&name);
                    }
                }
            }
        }
        let size: usize = out.iter().map(|(k, v)| k.len() + v.len()).sum();
        if size > ENVIRONMENT_BYTES {
            return Err(r.error(
                at,
                &at_path,
                ErrorKind::InvalidValue(format!(
                    "environment variables take {size} bytes; Lambda allows {ENVIRONMENT_BYTES}"
                )),
                "move large values to files in the code directory or a layer",
            ));
        }
        let logging = logging_config::variables(
            r,
            self.globals.property("LoggingConfig"),
            res.property("LoggingConfig"),
        )?;
        out.extend(logging.into_iter().map(|(k, v)| (k.to_string(), v)));
        Ok(out)
    }

    /// The variables of one `Environment`. Written-out variables are resolved one by
    /// one so errors point at the variable.
    fn variables(&self, env: &Entry, path: &str) -> Result<Vec<Variable>, TemplateError> {
        let r = self.resolver;
        let shape_error = |at: Position, p: &str, what: String| {
            r.error(
                at,
                p,
                ErrorKind::Structure(what),
                "write Environment: {Variables: {NAME: value}}",
            )
        };
        let vars_entry = if looks_like_call(&env.value) {
            None
        } else {
            if let Some(other) = env.value.entries().iter().find(|e| e.key != "Variables") {
                return Err(shape_error(
                    other.key_pos,
                    &format!("{path}.{}", other.key),
                    "Environment has only Variables".into(),
                ));
            }
            if !env.value.is_map() {
                return Err(shape_error(
                    env.key_pos,
                    path,
                    format!("must be a mapping, not {}", env.value.shape()),
                ));
            }
            env.value.entry("Variables")
        };
        match vars_entry {
            Some(vars) if !looks_like_call(&vars.value) => {
                let vpath = format!("{path}.Variables");
                if !vars.value.is_map() {
                    return Err(shape_error(
                        vars.key_pos,
                        &vpath,
                        format!("must be a mapping, not {}", vars.value.shape()),
                    ));
                }
                let mut out = Vec::new();
                for e in vars.value.entries() {
                    let p = format!("{vpath}.{}", e.key);
                    let v = r.resolve(&e.value, &p)?;
                    out.push(Variable {
                        name: e.key.clone(),
                        value: variable_text(r, v, e.key_pos, &p)?,
                        pos: e.key_pos,
                        path: p,
                    });
                }
                Ok(out)
            }
            None if !looks_like_call(&env.value) => Ok(Vec::new()),
            _ => {
                // Computed by an intrinsic: resolve the whole thing.
                let whole = r.resolve(&env.value, path)?;
                let vars = match whole {
                    None => return Ok(Vec::new()),
                    Some(Value::Map(m)) => m
                        .into_iter()
                        .find(|(k, _)| k == "Variables")
                        .map(|(_, v)| v),
                    Some(v) => {
                        return Err(shape_error(
                            env.key_pos,
                            path,
                            format!("must be a mapping, not {}", v.shape()),
                        ));
                    }
                };
                let vars = match vars {
                    None => return Ok(Vec::new()),
                    Some(Value::Map(m)) => m,
                    Some(v) => {
                        return Err(shape_error(
                            env.key_pos,
                            path,
                            format!("Variables must be a mapping, not {}", v.shape()),
                        ));
                    }
                };
                let mut out = Vec::new();
                for (k, v) in vars {
                    let p = format!("{path}.Variables.{k}");
                    let text = variable_text(r, Some(v), env.key_pos, &p)?;
                    out.push(Variable {
                        name: k,
                        value: text,
                        pos: env.key_pos,
                        path: p,
                    });
                }
                Ok(out)
            }
        }
    }

    /// `Layers` of Globals then of the function (SAM concatenates lists).
    fn layers(&self, res: &Resource<'a>) -> Result<Vec<PathBuf>, TemplateError> {
        let r = self.resolver;
        let mut dirs = Vec::new();
        let mut last = None;
        for (entry, path) in [self.globals.property("Layers"), res.property("Layers")]
            .into_iter()
            .flatten()
        {
            last = Some((entry.key_pos, path.clone()));
            // Items written out are resolved one by one so errors point at the item.
            let items: Vec<(Option<Value>, Position, String)> = match &entry.value.value {
                crate::yaml_tree::NodeValue::Seq(nodes) if !looks_like_call(&entry.value) => {
                    let mut v = Vec::new();
                    for (i, n) in nodes.iter().enumerate() {
                        let p = format!("{path}[{i}]");
                        v.push((r.resolve(n, &p)?, n.pos, p));
                    }
                    v
                }
                _ => match r.resolve(&entry.value, &path)? {
                    None => Vec::new(),
                    Some(Value::List(list)) => list
                        .into_iter()
                        .enumerate()
                        .map(|(i, v)| (Some(v), entry.key_pos, format!("{path}[{i}]")))
                        .collect(),
                    Some(v) => {
                        return Err(r.error(
                            entry.key_pos,
                            &path,
                            ErrorKind::Structure(format!("must be a list, not {}", v.shape())),
                            "write Layers: [!Ref MyLayer]",
                        ));
                    }
                },
            };
            for (value, at, p) in items {
                let Some(value) = value else { continue };
                let arn = value.as_text().unwrap_or_else(|| value.shape().to_string());
                let layer = self.layers.get(&arn).ok_or_else(|| {
                    r.error(
                        at,
                        &p,
                        ErrorKind::BadLayer(format!("{arn} is not a local layer")),
                        "use !Ref to an AWS::Serverless::LayerVersion of this template with a local ContentUri",
                    )
                })?;
                dirs.push(layer.dir.clone());
            }
        }
        if let Some((at, path)) = last
            && dirs.len() > MAX_LAYERS
        {
            return Err(r.error(
                at,
                &path,
                ErrorKind::BadLayer(format!("{} layers; Lambda allows {MAX_LAYERS}", dirs.len())),
                "merge some layers",
            ));
        }
        Ok(dirs)
    }
}

/// One environment variable as written: `value` is `None` for `AWS::NoValue`.
struct Variable {
    name: String,
    value: Option<String>,
    pos: Position,
    path: String,
}

fn variable_text(
    r: &Resolver<'_>,
    v: Option<Value>,
    at: Position,
    path: &str,
) -> Result<Option<String>, TemplateError> {
    match v {
        None => Ok(None),
        Some(v) => v.as_text().map(Some).ok_or_else(|| {
            r.error(
                at,
                path,
                ErrorKind::InvalidValue(format!(
                    "an environment variable must be a string, not {}",
                    v.shape()
                )),
                "quote the value; write \"\" for an empty one",
            )
        }),
    }
}

fn check_variable_name(
    r: &Resolver<'_>,
    name: &str,
    at: Position,
    path: &str,
) -> Result<(), TemplateError> {
    let valid = name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(r.error(
            at,
            path,
            ErrorKind::InvalidValue(format!("{name:?} is not a valid variable name")),
            "start with a letter; use letters, digits and _",
        ));
    }
    if RESERVED_VARIABLES.contains(&name) {
        return Err(r.error(
            at,
            path,
            ErrorKind::InvalidValue(format!("{name} is reserved by Lambda")),
            "Lambda sets this variable itself; choose another name",
        ));
    }
    Ok(())
}

fn check_bootstrap(
    r: &Resolver<'_>,
    code_dir: &Path,
    code: &Prop<'_>,
) -> Result<(), TemplateError> {
    use std::os::unix::fs::PermissionsExt;
    let bootstrap = code_dir.join("bootstrap");
    let problem = match std::fs::metadata(&bootstrap) {
        Err(_) => format!("{} has no bootstrap", code_dir.display()),
        Ok(m) if !m.is_file() => format!("{} is not a file", bootstrap.display()),
        Ok(m) if m.permissions().mode() & 0o111 == 0 => {
            format!("{} is not executable", bootstrap.display())
        }
        Ok(_) => return Ok(()),
    };
    Err(r.error(
        code.entry.key_pos,
        &code.path,
        ErrorKind::MissingBootstrap(problem),
        "provided runtimes start CodeUri/bootstrap: build it there (e.g. cargo lambda build) and chmod +x it",
    ))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use crate::{LoadOptions, Template, TemplateError, load_str};

    /// Loads one Python function with `props` (YAML lines at property indentation) as if
    /// the template were in `tests/fixtures/valid`, so `../code/python` exists.
    fn function(props: &str) -> Result<Template, TemplateError> {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid/unit.yaml");
        let source = format!(
            "Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: ../code/python\n      Runtime: python3.12\n{props}"
        );
        load_str(&source, &path, &LoadOptions::default())
    }

    fn error(props: &str) -> String {
        function(props).expect_err(props).to_string()
    }

    #[test]
    fn handlers() {
        assert!(function("      Handler: pkg/mod.handler\n").is_ok());
        assert!(error("").contains("Resources.Fn.Properties: Handler is missing"));
        for bad in ["app", "app.", ".handler", "'a b.c'"] {
            let e = error(&format!("      Handler: {bad}\n"));
            assert!(
                e.contains("is not a valid handler (hint: a Python handler is module.function"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn environment_limits() {
        let big = "x".repeat(4100);
        let e = error(&format!(
            "      Handler: a.b\n      Environment: {{Variables: {{BIG: {big}}}}}\n"
        ));
        assert!(
            e.contains("environment variables take 4103 bytes; Lambda allows 4096"),
            "{e}"
        );
        for (vars, want) in [
            ("{1X: a}", "\"1X\" is not a valid variable name"),
            (
                "{X: [a]}",
                "an environment variable must be a string, not a list",
            ),
            (
                "{X: }",
                "an environment variable must be a string, not empty",
            ),
            ("[a]", "Variables: must be a mapping, not a list"),
        ] {
            let e = error(&format!(
                "      Handler: a.b\n      Environment: {{Variables: {vars}}}\n"
            ));
            assert!(e.contains(want), "{vars}: {e}");
        }
        let e = error("      Handler: a.b\n      Environment: {Vars: {}}\n");
        assert!(
            e.contains("Environment.Vars: Environment has only Variables"),
            "{e}"
        );
        let t = function("      Handler: a.b\n      Environment: !If [Nope, {}, {}]\n");
        assert!(
            t.expect_err("unknown condition")
                .to_string()
                .contains("unknown condition")
        );
    }

    #[test]
    fn code_that_is_not_a_local_directory() {
        for (props, want) in [
            (
                "      InlineCode: 'def h(e, c): pass'\n",
                "InlineCode is not supported",
            ),
            (
                "      PackageType: Image\n",
                "PackageType Image is not supported",
            ),
        ] {
            let e = error(&format!("      Handler: a.b\n{props}"));
            assert!(e.contains(want), "{props}: {e}");
        }
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid/unit.yaml");
        for uri in [
            "s3://bucket/key.zip",
            "{Bucket: b, Key: k}",
            "../code/python/app.py",
        ] {
            let source = format!(
                "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties: {{CodeUri: {uri}, Handler: a.b, Runtime: python3.12}}\n"
            );
            let e = load_str(&source, &path, &LoadOptions::default())
                .expect_err(uri)
                .to_string();
            assert!(
                e.contains("CodeUri: ") && e.contains("(hint: ESB runs"),
                "{uri}: {e}"
            );
        }
    }

    #[test]
    fn architectures_and_names() {
        let t = function("      Handler: a.b\n      Architectures: [arm64]\n").expect("valid");
        assert!(
            t.warnings
                .iter()
                .any(|w| w.message.contains("architecture"))
                || cfg!(target_arch = "aarch64")
        );
        assert!(
            error("      Handler: a.b\n      Architectures: [sparc]\n")
                .contains("must be [x86_64] or [arm64]")
        );
        let e = error("      Handler: a.b\n      FunctionName: 'has space'\n");
        assert!(
            e.contains(
                "Resources.Fn.Properties.FunctionName: \"has space\" is not a valid function name"
            ),
            "{e}"
        );
        let e = error("      Handler: a.b\n      ReservedConcurrentExecutions: -1\n");
        assert!(
            e.contains("must be a whole number from 0 to 10000 (hint: got -1)"),
            "{e}"
        );
    }
}
