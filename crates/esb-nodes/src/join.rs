//! The box's side of a join: a token, a name, an address and a CSR in; a node
//! certificate, the CA and a registry record out. All of it under the `nodes/` lock, so
//! the token is spent exactly when the node is registered.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use esb_state::StateDir;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::box_ca::BoxCa;
use crate::error::NodesError;
use crate::join_error::JoinError;
use crate::join_token::{self, TokenStore};
use crate::node_record::{NodeFile, NodeRecord, NodeRegistry, valid_node_name};
use crate::store_file::{self, now_ms};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JoinRequest {
    pub token: String,
    /// The node's own name (`esb agent --name`); a name the token assigns wins.
    pub name: String,
    /// `host:port` the gateway reaches the node's gRPC at.
    pub address: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The node's certificate request; its key never leaves the node.
    pub csr_pem: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct JoinResponse {
    /// The name the node is registered as (the token's, when it names one).
    pub node_name: String,
    pub cert_pem: String,
    pub ca_pem: String,
    /// How the node's workers reach the box's services.
    pub box_host: String,
    /// Where the node pulls function images from.
    pub registry: Option<String>,
}

/// The address's host as an IP (for the certificate's IP SAN) or a DNS name.
enum Host {
    Ip(IpAddr),
    Name(String),
}

fn parse_address(address: &str) -> Result<Host, JoinError> {
    let invalid = || JoinError::InvalidAddress(address.to_string());
    if let Ok(socket) = address.parse::<SocketAddr>() {
        return match socket.port() {
            0 => Err(invalid()),
            _ => Ok(Host::Ip(socket.ip())),
        };
    }
    let (host, port) = address.rsplit_once(':').ok_or_else(invalid)?;
    let port: u16 = port.parse().map_err(|_| invalid())?;
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if port == 0 || host.len() > 253 || !host.split('.').all(label_ok) {
        return Err(invalid());
    }
    Ok(Host::Name(host.to_ascii_lowercase()))
}

fn check_labels(labels: &BTreeMap<String, String>) -> Result<(), JoinError> {
    if labels.len() > 64 {
        return Err(JoinError::InvalidLabels("at most 64 labels".into()));
    }
    for (k, v) in labels {
        let key_ok = !k.is_empty()
            && k.len() <= 63
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b));
        if !key_ok || v.len() > 255 || v.chars().any(char::is_control) {
            return Err(JoinError::InvalidLabels(format!(
                "{k:?}={v:?}: keys are letters, digits, '-', '_', '.', '/' (at most 63), values at most 255 characters"
            )));
        }
    }
    Ok(())
}

/// Joins the node `req` describes: spends its token, signs its CSR (SANs: the
/// address's IP or host name, and `<name>.node.esb`) and registers it. The caller
/// serves the answer (see [`crate::join_router::router`]).
pub fn accept(
    state: &StateDir,
    req: JoinRequest,
    box_host: &str,
    registry: Option<String>,
) -> Result<(JoinResponse, NodeRecord), JoinError> {
    // Checked before the token is looked at: a token is not spent on a bad request.
    let host = parse_address(&req.address)?;
    check_labels(&req.labels)?;
    let tokens = TokenStore::open(state);
    let nodes = NodeRegistry::open(state);
    let _lock = store_file::lock(&state.nodes())?;
    let mut token_file = tokens.load_locked()?;
    let grant = tokens.check_locked(&token_file, &req.token)?;
    let name = grant.name.clone().unwrap_or(req.name);
    if !valid_node_name(&name) {
        return Err(JoinError::InvalidName(name));
    }
    let registered: NodeFile = store_file::read_json(&nodes.path())?;
    if registered.nodes.iter().any(|n| n.name == name) && grant.name.as_ref() != Some(&name) {
        return Err(JoinError::NameTaken(name));
    }
    let mut labels = req.labels;
    labels.extend(grant.labels.clone());

    let ca = BoxCa::load(state)?;
    let (ips, dns) = match host {
        Host::Ip(ip) => (vec![ip], vec![]),
        Host::Name(n) => (vec![], vec![n]),
    };
    let cert_pem = ca
        .sign_node(&req.csr_pem, &name, &ips, &dns)
        .map_err(|e| match e {
            NodesError::Certificate(e) => JoinError::InvalidCsr(e.to_string()),
            other => JoinError::Box(other),
        })?;
    let cert_der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
        .map_err(|e| NodesError::Pem(e.to_string()))?;
    let record = NodeRecord {
        name: name.clone(),
        address: req.address,
        labels,
        joined_at_ms: now_ms(),
        cert_sha256: hex::encode(Sha256::digest(cert_der.as_ref())),
    };
    join_token::mark_used(&mut token_file, &grant.id, &name);
    tokens.save_locked(&token_file)?;
    nodes.upsert_locked(record.clone())?;
    tracing::info!(node = %name, address = %record.address, token = %grant.id, "node joined");
    let response = JoinResponse {
        node_name: name,
        cert_pem,
        ca_pem: ca.cert_pem().to_string(),
        box_host: box_host.to_string(),
        registry,
    };
    Ok((response, record))
}
