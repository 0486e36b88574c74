//! ESB's gateway: the HTTPS front door of a box. Serves the Lambda Invoke API, owns
//! the per-function worker pools and reaches workers directly; asks the agent for
//! workers over gRPC (`esb.agent.v1`), even when both run in one process.

pub mod access_log;
pub mod agent_client;
pub mod api_response;
pub mod api_routes;
pub mod async_dispatch;
pub mod async_events;
pub mod async_store;
pub mod auth;
pub mod breaker;
pub mod call;
pub mod certs;
pub mod clock;
pub mod cors;
#[cfg(test)]
mod event_shape;
pub mod function_url;
pub mod http_event;
pub mod invoke_api;
pub mod metrics;
pub mod plan;
pub mod pool;
pub mod proxy_event;
pub mod routes;
pub mod server;
pub mod tls;
pub mod worker_client;
pub mod worker_provider;

pub use clock::now_ms;

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use esb_lambda::InvokeApiError;
use esb_proto::agent::FunctionSpec;

use crate::agent_client::AgentClient;
use crate::worker_client::WorkerClient;

/// Where the gateway reports its state to `esb status`.
pub const STATUS_PATH: &str = "/esb/v1/status";

/// How long a client may take to send a request's headers, and its body.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// A function the gateway serves, with its concurrency limit.
#[derive(Debug, Clone)]
pub struct FunctionEntry {
    pub spec: FunctionSpec,
    /// API routes served by this function.
    pub routes: Vec<routes::ApiRoute>,
    /// `ReservedConcurrentExecutions` (0 throttles every call), else the box default.
    pub concurrency: usize,
    /// `FunctionUrlConfig`: served under `/lambda-url/<function>/`.
    pub url: Option<function_url::UrlAuth>,
    /// `ProvisionedConcurrencyConfig`: workers kept initialised at all times.
    pub provisioned: usize,
    /// `EventInvokeConfig`: retries, maximum age, destinations.
    pub async_config: async_dispatch::AsyncConfig,
}

pub struct GatewayConfig {
    pub functions: Vec<FunctionEntry>,
    pub agent_url: String,
    pub region: String,
    pub account_id: String,
    /// How long a request waits for a busy function's worker before 429.
    pub acquire_timeout: Duration,
    /// Idle workers are paused after this long (`None`: never).
    pub pause_idle_after: Option<Duration>,
    /// Idle workers are removed after this long (`None`: never): scale to zero.
    pub idle_timeout: Option<Duration>,
    /// Where the JSON access log goes (`None`: nowhere).
    pub access_log: Option<std::path::PathBuf>,
    /// Access-log lines also go to the box's log store through this shipper.
    pub log_records: Option<Arc<esb_logs::Shipper>>,
    /// Most invocations in flight across every function (Lambda's account limit).
    pub max_concurrency: usize,
    /// Where accepted asynchronous events are kept (`queue/`, `failed/`).
    pub async_dir: std::path::PathBuf,
    /// First back-off before retrying an asynchronous event (doubles each time).
    pub async_retry_delay: Duration,
    /// When a function's circuit opens on infrastructure failures, and for how long.
    pub breaker: breaker::BreakerSettings,
    /// The credentials Signature V4 requests must be signed with; `None` leaves the
    /// Invoke API and `AWS_IAM` routes open (local use only).
    pub credentials: Option<esb_auth::BoxCredentials>,
    /// The keys `ApiKeyRequired` routes accept in `x-api-key`.
    pub api_keys: esb_auth::ApiKeys,
    /// The original ESB's user auth (`POST /user/auth/v1`), when configured.
    pub id_token: Option<auth::id_token::IdTokenAuth>,
}

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error(transparent)]
    Agent(#[from] agent_client::AgentError),
    #[error("cannot open the asynchronous event queue in {dir}: {source}")]
    Queue {
        dir: std::path::PathBuf,
        source: std::io::Error,
    },
}

pub struct Gateway {
    /// What is served now; replaced whole by `replan` when the template changes.
    plan: std::sync::RwLock<Arc<plan::Plan>>,
    pool_settings: plan::PoolSettings,
    events: async_events::AsyncEvents,
    metrics: metrics::Metrics,
    access_log: Option<access_log::AccessLog>,
    log_records: Option<Arc<esb_logs::Shipper>>,
    async_store: async_store::AsyncStore,
    async_retry_delay: Duration,
    credentials: Option<esb_auth::BoxCredentials>,
    api_keys: esb_auth::ApiKeys,
    id_token: Option<auth::id_token::IdTokenAuth>,
    workers: WorkerClient,
    agent: AgentClient,
    region: String,
    account_id: String,
}

