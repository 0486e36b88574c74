//! `esb gateway`: the HTTPS front door of a template, using an agent over gRPC — the
//! seed's split deployment; `esb up` runs the same code beside an in-process agent.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use esb_gateway::{Gateway, GatewayConfig};

use crate::project::{Project, ProjectArgs};

#[derive(Args)]
pub struct GatewayArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// The agent's gRPC URL.
    #[arg(long, env = "ESB_AGENT", default_value = "http://127.0.0.1:50051")]
    pub agent: String,
    #[command(flatten)]
    pub serve: ServeArgs,
    /// Must match `esb build`'s: whether images may stand on another Python's base is
    /// part of their names.
    #[command(flatten)]
    pub bases: crate::build_command::BaseArgs,
}

/// Pool behaviour, shared by `esb gateway` and `esb up`.
#[derive(Args, Clone)]
pub struct ServeArgs {
    /// How long a request waits for a busy function's worker before 429.
    #[arg(long, env = "ESB_ACQUIRE_TIMEOUT", default_value_t = 10.0)]
    pub acquire_timeout: f64,
    /// Seconds after which an idle worker is paused (frozen, as Lambda freezes idle
    /// environments; resumed on its next request). 0 never pauses.
    #[arg(long, env = "ESB_PAUSE_IDLE_AFTER", default_value_t = 10.0)]
    pub pause_idle_after: f64,
    /// Seconds after which an unused worker is removed (scale to zero; the next
    /// request starts cold). Provisioned workers stay. 0 keeps workers for ever.
    #[arg(long, env = "ESB_IDLE_TIMEOUT", default_value_t = 300.0)]
    pub idle_timeout: f64,
    /// Most invocations in flight across all functions (Lambda's account limit); past
    /// it, requests wait like --acquire-timeout, then get 429.
    #[arg(long, env = "ESB_MAX_CONCURRENCY", default_value_t = 1000)]
    pub max_concurrency: usize,
    /// Seconds before an asynchronous event that hit a function error is retried
    /// (doubling each time, as Lambda backs off).
    #[arg(long, env = "ESB_ASYNC_RETRY_DELAY", default_value_t = 60.0)]
    pub async_retry_delay: f64,
    /// Failures in a row (no worker could be started or reached, or the function's
    /// runtime died mid-invocation) after which a function's circuit opens and its
    /// requests fail fast. The original ESB's CIRCUIT_BREAKER_THRESHOLD also works.
    #[arg(long, env = "ESB_BREAKER_THRESHOLD", default_value_t = 5)]
    pub breaker_threshold: u32,
    /// Seconds an open circuit stays open before one request probes it. The original
    /// ESB's CIRCUIT_BREAKER_RECOVERY_TIMEOUT also works.
    #[arg(long, env = "ESB_BREAKER_COOLDOWN", default_value_t = 10.0)]
    pub breaker_cooldown: f64,
    /// Serve the Invoke API and AWS_IAM routes without checking Signature V4: anyone
    /// who reaches the port can run every function. For a laptop, never an edge box.
    // The variable takes 1/0, true/false, yes/no, on/off (README documents `=1`).
    #[arg(
        long,
        env = "ESB_OPEN_INVOKE_API",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub open_invoke_api: bool,
    #[command(flatten)]
    pub edge: crate::edge_limits::EdgeArgs,
    #[command(flatten)]
    pub metrics: crate::metrics_listener::MetricsArgs,
    #[command(flatten)]
    pub log_store: crate::log_store::LogStoreArgs,
    /// A VictoriaLogs to ship every record to as well (`http://host:9428`), with stream
    /// fields `function` and `job`; with `--logs-listen off`, only there.
    #[arg(long, env = "ESB_LOGS_SHIP_URL")]
    pub logs_ship_url: Option<String>,
    #[command(flatten)]
    pub auth: crate::api_access::AuthArgs,
    #[command(flatten)]
    pub s3: crate::s3_service::S3Args,
    #[command(flatten)]
    pub dynamodb: crate::dynamodb_service::DynamoArgs,
    #[command(flatten)]
    pub sqs: crate::sqs_service::SqsArgs,
    #[command(flatten)]
    pub cloudwatch_logs: crate::cloudwatch_logs_service::CloudWatchLogsArgs,
}

