//! What `esb up` and `esb gateway` share: the template, the state dir, the box's TLS
//! identity and the function list the gateway serves (with the variables that point
//! each function's AWS SDK back at the box).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use anyhow::{Context, Result};
use clap::Args;
use esb_auth::BoxCredentials;
use esb_docker::{BasePolicy, FunctionSource};
use esb_gateway::AsyncConfig;
use esb_gateway::FunctionEntry;
use esb_proto::agent::FunctionSpec;
use esb_state::StateDir;
use esb_template::{LoadOptions, Runtime, Template, UrlAuth};

#[derive(Args, Clone)]
pub struct ProjectArgs {
    /// The SAM template (default: ./template.yaml, else the nearest one above).
    #[arg(long, env = "ESB_TEMPLATE", default_value = "template.yaml")]
    pub template: PathBuf,
    /// HTTPS port of the gateway.
    #[arg(long, env = "ESB_PORT", default_value_t = 8443)]
    pub port: u16,
    /// Template parameters, as Key=Value.
    #[arg(long, num_args = 1.., env = "ESB_PARAMETER_OVERRIDES")]
    pub parameter_overrides: Vec<String>,
    /// State directory (default: .esb beside the template).
    #[arg(long, env = "ESB_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Region the box reports (AWS_REGION, ARNs).
    #[arg(long, env = "ESB_REGION", default_value = "us-east-1")]
    pub region: String,
    /// Most concurrent workers of a function without ReservedConcurrentExecutions.
    #[arg(long, env = "ESB_DEFAULT_CONCURRENCY", default_value_t = 10)]
    pub default_concurrency: u32,
    /// The box's SQS endpoint, once its listener is bound: the template's queue URLs
    /// (`!Ref Queue`) start with it.
    #[arg(skip)]
    pub sqs_url: Option<String>,
}

#[derive(Clone)]
pub struct Project {
    pub template: Template,
    /// Where the template was read from (absolute when it could be resolved).
    pub template_path: PathBuf,
    /// Each function's image reference (`esb/<name>:<content hash>`), what docker
    /// workers run; filled by the build (`esb up`) or `name_images` (`esb gateway`),
    /// empty for process workers, which run the code in place.
    pub images: BTreeMap<String, String>,
    /// What `esb status` says about how a function runs, where there is something to
    /// say: on another Python than its runtime names (a stand-in base, the host's).
    pub notes: BTreeMap<String, String>,
    pub default_concurrency: u32,
    pub state_dir: StateDir,
    pub region: String,
    pub account_id: String,
}

impl ProjectArgs {
    /// `--state-dir`, else `.esb` beside the template.
    pub fn state_dir(&self) -> PathBuf {
        match &self.state_dir {
            Some(d) => d.clone(),
            None => self
                .template
                .parent()
                .unwrap_or(Path::new("."))
                .join(esb_state::DEFAULT_NAME),
        }
    }

    /// Loads and validates the template; nothing starts when it is invalid.
    pub fn load(&self) -> Result<Project> {
        let opts = LoadOptions {
            parameter_overrides: self.parameter_overrides.clone(),
            region: self.region.clone(),
            stack_name: stack_name(&self.template),
            sqs_url: self.sqs_url.clone(),
            ..LoadOptions::default()
        };
        let template =
            esb_template::load(&self.template, &opts).map_err(|e| anyhow::anyhow!("{e}"))?;
        for w in &template.warnings {
            eprintln!("esb: warning: {w}");
        }
        for problem in undelivered_targets(&template) {
            eprintln!("esb: warning: {problem}");
        }
        let state_dir = self.state_dir();
        esb_state::create_private(&state_dir).with_context(|| {
            format!("cannot create the state directory {}", state_dir.display())
        })?;
        let state_dir = StateDir::new(state_dir.canonicalize().unwrap_or(state_dir));
        Ok(Project {
            template,
            template_path: self
                .template
                .canonicalize()
                .unwrap_or_else(|_| self.template.clone()),
            images: BTreeMap::new(),
            notes: BTreeMap::new(),
            default_concurrency: self.default_concurrency,
            state_dir,
            region: self.region.clone(),
            account_id: opts.account_id,
        })
    }
}

/// The gateway's form of an asynchronous invocation's destination: functions and SQS
/// queues of the box; others (SNS, EventBridge, S3) are not delivered.
fn destination(d: &esb_template::Destination) -> Option<esb_gateway::Destination> {
    match d {
        esb_template::Destination::Function(name) => {
            Some(esb_gateway::Destination::Function(name.clone()))
        }
        esb_template::Destination::Queue(arn) => Some(esb_gateway::Destination::Queue(arn.clone())),
        esb_template::Destination::Other { .. } => None,
    }
}

