//! What the box serves right now: each function's pool, the route table, function URLs
//! and asynchronous settings. A template change builds a new plan from the old one:
//! pools of unchanged functions carry on (their warm workers too), changed code swaps
//! a pool's spec, and pools of removed or re-sized functions are retired.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use esb_proto::agent::FunctionSpec;

use crate::async_config::AsyncConfig;
use crate::function_url::UrlAuth;
use crate::nodes::{Cluster, NodeSelector};
use crate::pool::FunctionPool;
use crate::routes::{ApiRoute, RouteTable};

/// A function the gateway serves, with its concurrency limit.
#[derive(Debug, Clone)]
pub struct FunctionEntry {
    pub spec: FunctionSpec,
    /// API routes served by this function.
    pub routes: Vec<ApiRoute>,
    /// `ReservedConcurrentExecutions` (0 throttles every call), else the box default.
    pub concurrency: usize,
    /// `FunctionUrlConfig`: served under `/lambda-url/<function>/`.
    pub url: Option<UrlAuth>,
    /// `ProvisionedConcurrencyConfig`: workers kept initialised at all times.
    pub provisioned: usize,
    /// `EventInvokeConfig`: retries, maximum age, destinations.
    pub async_config: AsyncConfig,
    /// What `esb status` says about how it runs (a stand-in Python base, say).
    pub note: Option<String>,
    /// The labels its nodes must carry, or must not (`Metadata.Esb` in the template).
    pub placement: NodeSelector,
}

pub struct Plan {
    pub(crate) pools: HashMap<String, Arc<FunctionPool>>,
    pub(crate) routes: RouteTable,
    /// Functions with a URL, by name.
    pub(crate) urls: HashMap<String, UrlAuth>,
    pub(crate) async_configs: HashMap<String, AsyncConfig>,
}

/// What every new pool is given.
pub struct PoolSettings {
    /// The box-wide concurrency limit, shared by every pool.
    pub box_slots: Arc<tokio::sync::Semaphore>,
    pub cluster: Cluster,
    pub acquire_timeout: Duration,
    pub breaker: crate::breaker::BreakerSettings,
}

/// How a new plan differs from the one it replaces.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// Functions whose code or settings changed (new workers for them).
    pub changed: Vec<String>,
}

/// What moving to a new plan takes, besides swapping it in.
#[derive(Default)]
pub(crate) struct Transition {
    /// Pools no longer served: their idle workers go, busy ones when they finish.
    pub(crate) retired: Vec<Arc<FunctionPool>>,
    /// Pools kept whose functions now run a new spec.
    pub(crate) respecs: Vec<(Arc<FunctionPool>, FunctionSpec)>,
}

impl Plan {
    /// The plan for `functions`, reusing `previous`'s pools where the function's
    /// concurrency settings are unchanged.
    pub(crate) fn build(
        functions: Vec<FunctionEntry>,
        previous: Option<&Plan>,
        settings: &PoolSettings,
    ) -> (Self, Changes, Transition) {
        let mut changes = Changes::default();
        let mut transition = Transition::default();
        let routes = RouteTable::new(functions.iter().flat_map(|f| f.routes.clone()));
        let urls = functions
            .iter()
            .filter_map(|f| f.url.map(|auth| (f.spec.name.clone(), auth)))
            .collect();
        let async_configs = functions
            .iter()
            .map(|f| (f.spec.name.clone(), f.async_config.clone()))
            .collect();
        let mut pools = HashMap::new();
        for f in functions {
            let name = f.spec.name.clone();
            let old = previous.and_then(|p| p.pools.get(&name));
            let pool = match old {
                Some(pool) if pool.sized_as(f.concurrency, f.provisioned) => {
                    if *pool.spec() != f.spec {
                        changes.changed.push(name.clone());
                        transition.respecs.push((Arc::clone(pool), f.spec));
                    }
                    Arc::clone(pool)
                }
                _ => {
                    if let Some(old) = old {
                        changes.changed.push(name.clone());
                        transition.retired.push(Arc::clone(old));
                    } else if previous.is_some() {
                        changes.added.push(name.clone());
                    }
                    FunctionPool::new(
                        f.spec,
                        f.concurrency,
                        f.provisioned,
                        Arc::clone(&settings.box_slots),
                        settings.cluster.clone(),
                        settings.acquire_timeout,
                        settings.breaker,
                    )
                }
            };
            pools.insert(name, pool);
        }
        if let Some(previous) = previous {
            for (name, pool) in &previous.pools {
                if !pools.contains_key(name) {
                    changes.removed.push(name.clone());
                    transition.retired.push(Arc::clone(pool));
                }
            }
        }
        changes.added.sort();
        changes.removed.sort();
        changes.changed.sort();
        (
            Self {
                pools,
                routes,
                urls,
                async_configs,
            },
            changes,
            transition,
        )
    }
}
