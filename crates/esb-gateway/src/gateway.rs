//! The gateway's state: what it serves (the plan, swapped whole on a template change),
//! how callers are checked, where accepted asynchronous events are kept, and the
//! clients of the agent and the workers. Handlers reach all of it through one
//! `Arc<Gateway>`; it calls no handler itself.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::http::StatusCode;
use esb_lambda::InvokeApiError;
use esb_proto::agent::FunctionSpec;

use crate::access_log::AccessLog;
use crate::agent_client::AgentError;
use crate::async_config::AsyncConfig;
use crate::async_events::AsyncEvents;
use crate::async_store::AsyncStore;
use crate::auth::id_token::IdTokenAuth;
use crate::breaker::BreakerSettings;
use crate::metrics::{Metrics, PoolFigures};
use crate::nodes::Cluster;
use crate::plan::{Changes, FunctionEntry, Plan, PoolSettings};
use crate::status::{FunctionStatus, RouteStatus, Status};
use crate::worker_client::WorkerClient;

pub struct GatewayConfig {
    pub functions: Vec<FunctionEntry>,
    /// The nodes whose agents run the workers (one, the box's own, unless nodes joined).
    pub cluster: Cluster,
    /// The gateway's TLS client identity for workers on other nodes (mutual TLS).
    pub worker_tls: Option<Arc<rustls::ClientConfig>>,
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
    pub breaker: BreakerSettings,
    /// The credentials Signature V4 requests must be signed with; `None` leaves the
    /// Invoke API and `AWS_IAM` routes open (local use only).
    pub credentials: Option<esb_auth::BoxCredentials>,
    /// The keys `ApiKeyRequired` routes accept in `x-api-key`.
    pub api_keys: esb_auth::ApiKeys,
    /// The original ESB's user auth (`POST /user/auth/v1`), when configured.
    pub id_token: Option<IdTokenAuth>,
}

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error(transparent)]
    Agent(#[from] AgentError),
    #[error("cannot open the asynchronous event queue in {dir}: {source}")]
    Queue {
        dir: std::path::PathBuf,
        source: std::io::Error,
    },
}

pub struct Gateway {
    /// What is served now; replaced whole by `replan` when the template changes. An
    /// `ArcSwap`, not a lock: readers never wait, and no panic elsewhere can poison it
    /// into keeping the old plan. Shared with the pools' maintainer.
    plan: Arc<ArcSwap<Plan>>,
    /// Each function's note for `esb status`, replaced with the functions (whole by
    /// `replan`, one by `reload`): a rebuild may change it without a new plan.
    notes: ArcSwap<HashMap<String, String>>,
    pool_settings: PoolSettings,
    pub(crate) events: AsyncEvents,
    pub(crate) metrics: Metrics,
    pub(crate) access_log: AccessLog,
    pub(crate) async_store: AsyncStore,
    pub(crate) async_retry_delay: Duration,
    pub(crate) credentials: Option<esb_auth::BoxCredentials>,
    api_keys: esb_auth::ApiKeys,
    pub(crate) id_token: Option<IdTokenAuth>,
    pub(crate) workers: WorkerClient,
    cluster: Cluster,
    pub(crate) region: String,
    pub(crate) account_id: String,
    /// The box's SQS queues, for destinations and dead-letter queues; set once the
    /// SQS service runs (none: queue destinations wait, then are kept as failed).
    queue_sink: std::sync::OnceLock<Arc<dyn crate::queue_sink::QueueSink>>,
}

