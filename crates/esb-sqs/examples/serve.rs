//! A stand-alone SQS service, for the durability tests (which kill it) and for trying
//! the service with an SDK: `cargo run -p esb-sqs --example serve -- <dir> [addr]`.
//! It prints `listening <addr>` once it accepts requests. The key pair is
//! `ESB_ACCESS_KEY_ID`/`ESB_SECRET_ACCESS_KEY`, else a fixed test pair.

use std::net::SocketAddr;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: serve <dir> [addr]")?;
    let addr: SocketAddr = args
        .next()
        .unwrap_or_else(|| "127.0.0.1:0".into())
        .parse()?;
    let credentials = esb_auth::BoxCredentials {
        access_key_id: std::env::var("ESB_ACCESS_KEY_ID")
            .unwrap_or_else(|_| "AKIAESBSQSTEST000000".into()),
        secret_access_key: std::env::var("ESB_SECRET_ACCESS_KEY")
            .unwrap_or_else(|_| "sqs-test-secret".into()),
    };
    let sqs = esb_sqs::Sqs::open(esb_sqs::SqsConfig {
        dir: dir.into(),
        region: "us-east-1".into(),
        account: "000000000000".into(),
    })?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("listening {}", listener.local_addr()?);
    let front = esb_sqs::SqsFront::new(sqs, credentials, None);
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    esb_sqs::serve(listener, None, esb_listener::Limits::default(), front, stop).await;
    Ok(())
}
