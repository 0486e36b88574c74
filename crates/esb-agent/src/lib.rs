//! ESB's agent: owns the workers of one machine. The gateway asks it, over gRPC
//! (`esb.agent.v1.AgentService`), for workers of a function; the agent starts them
//! through a [`runtime::WorkerRuntime`] (local processes or Docker containers), tracks them on disk
//! so a restarted agent re-adopts them, and stops them on request or at shutdown.

pub mod box_identity;
pub mod container_env;
pub mod docker_network;
pub mod memory_limit;
pub mod node_capacity;
pub mod orphan_logs;
pub mod python_env;
pub mod remote_env;
pub mod runtime;
pub mod service;
pub mod worker_env;
pub mod worker_record;

pub use service::Agent;