impl Gateway {
    pub fn new(config: GatewayConfig) -> Result<Arc<Self>, GatewayError> {
        let async_store =
            AsyncStore::open(&config.async_dir).map_err(|source| GatewayError::Queue {
                dir: config.async_dir.clone(),
                source,
            })?;
        let cluster = config.cluster;
        cluster.set_selectors(selectors_of(&config.functions));
        let pool_settings = PoolSettings {
            box_slots: Arc::new(tokio::sync::Semaphore::new(
                config
                    .max_concurrency
                    .min(tokio::sync::Semaphore::MAX_PERMITS),
            )),
            cluster: cluster.clone(),
            acquire_timeout: config.acquire_timeout,
            breaker: config.breaker,
        };
        let notes = notes_of(&config.functions);
        let (plan, _, _) = Plan::build(config.functions, None, &pool_settings);
        let gateway = Arc::new(Self {
            plan: Arc::new(ArcSwap::from_pointee(plan)),
            notes: ArcSwap::from_pointee(notes),
            pool_settings,
            events: AsyncEvents::default(),
            metrics: Metrics::default(),
            access_log: AccessLog::new(config.access_log.as_deref(), config.log_records),
            async_store,
            async_retry_delay: config.async_retry_delay,
            credentials: config.credentials,
            api_keys: config.api_keys,
            id_token: config.id_token,
            workers: WorkerClient::new(config.worker_tls),
            cluster,
            region: config.region,
            account_id: config.account_id,
            queue_sink: std::sync::OnceLock::new(),
        });
        crate::maintainer::spawn(
            Arc::downgrade(&gateway.plan),
            gateway.cluster.clone(),
            config.pause_idle_after,
            config.idle_timeout,
        );
        Ok(gateway)
    }

    /// What the box serves now.
    pub(crate) fn plan(&self) -> Arc<Plan> {
        self.plan.load_full()
    }

