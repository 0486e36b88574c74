//! A box's state dir with a CA (as esb-gateway's certs module leaves it) and the join
//! router served over TLS with a server certificate from that CA.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use esb_nodes::{JoinContext, NodeRecord};
use esb_state::StateDir;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

pub struct TestBox {
    pub dir: tempfile::TempDir,
    pub state: StateDir,
}

/// A CA (cert PEM, issuer) named `name`.
pub fn new_ca(name: &str) -> (String, String, Issuer<'static, KeyPair>) {
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.distinguished_name.push(DnType::CommonName, name);
    let cert = params.self_signed(&key).expect("ca");
    let key_pem = key.serialize_pem();
    (cert.pem(), key_pem, Issuer::new(params, key))
}

/// A server certificate for 127.0.0.1 and localhost: (cert PEM, key PEM).
pub fn server_cert(issuer: &Issuer<'static, KeyPair>) -> (String, String) {
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).expect("params");
    params
        .subject_alt_names
        .push(SanType::IpAddress(IpAddr::from([127, 0, 0, 1])));
    let cert = params.signed_by(&key, issuer).expect("leaf");
    (cert.pem(), key.serialize_pem())
}

impl TestBox {
    pub fn new() -> TestBox {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = StateDir::new(dir.path().join("box"));
        let certs = state.certs();
        std::fs::create_dir_all(&certs).expect("certs");
        let (ca, key, issuer) = new_ca("ESB local CA");
        std::fs::write(certs.join("ca.pem"), ca).expect("ca");
        std::fs::write(certs.join("ca-key.pem"), key).expect("ca key");
        let (cert, key) = server_cert(&issuer);
        std::fs::write(certs.join("server.pem"), cert).expect("server");
        std::fs::write(certs.join("server-key.pem"), key).expect("server key");
        TestBox { dir, state }
    }

    pub fn ca_pem(&self) -> String {
        std::fs::read_to_string(self.state.certs().join("ca.pem")).expect("ca")
    }

    /// Serves the join router over HTTPS on 127.0.0.1; returns the URL and the records
    /// the join callback received.
    pub async fn serve(&self) -> (String, Arc<Mutex<Vec<NodeRecord>>>) {
        let joined = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&joined);
        let router = esb_nodes::router(JoinContext {
            state: self.state.clone(),
            box_host: "box.example".into(),
            registry: Some("registry.example:5000".into()),
            on_join: Arc::new(move |record| seen.lock().expect("lock").push(record)),
        });
        let certs = self.state.certs();
        let chain = vec![CertificateDer::from_pem_file(certs.join("server.pem")).expect("cert")];
        let key = PrivateKeyDer::from_pem_file(certs.join("server-key.pem")).expect("key");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("tls");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                let router = router.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = hyper_util::service::TowerToHyperService::new(router);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        (format!("https://127.0.0.1:{}", addr.port()), joined)
    }
}

/// Whether `cert_pem` verifies under `ca_pem` as a TLS server named `name`.
pub fn verifies_as_server(ca_pem: &str, cert_pem: &str, name: &str) -> bool {
    use rustls::client::WebPkiServerVerifier;
    use rustls::client::danger::ServerCertVerifier;
    use rustls::pki_types::{ServerName, UnixTime};
    let verifier = WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots(ca_pem)),
        Arc::new(rustls::crypto::ring::default_provider()),
    )
    .build()
    .expect("verifier");
    let leaf = CertificateDer::from_pem_slice(cert_pem.as_bytes()).expect("leaf");
    let name = ServerName::try_from(name.to_string()).expect("name");
    verifier
        .verify_server_cert(&leaf, &[], &name, &[], UnixTime::now())
        .is_ok()
}

/// Whether `cert_pem` verifies under `ca_pem` as a TLS client.
pub fn verifies_as_client(ca_pem: &str, cert_pem: &str) -> bool {
    use rustls::pki_types::UnixTime;
    use rustls::server::WebPkiClientVerifier;
    let verifier = WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots(ca_pem)),
        Arc::new(rustls::crypto::ring::default_provider()),
    )
    .build()
    .expect("verifier");
    let leaf = CertificateDer::from_pem_slice(cert_pem.as_bytes()).expect("leaf");
    verifier
        .verify_client_cert(&leaf, &[], UnixTime::now())
        .is_ok()
}

fn roots(ca_pem: &str) -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).expect("ca"))
        .expect("root");
    roots
}

/// A CSR for a fresh key: (CSR PEM, key PEM).
pub fn csr(cn: &str) -> (String, String) {
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(vec!["evil.example".to_string()]).expect("params");
    params.distinguished_name.push(DnType::CommonName, cn);
    // Asked for, never granted: the box decides what a node certificate may do.
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let csr = params.serialize_request(&key).expect("csr");
    (csr.pem().expect("pem"), key.serialize_pem())
}
