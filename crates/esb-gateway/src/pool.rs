//! Per-function pools of warm workers. The gateway owns the pools (it knows demand);
//! the agent owns the workers. One invocation per worker at a time, as in Lambda; a
//! pool grows on demand up to the function's concurrency limit, and past it requests
//! wait (bounded) for a worker to free up, then are throttled.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use esb_proto::agent::{FunctionSpec, Worker};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::agent_client::{AgentClient, AgentError};

#[derive(Debug, thiserror::Error)]
pub enum AcquireError {
    #[error("all {limit} workers of {function} stayed busy for {waited:?}")]
    Throttled {
        function: String,
        limit: usize,
        waited: Duration,
    },
    #[error(transparent)]
    Agent(#[from] AgentError),
}

pub struct FunctionPool {
    spec: FunctionSpec,
    limit: usize,
    slots: Arc<Semaphore>,
    /// Idle warm workers, most recently used last (reused first); paused ones first.
    idle: Mutex<Vec<Idle>>,
    agent: AgentClient,
    acquire_timeout: Duration,
}

struct Idle {
    worker: Worker,
    since: Instant,
    paused: bool,
}

/// A worker lent to one invocation; returned to the pool on drop unless marked broken.
pub struct Lease {
    pool: Arc<FunctionPool>,
    worker: Worker,
    broken: bool,
    /// The worker was started for this invocation (a cold start).
    cold: bool,
    _slot: OwnedSemaphorePermit,
}

impl FunctionPool {
    pub fn new(
        spec: FunctionSpec,
        limit: usize,
        agent: AgentClient,
        acquire_timeout: Duration,
    ) -> Arc<Self> {
        Arc::new(Self {
            spec,
            limit,
            slots: Arc::new(Semaphore::new(limit.min(Semaphore::MAX_PERMITS))),
            idle: Mutex::new(Vec::new()),
            agent,
            acquire_timeout,
        })
    }

    pub fn spec(&self) -> &FunctionSpec {
        &self.spec
    }

    pub async fn acquire(self: &Arc<Self>) -> Result<Lease, AcquireError> {
        // ReservedConcurrentExecutions: 0 turns a function off, as in Lambda.
        if self.limit == 0 {
            return Err(AcquireError::Throttled {
                function: self.spec.name.clone(),
                limit: 0,
                waited: Duration::ZERO,
            });
        }
        let slot = tokio::time::timeout(
            self.acquire_timeout,
            Arc::clone(&self.slots).acquire_owned(),
        )
        .await
        .ok()
        .and_then(Result::ok)
        .ok_or_else(|| AcquireError::Throttled {
            function: self.spec.name.clone(),
            limit: self.limit,
            waited: self.acquire_timeout,
        })?;
        let reused = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let (worker, cold) = match reused {
            Some(idle) if !idle.paused => (idle.worker, false),
            // The agent resumes it (or, if it died meanwhile, starts a new one).
            Some(idle) => {
                let w = self.agent.ensure(&self.spec, &idle.worker.id).await?;
                let cold = w.id != idle.worker.id;
                (w, cold)
            }
            None => (self.agent.ensure(&self.spec, "").await?, true),
        };
        Ok(Lease {
            pool: Arc::clone(self),
            worker,
            broken: false,
            cold,
            _slot: slot,
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

    /// Every worker currently idle (for shutdown).
    pub fn drain_idle(&self) -> Vec<Worker> {
        self.idle
            .lock()
            .map(|mut i| std::mem::take(&mut *i))
            .unwrap_or_default()
            .into_iter()
            .map(|i| i.worker)
            .collect()
    }

    /// Pauses workers idle for `after` or longer, as Lambda freezes an execution
    /// environment between invocations; a paused worker is resumed when next used.
    pub async fn pause_idle(&self, after: Duration) {
        let due: Vec<Idle> = match self.idle.lock() {
            Ok(mut idle) => {
                let (due, keep) = std::mem::take(&mut *idle)
                    .into_iter()
                    .partition(|i| !i.paused && i.since.elapsed() >= after);
                *idle = keep;
                due
            }
            Err(_) => return,
        };
        for mut entry in due {
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
        if self.broken {
            let agent = self.pool.agent.clone();
            tokio::spawn(async move {
                if let Err(e) = agent.destroy(&worker.id).await {
                    tracing::warn!("cannot destroy broken worker {}: {e}", worker.id);
                }
            });
        } else if let Ok(mut idle) = self.pool.idle.lock() {
            idle.push(Idle {
                worker,
                since: Instant::now(),
                paused: false,
            });
        }
    }
}
