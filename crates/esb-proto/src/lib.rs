//! The gRPC contract between ESB's gateway and agent: `esb.agent.v1.AgentService`.

pub mod artifact;

#[allow(clippy::all, missing_docs)]
pub mod agent {
    tonic::include_proto!("esb.agent.v1");
}

pub use agent::agent_service_client::AgentServiceClient;
pub use agent::agent_service_server::{AgentService, AgentServiceServer};
