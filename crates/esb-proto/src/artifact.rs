//! The artifact of a function's code or layer directory: what the box pushes to a
//! remote node (`PushArtifact`) so the node runs the same files, named by the SHA-256
//! of its bytes (`FunctionSpec.code_hash`, `layer_hashes`). Part of the contract: the
//! gateway packs and the agent unpacks, so both must agree byte for byte.
//!
//! The format is a plain tar, made deterministic so one directory always hashes the
//! same (on any box, at any time): entries sorted by path, names relative to the
//! directory, mtime 0, uid/gid 0 with no owner names, and the permission bits kept
//! (a `bootstrap` must stay executable).
//!
//! Symlinks: one whose target stays inside the directory (relative, never climbing
//! above it) is kept as a symlink (layers carry `lib.so -> lib.so.1`). One that leaves
//! the directory (absolute, or `../..` past its root) means nothing on another machine,
//! so a file it points at is packed as a copy of that file; a directory it points at,
//! or a dangling one, is refused with the link's name (copying whole trees from
//! elsewhere on the box is never what a function meant).
//!
//! Unpacking trusts nothing: the bytes are hashed into a temporary file and refused
//! unless they match before anything is unpacked; entries with absolute paths, `..`,
//! duplicate paths, hard links, devices or symlinks leaving the directory are refused;
//! the tree is unpacked next to its destination and renamed into place, so a reader
//! sees a whole artifact or none.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

/// Largest artifact a box packs or a node stores: a Lambda function's unzipped code
/// and layers together are at most 250 MB, so this leaves room and still bounds a
/// node's disk and the gateway's memory.
pub const MAX_ARTIFACT_BYTES: u64 = 512 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("cannot pack {dir}: {source}")]
    Read {
        dir: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot pack {dir}: {path} {reason}")]
    Refused {
        dir: PathBuf,
        path: PathBuf,
        reason: &'static str,
    },
    #[error("{dir} packs to more than {max} bytes, the most an artifact may hold")]
    TooBig { dir: PathBuf, max: u64 },
    #[error("artifact {0:?} is not a SHA-256 hex digest")]
    BadHash(String),
    #[error("artifact {hash} is larger than {max} bytes")]
    TooLarge { hash: String, max: u64 },
    #[error("artifact bytes hash to {actual}, not {expected}: refused")]
    Mismatch { expected: String, actual: String },
    #[error("artifact {hash} has an unsafe entry {path:?}: {reason}")]
    UnsafeEntry {
        hash: String,
        path: String,
        reason: &'static str,
    },
    #[error("cannot store artifact {hash}: {source}")]
    Store {
        hash: String,
        #[source]
        source: io::Error,
    },
}

/// A packed directory: its tar bytes and their SHA-256 (lowercase hex).
#[derive(Debug, Clone)]
pub struct PackedArtifact {
    pub hash: String,
    pub bytes: Vec<u8>,
}

