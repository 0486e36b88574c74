//! The box's SQS service as `esb up` / `esb gateway` run it: its listener (HTTPS with the
//! box's certificate, or plain HTTP), bound before the template is read because a
//! queue's `!Ref` is its URL; the template's queues created and brought to what it
//! declares; the gateway's destinations and dead-letter queues delivered to it; and
//! the template's `Events: SQS` run as queue mappings.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use esb_gateway::Gateway;
use esb_sqs::forward::Engine;
use esb_sqs::queue_mapping::{self, MappingHandle, MappingSpec, SqsClient};
use esb_sqs::{QueueService, Sqs, SqsConfig, SqsFront};
use esb_template::{FunctionSpec, QueueSpec, SqsEventSpec};

use crate::service_port::{BoxContext, ServicePort};

/// The port `auto` tries first (ElasticMQ's, which SQS tools often default to).
const DEFAULT_PORT: u16 = 9324;

#[derive(Args, Clone, Debug)]
pub struct SqsArgs {
    /// Port of the box's SQS service (functions reach it through AWS_ENDPOINT_URL_SQS):
    /// `auto` (9324, or a free port when that is taken), a number (`0`: any free one),
    /// or `off`.
    #[arg(long, env = "ESB_SQS_PORT", default_value = "auto", value_parser = crate::service_port::parse)]
    pub sqs_port: ServicePort,
    /// Serve SQS over plain HTTP instead of HTTPS with the box's certificate.
    #[arg(
        long,
        env = "ESB_SQS_PLAIN_HTTP",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub sqs_plain_http: bool,
    /// Use an existing SQS engine (AWS SQS, ElasticMQ, moto) instead of the embedded
    /// one: the box's listener checks the box's key and forwards, re-signed.
    #[arg(long, env = "ESB_SQS_ENDPOINT", value_name = "URL")]
    pub sqs_endpoint: Option<String>,
    /// The engine's access key id (with --sqs-endpoint).
    #[arg(long, env = "ESB_SQS_ACCESS_KEY_ID", requires = "sqs_endpoint")]
    pub sqs_access_key_id: Option<String>,
    /// The engine's secret access key (with --sqs-endpoint).
    #[arg(
        long,
        env = "ESB_SQS_SECRET_ACCESS_KEY",
        requires = "sqs_endpoint",
        hide_env_values = true
    )]
    pub sqs_secret_access_key: Option<String>,
    /// The engine's region (default: the box's --region).
    #[arg(long, env = "ESB_SQS_REGION", requires = "sqs_endpoint")]
    pub sqs_region: Option<String>,
    /// A CA certificate (PEM) the engine's HTTPS certificate chains to, if not public.
    #[arg(
        long,
        env = "ESB_SQS_CA",
        requires = "sqs_endpoint",
        value_name = "FILE"
    )]
    pub sqs_ca: Option<std::path::PathBuf>,
}

/// The SQS listener, bound before the template is read.
pub struct SqsListener {
    listener: std::net::TcpListener,
    /// `https://127.0.0.1:<port>`: what the template's queue URLs start with.
    pub url: String,
}

impl SqsArgs {
    /// The external engine, when one is configured.
    fn engine(&self, box_region: &str) -> Result<Option<Arc<Engine>>> {
        let Some(endpoint) = &self.sqs_endpoint else {
            return Ok(None);
        };
        let access = crate::service_port::engine_access(
            "sqs",
            self.sqs_access_key_id.as_ref(),
            self.sqs_secret_access_key.as_ref(),
            self.sqs_ca.as_ref(),
        )?;
        let engine = Engine::new(
            endpoint,
            access.credentials,
            self.sqs_region.as_deref().unwrap_or(box_region),
            access.ca.as_deref(),
        )
        .map_err(|e| anyhow::anyhow!("--sqs-endpoint: {e}"))?;
        Ok(Some(Arc::new(engine)))
    }