/// Destinations and dead-letter targets the box cannot deliver to, one line each.
fn undelivered_targets(template: &Template) -> Vec<String> {
    let mut problems = Vec::new();
    for f in &template.functions {
        let invoke = &f.event_invoke;
        for (when, d) in [
            ("OnSuccess", &invoke.on_success),
            ("OnFailure", &invoke.on_failure),
        ] {
            if let Some(esb_template::Destination::Other { kind, arn }) = d {
                problems.push(format!(
                    "{}: EventInvokeConfig {when} destination {arn} ({kind}) is not delivered: ESB delivers to functions and SQS queues",
                    f.logical_id
                ));
            }
        }
        if let Some(arn) = f
            .dead_letter_target
            .as_ref()
            .filter(|a| !a.starts_with("arn:aws:sqs:"))
        {
            problems.push(format!(
                "{}: DeadLetterQueue {arn} is not delivered: ESB delivers dead letters to SQS queues",
                f.logical_id
            ));
        }
    }
    problems
}

/// Where the original ESB's functions reach its RustFS (its CNI gateway, its compose
/// service names): a template written for it sets `S3_ENDPOINT` to one of these, which
/// on ESB means the box's own S3.
const ORIGINAL_S3_ADDRESSES: [&str; 3] = [
    "http://10.88.0.1:9000",
    "http://esb-storage:9000",
    "http://s3-storage:9000",
];

fn is_original_s3_address(value: &str) -> bool {
    ORIGINAL_S3_ADDRESSES.contains(&value.trim_end_matches('/'))
}

/// Where the original ESB's functions reach its ScyllaDB Alternator (its CNI gateway,
/// its compose service names): on ESB, the box's own DynamoDB.
const ORIGINAL_DYNAMODB_ADDRESSES: [&str; 4] = [
    "http://10.88.0.1:8001",
    "http://esb-database:8000",
    "http://database:8000",
    "http://localhost:8001",
];

/// Where the original ESB's newer branch pointed `AWS_ENDPOINT_URL_CLOUDWATCH_LOGS`:
/// its log store (VictoriaLogs).
const ORIGINAL_LOG_STORE_ADDRESSES: [&str; 4] = [
    "http://10.88.0.1:9428",
    "http://victorialogs:9428",
    "http://localhost:9428",
    "http://127.0.0.1:9428",
];

fn is_original_dynamodb_address(value: &str) -> bool {
    ORIGINAL_DYNAMODB_ADDRESSES.contains(&value.trim_end_matches('/'))
}

/// The box's data services functions reach (None: off).
#[derive(Debug, Clone, Default)]
pub struct Services {
    /// The CloudWatch Logs endpoint (`AWS_ENDPOINT_URL_CLOUDWATCH_LOGS`).
    pub cloudwatch_logs: Option<String>,
    /// The S3 endpoint (`AWS_ENDPOINT_URL_S3`, and the seed's `S3_ENDPOINT`).
    pub s3: Option<String>,
    /// The DynamoDB endpoint (`AWS_ENDPOINT_URL_DYNAMODB`, `..._DYNAMODB_STREAMS`, and
    /// the seed's `DYNAMODB_ENDPOINT`).
    pub dynamodb: Option<String>,
    /// The SQS endpoint (`AWS_ENDPOINT_URL_SQS`).
    pub sqs: Option<String>,
    /// Template tables' stream ARNs as the template resolved them, and the real ones.
    pub stream_arns: Option<Arc<RwLock<crate::dynamodb_tables::StreamArns>>>,
}

impl Services {
    /// A function's own variable, with the original ESB's service addresses read as
    /// this box's services, and a table's `GetAtt StreamArn` as its stream's ARN.
    fn rewrite(&self, name: &str, value: &str) -> String {
        if name == "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS"
            && let Some(logs) = &self.cloudwatch_logs
            && ORIGINAL_LOG_STORE_ADDRESSES.contains(&value.trim_end_matches('/'))
        {
            return logs.clone();
        }
        match (&self.s3, &self.dynamodb) {
            (Some(s3), _) if is_original_s3_address(value) => return s3.clone(),
            (_, Some(d)) if is_original_dynamodb_address(value) => return d.clone(),
            _ => {}
        }
        self.stream_arns
            .as_ref()
            .and_then(|known| known.read().ok()?.get(value).cloned())
            .unwrap_or_else(|| value.to_string())
    }
}

