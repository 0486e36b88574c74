//! The box's S3 service as `esb up` / `esb gateway` run it: its listener (HTTPS with the
//! box's certificate, or plain HTTP), the template's buckets created and configured,
//! and bucket notifications handed to the gateway's durable async queue.

use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use esb_gateway::Gateway;
use esb_s3::forward::Engine;
use esb_s3::model::{CorsRule, Versioning};
use esb_s3::notify::LambdaTarget;
use esb_s3::store::Document;
use esb_s3::{S3Front, Store, StoreError};
use esb_template::BucketSpec;

use crate::service_port::ServicePort;

/// The port `auto` tries first (the seed's RustFS port).
const DEFAULT_PORT: u16 = 9000;

#[derive(Args, Clone, Debug)]
pub struct S3Args {
    /// Port of the box's S3 service (functions reach it through AWS_ENDPOINT_URL_S3):
    /// `auto` (9000, or a free port when that is taken), a number (`0`: any free one),
    /// or `off`.
    #[arg(long, env = "ESB_S3_PORT", default_value = "auto", value_parser = crate::service_port::parse)]
    pub s3_port: ServicePort,
    /// Serve S3 over plain HTTP instead of HTTPS with the box's certificate.
    #[arg(
        long,
        env = "ESB_S3_PLAIN_HTTP",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub s3_plain_http: bool,
    /// Use an existing S3 engine (RustFS, MinIO, Garage, Ceph RGW, AWS) instead of the
    /// embedded store: the box's listener checks the box's key and forwards, re-signed.
    #[arg(long, env = "ESB_S3_ENDPOINT", value_name = "URL")]
    pub s3_endpoint: Option<String>,
    /// The engine's access key id (with --s3-endpoint).
    #[arg(long, env = "ESB_S3_ACCESS_KEY_ID", requires = "s3_endpoint")]
    pub s3_access_key_id: Option<String>,
    /// The engine's secret access key (with --s3-endpoint).
    #[arg(
        long,
        env = "ESB_S3_SECRET_ACCESS_KEY",
        requires = "s3_endpoint",
        hide_env_values = true
    )]
    pub s3_secret_access_key: Option<String>,
    /// The engine's region (default: the box's --region).
    #[arg(long, env = "ESB_S3_REGION", requires = "s3_endpoint")]
    pub s3_region: Option<String>,
    /// A CA certificate (PEM) the engine's HTTPS certificate chains to, if not public.
    #[arg(long, env = "ESB_S3_CA", requires = "s3_endpoint", value_name = "FILE")]
    pub s3_ca: Option<std::path::PathBuf>,
}

impl S3Args {
    /// The external engine, when one is configured.
    fn engine(&self, box_region: &str) -> Result<Option<Arc<Engine>>> {
        let Some(endpoint) = &self.s3_endpoint else {
            return Ok(None);
        };
        let access = crate::service_port::engine_access(
            "s3",
            self.s3_access_key_id.as_ref(),
            self.s3_secret_access_key.as_ref(),
            self.s3_ca.as_ref(),
        )?;
        let engine = Engine::new(
            endpoint,
            access.credentials,
            self.s3_region.as_deref().unwrap_or(box_region),
            access.ca.as_deref(),
        )
        .map_err(|e| anyhow::anyhow!("--s3-endpoint: {e}"))?;
        Ok(Some(Arc::new(engine)))
    }
}

/// The S3 service of a running box.
pub struct S3Service {
    /// What functions get as `AWS_ENDPOINT_URL_S3`.
    pub url: String,
    pub store: Store,
    /// The external engine the listener forwards to, if any.
    engine: Option<Arc<Engine>>,
    front: S3Front,
    stop: tokio::sync::watch::Sender<bool>,
}

impl S3Service {
    /// Starts the listener (nothing when the service is off).
    pub async fn start(
        args: &S3Args,
        state: &esb_state::StateDir,
        region: &str,
        tls: Arc<rustls::ServerConfig>,
        credentials: &esb_auth::BoxCredentials,
        log_records: Option<Arc<esb_logs::Shipper>>,
        limits: esb_listener::Limits,
    ) -> Result<Option<Self>> {
        let Some(listener) =
            crate::service_port::bind(args.s3_port, DEFAULT_PORT, "S3", "--s3-port").await?
        else {
            return Ok(None);
        };
        let engine = args.engine(region)?;
        let dir = state.s3();
        let store = Store::open(&dir, region)
            .with_context(|| format!("cannot open the S3 store in {}", dir.display()))?;
        let port = listener.local_addr()?.port();
        let scheme = if args.s3_plain_http { "http" } else { "https" };
        let url = format!("{scheme}://127.0.0.1:{port}");
        let front = S3Front::new(store.clone(), credentials.clone(), engine.clone())
            .with_access_log(crate::service_port::access_hook(state, log_records, "s3"));
        let front_handle = front.clone();
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let tls = (!args.s3_plain_http).then_some(tls);
        tokio::spawn(esb_s3::server::serve(
            listener,
            tls,
            limits,
            front,
            async move {
                let _ = stopped.wait_for(|s| *s).await;
            },
        ));
        Ok(Some(Self {
            url,
            store,
            engine,
            front: front_handle,
            stop,
        }))
    }