    /// Binds the listener (nothing when the service is off).
    pub fn bind(&self) -> Result<Option<SqsListener>> {
        let Some(listener) =
            crate::service_port::bind_std(self.sqs_port, DEFAULT_PORT, "SQS", "--sqs-port")?
        else {
            return Ok(None);
        };
        let scheme = if self.sqs_plain_http { "http" } else { "https" };
        let url = format!("{scheme}://127.0.0.1:{}", listener.local_addr()?.port());
        Ok(Some(SqsListener { listener, url }))
    }
}

/// The SQS service of a running box.
pub struct SqsService {
    /// What functions get as `AWS_ENDPOINT_URL_SQS`.
    pub url: String,
    /// Where the box's own queue work goes: the embedded engine or the external one.
    pub queues: QueueService,
    /// A signed client for the queue mappings (which speak the public API, as they
    /// would to any SQS): of the listener, or of the external engine with its key.
    client: SqsClient,
    stop: tokio::sync::watch::Sender<bool>,
}

impl SqsService {
    /// Opens the store under the state dir (or, with `--sqs-endpoint`, reaches the
    /// external engine) and serves it on `listener`.
    pub fn start(args: &SqsArgs, listener: SqsListener, ctx: BoxContext<'_>) -> Result<Self> {
        let access = crate::service_port::access_hook(ctx.state, ctx.log_records, "sqs");
        // Marks the box's own calls (its queue mappings' polls), which the access log
        // leaves out.
        let box_token = uuid::Uuid::new_v4().simple().to_string();
        let engine = args.engine(ctx.region)?;
        let (queues, front) = match &engine {
            Some(engine) => (
                QueueService::External(Arc::clone(engine)),
                SqsFront::forwarding(
                    Arc::clone(engine),
                    ctx.region,
                    ctx.account,
                    ctx.credentials.clone(),
                    Some(access),
                ),
            ),
            None => {
                let dir = ctx.state.sqs();
                let sqs = Sqs::open(SqsConfig {
                    dir: dir.clone(),
                    region: ctx.region.to_string(),
                    account: ctx.account.to_string(),
                })
                .with_context(|| format!("cannot open the SQS store in {}", dir.display()))?;
                let front = SqsFront::new(sqs.clone(), ctx.credentials.clone(), Some(access));
                (QueueService::Embedded(sqs), front)
            }
        };
        let front = front.with_box_token(&box_token);
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let tls = (!args.sqs_plain_http).then_some(ctx.tls);
        let tcp = tokio::net::TcpListener::from_std(listener.listener)
            .context("cannot listen for SQS")?;
        tokio::spawn(esb_sqs::serve(tcp, tls, ctx.limits, front, async move {
            let _ = stopped.wait_for(|s| *s).await;
        }));
        let client = match &engine {
            // The mappings poll the engine directly, with its key.
            Some(engine) => engine.client(),
            None => {
                let ca = std::fs::read(ctx.ca)
                    .with_context(|| format!("cannot read {}", ctx.ca.display()))?;
                SqsClient::new(
                    &listener.url,
                    ctx.credentials.clone(),
                    ctx.region,
                    Some(&ca),
                )
                .map_err(|e| anyhow::anyhow!("SQS client: {e}"))?
                .as_box(&box_token)
            }
        };
        Ok(Self {
            url: listener.url,
            queues,
            client,
            stop,
        })
    }

    /// Creates the template's queues and brings them to what it declares. Redrive
    /// policies are set in a second pass, once every dead-letter queue exists.
    pub async fn provision(&self, queues: &[QueueSpec]) -> Result<()> {
        for q in queues {
            let mut attributes = q.attributes.clone();
            attributes.remove("RedrivePolicy");
            self.ensure(q, attributes).await?;
        }
        for q in queues
            .iter()
            .filter(|q| q.attributes.contains_key("RedrivePolicy"))
        {
            self.ensure(q, q.attributes.clone()).await?;
        }
        Ok(())
    }

    async fn ensure(&self, q: &QueueSpec, attributes: BTreeMap<String, String>) -> Result<()> {
        let tags = q.tags.iter().cloned().collect();
        let on = match &self.queues {
            QueueService::External(engine) => format!(" on {}", engine.endpoint()),
            QueueService::Embedded(_) => String::new(),
        };
        self.queues
            .ensure_queue(&q.name, attributes, tags)
            .await
            .with_context(|| {
                format!("cannot create the queue {} ({}){on}", q.name, q.logical_id)
            })?;
        Ok(())
    }

