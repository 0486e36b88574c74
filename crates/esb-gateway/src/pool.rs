//! Per-function pools of warm workers. The gateway owns the pools (it knows demand);
//! the agent owns the workers. One invocation per worker at a time, as in Lambda; a
//! pool grows on demand up to the function's concurrency limit, and past it requests
//! wait (bounded) for a worker to free up, then are throttled. A box-wide limit caps
//! all functions together (Lambda's account concurrency); `ProvisionedConcurrencyConfig`
//! workers are started ahead of demand and kept, never frozen.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use esb_proto::agent::{FunctionSpec, Worker};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::agent_client::{AgentClient, AgentError};

/// Which limit throttled a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleScope {
    /// The function's reserved (or default) concurrency.
    Function,
    /// The box-wide concurrency limit.
    Box,
}

impl ThrottleScope {
    /// The `Reason` Lambda gives in a `TooManyRequestsException`.
    pub fn reason(self) -> &'static str {
        match self {
            ThrottleScope::Function => "ReservedFunctionConcurrentInvocationLimitExceeded",
            ThrottleScope::Box => "ConcurrentInvocationLimitExceeded",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AcquireError {
    #[error("all {limit} workers of {function} stayed busy for {waited:?} ({scope:?} limit)")]
    Throttled {
        function: String,
        limit: usize,
        waited: Duration,
        scope: ThrottleScope,
    },
    #[error(transparent)]
    Agent(#[from] AgentError),
}

pub struct FunctionPool {
    name: String,
    /// What new workers run; replaced (with a new generation) on a hot reload.
    spec: std::sync::RwLock<Arc<FunctionSpec>>,
    /// Workers of older generations are removed instead of reused.
    generation: std::sync::atomic::AtomicU64,
    limit: usize,
    slots: Arc<Semaphore>,
    /// The box-wide limit, shared by every pool.
    box_slots: Arc<Semaphore>,
    /// Workers kept initialised at all times.
    provisioned: usize,
    /// Set when the box stops: no more provisioned workers are started.
    closed: std::sync::atomic::AtomicBool,
    breaker: crate::breaker::Breaker,
    /// Idle warm workers, most recently used last (reused first); paused ones first.
    idle: Mutex<Vec<Idle>>,
    agent: AgentClient,
    acquire_timeout: Duration,
    /// What `esb status` shows.
    invocations: std::sync::atomic::AtomicU64,
    errors: std::sync::atomic::AtomicU64,
    last_invoke_ms: std::sync::atomic::AtomicI64,
}

struct Idle {
    worker: Worker,
    generation: u64,
    since: Instant,
    paused: bool,
}

/// A worker lent to one invocation; returned to the pool on drop unless marked broken.
pub struct Lease {
    pool: Arc<FunctionPool>,
    worker: Worker,
    generation: u64,
    broken: bool,
    /// The worker was started for this invocation (a cold start).
    cold: bool,
    _slot: OwnedSemaphorePermit,
    _box_slot: OwnedSemaphorePermit,
}

impl FunctionPool {
    pub fn new(
        spec: FunctionSpec,
        limit: usize,
        provisioned: usize,
        box_slots: Arc<Semaphore>,
        agent: AgentClient,
        acquire_timeout: Duration,
        breaker: crate::breaker::BreakerSettings,
    ) -> Arc<Self> {
        Arc::new(Self {
            name: spec.name.clone(),
            spec: std::sync::RwLock::new(Arc::new(spec)),
            generation: std::sync::atomic::AtomicU64::new(0),
            limit,
            slots: Arc::new(Semaphore::new(limit.min(Semaphore::MAX_PERMITS))),
            box_slots,
            provisioned,
            closed: std::sync::atomic::AtomicBool::new(false),
            breaker: crate::breaker::Breaker::new(breaker),
            idle: Mutex::new(Vec::new()),
            agent,
            acquire_timeout,
            invocations: Default::default(),
            errors: Default::default(),
            last_invoke_ms: Default::default(),
        })
    }

    /// Counts an invocation that reached a worker.
    pub fn record(&self, function_error: bool) {
        use std::sync::atomic::Ordering::Relaxed;
        self.invocations.fetch_add(1, Relaxed);
        if function_error {
            self.errors.fetch_add(1, Relaxed);
        }
        self.last_invoke_ms.store(crate::now_ms(), Relaxed);
    }

    /// Workers and invocations, as `esb status` shows them.
    pub fn status(&self) -> serde_json::Value {
        use std::sync::atomic::Ordering::Relaxed;
        let (idle, paused) = self.idle.lock().map_or((0, 0), |i| {
            let paused = i.iter().filter(|w| w.paused).count();
            (i.len() - paused, paused)
        });
        let last = self.last_invoke_ms.load(Relaxed);
        serde_json::json!({
            "name": self.name,
            "workers": {"busy": self.busy(), "warm": idle, "paused": paused},
            "reserved_concurrency": self.limit,
            "provisioned": self.provisioned,
            "invocations": self.invocations.load(Relaxed),
            "errors": self.errors.load(Relaxed),
            "last_invoke_ms": (last > 0).then_some(last),
        })
    }

    /// Whether the pool has these concurrency settings (a re-sized function gets a
    /// new pool).
    pub fn sized_as(&self, limit: usize, provisioned: usize) -> bool {
        self.limit == limit && self.provisioned == provisioned
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// What new workers run.
    pub fn spec(&self) -> Arc<FunctionSpec> {
        self.current().0
    }

    /// The spec new workers run, and its generation.
    fn current(&self) -> (Arc<FunctionSpec>, u64) {
        let spec = self
            .spec
            .read()
            .map(|s| Arc::clone(&s))
            .unwrap_or_else(|poisoned| Arc::clone(&poisoned.into_inner()));
        (
            spec,
            self.generation.load(std::sync::atomic::Ordering::Acquire),
        )
    }

    /// Hot reload: new workers run `spec` from now on; idle workers go at once, busy
    /// ones when their invocation ends (it finishes on the code it started with).
    pub async fn replace(&self, spec: FunctionSpec) {
        if let Ok(mut current) = self.spec.write() {
            *current = Arc::new(spec);
            self.generation
                .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        }
        let stale: Vec<Idle> = self
            .idle
            .lock()
            .map(|mut i| std::mem::take(&mut *i))
            .unwrap_or_default();
        for entry in stale {
            if let Err(e) = self.agent.destroy(&entry.worker.id).await {
                tracing::warn!("cannot remove replaced worker {}: {e}", entry.worker.id);
            }
        }
    }

    pub fn breaker(&self) -> &crate::breaker::Breaker {
        &self.breaker
    }

    pub async fn acquire(self: &Arc<Self>) -> Result<Lease, AcquireError> {
        // ReservedConcurrentExecutions: 0 turns a function off, as in Lambda.
        let throttled = |limit, waited, scope| AcquireError::Throttled {
            function: self.name.clone(),
            limit,
            waited,
            scope,
        };
        if self.limit == 0 {
            return Err(throttled(0, Duration::ZERO, ThrottleScope::Function));
        }
        let deadline = tokio::time::Instant::now() + self.acquire_timeout;
        let slot = tokio::time::timeout_at(deadline, Arc::clone(&self.slots).acquire_owned())
            .await
            .ok()
            .and_then(Result::ok)
            .ok_or_else(|| throttled(self.limit, self.acquire_timeout, ThrottleScope::Function))?;
        let box_slot =
            tokio::time::timeout_at(deadline, Arc::clone(&self.box_slots).acquire_owned())
                .await
                .ok()
                .and_then(Result::ok)
                .ok_or_else(|| {
                    throttled(
                        self.box_slots.available_permits(),
                        self.acquire_timeout,
                        ThrottleScope::Box,
                    )
                })?;
        let (spec, generation) = self.current();
        let reused = self
            .idle
            .lock()
            .ok()
            .and_then(|mut idle| idle.pop())
            .filter(|i| i.generation == generation);
        let (worker, cold) = match reused {
            Some(idle) if !idle.paused => (idle.worker, false),
            // The agent resumes it (or, if it died meanwhile, starts a new one).
            Some(idle) => {
                let w = self.agent.ensure(&spec, &idle.worker.id).await?;
                let cold = w.id != idle.worker.id;
                (w, cold)
            }
            None => (self.agent.ensure(&spec, "").await?, true),
        };
        Ok(Lease {
            pool: Arc::clone(self),
            worker,
            generation,
            broken: false,
            cold,
            _slot: slot,
            _box_slot: box_slot,
        })
    }

    /// Invocations in flight.
    pub fn busy(&self) -> usize {
        self.limit
            .min(Semaphore::MAX_PERMITS)
            .saturating_sub(self.slots.available_permits())
    }

    /// Warm workers waiting (paused ones included).
    pub fn idle_count(&self) -> usize {
        self.idle.lock().map(|i| i.len()).unwrap_or(0)
    }

    /// Closes the pool (shutdown, or its function left the template): it starts no
    /// more workers, busy ones are removed when their invocation ends, and the idle
    /// ones are returned for removal.
    pub fn drain_idle(&self) -> Vec<Worker> {
        self.closed
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.idle
            .lock()
            .map(|mut i| std::mem::take(&mut *i))
            .unwrap_or_default()
            .into_iter()
            .map(|i| i.worker)
            .collect()
    }

    /// Starts workers until the provisioned number exist (busy or idle).
    pub async fn keep_provisioned(&self) {
        while !self.closed.load(std::sync::atomic::Ordering::Relaxed)
            && self.busy() + self.idle_count() < self.provisioned
        {
            let (spec, generation) = self.current();
            match self.agent.ensure(&spec, "").await {
                Ok(worker) => {
                    if let Ok(mut idle) = self.idle.lock() {
                        idle.push(Idle {
                            worker,
                            generation,
                            since: Instant::now(),
                            paused: false,
                        });
                    }
                }
                Err(e) => {
                    tracing::warn!(function = %self.name, "cannot start a provisioned worker: {e}");
                    return;
                }
            }
        }
    }

    /// Pauses workers idle for `after` or longer, as Lambda freezes an execution
    /// environment between invocations; a paused worker is resumed when next used.
    /// Provisioned workers stay ready: the most recently used ones are never paused.
    pub async fn pause_idle(&self, after: Duration) {
        for mut entry in self.take_idle(|i| !i.paused && i.since.elapsed() >= after) {
            match self.agent.pause(&entry.worker.id).await {
                Ok(()) => {
                    entry.paused = true;
                    if let Ok(mut idle) = self.idle.lock() {
                        idle.insert(0, entry);
                    }
                }
                Err(e) => {
                    tracing::warn!(
                        "cannot pause idle worker {}: {e}; removing it",
                        entry.worker.id
                    );
                    let _ = self.agent.destroy(&entry.worker.id).await;
                }
            }
        }
    }

    /// Scale to zero: removes workers unused for `timeout` (paused or not), as Lambda
    /// reclaims idle environments; provisioned workers are kept.
    pub async fn remove_idle(&self, timeout: Duration) {
        for entry in self.take_idle(|i| i.since.elapsed() >= timeout) {
            tracing::debug!(function = %self.name, worker = %entry.worker.id, "removing an idle worker");
            if let Err(e) = self.agent.destroy(&entry.worker.id).await {
                tracing::warn!("cannot remove idle worker {}: {e}", entry.worker.id);
            }
        }
    }

    /// Forgets idle workers that are no longer alive (their process or container died
    /// while idle), so the pool heals before a request finds them; how many.
    /// `live` was listed at `listed_at`: workers that became idle later are not judged.
    pub fn forget_dead(
        &self,
        live: &std::collections::HashSet<String>,
        listed_at: Instant,
    ) -> usize {
        let Ok(mut idle) = self.idle.lock() else {
            return 0;
        };
        let before = idle.len();
        idle.retain(|i| i.since >= listed_at || live.contains(&i.worker.id));
        before - idle.len()
    }

    /// Takes the idle workers `due` selects, except the freshest ones that keep the
    /// provisioned number ready.
    fn take_idle(&self, due: impl Fn(&Idle) -> bool) -> Vec<Idle> {
        let ready = self.provisioned.saturating_sub(self.busy());
        let Ok(mut idle) = self.idle.lock() else {
            return Vec::new();
        };
        let mut kept_ready = 0;
        let mut taken = Vec::new();
        let mut keep = Vec::new();
        // Most recently used last: walk from the end to keep the freshest ready.
        for i in std::mem::take(&mut *idle).into_iter().rev() {
            if !i.paused && kept_ready < ready {
                kept_ready += 1;
                keep.push(i);
            } else if due(&i) {
                taken.push(i);
            } else {
                keep.push(i);
            }
        }
        keep.reverse();
        *idle = keep;
        taken
    }
}

impl Lease {
    pub fn worker(&self) -> &Worker {
        &self.worker
    }

    pub fn is_cold(&self) -> bool {
        self.cold
    }

    /// The worker failed in a way that makes it unusable: it is destroyed, not reused.
    pub fn mark_broken(&mut self) {
        self.broken = true;
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let worker = std::mem::take(&mut self.worker);
        let replaced = self.generation
            != self
                .pool
                .generation
                .load(std::sync::atomic::Ordering::Acquire)
            || self.pool.closed.load(std::sync::atomic::Ordering::Relaxed);
        if self.broken || replaced {
            let agent = self.pool.agent.clone();
            tokio::spawn(async move {
                if let Err(e) = agent.destroy(&worker.id).await {
                    tracing::warn!("cannot destroy broken worker {}: {e}", worker.id);
                }
            });
        } else if let Ok(mut idle) = self.pool.idle.lock() {
            idle.push(Idle {
                worker,
                generation: self.generation,
                since: Instant::now(),
                paused: false,
            });
        }
    }
}
