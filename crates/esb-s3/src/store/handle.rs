//! The store's handle: its connections, blob folder and write transactions.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rusqlite::Connection;

use super::blobs::BlobDir;
use super::{refs, schema};
use crate::error::{StoreError, StoreResult};

/// A handle on the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    /// Every change goes through this one connection (SQLite has one writer anyway).
    writer: Mutex<Connection>,
    /// Reads run beside writes (WAL readers never block on the writer).
    reader: Mutex<Connection>,
    blobs: BlobDir,
    region: String,
    /// Signalled after every commit (the outbox dispatcher waits on it).
    changed: tokio::sync::Notify,
    /// Blobs being read (see [`BlobPin`]).
    pins: Mutex<Pins>,
}

/// Blob files readers are still streaming, and those of them no row names any more: a
/// write that frees a pinned blob leaves its file until the last reader lets go (a GET
/// answered with a length must deliver that many bytes, however the key changes).
#[derive(Default)]
struct Pins {
    held: HashMap<String, usize>,
    doomed: HashSet<String>,
}

/// Keeps the files of the blobs it names on disk while it lives (see
/// [`Store::read_pinned`]).
pub struct BlobPin {
    inner: Arc<Inner>,
    ids: Vec<String>,
}

impl Drop for BlobPin {
    fn drop(&mut self) {
        let mut pins = take(&self.inner.pins);
        for id in &self.ids {
            let Some(n) = pins.held.get_mut(id) else {
                continue;
            };
            *n -= 1;
            if *n == 0 {
                pins.held.remove(id);
                if pins.doomed.remove(id) {
                    self.inner.blobs.remove(id);
                }
            }
        }
    }
}

fn take<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A connection is left consistent by SQLite whatever a panicking holder did (an
    // open transaction rolls back on drop), so a poisoned lock is taken back.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Store {
    /// Opens (creating) the store in `dir`, and deletes blobs no row names (writes a
    /// killed box never committed, or objects deleted just before it died).
    pub fn open(dir: &Path, region: &str) -> StoreResult<Self> {
        std::fs::create_dir_all(dir)?;
        let db = dir.join("catalogue.db");
        let writer = schema::open(&db)?;
        let reader = schema::open(&db)?;
        let store = Self {
            inner: Arc::new(Inner {
                writer: Mutex::new(writer),
                reader: Mutex::new(reader),
                blobs: BlobDir::open(dir.join("blobs"))?,
                region: region.to_string(),
                changed: tokio::sync::Notify::new(),
                pins: Mutex::new(Pins::default()),
            }),
        };
        store.sweep()?;
        Ok(store)
    }

    pub fn blobs(&self) -> &BlobDir {
        &self.inner.blobs
    }

    /// Resolves after the next commit (or at once if one happened since the last wait).
    pub async fn changed(&self) {
        self.inner.changed.notified().await;
    }

    pub fn region(&self) -> &str {
        &self.inner.region
    }

    /// Runs `f` on the reader connection off the async threads.
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || f(&take(&inner.reader)))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// `read`, pinning the blobs `blobs` names in what `f` found: they stay on disk
    /// until the returned pin is dropped, whatever writes do meanwhile. The lookup and
    /// the pinning happen under the pin lock, which a write takes (after its commit)
    /// before deleting what it freed: a lookup either sees the write or pins first.
    pub async fn read_pinned<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
        blobs: impl FnOnce(&T) -> Vec<String> + Send + 'static,
    ) -> StoreResult<(T, BlobPin)> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let conn = take(&inner.reader);
            let mut pins = take(&inner.pins);
            let out = f(&conn)?;
            let ids = blobs(&out);
            for id in &ids {
                *pins.held.entry(id.clone()).or_default() += 1;
            }
            drop(pins);
            Ok((
                out,
                BlobPin {
                    inner: Arc::clone(&inner),
                    ids,
                },
            ))
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// Runs `f` in one write transaction; blobs it frees are deleted after the commit
    /// (or, while a reader pins them, when the last reader lets go).
    pub async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>, &mut Vec<String>) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let mut conn = take(&inner.writer);
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let mut freed = Vec::new();
            let out = f(&tx, &mut freed)?;
            tx.commit()?;
            drop(conn);
            inner.changed.notify_one();
            let mut pins = take(&inner.pins);
            for id in freed {
                if pins.held.contains_key(&id) {
                    pins.doomed.insert(id);
                } else {
                    inner.blobs.remove(&id);
                }
            }
            Ok(out)
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// Deletes blob files no catalogue row names.
    fn sweep(&self) -> StoreResult<()> {
        let conn = take(&self.inner.writer);
        let mut removed = 0usize;
        for id in self.inner.blobs.all_ids()? {
            if !refs::is_referenced(&conn, &id)? {
                self.inner.blobs.remove(&id);
                removed += 1;
            }
        }
        conn.execute("DELETE FROM blobs WHERE refs <= 0", [])?;
        if removed > 0 {
            tracing::info!(blobs = removed, "removed unreferenced object data");
        }
        Ok(())
    }
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0),
    )
    .unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::model::{NewObject, ObjectMeta, Segment};
    use crate::store::WriteCondition;

    /// Puts `bytes` as `key` of bucket `b`; returns the blob id that holds them.
    async fn put(store: &Store, key: &str, bytes: &'static [u8]) -> String {
        let body = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(bytes))]);
        let (pending, len) = store.blobs().write(body, 1024, |_| {}).await.unwrap();
        let blob = pending.keep();
        let new = NewObject {
            size: len,
            etag: "\"e\"".into(),
            meta: ObjectMeta::default(),
            segments: vec![Segment {
                blob: blob.clone(),
                len,
            }],
        };
        store
            .put_object(
                "b".into(),
                key.into(),
                new,
                WriteCondition::default(),
                "ObjectCreated:Put",
            )
            .await
            .unwrap();
        blob
    }

    #[tokio::test]
    async fn a_pinned_blob_outlives_its_object_until_the_pin_goes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), "us-east-1").unwrap();
        store.create_bucket("b".into()).await.unwrap();
        let first = put(&store, "k", b"first").await;
        let ((v, _), pin) = store
            .get_object_pinned("b".into(), "k".into(), None)
            .await
            .unwrap();
        assert_eq!(v.segments[0].blob, first);
        // Overwritten while pinned: the new bytes are current, the old file stays.
        let second = put(&store, "k", b"second").await;
        let on_disk = || store.blobs().all_ids().unwrap();
        assert!(on_disk().contains(&first) && on_disk().contains(&second));
        // A copy of the old version refuses its blobs: no row may name doomed bytes.
        let copy = NewObject {
            size: 5,
            etag: "\"e\"".into(),
            meta: ObjectMeta::default(),
            segments: v.segments.clone(),
        };
        let refused = store
            .put_object(
                "b".into(),
                "copy".into(),
                copy,
                WriteCondition {
                    shares_blobs: true,
                    ..WriteCondition::default()
                },
                "ObjectCreated:Copy",
            )
            .await;
        assert!(matches!(refused, Err(StoreError::SourceChanged)));
        drop(pin);
        assert_eq!(on_disk(), vec![second.clone()]);
        // Unpinned blobs go at the commit that frees them.
        let third = put(&store, "k", b"third").await;
        assert_eq!(on_disk(), vec![third]);
    }
}
