//! The gateway ↔ node gRPC's mutual TLS. The node serves with its certificate and
//! demands a client certificate from the box's CA with the clientAuth usage, which
//! only the gateway's identity has (node certificates are serverAuth only: a node
//! cannot drive another). The gateway trusts the box's CA alone for nodes.
//!
//! The gateway connects to `https://<address>` of a [`crate::node_record::NodeRecord`]; the node's
//! certificate names the address's IP (or host) and `<name>.node.esb`. An IPv4
//! address verifies as it is; for an IPv6 address (tonic passes the bracketed host to
//! rustls) set `ClientTlsConfig::domain_name(node_domain(name))`, which always works.

use esb_state::StateDir;
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

use crate::box_ca::BoxCa;
use crate::error::NodesError;
use crate::node_credentials::NodeCredentials;

/// TLS for a joined agent's gRPC server: client certificates required.
pub fn agent_server_tls(creds: &NodeCredentials) -> Result<ServerTlsConfig, NodesError> {
    Ok(ServerTlsConfig::new()
        .identity(Identity::from_pem(&creds.cert_pem, &creds.key_pem))
        .client_ca_root(Certificate::from_pem(&creds.ca_pem))
        .client_auth_optional(false))
}

/// TLS for the gateway's channels to nodes: its identity (made on first use), the
/// box's CA as the only root.
pub fn gateway_client_tls(state: &StateDir) -> Result<ClientTlsConfig, NodesError> {
    let ca = BoxCa::load(state)?;
    let (cert, key) = ca.gateway_identity()?;
    Ok(ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca.cert_pem()))
        .identity(Identity::from_pem(cert, key)))
}