pub fn run(mut args: GatewayArgs) -> Result<()> {
    let sqs_listener = args.serve.sqs.bind()?;
    args.project.sqs_url = sqs_listener.as_ref().map(|l| l.url.clone());
    let mut project = args.project.load()?;
    project.name_images(args.bases.policy())?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let gateway = serve(
            &project,
            args.project.port,
            crate::box_nodes::BoxNodes::start(&project.state_dir, &args.agent, &[], None)?,
            &args.serve,
            sqs_listener,
            "gateway",
            None,
        )
        .await?;
        crate::quiet::note!("esb: stopping: returning idle workers to the agent");
        gateway.release_workers().await;
        Ok(())
    })
}

/// Serves the project over HTTPS until Ctrl-C/SIGTERM; returns the gateway so the
/// caller can release its workers.
pub async fn serve(
    project: &Project,
    port: u16,
    nodes: crate::box_nodes::BoxNodes,
    options: &ServeArgs,
    sqs_listener: Option<crate::sqs_service::SqsListener>,
    runtime_label: &str,
    watch: Option<(ProjectArgs, crate::watch::Rebuild)>,
) -> Result<Arc<Gateway>> {
    // Nodes reach the box at one of this machine's addresses: the certificate names them all.
    let certs = esb_gateway::certs::ensure_with(&project.state_dir, &esb_nodes::local_ips(), &[])
        .context("cannot prepare the box's TLS certificates")?;
    let tls = esb_gateway::tls::server_config(&certs)?;
    let listen = SocketAddr::from(([0, 0, 0, 0], port));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (gateway HTTPS)"))?;
    // `--port 0` takes any free port: what is written down is the one taken.
    let port = listener.local_addr().map_or(port, |a| a.port());
    let url = format!("https://127.0.0.1:{port}");
    let credentials = esb_auth::load_or_issue(&project.state_dir.credentials())?;
    let id_token = options.auth.id_token(&credentials)?;
    let user_auth = id_token.is_some();
    let apis = crate::api_access::Apis::new(&project.template, &options.auth, user_auth)?;
    let logs = crate::log_store::serve(&project.state_dir, &options.log_store).await?;
    let pipeline = crate::log_pipeline::start(
        &project.state_dir,
        logs.as_ref().map(|l| Arc::clone(&l.store)),
        options.logs_ship_url.as_deref(),
        &url,
        &certs.ca,
        &credentials,
    )?
    .map(Arc::new);
    let s3 = crate::s3_service::S3Service::start(
        &options.s3,
        &project.state_dir,
        &project.region,
        Arc::clone(&tls),
        &credentials,
        pipeline.as_ref().map(|p| Arc::clone(&p.box_records)),
        options.edge.service_limits(),
    )
    .await?
    .map(Arc::new);
    if let Some(s3) = &s3 {
        s3.provision(&project.template.buckets).await?;
    } else if !project.template.buckets.is_empty() {
        eprintln!(
            "esb: warning: the S3 service is off (--s3-port off): the template's buckets are not created"
        );
    }
    let dynamodb = crate::dynamodb_service::DynamoService::start(
        &options.dynamodb,
        crate::service_port::BoxContext {
            state: &project.state_dir,
            region: &project.region,
            account: &project.account_id,
            tls: Arc::clone(&tls),
            ca: &certs.ca,
            credentials: &credentials,
            log_records: pipeline.as_ref().map(|p| Arc::clone(&p.box_records)),
            limits: options.edge.service_limits(),
        },
    )
    .await?
    .map(Arc::new);
    if let Some(d) = &dynamodb {
        d.provision(&project.template.tables).await?;
    } else if !project.template.tables.is_empty() {
        eprintln!(
            "esb: warning: the DynamoDB service is off (--dynamodb-port off): the template's tables are not created"
        );
    }
    let sqs = match sqs_listener {
        Some(listener) => Some(Arc::new(crate::sqs_service::SqsService::start(
            &options.sqs,
            listener,
            crate::service_port::BoxContext {
                state: &project.state_dir,
                region: &project.region,
                account: &project.account_id,
                tls: Arc::clone(&tls),
                ca: &certs.ca,
                credentials: &credentials,
                log_records: pipeline.as_ref().map(|p| Arc::clone(&p.box_records)),
                limits: options.edge.service_limits(),
            },
        )?)),
        None => None,
    };
    if let Some(q) = &sqs {
        q.provision(&project.template.queues).await?;
    } else if !project.template.queues.is_empty() {
        eprintln!(
            "esb: warning: the SQS service is off (--sqs-port off): the template's queues are not created"
        );
    }
    let cloudwatch_logs = crate::cloudwatch_logs_service::CloudWatchLogsService::start(
        &options.cloudwatch_logs,
        crate::service_port::BoxContext {
            state: &project.state_dir,
            region: &project.region,
            account: &project.account_id,
            tls: Arc::clone(&tls),
            ca: &certs.ca,
            credentials: &credentials,
            log_records: pipeline.as_ref().map(|p| Arc::clone(&p.box_records)),
            limits: options.edge.service_limits(),
        },
        pipeline.as_ref().map(|p| Arc::clone(&p.collector)),
    )
    .await?;
    let services = crate::project::Services {
        cloudwatch_logs: cloudwatch_logs.as_ref().map(|c| c.url.clone()),
        s3: s3.as_ref().map(|s| s.url.clone()),
        dynamodb: dynamodb.as_ref().map(|d| d.url.clone()),
        sqs: sqs.as_ref().map(|q| q.url.clone()),
        stream_arns: dynamodb.as_ref().map(|d| d.stream_arns()),
    };
    let mut functions = project.entries(&url, &certs.ca, &credentials, &apis, &services);
    if let Some(p) = &pipeline {
        p.configure_workers(&mut functions);
    }
    let gateway = Gateway::new(GatewayConfig {
        functions,
        credentials: (!options.open_invoke_api).then(|| credentials.clone()),
        api_keys: esb_auth::ApiKeys::new(&options.auth.api_keys),
        id_token,
        cluster: nodes.cluster.clone(),
        worker_tls: crate::box_nodes::worker_tls(&project.state_dir),
        region: project.region.clone(),
        account_id: project.account_id.clone(),
        acquire_timeout: positive_seconds(options.acquire_timeout).unwrap_or_default(),
        pause_idle_after: positive_seconds(options.pause_idle_after),
        idle_timeout: positive_seconds(options.idle_timeout),
        access_log: Some(project.state_dir.access_log()),
        log_records: pipeline.as_ref().map(|p| Arc::clone(&p.box_records)),
        max_concurrency: options.max_concurrency,
        async_dir: project.state_dir.async_events(),
        async_retry_delay: positive_seconds(options.async_retry_delay.clamp(0.01, 3600.0))
            .unwrap_or_default(),
        breaker: esb_gateway::breaker::BreakerSettings {
            threshold: options.breaker_threshold.max(1),
            cooldown: positive_seconds(options.breaker_cooldown.clamp(0.01, 3600.0))
                .unwrap_or_default(),
        },
    })?;
    esb_gateway::async_dispatch::resume_queued(&gateway);
    if let Some(s3) = &s3 {
        s3.deliver_to(&gateway);
    }
    let queue_mappings = match &sqs {
        Some(q) => {
            q.deliver_to(&gateway);
            let m = Arc::new(crate::sqs_service::QueueMappings::new(q, &gateway));
            for problem in m.apply(&project.template.functions, &|f| project.concurrency(f)) {
                eprintln!("esb: warning: queue mapping not started: {problem}");
            }
            Some(m)
        }
        None => {
            if project
                .template
                .functions
                .iter()
                .any(|f| !f.sqs_events.is_empty())
            {
                eprintln!(
                    "esb: warning: the SQS service is off (--sqs-port off): `Events: SQS` do not run"
                );
            }
            None
        }
    };
    let mappings = match &dynamodb {
        Some(d) => {
            let s3_destination = match &s3 {
                Some(s3) => Some(crate::dynamodb_streams::S3Destination::new(
                    &s3.url,
                    credentials.clone(),
                    &project.region,
                    &std::fs::read(&certs.ca)
                        .with_context(|| format!("cannot read {}", certs.ca.display()))?,
                )?),
                None => None,
            };
            let m = Arc::new(crate::dynamodb_streams::Mappings::new(
                d.client.clone(),
                &project.region,
                &gateway,
                s3_destination,
                sqs.as_ref().map(|q| q.queues.clone()),
                project.state_dir.dynamodb_stream_checkpoints(),
            ));
            for problem in m.apply(&project.template.functions) {
                eprintln!("esb: warning: stream mapping not started: {problem}");
            }
            Some(m)
        }
        None => {
            if project
                .template
                .functions
                .iter()
                .any(|f| !f.dynamodb_events.is_empty())
            {
                eprintln!(
                    "esb: warning: the DynamoDB service is off (--dynamodb-port off): `Events: DynamoDB` do not run"
                );
            }
            None
        }
    };
    let schedules = Arc::new(crate::schedules::Schedules::start(
        &project.state_dir,
        &project.region,
        &project.account_id,
        &gateway,
        sqs.as_ref().map(|q| q.queues.clone()),
        &project.template.functions,
    )?);
    let _watcher = match watch {
        Some((args, rebuild)) => {
            let (url, ca, credentials) = (url.clone(), certs.ca.clone(), credentials.clone());
            let services = services.clone();
            let auth = options.auth.clone();
            let pipeline = pipeline.clone();
            Some(crate::watch::spawn(
                Arc::clone(&gateway),
                crate::watch::Reloader {
                    args,
                    project: project.clone(),
                    rebuild,
                    s3: s3.clone(),
                    dynamodb: dynamodb.clone(),
                    mappings: mappings.clone(),
                    sqs: sqs.clone(),
                    queue_mappings: queue_mappings.clone(),
                    schedules: Arc::clone(&schedules),
                    entries: Box::new(move |p: &Project| {
                        let apis = crate::api_access::Apis::new(&p.template, &auth, user_auth)?;
                        let mut entries = p.entries(&url, &ca, &credentials, &apis, &services);
                        if let Some(pipeline) = &pipeline {
                            pipeline.configure_workers(&mut entries);
                        }
                        Ok(entries)
                    }),
                },
            )?)
        }
        None => None,
    };
    let metrics =
        crate::metrics_listener::start(&options.metrics, &gateway, options.edge.service_limits())
            .await?;
    print_banner(project, &url, &certs.ca, options.open_invoke_api, &services);
    if let Some(m) = &metrics.url {
        crate::quiet::say!("Metrics (Prometheus): {m}");
    }
    if metrics.gateway_route.is_some() {
        crate::quiet::say!("Metrics with the bearer token of --metrics-token-file: {url}/metrics");
    }
    let _state = crate::box_state::write(
        &project.state_dir,
        &crate::box_state::BoxState {
            pid: std::process::id(),
            url: url.clone(),
            port,
            region: project.region.clone(),
            runtime: runtime_label.to_string(),
            template: project.template_path.clone(),
            started_at: time_now(),
            signed: !options.open_invoke_api,
            // Where `esb logs` reads: the embedded store, else the external VictoriaLogs.
            logs_url: match (&logs, &options.logs_ship_url) {
                (Some(l), _) => Some(format!("http://{}", l.address)),
                (None, Some(url)) => Some(
                    url.trim_end_matches('/')
                        .trim_end_matches("/insert/jsonline")
                        .to_string(),
                ),
                (None, None) => None,
            },
            s3_url: s3.as_ref().map(|s| s.url.clone()),
            dynamodb_url: dynamodb.as_ref().map(|d| d.url.clone()),
            sqs_url: sqs.as_ref().map(|q| q.url.clone()),
            cloudwatch_logs_url: cloudwatch_logs.as_ref().map(|c| c.url.clone()),
            metrics_url: metrics.url.clone(),
        },
    )?;
    let disk = crate::disk_watch::watch(project.state_dir.root().to_path_buf());
    let mut router = esb_gateway::server::router(Arc::clone(&gateway));
    if let Some(p) = &pipeline {
        router = router.merge(Arc::clone(&p.collector).router());
    }
    if let Some(route) = metrics.gateway_route {
        router = router.merge(route);
    }
    router = router.merge(crate::box_nodes::router(
        Arc::clone(&gateway),
        &project.state_dir,
        &nodes,
        credentials.clone(),
        project.region.clone(),
    ));
    esb_gateway::server::serve_tls(
        listener,
        tls,
        options.edge.gateway_limits(),
        router,
        crate::signals::shutdown_signal(),
    )
    .await;
    if let Some(s3) = &s3 {
        s3.stop();
    }
    if let Some(m) = &mappings {
        m.stop();
    }
    if let Some(m) = &queue_mappings {
        m.stop();
    }
    schedules.stop().await;
    if let Some(q) = &sqs {
        q.stop();
    }
    if let Some(d) = &dynamodb {
        d.stop();
    }
    if let Some(c) = &cloudwatch_logs {
        c.stop();
    }
    if let Some(p) = &pipeline {
        p.close().await;
    }
    disk.abort();
    Ok(gateway)
}

