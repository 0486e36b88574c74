//! Reading a tar archive as it arrives (the Docker daemon's `docker save` stream), entry
//! by entry and chunk by chunk, so a 450 MB image passes through in bounded memory.
//! Handles ustar names with prefixes, PAX `path`/`size` records and GNU long names:
//! what Go's `archive/tar` writes.

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};

const BLOCK: usize = 512;
/// Names and PAX headers are read whole; nothing legitimate comes near this.
const MAX_META: u64 = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum TarError {
    #[error("reading the archive: {0}")]
    Source(String),
    #[error("the archive ends in the middle of an entry")]
    Truncated,
    #[error("bad tar header: {0}")]
    Header(String),
}

/// One entry's header; its data follows through [`TarStream::chunk`].
#[derive(Debug, Clone)]
pub struct Entry {
    pub path: String,
    /// The ustar type flag: b'0' (or 0) regular file, b'2' symlink, b'5' directory...
    pub kind: u8,
}

impl Entry {
    pub fn is_file(&self) -> bool {
        self.kind == b'0' || self.kind == 0
    }
}

pub struct TarStream<S> {
    source: S,
    buffer: BytesMut,
    /// Unread data bytes of the current entry.
    remaining: u64,
    /// Zero bytes after the current entry's data, up to the next 512-byte block.
    padding: u64,
}

impl<S, E> TarStream<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    pub fn new(source: S) -> Self {
        Self {
            source,
            buffer: BytesMut::new(),
            remaining: 0,
            padding: 0,
        }
    }

    /// The next entry, the rest of the current one skipped; `None` at the end.
    pub async fn next_entry(&mut self) -> Result<Option<Entry>, TarError> {
        let mut long_name: Option<String> = None;
        let mut pax_path: Option<String> = None;
        let mut pax_size: Option<u64> = None;
        loop {
            self.skip_rest().await?;
            if !self.fill(BLOCK).await? {
                return Ok(None);
            }
            let header = self.buffer.split_to(BLOCK);
            if header.iter().all(|b| *b == 0) {
                return Ok(None);
            }
            let kind = header[156];
            let size = match pax_size.take() {
                Some(size) => size,
                None => parse_size(&header[124..136])?,
            };
            let name = header_path(&header);
            self.remaining = size;
            self.padding = (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64;
            match kind {
                b'L' => long_name = Some(text(&self.whole(MAX_META).await?)),
                b'x' => {
                    let records = self.whole(MAX_META).await?;
                    for (key, value) in pax_records(&records) {
                        match key.as_str() {
                            "path" => pax_path = Some(value),
                            "size" => {
                                pax_size =
                                    Some(value.parse().map_err(|_| {
                                        TarError::Header(format!("PAX size {value:?}"))
                                    })?)
                            }
                            _ => {}
                        }
                    }
                }
                b'g' => {
                    self.whole(MAX_META).await?;
                }
                _ => {
                    let path = pax_path.take().or(long_name.take()).unwrap_or(name);
                    return Ok(Some(Entry { path, kind }));
                }
            }
        }
    }

    /// The current entry's next piece of data; `None` once it is all read.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, TarError> {
        if self.remaining == 0 {
            return Ok(None);
        }
        if self.buffer.is_empty() && !self.pull().await? {
            return Err(TarError::Truncated);
        }
        let take = self
            .buffer
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        self.remaining -= take as u64;
        Ok(Some(self.buffer.split_to(take).freeze()))
    }

    /// The current entry's data in one piece, for small entries (names, JSON).
    pub async fn whole(&mut self, limit: u64) -> Result<Vec<u8>, TarError> {
        if self.remaining > limit {
            return Err(TarError::Header(format!(
                "an entry of {} bytes where at most {limit} were expected",
                self.remaining
            )));
        }
        let mut data = Vec::with_capacity(self.remaining as usize);
        while let Some(chunk) = self.chunk().await? {
            data.extend_from_slice(&chunk);
        }
        Ok(data)
    }

    async fn skip_rest(&mut self) -> Result<(), TarError> {
        while self.chunk().await?.is_some() {}
        let padding = self.padding as usize;
        if padding > 0 {
            if !self.fill(padding).await? {
                return Err(TarError::Truncated);
            }
            let _ = self.buffer.split_to(padding);
            self.padding = 0;
        }
        Ok(())
    }

    /// At least `n` bytes buffered; false when the source ends first with nothing
    /// buffered (a clean end), an error when it ends part way.
    async fn fill(&mut self, n: usize) -> Result<bool, TarError> {
        while self.buffer.len() < n {
            if !self.pull().await? {
                return if self.buffer.is_empty() {
                    Ok(false)
                } else {
                    Err(TarError::Truncated)
                };
            }
        }
        Ok(true)
    }

    async fn pull(&mut self) -> Result<bool, TarError> {
        match self.source.next().await {
            Some(Ok(bytes)) => {
                self.buffer.extend_from_slice(&bytes);
                Ok(true)
            }
            Some(Err(e)) => Err(TarError::Source(e.to_string())),
            None => Ok(false),
        }
    }
}

