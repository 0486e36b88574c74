//! The pool's seam: who starts, pauses and removes its workers. In a box that is the
//! cluster of its nodes' agents ([`Cluster`], over gRPC); in the pool's unit tests, a
//! fake. The pool's rules (reuse, limits, generations) are the gateway's, so they are
//! tested here without processes, as the agent's `WorkerRuntime` lets its own logic be.
//! Workers are passed whole: a worker names the node it runs on, which is where its
//! pause, resume or removal must go.

use std::future::Future;

use esb_proto::agent::{FunctionSpec, Worker};

use crate::agent_client::AgentError;
use crate::nodes::Cluster;

pub trait WorkerProvider: Send + Sync + 'static {
    /// A ready worker running `spec`: `reuse` (resumed if paused) when it still lives,
    /// else a new one.
    fn ensure(
        &self,
        spec: &FunctionSpec,
        reuse: Option<&Worker>,
    ) -> impl Future<Output = Result<Worker, AgentError>> + Send;

    /// Freezes an idle worker; the next `ensure` reusing it resumes it.
    fn pause(&self, worker: &Worker) -> impl Future<Output = Result<(), AgentError>> + Send;

    /// Removes a worker for good.
    fn destroy(&self, worker: &Worker) -> impl Future<Output = Result<(), AgentError>> + Send;

    /// Readies the function's first worker ahead of its first request, where the
    /// runtime can (best effort); nothing by default.
    fn prepare(&self, _spec: &FunctionSpec) -> impl Future<Output = ()> + Send {
        std::future::ready(())
    }

    /// Whether an idle worker may be handed out: not when its node was lost or is
    /// draining. A provider with one machine always says yes.
    fn usable(&self, _worker: &Worker) -> bool {
        true
    }

    /// Resolves when the worker's node is declared lost, so an invocation in flight
    /// there fails at once instead of at its timeout; never, by default.
    fn lost(&self, _worker: &Worker) -> impl Future<Output = ()> + Send + 'static {
        std::future::pending()
    }

    /// After a worker stopped answering: whether its whole node is gone (checked now),
    /// which is the node's failure, not the function's.
    fn node_lost(&self, _worker: &Worker) -> impl Future<Output = bool> + Send {
        std::future::ready(false)
    }
}

impl WorkerProvider for Cluster {
    fn prepare(&self, spec: &FunctionSpec) -> impl Future<Output = ()> + Send {
        Cluster::prepare(self, spec)
    }

    fn ensure(
        &self,
        spec: &FunctionSpec,
        reuse: Option<&Worker>,
    ) -> impl Future<Output = Result<Worker, AgentError>> + Send {
        Cluster::ensure(self, spec, reuse)
    }

    fn pause(&self, worker: &Worker) -> impl Future<Output = Result<(), AgentError>> + Send {
        Cluster::pause(self, worker)
    }

    fn destroy(&self, worker: &Worker) -> impl Future<Output = Result<(), AgentError>> + Send {
        Cluster::destroy(self, worker)
    }

    fn usable(&self, worker: &Worker) -> bool {
        Cluster::usable(self, worker)
    }

    fn lost(&self, worker: &Worker) -> impl Future<Output = ()> + Send + 'static {
        Cluster::lost(self, worker)
    }

    fn node_lost(&self, worker: &Worker) -> impl Future<Output = bool> + Send {
        Cluster::node_lost(self, worker)
    }
}
