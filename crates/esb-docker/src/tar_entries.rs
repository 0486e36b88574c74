//! The entries ESB writes into tar archives: headers for the entries it makes up
//! (Dockerfiles, parent directories) and walked files, directories and symlinks copied
//! in owned by root. Shared by every image built from a context (function, base and
//! runtime images); how the archive reaches the daemon is `build_context`'s part.

use std::io::{Read, Write};
use std::path::Path;

use crate::source_tree::{Entry, Kind};

/// A header for an entry ESB makes up (Dockerfile, parent directories): owned by root.
pub fn header(kind: tar::EntryType, mode: u32, size: u64, mtime: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(mtime);
    h.set_uid(0);
    h.set_gid(0);
    h
}

/// Appends one walked entry at `path`, owned by root, keeping mode and mtime. A file
/// that shrank since it was walked fails the archive rather than corrupting it.
pub fn append_entry<W: Write>(
    tar: &mut tar::Builder<W>,
    path: &Path,
    entry: &Entry,
) -> std::io::Result<()> {
    match &entry.kind {
        Kind::Dir => {
            let mut h = header(tar::EntryType::Directory, entry.mode, 0, entry.mtime);
            tar.append_data(&mut h, path, std::io::empty())
        }
        Kind::Symlink { target } => {
            let mut h = header(tar::EntryType::Symlink, entry.mode, 0, entry.mtime);
            tar.append_link(&mut h, path, target)
        }
        Kind::File { len } => {
            let mut h = header(tar::EntryType::Regular, entry.mode, *len, entry.mtime);
            let file = std::fs::File::open(&entry.source).map_err(|e| {
                std::io::Error::new(e.kind(), format!("{}: {e}", entry.source.display()))
            })?;
            let exact = ExactReader {
                inner: file.take(*len),
                left: *len,
                path: &entry.source,
            };
            tar.append_data(&mut h, path, exact)
        }
    }
}

struct ExactReader<'a, R> {
    inner: R,
    left: u64,
    path: &'a Path,
}

impl<R: Read> Read for ExactReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && self.left > 0 && !buf.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("{} changed while ESB packed it", self.path.display()),
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}