/// Whether `hash` is a SHA-256 hex digest (64 lowercase hex digits): what an agent
/// accepts as an artifact's name, since it becomes a directory name.
pub fn is_valid_hash(hash: &str) -> bool {
    hash.len() == 64 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Packs `dir` into the deterministic tar described in the module docs.
pub fn pack(dir: &Path) -> Result<PackedArtifact, ArtifactError> {
    pack_capped(dir, MAX_ARTIFACT_BYTES)
}

fn pack_capped(dir: &Path, max: u64) -> Result<PackedArtifact, ArtifactError> {
    let read_err = |source| ArtifactError::Read {
        dir: dir.to_path_buf(),
        source,
    };
    let refused = |path: &Path, reason| ArtifactError::Refused {
        dir: dir.to_path_buf(),
        path: path.to_path_buf(),
        reason,
    };
    if !fs::metadata(dir).map_err(read_err)?.is_dir() {
        return Err(read_err(io::Error::other("not a directory")));
    }
    let mut builder = tar::Builder::new(Vec::new());
    let mut total: u64 = 0;
    for rel in walk(dir).map_err(read_err)? {
        let full = dir.join(&rel);
        let meta = fs::symlink_metadata(&full).map_err(read_err)?;
        let mut header = tar::Header::new_gnu();
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mode(meta.permissions().mode() & 0o7777);
        let kind = meta.file_type();
        if kind.is_symlink() {
            let target = fs::read_link(&full).map_err(read_err)?;
            if stays_inside(&rel, &target) {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_mode(0o777);
                header.set_size(0);
                builder
                    .append_link(&mut header, &rel, &target)
                    .map_err(read_err)?;
                continue;
            }
            // Leaves the directory: a file is copied in, anything else refused.
            match fs::metadata(&full) {
                Ok(m) if m.is_file() => {
                    header.set_mode(m.permissions().mode() & 0o7777);
                    total += m.len();
                    append_file(&mut builder, &mut header, &rel, &full, m.len(), total, max)
                        .map_err(|e| e.into_error(dir, max))?;
                }
                Ok(_) => {
                    return Err(refused(
                        &rel,
                        "is a symlink to a directory outside the directory",
                    ));
                }
                Err(_) => return Err(refused(&rel, "is a dangling symlink")),
            }
        } else if kind.is_dir() {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_size(0);
            builder
                .append_data(&mut header, &rel, io::empty())
                .map_err(read_err)?;
        } else if kind.is_file() {
            total += meta.len();
            append_file(
                &mut builder,
                &mut header,
                &rel,
                &full,
                meta.len(),
                total,
                max,
            )
            .map_err(|e| e.into_error(dir, max))?;
        } else {
            return Err(refused(
                &rel,
                "is neither a file, a directory nor a symlink",
            ));
        }
    }
    let bytes = builder.into_inner().map_err(read_err)?;
    if bytes.len() as u64 > max {
        return Err(ArtifactError::TooBig {
            dir: dir.to_path_buf(),
            max,
        });
    }
    Ok(PackedArtifact {
        hash: hex(&Sha256::digest(&bytes)),
        bytes,
    })
}

enum AppendError {
    Io(io::Error),
    TooBig,
}

impl AppendError {
    fn into_error(self, dir: &Path, max: u64) -> ArtifactError {
        match self {
            AppendError::Io(source) => ArtifactError::Read {
                dir: dir.to_path_buf(),
                source,
            },
            AppendError::TooBig => ArtifactError::TooBig {
                dir: dir.to_path_buf(),
                max,
            },
        }
    }
}

fn append_file(
    builder: &mut tar::Builder<Vec<u8>>,
    header: &mut tar::Header,
    rel: &Path,
    full: &Path,
    len: u64,
    total: u64,
    max: u64,
) -> Result<(), AppendError> {
    if total > max {
        return Err(AppendError::TooBig);
    }
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(len);
    let file = File::open(full).map_err(AppendError::Io)?;
    // `take`: a file growing while packed must not make the entry longer than its header.
    builder
        .append_data(header, rel, file.take(len))
        .map_err(AppendError::Io)
}

/// Every path under `dir`, relative, sorted (byte order of the path), directories
/// before their contents; symlinks are not descended into.
fn walk(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for entry in fs::read_dir(dir.join(&rel))? {
            let entry = entry?;
            let child = rel.join(entry.file_name());
            if entry.file_type()?.is_dir() {
                stack.push(child.clone());
            }
            out.push(child);
        }
    }
    out.sort_by(|a, b| {
        a.as_os_str()
            .as_encoded_bytes()
            .cmp(b.as_os_str().as_encoded_bytes())
    });
    Ok(out)
}