impl Gateway {
    pub fn new(config: GatewayConfig) -> Result<Arc<Self>, GatewayError> {
        let async_store = async_store::AsyncStore::open(&config.async_dir).map_err(|source| {
            GatewayError::Queue {
                dir: config.async_dir.clone(),
                source,
            }
        })?;
        let agent = AgentClient::new(&config.agent_url)?;
        let access_log = match &config.access_log {
            Some(path) => match access_log::AccessLog::open(path) {
                Ok(log) => Some(log),
                Err(e) => {
                    tracing::warn!("no access log: cannot open {}: {e}", path.display());
                    None
                }
            },
            None => None,
        };
        let pool_settings = plan::PoolSettings {
            box_slots: Arc::new(tokio::sync::Semaphore::new(
                config
                    .max_concurrency
                    .min(tokio::sync::Semaphore::MAX_PERMITS),
            )),
            agent: agent.clone(),
            acquire_timeout: config.acquire_timeout,
            breaker: config.breaker,
        };
        let (plan, _, _) = plan::Plan::build(config.functions, None, &pool_settings);
        let gateway = Arc::new(Self {
            plan: std::sync::RwLock::new(Arc::new(plan)),
            pool_settings,
            events: async_events::AsyncEvents::default(),
            metrics: metrics::Metrics::default(),
            access_log,
            log_records: config.log_records.clone(),
            async_store,
            async_retry_delay: config.async_retry_delay,
            credentials: config.credentials,
            api_keys: config.api_keys,
            id_token: config.id_token,
            workers: WorkerClient::default(),
            agent,
            region: config.region,
            account_id: config.account_id,
        });
        spawn_maintainer(
            Arc::downgrade(&gateway),
            config.pause_idle_after,
            config.idle_timeout,
        );
        Ok(gateway)
    }

    /// What the box serves now.
    pub(crate) fn plan(&self) -> Arc<plan::Plan> {
        self.plan
            .read()
            .map(|p| Arc::clone(&p))
            .unwrap_or_else(|poisoned| Arc::clone(&poisoned.into_inner()))
    }

    /// A template change: serves `functions` from now on. Unchanged functions keep
    /// their pools and warm workers; changed ones get new workers (requests in flight
    /// finish on the old); removed ones are retired.
    pub async fn replan(&self, functions: Vec<FunctionEntry>) -> plan::Changes {
        let (next, changes, transition) =
            plan::Plan::build(functions, Some(&self.plan()), &self.pool_settings);
        // Recovered, never skipped, when poisoned: a panic elsewhere must not leave the
        // box serving the old plan while its pools get the new specs below.
        *self
            .plan
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(next);
        for (pool, spec) in transition.respecs {
            pool.replace(spec).await;
        }
        for pool in transition.retired {
            for w in pool.drain_idle() {
                self.return_worker(&w.id).await;
            }
        }
        changes
    }

