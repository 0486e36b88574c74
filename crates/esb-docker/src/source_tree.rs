//! A function's files as ESB packs them: everything under a directory, in a stable
//! order, minus what SAM also leaves out of a package (VCS data, caches, virtualenvs and
//! ESB's own `.esb` state dir, which sits beside the template when `CodeUri: .`).
//! Hashing and the build context walk the same list, so an image's hash covers
//! exactly the files it holds.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::ImageError;

/// Names never packed, wherever they appear.
const EXCLUDED: &[&str] = &[
    ".esb",
    ".aws-sam",
    ".git",
    ".hg",
    ".svn",
    "__pycache__",
    ".venv",
    ".mypy_cache",
    ".pytest_cache",
    ".tox",
    ".idea",
    ".vscode",
    ".DS_Store",
];

fn excluded(name: &OsStr) -> bool {
    EXCLUDED.iter().any(|e| name == OsStr::new(e)) || name.as_encoded_bytes().ends_with(b".pyc")
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File {
        len: u64,
    },
    /// Kept as a link; hashed as its target.
    Symlink {
        target: PathBuf,
    },
}

/// One file, directory or link to pack.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Where it is on the host.
    pub source: PathBuf,
    /// Permission bits (with setuid/setgid/sticky).
    pub mode: u32,
    pub mtime: u64,
    pub kind: Kind,
}

/// Every entry under `root`, keyed by path relative to it; parents sort before their
/// children (`Path` orders by components). Sockets, FIFOs and devices are skipped.
pub fn walk(root: &Path) -> Result<BTreeMap<PathBuf, Entry>, ImageError> {
    let read_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ImageError::Read { path, source }
    };
    let meta = std::fs::metadata(root).map_err(read_err(root))?;
    if !meta.is_dir() {
        return Err(ImageError::Read {
            path: root.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory"),
        });
    }
    let mut out = BTreeMap::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(rel) = pending.pop() {
        let dir = root.join(&rel);
        for item in std::fs::read_dir(&dir).map_err(read_err(&dir))? {
            let item = item.map_err(read_err(&dir))?;
            let name = item.file_name();
            if excluded(&name) {
                continue;
            }
            let source = item.path();
            let meta = std::fs::symlink_metadata(&source).map_err(read_err(&source))?;
            let kind = if meta.is_dir() {
                Kind::Dir
            } else if meta.is_file() {
                Kind::File { len: meta.len() }
            } else if meta.file_type().is_symlink() {
                Kind::Symlink {
                    target: std::fs::read_link(&source).map_err(read_err(&source))?,
                }
            } else {
                tracing::warn!("skipping {} (not a file)", source.display());
                continue;
            };
            let child = rel.join(&name);
            if kind == Kind::Dir {
                pending.push(child.clone());
            }
            out.insert(
                child,
                Entry {
                    source,
                    mode: meta.permissions().mode() & 0o7777,
                    mtime: u64::try_from(meta.mtime()).unwrap_or(0),
                    kind,
                },
            );
        }
    }
    Ok(out)
}

/// Runs file work (walking, hashing) off the async threads; `path` names what was
/// being read should the work die.
pub async fn off_thread<T: Send + 'static>(
    path: &Path,
    work: impl FnOnce() -> Result<T, ImageError> + Send + 'static,
) -> Result<T, ImageError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ImageError::Read {
            path: path.to_path_buf(),
            source: std::io::Error::other(e),
        })?
}

/// An image filesystem being assembled: later additions overwrite earlier ones, as
/// Lambda stacks layers (a file replacing a directory removes what was under it).
#[derive(Debug, Default)]
pub struct Overlay {
    entries: BTreeMap<PathBuf, Entry>,
}

impl Overlay {
    /// Adds `tree` under `dest` (relative to the image root).
    pub fn add_tree(&mut self, dest: &Path, tree: &BTreeMap<PathBuf, Entry>) {
        for (rel, entry) in tree {
            self.add(dest.join(rel), entry.clone());
        }
    }

    pub fn add(&mut self, path: PathBuf, entry: Entry) {
        if entry.kind != Kind::Dir {
            let below: Vec<PathBuf> = self
                .entries
                .range(path.clone()..)
                .skip(1)
                .take_while(|(p, _)| p.starts_with(&path))
                .map(|(p, _)| p.clone())
                .collect();
            for p in below {
                self.entries.remove(&p);
            }
        }
        self.entries.insert(path, entry);
    }

    /// Entries in order, parents first.
    pub fn entries(&self) -> impl Iterator<Item = (&PathBuf, &Entry)> {
        self.entries.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(source: &Path) -> Entry {
        Entry {
            source: source.to_path_buf(),
            mode: 0o755,
            mtime: 0,
            kind: Kind::Dir,
        }
    }

    #[test]
    fn walk_sorts_skips_caches_and_keeps_links() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path();
        std::fs::create_dir_all(root.join("pkg/__pycache__")).expect("mkdir");
        std::fs::create_dir_all(root.join(".esb/runtimes")).expect("mkdir");
        std::fs::write(root.join("pkg/__pycache__/m.cpython-311.pyc"), "x").expect("write");
        std::fs::write(root.join("pkg/m.py"), "print(1)").expect("write");
        std::fs::write(root.join("a.py"), "").expect("write");
        std::fs::write(root.join("old.pyc"), "").expect("write");
        std::os::unix::fs::symlink("pkg/m.py", root.join("link.py")).expect("symlink");
        let tree = walk(root).expect("walk");
        let names: Vec<String> = tree.keys().map(|p| p.display().to_string()).collect();
        assert_eq!(names, ["a.py", "link.py", "pkg", "pkg/m.py"]);
        assert_eq!(
            tree[Path::new("link.py")].kind,
            Kind::Symlink {
                target: PathBuf::from("pkg/m.py")
            }
        );
        assert_eq!(tree[Path::new("pkg/m.py")].kind, Kind::File { len: 8 });
    }

    #[test]
    fn a_missing_directory_is_named() {
        let err = walk(Path::new("/nonexistent/esb-code")).expect_err("missing");
        assert!(err.to_string().contains("/nonexistent/esb-code"), "{err}");
    }

    #[test]
    fn a_later_file_replaces_an_earlier_directory_and_its_contents() {
        let mut overlay = Overlay::default();
        let src = Path::new("/src");
        overlay.add("opt/x".into(), dir(src));
        overlay.add("opt/x/inner".into(), dir(src));
        overlay.add("opt/x.txt".into(), dir(src));
        overlay.add(
            "opt/x".into(),
            Entry {
                kind: Kind::File { len: 1 },
                ..dir(src)
            },
        );
        let paths: Vec<String> = overlay
            .entries()
            .map(|(p, _)| p.display().to_string())
            .collect();
        assert_eq!(paths, ["opt/x", "opt/x.txt"]);
    }
}