impl Project {
    /// The functions as the gateway and agent see them. `gateway_url` and `ca` make
    /// `boto3.client('lambda')` inside a function reach this box.
    pub fn entries(
        &self,
        gateway_url: &str,
        ca: &Path,
        credentials: &BoxCredentials,
        apis: &crate::api_access::Apis,
        services: &Services,
    ) -> Vec<FunctionEntry> {
        self.template
            .functions
            .iter()
            .map(|f| {
                let mut environment = std::collections::BTreeMap::from([
                    ("AWS_REGION".to_string(), self.region.clone()),
                    ("AWS_DEFAULT_REGION".to_string(), self.region.clone()),
                    // One account for the template (`AWS::AccountId`) and the workers'
                    // `invoked_function_arn`.
                    ("AWS_ACCOUNT_ID".to_string(), self.account_id.clone()),
                    (
                        "AWS_ENDPOINT_URL_LAMBDA".to_string(),
                        gateway_url.to_string(),
                    ),
                    // The original ESB's name for the same address.
                    ("GATEWAY_INTERNAL_URL".to_string(), gateway_url.to_string()),
                    ("AWS_CA_BUNDLE".to_string(), ca.display().to_string()),
                    // The box's credentials: chained SDK calls are signed with them.
                    (
                        "AWS_ACCESS_KEY_ID".to_string(),
                        credentials.access_key_id.clone(),
                    ),
                    (
                        "AWS_SECRET_ACCESS_KEY".to_string(),
                        credentials.secret_access_key.clone(),
                    ),
                ]);
                // Which function signs a call (its own role's session in Lambda).
                environment.insert(
                    "AWS_SESSION_TOKEN".into(),
                    esb_auth::session_token::for_function(&f.name),
                );
                if let Some(logs) = &services.cloudwatch_logs {
                    environment.insert("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS".into(), logs.clone());
                }
                if let Some(s3) = &services.s3 {
                    environment.insert("AWS_ENDPOINT_URL_S3".into(), s3.clone());
                    environment.insert("S3_ENDPOINT".into(), s3.clone());
                }
                if let Some(q) = &services.sqs {
                    environment.insert("AWS_ENDPOINT_URL_SQS".into(), q.clone());
                }
                if let Some(d) = &services.dynamodb {
                    for name in [
                        "AWS_ENDPOINT_URL_DYNAMODB",
                        "AWS_ENDPOINT_URL_DYNAMODB_STREAMS",
                        "DYNAMODB_ENDPOINT",
                    ] {
                        environment.insert(name.into(), d.clone());
                    }
                }
                environment.extend(
                    f.environment
                        .iter()
                        .map(|(k, v)| (k.clone(), services.rewrite(k, v))),
                );
                FunctionEntry {
                    routes: f
                        .api_events
                        .iter()
                        .map(|e| apis.route(&f.name, e))
                        .collect(),
                    spec: FunctionSpec {
                        name: f.name.clone(),
                        code_dir: f.code_dir.display().to_string(),
                        handler: f.handler.clone().unwrap_or_default(),
                        runtime: f.runtime.id(),
                        timeout_s: f.timeout_s,
                        memory_mb: f.memory_mb,
                        environment,
                        layers: f.layers.iter().map(|l| l.display().to_string()).collect(),
                        image: self.images.get(&f.name).cloned().unwrap_or_default(),
                        ..FunctionSpec::default()
                    },
                    url: f.function_url.map(|auth| match auth {
                        UrlAuth::None => esb_gateway::function_url::UrlAuth::None,
                        UrlAuth::AwsIam => esb_gateway::function_url::UrlAuth::AwsIam,
                    }),
                    provisioned: usize::try_from(f.provisioned_concurrency).unwrap_or(usize::MAX),
                    async_config: AsyncConfig {
                        max_retries: f.event_invoke.max_retries,
                        max_age: std::time::Duration::from_secs(u64::from(
                            f.event_invoke.max_age_s,
                        )),
                        on_success: f.event_invoke.on_success.as_ref().and_then(destination),
                        on_failure: f.event_invoke.on_failure.as_ref().and_then(destination),
                        dead_letter_queue: f
                            .dead_letter_target
                            .clone()
                            .filter(|arn| arn.starts_with("arn:aws:sqs:")),
                    },
                    concurrency: self.concurrency(f),
                    note: self.notes.get(&f.name).cloned(),
                    placement: esb_gateway::nodes::NodeSelector {
                        require: f.placement.require.clone(),
                        avoid: f.placement.avoid.clone(),
                    },
                }
            })
            .collect()
    }

