//! `esb node add` on a box, `esb agent --join` on a "node": the printed command joins
//! over the real join endpoint, and the agent then serves the box's gateway identity
//! over mutual TLS, and nothing else.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use esb_nodes::{JoinContext, NodeRecord, NodeRegistry};
use esb_proto::AgentServiceClient;
use esb_proto::agent::InfoRequest;
use esb_state::StateDir;
use tonic::transport::{Channel, ClientTlsConfig};

use crate::support::{self, free_addr, terminate};

fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("esb-node-join-")
        .tempdir()
        .expect("temp dir")
}

/// Serves the join endpoint on `listener` with the box's own server certificate.
fn serve_join(state: &StateDir, listener: tokio::net::TcpListener) -> Arc<Mutex<Vec<NodeRecord>>> {
    let joined = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&joined);
    let router = esb_nodes::router(JoinContext {
        state: state.clone(),
        box_host: "127.0.0.1".into(),
        registry: None,
        on_join: Arc::new(move |record| seen.lock().expect("lock").push(record)),
    });
    let tls = esb_gateway::tls::server_config(&esb_gateway::certs::CertPaths::under(state))
        .expect("box TLS");
    tokio::spawn(esb_listener::serve(
        listener,
        Some(tls),
        esb_listener::Limits::default(),
        move |req, _| {
            let mut router = router.clone();
            async move {
                match tower_service::Service::call(&mut router, req).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                }
            }
        },
        std::future::pending(),
    ));
    joined
}

fn start_agent(args: &[&str], state: &Path, listen: SocketAddr) -> Child {
    let mut child = support::esb_command()
        .args([
            "agent",
            "--runtime",
            "process",
            "--listen",
            &listen.to_string(),
        ])
        .args(args)
        .arg("--state-dir")
        .arg(state)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start esb agent");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(listen).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            use std::io::Read;
            let _ = child
                .stderr
                .take()
                .expect("stderr")
                .read_to_string(&mut err);
            panic!("esb agent exited ({status}): {err}");
        }
        assert!(Instant::now() < deadline, "agent did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

async fn get_info(url: String, tls: Option<ClientTlsConfig>) -> Result<(), String> {
    let mut endpoint = Channel::from_shared(url)
        .expect("url")
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(5));
    if let Some(tls) = tls {
        endpoint = endpoint.tls_config(tls).map_err(|e| e.to_string())?;
    }
    let channel = endpoint.connect().await.map_err(|e| format!("{e:?}"))?;
    AgentServiceClient::new(channel)
        .get_info(InfoRequest::default())
        .await
        .map(|_| ())
        .map_err(|e| format!("{e:?}"))
}

