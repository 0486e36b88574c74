//! Tar archives streamed to the daemon (build contexts, root filesystems to import):
//! written on a blocking thread into a bounded channel, so a context of hundreds of MB
//! never sits in memory and the daemon reads while the disk is read.

use std::io::Write;

use bytes::Bytes;
use futures_util::{Stream, stream};
use tokio::sync::mpsc;

const CHUNK: usize = 256 * 1024;
/// Chunks in flight between the writer thread and the HTTP body.
const DEPTH: usize = 8;

/// Streams the archive `fill` writes (give it to `bollard::body_try_stream`). An error
/// in `fill` ends the body with that error, so the daemon sees a truncated upload and
/// the request fails rather than half-builds.
pub fn stream_tar<F>(fill: F) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static
where
    F: FnOnce(&mut tar::Builder<ChannelWriter>) -> std::io::Result<()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(DEPTH);
    tokio::task::spawn_blocking(move || {
        let writer = ChannelWriter {
            tx: tx.clone(),
            buf: Vec::with_capacity(CHUNK),
        };
        let mut builder = tar::Builder::new(writer);
        builder.follow_symlinks(false);
        let result = fill(&mut builder)
            .and_then(|()| builder.into_inner())
            .and_then(|mut w| w.flush());
        if let Err(e) = result {
            // The receiver may be gone already (the daemon refused early): nothing to tell.
            let _ = tx.blocking_send(Err(e));
        }
    });
    stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
}

/// `Write` into the channel, in chunks.
pub struct ChannelWriter {
    tx: mpsc::Sender<std::io::Result<Bytes>>,
    buf: Vec<u8>,
}

impl ChannelWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx.blocking_send(Ok(chunk)).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "daemon stopped reading")
        })
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}
