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

/// How long a client may take over its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` (over TLS with `tls`) until `stop` turns true, then
/// lets open requests finish (bounded).
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    mut stop: watch::Receiver<bool>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
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
                let (router, watcher, tls) = (router.clone(), graceful.watcher(), tls.clone());
                tokio::spawn(async move {
                    let service = TowerToHyperService::new(router);
                    let http = http1::Builder::new();
                    let served = match tls {
                        None => {
                            let mut http = http;
                            let conn = http.title_case_headers(true).serve_connection(TokioIo::new(tcp), service);
                            watcher.watch(conn).await
                        }
                        Some(tls) => {
                            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(tcp)).await {
                                Ok(Ok(stream)) => stream,
                                Ok(Err(e)) => {
                                    tracing::debug!("TLS handshake refused: {e}");
                                    return;
                                }
                                Err(_) => return,
                            };
                            let mut http = http;
                            let conn = http.title_case_headers(true).serve_connection(TokioIo::new(stream), service);
                            watcher.watch(conn).await
                        }
                    };
                    if let Err(e) = served {
                        tracing::debug!("connection closed: {e}");
                    }
                });
            }
            () = &mut stopped => break,
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(3), graceful.shutdown()).await;
}
