//! The gateway's side of the gRPC contract, with a deadline on every call.

use std::time::Duration;

use esb_proto::AgentServiceClient;
use esb_proto::agent::{AgentInfo, EnsureWorkerRequest, FunctionSpec, InfoRequest, Worker, WorkerRef};
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};

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
    #[error("no node can run the worker: {0}")]
    NoNode(#[from] crate::nodes::placement::NoNode),
    #[error("invalid TLS settings for the agent at {url}: {reason}")]
    Tls { url: String, reason: String },
}

impl AgentError {
    /// The agent did not answer at all (not started yet, or restarting).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, AgentError::Call { status, .. } if matches!(status.code(), tonic::Code::Unavailable | tonic::Code::DeadlineExceeded))
    }

    /// The agent runs its maximum of workers.
    pub fn is_full(&self) -> bool {
        matches!(self, AgentError::Call { status, .. } if status.code() == tonic::Code::ResourceExhausted)
    }
}

/// A lazily connected endpoint whose broken connections are noticed in seconds
/// (HTTP/2 pings), so a node that was partitioned is reached again once it is back.
fn endpoint(url: &str) -> Result<Endpoint, AgentError> {
    Ok(Endpoint::from_shared(url.to_string())
        .map_err(|_| AgentError::Address(url.to_string()))?
        .connect_timeout(Duration::from_secs(2))
        .http2_keep_alive_interval(Duration::from_secs(2))
        .keep_alive_timeout(Duration::from_secs(2))
        .keep_alive_while_idle(true)
        .tcp_nodelay(true))
}

#[derive(Clone)]
pub struct AgentClient {
    client: AgentServiceClient<Channel>,
}

impl AgentClient {
    /// Connects lazily: the agent may start after the gateway.
    pub fn new(url: &str) -> Result<Self, AgentError> {
        Ok(Self {
            client: AgentServiceClient::new(endpoint(url)?.connect_lazy()),
        })
    }

    /// An agent on another node, over mutual TLS (`tls`: the gateway's certificate and
    /// the box CA, the only one whose node certificates it accepts).
    pub fn with_tls(url: &str, tls: ClientTlsConfig) -> Result<Self, AgentError> {
        let endpoint = endpoint(url)?
            .tls_config(tls)
            .map_err(|e| AgentError::Tls {
                url: url.to_string(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            client: AgentServiceClient::new(endpoint.connect_lazy()),
        })
    }

    /// The agent's report (its node's capacity and images), within `deadline`: the
    /// heartbeat, so a silent node is noticed however its connection hangs.
    pub async fn info(&self, deadline: Duration) -> Result<AgentInfo, AgentError> {
        let mut req = tonic::Request::new(InfoRequest {});
        req.set_timeout(deadline);
        let failed = |status| AgentError::Call {
            call: "GetInfo",
            status: Box::new(status),
        };
        match tokio::time::timeout(deadline, self.client.clone().get_info(req)).await {
            Ok(answer) => answer.map(tonic::Response::into_inner).map_err(failed),
            Err(_) => Err(failed(tonic::Status::deadline_exceeded(format!(
                "no answer within {deadline:?}"
            )))),
        }
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