/// Whether a symlink at `link` (relative to the root) to `target` resolves, read
/// lexically, to a path inside the root.
fn stays_inside(link: &Path, target: &Path) -> bool {
    if target.is_absolute() {
        return false;
    }
    let mut depth: i64 = link.components().count() as i64 - 1;
    for c in target.components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

/// A cheap fingerprint of `dir` (paths, sizes, mtimes, modes, symlink targets, from
/// metadata only): equal fingerprints mean the directory almost surely still packs to
/// the hash it packed to before, so the gateway need not read every byte again.
pub fn fingerprint(dir: &Path) -> Result<String, ArtifactError> {
    let read_err = |source| ArtifactError::Read {
        dir: dir.to_path_buf(),
        source,
    };
    let mut h = Sha256::new();
    let root = fs::metadata(dir).map_err(read_err)?;
    h.update(root.mode().to_le_bytes());
    for rel in walk(dir).map_err(read_err)? {
        let full = dir.join(&rel);
        let meta = fs::symlink_metadata(&full).map_err(read_err)?;
        h.update(rel.as_os_str().as_encoded_bytes());
        h.update([0]);
        h.update(meta.mode().to_le_bytes());
        h.update(meta.len().to_le_bytes());
        h.update(meta.mtime().to_le_bytes());
        h.update(meta.mtime_nsec().to_le_bytes());
        h.update(meta.ino().to_le_bytes());
        if meta.file_type().is_symlink() {
            let target = fs::read_link(&full).map_err(read_err)?;
            h.update(target.as_os_str().as_encoded_bytes());
            // A copied target's changes must show too.
            if let Ok(t) = fs::metadata(&full) {
                h.update(t.len().to_le_bytes());
                h.update(t.mtime().to_le_bytes());
                h.update(t.mtime_nsec().to_le_bytes());
            }
        }
        h.update([0]);
    }
    Ok(hex(&h.finalize()))
}

/// Receives an artifact's bytes as they arrive, hashing them into a temporary file
/// beside the store, bounded by [`MAX_ARTIFACT_BYTES`]; [`ArtifactWriter::finish`]
/// checks the hash and only then unpacks.
pub struct ArtifactWriter {
    hash: String,
    dest: PathBuf,
    part: PathBuf,
    file: File,
    hasher: Sha256,
    written: u64,
    max: u64,
}

impl ArtifactWriter {
    /// Starts receiving the artifact `expected_hash` that will live at `dest`.
    pub fn new(expected_hash: &str, dest: &Path) -> Result<Self, ArtifactError> {
        Self::with_max(expected_hash, dest, MAX_ARTIFACT_BYTES)
    }

    pub fn with_max(expected_hash: &str, dest: &Path, max: u64) -> Result<Self, ArtifactError> {
        if !is_valid_hash(expected_hash) {
            return Err(ArtifactError::BadHash(expected_hash.to_string()));
        }
        let store_err = |source| ArtifactError::Store {
            hash: expected_hash.to_string(),
            source,
        };
        let parent = dest
            .parent()
            .ok_or_else(|| store_err(io::Error::other("destination has no parent")))?;
        fs::create_dir_all(parent).map_err(store_err)?;
        let part = temp_sibling(dest, "part");
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&part)
            .map_err(store_err)?;
        Ok(Self {
            hash: expected_hash.to_string(),
            dest: dest.to_path_buf(),
            part,
            file,
            hasher: Sha256::new(),
            written: 0,
            max,
        })
    }

    pub fn write(&mut self, data: &[u8]) -> Result<(), ArtifactError> {
        self.written += data.len() as u64;
        if self.written > self.max {
            return Err(ArtifactError::TooLarge {
                hash: self.hash.clone(),
                max: self.max,
            });
        }
        self.hasher.update(data);
        self.file
            .write_all(data)
            .map_err(|source| ArtifactError::Store {
                hash: self.hash.clone(),
                source,
            })
    }

    /// Checks the hash, unpacks and moves the tree into place; `true` when it was
    /// already there (stored before, or by a concurrent push of the same artifact).
    pub fn finish(mut self) -> Result<bool, ArtifactError> {
        let actual = hex(&std::mem::take(&mut self.hasher).finalize());
        if actual != self.hash {
            return Err(ArtifactError::Mismatch {
                expected: self.hash.clone(),
                actual,
            });
        }
        if self.dest.is_dir() {
            return Ok(true);
        }
        let store_err = |source| ArtifactError::Store {
            hash: self.hash.clone(),
            source,
        };
        self.file.rewind().map_err(store_err)?;
        let tree = temp_sibling(&self.dest, "tmp");
        let unpacked = unpack_into(&mut self.file, &tree, &self.hash);
        if let Err(e) = unpacked {
            let _ = fs::remove_dir_all(&tree);
            return Err(e);
        }
        match fs::rename(&tree, &self.dest) {
            Ok(()) => Ok(false),
            // Another push of the same artifact won the race: its copy is identical.
            Err(_) if self.dest.is_dir() => {
                let _ = fs::remove_dir_all(&tree);
                Ok(true)
            }
            Err(e) => {
                let _ = fs::remove_dir_all(&tree);
                Err(store_err(e))
            }
        }
    }
}

