//! Machines joining a box. A box spans several machines: an agent on another machine
//! (a node) joins with a one-time token (`esb node add` makes it), gets a certificate
//! from the box's CA for a key it keeps, and from then the gateway drives it over
//! mutual TLS: the gateway presents a client certificate only it holds, the node a
//! server certificate only it holds, both issued by the box's CA.

pub mod box_ca;
pub mod error;
pub mod join;
pub mod join_client;
pub mod join_error;
pub mod join_router;
pub mod join_token;
pub mod local_ips;
pub mod mtls;
pub mod node_credentials;
pub mod node_record;
mod store_file;

pub use box_ca::{BoxCa, ca_sha256_of_pem, node_domain};
pub use error::NodesError;
pub use join::{JoinRequest, JoinResponse, accept};
pub use join_client::join;
pub use join_error::JoinError;
pub use join_router::{JoinContext, OnJoin, router};
pub use join_token::{JoinGrant, TokenInfo, TokenStore};
pub use local_ips::local_ips;
pub use mtls::{agent_server_tls, gateway_client_tls, gateway_worker_tls};
pub use node_credentials::{Joined, NodeCredentials};
pub use node_record::{NodeRecord, NodeRegistry, valid_node_name};