/// Now, as RFC 3339 (UTC).
fn time_now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A duration flag where 0 (or less) means "never"; absurd values are capped, not a panic.
fn positive_seconds(value: f64) -> Option<Duration> {
    (value > 0.0 && value.is_finite()).then(|| Duration::from_secs_f64(value.min(1e9)))
}

fn print_banner(
    project: &Project,
    url: &str,
    ca: &Path,
    open: bool,
    services: &crate::project::Services,
) {
    crate::quiet::say!("ESB is up: {url}  (trust {} as CA)", ca.display());
    let credentials = project.state_dir.credentials();
    if open {
        let line = "!".repeat(78);
        eprintln!(
            "{line}\n!! WARNING: the Invoke API and AWS_IAM routes are OPEN (--open-invoke-api):\n!! anyone who can reach this port can run every function. Local use only.\n{line}"
        );
    } else {
        crate::quiet::say!(
            "Requests to the Invoke API are signed with the box's key: AWS_SHARED_CREDENTIALS_FILE={}",
            credentials.display()
        );
    }
    for f in &project.template.functions {
        crate::quiet::say!(
            "  {:<24} POST {url}/2015-03-31/functions/{}/invocations",
            f.name,
            f.name
        );
        for e in &f.api_events {
            crate::quiet::say!("  {:<24} {} {url}{}", "", e.method, e.path);
        }
    }
    if let Some(s3) = &services.s3 {
        crate::quiet::say!("S3: {s3}  (aws s3 ls --endpoint-url {s3}, with the credentials above)");
        for b in &project.template.buckets {
            crate::quiet::say!("  {:<24} s3://{}", b.logical_id, b.name);
        }
    }
    if let Some(d) = &services.dynamodb {
        crate::quiet::say!(
            "DynamoDB: {d}  (aws dynamodb list-tables --endpoint-url {d}, with the credentials above)"
        );
        for t in &project.template.tables {
            crate::quiet::say!("  {:<24} {}", t.logical_id, t.name);
        }
    }
    if let Some(q) = &services.sqs {
        crate::quiet::say!(
            "SQS: {q}  (aws sqs list-queues --endpoint-url {q}, with the credentials above)"
        );
        for queue in &project.template.queues {
            crate::quiet::say!(
                "  {:<24} {q}/{}/{}",
                queue.logical_id,
                project.account_id,
                queue.name
            );
        }
    }
    crate::quiet::say!("Ctrl-C stops the box and removes its workers.");
    if let Some(c) = &services.cloudwatch_logs {
        crate::quiet::say!(
            "CloudWatch Logs: {c}  (aws logs tail /aws/lambda/<function> --follow --endpoint-url {c})"
        );
    }
}