    /// Checks a request's Signature V4 against the box's credentials (service
    /// `lambda`, the box's region); anything goes when the box runs open.
    pub fn authenticate(
        &self,
        method: &str,
        uri: &http::Uri,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Result<(), esb_auth::AuthError> {
        let Some(creds) = &self.credentials else {
            return Ok(());
        };
        let uri = uri.path_and_query().map_or("/", |p| p.as_str());
        let req = esb_auth::SignedRequest {
            method,
            uri,
            headers,
            body,
        };
        esb_auth::verify(
            &req,
            creds,
            &self.region,
            "lambda",
            std::time::SystemTime::now(),
        )
    }

    /// Hot reload of one function: new requests get workers running `spec`, requests
    /// in flight finish on the old ones. False when the box has no such function.
    pub async fn reload(&self, spec: esb_proto::agent::FunctionSpec) -> bool {
        match self.plan().pools.get(&spec.name) {
            Some(pool) => {
                pool.replace(spec).await;
                true
            }
            None => false,
        }
    }

    /// Every function with its routes, URL, workers and invocation counts.
    pub fn status(&self) -> serde_json::Value {
        let plan = self.plan();
        let mut functions: Vec<serde_json::Value> = plan
            .pools
            .values()
            .map(|pool| {
                let mut f = pool.status();
                let name = pool.name().to_string();
                f["routes"] = plan
                    .routes
                    .routes_of(&name)
                    .into_iter()
                    .map(|(method, path)| serde_json::json!({"method": method, "path": path}))
                    .collect();
                f["url"] = serde_json::json!(
                    plan.urls
                        .contains_key(&name)
                        .then(|| format!("{}{name}/", function_url::PREFIX))
                );
                f
            })
            .collect();
        functions.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
        serde_json::json!({ "functions": functions, "signed": self.credentials.is_some() })
    }

    /// Whether `key` is one of the box's API keys (compared in constant time).
    pub fn api_key_valid(&self, key: &str) -> bool {
        self.api_keys.contains(key)
    }

    /// Re-dispatches the asynchronous events a previous gateway accepted and did not
    /// finish (they were on disk all along).
    pub fn resume_queued(self: &Arc<Self>) {
        let queued = self.async_store.load();
        if !queued.is_empty() {
            tracing::info!(
                events = queued.len(),
                "resuming queued asynchronous invocations"
            );
        }
        for event in queued {
            async_dispatch::spawn(Arc::clone(self), event);
        }
    }

    fn async_config(&self, function: &str) -> async_dispatch::AsyncConfig {
        self.plan()
            .async_configs
            .get(function)
            .cloned()
            .unwrap_or_default()
    }

    /// The `/metrics` text: counters so far, gauges read now.
    pub fn metrics_text(&self) -> String {
        let figures: Vec<metrics::PoolFigures> = self
            .plan()
            .pools
            .iter()
            .map(|(name, pool)| {
                let (async_pending, async_oldest) = self.events.pending_for(name);
                metrics::PoolFigures {
                    function: name.clone(),
                    busy: pool.busy(),
                    idle: pool.idle_count(),
                    async_pending,
                    async_oldest,
                }
            })
            .collect();
        self.metrics.render(&figures)
    }

    pub fn function_arn(&self, name: &str, qualifier: Option<&str>) -> String {
        let base = format!(
            "arn:aws:lambda:{}:{}:function:{name}",
            self.region, self.account_id
        );
        qualifier.map_or(base.clone(), |q| format!("{base}:{q}"))
    }

    fn check_account<'a>(&self, account: &str, name: &'a str) -> Result<&'a str, InvokeApiError> {
        if account == self.account_id {
            Ok(name)
        } else {
            Err(InvokeApiError::new(
                StatusCode::NOT_FOUND,
                "ResourceNotFoundException",
                format!(
                    "Function not found: arn:aws:lambda:{}:{account}:function:{name}",
                    self.region
                ),
            ))
        }
    }

    /// Box shutdown: lets accepted asynchronous invocations finish (bounded by the
    /// longest function timeout), names any that could not, then returns every idle
    /// worker to the agent for removal.
    pub async fn release_workers(&self) {
        let plan = self.plan();
        let longest = plan
            .pools
            .values()
            .map(|p| p.spec().timeout_s)
            .max()
            .unwrap_or(0);
        let unfinished = self
            .events
            .drain(Duration::from_secs(u64::from(longest) + 5))
            .await;
        for (event_id, function) in unfinished {
            tracing::warn!(%event_id, %function, "accepted asynchronous invocation not finished at shutdown: it stays queued and runs at the next start");
        }
        for pool in plan.pools.values() {
            for w in pool.drain_idle() {
                self.return_worker(&w.id).await;
            }
        }
    }

    /// Asks the agent to remove a worker, waiting a little for an agent that is
    /// restarting: a worker the agent never hears about would outlive the box.
    async fn return_worker(&self, id: &str) {
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            match self.agent.destroy(id).await {
                Ok(()) => return,
                Err(e) if e.is_unreachable() && std::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => {
                    tracing::warn!("cannot return worker {id} to the agent: {e}");
                    return;
                }
            }
        }
    }
}

/// How often idle workers are checked for life (the agent's list of live workers).
const DEAD_WORKER_SWEEP: Duration = Duration::from_secs(5);

/// Keeps each pool's provisioned workers started (replacing dead ones), pauses idle
/// workers, removes long-idle ones and forgets ones that died (checking a few times per `pause_after`, at least every second), for
/// as long as the gateway lives; pools of a new plan are picked up as they come.
fn spawn_maintainer(
    gateway: std::sync::Weak<Gateway>,
    pause_after: Option<Duration>,
    idle_timeout: Option<Duration>,
) {
    let period = pause_after
        .into_iter()
        .chain(idle_timeout)
        .min()
        .map_or(Duration::from_secs(1), |a| a / 4)
        .clamp(Duration::from_millis(50), Duration::from_secs(1));
    tokio::spawn(async move {
        let mut last_sweep = tokio::time::Instant::now();
        loop {
            let Some(gw) = gateway.upgrade() else {
                return;
            };
            let plan = gw.plan();
            if last_sweep.elapsed() >= DEAD_WORKER_SWEEP {
                last_sweep = tokio::time::Instant::now();
                if let Ok(live) = gw.agent.live_workers().await {
                    for pool in plan.pools.values() {
                        let gone = pool.forget_dead(&live, last_sweep);
                        if gone > 0 {
                            tracing::warn!(function = %pool.name(), workers = gone, "idle workers died; the pool forgot them");
                        }
                    }
                }
            }
            drop(gw);
            for pool in plan.pools.values() {
                pool.keep_provisioned().await;
                if let Some(timeout) = idle_timeout {
                    pool.remove_idle(timeout).await;
                }
                if let Some(after) = pause_after {
                    pool.pause_idle(after).await;
                }
            }
            drop(plan);
            tokio::time::sleep(period).await;
        }
    });
}
