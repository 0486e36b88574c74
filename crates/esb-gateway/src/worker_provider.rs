//! The pool's seam: who starts, pauses and removes its workers. In a box that is the
//! agent, over gRPC ([`AgentClient`]); in the pool's unit tests, a fake. The pool's
//! rules (reuse, limits, generations) are the gateway's, so they are tested here
//! without processes, as the agent's `WorkerRuntime` lets its own logic be.

use std::future::Future;

use esb_proto::agent::{FunctionSpec, Worker};

use crate::agent_client::{AgentClient, AgentError};

pub trait WorkerProvider: Send + Sync + 'static {
    /// A ready worker running `spec`: the worker `worker_id` names (resumed if paused)
    /// when it still lives, else a new one; an empty `worker_id` asks for a new one.
    fn ensure(
        &self,
        spec: &FunctionSpec,
        worker_id: &str,
    ) -> impl Future<Output = Result<Worker, AgentError>> + Send;

    /// Freezes an idle worker; the next `ensure` naming it resumes it.
    fn pause(&self, worker_id: &str) -> impl Future<Output = Result<(), AgentError>> + Send;

    /// Removes a worker for good.
    fn destroy(&self, worker_id: &str) -> impl Future<Output = Result<(), AgentError>> + Send;
}

impl WorkerProvider for AgentClient {
    fn ensure(
        &self,
        spec: &FunctionSpec,
        worker_id: &str,
    ) -> impl Future<Output = Result<Worker, AgentError>> + Send {
        AgentClient::ensure(self, spec, worker_id)
    }

    fn pause(&self, worker_id: &str) -> impl Future<Output = Result<(), AgentError>> + Send {
        AgentClient::pause(self, worker_id)
    }

    fn destroy(&self, worker_id: &str) -> impl Future<Output = Result<(), AgentError>> + Send {
        AgentClient::destroy(self, worker_id)
    }
}