impl Drop for ArtifactWriter {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.part);
    }
}

/// Reads an artifact from `reader`, checks it hashes to `expected_hash` and unpacks it
/// at `dest_dir` (see [`ArtifactWriter`]); `true` when it was already there.
pub fn unpack_verified(
    mut reader: impl Read,
    expected_hash: &str,
    dest_dir: &Path,
) -> Result<bool, ArtifactError> {
    let mut writer = ArtifactWriter::new(expected_hash, dest_dir)?;
    let mut buf = vec![0u8; 256 << 10];
    loop {
        let n = reader
            .read(&mut buf)
            .map_err(|source| ArtifactError::Store {
                hash: expected_hash.to_string(),
                source,
            })?;
        if n == 0 {
            break;
        }
        writer.write(&buf[..n])?;
    }
    writer.finish()
}

fn unpack_into(tar_file: &mut File, tree: &Path, hash: &str) -> Result<(), ArtifactError> {
    let store_err = |source| ArtifactError::Store {
        hash: hash.to_string(),
        source,
    };
    let unsafe_entry = |path: &Path, reason| ArtifactError::UnsafeEntry {
        hash: hash.to_string(),
        path: path.display().to_string(),
        reason,
    };
    fs::create_dir(tree).map_err(store_err)?;
    let mut archive = tar::Archive::new(tar_file);
    let mut seen = HashSet::new();
    let mut dir_modes = Vec::new();
    for entry in archive.entries().map_err(store_err)? {
        let mut entry = entry.map_err(store_err)?;
        let path = entry.path().map_err(store_err)?.into_owned();
        if path.as_os_str().is_empty()
            || !path.components().all(|c| matches!(c, Component::Normal(_)))
        {
            return Err(unsafe_entry(&path, "paths must be relative, without `..`"));
        }
        if !seen.insert(path.clone()) {
            return Err(unsafe_entry(&path, "the path appears twice"));
        }
        if through_symlink(tree, &path) {
            return Err(unsafe_entry(&path, "it would be written through a symlink"));
        }
        match entry.header().entry_type() {
            tar::EntryType::Regular => {}
            // Made writable now and given their mode at the end: a read-only directory
            // must still receive its contents.
            tar::EntryType::Directory => {
                let mode = entry.header().mode().map_err(store_err)? & 0o777;
                fs::create_dir_all(tree.join(&path)).map_err(store_err)?;
                dir_modes.push((path, mode));
                continue;
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .map_err(store_err)?
                    .ok_or_else(|| unsafe_entry(&path, "a symlink without a target"))?;
                if !stays_inside(&path, &target) {
                    return Err(unsafe_entry(&path, "a symlink leaving the artifact"));
                }
            }
            _ => {
                return Err(unsafe_entry(
                    &path,
                    "only files, directories and symlinks are allowed",
                ));
            }
        }
        // `unpack_in` also refuses to write through a symlink that leads outside `tree`.
        if !entry.unpack_in(tree).map_err(store_err)? {
            return Err(unsafe_entry(&path, "it would land outside the artifact"));
        }
    }
    // Deepest first, so a read-only parent is set after its children.
    for (path, mode) in dir_modes.into_iter().rev() {
        fs::set_permissions(tree.join(path), fs::Permissions::from_mode(mode))
            .map_err(store_err)?;
    }
    Ok(())
}

/// Whether a parent of `path` under `tree` is a symlink: nothing is written through
/// one, so a chain of links (each inside on its own) can never lead a write outside.
fn through_symlink(tree: &Path, path: &Path) -> bool {
    let mut at = tree.to_path_buf();
    let parents = path.parent().map(|p| p.components().count()).unwrap_or(0);
    path.components().take(parents).any(|c| {
        at.push(c);
        fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink())
    })
}

fn temp_sibling(dest: &Path, what: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    dest.with_file_name(format!(".{name}.{what}-{}-{n}", std::process::id()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