    /// Creates the template's buckets and applies what it declares.
    pub async fn provision(&self, buckets: &[BucketSpec]) -> Result<()> {
        for b in buckets {
            let context = || format!("cannot create bucket {} ({})", b.name, b.logical_id);
            if let Some(engine) = &self.engine {
                provision_on_engine(engine, b)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))
                    .with_context(|| format!("{} on {}", context(), engine.endpoint))?;
            }
            provision_bucket(&self.store, b, self.engine.is_some())
                .await
                .with_context(context)?;
        }
        Ok(())
    }

    /// Hands bucket notifications to the gateway from now on, and checks that the
    /// functions a new notification configuration names are the gateway's.
    pub fn deliver_to(&self, gateway: &Arc<Gateway>) {
        let gw = Arc::clone(gateway);
        self.front.check_functions_with(Arc::new(move |f: &str| {
            esb_gateway::function_ref::exists(f, &gw)
        }));
        let sink: Arc<dyn esb_s3::EventSink> = Arc::new(GatewaySink(Arc::clone(gateway)));
        let mut stopped = self.stop.subscribe();
        tokio::spawn(esb_s3::dispatch::run(
            self.store.clone(),
            sink,
            async move {
                let _ = stopped.wait_for(|s| *s).await;
            },
        ));
    }

    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

/// A template bucket on an external engine: created there if absent, with its declared
/// versioning, CORS rules and tags (the box keeps its notifications).
async fn provision_on_engine(engine: &Engine, b: &BucketSpec) -> Result<(), String> {
    engine.create_bucket(&b.name).await?;
    if let Some(v) = &b.versioning {
        engine.put_versioning(&b.name, v).await?;
    }
    if !b.cors_rules.is_empty() {
        engine.put_cors(&b.name, &cors_rules(b)).await?;
    }
    if !b.tags.is_empty() {
        engine.put_tags(&b.name, &b.tags).await?;
    }
    Ok(())
}

fn cors_rules(b: &BucketSpec) -> Vec<CorsRule> {
    b.cors_rules
        .iter()
        .map(|r| CorsRule {
            id: r.id.clone(),
            allowed_origins: r.allowed_origins.clone(),
            allowed_methods: r.allowed_methods.clone(),
            allowed_headers: r.allowed_headers.clone(),
            expose_headers: r.exposed_headers.clone(),
            max_age_seconds: r.max_age_s,
        })
        .collect()
}

/// A template bucket: created if absent; its declared versioning, CORS rules, tags
/// and notifications applied (what the template leaves out is left as it is). Never
/// deleted: a bucket removed from the template keeps its data. With an external
/// engine (`shadow`), only the notifications are kept here.
async fn provision_bucket(store: &Store, b: &BucketSpec, shadow: bool) -> Result<(), StoreError> {
    match store.create_bucket(b.name.clone()).await {
        Ok(()) if !shadow => crate::quiet::note!("esb: created bucket {}", b.name),
        Ok(()) => {}
        Err(StoreError::BucketAlreadyOwnedByYou) => {}
        Err(e) => return Err(e),
    }
    if shadow {
        return set_notifications(store, b).await;
    }
    if let Some(v) = &b.versioning {
        let state = Versioning::parse(v);
        let current = store.bucket(b.name.clone()).await?.versioning;
        // Versioning never goes back to "never enabled": suspending is the way off.
        if state != Versioning::Unversioned && state != current {
            store.set_versioning(b.name.clone(), state).await?;
        }
    }
    if !b.cors_rules.is_empty() {
        store.set_cors(b.name.clone(), Some(cors_rules(b))).await?;
    }
    if !b.tags.is_empty() {
        store
            .set_document(
                b.name.clone(),
                Document::Tags,
                Some(serde_json::json!(b.tags)),
            )
            .await?;
    }
    set_notifications(store, b).await
}

async fn set_notifications(store: &Store, b: &BucketSpec) -> Result<(), StoreError> {
    if !b.lambda_notifications.is_empty() {
        let targets: Vec<LambdaTarget> = b
            .lambda_notifications
            .iter()
            .map(|n| LambdaTarget {
                id: n.id.clone(),
                function_arn: n.function_arn.clone(),
                events: n.events.clone(),
                prefix: n.prefix.clone(),
                suffix: n.suffix.clone(),
            })
            .collect();
        store
            .set_document(
                b.name.clone(),
                Document::Notifications,
                Some(serde_json::to_value(targets)?),
            )
            .await?;
    }
    Ok(())
}

/// S3 events become asynchronous invocations in the gateway's durable queue.
struct GatewaySink(Arc<Gateway>);

#[async_trait::async_trait]
impl esb_s3::EventSink for GatewaySink {
    async fn invoke_async(&self, function_arn: &str, payload: String) -> Result<(), String> {
        match esb_gateway::async_dispatch::accept_event(&self.0, function_arn, payload) {
            Ok(_) => Ok(()),
            // S3 drops events for a function that is not there; so does the box, loudly.
            Err(e) if e.status == http::StatusCode::NOT_FOUND => {
                tracing::warn!(function = %function_arn, "S3 notification dropped: {}", e.message);
                Ok(())
            }
            Err(e) => Err(format!("{}: {}", e.error_type, e.message)),
        }
    }
}
