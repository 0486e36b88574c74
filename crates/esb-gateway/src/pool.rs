//! Per-function pools of warm workers. The gateway owns the pools (it knows demand);
//! the agent owns the workers. One invocation per worker at a time, as in Lambda; a
//! pool grows on demand up to the function's concurrency limit, and past it requests
//! wait (bounded) for a worker to free up, then are throttled. A box-wide limit caps
//! all functions together (Lambda's account concurrency); `ProvisionedConcurrencyConfig`
//! workers are started ahead of demand and kept, never frozen. A hot reload starts a
//! new generation: workers of older ones are removed instead of reused. Workers come
//! from a [`WorkerProvider`] (the agent), so these rules are unit-tested without one.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;
use esb_proto::agent::{FunctionSpec, Worker};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::agent_client::AgentError;
use crate::breaker::{Breaker, BreakerSettings};
use crate::nodes::Cluster;
use crate::status::{FunctionStatus, WorkerCounts};
use crate::worker_provider::WorkerProvider;

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

/// One function's workers. `P` starts, pauses and removes them: the agent in a box
/// (the default), a fake in the tests.
pub struct FunctionPool<P: WorkerProvider = Cluster> {
    name: String,
    /// What new workers run, and its generation, read together: a worker is always
    /// recorded under the generation of the spec it was started from. Replaced only
    /// while `idle` is locked, so the idle list never holds an older generation's worker
    /// (see [`FunctionPool::replace`]).
    current: ArcSwap<Current>,
    limit: usize,
    slots: Arc<Semaphore>,
    /// The box-wide limit, shared by every pool.
    box_slots: Arc<Semaphore>,
    /// Workers kept initialised at all times.
    provisioned: usize,
    /// Set when the box stops: no more provisioned workers are started.
    closed: AtomicBool,
    /// The spec generation a first worker was last prepared for (`u64::MAX`: none).
    prepared: AtomicU64,
    breaker: Breaker,
    /// Idle warm workers, most recently used last (reused first); paused ones first.
    idle: Mutex<Vec<Idle>>,
    workers: P,
    acquire_timeout: Duration,
    /// What `esb status` shows.
    invocations: AtomicU64,
    errors: AtomicU64,
    last_invoke_ms: AtomicI64,
}

/// The spec new workers run; workers of older generations are removed, not reused.
struct Current {
    spec: Arc<FunctionSpec>,
    generation: u64,
}

struct Idle {
    worker: Worker,
    generation: u64,
    since: Instant,
    paused: bool,
}

/// A worker lent to one invocation; returned to the pool on drop unless marked broken.
pub struct Lease<P: WorkerProvider = Cluster> {
    pool: Arc<FunctionPool<P>>,
    worker: Worker,
    generation: u64,
    broken: bool,
    /// The worker was started for this invocation (a cold start).
    cold: bool,
    _slot: OwnedSemaphorePermit,
    _box_slot: OwnedSemaphorePermit,
}

/// Where a worker going back to the idle list goes.
#[derive(Clone, Copy)]
enum Shelf {
    /// Last: the next to be reused.
    Top,
    /// First: paused workers, reused only when no running one is idle.
    Bottom,
}

impl<P: WorkerProvider> FunctionPool<P> {
    pub fn new(
        spec: FunctionSpec,
        limit: usize,
        provisioned: usize,
        box_slots: Arc<Semaphore>,
        workers: P,
        acquire_timeout: Duration,
        breaker: BreakerSettings,
    ) -> Arc<Self> {
        Arc::new(Self {
            name: spec.name.clone(),
            current: ArcSwap::from_pointee(Current {
                spec: Arc::new(spec),
                generation: 0,
            }),
            limit,
            slots: Arc::new(Semaphore::new(limit.min(Semaphore::MAX_PERMITS))),
            box_slots,
            provisioned,
            closed: AtomicBool::new(false),
            prepared: AtomicU64::new(u64::MAX),
            breaker: Breaker::new(breaker),
            idle: Mutex::new(Vec::new()),
            workers,
            acquire_timeout,
            invocations: Default::default(),
            errors: Default::default(),
            last_invoke_ms: Default::default(),
        })
    }

