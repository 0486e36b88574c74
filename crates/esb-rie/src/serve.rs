//! HTTP/1 serving for both APIs. Hand-rolled over hyper (instead of `axum::serve`) for
//! two settings AWS fidelity and latency need: header names written in the canonical
//! case AWS's Go servers use (`Lambda-Runtime-Aws-Request-Id`; some hand-written
//! runtimes match it case-sensitively) and TCP_NODELAY on every connection.

use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Serves `router` on `listener` until `stop` turns true, then lets open requests
/// finish (bounded).
pub async fn serve(listener: TcpListener, router: axum::Router, mut stop: watch::Receiver<bool>) {
    let graceful = GracefulShutdown::new();
    let stopped = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let tcp = match accepted {
                    Ok((tcp, _)) => tcp,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = tcp.set_nodelay(true);
                let conn = http1::Builder::new()
                    .title_case_headers(true)
                    .serve_connection(TokioIo::new(tcp), TowerToHyperService::new(router.clone()));
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!("connection closed: {e}");
                    }
                });
            }
            () = &mut stopped => break,
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(3), graceful.shutdown()).await;
}
