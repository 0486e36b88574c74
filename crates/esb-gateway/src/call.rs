//! One invocation on a pooled worker, shared by the Invoke API and the API routes:
//! take a worker (warm, or new from the agent), send the event, give the worker back
//! (or have it destroyed when it stopped answering).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::HeaderMap;

use crate::auth::route_auth::RunAuthorizer;
use crate::breaker::Breaker;
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
    /// The node running the invocation was lost: the machine's failure, not the
    /// function's, so it does not count against the function's circuit.
    #[error("the execution environment was lost with its node {0}")]
    NodeLost(String),
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
        let node_lost = pool.provider().lost(lease.worker());
        let started = Instant::now();
        let outcome = tokio::select! {
            answer = tokio::time::timeout(
                bound,
                gw.workers.invoke(&address, &token, payload.clone(), headers, None),
            ) => answer,
            () = node_lost => {
                lease.mark_broken();
                return Err(CallError::NodeLost(lease.worker().node.clone()));
            }
        };
        match outcome {
            Ok(Ok(answer)) => {
                if let Some(error_type) = count_answer(breaker, &answer) {
                    tracing::error!(%function, "circuit opened: the function's runtime keeps dying mid-invocation ({error_type})");
                }
                let function_error = answer.headers.contains_key(FUNCTION_ERROR);
                pool.record(function_error);
                gw.metrics.invoked(
                    function,
                    &lease.worker().node,
                    started.elapsed(),
                    function_error,
                    lease.is_cold(),
                );
                return Ok(answer);
            }
            Ok(Err(e)) => {
                lease.mark_broken();
                if pool.provider().node_lost(lease.worker()).await {
                    if e.not_delivered && attempt == 0 {
                        continue;
                    }
                    return Err(CallError::NodeLost(lease.worker().node.clone()));
                }
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

/// Error types of an execution environment that died during the invocation: the
/// runtime process exited (`os._exit`, a segfault) or was killed for memory (ESB's
/// worker reports the kernel's OOM kill as `Runtime.ExitError`, `signal: killed`;
/// Lambda names it `Runtime.OutOfMemory`). Each counts against the function's circuit,
/// as the original ESB counted crashes: the next request would only start the same
/// crash again. Errors the handler raised and timeouts of a live runtime are answers.
const DIED: [&str; 2] = ["Runtime.ExitError", "Runtime.OutOfMemory"];

/// The error type when `answer` says the function's environment died mid-invocation.
fn environment_died(answer: &WorkerAnswer) -> Option<String> {
    answer
        .short_error_type()
        .filter(|t| DIED.contains(&t.as_str()))
}

/// Tells the breaker what an answer says about the function's environment: a dead
/// runtime is a failure, any other answer a success. The error type when this opened
/// the circuit.
fn count_answer(breaker: &Breaker, answer: &WorkerAnswer) -> Option<String> {
    match environment_died(answer) {
        Some(error_type) => breaker.failed().then_some(error_type),
        None => {
            breaker.succeeded();
            None
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::breaker::BreakerSettings;
    use http::{HeaderValue, StatusCode};

    fn answer(function_error: Option<&'static str>, body: &str) -> WorkerAnswer {
        let mut headers = HeaderMap::new();
        if let Some(kind) = function_error {
            headers.insert(FUNCTION_ERROR, HeaderValue::from_static(kind));
        }
        WorkerAnswer {
            status: StatusCode::OK,
            headers,
            body: Bytes::from(body.to_string()),
        }
    }

    fn error(error_type: &str, message: &str) -> WorkerAnswer {
        answer(
            Some("Unhandled"),
            &serde_json::json!({"errorType": error_type, "errorMessage": message}).to_string(),
        )
    }

    #[test]
    fn a_dead_runtime_counts_and_function_errors_and_timeouts_do_not() {
        for died in [
            error(
                "Runtime.ExitError",
                "RequestId: r Error: Runtime exited with error: exit status 1",
            ),
            error(
                "Runtime.ExitError",
                "RequestId: r Error: Runtime exited with error: signal: killed",
            ),
            error(
                "Runtime.OutOfMemory",
                "RequestId: r Error: Runtime exited with error: signal: killed",
            ),
        ] {
            assert!(environment_died(&died).is_some(), "{:?}", died.body);
        }
        for answered in [
            answer(None, r#"{"statusCode":200,"body":"ok"}"#),
            error("ValueError", "boom from handler"),
            answer(
                Some("Handled"),
                r#"{"errorType":"Custom","errorMessage":"m"}"#,
            ),
            error(
                "Sandbox.Timedout",
                "RequestId: r Error: Task timed out after 3.00 seconds",
            ),
            error("Runtime.ImportModuleError", "Unable to import module"),
            // A function may return anything, even what looks like a crash.
            answer(
                None,
                r#"{"errorType":"Runtime.ExitError","errorMessage":"m"}"#,
            ),
        ] {
            assert!(environment_died(&answered).is_none(), "{:?}", answered.body);
        }
    }

    /// Crashes in a row open the circuit; any other answer starts the count again.
    #[test]
    fn three_crashes_open_the_circuit_and_handler_errors_never_do() {
        let settings = BreakerSettings {
            threshold: 3,
            cooldown: std::time::Duration::from_secs(60),
        };
        let b = Breaker::new(settings);
        let crash = error(
            "Runtime.ExitError",
            "RequestId: r Error: Runtime exited with error: exit status 1",
        );
        let raised = error("ValueError", "boom from handler");
        for _ in 0..10 {
            assert_eq!(count_answer(&b, &raised), None);
        }
        assert!(b.allow().is_ok(), "handler errors never open it");
        for a in [&crash, &crash, &answer(None, "{}"), &crash, &crash] {
            assert_eq!(count_answer(&b, a), None);
        }
        assert!(b.allow().is_ok(), "a normal answer reset the count");
        assert_eq!(
            count_answer(&b, &crash).as_deref(),
            Some("Runtime.ExitError"),
            "the third crash in a row opens it"
        );
        assert!(b.allow().is_err(), "open: fail fast");
    }
}
