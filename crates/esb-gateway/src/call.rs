//! One invocation on a pooled worker, shared by the Invoke API and the API routes:
//! take a worker (warm, or new from the agent), send the event, give the worker back
//! (or have it destroyed when it stopped answering).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;

use crate::pool::{AcquireError, FunctionPool};
use crate::worker_client::{WorkerAnswer, WorkerClient};

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error(transparent)]
    Acquire(#[from] AcquireError),
    #[error("{0}")]
    Worker(String),
    #[error("no answer within {0:?}")]
    TimedOut(Duration),
}

pub async fn call(
    workers: &WorkerClient,
    pool: &Arc<FunctionPool>,
    payload: Bytes,
    headers: &HeaderMap,
    bound: Duration,
) -> Result<WorkerAnswer, CallError> {
    let mut lease = pool.acquire().await?;
    let address = lease.worker().address.clone();
    match tokio::time::timeout(bound, workers.invoke(&address, payload, headers, None)).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(e)) => {
            lease.mark_broken();
            Err(CallError::Worker(e.to_string()))
        }
        Err(_) => {
            // The worker may still be running the invocation: it cannot be reused.
            lease.mark_broken();
            Err(CallError::TimedOut(bound))
        }
    }
}

/// The function timeout plus slack: the worker enforces the timeout itself, so this
/// only bounds a worker that stopped answering.
pub fn worker_bound(pool: &FunctionPool) -> Duration {
    Duration::from_secs(u64::from(pool.spec().timeout_s) + 30)
}
