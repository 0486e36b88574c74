//! A node joining a box over the real join endpoint (HTTPS on 127.0.0.1).

use std::collections::BTreeMap;
use std::time::Duration;

use esb_nodes::{
    JoinError, JoinRequest, NodeCredentials, NodeRegistry, TokenStore, accept, node_domain,
};

use crate::support::{TestBox, csr, verifies_as_client, verifies_as_server};

const HOUR: Duration = Duration::from_secs(3600);

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn a_node_joins_gets_a_server_only_certificate_and_is_registered() {
    let b = TestBox::new();
    let (url, joined) = b.serve().await;
    let token = TokenStore::open(&b.state)
        .create(None, labels(&[("zone", "a"), ("gpu", "no")]), HOUR)
        .unwrap();
    let node_dir = b.dir.path().join("agent/node");
    let creds = esb_nodes::join(
        &url,
        &token,
        "edge-1",
        "127.0.0.1:50061",
        labels(&[("gpu", "yes"), ("disk", "ssd")]),
        &node_dir,
    )
    .await
    .unwrap();

    assert_eq!(creds.joined.node_name, "edge-1");
    // The box is where the node reached it, whatever the box was told to say.
    assert_eq!(creds.joined.box_host, "127.0.0.1");
    assert_eq!(
        creds.joined.registry.as_deref(),
        Some("registry.example:5000")
    );
    assert_eq!(creds.ca_pem.trim(), b.ca_pem().trim());
    // The node's certificate: valid as a server for its address and its node name...
    assert!(verifies_as_server(
        &b.ca_pem(),
        &creds.cert_pem,
        "127.0.0.1"
    ));
    assert!(verifies_as_server(
        &b.ca_pem(),
        &creds.cert_pem,
        &node_domain("edge-1")
    ));
    assert!(!verifies_as_server(
        &b.ca_pem(),
        &creds.cert_pem,
        "10.0.0.1"
    ));
    // ...and never as a client: a node cannot drive another node.
    assert!(!verifies_as_client(&b.ca_pem(), &creds.cert_pem));
    let (gateway, _) = esb_nodes::BoxCa::load(&b.state)
        .unwrap()
        .gateway_identity()
        .unwrap();
    assert!(
        verifies_as_client(&b.ca_pem(), &gateway),
        "the gateway's may"
    );
    assert!(!verifies_as_server(&b.ca_pem(), &gateway, "127.0.0.1"));

    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(node_dir.join("node-key.pem"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let loaded = NodeCredentials::load(&node_dir).unwrap().expect("stored");
    assert_eq!(loaded.joined, creds.joined);
    assert_eq!(loaded.key_pem, creds.key_pem);
    assert!(
        NodeCredentials::load(&b.dir.path().join("never-joined"))
            .unwrap()
            .is_none()
    );

    let registered = NodeRegistry::open(&b.state).list().unwrap();
    assert_eq!(registered.len(), 1);
    let record = &registered[0];
    assert_eq!(record.name, "edge-1");
    assert_eq!(record.address, "127.0.0.1:50061");
    // The token's labels win over the node's own.
    assert_eq!(
        record.labels,
        labels(&[("zone", "a"), ("gpu", "no"), ("disk", "ssd")])
    );
    assert_eq!(record.cert_sha256.len(), 64);
    assert_eq!(*joined.lock().unwrap(), registered, "the callback saw it");

    // The token is spent.
    let again = esb_nodes::join(
        &url,
        &token,
        "edge-2",
        "127.0.0.1:50062",
        BTreeMap::new(),
        &b.dir.path().join("other"),
    )
    .await
    .unwrap_err();
    match again {
        JoinError::Refused { status, code, .. } => {
            assert_eq!((status, code.as_str()), (401, "UsedToken"))
        }
        e => panic!("{e}"),
    }
}

#[tokio::test]
async fn a_box_that_did_not_issue_the_token_is_refused_before_anything_is_sent() {
    let issuer = TestBox::new();
    let impostor = TestBox::new();
    let (url, joined) = impostor.serve().await;
    let token = TokenStore::open(&issuer.state)
        .create(None, BTreeMap::new(), HOUR)
        .unwrap();
    // The impostor even knows a token with that id and secret: it still is not the box.
    let e = esb_nodes::join(
        &url,
        &token,
        "edge-1",
        "127.0.0.1:50061",
        BTreeMap::new(),
        &issuer.dir.path().join("node"),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, JoinError::WrongBox(_)), "{e}");
    assert!(
        e.to_string()
            .contains("is not the one that issued this token"),
        "{e}"
    );
    assert!(joined.lock().unwrap().is_empty());
    assert!(!issuer.dir.path().join("node/joined.json").exists());
}

#[tokio::test]
async fn a_malformed_token_is_refused_by_the_node_before_connecting() {
    let e = esb_nodes::join(
        "https://127.0.0.1:1",
        "esbjoin1.nope",
        "edge-1",
        "127.0.0.1:50061",
        BTreeMap::new(),
        std::path::Path::new("/nonexistent"),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, JoinError::MalformedToken(_)), "{e}");
}

