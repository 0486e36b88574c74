//! The gateway ↔ node gRPC: only the gateway's identity may call a node, and the
//! gateway talks only to nodes of its own box.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use esb_nodes::{
    BoxCa, Joined, NodeCredentials, agent_server_tls, gateway_client_tls, node_domain,
};
use esb_proto::agent::*;
use esb_proto::{AgentService, AgentServiceClient, AgentServiceServer};
use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyPair};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity, Server};
use tonic::{Request, Response, Status};

use crate::support::{TestBox, csr, new_ca, server_cert};

/// Answers GetInfo; nothing else is called.
struct InfoOnly;

#[tonic::async_trait]
impl AgentService for InfoOnly {
    async fn ensure_worker(
        &self,
        _: Request<EnsureWorkerRequest>,
    ) -> Result<Response<Worker>, Status> {
        Err(Status::unimplemented("test"))
    }
    async fn destroy_worker(
        &self,
        _: Request<WorkerRef>,
    ) -> Result<Response<DestroyWorkerResponse>, Status> {
        Err(Status::unimplemented("test"))
    }
    async fn pause_worker(&self, _: Request<WorkerRef>) -> Result<Response<Worker>, Status> {
        Err(Status::unimplemented("test"))
    }
    async fn resume_worker(&self, _: Request<WorkerRef>) -> Result<Response<Worker>, Status> {
        Err(Status::unimplemented("test"))
    }
    async fn list_workers(
        &self,
        _: Request<ListWorkersRequest>,
    ) -> Result<Response<ListWorkersResponse>, Status> {
        Err(Status::unimplemented("test"))
    }
    async fn get_metrics(
        &self,
        _: Request<MetricsRequest>,
    ) -> Result<Response<MetricsResponse>, Status> {
        Err(Status::unimplemented("test"))
    }
    async fn prepare_worker(
        &self,
        _: Request<esb_proto::agent::PrepareWorkerRequest>,
    ) -> Result<Response<esb_proto::agent::PrepareWorkerResponse>, Status> {
        Err(Status::unimplemented("test"))
    }
    async fn get_info(&self, _: Request<InfoRequest>) -> Result<Response<AgentInfo>, Status> {
        Ok(Response::new(AgentInfo::default()))
    }
    async fn push_artifact(
        &self,
        _: Request<tonic::Streaming<esb_proto::agent::ArtifactChunk>>,
    ) -> Result<Response<esb_proto::agent::ArtifactStored>, Status> {
        Err(Status::unimplemented("test"))
    }
}

/// Credentials for node `name` at 127.0.0.1, signed by the box's CA.
fn node_credentials(b: &TestBox, name: &str) -> NodeCredentials {
    let ca = BoxCa::load(&b.state).unwrap();
    let (csr_pem, key_pem) = csr(name);
    let cert_pem = ca
        .sign_node(&csr_pem, name, &["127.0.0.1".parse().unwrap()], &[])
        .unwrap();
    NodeCredentials {
        dir: b.dir.path().join(name),
        ca_pem: ca.cert_pem().to_string(),
        cert_pem,
        key_pem,
        joined: Joined {
            box_url: "https://127.0.0.1:1".into(),
            box_host: "box".into(),
            node_name: name.into(),
            registry: None,
            labels: BTreeMap::new(),
            address: "127.0.0.1:1".into(),
            token_id: String::new(),
        },
    }
}

async fn serve(tls: tonic::transport::ServerTlsConfig) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = Server::builder()
        .tls_config(tls)
        .unwrap()
        .add_service(AgentServiceServer::new(InfoOnly));
    tokio::spawn(
        router.serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    addr
}

/// Whether a GetInfo over `tls` to `url` succeeds.
async fn call(url: &str, tls: ClientTlsConfig) -> Result<(), String> {
    let channel = Channel::from_shared(url.to_string())
        .unwrap()
        .tls_config(tls)
        .map_err(|e| e.to_string())?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(5))
        .connect()
        .await
        .map_err(|e| format!("connect: {e:?}"))?;
    AgentServiceClient::new(channel)
        .get_info(InfoRequest::default())
        .await
        .map(|_| ())
        .map_err(|e| format!("call: {e:?}"))
}

/// A clientAuth certificate from `issuer`: (cert PEM, key PEM).
fn client_cert(issuer: &rcgen::Issuer<'static, KeyPair>) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "esb-gateway");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    (
        params.signed_by(&key, issuer).unwrap().pem(),
        key.serialize_pem(),
    )
}

#[tokio::test]
async fn a_node_serves_the_gateway_identity_and_no_one_else() {
    let b = TestBox::new();
    let node = node_credentials(&b, "edge-1");
    let addr = serve(agent_server_tls(&node).unwrap()).await;
    let url = format!("https://{addr}");
    let ca = Certificate::from_pem(b.ca_pem());

    // The gateway: its identity, the node verified by its IP SAN...
    call(&url, gateway_client_tls(&b.state).unwrap())
        .await
        .unwrap();
    // ...or by its node name.
    call(
        &url,
        gateway_client_tls(&b.state)
            .unwrap()
            .domain_name(node_domain("edge-1")),
    )
    .await
    .unwrap();
    // The identity is made once and kept (0600).
    let kept = std::fs::read(b.state.nodes().join("gateway.pem")).unwrap();
    gateway_client_tls(&b.state).unwrap();
    assert_eq!(
        std::fs::read(b.state.nodes().join("gateway.pem")).unwrap(),
        kept
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(b.state.nodes().join("gateway-key.pem"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // No client certificate.
    let anonymous = ClientTlsConfig::new().ca_certificate(ca.clone());
    let e = call(&url, anonymous).await.unwrap_err();
    assert!(e.contains("CertificateRequired"), "no certificate: {e}");

    // A client certificate from another CA.
    let (_, _, other) = new_ca("ESB local CA");
    let (cert, key) = client_cert(&other);
    let stranger = ClientTlsConfig::new()
        .ca_certificate(ca.clone())
        .identity(Identity::from_pem(cert, key));
    let e = call(&url, stranger).await.unwrap_err();
    assert!(e.contains("alert"), "another CA's client: {e}");

    // Another node of the same box, presenting its own (serverAuth) certificate.
    let peer = node_credentials(&b, "edge-2");
    let as_node = ClientTlsConfig::new()
        .ca_certificate(ca.clone())
        .identity(Identity::from_pem(&peer.cert_pem, &peer.key_pem));
    let e = call(&url, as_node).await.unwrap_err();
    assert!(
        e.contains("UnsupportedCertificate"),
        "a node cannot drive another node: {e}"
    );
}

#[tokio::test]
async fn the_gateway_refuses_a_node_whose_certificate_is_from_another_ca() {
    let b = TestBox::new();
    let (other_pem, _, other) = new_ca("ESB local CA");
    let (cert, key) = server_cert(&other);
    let tls = tonic::transport::ServerTlsConfig::new()
        .identity(Identity::from_pem(cert, key))
        .client_ca_root(Certificate::from_pem(other_pem));
    let addr = serve(tls).await;
    let e = call(
        &format!("https://{addr}"),
        gateway_client_tls(&b.state).unwrap(),
    )
    .await
    .unwrap_err();
    assert!(e.contains("InvalidCertificate"), "{e}");
}
