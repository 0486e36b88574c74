//! Asking a worker's `esb rie` whether it answers, with a bare HTTP/1.1 request: the
//! container runtimes poll it in a tight loop while a worker starts.

use std::future::Future;
use std::time::Instant;

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The status `esb rie` at `address` answers a `GET path` with, if it answers within
/// `within`.
pub async fn status(address: &str, path: &str, within: Duration) -> Option<u16> {
    let probe = async {
        let mut stream = tokio::net::TcpStream::connect(address).await.ok()?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: worker\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await.ok()?;
        let status = head.strip_prefix(b"HTTP/1.1 ")?;
        std::str::from_utf8(status).ok()?.parse().ok()
    };
    tokio::time::timeout(within, probe).await.ok().flatten()
}

/// Why a starting worker never answered.
#[derive(Debug, thiserror::Error)]
pub enum NotReady {
    #[error("the worker exited before answering")]
    Exited,
    #[error("no answer on {address} within {} s", within.as_secs())]
    Silent { address: String, within: Duration },
}

/// Polls the worker at `address` until its `esb rie` answers; every 25 attempts asks
/// `alive` whether its container still runs.
pub async fn wait_ready<F, Fut>(
    address: &str,
    within: Duration,
    mut alive: F,
) -> Result<(), NotReady>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    let mut attempts = 0u32;
    loop {
        if status(address, "/esb/v1/ready", Duration::from_secs(1))
            .await
            .is_some()
        {
            return Ok(());
        }
        attempts += 1;
        if attempts.is_multiple_of(25) && !alive().await {
            return Err(NotReady::Exited);
        }
        if Instant::now() > deadline {
            return Err(NotReady::Silent {
                address: address.to_string(),
                within,
            });
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}