    /// Counts an invocation that reached a worker.
    pub fn record(&self, function_error: bool) {
        self.invocations.fetch_add(1, Ordering::Relaxed);
        if function_error {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        self.last_invoke_ms
            .store(crate::clock::now_ms(), Ordering::Relaxed);
    }

    /// Workers and invocations, as `esb status` shows them (its routes and URL are
    /// the plan's, filled in by the gateway).
    pub fn status(&self) -> FunctionStatus {
        let (warm, paused) = {
            let idle = self.idle();
            let paused = idle.iter().filter(|w| w.paused).count();
            (idle.len() - paused, paused)
        };
        let last = self.last_invoke_ms.load(Ordering::Relaxed);
        FunctionStatus {
            errors: self.errors.load(Ordering::Relaxed),
            invocations: self.invocations.load(Ordering::Relaxed),
            last_invoke_ms: (last > 0).then_some(last),
            name: self.name.clone(),
            note: None,
            provisioned: self.provisioned,
            reserved_concurrency: self.limit,
            routes: Vec::new(),
            url: None,
            workers: WorkerCounts {
                busy: self.busy(),
                paused,
                warm,
            },
        }
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
        Arc::clone(&self.current.load().spec)
    }

    /// The idle list. A panic while it was held cannot have left it half-changed (every
    /// change is one push, pop, insert, retain or take), so a poisoned lock is taken
    /// over rather than skipped: skipping would lose track of live workers, which
    /// would then run, unused and never removed, until the box stops.
    fn idle(&self) -> MutexGuard<'_, Vec<Idle>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hot reload: new workers run `spec` from now on; idle workers go at once, busy
    /// ones when their invocation ends (it finishes on the code it started with).
    pub async fn replace(&self, spec: FunctionSpec) {
        // Swapped and emptied under one lock: an acquire sees either the old spec with
        // its workers or the new one with none of the old.
        let stale = {
            let mut idle = self.idle();
            let generation = self.current.load().generation + 1;
            self.current.store(Arc::new(Current {
                spec: Arc::new(spec),
                generation,
            }));
            std::mem::take(&mut *idle)
        };
        for entry in stale {
            self.remove(&entry.worker, "replaced").await;
        }
    }

    pub fn breaker(&self) -> &Breaker {
        &self.breaker
    }

    pub async fn acquire(self: &Arc<Self>) -> Result<Lease<P>, AcquireError> {
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
        let deadline = Instant::now() + self.acquire_timeout;
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
        // Read under the idle lock, as `replace` writes: the popped worker is of `current`.
        let (current, reused, unusable) = {
            let mut idle = self.idle();
            // Workers on a node that was lost or is draining are not handed out.
            let mut unusable = Vec::new();
            let mut reused = None;
            while let Some(entry) = idle.pop() {
                if self.workers.usable(&entry.worker) {
                    reused = Some(entry);
                    break;
                }
                unusable.push(entry.worker);
            }
            (self.current.load_full(), reused, unusable)
        };
        for worker in unusable {
            self.remove(&worker, "unusable").await;
        }
        let (worker, cold) = match reused {
            Some(idle) if !idle.paused => (idle.worker, false),
            // The agent resumes it (or, if it died meanwhile, starts a new one).
            Some(idle) => {
                let w = self
                    .workers
                    .ensure(&current.spec, Some(&idle.worker))
                    .await?;
                let cold = w.id != idle.worker.id;
                (w, cold)
            }
            None => (self.workers.ensure(&current.spec, None).await?, true),
        };
        Ok(Lease {
            pool: Arc::clone(self),
            worker,
            generation: current.generation,
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
        self.idle().len()
    }

    /// Closes the pool (shutdown, or its function left the template): it starts no
    /// more workers, busy ones are removed when their invocation ends, and the idle
    /// ones are returned for removal.
    pub fn drain_idle(&self) -> Vec<Worker> {
        self.closed.store(true, Ordering::Relaxed);
        std::mem::take(&mut *self.idle())
            .into_iter()
            .map(|i| i.worker)
            .collect()
    }

    /// Puts a worker back among the idle ones; returns it instead when it must go, its
    /// generation being over or the pool closed. Checked under the idle lock, which
    /// `replace` and `drain_idle` empty the list under, so no stale worker slips in.
    fn shelve(&self, entry: Idle, shelf: Shelf) -> Option<Worker> {
        let mut idle = self.idle();
        if self.closed.load(Ordering::Relaxed)
            || entry.generation != self.current.load().generation
            || !self.workers.usable(&entry.worker)
        {
            return Some(entry.worker);
        }
        match shelf {
            Shelf::Top => idle.push(entry),
            Shelf::Bottom => idle.insert(0, entry),
        }
        None
    }

    /// Starts workers until the provisioned number exist (busy or idle).
    /// Once per spec generation, asks for the function's first worker to be readied
    /// (a containerd node creates its task without starting it), so even the first
    /// request finds most of a cold start done. Not for a function that may not run.
    pub async fn keep_prepared(&self) {
        let current = self.current.load_full();
        if self.closed.load(Ordering::Relaxed)
            || self.limit == 0
            || self.prepared.swap(current.generation, Ordering::Relaxed) == current.generation
        {
            return;
        }
        self.workers.prepare(&current.spec).await;
    }

    pub async fn keep_provisioned(&self) {
        while !self.closed.load(Ordering::Relaxed)
            && self.busy() + self.idle_count() < self.provisioned
        {
            let current = self.current.load_full();
            let worker = match self.workers.ensure(&current.spec, None).await {
                Ok(worker) => worker,
                Err(e) => {
                    tracing::warn!(function = %self.name, "cannot start a provisioned worker: {e}");
                    return;
                }
            };
            let entry = Idle {
                worker,
                generation: current.generation,
                since: Instant::now(),
                paused: false,
            };
            // Reloaded or closed while it started: it runs code no longer served.
            if let Some(stale) = self.shelve(entry, Shelf::Top) {
                self.remove(&stale, "replaced").await;
            }
        }
    }

    /// Pauses workers idle for `after` or longer, as Lambda freezes an execution
    /// environment between invocations; a paused worker is resumed when next used.
    /// Provisioned workers stay ready: the most recently used ones are never paused.
    pub async fn pause_idle(&self, after: Duration) {
        for mut entry in self.take_idle(|i| !i.paused && i.since.elapsed() >= after) {
            match self.workers.pause(&entry.worker).await {
                Ok(()) => {
                    entry.paused = true;
                    // Reloaded or closed while it was being paused: it goes.
                    if let Some(stale) = self.shelve(entry, Shelf::Bottom) {
                        self.remove(&stale, "replaced").await;
                    }
                }
                Err(e) => {
                    let id = &entry.worker.id;
                    tracing::warn!("cannot pause idle worker {id}: {e}; removing it");
                    self.remove(&entry.worker, "unpausable").await;
                }
            }
        }
    }

    /// Scale to zero: removes workers unused for `timeout` (paused or not), as Lambda
    /// reclaims idle environments; provisioned workers are kept.
    pub async fn remove_idle(&self, timeout: Duration) {
        for entry in self.take_idle(|i| i.since.elapsed() >= timeout) {
            tracing::debug!(function = %self.name, worker = %entry.worker.id, "removing an idle worker");
            self.remove(&entry.worker, "idle").await;
        }
    }

    /// Asks for a worker's removal; a failure is logged (`what` names the worker's kind).
    async fn remove(&self, worker: &Worker, what: &str) {
        if let Err(e) = self.workers.destroy(worker).await {
            tracing::warn!("cannot remove {what} worker {}: {e}", worker.id);
        }
    }

    /// Takes the idle workers `which` selects out of the pool (a draining node's, say).
    pub fn take_idle_where(&self, which: impl Fn(&Worker) -> bool) -> Vec<Worker> {
        let mut idle = self.idle();
        let (taken, kept) = std::mem::take(&mut *idle)
            .into_iter()
            .partition(|i| which(&i.worker));
        *idle = kept;
        taken.into_iter().map(|i: Idle| i.worker).collect()
    }

    /// Who starts and removes this pool's workers.
    pub fn provider(&self) -> &P {
        &self.workers
    }

    /// Forgets idle workers that are no longer alive (their process or container died
    /// while idle), so the pool heals before a request finds them; how many.
    /// `live` was listed at `listed_at`: workers that became idle later are not judged.
    pub fn forget_dead(
        &self,
        live: &std::collections::HashSet<String>,
        listed_at: Instant,
    ) -> usize {
        let mut idle = self.idle();
        let before = idle.len();
        idle.retain(|i| i.since >= listed_at || live.contains(&i.worker.id));
        before - idle.len()
    }

    /// Takes the idle workers `due` selects, except the freshest ones that keep the
    /// provisioned number ready.
    fn take_idle(&self, due: impl Fn(&Idle) -> bool) -> Vec<Idle> {
        let ready = self.provisioned.saturating_sub(self.busy());
        let mut idle = self.idle();
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

impl<P: WorkerProvider> Lease<P> {
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

impl<P: WorkerProvider> Drop for Lease<P> {
    fn drop(&mut self) {
        let worker = std::mem::take(&mut self.worker);
        let refused = if self.broken {
            Some(worker)
        } else {
            let entry = Idle {
                worker,
                generation: self.generation,
                since: Instant::now(),
                paused: false,
            };
            self.pool.shelve(entry, Shelf::Top)
        };
        // Broken, of a replaced generation, or of a closed pool: it goes.
        if let Some(worker) = refused {
            let pool = Arc::clone(&self.pool);
            tokio::spawn(async move {
                if let Err(e) = pool.workers.destroy(&worker).await {
                    tracing::warn!("cannot destroy broken worker {}: {e}", worker.id);
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};
    use std::future::Future;

    use super::*;

    /// An agent without processes: numbers its workers `w1`, `w2`... and records what
    /// the pool asked of it. Each worker remembers the handler of the spec it started from.
    #[derive(Clone, Default)]
    struct FakeAgent(Arc<Mutex<Agent>>);

    #[derive(Default)]
    struct Agent {
        started: u64,
        running: HashMap<String, String>,
        resumed: Vec<String>,
        paused: Vec<String>,
        destroyed: Vec<String>,
        /// The handlers of the specs it was asked to prepare a worker of.
        prepared: Vec<String>,
        start_delay: Duration,
        failing: bool,
    }

    impl FakeAgent {
        fn with_start_delay(delay: Duration) -> Self {
            let agent = Self::default();
            agent.state().start_delay = delay;
            agent
        }

        fn state(&self) -> MutexGuard<'_, Agent> {
            self.0.lock().expect("fake agent")
        }

        fn started(&self) -> u64 {
            self.state().started
        }

        fn handler_of(&self, worker: &str) -> String {
            self.state()
                .running
                .get(worker)
                .cloned()
                .unwrap_or_default()
        }

        fn destroyed(&self) -> Vec<String> {
            self.state().destroyed.clone()
        }
    }

    impl WorkerProvider for FakeAgent {
        fn ensure(
            &self,
            spec: &FunctionSpec,
            reuse: Option<&Worker>,
        ) -> impl Future<Output = Result<Worker, AgentError>> + Send {
            let (agent, handler, wanted) = (
                self.clone(),
                spec.handler.clone(),
                reuse.map(|w| w.id.clone()).unwrap_or_default(),
            );
            async move {
                let delay = agent.state().start_delay;
                tokio::time::sleep(delay).await;
                let mut s = agent.state();
                if s.failing {
                    return Err(AgentError::Call {
                        call: "EnsureWorker",
                        status: Box::new(tonic::Status::unavailable("agent down")),
                    });
                }
                let id = if s.running.contains_key(&wanted) {
                    s.resumed.push(wanted.clone());
                    wanted
                } else {
                    s.started += 1;
                    let id = format!("w{}", s.started);
                    s.running.insert(id.clone(), handler);
                    id
                };
                Ok(Worker {
                    address: format!("127.0.0.1:{}", 9000 + s.started),
                    id,
                    ..Worker::default()
                })
            }
        }

        fn prepare(&self, spec: &FunctionSpec) -> impl Future<Output = ()> + Send {
            self.state().prepared.push(spec.handler.clone());
            std::future::ready(())
        }

        fn pause(&self, worker: &Worker) -> impl Future<Output = Result<(), AgentError>> + Send {
            self.state().paused.push(worker.id.clone());
            std::future::ready(Ok(()))
        }

        fn destroy(&self, worker: &Worker) -> impl Future<Output = Result<(), AgentError>> + Send {
            let mut s = self.state();
            s.running.remove(&worker.id);
            s.destroyed.push(worker.id.clone());
            std::future::ready(Ok(()))
        }
    }

    fn spec(handler: &str) -> FunctionSpec {
        FunctionSpec {
            name: "f".into(),
            handler: handler.into(),
            timeout_s: 3,
            ..FunctionSpec::default()
        }
    }

    fn pool_with(
        agent: &FakeAgent,
        limit: usize,
        provisioned: usize,
        acquire_timeout: Duration,
        box_slots: &Arc<Semaphore>,
    ) -> Arc<FunctionPool<FakeAgent>> {
        FunctionPool::new(
            spec("v1"),
            limit,
            provisioned,
            Arc::clone(box_slots),
            agent.clone(),
            acquire_timeout,
            BreakerSettings::default(),
        )
    }

    fn pool(agent: &FakeAgent, limit: usize, provisioned: usize) -> Arc<FunctionPool<FakeAgent>> {
        let box_slots = Arc::new(Semaphore::new(100));
        pool_with(
            agent,
            limit,
            provisioned,
            Duration::from_secs(5),
            &box_slots,
        )
    }

    /// Lets the background removals a dropped lease starts run.
    async fn settle() {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    async fn acquire(pool: &Arc<FunctionPool<FakeAgent>>) -> Lease<FakeAgent> {
        match pool.acquire().await {
            Ok(lease) => lease,
            Err(e) => panic!("no worker: {e}"),
        }
    }

    #[tokio::test]
    async fn idle_workers_are_reused_most_recent_first() {
        let agent = FakeAgent::default();
        let pool = pool(&agent, 3, 0);
        let (a, b) = (acquire(&pool).await, acquire(&pool).await);
        assert!(a.is_cold() && b.is_cold(), "an empty pool starts workers");
        let (first, second) = (a.worker().id.clone(), b.worker().id.clone());
        drop(a);
        drop(b);
        assert_eq!(pool.idle_count(), 2);
        let warm = acquire(&pool).await;
        assert_eq!(
            warm.worker().id,
            second,
            "the most recently used goes first"
        );
        assert!(!warm.is_cold());
        assert_eq!(acquire(&pool).await.worker().id, first);
        assert_eq!(agent.started(), 2, "warm requests start no worker");
    }

    #[tokio::test(start_paused = true)]
    async fn past_the_limit_a_request_waits_its_bound_then_is_throttled() {
        let agent = FakeAgent::default();
        let box_slots = Arc::new(Semaphore::new(100));
        let pool = pool_with(&agent, 2, 0, Duration::from_secs(3), &box_slots);
        let _busy = (acquire(&pool).await, acquire(&pool).await);
        let asked = Instant::now();
        let Err(AcquireError::Throttled {
            limit,
            waited,
            scope,
            ..
        }) = pool.acquire().await
        else {
            panic!("a third request past a limit of 2 is throttled");
        };
        assert!(
            asked.elapsed() >= Duration::from_secs(3),
            "it waited the bound"
        );
        assert_eq!((limit, waited), (2, Duration::from_secs(3)));
        assert_eq!(
            scope.reason(),
            "ReservedFunctionConcurrentInvocationLimitExceeded"
        );
        assert_eq!((pool.busy(), agent.started()), (2, 2));
    }

    #[tokio::test]
    async fn reserved_concurrency_zero_throttles_at_once() {
        let agent = FakeAgent::default();
        let pool = pool(&agent, 0, 0);
        assert!(matches!(
            pool.acquire().await,
            Err(AcquireError::Throttled { limit: 0, .. })
        ));
        assert_eq!(agent.started(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn the_box_limit_throttles_across_functions() {
        let agent = FakeAgent::default();
        let box_slots = Arc::new(Semaphore::new(1));
        let one = pool_with(&agent, 5, 0, Duration::from_secs(1), &box_slots);
        let other = pool_with(&agent, 5, 0, Duration::from_secs(1), &box_slots);
        let _busy = acquire(&one).await;
        let Err(AcquireError::Throttled { scope, .. }) = other.acquire().await else {
            panic!("the box's one slot is taken");
        };
        assert_eq!(scope, ThrottleScope::Box);
        assert_eq!(scope.reason(), "ConcurrentInvocationLimitExceeded");
        assert_eq!(other.busy(), 0, "the function's own slot is given back");
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiting_request_is_served_by_the_worker_released_within_its_bound() {
        let agent = FakeAgent::default();
        let box_slots = Arc::new(Semaphore::new(100));
        let pool = pool_with(&agent, 1, 0, Duration::from_secs(10), &box_slots);
        let first = acquire(&pool).await;
        let only = first.worker().id.clone();
        let waiting = tokio::spawn({
            let pool = Arc::clone(&pool);
            async move {
                let lease = acquire(&pool).await;
                (lease.worker().id.clone(), lease.is_cold())
            }
        });
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(
            !waiting.is_finished(),
            "it waits while the only worker is busy"
        );
        drop(first);
        let (served_by, cold) = waiting.await.expect("waiting request");
        assert_eq!(
            (served_by, cold),
            (only, false),
            "the released worker, warm"
        );
        assert_eq!(agent.started(), 1);
    }

    #[tokio::test]
    async fn a_reload_removes_idle_workers_at_once_and_busy_ones_when_their_lease_ends() {
        let agent = FakeAgent::default();
        let pool = pool(&agent, 3, 0);
        let (busy, idle) = (acquire(&pool).await, acquire(&pool).await);
        let (busy_id, idle_id) = (busy.worker().id.clone(), idle.worker().id.clone());
        drop(idle);
        pool.replace(spec("v2")).await;
        assert_eq!(
            agent.destroyed(),
            [idle_id.as_str()],
            "the idle worker goes at once"
        );
        assert_eq!(pool.idle_count(), 0);
        assert_eq!(pool.spec().handler, "v2");

        let fresh = acquire(&pool).await;
        assert!(fresh.is_cold());
        assert_eq!(
            agent.handler_of(&fresh.worker().id),
            "v2",
            "new requests get the new spec"
        );
        assert_eq!(
            agent.handler_of(&busy_id),
            "v1",
            "the busy one finishes on the old"
        );

        drop(busy);
        settle().await;
        assert_eq!(
            agent.destroyed(),
            [idle_id, busy_id],
            "the busy worker goes when its lease ends"
        );
        drop(fresh);
        assert_eq!(pool.idle_count(), 1, "workers of the new spec are kept");
    }

    #[tokio::test(start_paused = true)]
    async fn a_worker_started_across_a_reload_is_removed_not_kept() {
        let agent = FakeAgent::with_start_delay(Duration::from_secs(1));
        let pool = pool(&agent, 5, 1);
        let starting = tokio::spawn({
            let pool = Arc::clone(&pool);
            async move { pool.keep_provisioned().await }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        pool.replace(spec("v2")).await;
        starting.await.expect("provisioning");
        assert_eq!(agent.destroyed(), ["w1"], "the worker of the old spec goes");
        let ready = acquire(&pool).await;
        assert_eq!(agent.handler_of(&ready.worker().id), "v2");
        assert!(
            !ready.is_cold(),
            "a provisioned worker of the new spec is ready"
        );
    }

    /// The first worker of each spec is prepared once, ahead of any request: again only
    /// after a reload, and never for a function that may not run.
    #[tokio::test(start_paused = true)]
    async fn a_first_worker_is_prepared_once_per_spec() {
        let agent = FakeAgent::default();
        let fivefold = pool(&agent, 5, 0);
        fivefold.keep_prepared().await;
        fivefold.keep_prepared().await;
        assert_eq!(agent.state().prepared, ["v1"]);
        assert_eq!(agent.started(), 0, "preparing starts no worker");
        fivefold.replace(spec("v2")).await;
        fivefold.keep_prepared().await;
        fivefold.keep_prepared().await;
        assert_eq!(agent.state().prepared, ["v1", "v2"]);

        let off = FakeAgent::default();
        pool(&off, 0, 0).keep_prepared().await;
        assert!(
            off.state().prepared.is_empty(),
            "a function limited to 0 runs nothing"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn provisioned_workers_are_started_ahead_kept_ready_and_replaced_when_they_die() {
        let agent = FakeAgent::default();
        let pool = pool(&agent, 5, 2);
        pool.keep_provisioned().await;
        assert_eq!((agent.started(), pool.idle_count()), (2, 2));
        pool.keep_provisioned().await;
        assert_eq!(agent.started(), 2, "enough workers exist");

        // A burst needs a third; once idle long enough, only it is paused, then removed.
        let burst = (
            acquire(&pool).await,
            acquire(&pool).await,
            acquire(&pool).await,
        );
        assert_eq!(agent.started(), 3);
        let (oldest, newer, newest) = burst;
        let extra = oldest.worker().id.clone();
        drop(oldest);
        drop(newer);
        drop(newest);
        tokio::time::advance(Duration::from_secs(3600)).await;
        pool.pause_idle(Duration::from_secs(10)).await;
        assert_eq!(
            agent.state().paused,
            [extra.as_str()],
            "provisioned workers stay ready"
        );
        pool.remove_idle(Duration::from_secs(60)).await;
        assert_eq!(agent.destroyed(), [extra]);
        assert_eq!(pool.idle_count(), 2, "the provisioned number is kept");

        // One of them dies while idle: the pool forgets it and starts another.
        let survivor = {
            let lease = acquire(&pool).await;
            lease.worker().id.clone()
        };
        let live = HashSet::from([survivor]);
        assert_eq!(pool.forget_dead(&live, Instant::now()), 1);
        pool.keep_provisioned().await;
        assert_eq!((agent.started(), pool.idle_count()), (4, 2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_paused_worker_is_resumed_for_the_next_request() {
        let agent = FakeAgent::default();
        let pool = pool(&agent, 2, 0);
        let id = acquire(&pool).await.worker().id.clone();
        tokio::time::advance(Duration::from_secs(20)).await;
        pool.pause_idle(Duration::from_secs(10)).await;
        assert_eq!(agent.state().paused, [id.as_str()]);
        assert_eq!(pool.status().workers.paused, 1);
        let lease = acquire(&pool).await;
        assert_eq!(lease.worker().id, id);
        assert!(!lease.is_cold(), "a resumed worker is no cold start");
        assert_eq!(agent.state().resumed, [id]);
        assert_eq!(agent.started(), 1);
    }

    #[tokio::test]
    async fn a_broken_worker_is_removed_and_never_reused() {
        let agent = FakeAgent::default();
        let pool = pool(&agent, 1, 0);
        let mut lease = acquire(&pool).await;
        let broken = lease.worker().id.clone();
        lease.mark_broken();
        drop(lease);
        settle().await;
        assert_eq!(agent.destroyed(), [broken.as_str()]);
        let next = acquire(&pool).await;
        assert_ne!(next.worker().id, broken);
        assert!(next.is_cold());
    }

    #[tokio::test]
    async fn a_closed_pool_hands_back_idle_workers_and_removes_busy_ones_when_done() {
        let agent = FakeAgent::default();
        let pool = pool(&agent, 3, 1);
        let (busy, idle) = (acquire(&pool).await, acquire(&pool).await);
        let (busy_id, idle_id) = (busy.worker().id.clone(), idle.worker().id.clone());
        drop(idle);
        let drained: Vec<String> = pool.drain_idle().into_iter().map(|w| w.id).collect();
        assert_eq!(drained, [idle_id]);
        drop(busy);
        settle().await;
        assert_eq!(agent.destroyed(), [busy_id]);
        assert_eq!(pool.idle_count(), 0);
        pool.keep_provisioned().await;
        assert_eq!(
            agent.started(),
            2,
            "a closed pool starts no provisioned worker"
        );
    }

    #[tokio::test]
    async fn a_failed_start_is_an_agent_error_and_frees_its_slot() {
        let agent = FakeAgent::default();
        let pool = pool(&agent, 1, 0);
        agent.state().failing = true;
        assert!(matches!(pool.acquire().await, Err(AcquireError::Agent(_))));
        assert_eq!(pool.busy(), 0);
        agent.state().failing = false;
        assert!(acquire(&pool).await.is_cold());
    }
}