    /// Hands the gateway's queue destinations and dead-letter queues to this service.
    pub fn deliver_to(&self, gateway: &Gateway) {
        gateway.set_queue_sink(Arc::new(QueueSink(self.queues.clone())));
    }

    /// Stops the listener.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

/// The gateway's messages, sent to the box's queues.
struct QueueSink(QueueService);

#[async_trait::async_trait]
impl esb_gateway::QueueSink for QueueSink {
    async fn send(
        &self,
        queue_arn: &str,
        message: esb_gateway::QueueMessage,
    ) -> Result<(), String> {
        self.0
            .send_with_attributes(queue_arn, message.body, message.attributes)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// The template's `Events: SQS` as running queue mappings. A reload restarts only the
/// mappings it changed.
pub struct QueueMappings {
    client: SqsClient,
    invoker: Arc<dyn esb_lambda::source_invoke::Invoker>,
    running: Mutex<BTreeMap<(String, String), Running>>,
}

struct Running {
    /// As the template declared it (with the function's concurrency), to tell a
    /// changed mapping on reload.
    declared: (SqsEventSpec, usize),
    handle: MappingHandle,
}

impl QueueMappings {
    pub fn new(service: &SqsService, gateway: &Arc<Gateway>) -> Self {
        Self {
            client: service.client.clone(),
            invoker: Arc::new(crate::gateway_invoker::GatewayInvoker(Arc::clone(gateway))),
            running: Mutex::new(BTreeMap::new()),
        }
    }

    /// Runs the mappings `functions` declare: new ones start, changed ones restart,
    /// removed ones stop. `concurrency` is each function's bound on workers (its
    /// reserved concurrency, else the box's default), which caps its mappings'
    /// pollers. Returns the mappings that could not start, with why.
    pub fn apply(
        &self,
        functions: &[FunctionSpec],
        concurrency: &dyn Fn(&FunctionSpec) -> usize,
    ) -> Vec<String> {
        let Ok(mut running) = self.running.lock() else {
            return vec!["queue mappings: internal lock poisoned".into()];
        };
        let mut wanted = BTreeMap::new();
        for f in functions {
            for e in &f.sqs_events {
                wanted.insert(
                    (f.name.clone(), e.logical_id.clone()),
                    (e.clone(), concurrency(f)),
                );
            }
        }
        running.retain(|key, r| {
            let keep = wanted.get(key) == Some(&r.declared);
            if !keep {
                r.handle.stop();
            }
            keep
        });
        let mut problems = Vec::new();
        for (key, declared) in wanted {
            if running.contains_key(&key) {
                continue;
            }
            let (function, event) = &key;
            let spec = mapping_spec(function, &declared.0, declared.1);
            match queue_mapping::start(spec, self.client.clone(), Arc::clone(&self.invoker)) {
                Ok(handle) => {
                    running.insert(key, Running { declared, handle });
                }
                Err(e) => problems.push(format!("{function} event {event}: {e}")),
            }
        }
        problems
    }

    /// Stops every mapping (a batch in flight returns to its queue after its
    /// visibility timeout).
    pub fn stop(&self) {
        if let Ok(mut running) = self.running.lock() {
            for r in running.values() {
                r.handle.stop();
            }
            running.clear();
        }
    }
}

/// The poller's spec of a template event.
fn mapping_spec(function: &str, e: &SqsEventSpec, concurrency: usize) -> MappingSpec {
    let mut spec = MappingSpec::new(function, &e.logical_id, &e.queue_arn);
    spec.batch_size = usize::try_from(e.batch_size).unwrap_or(usize::MAX);
    spec.maximum_batching_window = Duration::from_secs(u64::from(e.maximum_batching_window_s));
    spec.report_batch_item_failures = e.report_batch_item_failures;
    spec.maximum_concurrency = e
        .maximum_concurrency
        .map(|c| usize::try_from(c).unwrap_or(usize::MAX));
    spec.concurrency_cap = concurrency.max(1);
    spec.filters = e.filters.clone();
    spec.enabled = e.enabled;
    spec
}
