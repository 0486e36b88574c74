//! The box's own calls (its queue mappings' long polls) carry the box's token and get
//! no access line; every other call, including one with a wrong token, gets one.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use esb_sqs::queue_mapping::SqsClient;

#[tokio::test]
async fn only_calls_with_the_box_token_are_left_out_of_the_access_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sqs = esb_sqs::Sqs::open(esb_sqs::SqsConfig {
        dir: dir.path().to_path_buf(),
        region: "us-east-1".into(),
        account: "000000000000".into(),
    })
    .expect("open");
    let credentials = esb_auth::BoxCredentials {
        access_key_id: "AKIAESBSQSBOXCALL000".into(),
        secret_access_key: "box-call-secret".into(),
    };
    let lines = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&lines);
    let hook: esb_listener::AccessHook = Arc::new(move |_| {
        counted.fetch_add(1, Ordering::SeqCst);
    });
    let front = esb_sqs::SqsFront::new(sqs, credentials.clone(), Some(hook))
        .with_box_token("the-box-token");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(esb_sqs::serve(
        listener,
        None,
        esb_listener::Limits::default(),
        front,
        async {
            let _ = stopped.await;
        },
    ));
    let client = SqsClient::new(&endpoint, credentials, "us-east-1", None).expect("client");
    let list = serde_json::json!({});
    client
        .call("ListQueues", &list)
        .await
        .expect("a user's call");
    assert_eq!(lines.load(Ordering::SeqCst), 1);
    let own = client.clone().as_box("the-box-token");
    own.call("ListQueues", &list).await.expect("the box's call");
    assert_eq!(
        lines.load(Ordering::SeqCst),
        1,
        "the box's call is not logged"
    );
    let forged = client.as_box("not-the-token");
    forged
        .call("ListQueues", &list)
        .await
        .expect("a call with a wrong token");
    assert_eq!(lines.load(Ordering::SeqCst), 2, "a wrong token is logged");
    let _ = stop.send(());
}
