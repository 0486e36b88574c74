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

/// TLS for the gateway's invocations of workers on nodes (their Invoke API over
/// mutual TLS): the same identity and root as [`gateway_client_tls`], for rustls.
pub fn gateway_worker_tls(state: &StateDir) -> Result<rustls::ClientConfig, NodesError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let pem = |e: rustls::pki_types::pem::Error| NodesError::Pem(e.to_string());
    let ca = BoxCa::load(state)?;
    let (cert, key) = ca.gateway_identity()?;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca.cert_pem().as_bytes()).map_err(pem)?)
        .map_err(|e| NodesError::Pem(e.to_string()))?;
    let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem)?;
    let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).map_err(pem)?;
    rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .and_then(|b| {
        b.with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
    })
    .map_err(|e| NodesError::Pem(e.to_string()))
}
