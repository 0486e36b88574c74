//! Object bytes: one file per blob under `blobs/<2 hex>/<id>`. A blob is written and
//! synced (file, then its folder) before any catalogue row names it, so a committed row
//! never points at bytes a crash could lose; a blob no row names is garbage and is
//! deleted (right after the row that held it goes, and by a sweep at open).

use std::io::SeekFrom;
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use crate::model::Segment;

/// Reads and writes of this size keep memory flat (a transfer holds one chunk) and
/// throughput near the disk's.
const CHUNK: usize = 256 * 1024;
/// Files a read opens before answering (the rest, of objects with more parts, as the
/// stream reaches them), bounding the descriptors one GET holds.
const EAGER_OPENS: usize = 64;

/// One blob's share of a read.
struct Piece {
    path: PathBuf,
    offset: u64,
    len: u64,
    file: Option<tokio::fs::File>,
}

#[derive(Debug, Clone)]
pub struct BlobDir {
    root: PathBuf,
}

/// A blob being written: removed on drop unless [`PendingBlob::keep`] was called, so a
/// failed or abandoned upload leaves nothing behind.
pub struct PendingBlob {
    pub id: String,
    path: PathBuf,
    kept: bool,
}

impl PendingBlob {
    pub fn keep(mut self) -> String {
        self.kept = true;
        std::mem::take(&mut self.id)
    }
}

impl Drop for PendingBlob {
    fn drop(&mut self) {
        if !self.kept {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl BlobDir {
    pub fn open(root: PathBuf) -> std::io::Result<Self> {
        std::fs::create_dir_all(&root)?;
        Ok(Self { root })
    }

    fn path(&self, id: &str) -> PathBuf {
        self.root.join(id.get(..2).unwrap_or("00")).join(id)
    }

    /// Streams `body` into a new blob, calling `inspect` on every chunk (hashes), and
    /// syncs it. Fails with `too_large` as soon as more than `max_len` bytes arrive.
    pub async fn write<S, E>(
        &self,
        mut body: S,
        max_len: u64,
        mut inspect: impl FnMut(&[u8]),
    ) -> Result<(PendingBlob, u64), WriteError<E>>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
    {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let path = self.path(&id);
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(WriteError::Io)?;
        let pending = PendingBlob {
            id,
            path: path.clone(),
            kept: false,
        };
        let mut file = tokio::fs::File::create(&path)
            .await
            .map_err(WriteError::Io)?;
        let mut len = 0u64;
        let mut buf = BytesMut::with_capacity(CHUNK);
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(WriteError::Body)?;
            len += chunk.len() as u64;
            if len > max_len {
                return Err(WriteError::TooLarge);
            }
            inspect(&chunk);
            buf.extend_from_slice(&chunk);
            if buf.len() >= CHUNK {
                file.write_all(&buf).await.map_err(WriteError::Io)?;
                buf.clear();
            }
        }
        file.write_all(&buf).await.map_err(WriteError::Io)?;
        // tokio's File writes in the background: a failed write (ENOSPC) surfaces only at
        // the next operation, and sync_all() keeps it to itself. flush() reports it.
        file.flush().await.map_err(WriteError::Io)?;
        file.sync_all().await.map_err(WriteError::Io)?;
        drop(file);
        sync_dir(dir).await.map_err(WriteError::Io)?;
        Ok((pending, len))
    }

    /// The bytes `range` (relative to the object) of an object made of `segments`. The
    /// first files are opened before this returns, so an object deleted meanwhile fails
    /// here (`NotFound`) rather than midway through a response; an open file stays
    /// readable after its blob is deleted.
    pub async fn reader(
        &self,
        segments: Vec<Segment>,
        range: std::ops::Range<u64>,
    ) -> std::io::Result<impl Stream<Item = std::io::Result<Bytes>> + Send + 'static> {
        let mut pieces = Vec::new();
        let mut start = 0u64;
        for s in segments {
            let end = start + s.len;
            if end > range.start && start < range.end {
                let from = range.start.saturating_sub(start);
                let to = range.end.min(end) - start;
                pieces.push(Piece {
                    path: self.path(&s.blob),
                    offset: from,
                    len: to - from,
                    file: None,
                });
            }
            start = end;
        }
        for p in pieces.iter_mut().take(EAGER_OPENS) {
            let mut file = tokio::fs::File::open(&p.path).await?;
            file.seek(SeekFrom::Start(p.offset)).await?;
            p.file = Some(file);
        }
        Ok(futures::stream::try_unfold(
            (pieces.into_iter(), None::<(tokio::fs::File, u64)>),
            |(mut pieces, mut current)| async move {
                loop {
                    if let Some((file, left)) = current.as_mut()
                        && *left > 0
                    {
                        let want = usize::try_from(*left).unwrap_or(CHUNK).min(CHUNK);
                        let mut buf = BytesMut::zeroed(want);
                        let n = file.read(&mut buf).await?;
                        if n == 0 {
                            return Err(std::io::Error::new(
                                std::io::ErrorKind::UnexpectedEof,
                                "a blob is shorter than its catalogue entry",
                            ));
                        }
                        buf.truncate(n);
                        *left -= n as u64;
                        return Ok(Some((buf.freeze(), (pieces, current))));
                    }
                    let Some(p) = pieces.next() else {
                        return Ok(None);
                    };
                    let file = match p.file {
                        Some(f) => f,
                        None => {
                            let mut f = tokio::fs::File::open(&p.path).await?;
                            f.seek(SeekFrom::Start(p.offset)).await?;
                            f
                        }
                    };
                    current = Some((file, p.len));
                }
            },
        ))
    }

    /// Copies the bytes `range` of `segments` into a new synced blob (UploadPartCopy).
    pub async fn copy_range(
        &self,
        segments: Vec<Segment>,
        range: std::ops::Range<u64>,
        inspect: impl FnMut(&[u8]),
    ) -> Result<(PendingBlob, u64), WriteError<std::io::Error>> {
        let stream = Box::pin(self.reader(segments, range).await.map_err(WriteError::Io)?);
        self.write(stream, u64::MAX, inspect).await
    }

    pub fn remove(&self, id: &str) {
        if let Err(e) = std::fs::remove_file(self.path(id))
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!("cannot remove blob {id}: {e}");
        }
    }

