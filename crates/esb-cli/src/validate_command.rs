//! `esb validate`: loads the template with the loader `esb up` uses and prints what ESB
//! would run — functions, their routes, the APIs serving them — and what it would
//! ignore (warnings with their line), without starting anything or writing the state
//! dir, so a template can be checked in CI or before a deploy.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use esb_template::{
    ApiKind, ApiSpec, ApiType, Authorizer, FunctionSpec, LoadOptions, Template, UrlAuth,
};
use serde::Serialize;

#[derive(Args)]
#[command(after_help = "Examples:\n  \
    esb validate\n  \
    esb validate --template infra/template.yaml --parameter-overrides Stage=dev\n  \
    esb validate --json | jq '.functions[].routes'\n\n\
    Exit status: 0 valid (warnings included), 1 invalid (the error names file:line:column).")]
pub struct ValidateArgs {
    /// The SAM template.
    #[arg(long, default_value = "template.yaml")]
    pub template: PathBuf,
    /// Template parameters, as Key=Value.
    #[arg(long, num_args = 1..)]
    pub parameter_overrides: Vec<String>,
    /// Region the template is resolved for (AWS::Region).
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// Print the report as JSON (on an invalid template: `{"valid": false, "error": ...}`).
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: ValidateArgs) -> Result<()> {
    // The options `esb up` loads with (project.rs), so both see the same template.
    let opts = LoadOptions {
        parameter_overrides: args.parameter_overrides.clone(),
        region: args.region.clone(),
        stack_name: crate::project::stack_name(&args.template),
        ..LoadOptions::default()
    };
    let template = match esb_template::load(&args.template, &opts) {
        Ok(t) => t,
        Err(e) => {
            if args.json {
                let d = e.diagnostic();
                let report = serde_json::json!({
                    "template": args.template.display().to_string(),
                    "valid": false,
                    "error": {
                        "file": d.file,
                        "line": d.position.map(|p| p.line),
                        "column": d.position.map(|p| p.col),
                        "path": d.path,
                        "message": d.kind.to_string(),
                        "hint": d.hint,
                    },
                });
                println!("{}", serde_json::to_string_pretty(&report)?);
            }
            return Err(anyhow::anyhow!("{e}"));
        }
    };
    let report = Report::new(&args.template, &template);
    if args.json {
        let text = serde_json::to_string_pretty(&report).context("cannot render the report")?;
        println!("{text}");
    } else {
        print!("{}", report.text());
    }
    Ok(())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    template: String,
    valid: bool,
    functions: Vec<Function>,
    apis: Vec<Api>,
    warnings: Vec<WarningLine>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Function {
    name: String,
    logical_id: String,
    runtime: String,
    /// None for `provided*` functions without a Handler.
    handler: Option<String>,
    code_dir: String,
    memory_mb: u32,
    timeout_s: u32,
    /// None: unreserved (`esb up --default-concurrency` applies).
    reserved_concurrency: Option<u32>,
    provisioned_concurrency: u32,
    function_url: Option<FunctionUrl>,
    layers: Vec<String>,
    routes: Vec<Route>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FunctionUrl {
    auth_type: &'static str,
    path: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Route {
    method: String,
    path: String,
    api: String,
    /// "REST" or "HTTP".
    api_kind: &'static str,
    payload_version: &'static str,
    stage: String,
    /// The authorizer that applies (the event's, else the API's default); None: open.
    authorizer: Option<String>,
    api_key_required: bool,
    scopes: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Api {
    id: String,
    kind: &'static str,
    stage: String,
    cors: Option<Cors>,
    binary_media_types: Vec<String>,
    default_authorizer: Option<String>,
    api_key_required: bool,
    authorizers: Vec<AuthorizerInfo>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Cors {
    allow_origins: Vec<String>,
    allow_methods: Vec<String>,
    allow_headers: Vec<String>,
    expose_headers: Vec<String>,
    max_age: Option<u32>,
    allow_credentials: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AuthorizerInfo {
    name: String,
    /// "JWT", "TOKEN", "REQUEST" (REST Lambda) or "LAMBDA" (HTTP API Lambda).
    #[serde(rename = "type")]
    kind: &'static str,
    /// JWT: the issuer; Lambda: the function.
    source: String,
    /// JWT audiences.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    audience: Vec<String>,
    /// Lambda: seconds a result is cached.
    #[serde(skip_serializing_if = "Option::is_none")]
    ttl_s: Option<u32>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WarningLine {
    file: String,
    line: usize,
    column: usize,
    path: String,
    message: String,
}

impl Report {
    fn new(path: &Path, t: &Template) -> Self {
        Self {
            template: path.display().to_string(),
            valid: true,
            functions: t.functions.iter().map(|f| function(f, &t.apis)).collect(),
            apis: t.apis.iter().map(api).collect(),
            warnings: t
                .warnings
                .iter()
                .map(|w| WarningLine {
                    file: w.file.clone(),
                    line: w.position.line,
                    column: w.position.col,
                    path: w.path.clone(),
                    message: w.message.clone(),
                })
                .collect(),
        }
    }

    fn text(&self) -> String {
        let mut out = format!(
            "{} is valid: {} function{}, {} API{}, {} warning{}\n",
            self.template,
            self.functions.len(),
            plural(self.functions.len()),
            self.apis.len(),
            plural(self.apis.len()),
            self.warnings.len(),
            plural(self.warnings.len()),
        );
        for f in &self.functions {
            out.push_str(&format!("\nfunction {} ({})\n", f.name, f.logical_id));
            let mut row = |k: &str, v: String| out.push_str(&format!("  {k:<13}{v}\n"));
            row("runtime", f.runtime.clone());
            row(
                "handler",
                f.handler.clone().unwrap_or_else(|| "(bootstrap)".into()),
            );
            row("code", f.code_dir.clone());
            row("memory", format!("{} MB", f.memory_mb));
            row("timeout", format!("{} s", f.timeout_s));
            row(
                "concurrency",
                format!(
                    "reserved {}, provisioned {}",
                    f.reserved_concurrency
                        .map_or("none (esb up --default-concurrency)".into(), |n| n
                            .to_string()),
                    f.provisioned_concurrency
                ),
            );
            if let Some(url) = &f.function_url {
                row(
                    "function URL",
                    format!("{} (AuthType {})", url.path, url.auth_type),
                );
            }
            if !f.layers.is_empty() {
                row("layers", f.layers.join(", "));
            }
            if f.routes.is_empty() {
                row("routes", "none (Invoke API only)".into());
            }
            for r in &f.routes {
                let mut auth = r.authorizer.clone().unwrap_or_else(|| "open".into());
                if r.api_key_required {
                    auth.push_str(" + API key");
                }
                if !r.scopes.is_empty() {
                    auth.push_str(&format!(" (scopes {})", r.scopes.join(" ")));
                }
                row(
                    "route",
                    format!(
                        "{:<7}{:<24} {} {} payload {}, stage {}, auth {auth}",
                        r.method, r.path, r.api_kind, r.api, r.payload_version, r.stage
                    ),
                );
            }
        }
        for a in &self.apis {
            out.push_str(&format!("\n{} API {}\n", a.kind, a.id));
            let mut row = |k: &str, v: String| out.push_str(&format!("  {k:<13}{v}\n"));
            row("stage", a.stage.clone());
            row(
                "CORS",
                a.cors.as_ref().map_or("off".into(), |c| {
                    format!(
                        "origins {}, methods {}, headers {}{}",
                        list(&c.allow_origins),
                        list(&c.allow_methods),
                        list(&c.allow_headers),
                        if c.allow_credentials {
                            ", credentials"
                        } else {
                            ""
                        }
                    )
                }),
            );
            if a.kind == "REST" {
                row("binary types", list(&a.binary_media_types));
            }
            if let Some(d) = &a.default_authorizer {
                row("default auth", d.clone());
            }
            if a.api_key_required {
                row("API key", "required by default".into());
            }
            for z in &a.authorizers {
                let mut line = format!("{} {} ({})", z.name, z.kind, z.source);
                if !z.audience.is_empty() {
                    line.push_str(&format!(", audience {}", z.audience.join(" ")));
                }
                if let Some(ttl) = z.ttl_s {
                    line.push_str(&format!(", cached {ttl} s"));
                }
                row("authorizer", line);
            }
        }
        if !self.warnings.is_empty() {
            out.push_str("\nwarnings (accepted, not acted on by ESB)\n");
            for w in &self.warnings {
                out.push_str(&format!(
                    "  {}:{}:{}: {}: {}\n",
                    w.file, w.line, w.column, w.path, w.message
                ));
            }
        }
        out
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(" ")
    }
}

fn function(f: &FunctionSpec, apis: &[ApiSpec]) -> Function {
    Function {
        name: f.name.clone(),
        logical_id: f.logical_id.clone(),
        runtime: f.runtime.id(),
        handler: f.handler.clone(),
        code_dir: f.code_dir.display().to_string(),
        memory_mb: f.memory_mb,
        timeout_s: f.timeout_s,
        reserved_concurrency: f.reserved_concurrency,
        provisioned_concurrency: f.provisioned_concurrency,
        function_url: f.function_url.map(|auth| FunctionUrl {
            auth_type: match auth {
                UrlAuth::None => "NONE",
                UrlAuth::AwsIam => "AWS_IAM",
            },
            path: format!("/lambda-url/{}/", f.name),
        }),
        layers: f.layers.iter().map(|l| l.display().to_string()).collect(),
        routes: f
            .api_events
            .iter()
            .map(|e| {
                let api = apis.iter().find(|a| a.logical_id == e.api_id);
                // The event's Auth wins over the API's defaults; "NONE" opts out.
                let authorizer = match e.auth.authorizer.as_deref() {
                    Some("NONE") => None,
                    Some(name) => Some(name.to_string()),
                    None => api.and_then(|a| a.auth.default_authorizer.clone()),
                };
                Route {
                    method: e.method.clone(),
                    path: e.path.clone(),
                    api: e.api_id.clone(),
                    api_kind: match e.api {
                        ApiKind::Rest => "REST",
                        ApiKind::Http { .. } => "HTTP",
                    },
                    payload_version: match e.api {
                        ApiKind::Http { payload_v2: true } => "2.0",
                        _ => "1.0",
                    },
                    stage: api.map(|a| a.stage_name.clone()).unwrap_or_default(),
                    authorizer,
                    api_key_required: e
                        .auth
                        .api_key_required
                        .unwrap_or_else(|| api.is_some_and(|a| a.auth.api_key_required)),
                    scopes: e.auth.scopes.clone(),
                }
            })
            .collect(),
    }
}

fn api(a: &ApiSpec) -> Api {
    let rest = a.kind == ApiType::Rest;
    Api {
        id: a.logical_id.clone(),
        kind: if rest { "REST" } else { "HTTP" },
        stage: a.stage_name.clone(),
        cors: a.cors.as_ref().map(|c| Cors {
            allow_origins: c.allow_origins.clone(),
            allow_methods: c.allow_methods.clone(),
            allow_headers: c.allow_headers.clone(),
            expose_headers: c.expose_headers.clone(),
            max_age: c.max_age,
            allow_credentials: c.allow_credentials,
        }),
        binary_media_types: a.binary_media_types.clone(),
        default_authorizer: a.auth.default_authorizer.clone(),
        api_key_required: a.auth.api_key_required,
        authorizers: a
            .auth
            .authorizers
            .iter()
            .map(|(name, z)| match z {
                Authorizer::Jwt {
                    issuer, audience, ..
                } => AuthorizerInfo {
                    name: name.clone(),
                    kind: "JWT",
                    source: issuer.clone(),
                    audience: audience.clone(),
                    ttl_s: None,
                },
                Authorizer::Lambda(l) => AuthorizerInfo {
                    name: name.clone(),
                    kind: match (rest, l.request) {
                        (true, false) => "TOKEN",
                        (true, true) => "REQUEST",
                        (false, _) => "LAMBDA",
                    },
                    source: l.function.clone(),
                    audience: Vec::new(),
                    ttl_s: Some(l.ttl_s),
                },
            })
            .collect(),
    }
}