    /// How many workers `f` may have at once: its reserved concurrency, else the box's
    /// default (at least its provisioned workers).
    pub fn concurrency(&self, f: &esb_template::FunctionSpec) -> usize {
        usize::try_from(
            f.reserved_concurrency
                .unwrap_or(self.default_concurrency.max(f.provisioned_concurrency)),
        )
        .unwrap_or(usize::MAX)
    }

    /// Names every function's image from its files alone (no Docker): what a split
    /// gateway tells an agent to run, which may be a docker agent. `policy` must be
    /// the one `esb build` made the images with: it is part of their names.
    pub fn name_images(&mut self, policy: BasePolicy) -> Result<()> {
        let esb = esb_docker::running_binary()?;
        self.images = self
            .function_sources(policy)
            .iter()
            .filter_map(|src| match esb_docker::image_reference(src, &esb) {
                Ok(reference) => Some((src.name.clone(), reference)),
                Err(e) => {
                    tracing::debug!("no image reference for {}: {e}", src.name);
                    None
                }
            })
            .collect();
        Ok(())
    }

    pub fn function_sources(&self, policy: BasePolicy) -> Vec<FunctionSource> {
        function_sources(&self.template, policy)
    }

    /// Python functions whose runtime names another version than `host` (`3.11`), the
    /// Python process workers run them on, with that runtime.
    pub fn other_pythons(&self, host: &str) -> Vec<(String, String)> {
        self.template
            .functions
            .iter()
            .filter_map(|f| {
                let runtime = f.runtime.id();
                let wanted = esb_docker::base_image::python_version(&runtime)?;
                (wanted != host).then(|| (f.name.clone(), runtime.clone()))
            })
            .collect()
    }

    /// What `esb status` says about those functions under process workers.
    pub fn host_python_notes(&self, host: &str) -> BTreeMap<String, String> {
        self.other_pythons(host)
            .into_iter()
            .map(|(name, runtime)| {
                let note =
                    format!("runtime {runtime} runs on the host's Python {host} (process workers)");
                (name, note)
            })
            .collect()
    }

    pub fn has_python(&self) -> bool {
        self.template
            .functions
            .iter()
            .any(|f| matches!(f.runtime, Runtime::Python { .. }))
    }
}

/// What each function's image is built from.
fn function_sources(template: &Template, policy: BasePolicy) -> Vec<FunctionSource> {
    template
        .functions
        .iter()
        .map(|f| FunctionSource {
            name: f.name.clone(),
            runtime: f.runtime.id(),
            handler: f.handler.clone().unwrap_or_default(),
            code_dir: f.code_dir.clone(),
            layers: f.layers.clone(),
            base_policy: policy,
        })
        .collect()
}

/// The stack name is the project folder's name, as SAM users expect.
pub fn stack_name(template: &Path) -> String {
    template
        .canonicalize()
        .ok()
        .and_then(|p| {
            p.parent()
                .and_then(|d| d.file_name())
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "esb".into())
}

#[cfg(test)]
mod tests {
    use super::{Services, is_original_dynamodb_address, is_original_s3_address};

    #[test]
    fn the_original_esbs_service_addresses_mean_the_boxs_services() {
        assert!(is_original_s3_address("http://10.88.0.1:9000"));
        assert!(is_original_s3_address("http://esb-storage:9000/"));
        assert!(!is_original_s3_address("http://10.88.0.1:8001"));
        assert!(!is_original_s3_address("https://s3.example.com"));
        assert!(is_original_dynamodb_address("http://10.88.0.1:8001"));
        assert!(is_original_dynamodb_address("http://esb-database:8000/"));
        assert!(!is_original_dynamodb_address("http://10.88.0.1:9000"));
    }

    #[test]
    fn only_the_cloudwatch_logs_variable_takes_the_box_logs_api_for_the_originals_store() {
        let services = Services {
            cloudwatch_logs: Some("https://127.0.0.1:9429".into()),
            ..Services::default()
        };
        let logs = "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS";
        assert_eq!(
            services.rewrite(logs, "http://10.88.0.1:9428"),
            "https://127.0.0.1:9429"
        );
        assert_eq!(
            services.rewrite(logs, "https://logs.example.com"),
            "https://logs.example.com"
        );
        // The original's VictoriaLogs address in another variable stays what it is.
        assert_eq!(
            services.rewrite("VICTORIALOGS_URL", "http://10.88.0.1:9428"),
            "http://10.88.0.1:9428"
        );
    }
}