#[tokio::test]
async fn the_endpoint_answers_bad_requests_with_json_errors() {
    let b = TestBox::new();
    let (url, _) = b.serve().await;
    let ca = reqwest::Certificate::from_pem(b.ca_pem().as_bytes()).unwrap();
    let http = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let ca_text = http
        .get(format!("{url}/esb/v1/nodes/ca"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(ca_text, b.ca_pem());

    let post = |body: String| {
        let http = http.clone();
        let url = url.clone();
        async move {
            let answer = http
                .post(format!("{url}/esb/v1/nodes/join"))
                .body(body)
                .send()
                .await
                .unwrap();
            let status = answer.status().as_u16();
            let json: serde_json::Value = answer.json().await.unwrap();
            (status, json)
        }
    };
    let (status, json) = post("{not json".into()).await;
    assert_eq!(status, 400);
    assert_eq!(json["error"], "InvalidRequest");

    let token = TokenStore::open(&b.state)
        .create(None, BTreeMap::new(), HOUR)
        .unwrap();
    let request = |name: &str, address: &str, csr_pem: &str| {
        serde_json::json!({
            "token": token, "name": name, "address": address, "labels": {}, "csr_pem": csr_pem,
        })
        .to_string()
    };
    let (csr_pem, _) = csr("x");
    for (name, address, csr_pem, code) in [
        ("edge-1", "127.0.0.1:0", csr_pem.as_str(), "InvalidAddress"),
        ("edge-1", "no-port", csr_pem.as_str(), "InvalidAddress"),
        ("Edge_1", "127.0.0.1:7", csr_pem.as_str(), "InvalidName"),
        ("-edge", "127.0.0.1:7", csr_pem.as_str(), "InvalidName"),
        ("edge-1", "127.0.0.1:7", "not a csr", "InvalidCsr"),
    ] {
        let (status, json) = post(request(name, address, csr_pem)).await;
        assert_eq!(
            (status, json["error"].as_str()),
            (400, Some(code)),
            "{json}"
        );
        assert!(json["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // None of those spent the token.
    let (status, json) = post(request("edge-1", "node1.example:7", &csr_pem)).await;
    assert_eq!(status, 200, "{json}");
    let cert = json["cert_pem"].as_str().unwrap();
    assert!(verifies_as_server(&b.ca_pem(), cert, "node1.example"));
    assert!(
        !verifies_as_server(&b.ca_pem(), cert, "evil.example"),
        "the CSR's names are not taken"
    );
}

#[test]
fn a_registered_name_is_taken_unless_the_token_names_it() {
    let b = TestBox::new();
    let tokens = TokenStore::open(&b.state);
    let join = |token: String, name: &str, address: &str| {
        let (csr_pem, _) = csr(name);
        accept(
            &b.state,
            JoinRequest {
                token,
                name: name.into(),
                address: address.into(),
                labels: BTreeMap::new(),
                csr_pem,
            },
            "box.example",
            None,
        )
    };
    let first = tokens.create(None, BTreeMap::new(), HOUR).unwrap();
    join(first, "edge-1", "127.0.0.1:7001").unwrap();

    let plain = tokens.create(None, BTreeMap::new(), HOUR).unwrap();
    let e = join(plain.clone(), "edge-1", "127.0.0.1:7002").unwrap_err();
    assert!(
        matches!(e, JoinError::NameTaken(ref n) if n == "edge-1"),
        "{e}"
    );
    assert_eq!(e.status(), 409);
    // Refused joins do not spend the token.
    join(plain, "edge-2", "127.0.0.1:7002").unwrap();

    // A wiped node rejoins under its name with a token that names it.
    let named = tokens
        .create(Some("edge-1".into()), BTreeMap::new(), HOUR)
        .unwrap();
    let (response, record) = join(named, "whatever-the-node-says", "127.0.0.1:7003").unwrap();
    assert_eq!(response.node_name, "edge-1");
    assert_eq!(record.address, "127.0.0.1:7003");
    let names: Vec<(String, String)> = NodeRegistry::open(&b.state)
        .list()
        .unwrap()
        .into_iter()
        .map(|n| (n.name, n.address))
        .collect();
    assert_eq!(
        names,
        [
            ("edge-1".to_string(), "127.0.0.1:7003".to_string()),
            ("edge-2".to_string(), "127.0.0.1:7002".to_string())
        ]
    );
    assert!(NodeRegistry::open(&b.state).remove("edge-2").unwrap());
    assert!(!NodeRegistry::open(&b.state).remove("edge-2").unwrap());
}
