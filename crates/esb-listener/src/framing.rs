//! The request framing of a connection, followed on the wire before hyper reads it.
//!
//! hyper resolves a request carrying both `Content-Length` and `Transfer-Encoding` by
//! the latter (and closes afterwards), and folds repeated equal `Content-Length`s into
//! one. Both are what request smuggling feeds on when a proxy in front frames the
//! message differently, so the box refuses them outright, as AWS's front ends do: the
//! guard parses each request head (with httparse, hyper's own parser) before hyper sees
//! it, and spoils the offending field's value so that hyper's parser answers `400 Bad
//! Request` and closes the connection, in order after any pipelined request before it.
//!
//! Following the framing also tells when a request body is being read, which is where
//! hyper has no timeout of its own: a client that stalls mid-body for longer than
//! `body_idle` gets a read error (`TimedOut`), which the service sees as a failed body.
//!
//! Anything the guard does not understand (an unparsable head, `CONNECT`, a chunk size
//! that is not hex) switches it to pass-through for the rest of the connection: hyper
//! refuses such input itself, and a guard out of step must never hold bytes back.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Longest chunk-size or trailer line the guard waits for before giving up on framing.
const MAX_LINE: usize = 8 * 1024;
/// How much is read from the connection at a time.
const READ_CHUNK: usize = 16 * 1024;

/// Where the connection is in the request stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// Waiting for a request head (held back until complete).
    Head,
    /// A `Content-Length` body with this many bytes left.
    Body(u64),
    /// A chunked body: at a chunk-size line.
    ChunkSize,
    /// Inside a chunk's data, this many bytes left.
    ChunkData(u64),
    /// The CRLF after a chunk's data.
    ChunkEnd,
    /// The trailer section after the last chunk.
    Trailer,
    /// Not followed any more: bytes go to hyper as they come.
    PassThrough,
}

impl Framing {
    fn mid_body(self) -> bool {
        matches!(
            self,
            Framing::Body(_)
                | Framing::ChunkSize
                | Framing::ChunkData(_)
                | Framing::ChunkEnd
                | Framing::Trailer
        )
    }
}

