//! The gateway's side of the gRPC contract, with a deadline on every call.

use std::time::Duration;

use esb_proto::AgentServiceClient;
use esb_proto::agent::{
    AgentInfo, ArtifactChunk, EnsureWorkerRequest, FunctionSpec, InfoRequest, PrepareWorkerRequest,
    Worker, WorkerRef,
};
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};

/// Starting a worker includes the runtime's first start (a Python venv may be built).
const ENSURE_DEADLINE: Duration = Duration::from_secs(120);
const CONTROL_DEADLINE: Duration = Duration::from_secs(10);
/// An artifact may be hundreds of MB over a slow link.
const PUSH_DEADLINE: Duration = Duration::from_secs(600);
/// Bytes per `ArtifactChunk`: well under gRPC's 4 MiB message limit.
const CHUNK_BYTES: usize = 1 << 20;

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
    /// A function's directory could not be packed for a remote node.
    #[error(transparent)]
    Artifact(#[from] esb_proto::artifact::ArtifactError),
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

    /// The first artifact a remote node said it lacks (see [`Self::missing_artifacts`]).
    pub fn missing_artifact(&self) -> Option<String> {
        self.missing_artifacts().into_iter().next()
    }

    /// The artifacts a remote node's `EnsureWorker` said it lacks (`FAILED_PRECONDITION`
    /// with `esb-missing-artifact`): push them and ask again.
    pub fn missing_artifacts(&self) -> Vec<String> {
        let AgentError::Call { status, .. } = self else {
            return Vec::new();
        };
        if status.code() != tonic::Code::FailedPrecondition {
            return Vec::new();
        }
        status
            .metadata()
            .get(MISSING_ARTIFACT_KEY)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(',')
                    .filter(|h| esb_proto::artifact::is_valid_hash(h))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
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

/// The metadata key of the artifacts an agent lacks (esb-agent's `MISSING_ARTIFACT_KEY`).
pub const MISSING_ARTIFACT_KEY: &str = "esb-missing-artifact";

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

    /// Asks the agent to ready the function's first worker (best effort).
    pub async fn prepare(&self, spec: &FunctionSpec) -> Result<(), AgentError> {
        let mut req = tonic::Request::new(PrepareWorkerRequest {
            function: Some(spec.clone()),
        });
        req.set_timeout(Duration::from_secs(5));
        self.client
            .clone()
            .prepare_worker(req)
            .await
            .map(|_| ())
            .map_err(|status| AgentError::Call {
                call: "PrepareWorker",
                status: Box::new(status),
            })
    }

    /// Sends the artifact `hash` (its tar bytes) to the agent in 1 MiB chunks; `true`
    /// when the agent already had it. The agent refuses bytes that do not hash to `hash`.
    pub async fn push_artifact(&self, hash: &str, bytes: bytes::Bytes) -> Result<bool, AgentError> {
        let hash = hash.to_string();
        let count = bytes.len().div_ceil(CHUNK_BYTES).max(1);
        // Each chunk is copied as the stream is read, not all at once.
        let stream = tokio_stream::iter((0..count).map(move |i| {
            let start = i * CHUNK_BYTES;
            let end = (start + CHUNK_BYTES).min(bytes.len());
            ArtifactChunk {
                hash: if i == 0 { hash.clone() } else { String::new() },
                data: bytes.slice(start..end).to_vec(),
            }
        }));
        let mut req = tonic::Request::new(stream);
        req.set_timeout(PUSH_DEADLINE);
        self.client
            .clone()
            .push_artifact(req)
            .await
            .map(|r| r.into_inner().existed)
            .map_err(|status| AgentError::Call {
                call: "PushArtifact",
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
