//! The node's side of a join. Nothing is trusted until pinned: the box's CA is fetched
//! over a TLS connection that verifies nothing, then accepted only if its SHA-256 is
//! the fingerprint inside the token (which came to the operator from the box). The join
//! itself then goes over TLS trusting that CA alone. The node's key is made here and
//! never sent.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use rcgen::{CertificateParams, DnType, KeyPair};

use crate::box_ca::ca_sha256_of_pem;
use crate::error::NodesError;
use crate::join::{JoinRequest, JoinResponse};
use crate::join_error::JoinError;
use crate::join_router::{CA_PATH, JOIN_PATH};
use crate::join_token::{token_ca_sha256, token_id};
use crate::node_credentials::{Joined, NodeCredentials};

const TIMEOUT: Duration = Duration::from_secs(30);

/// Joins the box at `box_url` (`https://host:port`, the box's gateway) as `name`,
/// serving gRPC at `address`, and stores the credentials in `dir`.
pub async fn join(
    box_url: &str,
    token: &str,
    name: &str,
    address: &str,
    labels: BTreeMap<String, String>,
    dir: &Path,
) -> Result<NodeCredentials, JoinError> {
    let base = box_url.trim_end_matches('/');
    if !base.starts_with("https://") {
        return Err(JoinError::Unreachable {
            url: box_url.to_string(),
            reason: "the box URL must be https://host:port".into(),
        });
    }
    let expected_ca = token_ca_sha256(token)?;
    let unreachable = |e: reqwest::Error| JoinError::Unreachable {
        url: base.to_string(),
        reason: error_chain(&e),
    };

    // Any certificate goes here: what is fetched is checked against the token.
    let untrusted = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .tls_built_in_root_certs(false)
        .timeout(TIMEOUT)
        .build()
        .map_err(unreachable)?;
    let answer = untrusted
        .get(format!("{base}{CA_PATH}"))
        .send()
        .await
        .map_err(unreachable)?;
    if !answer.status().is_success() {
        return Err(refusal(answer).await);
    }
    let ca_pem = answer.text().await.map_err(unreachable)?;
    match ca_sha256_of_pem(&ca_pem) {
        Ok(sha) if sha == expected_ca => {}
        _ => return Err(JoinError::WrongBox(base.to_string())),
    }

    let key = KeyPair::generate().map_err(NodesError::from)?;
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(NodesError::from)?;
    params.distinguished_name.push(DnType::CommonName, name);
    let csr_pem = params
        .serialize_request(&key)
        .and_then(|csr| csr.pem())
        .map_err(NodesError::from)?;

    let ca_cert = reqwest::Certificate::from_pem(ca_pem.as_bytes()).map_err(unreachable)?;
    let pinned = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca_cert)
        .timeout(TIMEOUT)
        .build()
        .map_err(unreachable)?;
    let request = JoinRequest {
        token: token.trim().to_string(),
        name: name.to_string(),
        address: address.to_string(),
        labels,
        csr_pem,
    };
    let answer = pinned
        .post(format!("{base}{JOIN_PATH}"))
        .json(&request)
        .send()
        .await
        .map_err(unreachable)?;
    if !answer.status().is_success() {
        return Err(refusal(answer).await);
    }
    let response: JoinResponse = answer.json().await.map_err(unreachable)?;
    if response.ca_pem.trim() != ca_pem.trim() {
        return Err(JoinError::WrongBox(base.to_string()));
    }
    let credentials = NodeCredentials {
        dir: dir.to_path_buf(),
        ca_pem,
        cert_pem: response.cert_pem,
        key_pem: key.serialize_pem(),
        joined: Joined {
            box_url: base.to_string(),
            box_host: response.box_host,
            node_name: response.node_name,
            registry: response.registry,
            labels: request.labels,
            address: request.address,
            token_id: token_id(token).unwrap_or_default(),
        },
    };
    credentials.store()?;
    Ok(credentials)
}

/// The box's `{"error", "message"}`, or what it said instead.
async fn refusal(answer: reqwest::Response) -> JoinError {
    #[derive(serde::Deserialize)]
    struct Body {
        error: String,
        message: String,
    }
    let status = answer.status().as_u16();
    let text = answer.text().await.unwrap_or_default();
    match serde_json::from_str::<Body>(&text) {
        Ok(body) => JoinError::Refused {
            status,
            code: body.error,
            message: body.message,
        },
        Err(_) => JoinError::Refused {
            status,
            code: format!("HTTP {status}"),
            message: format!(
                "not an ESB box's answer: {}",
                text.chars().take(200).collect::<String>()
            ),
        },
    }
}

/// reqwest's error with its causes (the TLS reason sits a few levels down).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