/// A connection whose reads pass the framing guard.
pub struct Guarded<IO> {
    inner: IO,
    /// Bytes read from `inner`; `buf[start..cleared]` may go to hyper, the rest waits.
    buf: Vec<u8>,
    start: usize,
    cleared: usize,
    framing: Framing,
    eof: bool,
    max_head: usize,
    max_fields: usize,
    body_idle: Duration,
    idle: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<IO> Guarded<IO> {
    /// `max_head`: how many head bytes are held back at most (past it, hyper gets them
    /// and refuses the head with 431); `max_fields`: header fields parsed at most.
    pub fn new(inner: IO, max_head: usize, max_fields: usize, body_idle: Duration) -> Self {
        Self {
            inner,
            buf: Vec::new(),
            start: 0,
            cleared: 0,
            framing: Framing::Head,
            eof: false,
            max_head,
            max_fields,
            body_idle,
            idle: None,
        }
    }

    /// Moves `cleared` over whatever the framing lets through now.
    fn advance(&mut self) {
        loop {
            let rest = &self.buf[self.cleared..];
            match self.framing {
                Framing::PassThrough => {
                    self.cleared = self.buf.len();
                    return;
                }
                Framing::Head => match self.head() {
                    Some(()) => {}
                    None => return,
                },
                Framing::Body(left) | Framing::ChunkData(left) => {
                    let take = (rest.len() as u64).min(left);
                    if take == 0 && left > 0 {
                        return;
                    }
                    self.cleared += take as usize;
                    self.framing = match (self.framing, left - take) {
                        (Framing::Body(_), 0) => Framing::Head,
                        (Framing::Body(_), n) => Framing::Body(n),
                        (_, 0) => Framing::ChunkEnd,
                        (_, n) => Framing::ChunkData(n),
                    };
                    if left - take > 0 {
                        return;
                    }
                }
                Framing::ChunkEnd => {
                    if rest.len() < 2 {
                        return;
                    }
                    if &rest[..2] == b"\r\n" {
                        self.cleared += 2;
                        self.framing = Framing::ChunkSize;
                    } else {
                        self.framing = Framing::PassThrough;
                    }
                }
                Framing::ChunkSize | Framing::Trailer => {
                    let Some(end) = rest.iter().position(|&b| b == b'\n') else {
                        if rest.len() > MAX_LINE {
                            self.framing = Framing::PassThrough;
                            continue;
                        }
                        return;
                    };
                    let line = rest[..end].strip_suffix(b"\r").unwrap_or(&rest[..end]);
                    let next = if self.framing == Framing::Trailer {
                        if line.is_empty() {
                            Framing::Head
                        } else {
                            Framing::Trailer
                        }
                    } else {
                        match chunk_size(line) {
                            Some(0) => Framing::Trailer,
                            Some(n) => Framing::ChunkData(n),
                            None => Framing::PassThrough,
                        }
                    };
                    self.cleared += end + 1;
                    self.framing = next;
                }
            }
        }
    }

    /// Parses the head waiting at `cleared`: `Some` when it was let through (and the
    /// framing of its body set), `None` when it is still incomplete.
    fn head(&mut self) -> Option<()> {
        let mut fields = vec![httparse::EMPTY_HEADER; self.max_fields.max(1)];
        let mut req = httparse::Request::new(&mut fields);
        let base = self.buf.as_ptr() as usize;
        let parsed = req.parse(&self.buf[self.cleared..]);
        let len = match parsed {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => {
                if self.buf.len() - self.cleared > self.max_head {
                    self.framing = Framing::PassThrough;
                    return Some(());
                }
                return None;
            }
            // hyper refuses it too (400, or 431 for too many fields).
            Err(_) => {
                self.framing = Framing::PassThrough;
                return Some(());
            }
        };
        let offset =
            |v: &[u8]| (v.as_ptr() as usize - base)..(v.as_ptr() as usize - base + v.len());
        let mut lengths = Vec::new();
        let mut encodings = Vec::new();
        for h in req.headers.iter() {
            if h.name.eq_ignore_ascii_case("content-length") {
                lengths.push(offset(h.value));
            } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                encodings.push(offset(h.value));
            }
        }
        let connect = req.method == Some("CONNECT");
        let spoil = if !encodings.is_empty() && !lengths.is_empty() {
            // hyper refuses a Transfer-Encoding whose last coding is not chunked.
            encodings.clone()
        } else if lengths.len() > 1 {
            // hyper refuses a Content-Length that is not a number.
            lengths[1..].to_vec()
        } else {
            Vec::new()
        };
        let framing = if connect {
            Framing::PassThrough
        } else if !spoil.is_empty() {
            tracing::debug!(
                "request refused: ambiguous framing (Content-Length with Transfer-Encoding, or repeated)"
            );
            Framing::PassThrough
        } else if let Some(te) = encodings.last() {
            let last = self.buf[te.clone()]
                .rsplit(|&b| b == b',')
                .next()
                .map(<[u8]>::trim_ascii)
                .unwrap_or_default();
            if last.eq_ignore_ascii_case(b"chunked") {
                Framing::ChunkSize
            } else {
                Framing::PassThrough
            }
        } else if let Some(cl) = lengths.first() {
            match std::str::from_utf8(self.buf[cl.clone()].trim_ascii())
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
            {
                Some(0) => Framing::Head,
                Some(n) => Framing::Body(n),
                None => Framing::PassThrough,
            }
        } else {
            Framing::Head
        };
        for range in spoil {
            if range.is_empty() {
                // An empty value cannot be spoiled in place; hyper refuses it anyway.
                continue;
            }
            self.buf[range].fill(b'x');
        }
        self.cleared += len;
        self.framing = framing;
        Some(())
    }
}

/// A chunk-size line's size (extensions after `;` ignored), as hyper reads it.
fn chunk_size(line: &[u8]) -> Option<u64> {
    let size = line.split(|&b| b == b';').next()?.trim_ascii();
    if size.is_empty() {
        return None;
    }
    u64::from_str_radix(std::str::from_utf8(size).ok()?, 16).ok()
}

