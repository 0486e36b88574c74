//! The hashes (and, within a budget, the bytes) of function directories packed for
//! remote nodes. Packing reads every byte of a directory; its metadata fingerprint is
//! cheap, so a directory is packed again only when its fingerprint changed, and each
//! node's first `EnsureWorker` of a function costs a fingerprint, not a pack.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use bytes::Bytes;
use esb_proto::artifact::{self, ArtifactError};

/// Most packed bytes kept for later pushes (other nodes will want the same artifacts).
const DEFAULT_BYTES_BUDGET: usize = 256 << 20;

/// A packed directory: its hash and tar bytes.
#[derive(Debug, Clone)]
pub struct Packed {
    pub hash: String,
    pub bytes: Bytes,
}

struct Entry {
    fingerprint: String,
    hash: String,
    /// Kept while within the budget; packed again when needed otherwise.
    bytes: Option<Bytes>,
}

pub struct ArtifactCache {
    entries: Mutex<HashMap<PathBuf, Entry>>,
    /// One pack at a time: packing is disk and CPU bound, and two requests for one
    /// new directory must not pack it twice.
    packing: tokio::sync::Mutex<()>,
    bytes_budget: usize,
}

impl Default for ArtifactCache {
    fn default() -> Self {
        Self::new()
    }
}

impl ArtifactCache {
    pub fn new() -> Self {
        Self::with_budget(DEFAULT_BYTES_BUDGET)
    }

    /// A cache keeping at most `bytes_budget` packed bytes (hashes are always kept).
    pub fn with_budget(bytes_budget: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            packing: tokio::sync::Mutex::new(()),
            bytes_budget,
        }
    }

    /// The artifact hash of `dir` as it is now, packing it only if it changed.
    pub async fn hash(&self, dir: &Path) -> Result<String, ArtifactError> {
        let fingerprint = blocking_fingerprint(dir).await?;
        if let Some(hash) = self.cached(dir, &fingerprint, |e| Some(e.hash.clone())) {
            return Ok(hash);
        }
        Ok(self.pack_fresh(dir).await?.hash)
    }

    /// `dir` packed as it is now (kept bytes when it has not changed).
    pub async fn pack(&self, dir: &Path) -> Result<Packed, ArtifactError> {
        let fingerprint = blocking_fingerprint(dir).await?;
        let kept = self.cached(dir, &fingerprint, |e| {
            e.bytes.clone().map(|bytes| Packed {
                hash: e.hash.clone(),
                bytes,
            })
        });
        match kept {
            Some(p) => Ok(p),
            None => self.pack_fresh(dir).await,
        }
    }

    fn cached<T>(
        &self,
        dir: &Path,
        fingerprint: &str,
        take: impl Fn(&Entry) -> Option<T>,
    ) -> Option<T> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(dir)
            .filter(|e| e.fingerprint == fingerprint)
            .and_then(take)
    }

    async fn pack_fresh(&self, dir: &Path) -> Result<Packed, ArtifactError> {
        let _one_at_a_time = self.packing.lock().await;
        let owned = dir.to_path_buf();
        // The fingerprint is taken before the pack: a change during the pack shows
        // as a changed fingerprint next time, so it is packed again.
        let (fingerprint, packed) = tokio::task::spawn_blocking(move || {
            let fingerprint = artifact::fingerprint(&owned)?;
            artifact::pack(&owned).map(|p| (fingerprint, p))
        })
        .await
        .map_err(|e| ArtifactError::Read {
            dir: dir.to_path_buf(),
            source: std::io::Error::other(e.to_string()),
        })??;
        let packed = Packed {
            hash: packed.hash,
            bytes: Bytes::from(packed.bytes),
        };
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let kept: usize = entries
            .iter()
            .filter(|(d, _)| d.as_path() != dir)
            .filter_map(|(_, e)| e.bytes.as_ref().map(Bytes::len))
            .sum();
        let keep = kept + packed.bytes.len() <= self.bytes_budget;
        entries.insert(
            dir.to_path_buf(),
            Entry {
                fingerprint,
                hash: packed.hash.clone(),
                bytes: keep.then(|| packed.bytes.clone()),
            },
        );
        Ok(packed)
    }
}

async fn blocking_fingerprint(dir: &Path) -> Result<String, ArtifactError> {
    let owned = dir.to_path_buf();
    tokio::task::spawn_blocking(move || artifact::fingerprint(&owned))
        .await
        .map_err(|e| ArtifactError::Read {
            dir: dir.to_path_buf(),
            source: std::io::Error::other(e.to_string()),
        })?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_changed_directory_gets_a_new_hash_and_an_unchanged_one_keeps_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("app.py"), "v = 1").expect("write");
        let cache = ArtifactCache::new();
        let first = cache.hash(dir.path()).await.expect("hash");
        assert_eq!(first, artifact::pack(dir.path()).expect("pack").hash);
        assert_eq!(cache.hash(dir.path()).await.expect("again"), first);
        let packed = cache.pack(dir.path()).await.expect("pack");
        assert_eq!(packed.hash, first);

        std::fs::write(dir.path().join("app.py"), "v = 22").expect("write");
        let second = cache.hash(dir.path()).await.expect("hash");
        assert_ne!(second, first);
        assert_eq!(second, artifact::pack(dir.path()).expect("pack").hash);
    }

    #[tokio::test]
    async fn bytes_over_the_budget_are_packed_again_when_pushed() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("app.py"), "v = 1").expect("write");
        let cache = ArtifactCache::with_budget(0);
        let hash = cache.hash(dir.path()).await.expect("hash");
        let packed = cache.pack(dir.path()).await.expect("pack");
        assert_eq!(packed.hash, hash);
        assert!(!packed.bytes.is_empty());
    }
}
