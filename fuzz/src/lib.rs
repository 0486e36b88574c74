//! What the targets share: how an input is cut into parts, how a raw HTTP request in
//! an input becomes a request, how it is signed with the box's key and answered by a
//! service's real front over an in-memory HTTP/1.1 connection.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::SystemTime;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

/// The line that separates the parts of a multi-part input.
pub const SEPARATOR: &[u8] = b"\n%%\n";

/// The parts of `data`, cut at [`SEPARATOR`]; always `n` parts (missing ones empty).
pub fn parts(data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut out = Vec::with_capacity(n);
    let mut rest = data;
    while out.len() + 1 < n {
        match find(rest, SEPARATOR) {
            Some(i) => {
                out.push(&rest[..i]);
                rest = &rest[i + SEPARATOR.len()..];
            }
            None => break,
        }
    }
    out.push(rest);
    while out.len() < n {
        out.push(&[]);
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A raw HTTP/1.1 request as text: `METHOD target HTTP/1.1`, header lines, an empty
/// line, the body. `None` when it cannot be a request at all (no request line, a
/// header name or value HTTP cannot carry).
pub fn raw_request(data: &[u8]) -> Option<Request<Bytes>> {
    let (head, body) = match find(data, b"\r\n\r\n") {
        Some(i) => (&data[..i], &data[i + 4..]),
        None => match find(data, b"\n\n") {
            Some(i) => (&data[..i], &data[i + 2..]),
            None => (data, &[][..]),
        },
    };
    let head = std::str::from_utf8(head).ok()?;
    let mut lines = head.lines();
    let mut first = lines.next()?.split(' ');
    let method = http::Method::from_bytes(first.next()?.as_bytes()).ok()?;
    let target = first.next()?;
    let mut builder = Request::builder().method(method).uri(target);
    for line in lines {
        let (name, value) = line.split_once(':')?;
        let name = HeaderName::from_bytes(name.trim().as_bytes()).ok()?;
        let value = HeaderValue::from_str(value.trim()).ok()?;
        builder = builder.header(name, value);
    }
    builder.body(Bytes::copy_from_slice(body)).ok()
}

/// The access key pair every front of these targets trusts.
pub fn credentials() -> esb_auth::BoxCredentials {
    esb_auth::BoxCredentials {
        access_key_id: "AKIAFUZZFUZZFUZZFUZZ".into(),
        secret_access_key: "fuzz/secret/key/fuzz/secret/key/fuzz/secr".into(),
    }
}

/// Signs `req` as an SDK would for `service` (a `host` header is added when missing,
/// and S3's `x-amz-content-sha256` when `content_sha256`). `false` when the signer
/// refuses the request (then no front would ever see it signed).
pub fn sign(req: &mut Request<Bytes>, service: &str, content_sha256: bool) -> bool {
    use sha2::Digest;
    let headers = req.headers_mut();
    headers
        .entry(http::header::HOST)
        .or_insert(HeaderValue::from_static("localhost"));
    headers.remove(http::header::AUTHORIZATION);
    headers.remove("x-amz-date");
    if content_sha256 && !req.headers().contains_key("x-amz-content-sha256") {
        let digest = hex::encode(sha2::Sha256::digest(req.body()));
        if let Ok(v) = HeaderValue::from_str(&digest) {
            req.headers_mut().insert("x-amz-content-sha256", v);
        }
    }
    let Some(host) = req
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
    else {
        return false;
    };
    let pq = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let url = format!("http://{host}{pq}");
    // A host no URL can hold (`a/b`, `a?b`) would move the path the signer sees.
    match url.parse::<http::Uri>() {
        Ok(u) if u.path_and_query().map(|p| p.as_str()) == Some(pq) => {}
        _ => return false,
    }
    let signed = esb_auth::SignedRequest {
        method: req.method().as_str(),
        uri: &url,
        headers: req.headers(),
        body: req.body(),
    };
    let Ok(add) = esb_auth::sign_headers(
        &credentials(),
        "us-east-1",
        service,
        &signed,
        SystemTime::now(),
    ) else {
        return false;
    };
    for (name, value) in add {
        let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) else {
            return false;
        };
        req.headers_mut().insert(n, v);
    }
    true
}

/// One runtime for the whole fuzzing process.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("tokio runtime")
    })
}

/// An answer as the client read it.
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Sends `req` over an in-memory HTTP/1.1 connection to `handle` (a front's real
/// `handle`, which takes the `Request<Incoming>` hyper gives it) and reads the answer.
/// `None` when hyper itself refuses the request on either side.
pub async fn exchange<F, Fut, B>(req: Request<Bytes>, handle: F) -> Option<Answer>
where
    F: Fn(Request<Incoming>, SocketAddr) -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = Response<B>> + Send + 'static,
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (client_io, server_io) = tokio::io::duplex(1 << 16);
    let source: SocketAddr = ([127, 0, 0, 1], 40000).into();
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let handle = handle.clone();
        async move { Ok::<_, Infallible>(handle(req, source).await) }
    });
    let server = tokio::spawn(async move {
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(server_io), service)
            .await;
    });
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(client_io))
        .await
        .ok()?;
    let client = tokio::spawn(async move {
        let _ = conn.await;
    });
    let answer = async {
        let resp = sender.send_request(req.map(Full::new)).await.ok()?;
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.ok()?.to_bytes();
        Some(Answer {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        })
    }
    .await;
    drop(sender);
    let _ = client.await;
    server.abort();
    answer
}