impl<IO: AsyncRead + Unpin> AsyncRead for Guarded<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.cleared > this.start {
                let n = (this.cleared - this.start).min(out.remaining());
                out.put_slice(&this.buf[this.start..this.start + n]);
                this.start += n;
                if this.start == this.buf.len() {
                    this.buf.clear();
                    this.start = 0;
                    this.cleared = 0;
                } else if this.start > 64 * 1024 {
                    this.buf.drain(..this.start);
                    this.cleared -= this.start;
                    this.start = 0;
                }
                return Poll::Ready(Ok(()));
            }
            if this.eof {
                return Poll::Ready(Ok(()));
            }
            let old = this.buf.len();
            this.buf.resize(old + READ_CHUNK, 0);
            let mut read = ReadBuf::new(&mut this.buf[old..]);
            let polled = Pin::new(&mut this.inner).poll_read(cx, &mut read);
            let got = read.filled().len();
            this.buf.truncate(old + got);
            match polled {
                Poll::Ready(Ok(())) if got == 0 => {
                    // The client is done: whatever was held goes to hyper, which
                    // answers what it can of it.
                    this.eof = true;
                    this.cleared = this.buf.len();
                    this.framing = Framing::PassThrough;
                }
                Poll::Ready(Ok(())) => {
                    this.idle = None;
                    this.advance();
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    if !this.framing.mid_body() {
                        this.idle = None;
                        return Poll::Pending;
                    }
                    let limit = this.body_idle;
                    let timer = this
                        .idle
                        .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
                    if timer.as_mut().poll(cx).is_ready() {
                        this.idle = None;
                        tracing::debug!("request body stalled for {limit:?}: reading stops");
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "the request body stalled",
                        )));
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Guarded<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// What hyper would read after the guard, given `input` at once.
    async fn through(input: &[u8]) -> Vec<u8> {
        let (mut client, server) = tokio::io::duplex(1 << 20);
        client.write_all(input).await.expect("write");
        drop(client);
        let mut guarded = Guarded::new(server, 64 * 1024, 100, Duration::from_secs(5));
        let mut out = Vec::new();
        guarded.read_to_end(&mut out).await.expect("read");
        out
    }

    #[tokio::test]
    async fn ordinary_pipelined_requests_pass_unchanged() {
        let input = b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloPOST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(through(input).await, input.to_vec());
    }

    #[tokio::test]
    async fn content_length_with_transfer_encoding_is_spoiled() {
        let input = b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
        let out = through(input).await;
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains("Transfer-Encoding: xxxxxxx\r\n"), "{text}");
        assert!(text.contains("Content-Length: 4\r\n"), "{text}");
    }

    #[tokio::test]
    async fn a_repeated_content_length_is_spoiled_even_when_equal() {
        let input = b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\nPOST /a HTTP/1.1\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\nhi";
        let text = String::from_utf8_lossy(&through(input).await).into_owned();
        assert!(
            text.starts_with("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n"),
            "{text}"
        );
        assert!(
            text.contains("Content-Length: 2\r\ncontent-length: x\r\n"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_body_that_looks_like_a_smuggled_request_is_only_a_body() {
        let body = b"GET /x HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n";
        let mut input =
            format!("POST /a HTTP/1.1\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
        input.extend_from_slice(body);
        assert_eq!(through(&input).await, input);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_body_times_out_but_an_idle_connection_does_not() {
        let (mut client, server) = tokio::io::duplex(1 << 16);
        let mut guarded = Guarded::new(server, 64 * 1024, 100, Duration::from_secs(5));
        client
            .write_all(b"GET / HTTP/1.1\r\n\r\n")
            .await
            .expect("write");
        let mut buf = [0u8; 256];
        let n = guarded.read(&mut buf).await.expect("head");
        assert_eq!(n, 18);
        // Between requests: no deadline of the guard's (hyper's header timeout rules).
        assert!(
            tokio::time::timeout(Duration::from_secs(60), guarded.read(&mut buf))
                .await
                .is_err()
        );
        client
            .write_all(b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n12")
            .await
            .expect("write");
        let mut got = 0;
        while got < 41 {
            got += guarded.read(&mut buf).await.expect("partial body");
        }
        let err = guarded.read(&mut buf).await.expect_err("stalled");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }
}
