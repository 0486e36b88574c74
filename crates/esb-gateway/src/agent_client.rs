//! The gateway's side of the gRPC contract, with a deadline on every call.

use std::time::Duration;

use esb_proto::AgentServiceClient;
use esb_proto::agent::{EnsureWorkerRequest, FunctionSpec, Worker, WorkerRef};
use tonic::transport::{Channel, Endpoint};

/// Starting a worker includes the runtime's first start (a Python venv may be built).
const ENSURE_DEADLINE: Duration = Duration::from_secs(120);
const CONTROL_DEADLINE: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("invalid agent address {0}")]
    Address(String),
    #[error("agent call {call} failed: {status}")]
    Call {
        call: &'static str,
        status: Box<tonic::Status>,
    },
}

impl AgentError {
    /// The agent did not answer at all (not started yet, or restarting).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, AgentError::Call { status, .. } if status.code() == tonic::Code::Unavailable)
    }
}

#[derive(Clone)]
pub struct AgentClient {
    client: AgentServiceClient<Channel>,
}

impl AgentClient {
    /// Connects lazily: the agent may start after the gateway.
    pub fn new(url: &str) -> Result<Self, AgentError> {
        let endpoint = Endpoint::from_shared(url.to_string())
            .map_err(|_| AgentError::Address(url.to_string()))?
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true);
        Ok(Self {
            client: AgentServiceClient::new(endpoint.connect_lazy()),
        })
    }

    pub async fn ensure(&self, spec: &FunctionSpec, worker_id: &str) -> Result<Worker, AgentError> {
        let mut req = tonic::Request::new(EnsureWorkerRequest {
            function: Some(spec.clone()),
            worker_id: worker_id.to_string(),
        });
        req.set_timeout(ENSURE_DEADLINE);
        self.client
            .clone()
            .ensure_worker(req)
            .await
            .map(tonic::Response::into_inner)
            .map_err(|status| AgentError::Call {
                call: "EnsureWorker",
                status: Box::new(status),
            })
    }

    pub async fn pause(&self, worker_id: &str) -> Result<(), AgentError> {
        let mut req = tonic::Request::new(WorkerRef {
            worker_id: worker_id.to_string(),
        });
        req.set_timeout(CONTROL_DEADLINE);
        self.client
            .clone()
            .pause_worker(req)
            .await
            .map(|_| ())
            .map_err(|status| AgentError::Call {
                call: "PauseWorker",
                status: Box::new(status),
            })
    }

    /// The ids of the agent's live workers (the agent drops dead ones as it looks).
    pub async fn live_workers(&self) -> Result<std::collections::HashSet<String>, AgentError> {
        let mut req = tonic::Request::new(esb_proto::agent::ListWorkersRequest::default());
        req.set_timeout(CONTROL_DEADLINE);
        self.client
            .clone()
            .list_workers(req)
            .await
            .map(|r| r.into_inner().workers.into_iter().map(|w| w.id).collect())
            .map_err(|status| AgentError::Call {
                call: "ListWorkers",
                status: Box::new(status),
            })
    }

    pub async fn destroy(&self, worker_id: &str) -> Result<(), AgentError> {
        let mut req = tonic::Request::new(WorkerRef {
            worker_id: worker_id.to_string(),
        });
        req.set_timeout(CONTROL_DEADLINE);
        self.client
            .clone()
            .destroy_worker(req)
            .await
            .map(|_| ())
            .map_err(|status| AgentError::Call {
                call: "DestroyWorker",
                status: Box::new(status),
            })
    }
}