    /// Every blob id on disk (the sweep compares them with the catalogue).
    pub fn all_ids(&self) -> std::io::Result<Vec<String>> {
        let mut ids = Vec::new();
        for dir in std::fs::read_dir(&self.root)? {
            let dir = dir?;
            if !dir.file_type()?.is_dir() {
                continue;
            }
            for f in std::fs::read_dir(dir.path())? {
                ids.push(f?.file_name().to_string_lossy().into_owned());
            }
        }
        Ok(ids)
    }
}

async fn sync_dir(dir: PathBuf) -> std::io::Result<()> {
    tokio::task::spawn_blocking(move || std::fs::File::open(dir)?.sync_all())
        .await
        .map_err(std::io::Error::other)?
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError<E> {
    #[error("the request body failed: {0}")]
    Body(E),
    #[error("the object is larger than allowed")]
    TooLarge,
    #[error("cannot write a blob: {0}")]
    Io(std::io::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn collect(s: impl Stream<Item = std::io::Result<Bytes>>) -> Vec<u8> {
        let mut out = Vec::new();
        let mut s = Box::pin(s);
        while let Some(b) = s.next().await {
            out.extend_from_slice(&b.unwrap());
        }
        out
    }

    #[tokio::test]
    async fn ranges_cross_segment_boundaries_and_unkept_blobs_vanish() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobDir::open(dir.path().to_path_buf()).unwrap();
        let mut segs = Vec::new();
        for part in [&b"hello "[..], b"big ", b"world"] {
            let body = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from(part))]);
            let (p, len) = blobs.write(body, 100, |_| {}).await.unwrap();
            segs.push(Segment {
                blob: p.keep(),
                len,
            });
        }
        assert_eq!(
            collect(blobs.reader(segs.clone(), 0..15).await.unwrap()).await,
            b"hello big world"
        );
        assert_eq!(
            collect(blobs.reader(segs.clone(), 4..12).await.unwrap()).await,
            b"o big wo"
        );
        assert_eq!(
            collect(blobs.reader(segs.clone(), 10..10).await.unwrap()).await,
            b""
        );
        let body = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(b"x"))]);
        let (p, _) = blobs.write(body, 100, |_| {}).await.unwrap();
        drop(p);
        assert_eq!(blobs.all_ids().unwrap().len(), 3);
        let body = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(b"xx"))]);
        assert!(matches!(
            blobs.write(body, 1, |_| {}).await,
            Err(WriteError::TooLarge)
        ));
        assert_eq!(blobs.all_ids().unwrap().len(), 3);
    }
}
