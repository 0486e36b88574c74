//! A remote node's agent (process runtime, `Agent::with_remote`) driven by the gateway's
//! client over real gRPC: the function's code and layer reach the node as pushed
//! artifacts, the worker runs them from the node's artifact store with its environment
//! pointed at the box and listens on the node's address; unknown artifacts and
//! corrupted pushes are refused.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use esb_agent::Agent;
use esb_agent::remote_env::RemoteBox;
use esb_agent::runtime::process::ProcessRuntime;
use esb_gateway::agent_client::AgentClient;
use esb_gateway::artifact_cache::ArtifactCache;
use esb_gateway::artifact_push::ensure_with_artifacts;
use esb_proto::AgentServiceServer;
use esb_proto::agent::FunctionSpec;
use esb_state::StateDir;

use crate::support;

const NODE_IP: &str = "127.0.0.2";
const BOX_HOST: &str = "127.0.0.3";

/// A node's state dir whose Python runtime is the test venv.
fn node_state(dir: &Path) -> StateDir {
    std::fs::create_dir_all(dir.join("runtimes")).expect("state dir");
    let venv = support::python()
        .parent()
        .and_then(|b| b.parent())
        .expect("venv dir")
        .to_path_buf();
    std::os::unix::fs::symlink(venv, dir.join("runtimes/python")).expect("link the venv");
    StateDir::new(dir)
}

/// The function (on "the box"): a handler reporting where it runs, and a layer.
fn function_dirs(root: &Path) -> (PathBuf, PathBuf) {
    let code = root.join("code");
    let layer = root.join("layer");
    std::fs::create_dir_all(&code).expect("code dir");
    std::fs::create_dir_all(layer.join("python")).expect("layer dir");
    std::fs::write(
        code.join("app.py"),
        r#"import os
import greeting

def handler(event, context):
    names = ["LAMBDA_TASK_ROOT", "AWS_ENDPOINT_URL", "AWS_CA_BUNDLE", "ESB_NODE"]
    out = {k: os.environ.get(k) for k in names}
    out["file"] = __file__
    out["greeting"] = greeting.GREETING
    return out
"#,
    )
    .expect("app.py");
    std::fs::write(
        layer.join("python/greeting.py"),
        "GREETING = 'from the layer'\n",
    )
    .expect("layer module");
    (code, layer)
}

async fn serve(agent: Arc<Agent>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(AgentServiceServer::from_arc(agent))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    format!("http://{addr}")
}

async fn invoke(address: &str) -> serde_json::Value {
    let resp = reqwest::Client::new()
        .post(format!(
            "http://{address}/2015-03-31/functions/function/invocations"
        ))
        .body("{}")
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .expect("invoke the worker");
    assert_eq!(resp.status(), 200);
    resp.json().await.expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_node_runs_pushed_artifacts_pointed_at_the_box() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let state = node_state(&tmp.path().join("node"));
    let (code, layer) = function_dirs(&tmp.path().join("box"));
    let node_ip: IpAddr = NODE_IP.parse().expect("ip");
    let runtime = ProcessRuntime::new(support::esb_bin(), &state, None).with_listen_ip(node_ip);
    let remote = RemoteBox {
        box_host: BOX_HOST.into(),
        ca_path: tmp.path().join("node/box-ca.pem"),
        node_name: "edge-2".into(),
        worker_ip: node_ip,
        // The Invoke API over mutual TLS is the nodes test's (`nodes.rs`).
        worker_tls: None,
    };
    let agent = Arc::new(
        Agent::new(Arc::new(runtime), &state, 4, false)
            .await
            .expect("agent")
            .with_remote(remote.clone()),
    );
    let client = AgentClient::new(&serve(Arc::clone(&agent)).await).expect("client");
    let spec = FunctionSpec {
        name: "where".into(),
        code_dir: code.display().to_string(),
        layers: vec![layer.display().to_string()],
        handler: "app.handler".into(),
        runtime: "python3.11".into(),
        timeout_s: 10,
        memory_mb: 256,
        environment: BTreeMap::from([
            ("AWS_ENDPOINT_URL".into(), "https://127.0.0.1:8443".into()),
            ("AWS_CA_BUNDLE".into(), "/box/state/certs/ca.pem".into()),
        ]),
        ..FunctionSpec::default()
    };

    // An artifact the node was never sent: refused, naming it for the gateway.
    let unknown = "ab".repeat(32);
    let mut bare = spec.clone();
    bare.code_hash = unknown.clone();
    bare.layer_hashes = vec![unknown.clone()];
    let err = client
        .ensure(&bare, "")
        .await
        .expect_err("missing artifact");
    assert_eq!(err.missing_artifact(), Some(unknown.clone()));
    assert!(
        err.to_string()
            .contains(&format!("artifact {unknown} is missing")),
        "{err}"
    );

    // Bytes that do not hash to their name: refused, and nothing is stored.
    let packed = esb_proto::artifact::pack(&code).expect("pack");
    let err = client
        .push_artifact(&unknown, packed.bytes.clone().into())
        .await
        .expect_err("corrupted push");
    assert!(err.to_string().contains("refused"), "{err}");
    let stored: Vec<_> = std::fs::read_dir(state.artifacts())
        .expect("artifact store")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(stored.is_empty(), "left behind: {stored:?}");

    // The gateway's way: hashes from the cache, missing artifacts pushed, asked again.
    let cache = ArtifactCache::new();
    let worker = ensure_with_artifacts(&client, &spec, "", &cache)
        .await
        .expect("worker on the node");
    assert!(
        worker.address.starts_with(&format!("{NODE_IP}:")),
        "{}",
        worker.address
    );
    let seen = invoke(&worker.address).await;
    let task_root = state.artifacts().join(&packed.hash);
    assert_eq!(seen["LAMBDA_TASK_ROOT"], task_root.display().to_string());
    assert_eq!(seen["file"], task_root.join("app.py").display().to_string());
    assert_eq!(seen["greeting"], "from the layer");
    assert_eq!(seen["AWS_ENDPOINT_URL"], format!("https://{BOX_HOST}:8443"));
    assert_eq!(seen["AWS_CA_BUNDLE"], remote.ca_path.display().to_string());
    // For `esb rie` (its records' `node` field), not for the function.
    assert_eq!(seen["ESB_NODE"], serde_json::Value::Null);

    // Pushed once: the node has it now, and a second worker needs no push.
    assert!(
        client
            .push_artifact(&packed.hash, packed.bytes.into())
            .await
            .expect("push again")
    );
    let second = ensure_with_artifacts(&client, &spec, "", &cache)
        .await
        .expect("second worker");
    assert_ne!(second.id, worker.id);
    assert_eq!(invoke(&second.address).await["greeting"], "from the layer");

    agent.destroy_all().await;
}