    /// A template change: serves `functions` from now on. Unchanged functions keep
    /// their pools and warm workers; changed ones get new workers (requests in flight
    /// finish on the old); removed ones are retired.
    pub async fn replan(&self, functions: Vec<FunctionEntry>) -> Changes {
        self.notes.store(Arc::new(notes_of(&functions)));
        self.cluster.set_selectors(selectors_of(&functions));
        let (next, changes, transition) =
            Plan::build(functions, Some(&self.plan()), &self.pool_settings);
        self.plan.store(Arc::new(next));
        for (pool, spec) in transition.respecs {
            pool.replace(spec).await;
        }
        for pool in transition.retired {
            for w in pool.drain_idle() {
                self.return_worker(&w).await;
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
    /// in flight finish on the old ones, and `esb status` shows `note`. False when the
    /// box has no such function.
    pub async fn reload(&self, spec: FunctionSpec, note: Option<String>) -> bool {
        match self.plan().pools.get(&spec.name) {
            Some(pool) => {
                self.notes.rcu(|notes| {
                    let mut notes = HashMap::clone(notes);
                    match &note {
                        Some(note) => notes.insert(spec.name.clone(), note.clone()),
                        None => notes.remove(&spec.name),
                    };
                    notes
                });
                pool.replace(spec).await;
                true
            }
            None => false,
        }
    }

    /// Every function with its routes, URL, workers and invocation counts.
    pub fn status(&self) -> Status {
        let plan = self.plan();
        let notes = self.notes.load();
        let mut functions: Vec<FunctionStatus> = plan
            .pools
            .values()
            .map(|pool| {
                let mut f = pool.status();
                f.note = notes.get(&f.name).cloned();
                f.routes = plan
                    .routes
                    .routes_of(&f.name)
                    .into_iter()
                    .map(|(method, path)| RouteStatus { method, path })
                    .collect();
                f.url = plan
                    .urls
                    .contains_key(&f.name)
                    .then(|| format!("{}{}/", crate::function_url::PREFIX, f.name));
                f
            })
            .collect();
        functions.sort_by(|a, b| a.name.cmp(&b.name));
        Status {
            functions,
            nodes: self.cluster.status(),
            signed: self.credentials.is_some(),
        }
    }

    /// Whether `key` is one of the box's API keys (compared in constant time).
    pub fn api_key_valid(&self, key: &str) -> bool {
        self.api_keys.contains(key)
    }

    /// Where messages to SQS queues go (the box's SQS service); set once.
    pub fn set_queue_sink(&self, sink: Arc<dyn crate::queue_sink::QueueSink>) {
        if self.queue_sink.set(sink).is_err() {
            tracing::warn!("the gateway's queue sink was already set; kept the first");
        }
    }

    pub(crate) fn queue_sink(&self) -> Option<&Arc<dyn crate::queue_sink::QueueSink>> {
        self.queue_sink.get()
    }

    /// A function's `EventInvokeConfig` (Lambda's defaults when it has none).
    pub(crate) fn async_config(&self, function: &str) -> AsyncConfig {
        self.plan()
            .async_configs
            .get(function)
            .cloned()
            .unwrap_or_default()
    }

    /// The `/metrics` text: counters so far, gauges read now.
    pub fn metrics_text(&self) -> String {
        let figures: Vec<PoolFigures> = self
            .plan()
            .pools
            .iter()
            .map(|(name, pool)| {
                let (async_pending, async_oldest) = self.events.pending_for(name);
                PoolFigures {
                    function: name.clone(),
                    busy: pool.busy(),
                    idle: pool.idle_count(),
                    async_pending,
                    async_oldest,
                }
            })
            .collect();
        self.metrics.render(&figures, &self.cluster.status())
    }

    pub fn function_arn(&self, name: &str, qualifier: Option<&str>) -> String {
        let base = format!(
            "arn:aws:lambda:{}:{}:function:{name}",
            self.region, self.account_id
        );
        qualifier.map_or(base.clone(), |q| format!("{base}:{q}"))
    }

    /// `name` when `account` is the box's, else the Invoke API's not-found error.
    pub(crate) fn check_account<'a>(
        &self,
        account: &str,
        name: &'a str,
    ) -> Result<&'a str, InvokeApiError> {
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
                self.return_worker(&w).await;
            }
        }
    }

    /// The box's nodes.
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// Removes a node from the box after draining it: it gets no new workers, its idle
    /// workers go at once, its busy ones when their invocation ends — waiting up to
    /// `timeout` — then whatever is left is removed with the node. The number of
    /// workers that were still busy at the deadline; `None` for an unknown node.
    pub async fn drain_node(&self, name: &str, timeout: Duration) -> Option<usize> {
        if !self.cluster.set_draining(name) {
            return None;
        }
        tracing::info!(node = %name, "draining node");
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            for pool in self.plan().pools.values() {
                for w in pool.take_idle_where(|w| w.node == name) {
                    self.return_worker(&w).await;
                }
            }
            if self.cluster.workers_on(name) == 0 || tokio::time::Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let busy = self.cluster.workers_on(name);
        self.cluster.remove_node(name).await;
        tracing::info!(node = %name, busy_at_deadline = busy, "node removed");
        Some(busy)
    }

    /// Asks the agent to remove a worker, waiting a little for an agent that is
    /// restarting: a worker the agent never hears about would outlive the box.
    async fn return_worker(&self, worker: &esb_proto::agent::Worker) {
        let id = &worker.id;
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            match self.cluster.destroy(worker).await {
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

/// A box serving `functions`, open (no credentials), keeping its queue under `dir`;
/// its agent is connected lazily, so tests that start no worker need none.
#[cfg(test)]
pub(crate) fn test_config(functions: Vec<FunctionEntry>, dir: &std::path::Path) -> GatewayConfig {
    GatewayConfig {
        functions,
        cluster: Cluster::single("http://127.0.0.1:1").expect("a valid URL"),
        worker_tls: None,
        region: "us-east-1".into(),
        account_id: "123456789012".into(),
        acquire_timeout: Duration::from_secs(1),
        pause_idle_after: None,
        idle_timeout: None,
        access_log: None,
        log_records: None,
        max_concurrency: 100,
        async_dir: dir.join("async"),
        async_retry_delay: Duration::from_secs(1),
        breaker: BreakerSettings::default(),
        credentials: None,
        api_keys: esb_auth::ApiKeys::default(),
        id_token: None,
    }
}

/// The notes of the functions that have one, by function.
/// Which labels each function asks of its node.
fn selectors_of(functions: &[FunctionEntry]) -> HashMap<String, crate::nodes::NodeSelector> {
    functions
        .iter()
        .filter(|f| f.placement != crate::nodes::NodeSelector::default())
        .map(|f| (f.spec.name.clone(), f.placement.clone()))
        .collect()
}

fn notes_of(functions: &[FunctionEntry]) -> HashMap<String, String> {
    functions
        .iter()
        .filter_map(|f| Some((f.spec.name.clone(), f.note.clone()?)))
        .collect()
}

/// A function of `test_config` boxes, without routes or URL.
#[cfg(test)]
pub(crate) fn test_entry(name: &str) -> FunctionEntry {
    FunctionEntry {
        spec: FunctionSpec {
            name: name.into(),
            ..FunctionSpec::default()
        },
        routes: Vec::new(),
        concurrency: 10,
        url: None,
        provisioned: 0,
        async_config: AsyncConfig::default(),
        note: None,
        placement: crate::nodes::NodeSelector::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::function_url::UrlAuth;
    use crate::routes::{ApiRoute, ApiSettings, EventFormat};
    use crate::status::WorkerCounts;

    #[tokio::test]
    async fn status_lists_functions_by_name_with_their_routes_and_urls() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut api = test_entry("zeta");
        api.routes = vec![ApiRoute {
            method: "GET".into(),
            path: "/items/{id}".into(),
            function: "zeta".into(),
            format: EventFormat::Rest,
            api: ApiSettings::implicit(EventFormat::Rest),
            access: Default::default(),
        }];
        api.url = Some(UrlAuth::None);
        let gw =
            Gateway::new(test_config(vec![api, test_entry("alpha")], dir.path())).expect("gateway");
        let status = gw.status();
        assert!(!status.signed, "no credentials: the Invoke API is open");
        let names: Vec<&str> = status.functions.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["alpha", "zeta"]);
        let zeta = &status.functions[1];
        assert_eq!(zeta.routes.len(), 1);
        assert_eq!(
            (zeta.routes[0].method.as_str(), zeta.routes[0].path.as_str()),
            ("GET", "/items/{id}")
        );
        assert_eq!(zeta.url.as_deref(), Some("/lambda-url/zeta/"));
        assert_eq!(zeta.reserved_concurrency, 10);
        assert_eq!(zeta.workers, WorkerCounts::default());
        assert_eq!(status.functions[0].url, None);
    }

    #[tokio::test]
    async fn status_shows_each_functions_note_as_reloads_and_replans_change_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let note = "runtime python3.12 runs on the python3.11 base".to_string();
        let mut stand_in = test_entry("py");
        stand_in.note = Some(note.clone());
        let gw = Gateway::new(test_config(vec![stand_in, test_entry("plain")], dir.path()))
            .expect("gateway");
        let notes = |gw: &Gateway| -> Vec<(String, Option<String>)> {
            gw.status()
                .functions
                .into_iter()
                .map(|f| (f.name, f.note))
                .collect()
        };
        assert_eq!(
            notes(&gw),
            [("plain".into(), None), ("py".into(), Some(note.clone()))]
        );
        // Rebuilt on the runtime's own base: the note goes with the reload.
        assert!(gw.reload(test_entry("py").spec, None).await);
        assert_eq!(notes(&gw), [("plain".into(), None), ("py".into(), None)]);
        let mut again = test_entry("plain");
        again.note = Some(note.clone());
        gw.replan(vec![again, test_entry("py")]).await;
        assert_eq!(
            notes(&gw),
            [("plain".into(), Some(note)), ("py".into(), None)]
        );
    }
}
