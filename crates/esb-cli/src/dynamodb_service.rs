//! The box's DynamoDB service as `esb up` / `esb gateway` run it: the embedded engine
//! (or an external one), its listener (HTTPS with the box's certificate, or plain
//! HTTP), the template's tables, and stream mappings that invoke functions.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use esb_dynamodb::backend::Embedded;
use esb_dynamodb::external::External;
use esb_dynamodb::{Backend, DynamoClient, DynamoFront, Engine};

use crate::service_port::{BoxContext, ServicePort};

/// The port `auto` tries first (the seed's Alternator port).
const DEFAULT_PORT: u16 = 8001;

#[derive(Args, Clone, Debug)]
pub struct DynamoArgs {
    /// Port of the box's DynamoDB service (functions reach it through
    /// AWS_ENDPOINT_URL_DYNAMODB): `auto` (8001, or a free port when that is taken), a
    /// number (`0`: any free one), or `off`.
    #[arg(long, env = "ESB_DYNAMODB_PORT", default_value = "auto", value_parser = crate::service_port::parse)]
    pub dynamodb_port: ServicePort,
    /// Serve DynamoDB over plain HTTP instead of HTTPS with the box's certificate.
    #[arg(
        long,
        env = "ESB_DYNAMODB_PLAIN_HTTP",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub dynamodb_plain_http: bool,
    /// How often items whose TTL attribute has passed are deleted, in seconds (0: never).
    #[arg(long, env = "ESB_DYNAMODB_TTL_SWEEP", default_value_t = 10.0)]
    pub dynamodb_ttl_sweep: f64,
    /// Use an existing DynamoDB engine (ScyllaDB Alternator, AWS DynamoDB) instead of
    /// the embedded one: the box's listener checks the box's key and forwards, re-signed.
    #[arg(long, env = "ESB_DYNAMODB_ENDPOINT", value_name = "URL")]
    pub dynamodb_endpoint: Option<String>,
    /// The engine's access key id (with --dynamodb-endpoint).
    #[arg(
        long,
        env = "ESB_DYNAMODB_ACCESS_KEY_ID",
        requires = "dynamodb_endpoint"
    )]
    pub dynamodb_access_key_id: Option<String>,
    /// The engine's secret access key (with --dynamodb-endpoint).
    #[arg(
        long,
        env = "ESB_DYNAMODB_SECRET_ACCESS_KEY",
        requires = "dynamodb_endpoint",
        hide_env_values = true
    )]
    pub dynamodb_secret_access_key: Option<String>,
    /// The engine's region (default: the box's --region).
    #[arg(long, env = "ESB_DYNAMODB_REGION", requires = "dynamodb_endpoint")]
    pub dynamodb_region: Option<String>,
    /// A CA certificate (PEM) the engine's HTTPS certificate chains to, if not public.
    #[arg(
        long,
        env = "ESB_DYNAMODB_CA",
        requires = "dynamodb_endpoint",
        value_name = "FILE"
    )]
    pub dynamodb_ca: Option<std::path::PathBuf>,
}

impl DynamoArgs {
    /// The external engine, when one is configured.
    fn external(&self, box_region: &str) -> Result<Option<External>> {
        let Some(endpoint) = &self.dynamodb_endpoint else {
            return Ok(None);
        };
        let access = crate::service_port::engine_access(
            "dynamodb",
            self.dynamodb_access_key_id.as_ref(),
            self.dynamodb_secret_access_key.as_ref(),
            self.dynamodb_ca.as_ref(),
        )?;
        let external = External::new(
            endpoint,
            access.credentials,
            self.dynamodb_region.as_deref().unwrap_or(box_region),
            access.ca.as_deref(),
        )
        .map_err(|e| anyhow::anyhow!("--dynamodb-endpoint: {e}"))?;
        Ok(Some(external))
    }
}

/// The DynamoDB service of a running box.
pub struct DynamoService {
    /// What functions get as `AWS_ENDPOINT_URL_DYNAMODB`.
    pub url: String,
    /// The engine the box itself talks to (tables, stream mappings).
    pub client: DynamoClient,

