//! rustls server configuration from the box's PEM files.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::certs::CertPaths;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {what} from {path}: {reason}")]
    Pem {
        what: &'static str,
        path: String,
        reason: String,
    },
    #[error("invalid TLS identity: {0}")]
    Rustls(#[from] rustls::Error),
}

pub fn server_config(paths: &CertPaths) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let pem_err = |what, path: &std::path::Path, reason: String| TlsError::Pem {
        what,
        path: path.display().to_string(),
        reason,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&paths.server_cert)
        .map_err(|e| pem_err("the certificate", &paths.server_cert, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| pem_err("the certificate", &paths.server_cert, e.to_string()))?;
    let key = PrivateKeyDer::from_pem_file(&paths.server_key)
        .map_err(|e| pem_err("the private key", &paths.server_key, e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
