//! The accept loop of every listener of the box (the gateway, S3, DynamoDB, CloudWatch
//! Logs): HTTP/1.1 over plain TCP or TLS with the box's certificate, limits on what a
//! client may send before the service sees a request, and a graceful stop. Each service
//! brings its handler.
//!
//! What a client gets at the edge, whichever listener it reaches:
//! - a TLS handshake not finished within `handshake_timeout`: the connection is closed;
//! - headers not complete within `header_read_timeout` (slowloris), or a connection idle
//!   that long between requests: closed;
//! - a request line and headers over `max_header_bytes`, or more than
//!   `max_header_fields` fields: `431 Request Header Fields Too Large`, then closed;
//! - a malformed request line or header: `400 Bad Request`, then closed;
//! - `Content-Length` with `Transfer-Encoding`, or `Content-Length` twice (request
//!   smuggling): `400 Bad Request`, then closed ([`framing`]);
//! - a body that stalls for `body_idle_timeout`: the service's body read fails (the
//!   gateway answers 408), then closed;
//! - pipelined requests: answered one after the other, in order (hyper).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

pub mod framing;

/// One answered request, for the box's access log.
pub struct AccessLine<'a> {
    pub request_id: &'a str,
    pub source: SocketAddr,
    pub method: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub duration_ms: f64,
    pub user_agent: Option<&'a str>,
}

/// Where a service's access lines go (the box's access log and log store).
pub type AccessHook = Arc<dyn Fn(&AccessLine<'_>) + Send + Sync>;

/// What a connection may do before its request reaches the service.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// A client that has not sent its headers after this long is cut off (slowloris);
    /// so is a kept-alive connection idle that long between requests.
    pub header_read_timeout: Duration,
    /// A request body that stalls (no byte) for this long fails to read.
    pub body_idle_timeout: Duration,
    /// A TLS handshake not finished after this long is cut off.
    pub handshake_timeout: Duration,
    /// Request line and headers larger than this get a bare 431 from hyper.
    pub max_header_bytes: usize,
    /// More header fields than this get a bare 431 too.
    pub max_header_fields: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(30),
            body_idle_timeout: Duration::from_secs(30),
            handshake_timeout: Duration::from_secs(10),
            max_header_bytes: 256 * 1024,
            max_header_fields: 1000,
        }
    }
}

/// hyper's read buffer when it is not asked for more: headers may not exceed it, and
/// a smaller buffer would only slow bodies down.
const MIN_READ_BUFFER: usize = 8192 + 4096 * 100;
/// How long open requests get to finish once `shutdown` resolves.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection behind the framing guard, with the listener's limits.
fn guard<IO>(io: IO, limits: &Limits) -> framing::Guarded<IO> {
    framing::Guarded::new(
        io,
        limits.max_header_bytes,
        limits.max_header_fields,
        limits.body_idle_timeout,
    )
}

/// Serves `handler` on `listener` (TLS when `tls` is given) until `shutdown` resolves;
/// open requests then get a few seconds to finish.
pub async fn serve<H, F, B>(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    limits: Limits,
    handler: H,
    shutdown: impl Future<Output = ()>,
) where
    H: Fn(Request<Incoming>, SocketAddr) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<B>> + Send + 'static,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let acceptor = tls.map(TlsAcceptor::from);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (tcp, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, most likely: wait instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = tcp.set_nodelay(true);
        let handler = handler.clone();
        let acceptor = acceptor.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let response = handler(req, remote);
                async move { Ok::<_, Infallible>(response.await) }
            });
            let mut builder = http1::Builder::new();
            builder
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .max_buf_size(limits.max_header_bytes.max(MIN_READ_BUFFER))
                .max_header_size(limits.max_header_bytes)
                .max_headers(limits.max_header_fields);

            let result = match acceptor {
                Some(acceptor) => {
                    let tls =
                        match tokio::time::timeout(limits.handshake_timeout, acceptor.accept(tcp))
                            .await
                        {
                            Ok(Ok(s)) => s,
                            Ok(Err(e)) => {
                                tracing::debug!(%remote, "TLS handshake failed: {e}");
                                return;
                            }
                            Err(_) => {
                                tracing::debug!(%remote, "TLS handshake timed out");
                                return;
                            }
                        };
                    watcher
                        .watch(builder.serve_connection(TokioIo::new(guard(tls, &limits)), service))
                        .await
                }
                None => {
                    watcher
                        .watch(builder.serve_connection(TokioIo::new(guard(tcp, &limits)), service))
                        .await
                }
            };
            if let Err(e) = result {
                tracing::debug!(%remote, "connection closed: {e}");
            }
        });
    }
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await;
}