    stream_arns: Arc<std::sync::RwLock<crate::dynamodb_tables::StreamArns>>,
    /// Held for its lifetime: dropping it stops the embedded engine.
    _engine: Option<Engine>,
    stop: tokio::sync::watch::Sender<bool>,
}

impl DynamoService {
    /// Starts the engine and the listener (nothing when the service is off).
    pub async fn start(args: &DynamoArgs, ctx: BoxContext<'_>) -> Result<Option<Self>> {
        let BoxContext {
            state,
            region,
            account,
            tls,
            ca,
            credentials,
            log_records,
            limits,
        } = ctx;
        let Some(listener) = crate::service_port::bind(
            args.dynamodb_port,
            DEFAULT_PORT,
            "DynamoDB",
            "--dynamodb-port",
        )
        .await?
        else {
            return Ok(None);
        };
        let port = listener.local_addr()?.port();
        let scheme = if args.dynamodb_plain_http {
            "http"
        } else {
            "https"
        };
        let url = format!("{scheme}://127.0.0.1:{port}");
        // Marks the box's own calls, which the access log leaves out.
        let box_token = uuid::Uuid::new_v4().simple().to_string();
        let (backend, engine, client) = match args.external(region)? {
            Some(external) => {
                let client = external.client();
                (Backend::External(Arc::new(external)), None, client)
            }
            None => {
                let dir = state.dynamodb();
                let sweep = Duration::from_secs_f64(args.dynamodb_ttl_sweep.clamp(0.0, 1e6));
                let engine = tokio::task::spawn_blocking(move || Engine::start(&dir, sweep))
                    .await
                    .context("the DynamoDB engine did not start")??;
                let embedded = Embedded::new(engine.addr, region, account)?;
                // The box's own calls go through its front, so they see what users
                // see (the box's ARNs).
                let ca =
                    std::fs::read(ca).with_context(|| format!("cannot read {}", ca.display()))?;
                let client = DynamoClient::new(&url, credentials.clone(), region, Some(&ca))?
                    .as_box(&box_token);
                (Backend::Embedded(Box::new(embedded)), Some(engine), client)
            }
        };
        let access = crate::service_port::access_hook(state, log_records, "dynamodb");
        let front = DynamoFront::new(
            backend,
            credentials.clone(),
            region,
            Some(access),
            Some(box_token),
        );
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let tls = (!args.dynamodb_plain_http).then_some(tls);
        let shutdown = async move {
            let _ = stopped.wait_for(|s| *s).await;
        };
        match &engine {
            // Beside the embedded engine, in its runtime (see `Engine::runtime`).
            Some(engine) => {
                let listener = listener.into_std()?;
                engine.runtime().spawn(async move {
                    match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => esb_dynamodb::front::serve(l, tls, limits, front, shutdown).await,
                        Err(e) => tracing::error!(service = "dynamodb", "cannot listen: {e}"),
                    }
                });
            }
            None => {
                tokio::spawn(esb_dynamodb::front::serve(
                    listener, tls, limits, front, shutdown,
                ));
            }
        }
        Ok(Some(Self {
            url,
            client,
            stream_arns: Arc::default(),
            _engine: engine,
            stop,
        }))
    }

    /// Creates the template's tables and brings them to what it declares; from then
    /// on, [`Self::stream_arns`] has their streams' real ARNs.
    pub async fn provision(&self, tables: &[esb_template::TableSpec]) -> Result<()> {
        let streams = crate::dynamodb_tables::provision(&self.client, tables)
            .await
            .with_context(|| format!("on the DynamoDB engine {}", self.client.endpoint()))?;
        if let Ok(mut known) = self.stream_arns.write() {
            known.extend(streams);
        }
        Ok(())
    }

    /// The real stream ARNs of template tables, by what the template wrote for them
    /// (`<table ARN>/stream/latest`): functions' variables get the real one.
    pub fn stream_arns(&self) -> Arc<std::sync::RwLock<crate::dynamodb_tables::StreamArns>> {
        Arc::clone(&self.stream_arns)
    }

    /// Stops the listener (and, when the service is dropped, the engine).
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}
