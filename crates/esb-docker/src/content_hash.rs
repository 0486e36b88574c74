//! The content hash in a function image's tag: a digest of everything the image is made
//! of, so the gateway can name the image without asking Docker and `esb build` can
//! skip work when nothing changed. The ESB binary's digest is cached per process by
//! (path, length, mtime): it is ~20 MB and asked for on every reference.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

use sha2::{Digest, Sha256};

use crate::error::ImageError;
use crate::source_tree::{Entry, Kind};

/// Bumped when the image layout changes, so old images are not mistaken for current.
const FORMAT: &str = "esb-function-image/1";

/// Hex digits of the digest kept in the tag.
pub const HASH_LEN: usize = 16;

/// What goes into the hash besides the files.
pub struct HashInput<'a> {
    pub name: &'a str,
    pub runtime: &'a str,
    pub handler: &'a str,
    /// The nominal base (`esb/base:python3.11`, `scratch`); the base actually used is
    /// tracked by the image's `esb.base-id` label.
    pub base_name: &'a str,
    /// A Python function may be built on another Python's base
    /// (`--nearest-python-base`): such images get names of their own, so a box that
    /// wants the exact base never runs one (from a registry, say).
    pub stand_in_allowed: bool,
    pub code: &'a BTreeMap<PathBuf, Entry>,
    pub layers: &'a [BTreeMap<PathBuf, Entry>],
    pub esb_binary: &'a Path,
}

pub fn content_hash(input: &HashInput<'_>) -> Result<String, ImageError> {
    let mut h = Sha256::new();
    for text in [
        FORMAT,
        input.name,
        input.runtime,
        input.handler,
        input.base_name,
    ] {
        field(&mut h, text.as_bytes());
    }
    // Only when allowed, so the images of boxes without the option keep their names.
    if input.stand_in_allowed {
        field(&mut h, b"nearest-python-base");
    }
    field(&mut h, &binary_digest(input.esb_binary)?);
    field(&mut h, b"code");
    hash_tree(&mut h, input.code)?;
    for layer in input.layers {
        field(&mut h, b"layer");
        hash_tree(&mut h, layer)?;
    }
    let digest = h.finalize();
    Ok(hex(&digest)[..HASH_LEN].to_string())
}

/// Length-prefixed, so no two different inputs hash the same byte stream.
fn field(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

fn hash_tree(h: &mut Sha256, tree: &BTreeMap<PathBuf, Entry>) -> Result<(), ImageError> {
    for (rel, entry) in tree {
        field(h, rel.as_os_str().as_encoded_bytes());
        h.update(entry.mode.to_le_bytes());
        match &entry.kind {
            Kind::Dir => field(h, b"d"),
            Kind::Symlink { target } => {
                field(h, b"l");
                field(h, target.as_os_str().as_encoded_bytes());
            }
            Kind::File { len } => {
                field(h, b"f");
                h.update(len.to_le_bytes());
                let read_err = |source| ImageError::Read {
                    path: entry.source.clone(),
                    source,
                };
                let file = std::fs::File::open(&entry.source).map_err(read_err)?;
                let copied =
                    std::io::copy(&mut file.take(*len), &mut HashWriter(h)).map_err(read_err)?;
                if copied != *len {
                    return Err(read_err(std::io::Error::other(
                        "the file changed while ESB read it",
                    )));
                }
            }
        }
    }
    Ok(())
}

struct HashWriter<'a>(&'a mut Sha256);

impl Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

type DigestCache = Mutex<HashMap<PathBuf, (u64, Option<SystemTime>, [u8; 32])>>;

/// SHA-256 of a file, remembered while its length and mtime stay the same.
pub(crate) fn binary_digest(path: &Path) -> Result<[u8; 32], ImageError> {
    static CACHE: OnceLock<DigestCache> = OnceLock::new();
    let read_err = |source| ImageError::Read {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read_err)?;
    let key = (meta.len(), meta.modified().ok());
    let cache = CACHE.get_or_init(Default::default);
    if let Some((len, mtime, digest)) = cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(path)
        .copied()
        && (len, mtime) == key
    {
        return Ok(digest);
    }
    let mut h = Sha256::new();
    let mut file = std::fs::File::open(path).map_err(read_err)?;
    std::io::copy(&mut file, &mut HashWriter(&mut h)).map_err(read_err)?;
    let digest: [u8; 32] = h.finalize().into();
    cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(path.to_path_buf(), (key.0, key.1, digest));
    Ok(digest)
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::source_tree::walk;

    fn hash_of(code: &Path, bin: &Path, handler: &str) -> String {
        hash_allowing(code, bin, handler, false)
    }

    fn hash_allowing(code: &Path, bin: &Path, handler: &str, stand_in_allowed: bool) -> String {
        let tree = walk(code).expect("walk");
        content_hash(&HashInput {
            name: "Fn",
            runtime: "python3.11",
            handler,
            base_name: "esb/base:python3.11",
            stand_in_allowed,
            code: &tree,
            layers: &[],
            esb_binary: bin,
        })
        .expect("hash")
    }

    #[test]
    fn images_that_may_stand_on_another_python_have_names_of_their_own() {
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::write(tmp.path().join("app.py"), "a").expect("write");
        let bin = tmp.path().join("esb");
        std::fs::write(&bin, "binary").expect("write");
        assert_ne!(
            hash_allowing(tmp.path(), &bin, "app.handler", true),
            hash_allowing(tmp.path(), &bin, "app.handler", false)
        );
    }

    #[test]
    fn the_hash_follows_contents_modes_handler_and_binary() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let code = tmp.path().join("code");
        std::fs::create_dir(&code).expect("mkdir");
        std::fs::write(code.join("app.py"), "a").expect("write");
        let bin = tmp.path().join("esb");
        std::fs::write(&bin, "binary-1").expect("write");

        let first = hash_of(&code, &bin, "app.handler");
        assert_eq!(first.len(), HASH_LEN);
        assert_eq!(first, hash_of(&code, &bin, "app.handler"), "stable");
        assert_ne!(first, hash_of(&code, &bin, "app.other"), "handler");

        std::fs::write(code.join("app.py"), "b").expect("write");
        let second = hash_of(&code, &bin, "app.handler");
        assert_ne!(first, second, "contents");

        std::fs::set_permissions(code.join("app.py"), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        assert_ne!(second, hash_of(&code, &bin, "app.handler"), "mode");

        std::fs::write(&bin, "binary-2, longer").expect("write");
        let third = hash_of(&code, &bin, "app.handler");
        std::fs::write(&bin, "binary-3, longer").expect("write");
        let far_future = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(4_000_000_000);
        std::fs::File::options()
            .write(true)
            .open(&bin)
            .and_then(|f| f.set_modified(far_future))
            .expect("touch");
        assert_ne!(third, hash_of(&code, &bin, "app.handler"), "binary");
    }
}
