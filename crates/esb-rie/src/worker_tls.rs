//! The Invoke API over mutual TLS, for a worker on another machine than its box: the
//! gateway reaches it across a network, so the events and answers travel encrypted
//! and only a client holding a certificate from the box's CA with the clientAuth usage
//! (the gateway's) is served. Set by the node's agent through `ESB_TLS_CERT`,
//! `ESB_TLS_KEY` and `ESB_TLS_CLIENT_CA` (the node's certificate and key, the box CA).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

/// The files of a worker's TLS identity and of the CA its clients must come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: PathBuf,
}

#[derive(Debug, thiserror::Error)]
#[error("the worker's TLS files ({path}): {reason}")]
pub struct TlsError {
    pub path: PathBuf,
    pub reason: String,
}

fn failed(path: &Path, reason: impl ToString) -> TlsError {
    TlsError {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// A TLS acceptor that demands a client certificate from `files.client_ca`.
pub fn acceptor(files: &TlsFiles) -> Result<tokio_rustls::TlsAcceptor, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| failed(&files.cert, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| failed(&files.cert, e))?;
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| failed(&files.key, e))?;
    let mut roots = rustls::RootCertStore::empty();
    for ca in
        CertificateDer::pem_file_iter(&files.client_ca).map_err(|e| failed(&files.client_ca, e))?
    {
        roots
            .add(ca.map_err(|e| failed(&files.client_ca, e))?)
            .map_err(|e| failed(&files.client_ca, e))?;
    }
    let verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
            .build()
            .map_err(|e| failed(&files.client_ca, e))?;
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| failed(&files.cert, e))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| failed(&files.key, e))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
