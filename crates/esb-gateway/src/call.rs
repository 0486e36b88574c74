//! One invocation on a pooled worker, shared by the Invoke API and the API routes:
//! take a worker (warm, or new from the agent), send the event, give the worker back
//! (or have it destroyed when it stopped answering).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::HeaderMap;

use crate::auth::route_auth::RunAuthorizer;
use crate::gateway::Gateway;
use crate::pool::{AcquireError, FunctionPool};
use crate::worker_client::WorkerAnswer;
use esb_lambda::headers::FUNCTION_ERROR;

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error(transparent)]
    Acquire(#[from] AcquireError),
    #[error("{0}")]
    Worker(String),
    #[error("no answer within {0:?}")]
    TimedOut(Duration),
    #[error("the function's workers keep failing; retry after {} s", .0.as_secs().max(1))]
    CircuitOpen(Duration),
}

pub async fn call(
    gw: &Gateway,
    pool: &Arc<FunctionPool>,
    payload: Bytes,
    headers: &HeaderMap,
    bound: Duration,
) -> Result<WorkerAnswer, CallError> {
    // A worker that died while idle refuses the connection (or another worker now at
    // its address refuses the event): the event never ran, so it goes to a fresh worker
    // instead (once).
    let function = pool.name();
    let breaker = pool.breaker();
    breaker
        .allow()
        .map_err(|open| CallError::CircuitOpen(open.retry_after))?;
    for attempt in 0..2 {
        let mut lease = match pool.acquire().await {
            Ok(lease) => lease,
            Err(e) => {
                if matches!(e, AcquireError::Throttled { .. }) {
                    gw.metrics.throttled(function);
                    breaker.released();
                } else if breaker.failed() {
                    tracing::error!(%function, "circuit opened: no worker could be started ({e})");
                }
                return Err(e.into());
            }
        };
        let (address, token) = (lease.worker().address.clone(), lease.worker().token.clone());
        let started = Instant::now();
        match tokio::time::timeout(
            bound,
            gw.workers
                .invoke(&address, &token, payload.clone(), headers, None),
        )
        .await
        {
            Ok(Ok(answer)) => {
                breaker.succeeded();
                let function_error = answer.headers.contains_key(FUNCTION_ERROR);
                pool.record(function_error);
                gw.metrics
                    .invoked(function, started.elapsed(), function_error, lease.is_cold());
                return Ok(answer);
            }
            Ok(Err(e)) => {
                lease.mark_broken();
                if !(e.not_delivered && attempt == 0) {
                    breaker.failed();
                    return Err(CallError::Worker(e.to_string()));
                }
                tracing::warn!(worker = %lease.worker().id, "worker unreachable; retrying on a fresh one: {e}");
            }
            Err(_) => {
                // The worker may still be running the invocation: it cannot be reused.
                lease.mark_broken();
                breaker.failed();
                return Err(CallError::TimedOut(bound));
            }
        }
    }
    breaker.failed();
    Err(CallError::Worker("no reachable worker".into()))
}

/// The function timeout plus slack: the worker enforces the timeout itself, so this
/// only bounds a worker that stopped answering.
pub fn worker_bound(pool: &FunctionPool) -> Duration {
    Duration::from_secs(u64::from(pool.spec().timeout_s) + 30)
}

/// The invocation path as route auth runs Lambda authorizers with it.
pub struct Authorizers<'a>(pub &'a Gateway);

impl RunAuthorizer for Authorizers<'_> {
    type Error = CallError;

    fn run(
        &self,
        pool: &Arc<FunctionPool>,
        event: Bytes,
        within: Duration,
    ) -> impl Future<Output = Result<WorkerAnswer, CallError>> + Send {
        let bound = worker_bound(pool).min(within);
        async move { call(self.0, pool, event, &HeaderMap::new(), bound).await }
    }
}