fn esb(args: &[&str]) -> (bool, String, String) {
    let out = support::esb_command().args(args).output().expect("run esb");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_joins_with_the_printed_command_and_then_serves_only_the_box() {
    let root = temp_dir();
    let box_dir = root.path().join("box");
    let agent_dir = root.path().join("agent");
    let box_state = StateDir::new(&box_dir);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "https://127.0.0.1:{}",
        listener.local_addr().expect("addr").port()
    );

    let box_arg = box_dir.to_str().expect("utf-8");
    let (ok, stdout, stderr) = esb(&[
        "node",
        "add",
        "--state-dir",
        box_arg,
        "--box-url",
        &url,
        "--name",
        "edge-1",
        "--label",
        "zone=a",
        "--ttl",
        "10m",
    ]);
    assert!(ok, "{stderr}");
    let token = stdout
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("esbjoin1."))
        .unwrap_or_else(|| panic!("no token in {stdout}"))
        .to_string();
    assert!(
        stdout.contains(&format!("esb agent --join {url} --token {token} --listen ")),
        "{stdout}"
    );
    let id = token.split('.').nth(1).expect("id").to_string();
    let (_, listed, _) = esb(&["node", "tokens", "--state-dir", box_arg]);
    assert!(
        listed.contains(&id) && listed.contains("zone=a"),
        "{listed}"
    );
    assert!(
        !listed.contains(&token),
        "tokens are listed without their secret"
    );

    let joined = serve_join(&box_state, listener);
    let agent_addr = free_addr();
    let join_args = [
        "--join",
        url.as_str(),
        "--token",
        token.as_str(),
        "--label",
        "disk=ssd",
    ];
    let mut agent = start_agent(&join_args, &agent_dir, agent_addr);

    let records = NodeRegistry::open(&box_state).list().expect("registry");
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].name, "edge-1");
    assert_eq!(records[0].address, agent_addr.to_string());
    assert_eq!(records[0].labels.get("zone").map(String::as_str), Some("a"));
    assert_eq!(
        records[0].labels.get("disk").map(String::as_str),
        Some("ssd")
    );
    assert_eq!(*joined.lock().expect("lock"), records);
    let (_, listed, _) = esb(&["node", "tokens", "--state-dir", box_arg]);
    assert!(listed.contains("used by edge-1"), "{listed}");

    // The gateway's identity is served; plain gRPC and other clients are not.
    let https = format!("https://{agent_addr}");
    let gateway = esb_nodes::gateway_client_tls(&box_state).expect("gateway TLS");
    get_info(https.clone(), Some(gateway.clone()))
        .await
        .expect("gateway");
    let plain = get_info(format!("http://{agent_addr}"), None).await;
    assert!(plain.is_err(), "plain gRPC is refused");
    let anonymous = ClientTlsConfig::new().ca_certificate(tonic::transport::Certificate::from_pem(
        std::fs::read(box_dir.join("certs/ca.pem")).expect("ca"),
    ));
    assert!(get_info(https.clone(), Some(anonymous)).await.is_err());

    // A restart with the same command line serves the stored credentials: no re-join.
    terminate(&mut agent, Duration::from_secs(10));
    let mut agent = start_agent(&join_args, &agent_dir, agent_addr);
    get_info(https.clone(), Some(gateway.clone()))
        .await
        .expect("after restart");
    assert_eq!(joined.lock().expect("lock").len(), 1, "no second join");
    terminate(&mut agent, Duration::from_secs(10));
    // And without any join flag at all.
    let mut agent = start_agent(&[], &agent_dir, agent_addr);
    get_info(https, Some(gateway))
        .await
        .expect("stored credentials");
    terminate(&mut agent, Duration::from_secs(10));
}

#[test]
fn an_agent_without_credentials_refuses_to_listen_beyond_loopback() {
    let root = temp_dir();
    let state = root.path().join("agent");
    let (ok, _, stderr) = esb(&[
        "agent",
        "--runtime",
        "process",
        "--listen",
        "0.0.0.0:0",
        "--state-dir",
        state.to_str().expect("utf-8"),
    ]);
    assert!(!ok);
    assert!(stderr.contains("runs anyone's code"), "{stderr}");
}

#[test]
fn tokens_are_revoked_by_id() {
    let root = temp_dir();
    let state = root.path().join("box");
    let state = state.to_str().expect("utf-8");
    let (ok, stdout, stderr) = esb(&[
        "node",
        "add",
        "--state-dir",
        state,
        "--box-url",
        "https://10.0.0.1:8443",
    ]);
    assert!(ok, "{stderr}");
    let id = stdout
        .split_whitespace()
        .find(|w| w.starts_with("esbjoin1."))
        .and_then(|t| t.split('.').nth(1))
        .expect("token id")
        .to_string();
    let (ok, _, _) = esb(&["node", "revoke", &id, "--state-dir", state]);
    assert!(ok);
    let (_, listed, _) = esb(&["node", "tokens", "--state-dir", state]);
    assert!(listed.contains("revoked"), "{listed}");
    let (ok, _, stderr) = esb(&["node", "revoke", "0badf00d", "--state-dir", state]);
    assert!(!ok);
    assert!(stderr.contains("no join token 0badf00d"), "{stderr}");
}