fn text(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

fn header_path(header: &[u8]) -> String {
    let name = text(&header[0..100]);
    let ustar = &header[257..262] == b"ustar";
    let prefix = if ustar {
        text(&header[345..500])
    } else {
        String::new()
    };
    if prefix.is_empty() {
        name
    } else {
        format!("{prefix}/{name}")
    }
}

/// Octal, or base-256 when the top bit is set (files over 8 GiB).
fn parse_size(field: &[u8]) -> Result<u64, TarError> {
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        let mut size: u64 = u64::from(field[0] & 0x7f);
        for b in &field[1..] {
            size = size
                .checked_mul(256)
                .and_then(|s| s.checked_add(u64::from(*b)))
                .ok_or_else(|| TarError::Header("size overflows".into()))?;
        }
        return Ok(size);
    }
    let digits = text(field);
    let digits = digits.trim_matches(|c: char| c == ' ' || c == '\0');
    if digits.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(digits, 8).map_err(|_| TarError::Header(format!("size {digits:?}")))
}

/// `"<len> key=value\n"` records.
fn pax_records(data: &[u8]) -> Vec<(String, String)> {
    let mut records = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let Some(space) = rest.iter().position(|b| *b == b' ') else {
            break;
        };
        let Some(len) = std::str::from_utf8(&rest[..space])
            .ok()
            .and_then(|l| l.parse::<usize>().ok())
        else {
            break;
        };
        if len <= space + 1 || len > rest.len() {
            break;
        }
        let record = &rest[space + 1..len];
        let record = record.strip_suffix(b"\n").unwrap_or(record);
        if let Some(eq) = record.iter().position(|b| *b == b'=') {
            records.push((
                String::from_utf8_lossy(&record[..eq]).into_owned(),
                String::from_utf8_lossy(&record[eq + 1..]).into_owned(),
            ));
        }
        rest = &rest[len..];
    }
    records
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive() -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        let long = format!("{}/layer.tar", "a".repeat(120));
        for (path, data) in [
            ("manifest.json", b"[]".to_vec()),
            (long.as_str(), vec![7u8; 3000]),
            ("empty", Vec::new()),
        ] {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            builder
                .append_data(&mut header, path, data.as_slice())
                .expect("append");
        }
        builder.into_inner().expect("finish")
    }

    #[tokio::test]
    async fn entries_arrive_whole_across_tiny_chunks() {
        let bytes = archive();
        let chunks: Vec<Result<Bytes, String>> = bytes
            .chunks(7)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let mut tar = TarStream::new(futures::stream::iter(chunks));
        let first = tar.next_entry().await.expect("read").expect("entry");
        assert_eq!(first.path, "manifest.json");
        assert_eq!(tar.whole(100).await.expect("data"), b"[]");
        let second = tar.next_entry().await.expect("read").expect("entry");
        assert!(second.path.ends_with("/layer.tar") && second.path.len() > 100);
        // Left unread: the next entry still lines up.
        let third = tar.next_entry().await.expect("read").expect("entry");
        assert_eq!(third.path, "empty");
        assert!(tar.chunk().await.expect("read").is_none());
        assert!(tar.next_entry().await.expect("read").is_none());
    }

    #[tokio::test]
    async fn a_cut_archive_is_an_error() {
        let bytes = archive();
        let cut = vec![Ok::<_, String>(Bytes::copy_from_slice(&bytes[..1500]))];
        let mut tar = TarStream::new(futures::stream::iter(cut));
        let mut result = Ok(());
        loop {
            match tar.next_entry().await {
                Ok(Some(_)) => continue,
                Ok(None) => break,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        assert!(matches!(result, Err(TarError::Truncated)), "{result:?}");
    }
}
